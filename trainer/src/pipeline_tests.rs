//! Training and export on real flows: a tiny labelled dataset built from the
//! repository's fixtures (`tests/data`, no `../shared` needed).

use std::path::{Path, PathBuf};

use candle_core::{DType, Device};
use candle_nn::{VarBuilder, VarMap};
use flowlens_core::classifier::Classifier;
use flowlens_core::manifest::{sha256_hex, Architecture, ModelEntry, TestMetrics, WeightFile};
use flowlens_core::models::{serialize_varmap, Model, ModelConfig, ModelKind};
use flowlens_core::repr::{Field, Representation, View};

use crate::dataset::{BuildSpec, Dataset, Side, SplitBy};
use crate::train::{self, TrainOpts};

/// Three classes of real flows: UDP services, TCP services, DNS.
pub const CLASSES: [(&str, &[&str]); 3] = [
    ("udp", &["bjnp.pcap", "nfsv3.pcap"]),
    ("tcp", &["kafka.pcapng", "mongodb.pcap"]),
    ("dns", &["ocs.pcap", "dns_fragmented.pcap"]),
];

/// `<dir>/<label>/<fixture>` for every class.
pub fn labelled_fixtures(dir: &Path) -> PathBuf {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data");
    for (label, files) in CLASSES {
        let d = dir.join(label);
        std::fs::create_dir_all(&d).expect("temp dir");
        for f in files {
            std::fs::copy(fixtures.join(f), d.join(f)).expect("fixture copies");
        }
    }
    dir.to_path_buf()
}

fn tiny_dataset(name: &str, view: View) -> Dataset {
    let dir = std::env::temp_dir().join(format!("flowlens-pipeline-{name}-{}", std::process::id()));
    let root = labelled_fixtures(&dir);
    let spec = BuildSpec {
        name: "fixtures".into(),
        roots: vec![root],
        labels: None,
        repr: Representation::new(8, 128, view).expect("repr"),
        max_per_class: 1000,
        min_per_class: 3,
        seed: 7,
        split_by: SplitBy::Flow,
    };
    let ds = Dataset::build(spec).expect("dataset from fixtures");
    let _ = std::fs::remove_dir_all(&dir);
    ds
}

#[test]
fn fixture_dataset_has_three_classes_and_field_ids() {
    let ds = tiny_dataset("fields", View::All);
    assert_eq!(ds.classes, vec!["dns", "tcp", "udp"]);
    let (train, val, test) = ds.counts();
    assert!(train >= 15 && val >= 3 && test >= 3, "{train}/{val}/{test}");
    assert_eq!(ds.fields.len(), ds.x.len());
    // The first byte of every flow's first packet is the IP version.
    for i in 0..ds.n() {
        assert!(matches!(
            ds.field(i, 0, 0),
            Field::Ipv4VersionIhl | Field::Ipv6VersionClassFlow
        ));
    }
    // Saved and loaded, field ids survive (format 2).
    let path = std::env::temp_dir().join(format!("flowlens-ds-{}.safetensors", std::process::id()));
    ds.save(&path).expect("save");
    let back = Dataset::load(&path).expect("load");
    let _ = std::fs::remove_file(&path);
    assert_eq!(back.fields, ds.fields);
    assert_eq!(back.x, ds.x);
}

#[test]
fn training_reduces_the_loss_on_real_flows() {
    let ds = tiny_dataset("loss", View::All);
    let opts = TrainOpts {
        max_epochs: 5,
        batch_size: 8,
        patience: 100,
        learning_rate: 2e-3,
        ..TrainOpts::default()
    };
    let t = train::train(ModelKind::Cnn, &ds, &opts, &mut |_| {}).expect("training");
    assert_eq!(t.curve.len(), 5);
    let first = t.curve[0].train_loss;
    let last = t.curve[4].train_loss;
    assert!(last < first * 0.8, "loss {first} -> {last}");
}

fn entry_for(
    cfg: &ModelConfig,
    arch: Architecture,
    repr: &Representation,
    classes: &[String],
    bytes: &[u8],
) -> ModelEntry {
    ModelEntry {
        id: format!("fixtures.all.{}", arch.as_str()),
        architecture: arch,
        config: Some(cfg.clone()),
        representation: repr.clone(),
        classes: classes.to_vec(),
        metrics: TestMetrics {
            accuracy: 0.0,
            macro_f1: 0.0,
        },
        dataset_hash: "00".into(),
        git_commit: "test".into(),
        weights: WeightFile {
            file: "w.safetensors".into(),
            sha256: sha256_hex(bytes),
            bytes: bytes.len() as u64,
        },
        training: serde_json::Value::Null,
    }
}

#[test]
fn export_then_reload_gives_the_same_logits() {
    let ds = tiny_dataset("export", View::All);
    let device = Device::Cpu;
    let [p, b] = ds.spec.repr.shape();
    let rows: Vec<usize> = (0..ds.n()).collect();
    let x = &ds.x[..];
    for (kind, arch) in [
        (ModelKind::Cnn, Architecture::Cnn),
        (ModelKind::Lstm, Architecture::Lstm),
        (ModelKind::Sae, Architecture::Sae),
        (ModelKind::Han, Architecture::Han),
    ] {
        let cfg = ModelConfig::new(kind, ds.classes.len(), p, b);
        let varmap = VarMap::new();
        let model =
            Model::new(&cfg, VarBuilder::from_varmap(&varmap, DType::F32, &device)).expect("model");
        let input = train::batch_input(&ds, &rows, &device).expect("input");
        let before = model
            .logits(&input)
            .expect("logits")
            .to_vec2::<f32>()
            .expect("vec"); // [n, classes]
        let bytes = serialize_varmap(&varmap).expect("export");
        let entry = entry_for(&cfg, arch, &ds.spec.repr, &ds.classes, &bytes);
        let clf = Classifier::load(&entry, &bytes, &device).expect("reload");
        let after = clf
            .logits_matrix(x, ds.n(), &ds.spec.repr, &device)
            .expect("logits");
        assert_eq!(before.len(), after.len());
        for (r0, r1) in before.iter().zip(&after) {
            for (a, b) in r0.iter().zip(r1) {
                assert!((a - b).abs() <= 1e-5, "{kind:?}: {a} vs {b}");
            }
        }
    }
}

#[test]
fn han_attention_report_sums_to_one_per_flow() {
    let ds = tiny_dataset("attention", View::All);
    let device = Device::Cpu;
    let [p, b] = ds.spec.repr.shape();
    let cfg = ModelConfig::new(ModelKind::Han, ds.classes.len(), p, b);
    let varmap = VarMap::new();
    let model =
        Model::new(&cfg, VarBuilder::from_varmap(&varmap, DType::F32, &device)).expect("model");
    let a = crate::reproduce_cmd::attention_report(&model, &ds, 1, 1, &device).expect("attention");
    assert_eq!(a.test_flows, ds.indices(Side::Test).len());
    let total: f64 = a.fields.iter().map(|f| f.share).sum();
    assert!((total - 1.0).abs() < 1e-3, "shares sum to {total}");
    assert_eq!(a.examples.len(), 3, "one sampled flow per class");
    for e in &a.examples {
        assert_eq!(e.top_packets.len(), 3);
        assert_eq!(e.top_bytes.len(), 5);
        assert!(e.top_bytes.windows(2).all(|w| w[0].weight >= w[1].weight));
        assert!(Field::from_name(&e.top_bytes[0].field).is_some());
    }
}

#[test]
fn capping_training_keeps_validation_and_test() {
    let ds = tiny_dataset("cap", View::Key);
    let capped = crate::reproduce_cmd::cap_training(&ds, 2, 3);
    assert_eq!(capped.counts().0, 2 * ds.classes.len());
    assert_eq!(
        capped.indices(Side::Test).len(),
        ds.indices(Side::Test).len()
    );
    assert_eq!(capped.indices(Side::Val).len(), ds.indices(Side::Val).len());
    let test_x = |d: &Dataset| {
        d.indices(Side::Test)
            .iter()
            .flat_map(|&i| d.x[i * d.row_len()..(i + 1) * d.row_len()].to_vec())
            .collect::<Vec<u8>>()
    };
    assert_eq!(test_x(&capped), test_x(&ds));
}
