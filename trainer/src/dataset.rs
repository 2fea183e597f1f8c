//! Labelled datasets: captures -> flows -> the core's representation,
//! sampled per class and split by flow (or by capture), cached on disk.
//!
//! Layouts understood:
//! - `<root>/<label>/*.pcap|*.pcapng`: every flow of a capture gets the
//!   folder's label;
//! - captures anywhere under `<root>` plus a per-flow label table
//!   (`--labels flows.csv` with columns `pcap,l4,ip_a,port_a,ip_b,port_b`
//!   and a label column, e.g. `../shared/data/nDPI-tests/flows.csv`): flows
//!   whose 5-tuple is not in the table, or has an empty label, are left out.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::Read;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

/// Which side of the split a flow is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Train = 0,
    Val = 1,
    Test = 2,
}

/// What keeps train and test apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum SplitBy {
    /// Each flow on one side (the paper's 80/10/10, stratified by class).
    Flow,
    /// Whole capture files on one side.
    Capture,
}

/// One capture file and where its labels come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub path: PathBuf,
    /// The label folder, when the layout is `<root>/<label>/<file>`.
    pub label: Option<String>,
}

fn is_capture(p: &Path) -> bool {
    matches!(
        p.extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("pcap" | "pcapng" | "cap")
    )
}

/// Captures under `root`: `<root>/<label>/*` when label folders exist,
/// else every capture below `root` (labels then come from a table).
pub fn discover(root: &Path) -> anyhow::Result<Vec<Source>> {
    let mut out = Vec::new();
    let entries = sorted_dir(root)?;
    let label_dirs: Vec<&PathBuf> = entries
        .iter()
        .filter(|p| {
            p.is_dir()
                && sorted_dir(p)
                    .map(|f| f.iter().any(|x| is_capture(x)))
                    .unwrap_or(false)
        })
        .collect();
    if label_dirs.is_empty() {
        walk(root, &mut |p| {
            out.push(Source {
                path: p.to_path_buf(),
                label: None,
            })
        })?;
    } else {
        for dir in label_dirs {
            let label = dir.file_name().map(|n| n.to_string_lossy().into_owned());
            for f in sorted_dir(dir)? {
                if f.is_file() && is_capture(&f) {
                    out.push(Source {
                        path: f,
                        label: label.clone(),
                    });
                }
            }
        }
    }
    if out.is_empty() {
        bail!("no pcap/pcapng files under {}", root.display());
    }
    Ok(out)
}

fn sorted_dir(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    v.sort();
    Ok(v)
}

fn walk(dir: &Path, f: &mut dyn FnMut(&Path)) -> anyhow::Result<()> {
    for p in sorted_dir(dir)? {
        if p.is_dir() {
            walk(&p, f)?;
        } else if is_capture(&p) {
            f(&p);
        }
    }
    Ok(())
}

/// (capture file name, protocol, canonical endpoints) of a labelled flow.
type LabelKey = (String, u8, (IpAddr, u16), (IpAddr, u16));

/// Per-flow labels from a table such as nDPI-tests' `flows.csv`.
#[derive(Debug, Default)]
pub struct LabelTable {
    /// (capture file name, protocol, canonical endpoints) -> label
    map: HashMap<LabelKey, String>,
}

impl LabelTable {
    pub fn read(path: &Path, label_column: &str) -> anyhow::Result<Self> {
        let text =
            fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
        let col = |name: &str| {
            header
                .iter()
                .position(|h| *h == name)
                .with_context(|| format!("{}: no column {name:?}", path.display()))
        };
        let (c_pcap, c_l4, c_ia, c_pa, c_ib, c_pb, c_label) = (
            col("pcap")?,
            col("l4")?,
            col("ip_a")?,
            col("port_a")?,
            col("ip_b")?,
            col("port_b")?,
            col(label_column)?,
        );
        let mut map = HashMap::new();
        for (n, line) in lines.enumerate() {
            let f: Vec<&str> = line.split(',').collect();
            let get = |i: usize| f.get(i).copied().unwrap_or("");
            let label = get(c_label).trim();
            if label.is_empty() {
                continue;
            }
            let proto = match get(c_l4) {
                "TCP" => 6,
                "UDP" => 17,
                other => match other.parse::<u8>() {
                    Ok(p) => p,
                    Err(_) => continue,
                },
            };
            let parse = |ip: &str, port: &str| -> Option<(IpAddr, u16)> {
                Some((ip.parse().ok()?, port.parse().ok()?))
            };
            let (Some(a), Some(b)) = (parse(get(c_ia), get(c_pa)), parse(get(c_ib), get(c_pb)))
            else {
                eprintln!(
                    "warning: {}:{}: unreadable endpoints, row ignored",
                    path.display(),
                    n + 2
                );
                continue;
            };
            let (a, b) = if a <= b { (a, b) } else { (b, a) };
            map.insert((get(c_pcap).to_string(), proto, a, b), label.to_string());
        }
        Ok(Self { map })
    }

    pub fn label(&self, file_name: &str, key: &flowlens_core::FlowKey) -> Option<&str> {
        let a = (key.src, key.sport);
        let b = (key.dst, key.dport);
        let (a, b) = if a <= b { (a, b) } else { (b, a) };
        self.map
            .get(&(file_name.to_string(), key.proto, a, b))
            .map(String::as_str)
    }
}

/// Every capture under the spec's roots, in order.
fn discover_all(spec: &BuildSpec) -> anyhow::Result<Vec<Source>> {
    let mut sources = Vec::new();
    for root in &spec.roots {
        sources.extend(discover(root)?);
    }
    Ok(sources)
}

/// sha256 over the captures' names and bytes, in order: names the data a
/// dataset (and every model trained on it) was built from.
pub fn data_hash(sources: &[Source]) -> anyhow::Result<String> {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    for s in sources {
        h.update(s.label.as_deref().unwrap_or("").as_bytes());
        h.update([0]);
        h.update(
            s.path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
                .as_bytes(),
        );
        h.update([0]);
        let mut f =
            fs::File::open(&s.path).with_context(|| format!("cannot open {}", s.path.display()))?;
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
    }
    Ok(hex::encode(h.finalize()))
}

/// How to build a dataset.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BuildSpec {
    /// Name used in reports (the first root's folder name by default).
    pub name: String,
    pub roots: Vec<PathBuf>,
    /// A per-flow label table and its label column.
    pub labels: Option<(PathBuf, String)>,
    pub repr: flowlens_core::repr::Representation,
    /// At most this many flows per class (the paper's 5,000).
    pub max_per_class: usize,
    /// Classes with fewer flows are left out (and reported).
    pub min_per_class: usize,
    pub seed: u64,
    pub split_by: SplitBy,
}

/// A built dataset: every array has one row per kept flow.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub spec: BuildSpec,
    pub classes: Vec<String>,
    /// `[N, P, B]` bytes under the spec's view.
    pub x: Vec<u8>,
    /// `[N, F]` key features (same view), named by `feature_names`.
    pub features: Vec<f32>,
    pub feature_names: Vec<String>,
    /// `[N]` class index.
    pub y: Vec<u32>,
    /// `[N]` side of the split.
    pub side: Vec<Side>,
    /// `[N]` index into `files`.
    pub capture: Vec<u32>,
    /// `[N, P, B]` the header field of every byte of `x`, as an index into
    /// [`Field::ALL`] (`Representation::field_ids` of the flow, before the
    /// view): what attention or attribution on a byte is attributed to.
    pub fields: Vec<u8>,
    pub files: Vec<String>,
    /// Classes left out for having fewer than `min_per_class` flows.
    pub left_out: Vec<(String, usize)>,
    /// Flows read but not labelled (label table mode).
    pub unlabelled: usize,
    /// sha256 of the input captures.
    pub data_hash: String,
}

/// One labelled flow before sampling.
struct Item {
    label: String,
    capture: u32,
    x: Vec<u8>,
    fields: Vec<u8>,
    features: Vec<f32>,
}

impl Dataset {
    pub fn n(&self) -> usize {
        self.y.len()
    }

    pub fn row_len(&self) -> usize {
        self.spec.repr.input_len()
    }

    pub fn n_features(&self) -> usize {
        self.feature_names.len()
    }

    /// Indices of the rows on one side, in dataset order.
    pub fn indices(&self, side: Side) -> Vec<usize> {
        (0..self.n()).filter(|&i| self.side[i] == side).collect()
    }

    /// The field of byte `b` of packet `p` of row `i`.
    pub fn field(&self, i: usize, p: usize, b: usize) -> flowlens_core::repr::Field {
        let [_, bb] = self.spec.repr.shape();
        let id = self.fields[i * self.row_len() + p * bb + b] as usize;
        flowlens_core::repr::Field::ALL
            .get(id)
            .copied()
            .unwrap_or(flowlens_core::repr::Field::Padding)
    }

    /// The same dataset with only rows `keep` (in that order).
    pub fn subset(&self, keep: &[usize]) -> Dataset {
        let row = self.row_len();
        let f = self.n_features();
        let mut ds = Dataset {
            x: Vec::with_capacity(keep.len() * row),
            fields: Vec::with_capacity(keep.len() * row),
            features: Vec::with_capacity(keep.len() * f),
            y: Vec::with_capacity(keep.len()),
            side: Vec::with_capacity(keep.len()),
            capture: Vec::with_capacity(keep.len()),
            ..self.clone_meta()
        };
        for &i in keep {
            ds.x.extend_from_slice(&self.x[i * row..(i + 1) * row]);
            ds.fields
                .extend_from_slice(&self.fields[i * row..(i + 1) * row]);
            ds.features
                .extend_from_slice(&self.features[i * f..(i + 1) * f]);
            ds.y.push(self.y[i]);
            ds.side.push(self.side[i]);
            ds.capture.push(self.capture[i]);
        }
        ds
    }

    /// Everything but the per-row arrays.
    fn clone_meta(&self) -> Dataset {
        Dataset {
            spec: self.spec.clone(),
            classes: self.classes.clone(),
            x: Vec::new(),
            features: Vec::new(),
            feature_names: self.feature_names.clone(),
            y: Vec::new(),
            side: Vec::new(),
            capture: Vec::new(),
            fields: Vec::new(),
            files: self.files.clone(),
            left_out: self.left_out.clone(),
            unlabelled: self.unlabelled,
            data_hash: self.data_hash.clone(),
        }
    }

    pub fn counts(&self) -> (usize, usize, usize) {
        let c = |s| self.side.iter().filter(|&&x| x == s).count();
        (c(Side::Train), c(Side::Val), c(Side::Test))
    }

    /// Read the captures, label, sample and split, without the cache
    /// (tests; the CLI goes through [`Dataset::build_cached`]).
    #[cfg(test)]
    pub fn build(spec: BuildSpec) -> anyhow::Result<Dataset> {
        let sources = discover_all(&spec)?;
        let hash = data_hash(&sources)?;
        Self::build_from(spec, &sources, hash)
    }

    /// Read the captures (already discovered and hashed), label, sample
    /// and split.
    fn build_from(
        spec: BuildSpec,
        sources: &[Source],
        data_hash: String,
    ) -> anyhow::Result<Dataset> {
        let table = match &spec.labels {
            Some((path, col)) => Some(LabelTable::read(path, col)?),
            None => None,
        };
        let cfg = spec.repr.flow_config();
        let mut items = Vec::new();
        let mut files = Vec::new();
        let mut unlabelled = 0;
        for (fi, src) in sources.iter().enumerate() {
            let bytes = fs::read(&src.path)
                .with_context(|| format!("cannot read {}", src.path.display()))?;
            let analysis = flowlens_core::Analyzer::analyze(&bytes, cfg);
            if let Some(e) = &analysis.error {
                eprintln!(
                    "warning: {}: {e} (flows before it kept)",
                    src.path.display()
                );
            }
            let file_name = src
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            files.push(src.path.display().to_string());
            for flow in &analysis.flows {
                let label = match (&src.label, &table) {
                    (_, Some(t)) => t.label(&file_name, &flow.key).map(str::to_string),
                    (Some(l), None) => Some(l.clone()),
                    (None, None) => None,
                };
                let Some(label) = label else {
                    unlabelled += 1;
                    continue;
                };
                items.push(Item {
                    label,
                    capture: fi as u32,
                    x: spec.repr.encode(flow),
                    fields: spec
                        .repr
                        .field_ids(flow)
                        .into_iter()
                        .map(|f| f as u8)
                        .collect(),
                    features: spec.repr.key_features(flow),
                });
            }
        }
        if table.is_none() && sources.iter().all(|s| s.label.is_none()) {
            bail!(
                "no label folders under {:?} and no --labels table",
                spec.roots
            );
        }
        Self::assemble(spec, items, files, unlabelled, data_hash)
    }

    fn assemble(
        spec: BuildSpec,
        items: Vec<Item>,
        files: Vec<String>,
        unlabelled: usize,
        data_hash: String,
    ) -> anyhow::Result<Dataset> {
        use rand::seq::SliceRandom;
        use rand::SeedableRng;

        let mut by_class: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, it) in items.iter().enumerate() {
            by_class.entry(it.label.clone()).or_default().push(i);
        }
        let mut left_out = Vec::new();
        let mut classes = Vec::new();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(spec.seed);
        // (item index, class, side)
        let mut chosen: Vec<(usize, u32, Side)> = Vec::new();
        for (label, mut idx) in by_class {
            if idx.len() < spec.min_per_class {
                left_out.push((label, idx.len()));
                continue;
            }
            let class = classes.len() as u32;
            classes.push(label.clone());
            idx.shuffle(&mut rng);
            idx.truncate(spec.max_per_class);
            match spec.split_by {
                SplitBy::Flow => {
                    let n = idx.len();
                    let n_test = (n as f64 * 0.1).round().max(1.0) as usize;
                    let n_val = (n as f64 * 0.1).round().max(1.0) as usize;
                    for (k, &i) in idx.iter().enumerate() {
                        let side = if k < n_test {
                            Side::Test
                        } else if k < n_test + n_val {
                            Side::Val
                        } else {
                            Side::Train
                        };
                        chosen.push((i, class, side));
                    }
                }
                SplitBy::Capture => {
                    let mut caps: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
                    for &i in &idx {
                        caps.entry(items[i].capture).or_default().push(i);
                    }
                    if caps.len() < 3 {
                        bail!(
                            "--split-by capture: class {label} has its flows in {} capture file(s); \
                             it needs at least 3 (train, validation, test)",
                            caps.len()
                        );
                    }
                    let mut caps: Vec<Vec<usize>> = caps.into_values().collect();
                    caps.shuffle(&mut rng);
                    let tenth = idx.len() as f64 * 0.1;
                    let last = caps.len() - 1;
                    let (mut test, mut val) = (0usize, 0usize);
                    for (k, group) in caps.into_iter().enumerate() {
                        // One capture each for test and validation, more
                        // until each holds ~10% of the flows; the rest,
                        // and always the last, for training.
                        let side = if k == 0 || (k < last && (test as f64) < tenth) {
                            test += group.len();
                            Side::Test
                        } else if k == 1 || (k < last && (val as f64) < tenth) {
                            val += group.len();
                            Side::Val
                        } else {
                            Side::Train
                        };
                        for i in group {
                            chosen.push((i, class, side));
                        }
                    }
                }
            }
        }
        if classes.len() < 2 {
            bail!(
                "fewer than two classes with at least {} flows (left out: {left_out:?})",
                spec.min_per_class
            );
        }
        // Dataset order: by capture, then by flow order, so that it does not
        // depend on the hash map or on the sampling order.
        chosen.sort_by_key(|&(i, _, _)| i);
        let row = spec.repr.input_len();
        let feature_names = spec.repr.key_feature_names();
        let mut ds = Dataset {
            classes,
            x: Vec::with_capacity(chosen.len() * row),
            features: Vec::with_capacity(chosen.len() * feature_names.len()),
            feature_names,
            y: Vec::with_capacity(chosen.len()),
            side: Vec::with_capacity(chosen.len()),
            capture: Vec::with_capacity(chosen.len()),
            fields: Vec::with_capacity(chosen.len() * row),
            files,
            left_out,
            unlabelled,
            data_hash,
            spec,
        };
        for (i, class, side) in chosen {
            let it = &items[i];
            ds.x.extend_from_slice(&it.x);
            ds.features.extend_from_slice(&it.features);
            ds.y.push(class);
            ds.side.push(side);
            ds.capture.push(it.capture);
            ds.fields.extend_from_slice(&it.fields);
        }
        Ok(ds)
    }
}

/// Version of the cached dataset file layout.
pub const DATASET_FORMAT: u32 = 2;

/// Hash of `crates/flowlens-core`'s sources at build time (`trainer/build.rs`).
pub const CORE_FINGERPRINT: &str = env!("FLOWLENS_CORE_FINGERPRINT");

#[derive(Serialize, Deserialize)]
struct CacheMeta {
    format: u32,
    spec: BuildSpec,
    classes: Vec<String>,
    feature_names: Vec<String>,
    files: Vec<String>,
    left_out: Vec<(String, usize)>,
    unlabelled: usize,
    data_hash: String,
}

impl Dataset {
    /// The cache file for a spec over some data: the key covers the data's
    /// hash, the whole spec, the file layout and the core crate's sources
    /// ([`CORE_FINGERPRINT`]), so a change to capture parsing, flows or the
    /// representation never reuses a dataset built by older code.
    pub fn cache_key(spec: &BuildSpec, data_hash: &str) -> anyhow::Result<String> {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(data_hash.as_bytes());
        h.update(serde_json::to_vec(spec)?);
        h.update(DATASET_FORMAT.to_le_bytes());
        h.update(CORE_FINGERPRINT.as_bytes());
        Ok(hex::encode(h.finalize())[..16].to_string())
    }

    /// Build, or load from `cache_dir` when the same spec over the same
    /// bytes was built before.
    pub fn build_cached(spec: BuildSpec, cache_dir: &Path) -> anyhow::Result<(Dataset, PathBuf)> {
        let sources = discover_all(&spec)?;
        let hash = data_hash(&sources)?;
        let key = Self::cache_key(&spec, &hash)?;
        let path = cache_dir.join(format!(
            "dataset-{}-{key}.safetensors",
            sanitize(&spec.name)
        ));
        if path.exists() {
            match Self::load(&path) {
                Ok(ds) => return Ok((ds, path)),
                Err(e) => eprintln!("warning: ignoring cache {}: {e:#}", path.display()),
            }
        }
        let ds = Self::build_from(spec, &sources, hash)?;
        fs::create_dir_all(cache_dir)?;
        ds.save(&path)?;
        Ok((ds, path))
    }

    /// Write as safetensors: `x` u8 `[N, P, B]`, `features` f32 `[N, F]`,
    /// `y` u32 `[N]`, `side` u8 `[N]` (0 train, 1 val, 2 test), `capture`
    /// u32 `[N]`, `fields` u8 `[N, P, B]` (indices into `Field::ALL`);
    /// everything else as JSON in the metadata key `flowlens`.
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        use safetensors::tensor::{Dtype, TensorView};
        let n = self.n();
        let [p, b] = self.spec.repr.shape();
        let f32s: Vec<u8> = self.features.iter().flat_map(|v| v.to_le_bytes()).collect();
        let y: Vec<u8> = self.y.iter().flat_map(|v| v.to_le_bytes()).collect();
        let side: Vec<u8> = self.side.iter().map(|s| *s as u8).collect();
        let cap: Vec<u8> = self.capture.iter().flat_map(|v| v.to_le_bytes()).collect();
        let tensors = vec![
            ("x", TensorView::new(Dtype::U8, vec![n, p, b], &self.x)?),
            (
                "features",
                TensorView::new(Dtype::F32, vec![n, self.n_features()], &f32s)?,
            ),
            ("y", TensorView::new(Dtype::U32, vec![n], &y)?),
            ("side", TensorView::new(Dtype::U8, vec![n], &side)?),
            ("capture", TensorView::new(Dtype::U32, vec![n], &cap)?),
            (
                "fields",
                TensorView::new(Dtype::U8, vec![n, p, b], &self.fields)?,
            ),
        ];
        let meta = CacheMeta {
            format: DATASET_FORMAT,
            spec: self.spec.clone(),
            classes: self.classes.clone(),
            feature_names: self.feature_names.clone(),
            files: self.files.clone(),
            left_out: self.left_out.clone(),
            unlabelled: self.unlabelled,
            data_hash: self.data_hash.clone(),
        };
        let info = HashMap::from([("flowlens".to_string(), serde_json::to_string(&meta)?)]);
        let bytes = safetensors::serialize(tensors, Some(info))?;
        fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(())
    }

    pub fn load(path: &Path) -> anyhow::Result<Dataset> {
        let bytes = fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let (_, md) = safetensors::SafeTensors::read_metadata(&bytes)?;
        let meta: CacheMeta = serde_json::from_str(
            md.metadata()
                .as_ref()
                .and_then(|m| m.get("flowlens"))
                .context("not a flowlens dataset")?,
        )?;
        if meta.format != DATASET_FORMAT {
            bail!(
                "dataset format {} (this build reads {DATASET_FORMAT})",
                meta.format
            );
        }
        let st = safetensors::SafeTensors::deserialize(&bytes)?;
        let raw = |name: &str| -> anyhow::Result<Vec<u8>> { Ok(st.tensor(name)?.data().to_vec()) };
        let u32s = |v: Vec<u8>| {
            v.chunks_exact(4)
                .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect::<Vec<_>>()
        };
        let features = raw("features")?
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let side = raw("side")?
            .into_iter()
            .map(|s| match s {
                0 => Ok(Side::Train),
                1 => Ok(Side::Val),
                2 => Ok(Side::Test),
                other => Err(anyhow::anyhow!("bad side {other}")),
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let ds = Dataset {
            x: raw("x")?,
            features,
            y: u32s(raw("y")?),
            side,
            capture: u32s(raw("capture")?),
            fields: raw("fields")?,
            spec: meta.spec,
            classes: meta.classes,
            feature_names: meta.feature_names,
            files: meta.files,
            left_out: meta.left_out,
            unlabelled: meta.unlabelled,
            data_hash: meta.data_hash,
        };
        let n = ds.y.len();
        if ds.x.len() != n * ds.row_len()
            || ds.features.len() != n * ds.n_features()
            || ds.side.len() != n
            || ds.fields.len() != ds.x.len()
        {
            bail!("{}: arrays of different lengths", path.display());
        }
        Ok(ds)
    }
}

fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}
