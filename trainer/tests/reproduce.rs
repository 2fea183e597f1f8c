//! `trainer reproduce --quick`, `trainer publish` and `trainer classify`
//! on a tiny labelled dataset built from the fixtures in `tests/data`
//! (three classes: UDP services, TCP services, DNS). One reproduction is
//! shared by every test.

#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::Value;

const CLASSES: [(&str, &[&str]); 3] = [
    ("udp", &["bjnp.pcap", "nfsv3.pcap"]),
    ("tcp", &["kafka.pcapng", "mongodb.pcap"]),
    ("dns", &["ocs.pcap", "dns_fragmented.pcap"]),
];

fn tmp() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("reproduce")
}

fn trainer(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trainer"))
        .args(args)
        .output()
        .expect("trainer runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Dataset, reproduction and publication, once: returns the work dir.
fn reproduced() -> &'static Path {
    static DONE: OnceLock<PathBuf> = OnceLock::new();
    DONE.get_or_init(|| {
        let dir = tmp();
        let _ = std::fs::remove_dir_all(&dir);
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data");
        let data = dir.join("fixtures");
        for (label, files) in CLASSES {
            std::fs::create_dir_all(data.join(label)).expect("temp dir");
            for f in files {
                std::fs::copy(fixtures.join(f), data.join(label).join(f)).expect("fixture");
            }
        }
        let s = |p: &Path| p.display().to_string();
        let out = trainer(&[
            "reproduce",
            "--data",
            &s(&data),
            "--out",
            &s(&dir.join("report")),
            "--quick",
            "--min-per-class",
            "3",
            "--max-epochs",
            "1",
            "--cache",
            &s(&dir.join("cache")),
        ]);
        assert_eq!(out.status.code(), Some(0), "reproduce: {}", stderr(&out));
        let out = trainer(&[
            "publish",
            "--from",
            &s(&dir.join("report/runs")),
            "--out",
            &s(&dir.join("models")),
        ]);
        assert_eq!(out.status.code(), Some(0), "publish: {}", stderr(&out));
        dir
    })
}

fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    k.sort_unstable();
    k
}

#[test]
fn quick_report_has_the_documented_shape() {
    let dir = reproduced().join("report");
    let text = std::fs::read_to_string(dir.join("report.json")).expect("report.json");
    let v: Value = serde_json::from_str(&text).expect("JSON");
    let datasets = v["datasets"].as_array().expect("datasets");
    assert_eq!(datasets.len(), 1);
    let d = &datasets[0];
    assert_eq!(d["name"], "fixtures");
    let classes: Vec<&str> = d["classes"]
        .as_array()
        .expect("classes")
        .iter()
        .map(|c| c.as_str().expect("str"))
        .collect();
    assert_eq!(classes, ["dns", "tcp", "udp"]);
    assert_eq!(keys(&d["flows"]), ["test", "train", "val"]);
    assert!(d["flows"]["test"].as_u64().expect("count") >= 3);
    let results = d["results"].as_array().expect("results");
    let mut seen: Vec<String> = results
        .iter()
        .map(|r| {
            format!(
                "{}.{}",
                r["view"].as_str().unwrap(),
                r["model"].as_str().unwrap()
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            "all.cnn", "all.han", "all.lstm", "all.sae", "key.c45", "key.cnn", "key.han",
            "key.knn", "key.lstm", "key.sae"
        ]
    );
    for r in results {
        for k in [
            "view",
            "model",
            "accuracy",
            "macro_f1",
            "per_class",
            "confusion",
            "train_seconds",
        ] {
            assert!(r.get(k).is_some(), "{k} missing in {r}");
        }
        let acc = r["accuracy"].as_f64().expect("accuracy");
        assert!((0.0..=1.0).contains(&acc));
        assert!(r["macro_f1"].as_f64().is_some() && r["train_seconds"].as_f64().is_some());
        let conf = r["confusion"].as_array().expect("confusion");
        assert_eq!(conf.len(), 3);
        assert!(conf
            .iter()
            .all(|row| row.as_array().map(Vec::len) == Some(3)));
        assert_eq!(keys(&r["per_class"]), ["dns", "tcp", "udp"]);
        let svg = dir.join(format!(
            "confusion-fixtures-{}-{}.svg",
            r["view"].as_str().unwrap(),
            r["model"].as_str().unwrap()
        ));
        assert!(std::fs::read_to_string(&svg)
            .expect("confusion svg")
            .starts_with("<svg"));
    }
    assert!(v["meta"]["quick"].as_bool().expect("meta.quick"));
    assert!(d["attention"]["fields"]
        .as_array()
        .is_some_and(|f| !f.is_empty()));
    assert!(dir.join("attention-fields-fixtures.svg").is_file());
    assert!(dir.join("curve-fixtures-all-han.svg").is_file());
    let md = std::fs::read_to_string(dir.join("report.md")).expect("report.md");
    assert!(
        md.contains("QUICK RUN")
            && md.contains("Table 3")
            && md.contains("Table 4")
            && md.contains("Table 2")
    );
}

#[test]
fn published_set_is_one_pack_per_view_and_classifies() {
    let dir = reproduced();
    let models = dir.join("models");
    let v: Value = serde_json::from_str(
        &std::fs::read_to_string(models.join("manifest.json")).expect("manifest"),
    )
    .expect("JSON");
    let packs: Vec<&str> = v["packs"]
        .as_array()
        .expect("packs")
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(packs, ["fixtures.all", "fixtures.key"]);
    for p in v["packs"].as_array().unwrap() {
        for m in p["models"].as_array().unwrap() {
            let file = models.join(m["weights"]["file"].as_str().unwrap());
            let meta = std::fs::metadata(&file).expect("weight file");
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                assert_eq!(
                    meta.permissions().mode() & 0o777,
                    0o644,
                    "{}",
                    file.display()
                );
            }
            assert_eq!(meta.len(), m["weights"]["bytes"].as_u64().unwrap());
        }
    }
    let capture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/ocs.pcap");
    for id in ["fixtures.all.cnn", "fixtures.key.c45", "fixtures.key.knn"] {
        let out = trainer(&[
            "classify",
            "--models",
            &models.join("manifest.json").display().to_string(),
            "--model",
            id,
            "--json",
            &capture.display().to_string(),
        ]);
        assert_eq!(out.status.code(), Some(0), "{id}: {}", stderr(&out));
        let lines = String::from_utf8_lossy(&out.stdout);
        assert!(lines.lines().count() >= 1);
        for l in lines.lines() {
            let v: Value = serde_json::from_str(l).expect("JSON line");
            assert!(["dns", "tcp", "udp"].contains(&v["label"].as_str().unwrap()));
        }
    }
}

/// A copy of the published set whose manifest is edited by `edit`.
fn tampered(name: &str, edit: impl Fn(&mut Value, &Path)) -> PathBuf {
    let src = reproduced().join("models");
    let dst = tmp().join(name);
    std::fs::create_dir_all(&dst).expect("dir");
    for e in std::fs::read_dir(&src).expect("models").flatten() {
        std::fs::copy(e.path(), dst.join(e.file_name())).expect("copy");
    }
    let path = dst.join("manifest.json");
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    edit(&mut v, &dst);
    std::fs::write(&path, serde_json::to_string(&v).unwrap()).unwrap();
    path
}

fn classify(manifest: &Path) -> Output {
    let capture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/ocs.pcap");
    trainer(&[
        "classify",
        "--models",
        &manifest.display().to_string(),
        "--model",
        "fixtures.all.cnn",
        &capture.display().to_string(),
    ])
}

#[test]
fn unknown_schema_version_exits_2_with_a_message() {
    let manifest = tampered("schema", |v, _| v["schema_version"] = Value::from(99));
    let out = classify(&manifest);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("schema version 99 is not supported"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn wrong_weight_hash_exits_2_with_a_message() {
    let manifest = tampered("hash", |v, dir| {
        let m = &v["packs"][0]["models"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == "fixtures.all.cnn")
            .unwrap()
            .clone();
        let file = dir.join(m["weights"]["file"].as_str().unwrap());
        let mut bytes = std::fs::read(&file).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0x01;
        std::fs::write(&file, bytes).unwrap();
    });
    let out = classify(&manifest);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("does not match the manifest"), "{err}");
    assert!(out.stdout.is_empty());
}
