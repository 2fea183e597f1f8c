//! k nearest neighbours (k = 3 in the paper) over z-scored features: the
//! export format, loading and prediction.
//!
//! # Model
//!
//! Features are standardised with the training set's per-feature mean and
//! (population) standard deviation, both stored in the model:
//! `z = (x - mean) / std`, with `std = 1` for a feature that is constant in
//! training. Distances are Euclidean in that z space. The reference rows are
//! stored already standardised (by [`KnnModel::from_raw`], the same code that
//! standardises queries, so training and inference agree bit for bit).
//!
//! Query rows: a feature that is absent (row too short) or NaN counts as the
//! training mean (`z = 0`); features beyond the model's are ignored. Callers
//! that want to reject such rows compare `x.len()` with
//! [`KnnModel::n_features`].
//!
//! # Search
//!
//! Exhaustive: every reference row is compared with the query, keeping the k
//! best in a small sorted buffer. For the intended size (~40k rows x ~12
//! features, ~0.5M multiply-adds a query; measured 0.22 ms a query natively,
//! optimised) this is exact, deterministic (ties go to the lower row index),
//! allocation free apart from the result, and needs no crate that must also
//! build for wasm32. A k-d tree (`kiddo`) would add little at 12 dimensions, where its
//! pruning is weak for 40k points, and would bring its own float-ordering and
//! tie rules.
//!
//! # Export format: the safetensors layout
//!
//! `[u64 little-endian n][n bytes of JSON header, space-padded][data]`, as in
//! <https://github.com/huggingface/safetensors> (readable by its tools):
//!
//! | tensor      | dtype | shape  | content                          |
//! |-------------|-------|--------|----------------------------------|
//! | `mean`      | F32   | [d]    | training mean per feature        |
//! | `std`       | F32   | [d]    | training std per feature (> 0)   |
//! | `reference` | F32   | [n, d] | standardised reference rows      |
//! | `labels`    | U32   | [n]    | class index of each row          |
//!
//! `__metadata__` (string values, as the format requires): `format` =
//! `"flowlens-knn"`, `version` = `"1"`, `k`, and `features` / `classes` as
//! JSON arrays of names. Data is little-endian; offsets are relative to the
//! end of the header. (The reader is written here rather than taken from the
//! `safetensors` crate so that this module adds no dependency; the layout is
//! the same.)

use serde::{Deserialize, Serialize};

/// The `format` metadata value of a k-NN export.
pub const FORMAT: &str = "flowlens-knn";
/// The export version this build writes and reads.
pub const VERSION: u32 = 1;

/// Largest header accepted (the safetensors limit).
const MAX_HEADER_BYTES: usize = 100_000_000;

/// One reference row near a query.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Neighbour {
    /// Row index in the reference set.
    pub index: usize,
    /// Euclidean distance in standardised (z) space.
    pub distance: f32,
    /// The row's class index.
    pub label: usize,
}

/// Why a k-NN model could not be built or loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KnnError {
    /// Fewer bytes than the layout needs.
    #[error("k-NN model is truncated: {what} needs {needed} bytes, {available} available")]
    Truncated {
        /// What was being read.
        what: &'static str,
        /// Bytes needed.
        needed: u64,
        /// Bytes there.
        available: usize,
    },
    /// The header is not the expected JSON.
    #[error("k-NN model header is not valid: {0}")]
    Header(#[from] serde_json::Error),
    /// The `format` metadata names something else.
    #[error("not a flowlens k-NN model: format is {found:?}, expected {FORMAT:?}")]
    Format {
        /// The format found.
        found: String,
    },
    /// A version this build does not read.
    #[error("k-NN model version {found:?} is not supported (this build reads version {VERSION})")]
    Version {
        /// The version found.
        found: String,
    },
    /// A tensor with the wrong dtype, shape or byte range.
    #[error("k-NN model tensor {tensor:?}: {problem}")]
    Tensor {
        /// Tensor name.
        tensor: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// Parts that do not agree, or invalid values.
    #[error("k-NN model is inconsistent: {0}")]
    Invalid(String),
}

/// A loaded, validated k-NN model.
#[derive(Debug, Clone, PartialEq)]
pub struct KnnModel {
    k: usize,
    features: Vec<String>,
    classes: Vec<String>,
    mean: Vec<f32>,
    std: Vec<f32>,
    /// `[n, d]` row-major, standardised.
    reference: Vec<f32>,
    labels: Vec<u32>,
}

impl KnnModel {
    /// Builds a model from raw (not standardised) reference rows
    /// `raw: [n, d]` row-major, standardising them with `mean` and `std`
    /// exactly as queries are.
    ///
    /// # Errors
    /// [`KnnError::Invalid`] if the parts disagree in size, `k` is 0, there
    /// are no rows or classes, a label is not a class index, a std is not
    /// finite and positive, or a value is not finite.
    pub fn from_raw(
        k: usize,
        features: Vec<String>,
        classes: Vec<String>,
        mean: Vec<f32>,
        std: Vec<f32>,
        raw: &[f32],
        labels: Vec<u32>,
    ) -> Result<Self, KnnError> {
        let d = features.len();
        if mean.len() != d || std.len() != d {
            return Err(KnnError::Invalid(format!(
                "{d} features but {} means and {} stds",
                mean.len(),
                std.len()
            )));
        }
        if raw.len() != labels.len().saturating_mul(d) {
            return Err(KnnError::Invalid(format!(
                "{} values for {} rows of {d} features",
                raw.len(),
                labels.len()
            )));
        }
        let mut reference = Vec::with_capacity(raw.len());
        if d > 0 {
            for row in raw.chunks_exact(d) {
                reference.extend(
                    row.iter()
                        .zip(&mean)
                        .zip(&std)
                        .map(|((x, m), s)| (x - m) / s),
                );
            }
        }
        Self::new(k, features, classes, mean, std, reference, labels)
    }

    /// Builds a model from already standardised reference rows; validates as
    /// [`KnnModel::from_raw`] does.
    ///
    /// # Errors
    /// As [`KnnModel::from_raw`].
    pub fn new(
        k: usize,
        features: Vec<String>,
        classes: Vec<String>,
        mean: Vec<f32>,
        std: Vec<f32>,
        reference: Vec<f32>,
        labels: Vec<u32>,
    ) -> Result<Self, KnnError> {
        let d = features.len();
        let invalid = |msg: String| Err(KnnError::Invalid(msg));
        if k == 0 {
            return invalid("k is 0".into());
        }
        if classes.is_empty() {
            return invalid("no classes".into());
        }
        if labels.is_empty() {
            return invalid("no reference rows".into());
        }
        if mean.len() != d || std.len() != d {
            return invalid(format!(
                "{d} features but {} means and {} stds",
                mean.len(),
                std.len()
            ));
        }
        if reference.len() != labels.len().saturating_mul(d) {
            return invalid(format!(
                "{} reference values for {} rows of {d} features",
                reference.len(),
                labels.len()
            ));
        }
        if let Some(i) = std.iter().position(|s| !(s.is_finite() && *s > 0.0)) {
            return invalid(format!("std of feature {i} is {}, not > 0", std[i]));
        }
        if let Some(i) = mean.iter().position(|m| !m.is_finite()) {
            return invalid(format!("mean of feature {i} is {}", mean[i]));
        }
        if let Some(i) = reference.iter().position(|v| !v.is_finite()) {
            return invalid(format!(
                "reference row {} feature {} is {}",
                i / d.max(1),
                i % d.max(1),
                reference[i]
            ));
        }
        if let Some(i) = labels.iter().position(|&l| l as usize >= classes.len()) {
            return invalid(format!(
                "label of row {i} is {}, but there are {} classes",
                labels[i],
                classes.len()
            ));
        }
        Ok(KnnModel {
            k,
            features,
            classes,
            mean,
            std,
            reference,
            labels,
        })
    }

    /// The `k` that [`KnnModel::predict`] uses.
    pub fn k(&self) -> usize {
        self.k
    }

    /// Feature names, in row order.
    pub fn features(&self) -> &[String] {
        &self.features
    }

    /// Number of features a query should have.
    pub fn n_features(&self) -> usize {
        self.features.len()
    }

    /// Class names.
    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    /// Training mean per feature.
    pub fn mean(&self) -> &[f32] {
        &self.mean
    }

    /// Training standard deviation per feature (1 for constant features).
    pub fn std(&self) -> &[f32] {
        &self.std
    }

    /// Number of reference rows.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Always false: a model has at least one reference row.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Reference row `index`, standardised, or `None` past the end.
    pub fn reference_row(&self, index: usize) -> Option<&[f32]> {
        let d = self.n_features();
        self.reference.get(index * d..(index + 1) * d)
    }

    /// Class index of reference row `index`, or `None` past the end.
    pub fn label(&self, index: usize) -> Option<usize> {
        self.labels.get(index).map(|&l| l as usize)
    }

    /// The query's z-scores; absent or NaN features give 0 (the mean).
    pub fn standardise(&self, x: &[f32]) -> Vec<f32> {
        (0..self.n_features())
            .map(|j| match x.get(j) {
                Some(v) if !v.is_nan() => (v - self.mean[j]) / self.std[j],
                _ => 0.0,
            })
            .collect()
    }

    /// The `k` nearest reference rows, nearest first; equal distances in row
    /// order. Fewer than `k` when the reference set is smaller.
    pub fn neighbours(&self, x: &[f32], k: usize) -> Vec<Neighbour> {
        let z = self.standardise(x);
        let d = z.len();
        let k = k.min(self.len());
        // (squared distance, row), ascending; rows arrive in increasing order,
        // so a row only displaces strictly farther ones.
        let mut best: Vec<(f32, usize)> = Vec::with_capacity(k + 1);
        if k == 0 {
            return Vec::new();
        }
        for row in 0..self.len() {
            let r = &self.reference[row * d..(row + 1) * d];
            let d2: f32 = r.iter().zip(&z).map(|(a, b)| (a - b) * (a - b)).sum();
            let full = best.len() == k;
            if full && best[k - 1].0.total_cmp(&d2).is_le() {
                continue;
            }
            let at = best.partition_point(|(e, _)| e.total_cmp(&d2).is_le());
            best.insert(at, (d2, row));
            best.truncate(k);
        }
        best.into_iter()
            .map(|(d2, index)| Neighbour {
                index,
                distance: d2.sqrt(),
                label: self.labels[index] as usize,
            })
            .collect()
    }

    /// Majority vote of the [`KnnModel::k`] nearest rows; a tie goes to the
    /// tied class whose member is nearest. Probabilities are votes / k (k
    /// capped at the reference size), one per class.
    pub fn predict(&self, x: &[f32]) -> (usize, Vec<f32>) {
        let near = self.neighbours(x, self.k);
        let mut votes = vec![0usize; self.classes.len()];
        for n in &near {
            votes[n.label] += 1;
        }
        let most = votes.iter().copied().max().unwrap_or(0);
        let class = near
            .iter()
            .map(|n| n.label)
            .find(|&l| votes[l] == most)
            .unwrap_or(0);
        let total = near.len().max(1) as f32;
        (class, votes.iter().map(|&v| v as f32 / total).collect())
    }

    /// The model in the export format (see the module docs).
    pub fn to_bytes(&self) -> Vec<u8> {
        let d = self.n_features();
        let n = self.len();
        let sizes = [4 * d, 4 * d, 4 * n * d, 4 * n];
        let mut offsets = [0usize; 5];
        for (i, s) in sizes.iter().enumerate() {
            offsets[i + 1] = offsets[i] + s;
        }
        let tensor = |dtype: &str, shape: Vec<usize>, i: usize| serde_json::json!({"dtype": dtype, "shape": shape, "data_offsets": [offsets[i], offsets[i + 1]]});
        let header = serde_json::json!({
            "__metadata__": {
                "format": FORMAT,
                "version": VERSION.to_string(),
                "k": self.k.to_string(),
                "features": serde_json::Value::from(self.features.clone()).to_string(),
                "classes": serde_json::Value::from(self.classes.clone()).to_string(),
            },
            "mean": tensor("F32", vec![d], 0),
            "std": tensor("F32", vec![d], 1),
            "reference": tensor("F32", vec![n, d], 2),
            "labels": tensor("U32", vec![n], 3),
        });
        let mut header = header.to_string().into_bytes();
        // Space-pad so that the data starts 8-byte aligned.
        header.resize(header.len().div_ceil(8) * 8, b' ');
        let mut out = Vec::with_capacity(8 + header.len() + offsets[4]);
        out.extend_from_slice(&(header.len() as u64).to_le_bytes());
        out.extend_from_slice(&header);
        for v in self.mean.iter().chain(&self.std).chain(&self.reference) {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for l in &self.labels {
            out.extend_from_slice(&l.to_le_bytes());
        }
        out
    }

    /// Loads an export (see the module docs), validating every part.
    ///
    /// # Errors
    /// [`KnnError::Truncated`], [`KnnError::Header`], [`KnnError::Format`],
    /// [`KnnError::Version`], [`KnnError::Tensor`] for layout problems; as
    /// [`KnnModel::new`] for the content.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KnnError> {
        let len_bytes: [u8; 8] =
            bytes
                .get(..8)
                .and_then(|b| b.try_into().ok())
                .ok_or(KnnError::Truncated {
                    what: "the header length",
                    needed: 8,
                    available: bytes.len(),
                })?;
        let header_len = u64::from_le_bytes(len_bytes);
        let rest = &bytes[8..];
        if header_len > MAX_HEADER_BYTES as u64 || header_len > rest.len() as u64 {
            return Err(KnnError::Truncated {
                what: "the header",
                needed: header_len,
                available: rest.len(),
            });
        }
        let (header, data) = rest.split_at(header_len as usize);
        let header: Header = serde_json::from_slice(header)?;
        let meta = &header.metadata;
        if meta.format != FORMAT {
            return Err(KnnError::Format {
                found: meta.format.clone(),
            });
        }
        if meta.version != VERSION.to_string() {
            return Err(KnnError::Version {
                found: meta.version.clone(),
            });
        }
        let k: usize = meta
            .k
            .parse()
            .map_err(|_| KnnError::Invalid(format!("k is {:?}, not a count", meta.k)))?;
        let features: Vec<String> = serde_json::from_str(&meta.features)?;
        let classes: Vec<String> = serde_json::from_str(&meta.classes)?;
        let d = features.len();
        let n = header.labels.shape.first().copied().unwrap_or(0);
        let mean = header.mean.f32s("mean", &[d], data)?;
        let std = header.std.f32s("std", &[d], data)?;
        let reference = header.reference.f32s("reference", &[n, d], data)?;
        let labels = header.labels.u32s("labels", &[n], data)?;
        Self::new(k, features, classes, mean, std, reference, labels)
    }
}

#[derive(Deserialize)]
struct Header {
    #[serde(rename = "__metadata__")]
    metadata: Metadata,
    mean: TensorInfo,
    std: TensorInfo,
    reference: TensorInfo,
    labels: TensorInfo,
}

#[derive(Deserialize)]
struct Metadata {
    format: String,
    version: String,
    k: String,
    features: String,
    classes: String,
}

#[derive(Deserialize)]
struct TensorInfo {
    dtype: String,
    shape: Vec<usize>,
    data_offsets: [usize; 2],
}

impl TensorInfo {
    /// The tensor's bytes, after checking dtype, shape and range.
    fn bytes<'a>(
        &self,
        name: &'static str,
        dtype: &str,
        shape: &[usize],
        data: &'a [u8],
    ) -> Result<&'a [u8], KnnError> {
        let problem = |problem: String| KnnError::Tensor {
            tensor: name,
            problem,
        };
        if self.dtype != dtype {
            return Err(problem(format!("dtype {}, expected {dtype}", self.dtype)));
        }
        if self.shape != shape {
            return Err(problem(format!(
                "shape {:?}, expected {shape:?}",
                self.shape
            )));
        }
        let [start, end] = self.data_offsets;
        let expected = shape
            .iter()
            .try_fold(4usize, |acc, &s| acc.checked_mul(s))
            .ok_or_else(|| problem("size overflows".into()))?;
        if end < start || end - start != expected {
            return Err(problem(format!(
                "byte range {start}..{end} does not hold {expected} bytes"
            )));
        }
        data.get(start..end).ok_or(KnnError::Truncated {
            what: name,
            needed: end as u64,
            available: data.len(),
        })
    }

    fn f32s(&self, name: &'static str, shape: &[usize], data: &[u8]) -> Result<Vec<f32>, KnnError> {
        let bytes = self.bytes(name, "F32", shape, data)?;
        Ok(bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }

    fn u32s(&self, name: &'static str, shape: &[usize], data: &[u8]) -> Result<Vec<u32>, KnnError> {
        let bytes = self.bytes(name, "U32", shape, data)?;
        Ok(bytes
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(prefix: &str, n: usize) -> Vec<String> {
        (0..n).map(|i| format!("{prefix}{i}")).collect()
    }

    /// Five points on a plane, mean 0 and std 1 so z = x:
    /// class 0 near the origin, class 1 at (3, 4)-ish.
    fn plane() -> KnnModel {
        #[rustfmt::skip]
        let raw = [
            0.0, 0.0,   // 0: a
            1.0, 0.0,   // 1: a
            0.0, 2.0,   // 2: b
            3.0, 4.0,   // 3: b
            -1.0, 0.0,  // 4: a
        ];
        KnnModel::from_raw(
            3,
            names("f", 2),
            vec!["a".into(), "b".into()],
            vec![0.0, 0.0],
            vec![1.0, 1.0],
            &raw,
            vec![0, 0, 1, 1, 0],
        )
        .expect("valid")
    }

    #[test]
    fn neighbours_are_nearest_first_with_distances() {
        let m = plane();
        let near = m.neighbours(&[0.0, 0.0], 3);
        // Rows 1 and 4 are both at 1: the lower index first.
        assert_eq!(
            near,
            vec![
                Neighbour {
                    index: 0,
                    distance: 0.0,
                    label: 0
                },
                Neighbour {
                    index: 1,
                    distance: 1.0,
                    label: 0
                },
                Neighbour {
                    index: 4,
                    distance: 1.0,
                    label: 0
                },
            ]
        );
        let near = m.neighbours(&[3.0, 0.0], 2);
        assert_eq!(near[0].index, 1);
        assert_eq!(near[0].distance, 2.0);
        assert_eq!(near[1].index, 0);
        assert_eq!(near[1].distance, 3.0);
        // (3, 4) from (0, 0) is 5 away; all rows when k is larger than n.
        let all = m.neighbours(&[0.0, 0.0], 10);
        assert_eq!(all.len(), 5);
        assert_eq!((all[4].index, all[4].distance), (3, 5.0));
        assert!(m.neighbours(&[0.0, 0.0], 0).is_empty());
    }

    #[test]
    fn predict_votes_and_breaks_ties_by_nearest() {
        let m = plane();
        assert_eq!(m.predict(&[0.0, 0.0]), (0, vec![1.0, 0.0]));
        // Near (2, 3): rows 3 (b, 1.41), 2 (b, 2.24), 1 (a, 3.16).
        let (class, probs) = m.predict(&[2.0, 3.0]);
        assert_eq!(class, 1);
        assert!((probs[0] - 1.0 / 3.0).abs() < 1e-6 && (probs[1] - 2.0 / 3.0).abs() < 1e-6);
        // Two neighbours, one vote each: the nearest (row 2, b) wins.
        let two = KnnModel::new(
            2,
            names("f", 2),
            vec!["a".into(), "b".into()],
            vec![0.0; 2],
            vec![1.0; 2],
            vec![0.0, 0.0, 0.0, 2.0],
            vec![0, 1],
        )
        .expect("valid");
        assert_eq!(two.predict(&[0.0, 1.5]), (1, vec![0.5, 0.5]));
        assert_eq!(two.predict(&[0.0, 0.5]), (0, vec![0.5, 0.5]));
    }

    #[test]
    fn queries_are_standardised_and_missing_is_the_mean() {
        let m = KnnModel::from_raw(
            1,
            names("f", 2),
            vec!["a".into()],
            vec![10.0, 100.0],
            vec![2.0, 50.0],
            &[12.0, 200.0],
            vec![0],
        )
        .expect("valid");
        assert_eq!(m.reference_row(0), Some(&[1.0f32, 2.0][..]));
        assert_eq!(m.standardise(&[14.0, 0.0]), vec![2.0, -2.0]);
        assert_eq!(m.standardise(&[f32::NAN]), vec![0.0, 0.0]);
        // z = (0, 0) vs (1, 2): sqrt(5).
        assert_eq!(m.neighbours(&[], 1)[0].distance, 5.0f32.sqrt());
    }

    #[test]
    fn bytes_round_trip() {
        let m = plane();
        let bytes = m.to_bytes();
        let header_len = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")) as usize;
        assert_eq!(header_len % 8, 0);
        // Header, then 2 + 2 + 10 floats and 5 labels.
        assert_eq!(bytes.len(), 8 + header_len + 4 * (2 + 2 + 10 + 5));
        let back = KnnModel::from_bytes(&bytes).expect("loads");
        assert_eq!(back, m);
    }

    #[test]
    fn bad_bytes_are_typed_errors() {
        let bytes = plane().to_bytes();
        assert!(matches!(
            KnnModel::from_bytes(&bytes[..4]),
            Err(KnnError::Truncated { .. })
        ));
        assert!(matches!(
            KnnModel::from_bytes(&bytes[..bytes.len() - 4]),
            Err(KnnError::Truncated { .. })
        ));
        let mut huge = bytes.clone();
        huge[..8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(matches!(
            KnnModel::from_bytes(&huge),
            Err(KnnError::Truncated { .. })
        ));
        let header_len = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")) as usize;
        let header = String::from_utf8(bytes[8..8 + header_len].to_vec()).expect("utf-8");
        let with_header = |h: String| {
            let mut out = (h.len() as u64).to_le_bytes().to_vec();
            out.extend_from_slice(h.as_bytes());
            out.extend_from_slice(&bytes[8 + header_len..]);
            KnnModel::from_bytes(&out)
        };
        assert!(matches!(with_header("{".into()), Err(KnnError::Header(_))));
        assert!(matches!(
            with_header(header.replace("flowlens-knn", "other")),
            Err(KnnError::Format { .. })
        ));
        assert!(matches!(
            with_header(header.replace(r#""version":"1""#, r#""version":"9""#)),
            Err(KnnError::Version { .. })
        ));
        assert!(matches!(
            with_header(header.replace(r#""dtype":"U32""#, r#""dtype":"I64""#)),
            Err(KnnError::Tensor {
                tensor: "labels",
                ..
            })
        ));
        // A label that is no class.
        let mut bad_label = bytes.clone();
        let last = bad_label.len() - 4;
        bad_label[last..].copy_from_slice(&7u32.to_le_bytes());
        assert!(matches!(
            KnnModel::from_bytes(&bad_label),
            Err(KnnError::Invalid(_))
        ));
    }

    #[test]
    fn construction_checks_parts() {
        let ok = |k, std: Vec<f32>, labels: Vec<u32>| {
            KnnModel::new(
                k,
                names("f", 1),
                vec!["a".into()],
                vec![0.0],
                std,
                vec![0.0; labels.len()],
                labels,
            )
        };
        assert!(ok(3, vec![1.0], vec![0]).is_ok());
        assert!(ok(0, vec![1.0], vec![0]).is_err());
        assert!(ok(3, vec![0.0], vec![0]).is_err());
        assert!(ok(3, vec![1.0], vec![]).is_err());
        assert!(ok(3, vec![1.0], vec![1]).is_err());
    }
}
