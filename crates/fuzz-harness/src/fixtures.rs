//! Real inputs the targets start from: flows of the captures in
//! `tests/data/` and the models published in `www/models/`, read once.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use flowlens_core::classifier::Classifier;
use flowlens_core::manifest::{Architecture, Manifest, ModelEntry};
use flowlens_core::{Analyzer, Flow, FlowConfig};

/// The repository's root folder.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The published models' folder (`www/models/`).
pub fn models_dir() -> PathBuf {
    repo_root().join("www/models")
}

/// Flows per capture kept by [`flows`].
const FLOWS_PER_CAPTURE: usize = 3;

/// The first few flows of every capture in `tests/data/` (default flow
/// config: 8 packets of 128 bytes kept), in file-name order: TCP, UDP,
/// SCTP, ICMP, IPv6, tunnels, truncated packets.
pub fn flows() -> &'static [Flow] {
    static FLOWS: OnceLock<Vec<Flow>> = OnceLock::new();
    FLOWS.get_or_init(|| {
        let dir = repo_root().join("tests/data");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| is_capture(p))
            .collect();
        files.sort();
        let mut out = Vec::new();
        for f in files {
            let bytes = std::fs::read(&f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            let analysis = Analyzer::analyze(&bytes, FlowConfig::default());
            out.extend(analysis.flows.into_iter().take(FLOWS_PER_CAPTURE));
        }
        assert!(!out.is_empty(), "no flows in {}", dir.display());
        out
    })
}

/// A capture file of `tests/data/` by its extension.
pub fn is_capture(path: &Path) -> bool {
    path.is_file()
        && matches!(
            path.extension().and_then(|x| x.to_str()),
            Some("pcap" | "pcapng" | "cap")
        )
}

/// One published model: its manifest entry and weight bytes.
pub struct PublishedModel {
    pub entry: ModelEntry,
    pub bytes: Vec<u8>,
    pub classifier: Classifier,
}

/// The published manifest and, per architecture, the entry with the
/// smallest weight file (so the smallest pack's), loaded.
pub struct Published {
    pub manifest: Manifest,
    pub manifest_json: String,
    models: Vec<PublishedModel>,
}

impl Published {
    /// The smallest published model of `architecture`.
    pub fn model(&self, architecture: Architecture) -> &PublishedModel {
        self.models
            .iter()
            .find(|m| m.entry.architecture == architecture)
            .unwrap_or_else(|| panic!("no published {} model", architecture.as_str()))
    }
}

/// The models in `www/models/`, or `None` when it has no manifest (they
/// are written by `trainer publish`).
pub fn published() -> Option<&'static Published> {
    static PUBLISHED: OnceLock<Option<Published>> = OnceLock::new();
    PUBLISHED
        .get_or_init(|| {
            let dir = models_dir();
            let manifest_json = std::fs::read_to_string(dir.join("manifest.json")).ok()?;
            let manifest = Manifest::from_json(&manifest_json)
                .unwrap_or_else(|e| panic!("published manifest: {e}"));
            let device = candle_core::Device::Cpu;
            let mut models = Vec::new();
            for arch in [
                Architecture::Cnn,
                Architecture::Lstm,
                Architecture::Sae,
                Architecture::Han,
                Architecture::C45,
                Architecture::Knn,
            ] {
                let Some(entry) = manifest
                    .packs
                    .iter()
                    .flat_map(|p| &p.models)
                    .filter(|m| m.architecture == arch)
                    .min_by_key(|m| m.weights.bytes)
                else {
                    continue;
                };
                let path = dir.join(&entry.weights.file);
                let bytes =
                    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                let classifier = Classifier::load(entry, &bytes, &device)
                    .unwrap_or_else(|e| panic!("{}: {e}", entry.id));
                models.push(PublishedModel {
                    entry: entry.clone(),
                    bytes,
                    classifier,
                });
            }
            Some(Published {
                manifest,
                manifest_json,
                models,
            })
        })
        .as_ref()
}

/// [`published`], for the targets that cannot run without it.
pub fn published_or_panic() -> &'static Published {
    published().unwrap_or_else(|| {
        panic!(
            "this target needs the published models in {} (trainer publish)",
            models_dir().display()
        )
    })
}

/// A byte reader over the fuzz input that never fails: past the end it
/// gives zeros, so every input means something.
pub struct Bytes<'a> {
    data: &'a [u8],
}

impl<'a> Bytes<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Bytes { data }
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    pub fn u64(&mut self) -> u64 {
        u64::from(self.u32()) | (u64::from(self.u32()) << 32)
    }

    pub fn f32(&mut self) -> f32 {
        f32::from_bits(self.u32())
    }

    /// An index below `len` (0 when `len` is 0).
    pub fn index(&mut self, len: usize) -> usize {
        if len == 0 {
            0
        } else {
            self.u16() as usize % len
        }
    }

    /// What is left.
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.data)
    }
}
