//! Behaviour of the four models: shapes, attention, weight round trips,
//! typed errors on wrong weights, and that gradients reach every parameter.

use std::collections::HashMap;

use candle_core::{DType, Device, Tensor};
use candle_nn::rnn::RNN;
use candle_nn::{AdamW, Optimizer, ParamsAdamW, VarBuilder, VarMap};

use super::*;

const N_CLASSES: usize = 4;

/// Deterministic pseudo-random bytes (xorshift), no rand dependency.
fn bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 24) as u8
        })
        .collect()
}

/// A batch of random flows; flow `i` keeps only its first `real[i]` packets
/// (the rest are padding rows of zeros).
fn batch_input(batch: usize, p: usize, b: usize, real: &[usize], seed: u64) -> ModelInput {
    let mut data = bytes(batch * p * b, seed);
    for (i, &n) in real.iter().enumerate() {
        data[(i * p + n) * b..(i + 1) * p * b].fill(0);
    }
    // Real packets start like IPv4 headers: never an all-zero row.
    for row in data.chunks_mut(b) {
        if row.iter().any(|&x| x != 0) {
            row[0] = 0x45;
        }
    }
    ModelInput::from_bytes(&data, batch, p, b, &Device::Cpu).unwrap()
}

fn build(cfg: &ModelConfig) -> (VarMap, Model) {
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    let model = Model::new(cfg, vb).unwrap();
    (varmap, model)
}

fn configs(p: usize, b: usize) -> Vec<ModelConfig> {
    ModelKind::ALL
        .into_iter()
        .map(|k| ModelConfig::new(k, N_CLASSES, p, b))
        .collect()
}

/// Small configs, one per model, for tests that run many forward/backward
/// passes (also the explanation tests').
pub(crate) fn small_configs(n_classes: usize, p: usize, b: usize) -> Vec<ModelConfig> {
    let mut han = HanConfig::new(n_classes, p, b);
    han.byte_embed = 8;
    han.byte_hidden = 8;
    han.byte_attention = 16;
    han.packet_hidden = 8;
    han.packet_attention = 16;
    vec![
        ModelConfig::Cnn(CnnConfig::new(n_classes, p, b)),
        ModelConfig::Lstm(LstmConfig::new(n_classes, p, b)),
        ModelConfig::Sae(SaeConfig {
            hidden: vec![64, 32],
            ..SaeConfig::new(n_classes, p, b)
        }),
        ModelConfig::Han(han),
    ]
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}

#[test]
fn logits_have_batch_by_classes_shape() {
    for (p, b) in [(8, 128), (5, 40), (1, 3)] {
        let input = batch_input(3, p, b, &[p, p, p], 1);
        for cfg in configs(p, b) {
            let (_, model) = build(&cfg);
            let logits = model.logits(&input).unwrap();
            assert_eq!(logits.dims(), &[3, N_CLASSES], "{} P={p} B={b}", cfg.kind());
            let out = model.forward(&input).unwrap();
            assert_eq!(out.logits.dims(), &[3, N_CLASSES]);
            assert_eq!(out.attention.is_some(), cfg.kind() == ModelKind::Han);
            let values = logits.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            assert!(
                values.iter().all(|v| v.is_finite()),
                "{} P={p} B={b}",
                cfg.kind()
            );
        }
    }
}

#[test]
fn han_attention_sums_to_one_and_skips_padding_packets() {
    for (p, b) in [(8, 128), (5, 40)] {
        // Flow 0 full, flow 1 two real packets, flow 2 padding only.
        let input = batch_input(3, p, b, &[p, 2, 0], 2);
        let (_, model) = build(&ModelConfig::new(ModelKind::Han, N_CLASSES, p, b));
        let out = model.forward(&input).unwrap();
        let att = out.attention.unwrap();
        assert_eq!(att.packet.dims(), &[3, p]);
        assert_eq!(att.byte.dims(), &[3, p, b]);

        let packet_sums = att.packet.sum(1).unwrap().to_vec1::<f32>().unwrap();
        for s in packet_sums {
            assert!((s - 1.0).abs() < 1e-5, "packet attention sums to {s}");
        }
        let byte_sums = att
            .byte
            .sum(2)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        for s in byte_sums {
            assert!((s - 1.0).abs() < 1e-4, "byte attention sums to {s}");
        }

        let packet = att.packet.to_vec2::<f32>().unwrap();
        assert!(
            packet[1][2..].iter().all(|&a| a == 0.0),
            "padding got attention: {:?}",
            packet[1]
        );
        assert!(packet[1][..2].iter().all(|&a| a > 0.0));
        let uniform = 1.0 / p as f32;
        assert!(
            packet[2].iter().all(|&a| (a - uniform).abs() < 1e-6),
            "{:?}",
            packet[2]
        );
    }
}

#[test]
fn lstm_averages_over_real_packets_only() {
    // LSTM weights do not depend on P: the same weights over P = 8 with 3
    // real packets and over P = 3 must agree.
    let b = 16;
    let long = ModelConfig::new(ModelKind::Lstm, N_CLASSES, 8, b);
    let short = ModelConfig::new(ModelKind::Lstm, N_CLASSES, 3, b);
    let (varmap, model) = build(&long);
    let weights = serialize_varmap(&varmap).unwrap();
    let short_model = Model::from_safetensors(&short, &weights, &Device::Cpu).unwrap();

    let padded = batch_input(1, 8, b, &[3], 3);
    let raw = padded
        .bytes()
        .flatten_all()
        .unwrap()
        .to_vec1::<u8>()
        .unwrap();
    let unpadded = ModelInput::from_bytes(&raw[..3 * b], 1, 3, b, &Device::Cpu).unwrap();
    let diff = max_abs_diff(
        &model.logits(&padded).unwrap(),
        &short_model.logits(&unpadded).unwrap(),
    );
    assert!(diff < 1e-6, "padding changed the logits by {diff}");
}

#[test]
fn bigru_matches_candle_gru_in_both_directions() {
    let (n, t, d, h) = (3, 7, 5, 4);
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    let bigru = BiGru::new(d, h, vb.pp("g")).unwrap();
    let x = Tensor::randn(0f32, 1.0, (n, t, d), &Device::Cpu).unwrap();
    let ours = bigru.forward(&x).unwrap(); // [N, T, 2H]
    assert_eq!(ours.dims(), &[n, t, 2 * h]);

    let data = varmap.data().lock().unwrap();
    let direction = |suffix: &str| {
        let ts: HashMap<String, Tensor> =
            ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]
                .iter()
                .map(|name| {
                    let t = data[&format!("g.{name}{suffix}")].as_tensor().clone();
                    (name.to_string(), t)
                })
                .collect();
        let vb = VarBuilder::from_tensors(ts, DType::F32, &Device::Cpu);
        candle_nn::gru(d, h, Default::default(), vb).unwrap()
    };
    let stack = |gru: &candle_nn::GRU, x: &Tensor| {
        let states = gru.seq(x).unwrap();
        let hs: Vec<Tensor> = states.iter().map(|s| s.h().clone()).collect();
        Tensor::stack(&hs, 1).unwrap() // [N, T, H]
    };
    let fwd = stack(&direction(""), &x);
    let rev = stack(&direction("_reverse"), &x.flip(&[1]).unwrap())
        .flip(&[1])
        .unwrap();
    let reference = Tensor::cat(&[fwd, rev], 2).unwrap();
    let diff = max_abs_diff(&ours, &reference);
    assert!(diff < 1e-5, "BiGru differs from candle_nn::GRU by {diff}");
}

#[test]
fn cnn_convolution_matches_candle_conv2d() {
    let dev = &Device::Cpu;
    for (c_in, c_out, k, h, w) in [(1, 4, 3, 8, 16), (3, 5, 5, 4, 7), (2, 2, 1, 3, 3)] {
        let x = candle_core::Var::randn(0f32, 1.0, (2, c_in, h, w), dev).unwrap();
        let kernel = candle_core::Var::randn(0f32, 1.0, (c_out, c_in, k, k), dev).unwrap();
        let ours = super::cnn::conv2d_same(&x, &kernel).unwrap();
        let reference = x.conv2d(&kernel, k / 2, 1, 1, 1).unwrap();
        assert_eq!(ours.dims(), reference.dims());
        let diff = max_abs_diff(&ours, &reference);
        assert!(diff < 1e-4, "k={k}: differs by {diff}");

        // Backward (candle's autograd through the pads, taps and matmul),
        // edges included, against candle's conv2d backward.
        let weights = Tensor::randn(0f32, 1.0, ours.dims(), dev).unwrap();
        let loss = |y: Tensor| (y * &weights).unwrap().sum_all().unwrap();
        let g_ours = loss(ours).backward().unwrap();
        let g_ref = loss(reference).backward().unwrap();
        for (name, var) in [("input", &x), ("kernel", &kernel)] {
            let (a, b) = (
                g_ours.get(var.as_tensor()).unwrap(),
                g_ref.get(var.as_tensor()).unwrap(),
            );
            let diff = max_abs_diff(a, b);
            assert!(diff < 1e-3, "k={k}: {name} gradients differ by {diff}");
        }
    }
}

/// Max-pooling through reshapes and max reductions: a second, slow
/// definition with candle's own backward passes. (candle's max_pool2d
/// backward scales gradients by 1 / (ph * pw), so it is no reference.)
fn max_pool_reference(x: &Tensor, (ph, pw): (usize, usize)) -> Tensor {
    let (b, c, h, w) = x.dims4().unwrap();
    let (ho, wo) = (h / ph, w / pw);
    x.narrow(2, 0, ho * ph)
        .unwrap()
        .narrow(3, 0, wo * pw)
        .unwrap()
        .contiguous()
        .unwrap()
        .reshape((b, c, ho, ph, wo, pw))
        .unwrap()
        .max(5)
        .unwrap()
        .max(3)
        .unwrap()
}

#[test]
fn max_pool_matches_a_reference_forward_and_backward() {
    let dev = &Device::Cpu;
    for ((h, w), pool) in [
        ((8, 16), (2, 2)),
        ((5, 7), (2, 2)),
        ((3, 9), (1, 2)),
        ((4, 4), (2, 1)),
    ] {
        let x = candle_core::Var::randn(0f32, 1.0, (2, 3, h, w), dev).unwrap();
        // A view with strided rows too, as the CNN's convolution returns.
        for strided in [false, true] {
            let input = if strided {
                x.as_tensor()
                    .pad_with_zeros(3, 0, 2)
                    .unwrap()
                    .narrow(3, 0, w)
                    .unwrap()
            } else {
                x.as_tensor().clone()
            };
            let ours = ops::max_pool2d(&input, pool).unwrap();
            assert_eq!(max_abs_diff(&ours, &input.max_pool2d(pool).unwrap()), 0.0);
            let reference = max_pool_reference(&input, pool);
            assert_eq!(ours.dims(), reference.dims());
            assert_eq!(max_abs_diff(&ours, &reference), 0.0);

            let weights = Tensor::randn(0f32, 1.0, ours.dims(), dev).unwrap();
            let g_ours = (ours * &weights)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            let g_ref = (reference * &weights)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            let (a, b) = (
                g_ours.get(x.as_tensor()).unwrap(),
                g_ref.get(x.as_tensor()).unwrap(),
            );
            assert!(max_abs_diff(a, b) < 1e-6, "{h}x{w} by {pool:?}");
        }
    }
}

/// Tied maxima share the window's gradient: the all-zero window that a
/// convolution gives over a block of zero bytes, two equal maxima, then
/// one. Never a multiple of it (candle's `max` gives every tied element all
/// of it).
#[test]
fn max_pool_shares_the_gradient_among_tied_maxima() {
    let dev = &Device::Cpu;
    // One 3 x 7 plane pooled 2 x 2: the last row and column are dropped.
    #[rustfmt::skip]
    let x = [
        0.0, 0.0,  5.0, 1.0,  1.0, 2.0,  9.0,
        0.0, 0.0,  2.0, 5.0,  4.0, 3.0,  9.0,
        9.0, 9.0,  9.0, 9.0,  9.0, 9.0,  9.0f32,
    ];
    let x = candle_core::Var::from_slice(&x, (1, 1, 3, 7), dev).unwrap();
    let y = ops::max_pool2d(x.as_tensor(), (2, 2)).unwrap();
    assert_eq!(
        y.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
        [0.0, 5.0, 4.0]
    );
    let up = Tensor::from_slice(&[8f32, 6.0, 3.0], (1, 1, 1, 3), dev).unwrap();
    let grads = (y * up).unwrap().sum_all().unwrap().backward().unwrap();
    let g = grads
        .get(x.as_tensor())
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    #[rustfmt::skip]
    let want = [
        2.0, 2.0,  3.0, 0.0,  0.0, 0.0,  0.0,
        2.0, 2.0,  0.0, 3.0,  3.0, 0.0,  0.0,
        0.0, 0.0,  0.0, 0.0,  0.0, 0.0,  0.0f32,
    ];
    assert_eq!(g, want);
}

/// The fast tanh's backward equals candle's `tanh` backward, also where it
/// clamps.
#[test]
fn fast_tanh_gradient_matches_candle_tanh() {
    let dev = &Device::Cpu;
    let values: Vec<f32> = (-100..=100).map(|i| i as f32 * 0.1).collect(); // -10 ..= 10
    let x = candle_core::Var::from_slice(&values, values.len(), dev).unwrap();
    let weights = Tensor::randn(0f32, 1.0, values.len(), dev).unwrap();
    let grad = |y: Tensor| {
        let g = (y * &weights)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        g.get(x.as_tensor()).unwrap().clone()
    };
    let ours = grad(ops::tanh(x.as_tensor()).unwrap());
    let reference = grad(x.as_tensor().tanh().unwrap());
    let diff = max_abs_diff(&ours, &reference);
    assert!(diff < 1e-5, "tanh gradients differ by {diff}");
}

#[test]
fn fast_tanh_and_sigmoid_match_libm() {
    let mut worst = (0f32, 0f32);
    for i in -20_000..=20_000 {
        let x = i as f32 * 1e-3; // -20 ..= 20
        let t = (ops::tanh_f32(x) - x.tanh()).abs();
        let s = (ops::sigmoid_f32(x) - 1.0 / (1.0 + (-x).exp())).abs();
        worst = (worst.0.max(t), worst.1.max(s));
    }
    assert!(
        worst.0 < 1e-6 && worst.1 < 1e-6,
        "max errors tanh {}, sigmoid {}",
        worst.0,
        worst.1
    );
    assert_eq!(ops::tanh_f32(0.0), 0.0);
    assert_eq!(ops::tanh_f32(f32::INFINITY), 1.0);
    assert_eq!(ops::tanh_f32(f32::NEG_INFINITY), -1.0);
}

#[test]
fn bigru_gradients_match_candle_gru() {
    let (n, t, d, h) = (3, 6, 5, 4);
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    let bigru = BiGru::new(d, h, vb.pp("g")).unwrap();
    let x = candle_core::Var::randn(0f32, 1.0, (n, t, d), &Device::Cpu).unwrap();
    let weights = Tensor::randn(0f32, 1.0, (n, t, 2 * h), &Device::Cpu).unwrap();

    let ours = bigru.forward(x.as_tensor()).unwrap();
    let ours = (ours * &weights)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();

    let data = varmap.data().lock().unwrap();
    let direction = |suffix: &str| {
        let ts: HashMap<String, Tensor> =
            ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]
                .iter()
                .map(|name| {
                    (
                        name.to_string(),
                        data[&format!("g.{name}{suffix}")].as_tensor().clone(),
                    )
                })
                .collect();
        candle_nn::gru(
            d,
            h,
            Default::default(),
            VarBuilder::from_tensors(ts, DType::F32, &Device::Cpu),
        )
        .unwrap()
    };
    let stack = |gru: &candle_nn::GRU, x: &Tensor| {
        let hs: Vec<Tensor> = gru.seq(x).unwrap().iter().map(|s| s.h().clone()).collect();
        Tensor::stack(&hs, 1).unwrap()
    };
    let fwd = stack(&direction(""), x.as_tensor());
    let rev = stack(&direction("_reverse"), &x.as_tensor().flip(&[1]).unwrap())
        .flip(&[1])
        .unwrap();
    let reference = Tensor::cat(&[fwd, rev], 2).unwrap();
    let reference = (reference * &weights)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();

    let mut checked = 0;
    for (name, var) in data.iter() {
        let a = ours.get(var.as_tensor()).unwrap();
        let b = reference.get(var.as_tensor()).unwrap();
        let diff = max_abs_diff(a, b);
        assert!(diff < 1e-4, "gradient of {name} differs by {diff}");
        checked += 1;
    }
    assert_eq!(checked, 8);
    let diff = max_abs_diff(
        ours.get(x.as_tensor()).unwrap(),
        reference.get(x.as_tensor()).unwrap(),
    );
    assert!(diff < 1e-4, "input gradient differs by {diff}");
}

#[test]
fn saved_weights_reload_to_the_same_logits() {
    for (p, b) in [(8, 128), (5, 40)] {
        let input = batch_input(3, p, b, &[p, 2, 1], 4);
        for cfg in configs(p, b) {
            let (varmap, model) = build(&cfg);
            let bytes = serialize_varmap(&varmap).unwrap();
            let loaded = Model::from_safetensors(&cfg, &bytes, &Device::Cpu).unwrap();
            let diff = max_abs_diff(
                &model.logits(&input).unwrap(),
                &loaded.logits(&input).unwrap(),
            );
            assert!(
                diff <= 1e-5,
                "{}: reloaded logits differ by {diff}",
                cfg.kind()
            );
            if let (Some(a), Some(b)) = (
                model.forward(&input).unwrap().attention,
                loaded.forward(&input).unwrap().attention,
            ) {
                assert!(max_abs_diff(&a.packet, &b.packet) <= 1e-6);
                assert!(max_abs_diff(&a.byte, &b.byte) <= 1e-6);
            }
        }
    }
}

/// Serialised weights of `cfg` after `edit` changes the tensor map.
fn edited_weights(cfg: &ModelConfig, edit: impl FnOnce(&mut HashMap<String, Tensor>)) -> Vec<u8> {
    let (varmap, _) = build(cfg);
    let mut tensors: HashMap<String, Tensor> = varmap
        .data()
        .lock()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_tensor().clone()))
        .collect();
    edit(&mut tensors);
    safetensors::serialize(tensors, None).unwrap()
}

#[test]
fn wrong_weights_are_typed_errors() {
    let dev = &Device::Cpu;
    for cfg in configs(8, 128) {
        let kind = cfg.kind();

        let missing = edited_weights(&cfg, |t| {
            t.remove("head.weight");
        });
        let err = Model::from_safetensors(&cfg, &missing, dev).unwrap_err();
        assert!(
            matches!(&err, ModelError::MissingTensor { name } if name == "head.weight"),
            "{kind}: {err}"
        );

        let reshaped = edited_weights(&cfg, |t| {
            t.insert(
                "head.bias".into(),
                Tensor::zeros(N_CLASSES + 1, DType::F32, dev).unwrap(),
            );
        });
        let err = Model::from_safetensors(&cfg, &reshaped, dev).unwrap_err();
        assert!(
            matches!(&err, ModelError::ShapeMismatch { name, expected, got }
                if name == "head.bias" && expected == &[N_CLASSES] && got == &[N_CLASSES + 1]),
            "{kind}: {err}"
        );

        let extra = edited_weights(&cfg, |t| {
            t.insert("stray".into(), Tensor::zeros(2, DType::F32, dev).unwrap());
        });
        let err = Model::from_safetensors(&cfg, &extra, dev).unwrap_err();
        assert!(
            matches!(&err, ModelError::UnexpectedTensors { names } if names == &["stray"]),
            "{kind}: {err}"
        );

        let ints = edited_weights(&cfg, |t| {
            t.insert(
                "head.bias".into(),
                Tensor::zeros(N_CLASSES, DType::U32, dev).unwrap(),
            );
        });
        let err = Model::from_safetensors(&cfg, &ints, dev).unwrap_err();
        assert!(
            matches!(&err, ModelError::WeightDType { name, .. } if name == "head.bias"),
            "{kind}: {err}"
        );

        let err = Model::from_safetensors(&cfg, b"not a safetensors file", dev).unwrap_err();
        assert!(matches!(err, ModelError::Candle(_)), "{kind}: {err}");
        let err = Model::from_safetensors(&cfg, &[], dev).unwrap_err();
        assert!(matches!(err, ModelError::Candle(_)), "{kind}: {err}");
    }
}

/// Found by the `weights` fuzz target (`fuzz/regressions/weights/`): a
/// file with one NaN weight loaded, and every prediction was NaN.
#[test]
fn non_finite_weights_are_typed_errors() {
    let dev = &Device::Cpu;
    for cfg in configs(8, 128) {
        let kind = cfg.kind();
        let bias = |value: f32| {
            let mut v = vec![0.5f32; N_CLASSES];
            v[N_CLASSES - 1] = value;
            Tensor::new(v, dev).unwrap()
        };
        for value in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            let bytes = edited_weights(&cfg, |t| {
                t.insert("head.bias".into(), bias(value));
            });
            let err = Model::from_safetensors(&cfg, &bytes, dev).unwrap_err();
            assert!(
                matches!(&err, ModelError::NonFiniteWeight { name, .. } if name == "head.bias"),
                "{kind} {value}: {err}"
            );
        }
        // Finite as f64, infinite as the f32 the models compute in.
        let bytes = edited_weights(&cfg, |t| {
            let v = Tensor::new(vec![1e300f64; N_CLASSES], dev).unwrap();
            t.insert("head.bias".into(), v);
        });
        let err = Model::from_safetensors(&cfg, &bytes, dev).unwrap_err();
        assert!(
            matches!(&err, ModelError::NonFiniteWeight { name, .. } if name == "head.bias"),
            "{kind} f64: {err}"
        );
        // Large but finite weights load.
        let bytes = edited_weights(&cfg, |t| {
            t.insert("head.bias".into(), bias(f32::MAX));
        });
        assert!(Model::from_safetensors(&cfg, &bytes, dev).is_ok(), "{kind}");
    }
}

#[test]
fn weights_of_another_architecture_or_size_are_refused() {
    let dev = &Device::Cpu;
    let all = configs(8, 128);
    for from in &all {
        let (varmap, _) = build(from);
        let bytes = serialize_varmap(&varmap).unwrap();
        for to in &all {
            if from.kind() == to.kind() {
                continue;
            }
            let err = Model::from_safetensors(to, &bytes, dev).unwrap_err();
            assert!(
                matches!(
                    err,
                    ModelError::MissingTensor { .. }
                        | ModelError::ShapeMismatch { .. }
                        | ModelError::UnexpectedTensors { .. }
                ),
                "{} weights as {}: {err}",
                from.kind(),
                to.kind()
            );
        }
        // Same architecture, other bytes per packet: only HAN's weights do
        // not depend on the representation size.
        let other = ModelConfig::new(from.kind(), N_CLASSES, 8, 64);
        let result = Model::from_safetensors(&other, &bytes, dev);
        match from.kind() {
            ModelKind::Han => assert!(result.is_ok()),
            _ => assert!(
                matches!(result, Err(ModelError::ShapeMismatch { .. })),
                "{}: {:?}",
                from.kind(),
                result.err()
            ),
        }
    }
}

#[test]
fn input_errors_are_typed() {
    let dev = &Device::Cpu;
    let err = ModelInput::from_bytes(&[0; 10], 1, 2, 4, dev).unwrap_err();
    assert!(matches!(
        err,
        ModelError::InputLength {
            expected: 8,
            got: 10
        }
    ));
    let err =
        ModelInput::from_tensor(Tensor::zeros((1, 2, 4), DType::F32, dev).unwrap()).unwrap_err();
    assert!(matches!(err, ModelError::InputTensor { .. }));

    let (_, model) = build(&ModelConfig::new(ModelKind::Cnn, N_CLASSES, 8, 128));
    let input = batch_input(2, 8, 64, &[8, 8], 5);
    let err = model.logits(&input).unwrap_err();
    assert!(
        matches!(
            err,
            ModelError::InputShape {
                bytes_per_packet: 64,
                ..
            }
        ),
        "{err}"
    );

    let scaled = input_tensor(&[0, 255, 51, 0], 1, 2, 2, dev).unwrap();
    let scaled = scaled.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    for (got, want) in scaled.iter().zip([0.0, 1.0, 0.2, 0.0]) {
        assert!((got - want).abs() < 1e-6, "{scaled:?}");
    }
    let ids = input_ids(&[0, 255, 51, 0], 1, 2, 2, dev).unwrap();
    assert_eq!(ids.dtype(), DType::U32);
    assert_eq!(
        ids.to_vec3::<u32>().unwrap(),
        vec![vec![vec![0, 255], vec![51, 0]]]
    );
}

#[test]
fn empty_batch_does_not_panic() {
    let input = ModelInput::from_bytes(&[], 0, 8, 16, &Device::Cpu).unwrap();
    for cfg in small_configs(N_CLASSES, 8, 16) {
        let (_, model) = build(&cfg);
        // Either empty logits or a typed error; never a panic.
        if let Ok(logits) = model.logits(&input) {
            assert_eq!(logits.dims(), &[0, N_CLASSES]);
        }
    }
}

#[test]
fn config_json_is_tagged_by_kind_with_defaults() {
    let cfg: ModelConfig = serde_json::from_str(
        r#"{"kind": "han", "n_classes": 5, "packets": 8, "bytes_per_packet": 128, "byte_hidden": 25}"#,
    )
    .unwrap();
    let mut expected = HanConfig::new(5, 8, 128);
    expected.byte_hidden = 25;
    assert_eq!(cfg, ModelConfig::Han(expected));

    for cfg in configs(8, 128) {
        let json = serde_json::to_value(&cfg).unwrap();
        assert_eq!(json["kind"], cfg.kind().as_str());
        let back: ModelConfig = serde_json::from_value(json).unwrap();
        assert_eq!(back, cfg);
        assert_eq!(
            cfg.kind().as_str().parse::<ModelKind>().unwrap(),
            cfg.kind()
        );
    }

    let typo =
        r#"{"kind": "cnn", "n_classes": 5, "packets": 8, "bytes_per_packet": 128, "chanels": [8]}"#;
    assert!(serde_json::from_str::<ModelConfig>(typo).is_err());
    let unknown = r#"{"kind": "mlp", "n_classes": 5, "packets": 8, "bytes_per_packet": 128}"#;
    assert!(serde_json::from_str::<ModelConfig>(unknown).is_err());
    assert_eq!(serde_json::to_string(&ModelKind::Sae).unwrap(), "\"sae\"");

    let bad = ModelConfig::Cnn(CnnConfig {
        kernel_sizes: vec![4, 3],
        ..CnnConfig::new(5, 8, 128)
    });
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    assert!(matches!(
        Model::new(&bad, vb),
        Err(ModelError::InvalidConfig {
            field: "kernel_sizes",
            ..
        })
    ));
}

fn cross_entropy(model: &Model, input: &ModelInput, labels: &Tensor) -> Tensor {
    candle_nn::loss::cross_entropy(&model.logits(input).unwrap(), labels).unwrap()
}

#[test]
fn an_optimiser_step_lowers_the_loss_and_reaches_every_parameter() {
    let (p, b) = (8, 32);
    let input = batch_input(6, p, b, &[8, 8, 3, 5, 1, 8], 6);
    let labels = Tensor::new(&[0u32, 1, 2, 3, 0, 1], &Device::Cpu).unwrap();
    for cfg in small_configs(N_CLASSES, p, b) {
        let (varmap, model) = build(&cfg);
        let before = cross_entropy(&model, &input, &labels);

        // Every parameter gets a gradient (SAE decoders excepted: they only
        // serve pre-training).
        let grads = before.backward().unwrap();
        let data = varmap.data().lock().unwrap();
        let mut names: Vec<&String> = data.keys().collect();
        names.sort();
        for name in names {
            if name.starts_with("dec.") {
                continue;
            }
            let grad = grads.get(data[name].as_tensor());
            let norm = grad
                .map(|g| {
                    g.sqr()
                        .unwrap()
                        .sum_all()
                        .unwrap()
                        .to_scalar::<f32>()
                        .unwrap()
                })
                .unwrap_or(0.0);
            assert!(norm > 0.0, "{}: no gradient for {name}", cfg.kind());
        }
        drop(data);

        let params = ParamsAdamW {
            lr: 1e-3,
            ..Default::default()
        };
        let mut opt = AdamW::new(varmap.all_vars(), params).unwrap();
        let loss0 = before.to_scalar::<f32>().unwrap();
        for _ in 0..5 {
            opt.backward_step(&cross_entropy(&model, &input, &labels))
                .unwrap();
        }
        let loss1 = cross_entropy(&model, &input, &labels)
            .to_scalar::<f32>()
            .unwrap();
        assert!(loss1 < loss0, "{}: loss {loss0} -> {loss1}", cfg.kind());
    }
}

#[test]
fn sae_layers_reconstruct_their_own_input() {
    let (p, b) = (4, 16);
    let cfg = SaeConfig::new(N_CLASSES, p, b);
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    let sae = Sae::new(&cfg, vb).unwrap();
    let x = batch_input(3, p, b, &[4, 4, 4], 7).scaled().unwrap();
    assert_eq!(sae.n_layers(), 2);
    let x0 = sae.layer_input(0, &x).unwrap();
    assert_eq!(x0.dims(), &[3, p * b]);
    assert_eq!(sae.reconstruct_layer(0, &x0).unwrap().dims(), &[3, p * b]);
    let x1 = sae.layer_input(1, &x).unwrap();
    assert_eq!(x1.dims(), &[3, 256]);
    assert_eq!(sae.encode_layer(1, &x1).unwrap().dims(), &[3, 128]);
    assert_eq!(sae.reconstruct_layer(1, &x1).unwrap().dims(), &[3, 256]);
    assert!(matches!(
        sae.layer_input(2, &x),
        Err(ModelError::NoSuchLayer {
            index: 2,
            layers: 2
        })
    ));

    // Pre-training layer 0 alone lowers its reconstruction error.
    let layer0: Vec<_> = {
        let data = varmap.data().lock().unwrap();
        let mut names: Vec<_> = data
            .keys()
            .filter(|k| k.starts_with("enc.0.") || k.starts_with("dec.0."))
            .cloned()
            .collect();
        names.sort();
        names.iter().map(|k| data[k].clone()).collect()
    };
    let mut opt = AdamW::new(
        layer0,
        ParamsAdamW {
            lr: 1e-2,
            ..Default::default()
        },
    )
    .unwrap();
    let mse =
        |sae: &Sae| candle_nn::loss::mse(&sae.reconstruct_layer(0, &x0).unwrap(), &x0).unwrap();
    let before = mse(&sae).to_scalar::<f32>().unwrap();
    for _ in 0..5 {
        opt.backward_step(&mse(&sae)).unwrap();
    }
    let after = mse(&sae).to_scalar::<f32>().unwrap();
    assert!(after < before, "reconstruction {before} -> {after}");
}

/// The fused byte-level path (ids looked up in a table inside the GRU op)
/// computes what the plain path computes on embedded inputs, values and
/// gradients, on real byte values (a TCP/IPv4 header).
#[test]
fn bigru_over_ids_matches_bigru_over_embeddings() {
    let (h, e) = (5, 6);
    let header: [u8; 24] = [
        0x45, 0x00, 0x00, 0x3c, 0x1c, 0x46, 0x40, 0x00, 0x40, 0x06, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0x01, 0xbb, 0xc3, 0x50,
    ];
    let n = 3;
    let ids: Vec<u32> = (0..n)
        .flat_map(|i| {
            header
                .iter()
                .map(move |&b| u32::from(b.wrapping_add(i as u8)))
        })
        .collect();
    let ids = Tensor::from_vec(ids, (n, header.len()), &Device::Cpu).unwrap();
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    let bigru = BiGru::new(e, h, vb.pp("g")).unwrap();
    let embed = candle_core::Var::randn(0f32, 1.0, (256, e), &Device::Cpu).unwrap();
    let weights = Tensor::randn(0f32, 1.0, (n, header.len(), 2 * h), &Device::Cpu).unwrap();

    let fused = bigru.forward_embedded(embed.as_tensor(), &ids).unwrap();
    let embedded = embed
        .as_tensor()
        .index_select(&ids.flatten_all().unwrap(), 0)
        .unwrap()
        .reshape((n, header.len(), e))
        .unwrap();
    let plain = bigru.forward(&embedded).unwrap();
    assert!(max_abs_diff(&fused, &plain) < 1e-5);

    let grads = |out: &Tensor| {
        (out * &weights)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap()
    };
    let (a, b) = (grads(&fused), grads(&plain));
    let mut checked = 0;
    for var in varmap.all_vars().iter().chain([&embed]) {
        let diff = max_abs_diff(
            a.get(var.as_tensor()).unwrap(),
            b.get(var.as_tensor()).unwrap(),
        );
        assert!(diff < 1e-4, "gradient differs by {diff}");
        checked += 1;
    }
    assert_eq!(checked, 9);
}
