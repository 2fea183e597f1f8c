//! Seed inputs made from real data, per target: the captures of
//! `tests/data/`, share links the core's encoder makes from their flows,
//! the published manifest and exports of `www/models/` (trimmed where
//! they are large). `cargo xtask fuzz` writes them to `fuzz/seeds/<target>/`
//! (not committed: they follow the data) before each run, and the native
//! corpus test replays them too.

use flowlens_core::baselines::KnnModel;
use flowlens_core::classifier::Classifier;
use flowlens_core::explain::{ByteEdit, Method, SharePayload, ViewState};
use flowlens_core::manifest::{Architecture, Manifest};
use flowlens_core::repr::{Representation, View};

use crate::fixtures::{self, Published};

/// One seed: a file name and its bytes.
pub type Seed = (String, Vec<u8>);

/// Rows kept in the trimmed k-NN seed.
const KNN_SEED_ROWS: usize = 24;

/// The seeds of `target` (empty for an unknown target; the model-based
/// ones when `www/models/` is missing).
pub fn seeds(target: &str) -> Vec<Seed> {
    let published = fixtures::published();
    match target {
        "capture_flows" => captures(),
        "share_link" => share_link(),
        "manifest" => published.map(manifest).unwrap_or_default(),
        "weights" => published.map(weights).unwrap_or_default(),
        "c45_export" => c45(published),
        "knn_export" => published.map(knn).unwrap_or_default(),
        "key_features" => key_features(),
        _ => Vec::new(),
    }
}

fn captures() -> Vec<Seed> {
    let dir = fixtures::repo_root().join("tests/data");
    let mut out: Vec<Seed> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| fixtures::is_capture(p))
                .filter_map(|p| {
                    let name = p.file_name()?.to_str()?.to_string();
                    Some((name, std::fs::read(&p).ok()?))
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// Share payloads of real flows: key view without payload, all view with
/// payload and edits.
fn real_payloads() -> Vec<(String, SharePayload)> {
    let flows = fixtures::flows();
    let key = Representation::new(8, 128, View::Key).expect("default shape");
    let all = Representation::default();
    let mut out = Vec::new();
    for (i, flow) in flows.iter().enumerate().step_by(9).take(4) {
        out.push((
            format!("flow{i}-key"),
            SharePayload::from_flow(
                "ndpi-tests.key",
                "ndpi-tests.key.c45",
                &key,
                flow,
                ViewState::default(),
                false,
            ),
        ));
        let view = ViewState {
            selected_packet: Some(0),
            method: Some(Method::GradientInput),
            edits: vec![
                ByteEdit {
                    packet: 0,
                    offset: 8,
                    value: 1,
                },
                ByteEdit {
                    packet: 1,
                    offset: 22,
                    value: 0x50,
                },
            ],
        };
        out.push((
            format!("flow{i}-all-payload"),
            SharePayload::from_flow(
                "ndpi-tests.all",
                "ndpi-tests.all.cnn",
                &all,
                flow,
                view,
                true,
            ),
        ));
    }
    out
}

fn with_mode(mode: u8, rest: &[u8]) -> Vec<u8> {
    let mut v = vec![mode];
    v.extend_from_slice(rest);
    v
}

fn share_link() -> Vec<Seed> {
    let mut out = Vec::new();
    for (name, p) in real_payloads() {
        let fragment = p.encode().expect("a real payload encodes");
        let raw = postcard::to_allocvec(&p).expect("postcard");
        let mut z = vec![flowlens_core::explain::share::SHARE_VERSION];
        z.extend(miniz_oxide::deflate::compress_to_vec(&raw, 6));
        out.push((
            format!("{name}.fragment"),
            with_mode(0, fragment.as_bytes()),
        ));
        out.push((format!("{name}.postcard"), with_mode(1, &raw)));
        out.push((format!("{name}.deflate"), with_mode(2, &z)));
    }
    out.push((
        "real-flow-program".into(),
        vec![3, 5, 0, 7, 128, 0, 1, 1, 1, 0, 0, 1, 2, 0, 9, 0, 0],
    ));
    out
}

fn manifest(p: &Published) -> Vec<Seed> {
    let mut first = p.manifest.clone();
    first.packs.truncate(1);
    let mut one = first.clone();
    one.packs[0].models.truncate(1);
    vec![
        (
            "published.json".into(),
            p.manifest_json.clone().into_bytes(),
        ),
        ("first-pack.json".into(), first.to_json().into_bytes()),
        ("one-model.json".into(), one.to_json().into_bytes()),
        (
            "empty.json".into(),
            Manifest::new(Vec::new()).to_json().into_bytes(),
        ),
    ]
}

fn weights(p: &Published) -> Vec<Seed> {
    let mut out = Vec::new();
    for (i, arch) in ["cnn", "lstm", "sae", "han"].iter().enumerate() {
        let sel = i as u8;
        // The real file as it is, then one structural change of each kind.
        out.push((format!("{arch}-as-published"), vec![sel]));
        for op in 0u8..16 {
            out.push((
                format!("{arch}-op{op}"),
                vec![sel, op, 1, 0, 2, 3, 4, 5, 6, 7],
            ));
        }
        // Raw mode: the real header with the first bytes of the data.
        let a = [
            Architecture::Cnn,
            Architecture::Lstm,
            Architecture::Sae,
            Architecture::Han,
        ][i];
        let bytes = &p.model(a).bytes;
        let header_len = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")) as usize;
        let cut = (8 + header_len + 1024).min(bytes.len());
        out.push((
            format!("{arch}-raw-truncated"),
            with_mode(0x80 | sel, &bytes[..cut]),
        ));
    }
    out
}

fn c45(published: Option<&Published>) -> Vec<Seed> {
    let mut out = vec![(
        "weather.c45.json".to_string(),
        br#"{"format":"flowlens-c45","version":1,"features":[{"name":"outlook","values":["sunny","overcast","rainy"]},{"name":"temperature"},{"name":"humidity"},{"name":"windy","values":["TRUE","FALSE"]}],"classes":["yes","no"],"pruned":true,"nodes":[{"kind":"nominal","feature":0,"children":[1,4,5]},{"kind":"numeric","feature":2,"threshold":75.0,"children":[2,3]},{"kind":"leaf","counts":[2.0,0.0]},{"kind":"leaf","counts":[0.0,3.0]},{"kind":"leaf","counts":[4.0,0.0]},{"kind":"nominal","feature":3,"children":[6,7]},{"kind":"leaf","counts":[0.0,2.0]},{"kind":"leaf","counts":[3.0,0.0]}]}"#.to_vec(),
    )];
    if let Some(p) = published {
        for pack in &p.manifest.packs {
            for m in pack
                .models
                .iter()
                .filter(|m| m.architecture == Architecture::C45)
            {
                if let Ok(bytes) = std::fs::read(fixtures::models_dir().join(&m.weights.file)) {
                    out.push((m.weights.file.clone(), bytes));
                }
            }
        }
    }
    out
}

fn knn(p: &Published) -> Vec<Seed> {
    let Classifier::Knn(m) = &p.model(Architecture::Knn).classifier else {
        return Vec::new();
    };
    let d = m.n_features();
    let rows = KNN_SEED_ROWS.min(m.len());
    // Rows spread over the set, so several classes are in.
    let picked: Vec<usize> = (0..rows).map(|i| i * m.len() / rows).collect();
    let reference: Vec<f32> = picked
        .iter()
        .flat_map(|&i| m.reference_row(i).unwrap_or(&[]).to_vec())
        .collect();
    let labels: Vec<u32> = picked
        .iter()
        .map(|&i| m.label(i).unwrap_or(0) as u32)
        .collect();
    let trimmed = KnnModel::new(
        m.k(),
        m.features().to_vec(),
        m.classes().to_vec(),
        m.mean().to_vec(),
        m.std().to_vec(),
        reference,
        labels,
    )
    .expect("a subset of a valid model is valid");
    let one = KnnModel::new(
        1,
        m.features().to_vec(),
        m.classes().to_vec(),
        m.mean().to_vec(),
        m.std().to_vec(),
        m.reference_row(0).unwrap_or(&[]).to_vec(),
        vec![m.label(0).unwrap_or(0) as u32],
    )
    .expect("one row of a valid model is valid");
    debug_assert_eq!(d, m.mean().len());
    vec![
        ("published-trimmed.knn.bin".into(), trimmed.to_bytes()),
        ("one-row.knn.bin".into(), one.to_bytes()),
    ]
}

fn key_features() -> Vec<Seed> {
    let key = Representation::new(8, 128, View::Key).expect("default shape");
    let mut out = Vec::new();
    for (i, flow) in fixtures::flows().iter().enumerate().step_by(5).take(6) {
        let row: Vec<u8> = key
            .key_features(flow)
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        out.push((format!("row-flow{i}"), with_mode(0, &row)));
        // Flow i, key view, an edit of packet 0 bytes 9 (protocol) and 22 (port).
        out.push((
            format!("edits-flow{i}"),
            vec![1, i as u8, 0, 1, 0, 9, 17, 0, 22, 0x01],
        ));
    }
    for (name, p) in real_payloads() {
        if name.ends_with("-key") {
            out.push((
                format!("{name}.postcard"),
                with_mode(2, &postcard::to_allocvec(&p).expect("postcard")),
            ));
        }
    }
    out
}
