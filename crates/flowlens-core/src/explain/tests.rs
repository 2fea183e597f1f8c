//! Explanations on real flows from `tests/data`: attribution against the
//! fast path and against finite differences, completeness of integrated
//! gradients, per-field sums, perturbation through the field map,
//! sensitivity and hostile share links.

use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};

use super::attribution::{diff_input, diff_logits};
use super::*;
use crate::baselines::{C45Model, KnnModel};
use crate::classifier::Classifier;
use crate::flows::Flow;
use crate::models::{Model, ModelConfig, ModelInput};
use crate::repr::{Field, FieldGroup, Representation, View};
use crate::Analyzer;

const SITES: &[u8] = include_bytes!("../../../../tests/data/sites.pcapng");
const PGSQL: &[u8] = include_bytes!("../../../../tests/data/pgsql2.pcapng");
const DNS: &[u8] = include_bytes!("../../../../tests/data/dns_fragmented.pcap");
const KAFKA: &[u8] = include_bytes!("../../../../tests/data/kafka.pcapng");

const P: usize = 4;
const B: usize = 64;
const CLASSES: usize = 3;

fn repr() -> Representation {
    Representation::new(P, B, View::All).unwrap()
}

fn flows(capture: &[u8], repr: &Representation) -> Vec<Flow> {
    let a = Analyzer::analyze(capture, repr.flow_config());
    assert!(a.error.is_none(), "{:?}", a.error);
    a.flows
}

/// Flows of several real captures: TCP with options and payload, UDP, IPv4
/// fragments.
fn all_flows(repr: &Representation) -> Vec<Flow> {
    let mut out = Vec::new();
    for c in [SITES, PGSQL, DNS, KAFKA] {
        out.extend(flows(c, repr));
    }
    assert!(out.len() >= 8, "fixtures give {} flows", out.len());
    out
}

fn configs() -> Vec<ModelConfig> {
    crate::models::tests::small_configs(CLASSES, P, B)
}

fn build(cfg: &ModelConfig) -> Model {
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    Model::new(cfg, vb).unwrap()
}

/// [`build`] with every weight drawn from a fixed xorshift sequence
/// (uniform, ±sqrt(3 / fan-in)), in name order: the same model on every run,
/// for tests whose outcome depends on the weights.
fn build_seeded(cfg: &ModelConfig, mut seed: u64) -> Model {
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    let model = Model::new(cfg, vb).unwrap();
    let data = varmap.data().lock().unwrap();
    let mut names: Vec<&String> = data.keys().collect();
    names.sort();
    for name in names {
        let var = &data[name];
        let dims = var.dims().to_vec();
        let n = var.elem_count();
        let fan_in = if dims.len() > 1 { n / dims[0] } else { n };
        let a = (3.0 / fan_in.max(1) as f32).sqrt();
        let values: Vec<f32> = (0..n)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                ((seed >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * a
            })
            .collect();
        var.set(&Tensor::from_vec(values, dims.as_slice(), &Device::Cpu).unwrap())
            .unwrap();
    }
    drop(data);
    model
}

/// `n` flows' bytes, taking flows with at least two packets first.
fn batch(repr: &Representation, flows: &[Flow], n: usize) -> (Vec<u8>, Vec<Vec<Field>>) {
    let mut chosen: Vec<&Flow> = flows.iter().filter(|f| f.head.len() >= 2).collect();
    chosen.extend(flows.iter().filter(|f| f.head.len() < 2));
    chosen.truncate(n);
    let ids = chosen.iter().map(|f| repr.field_ids(f)).collect();
    (repr.encode_batch(&chosen), ids)
}

/// Logits of the differentiable path at `alpha * x` (`alpha = 1`: the input).
fn diff_logits_at(model: &Model, bytes: &[u8], n: usize, alpha: f64) -> Vec<Vec<f32>> {
    let input = ModelInput::from_bytes(bytes, n, P, B, &Device::Cpu).unwrap();
    let d = diff_input(model, &input).unwrap();
    let x = d.x.affine(alpha, 0.0).unwrap();
    diff_logits(model, &x, d.mask.as_ref())
        .unwrap()
        .to_vec2::<f32>()
        .unwrap()
}

#[test]
fn differentiable_path_matches_fast_logits() {
    let repr = repr();
    let flows = all_flows(&repr);
    let (bytes, _) = batch(&repr, &flows, 6);
    for cfg in configs() {
        let model = build(&cfg);
        let input = ModelInput::from_bytes(&bytes, 6, P, B, &Device::Cpu).unwrap();
        let fast = model.logits(&input).unwrap().to_vec2::<f32>().unwrap();
        let slow = diff_logits_at(&model, &bytes, 6, 1.0);
        for (a, b) in fast.iter().flatten().zip(slow.iter().flatten()) {
            assert!((a - b).abs() < 1e-4, "{:?}: {a} vs {b}", cfg.kind());
        }
    }
}

#[test]
fn integrated_gradients_are_complete_on_every_model() {
    let repr = repr();
    let flows = all_flows(&repr);
    let n = 3;
    let (bytes, _) = batch(&repr, &flows, n);
    for cfg in configs() {
        let model = build(&cfg);
        let attr = attribute(
            &model,
            &bytes,
            n,
            None,
            Method::IntegratedGradients { steps: 64 },
        )
        .unwrap();
        let at_x = diff_logits_at(&model, &bytes, n, 1.0);
        let at_0 = diff_logits_at(&model, &bytes, n, 1e-6);
        for (i, a) in attr.iter().enumerate() {
            let delta = at_x[i][a.target] - at_0[i][a.target];
            let sum = a.grid.sum();
            assert!(
                (sum - delta).abs() <= 0.05 * delta.abs() + 0.02,
                "{:?} flow {i}: IG sums to {sum}, logit moved by {delta}",
                cfg.kind()
            );
            // The explained class is the predicted one.
            assert_eq!(a.target, argmax(&a.logits));
        }
    }
}

fn argmax(v: &[f32]) -> usize {
    super::attribution::argmax(v)
}

/// Finite-difference step on the scaled input (one byte is 1 / 255).
const FD_STEP: f32 = 2e-3;
/// Positions probed per flow: the non-zero ones with the largest gradients.
const FD_POSITIONS: usize = 40;

/// The target logit around one input position: autograd's partial
/// derivative and the logit at `x - h, x - h / 2, x, x + h / 2, x + h`.
#[derive(Debug)]
struct Probe {
    at: usize,
    autograd: f32,
    logits: [f32; 5],
}

impl Probe {
    /// Slopes over the four half steps.
    fn slopes(&self) -> [f32; 4] {
        let l = &self.logits;
        std::array::from_fn(|i| (l[i + 1] - l[i]) / (FD_STEP / 2.0))
    }

    fn central(&self) -> f32 {
        (self.logits[4] - self.logits[0]) / (2.0 * FD_STEP)
    }

    /// Whether the logit is linear across the whole step (all four
    /// half-step slopes agree, up to rounding and curvature). A relu or
    /// max-pool kink within ±h makes them differ; two kinks whose slope
    /// changes cancel would fool a check of the two one-sided differences
    /// alone.
    fn smooth(&self) -> bool {
        let s = self.slopes();
        let lo = s.iter().copied().fold(f32::INFINITY, f32::min);
        let hi = s.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        hi - lo <= 0.01 * lo.abs().max(hi.abs()) + 2e-4
    }

    fn agrees(&self) -> bool {
        (self.central() - self.autograd).abs() <= 0.01 * self.autograd.abs() + 1e-4
    }
}

/// Probes the predicted class's logit of `model` on one flow (`bytes`,
/// `[P, B]`) at the [`FD_POSITIONS`] non-zero input positions with the
/// largest gradients.
///
/// Zero inputs are left out: at a zero byte inside a block of zeros
/// (padding packets, zeroed addresses, zero fields) the CNN's convolutions
/// give exact zeros that tie in the max-pool windows, so the
/// logit has a kink at exactly that input and no gradient there (any
/// backward rule for the ties disagrees with some one-sided slope; when the
/// slope changes of several windows cancel, the logit even looks linear
/// across the step). Gradient × input and integrated gradients (zero
/// baseline) multiply the gradient at zero inputs by zero, so these
/// positions never reach an attribution.
fn probe_gradients(model: &Model, bytes: &[u8]) -> Vec<Probe> {
    let input = ModelInput::from_bytes(bytes, 1, P, B, &Device::Cpu).unwrap();
    let d = diff_input(model, &input).unwrap();
    let var = candle_core::Var::from_tensor(&d.x).unwrap();
    let logits = diff_logits(model, var.as_tensor(), d.mask.as_ref()).unwrap();
    let target = argmax(&logits.to_vec2::<f32>().unwrap()[0]);
    let grads = logits
        .get(0)
        .unwrap()
        .get(target)
        .unwrap()
        .backward()
        .unwrap();
    let g = grads
        .get(var.as_tensor())
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    let x = d.x.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let mut order: Vec<usize> = (0..g.len()).filter(|&i| x[i] != 0.0).collect();
    order.sort_by(|&a, &b| g[b].abs().total_cmp(&g[a].abs()));
    order.truncate(FD_POSITIONS);
    order
        .into_iter()
        .map(|at| {
            let logits = [-1.0, -0.5, 0.0, 0.5, 1.0].map(|k: f32| {
                let mut y = x.clone();
                y[at] += k * FD_STEP;
                let t = Tensor::from_vec(y, d.x.shape(), &Device::Cpu).unwrap();
                diff_logits(model, &t, d.mask.as_ref())
                    .unwrap()
                    .to_vec2::<f32>()
                    .unwrap()[0][target]
            });
            Probe {
                at,
                autograd: g[at],
                logits,
            }
        })
        .collect()
}

/// Autograd gradients of a logit agree with central finite differences of
/// the differentiable path (hand-written backward passes: the CNN's
/// convolution and max-pool, the HAN's fused GRU), on several seeded models
/// of every kind, each on another real flow, wherever the logit is linear
/// across the step.
#[test]
fn gradients_match_finite_differences() {
    let repr = repr();
    let flows = all_flows(&repr);
    let n = 8;
    let (bytes, _) = batch(&repr, &flows, n);
    for cfg in configs() {
        let seeds: u64 = match cfg {
            ModelConfig::Han(_) => 4,
            _ => 20,
        };
        for s in 0..seeds {
            let seed =
                0x2545_F491_4F6C_DD1D_u64.wrapping_add(s.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let model = build_seeded(&cfg, seed);
            let flow = s as usize % n;
            let probes = probe_gradients(&model, &bytes[flow * P * B..][..P * B]);
            let smooth: Vec<&Probe> = probes.iter().filter(|p| p.smooth()).collect();
            for p in &smooth {
                assert!(
                    p.agrees(),
                    "{:?} seed {seed:#x} flow {flow} position {}: autograd {} vs finite differences {} (half-step slopes {:?})",
                    cfg.kind(),
                    p.at,
                    p.autograd,
                    p.central(),
                    p.slopes()
                );
            }
            assert!(
                smooth.len() >= 10,
                "{:?} seed {seed:#x} flow {flow}: only {} of {} probed positions are smooth enough to check",
                cfg.kind(),
                smooth.len(),
                probes.len()
            );
        }
    }
}

#[test]
fn han_attention_grids() {
    let repr = repr();
    let flows = all_flows(&repr);
    let n = 4;
    let (bytes, _) = batch(&repr, &flows, n);
    let han = build(&configs()[3]);
    let level = |level| attribute(&han, &bytes, n, None, Method::Attention { level }).unwrap();
    let (combined, packet, byte) = (
        level(AttentionLevel::Combined),
        level(AttentionLevel::Packet),
        level(AttentionLevel::Byte),
    );
    for i in 0..n {
        assert!((combined[i].grid.sum() - 1.0).abs() < 1e-4);
        assert!((packet[i].grid.sum() - 1.0).abs() < 1e-4);
        let flow = &bytes[i * P * B..(i + 1) * P * B];
        for p in 0..P {
            let real = flow[p * B..(p + 1) * B].iter().any(|&x| x != 0);
            let row: f32 = (0..B).map(|b| byte[i].grid.get(p, b).unwrap()).sum();
            let packet_row: f32 = (0..B).map(|b| packet[i].grid.get(p, b).unwrap()).sum();
            if real {
                assert!((row - 1.0).abs() < 1e-4, "byte attention row sums to {row}");
            } else {
                assert_eq!(row, 0.0);
                assert!(packet_row.abs() < 1e-6, "padding packet has attention");
            }
            // Combined = packet level x byte level, byte by byte.
            for b in 0..B {
                let c = combined[i].grid.get(p, b).unwrap();
                let want = packet_row * byte[i].grid.get(p, b).unwrap();
                assert!((c - want).abs() < 1e-6);
            }
        }
    }
}

#[test]
fn typed_errors() {
    let repr = repr();
    let flows = all_flows(&repr);
    let (bytes, _) = batch(&repr, &flows, 2);
    let cnn = build(&configs()[0]);
    let attention = Method::Attention {
        level: AttentionLevel::Combined,
    };
    assert!(matches!(
        attribute(&cnn, &bytes, 2, None, attention),
        Err(ExplainError::NotHan { kind: "cnn" })
    ));
    assert!(matches!(
        attribute(&cnn, &bytes[1..], 2, None, Method::GradientInput),
        Err(ExplainError::Length { .. })
    ));
    assert!(matches!(
        attribute(&cnn, &bytes, 2, Some(&[0, CLASSES]), Method::GradientInput),
        Err(ExplainError::Target { .. })
    ));
    assert!(matches!(
        attribute(&cnn, &bytes, 2, Some(&[0]), Method::GradientInput),
        Err(ExplainError::Length { .. })
    ));
    for steps in [0, MAX_IG_STEPS + 1] {
        assert!(matches!(
            attribute(&cnn, &bytes, 2, None, Method::IntegratedGradients { steps }),
            Err(ExplainError::Steps { .. })
        ));
    }
    assert!(matches!(
        Perturbation::new(FieldGroup::Address, Mode::Zero, 0),
        Err(ExplainError::Group { .. })
    ));
}

#[test]
fn gradient_attribution_is_zero_on_zero_bytes_and_explains_the_asked_class() {
    let repr = repr();
    let flows = all_flows(&repr);
    let (bytes, _) = batch(&repr, &flows, 2);
    for cfg in configs().into_iter().take(3) {
        let model = build(&cfg);
        for target in 0..CLASSES {
            let a = attribute(
                &model,
                &bytes,
                2,
                Some(&[target, target]),
                Method::GradientInput,
            )
            .unwrap();
            for (i, a) in a.iter().enumerate() {
                assert_eq!(a.target, target);
                for (w, &x) in a.grid.weights.iter().zip(&bytes[i * P * B..]) {
                    if x == 0 {
                        assert_eq!(*w, 0.0, "{:?}: weight on a zero byte", cfg.kind());
                    }
                }
            }
        }
    }
}

#[test]
fn field_sums_match_the_grid() {
    let repr = repr();
    let flows = all_flows(&repr);
    let (bytes, ids) = batch(&repr, &flows, 3);
    let model = build(&configs()[0]);
    let attr = attribute(&model, &bytes, 3, None, Method::GradientInput).unwrap();
    let mut totals = FieldTotals::new();
    for (a, ids) in attr.iter().zip(&ids) {
        let ff = by_field(&a.grid, ids).unwrap();
        totals.add(&ff);
        let total: f32 = a.grid.weights.iter().map(|w| w.abs()).sum();
        assert!((ff.total_magnitude - total).abs() < 1e-4 * total.max(1.0));
        let shares: f32 = ff.per_field.iter().map(|f| f.share).sum();
        assert!((shares - 1.0).abs() < 1e-4, "shares sum to {shares}");
        // Per packet = the row, per field = the bytes with that field id.
        for (p, row) in ff.per_packet.iter().enumerate() {
            let want: f32 = (0..B).map(|b| a.grid.get(p, b).unwrap()).sum();
            let got: f32 = row.iter().map(|f| f.signed).sum();
            assert!((want - got).abs() < 1e-4 * want.abs().max(1.0));
        }
        for f in &ff.per_field {
            let want: f32 = a
                .grid
                .weights
                .iter()
                .zip(ids)
                .filter(|(_, &id)| id == f.field)
                .map(|(w, _)| *w)
                .sum();
            assert!((want - f.signed).abs() < 1e-4 * want.abs().max(1.0));
            assert_eq!(f.bytes, ids.iter().filter(|&&id| id == f.field).count());
        }
        let site: f32 = ff
            .per_group
            .iter()
            .filter(|g| g.group.is_site_dependent())
            .map(|g| g.share)
            .sum();
        assert!((site - ff.site_dependent_share).abs() < 1e-5);
    }
    let s = totals.summary();
    assert_eq!(s.flows, 3);
    let shares: f32 = s.per_group.iter().map(|g| g.share).sum();
    assert!((shares - 1.0).abs() < 1e-4);

    // A grid that only weighs the TTL bytes is all site-dependent.
    let ids = &ids[0];
    let grid = Grid {
        packets: P,
        bytes_per_packet: B,
        weights: ids
            .iter()
            .map(|&f| if f == Field::Ipv4Ttl { 1.0 } else { 0.0 })
            .collect(),
    };
    let ff = by_field(&grid, ids).unwrap();
    assert_eq!(ff.site_dependent_share, 1.0);
    let mut t = FieldTotals::new();
    t.add(&ff);
    let s = t.summary();
    assert!(s.site_dependent_dominates);
    assert_eq!(s.per_field[0].field, Field::Ipv4Ttl);
}

/// Perturbing a group changes exactly that group's bytes (by the field map)
/// and, for randomise on the `all` view, equals encoding with the matching
/// custom view.
#[test]
fn perturbation_touches_exactly_its_group() {
    let repr = repr();
    let flows = all_flows(&repr);
    let refs: Vec<&Flow> = flows.iter().collect();
    let enc = EncodedFlows::from_flows(&repr, &refs);
    let len = P * B;
    for group in AUDIT_GROUPS {
        let present = enc.field_ids.iter().any(|f| f.group() == group);
        assert!(present || group == FieldGroup::IpChecksum, "{group} absent");
        for mode in Mode::ALL {
            let pert = Perturbation::new(group, mode, 7).unwrap();
            let out = enc.perturbed(&repr, &pert).unwrap();
            let mut changed = 0;
            for ((a, b), f) in out.bytes.iter().zip(&enc.bytes).zip(&enc.field_ids) {
                if f.group() != group {
                    assert_eq!(a, b, "{group}/{mode:?} changed a {f} byte");
                } else if mode == Mode::Zero {
                    assert_eq!(*a, 0, "{group} byte not zeroed");
                }
                changed += usize::from(a != b);
            }
            if present {
                assert!(changed > 0, "{group}/{mode:?} changed nothing");
            }
            if mode == Mode::Randomise {
                let fields: Vec<Field> = group.fields().collect();
                let custom = repr
                    .with_view(View::Custom {
                        zero: Vec::new(),
                        randomise: fields,
                        seed: 7,
                    })
                    .unwrap();
                for (i, f) in refs.iter().enumerate() {
                    assert_eq!(
                        out.bytes[i * len..(i + 1) * len],
                        custom.encode(f)[..],
                        "{group}: perturbation and custom view disagree"
                    );
                }
            }
        }
    }
}

#[test]
fn perturbation_of_key_features_follows_the_bytes() {
    let repr = repr();
    let flows = all_flows(&repr);
    let refs: Vec<&Flow> = flows.iter().filter(|f| f.key.proto == 6).collect();
    assert!(!refs.is_empty());
    let enc = EncodedFlows::from_flows(&repr, &refs);
    let fl = 4 + P;
    // Groups the baselines do not see leave the features alone.
    for group in [FieldGroup::Ttl, FieldGroup::TcpWindow, FieldGroup::Payload] {
        let out = enc
            .perturbed(
                &repr,
                &Perturbation::new(group, Mode::Randomise, 3).unwrap(),
            )
            .unwrap();
        assert_eq!(out.features, enc.features);
    }
    // Zeroed ports / sizes: as the key features of a view hiding them.
    let hide = |zero: Vec<Field>| {
        repr.with_view(View::Custom {
            zero,
            randomise: Vec::new(),
            seed: 0,
        })
        .unwrap()
    };
    for (group, view) in [
        (
            FieldGroup::Ports,
            hide(FieldGroup::Ports.fields().collect()),
        ),
        (
            FieldGroup::PacketSizes,
            hide(FieldGroup::PacketSizes.fields().collect()),
        ),
    ] {
        let out = enc
            .perturbed(&repr, &Perturbation::new(group, Mode::Zero, 0).unwrap())
            .unwrap();
        for (i, f) in refs.iter().enumerate() {
            assert_eq!(out.features[i * fl..(i + 1) * fl], view.key_features(f)[..]);
        }
    }
    // Randomised ports: the features are the noisy ports of packet 0.
    let out = enc
        .perturbed(
            &repr,
            &Perturbation::new(FieldGroup::Ports, Mode::Randomise, 5).unwrap(),
        )
        .unwrap();
    let mut differ = 0;
    for i in 0..refs.len() {
        let row = &out.bytes[i * P * B..i * P * B + B];
        let ids = &enc.field_ids[i * P * B..i * P * B + B];
        let at = ids.iter().position(|&f| f == Field::TcpSport).unwrap();
        let sport = u16::from_be_bytes([row[at], row[at + 1]]) as f32;
        let at = ids.iter().position(|&f| f == Field::TcpDport).unwrap();
        let dport = u16::from_be_bytes([row[at], row[at + 1]]) as f32;
        assert_eq!(out.features[i * fl + 1], sport);
        assert_eq!(out.features[i * fl + 2], dport);
        differ += usize::from(out.features[i * fl + 2] != enc.features[i * fl + 2]);
        // Direction signs of the sizes are untouched.
        assert_eq!(
            out.features[i * fl + 4..(i + 1) * fl],
            enc.features[i * fl + 4..(i + 1) * fl]
        );
    }
    assert!(differ > 0);

    // A view that hides a group: perturbing it changes nothing.
    let key = repr.with_view(View::Key).unwrap();
    let enc_key = EncodedFlows::from_flows(&key, &refs);
    for group in [FieldGroup::Ttl, FieldGroup::TcpSeqAck, FieldGroup::Payload] {
        let out = enc_key
            .perturbed(&key, &Perturbation::new(group, Mode::Randomise, 1).unwrap())
            .unwrap();
        assert_eq!(out, enc_key, "{group} perturbed under the key view");
    }
}

/// A k-NN that keys on the destination port flips when the ports are
/// randomised and not when the TTL is.
#[test]
fn sensitivity_finds_the_field_a_baseline_uses() {
    let repr = repr();
    let flows = all_flows(&repr);
    let refs: Vec<&Flow> = flows.iter().filter(|f| f.key.proto == 6).collect();
    let enc = EncodedFlows::from_flows(&repr, &refs);
    let names = repr.key_feature_names();
    let d = names.len();
    // Reference rows: the flows themselves, each its own class by dport.
    let mut dports: Vec<u16> = refs.iter().map(|f| f.key.dport).collect();
    dports.sort_unstable();
    dports.dedup();
    assert!(dports.len() >= 2, "need two destination ports");
    let classes: Vec<String> = dports.iter().map(|p| p.to_string()).collect();
    let labels: Vec<u32> = refs
        .iter()
        .map(|f| dports.iter().position(|&p| p == f.key.dport).unwrap() as u32)
        .collect();
    // Standardise only dport (other features scaled away).
    let mut std = vec![1e6f32; d];
    std[2] = 1.0;
    let knn = KnnModel::from_raw(
        1,
        names.clone(),
        classes,
        vec![0.0; d],
        std,
        &enc.features,
        labels,
    )
    .unwrap();
    let clf = Classifier::Knn(knn.clone());
    let rows = sensitivity(
        &clf,
        &repr,
        &enc,
        &[FieldGroup::Ttl, FieldGroup::Ports],
        &Mode::ALL,
        11,
        &Device::Cpu,
    )
    .unwrap();
    let get = |g, m| rows.iter().find(|r| r.group == g && r.mode == m).unwrap();
    assert!(get(FieldGroup::Ttl, Mode::Randomise).flipped.is_empty());
    assert!(get(FieldGroup::Ttl, Mode::Randomise).bytes_changed > 0);
    assert!(!get(FieldGroup::Ports, Mode::Randomise).flipped.is_empty());
    assert!(get(FieldGroup::Ports, Mode::Randomise).flip_rate() > 0.0);

    // k-NN explanation: the nearest reference row of flow 0 is itself.
    let near = explain_knn(&knn, enc.features_of(&repr, 0).unwrap(), 3);
    assert_eq!(near[0].distance, 0.0);
    assert_eq!(near[0].class, refs[0].key.dport.to_string());
    for (a, b) in near[0]
        .features
        .iter()
        .zip(enc.features_of(&repr, near[0].index).unwrap())
    {
        assert!((a - b).abs() <= 1e-3 * b.abs().max(1.0));
    }

    // Deep model sensitivity runs and reports per group.
    let cnn = Classifier::Deep(build(&configs()[0]));
    let rows = sensitivity(
        &cnn,
        &repr,
        &enc,
        &AUDIT_GROUPS,
        &Mode::ALL,
        1,
        &Device::Cpu,
    )
    .unwrap();
    assert_eq!(rows.len(), AUDIT_GROUPS.len() * 2);
    assert!(rows.iter().all(|r| r.flows == refs.len()));
}

#[test]
fn c45_path_maps_to_header_bytes() {
    let repr = repr();
    let flows = all_flows(&repr);
    let flow = flows.iter().find(|f| f.key.proto == 6).unwrap();
    let names = repr.key_feature_names();
    let features: String = names
        .iter()
        .map(|n| format!(r#"{{"name":"{n}"}}"#))
        .collect::<Vec<_>>()
        .join(",");
    // dport <= 1000 ? (len_1 <= 100 ? a : b) : c
    let json = format!(
        r#"{{"format":"flowlens-c45","version":1,"features":[{features}],
        "classes":["a","b","c"],"pruned":false,"nodes":[
        {{"kind":"numeric","feature":2,"threshold":1000,"children":[1,4]}},
        {{"kind":"numeric","feature":5,"threshold":100,"children":[2,3]}},
        {{"kind":"leaf","counts":[1,0,0]}},
        {{"kind":"leaf","counts":[0,1,0]}},
        {{"kind":"leaf","counts":[0,0,1]}}]}}"#
    );
    let tree = C45Model::from_json(&json).unwrap();
    let x = repr.key_features(flow);
    let ids = repr.field_ids(flow);
    let e = explain_c45(&tree, &repr, &x, &ids).unwrap();
    let first = &e.path[0];
    assert_eq!(first.source.name, "dport");
    assert_eq!(first.source.fields, vec![Field::TcpDport, Field::UdpDport]);
    let span = first.source.bytes[0];
    assert_eq!(span.packet, 0);
    assert_eq!(span.len, 2);
    assert_eq!(ids[span.start], Field::TcpDport);
    let bytes = repr.encode(flow);
    let seen = u16::from_be_bytes([bytes[span.start], bytes[span.start + 1]]);
    assert_eq!(f32::from(seen), first.step.value_seen);
    if flow.key.dport <= 1000 {
        let second = &e.path[1];
        assert_eq!(second.source.name, "len_1");
        assert_eq!(second.source.bytes[0].packet, 1);
    }
    let sources = feature_sources(&repr, &ids).unwrap();
    assert!(sources[3].bytes.is_empty() && sources[3].fields.is_empty()); // packets
}

// ------------------------------------------------------------- share links

fn payload(include_payload: bool) -> (SharePayload, Flow) {
    let repr = Representation::new(8, 128, View::All).unwrap();
    let flows = flows(SITES, &repr);
    let flow = flows
        .into_iter()
        .find(|f| repr.field_ids(f).contains(&Field::Payload))
        .unwrap();
    let view = ViewState {
        selected_packet: Some(1),
        method: Some(Method::IntegratedGradients { steps: 16 }),
        edits: vec![ByteEdit {
            packet: 0,
            offset: 8,
            value: 1,
        }],
    };
    let p = SharePayload::from_flow("pack", "pack.all.cnn", &repr, &flow, view, include_payload);
    (p, flow)
}

#[test]
fn share_round_trip_and_payload_masking() {
    let repr = Representation::new(8, 128, View::All).unwrap();
    for include in [false, true] {
        let (p, flow) = payload(include);
        let link = p.encode().unwrap();
        assert!(link.len() < 8_000, "link of {} chars", link.len());
        assert!(link
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        let back = SharePayload::decode(&format!("#{link}")).unwrap();
        assert_eq!(back, p);
        let ids = repr.field_ids(&flow);
        assert_eq!(back.field_ids(), ids);
        assert_eq!(back.key_features, repr.key_features(&flow));
        let full = repr.encode(&flow);
        for ((&a, &b), &f) in back.bytes.iter().zip(&full).zip(&ids) {
            if f == Field::Payload && !include {
                assert_eq!(a, 0);
            } else {
                assert_eq!(a, b);
            }
        }
        let payload_values = back
            .field_map
            .iter()
            .flat_map(|pf| &pf.fields)
            .filter(|s| s.field == Field::Payload);
        for s in payload_values {
            assert_eq!(s.value.is_empty(), !include);
        }
        assert_eq!(back.edited_bytes()[8], 1); // TTL of packet 0 edited
    }
}

#[test]
fn share_refuses_hostile_fragments() {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let (p, _) = payload(false);
    let link = p.encode().unwrap();
    assert_eq!(SharePayload::decode(""), Err(ShareError::Empty));
    assert!(matches!(
        SharePayload::decode("not base64!"),
        Err(ShareError::Base64(_))
    ));
    assert!(matches!(
        SharePayload::decode(&"A".repeat(share::MAX_FRAGMENT_CHARS + 1)),
        Err(ShareError::TooLong { .. })
    ));
    // Every truncation is an error, never a panic.
    for cut in 0..link.len() {
        let r = SharePayload::decode(&link[..cut]);
        assert!(r.is_err(), "truncated at {cut} decoded");
    }
    // Random bytes behind a valid version byte.
    let mut s = 0x1234_5678_9abc_def0u64;
    for len in [1usize, 7, 64, 500, 4000] {
        let mut data = vec![share::SHARE_VERSION];
        data.extend((0..len).map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s as u8
        }));
        assert!(SharePayload::decode(&URL_SAFE_NO_PAD.encode(&data)).is_err());
    }
    // Unknown version.
    let mut data = URL_SAFE_NO_PAD.decode(&link).unwrap();
    data[0] = 2;
    assert_eq!(
        SharePayload::decode(&URL_SAFE_NO_PAD.encode(&data)),
        Err(ShareError::UnknownVersion {
            found: 2,
            supported: 1
        })
    );
    // Decompression bomb: 16 MiB of zeros deflate to about 16 KiB.
    let bomb = miniz_oxide::deflate::compress_to_vec(&vec![0u8; 16 << 20], 10);
    let mut data = vec![share::SHARE_VERSION];
    data.extend(bomb);
    let fragment = URL_SAFE_NO_PAD.encode(&data);
    assert!(fragment.len() < share::MAX_FRAGMENT_CHARS);
    assert_eq!(
        SharePayload::decode(&fragment),
        Err(ShareError::TooLarge {
            max: share::MAX_INFLATED_BYTES
        })
    );
    // Inconsistent sizes, well-formed otherwise.
    let mut bad = p.clone();
    bad.bytes.pop();
    assert!(matches!(
        SharePayload::decode(&bad.encode().unwrap()),
        Err(ShareError::Inconsistent(_))
    ));
    let mut bad = p.clone();
    bad.view.edits.push(ByteEdit {
        packet: 8,
        offset: 0,
        value: 0,
    });
    assert!(matches!(
        SharePayload::decode(&bad.encode().unwrap()),
        Err(ShareError::Inconsistent(_))
    ));
    let mut bad = p.clone();
    bad.packets = 0;
    bad.bytes.clear();
    assert!(matches!(
        SharePayload::decode(&bad.encode().unwrap()),
        Err(ShareError::Inconsistent(_))
    ));
    let mut bad = p.clone();
    bad.key_features.pop();
    assert!(matches!(
        SharePayload::decode(&bad.encode().unwrap()),
        Err(ShareError::Inconsistent(_))
    ));
    let mut bad = p.clone();
    bad.key_features[0] = f32::NAN;
    assert!(matches!(
        SharePayload::decode(&bad.encode().unwrap()),
        Err(ShareError::Inconsistent(_))
    ));
    let mut bad = p;
    bad.field_map[0].fields[0].len += 1;
    assert!(matches!(
        SharePayload::decode(&bad.encode().unwrap()),
        Err(ShareError::Inconsistent(_))
    ));
}
