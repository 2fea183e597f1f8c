//! C4.5 decision trees as Weka's J48 builds them: the export format, loading,
//! prediction, decision paths and Weka's text form.
//!
//! The trainer fits the tree (`trainer/src/baselines/c45_fit.rs`) and writes a
//! [`C45Document`] as JSON; [`C45Model::from_json`] validates it completely, so
//! that nothing after loading can index out of bounds.
//!
//! # Export format (`"format": "flowlens-c45"`, `"version": 1`)
//!
//! ```json
//! {
//!   "format": "flowlens-c45",
//!   "version": 1,
//!   "features": [{"name": "outlook", "values": ["sunny", "overcast", "rainy"]},
//!                {"name": "humidity"}],
//!   "classes": ["yes", "no"],
//!   "pruned": true,
//!   "nodes": [
//!     {"kind": "nominal", "feature": 0, "children": [1, 4, 5]},
//!     {"kind": "numeric", "feature": 1, "threshold": 75.0, "children": [2, 3]},
//!     {"kind": "leaf", "counts": [2.0, 0.0]},
//!     ...
//!   ]
//! }
//! ```
//!
//! - `features`: the model's inputs in order; `values` present = nominal
//!   (the input carries the value's index as an `f32`), absent = numeric.
//! - `nodes`: a flat list, root first. A child's index is always greater than
//!   its parent's and every node but the root is some node's child exactly
//!   once, so the list is a tree (checked at load).
//! - `numeric`: `children[0]` for `x[feature] <= threshold`, `children[1]`
//!   for `>`. The threshold is a value seen in training (as in C4.5).
//! - `nominal`: one child per value of the feature, in value order.
//! - `leaf`: `counts[c]` = training rows of class `c` that reached the leaf.
//!
//! # Prediction, as Weka's `ClassifierTree.distributionForInstance`
//!
//! - The probabilities are the leaf's class counts divided by their sum.
//!   A leaf that no training row reached predicts its parent's distribution.
//! - A numeric test sends `x` left when `x - threshold < 1e-6` (Weka's
//!   `Utils.smOrEq`), so a value within 1e-6 above the threshold goes left.
//!   Both numbers are taken as [`decimal_f64`] of the `f32`: Weka compares the
//!   doubles of the data's decimal text, and `f32` rounding (4e-6 at 70) would
//!   otherwise move values across its 1e-6 tolerance.
//! - Missing values: an input row shorter than the model's features, a NaN,
//!   or a nominal code that is not an integer index of a value is "missing".
//!   As in Weka, the row is then sent down every branch of that test, weighted
//!   by the fraction of training rows that went each way, and the leaves'
//!   distributions are mixed with those weights. The decision path stops at
//!   such a test ([`Went::Missing`]).
//! - Deviation from Weka: a leaf that training rows reached but that subtree
//!   raising emptied predicts all-zero probabilities (class 0) in Weka; here it
//!   predicts its parent's distribution, like any other empty leaf.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{argmax_first, gr, SMALL};

/// The `format` field of a C4.5 export.
pub const FORMAT: &str = "flowlens-c45";
/// The export version this build writes and reads.
pub const VERSION: u32 = 1;

/// The exported C4.5 model, as written to JSON. See the module docs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct C45Document {
    /// Always [`FORMAT`].
    pub format: String,
    /// Always [`VERSION`] when written by this build.
    pub version: u32,
    /// The model's inputs, in the order of the input row.
    pub features: Vec<Feature>,
    /// Class names; a class index is an index into this list.
    pub classes: Vec<String>,
    /// Whether the tree was pruned (only changes the text form's title).
    pub pruned: bool,
    /// The tree, root first.
    pub nodes: Vec<Node>,
}

/// One input of the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Feature {
    /// Shown in the text form and in decision paths.
    pub name: String,
    /// Nominal feature: the names of its values, the input being the value's
    /// index. `None`: a numeric feature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<String>>,
}

impl Feature {
    /// A numeric feature.
    pub fn numeric(name: impl Into<String>) -> Self {
        Feature {
            name: name.into(),
            values: None,
        }
    }

    /// A nominal feature whose input is an index into `values`.
    pub fn nominal(name: impl Into<String>, values: Vec<String>) -> Self {
        Feature {
            name: name.into(),
            values: Some(values),
        }
    }
}

/// One node of the tree; see the module docs for the meaning of each field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Node {
    /// A leaf with the class counts of the training rows that reached it.
    Leaf {
        /// `counts[c]`: rows of class `c`; one entry per class.
        counts: Vec<f64>,
    },
    /// `x[feature] <= threshold` goes to `children[0]`, `>` to `children[1]`.
    Numeric {
        /// Index into the input row.
        feature: usize,
        /// A training value of the feature.
        threshold: f32,
        /// `[<=, >]`, node indices.
        children: [usize; 2],
    },
    /// One child per value of a nominal feature.
    Nominal {
        /// Index into the input row.
        feature: usize,
        /// Node index per value, in value order.
        children: Vec<usize>,
    },
}

/// Why a C4.5 export could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum C45Error {
    /// Not JSON, or not the shape of a [`C45Document`].
    #[error("C4.5 model is not valid JSON of the expected shape: {0}")]
    Json(#[from] serde_json::Error),
    /// The `format` field names something else.
    #[error("not a flowlens C4.5 model: format is {found:?}, expected {FORMAT:?}")]
    Format {
        /// The `format` field found.
        found: String,
    },
    /// A version this build does not read.
    #[error("C4.5 model version {found} is not supported (this build reads version {VERSION})")]
    Version {
        /// The `version` field found.
        found: u32,
    },
    /// No classes or no nodes.
    #[error("C4.5 model has no {what}")]
    Empty {
        /// `"classes"` or `"nodes"`.
        what: &'static str,
    },
    /// A nominal feature without values.
    #[error("feature {feature} ({name:?}) is nominal but has no values")]
    NoValues {
        /// Feature index.
        feature: usize,
        /// Feature name.
        name: String,
    },
    /// A test reads a feature the model does not have.
    #[error("node {node} tests feature {feature}, but the model has {n_features} features")]
    FeatureOutOfRange {
        /// Node index.
        node: usize,
        /// Feature index in the node.
        feature: usize,
        /// Number of features of the model.
        n_features: usize,
    },
    /// A numeric test on a nominal feature or the other way round.
    #[error("node {node}: a {test} test on feature {feature}, which is {kind}")]
    TestKind {
        /// Node index.
        node: usize,
        /// Feature index.
        feature: usize,
        /// `"numeric"` or `"nominal"`: the node's test.
        test: &'static str,
        /// `"numeric"` or `"nominal"`: the feature.
        kind: &'static str,
    },
    /// A nominal test whose branch count differs from the feature's values.
    #[error("node {node}: {children} branches for feature {feature}, which has {values} values")]
    BranchCount {
        /// Node index.
        node: usize,
        /// Feature index.
        feature: usize,
        /// Branches in the node.
        children: usize,
        /// Values of the feature.
        values: usize,
    },
    /// A child index that is not after its parent or beyond the node list.
    #[error("node {node}: child {child} must be after the node and below {n_nodes}")]
    BadChild {
        /// Node index.
        node: usize,
        /// The child index found.
        child: usize,
        /// Number of nodes.
        n_nodes: usize,
    },
    /// A node that is no node's child, or the child of several.
    #[error("node {node} is the child of {parents} nodes; a tree needs exactly 1")]
    NotATree {
        /// Node index.
        node: usize,
        /// How many nodes list it as a child.
        parents: usize,
    },
    /// A leaf with a class count per class missing or extra.
    #[error("node {node}: {found} class counts, but the model has {classes} classes")]
    CountsLength {
        /// Node index.
        node: usize,
        /// Counts found.
        found: usize,
        /// Classes of the model.
        classes: usize,
    },
    /// A threshold or count that is NaN, infinite or (for counts) negative.
    #[error("node {node}: {what} {value} is not a finite{sign} number")]
    BadNumber {
        /// Node index.
        node: usize,
        /// `"threshold"` or `"class count"`.
        what: &'static str,
        /// The value found.
        value: f64,
        /// `""` or `", non-negative"`.
        sign: &'static str,
    },
}

/// Which way a decision-path step went, with the test it made.
///
/// Serialised with a `went` tag: `{"went": "<=", "threshold": 75.0}`,
/// `{"went": ">", "threshold": 75.0}`, `{"went": "=", "value": "sunny"}`,
/// `{"went": "?"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "went")]
pub enum Went {
    /// `value_seen <= threshold` (within Weka's 1e-6).
    #[serde(rename = "<=")]
    Le {
        /// The node's threshold.
        threshold: f32,
    },
    /// `value_seen > threshold`.
    #[serde(rename = ">")]
    Gt {
        /// The node's threshold.
        threshold: f32,
    },
    /// The nominal feature has this value.
    #[serde(rename = "=")]
    Eq {
        /// Name of the value, from the feature's values.
        value: String,
    },
    /// The value is missing (absent, NaN, or not a nominal value's index):
    /// the prediction mixes all branches of this test, and the path ends.
    #[serde(rename = "?")]
    Missing,
}

/// One test on the way from the root to a leaf.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PathStep {
    /// Index into the input row.
    pub feature: usize,
    /// The feature's name.
    pub feature_name: String,
    /// The input's value of the feature (NaN when the row is too short).
    pub value_seen: f32,
    /// The test and its outcome.
    #[serde(flatten)]
    pub went: Went,
}

/// A loaded, validated C4.5 tree.
#[derive(Debug, Clone)]
pub struct C45Model {
    doc: C45Document,
    /// `totals[node][class]`: training rows of each class that reached the node.
    totals: Vec<Vec<f64>>,
    /// `parents[node]`: the node's parent; the root has none.
    parents: Vec<Option<usize>>,
    /// `thresholds[node]`: [`decimal_f64`] of a numeric node's threshold.
    thresholds: Vec<f64>,
}

impl C45Model {
    /// Loads an export written as JSON.
    ///
    /// # Errors
    /// [`C45Error::Json`] for malformed JSON, any other variant for a
    /// document that is not a well-formed tree (see [`C45Model::from_document`]).
    pub fn from_json(json: &str) -> Result<Self, C45Error> {
        Self::from_document(serde_json::from_str(json)?)
    }

    /// [`C45Model::from_json`] for bytes (e.g. a fetched file).
    ///
    /// # Errors
    /// As [`C45Model::from_json`].
    pub fn from_slice(bytes: &[u8]) -> Result<Self, C45Error> {
        Self::from_document(serde_json::from_slice(bytes)?)
    }

    /// Validates a document: format and version, every feature index within
    /// the model's features, test kinds matching feature kinds, one branch per
    /// nominal value, child indices forming a tree, one finite non-negative
    /// count per class in every leaf, finite thresholds.
    ///
    /// # Errors
    /// The first problem found, as a [`C45Error`].
    pub fn from_document(doc: C45Document) -> Result<Self, C45Error> {
        if doc.format != FORMAT {
            return Err(C45Error::Format {
                found: doc.format.clone(),
            });
        }
        if doc.version != VERSION {
            return Err(C45Error::Version { found: doc.version });
        }
        if doc.classes.is_empty() {
            return Err(C45Error::Empty { what: "classes" });
        }
        if doc.nodes.is_empty() {
            return Err(C45Error::Empty { what: "nodes" });
        }
        for (i, feature) in doc.features.iter().enumerate() {
            if feature.values.as_ref().is_some_and(|v| v.is_empty()) {
                return Err(C45Error::NoValues {
                    feature: i,
                    name: feature.name.clone(),
                });
            }
        }

        let n_nodes = doc.nodes.len();
        let mut parents: Vec<Option<usize>> = vec![None; n_nodes];
        let mut parent_count = vec![0usize; n_nodes];
        for (node, n) in doc.nodes.iter().enumerate() {
            let children: &[usize] = match n {
                Node::Leaf { counts } => {
                    if counts.len() != doc.classes.len() {
                        return Err(C45Error::CountsLength {
                            node,
                            found: counts.len(),
                            classes: doc.classes.len(),
                        });
                    }
                    if let Some(&bad) = counts.iter().find(|c| !c.is_finite() || **c < 0.0) {
                        return Err(C45Error::BadNumber {
                            node,
                            what: "class count",
                            value: bad,
                            sign: ", non-negative",
                        });
                    }
                    continue;
                }
                Node::Numeric {
                    feature,
                    threshold,
                    children,
                } => {
                    let kind = feature_kind(&doc, node, *feature)?;
                    if kind != "numeric" {
                        return Err(C45Error::TestKind {
                            node,
                            feature: *feature,
                            test: "numeric",
                            kind,
                        });
                    }
                    if !threshold.is_finite() {
                        return Err(C45Error::BadNumber {
                            node,
                            what: "threshold",
                            value: f64::from(*threshold),
                            sign: "",
                        });
                    }
                    children.as_slice()
                }
                Node::Nominal { feature, children } => {
                    let kind = feature_kind(&doc, node, *feature)?;
                    let values = match &doc.features[*feature].values {
                        Some(values) => values.len(),
                        None => {
                            return Err(C45Error::TestKind {
                                node,
                                feature: *feature,
                                test: "nominal",
                                kind,
                            })
                        }
                    };
                    if children.len() != values {
                        return Err(C45Error::BranchCount {
                            node,
                            feature: *feature,
                            children: children.len(),
                            values,
                        });
                    }
                    children.as_slice()
                }
            };
            for &child in children {
                if child <= node || child >= n_nodes {
                    return Err(C45Error::BadChild {
                        node,
                        child,
                        n_nodes,
                    });
                }
                parent_count[child] += 1;
                parents[child] = Some(node);
            }
        }
        if let Some((node, &count)) = parent_count
            .iter()
            .enumerate()
            .skip(1)
            .find(|(_, &count)| count != 1)
        {
            return Err(C45Error::NotATree {
                node,
                parents: count,
            });
        }

        // Children come after their parent: fill the totals from the back.
        let n_classes = doc.classes.len();
        let mut totals = vec![vec![0.0; n_classes]; n_nodes];
        for node in (0..n_nodes).rev() {
            let sum = match &doc.nodes[node] {
                Node::Leaf { counts } => counts.clone(),
                Node::Numeric { children, .. } => sum_rows(&totals, children, n_classes),
                Node::Nominal { children, .. } => sum_rows(&totals, children, n_classes),
            };
            totals[node] = sum;
        }
        let thresholds = doc
            .nodes
            .iter()
            .map(|n| match n {
                Node::Numeric { threshold, .. } => decimal_f64(*threshold),
                _ => 0.0,
            })
            .collect();
        Ok(C45Model {
            doc,
            totals,
            parents,
            thresholds,
        })
    }

    /// The document the model was loaded from (serialise it to export).
    pub fn document(&self) -> &C45Document {
        &self.doc
    }

    /// The model's inputs, in row order.
    pub fn features(&self) -> &[Feature] {
        &self.doc.features
    }

    /// Number of inputs a row should have.
    pub fn n_features(&self) -> usize {
        self.doc.features.len()
    }

    /// Class names.
    pub fn classes(&self) -> &[String] {
        &self.doc.classes
    }

    /// Number of leaves (Weka's "Number of Leaves").
    pub fn num_leaves(&self) -> usize {
        self.doc
            .nodes
            .iter()
            .filter(|n| matches!(n, Node::Leaf { .. }))
            .count()
    }

    /// Number of nodes (Weka's "Size of the tree").
    pub fn num_nodes(&self) -> usize {
        self.doc.nodes.len()
    }

    /// The predicted class and the class probabilities (one per class) for one
    /// row; see the module docs for ties, empty leaves and missing values.
    ///
    /// The class is the most probable one, the first of equals (within 1e-6).
    pub fn predict(&self, x: &[f32]) -> (usize, Vec<f32>) {
        let probs = self.probabilities(x);
        let class = argmax_first(&probs);
        (class, probs.into_iter().map(|p| p as f32).collect())
    }

    /// The tests made for `x`, root first, down to the leaf (or to the first
    /// test whose value is missing).
    pub fn decision_path(&self, x: &[f32]) -> Vec<PathStep> {
        let mut path = Vec::new();
        let mut node = 0;
        loop {
            let (feature, branch) = match &self.doc.nodes[node] {
                Node::Leaf { .. } => return path,
                Node::Numeric { feature, .. } | Node::Nominal { feature, .. } => {
                    (*feature, self.branch(node, x))
                }
            };
            let went = match (&self.doc.nodes[node], branch) {
                (_, None) => Went::Missing,
                (Node::Numeric { threshold, .. }, Some(0)) => Went::Le {
                    threshold: *threshold,
                },
                (Node::Numeric { threshold, .. }, Some(_)) => Went::Gt {
                    threshold: *threshold,
                },
                (_, Some(b)) => Went::Eq {
                    value: self.value_name(feature, b).to_owned(),
                },
            };
            path.push(PathStep {
                feature,
                feature_name: self.doc.features[feature].name.clone(),
                value_seen: x.get(feature).copied().unwrap_or(f32::NAN),
                went,
            });
            match branch {
                Some(b) => node = self.children(node)[b],
                None => return path,
            }
        }
    }

    /// Class probabilities in f64, as Weka's `getProbs` computes them.
    fn probabilities(&self, x: &[f32]) -> Vec<f64> {
        let n_classes = self.doc.classes.len();
        let mut probs = vec![0.0; n_classes];
        // (node, weight): a row with missing values reaches several leaves.
        let mut stack = vec![(0usize, 1.0f64)];
        while let Some((node, weight)) = stack.pop() {
            if let Node::Leaf { .. } = self.doc.nodes[node] {
                let dist = self.leaf_distribution(node);
                let total: f64 = dist.iter().sum();
                if total > 0.0 {
                    for (p, c) in probs.iter_mut().zip(dist) {
                        *p += weight * c / total;
                    }
                }
                continue;
            }
            match self.branch(node, x) {
                Some(b) => stack.push((self.children(node)[b], weight)),
                None => {
                    let total: f64 = self.totals[node].iter().sum();
                    for &child in self.children(node) {
                        let child_total: f64 = self.totals[child].iter().sum();
                        if total > 0.0 && gr(child_total, 0.0) {
                            stack.push((child, weight * child_total / total));
                        }
                    }
                }
            }
        }
        probs
    }

    /// The counts a leaf predicts with: its own, or its parent's when no
    /// training row reached it (Weka's `m_isEmpty` leaves).
    fn leaf_distribution(&self, leaf: usize) -> &[f64] {
        let own = &self.totals[leaf];
        if gr(own.iter().sum(), 0.0) {
            return own;
        }
        match self.parents[leaf] {
            Some(parent) => &self.totals[parent],
            None => own,
        }
    }

    /// Which branch of split `node` the row takes; `None` when the value is
    /// missing.
    fn branch(&self, node: usize, x: &[f32]) -> Option<usize> {
        match &self.doc.nodes[node] {
            Node::Leaf { .. } => None,
            Node::Numeric { feature, .. } => {
                let v = *x.get(*feature)?;
                if v.is_nan() {
                    return None;
                }
                // Weka's Utils.smOrEq(value, splitPoint).
                let (v, t) = (decimal_f64(v), self.thresholds[node]);
                Some(if v - t < SMALL || v <= t { 0 } else { 1 })
            }
            Node::Nominal { feature, children } => {
                let v = *x.get(*feature)?;
                let ok = v >= 0.0 && v.fract() == 0.0 && (v as usize) < children.len();
                ok.then_some(v as usize)
            }
        }
    }

    fn children(&self, node: usize) -> &[usize] {
        match &self.doc.nodes[node] {
            Node::Leaf { .. } => &[],
            Node::Numeric { children, .. } => children,
            Node::Nominal { children, .. } => children,
        }
    }

    fn value_name(&self, feature: usize, value: usize) -> &str {
        self.doc.features[feature]
            .values
            .as_ref()
            .and_then(|v| v.get(value))
            .map_or("", String::as_str)
    }

    /// Weka's `dumpLabel` for a leaf: `class (n)` or `class (n/errors)`.
    fn leaf_label(&self, leaf: usize) -> String {
        let own = &self.totals[leaf];
        let n: f64 = own.iter().sum();
        // Distribution.maxClass(bag): the bag's majority, or the parent's
        // overall majority for an empty bag.
        let class = self.majority(self.leaf_distribution(leaf));
        let errors = if gr(n, 0.0) { n - own[class] } else { 0.0 };
        let mut label = format!("{} ({}", self.doc.classes[class], java_round2(n));
        if gr(errors, 0.0) {
            label.push('/');
            label.push_str(&java_round2(errors));
        }
        label.push(')');
        label
    }

    /// Weka's `Distribution.maxClass`: first class with the largest count.
    fn majority(&self, counts: &[f64]) -> usize {
        let mut best = 0;
        let mut best_count = 0.0;
        for (c, &count) in counts.iter().enumerate() {
            if gr(count, best_count) {
                best = c;
                best_count = count;
            }
        }
        best
    }

    /// Weka's `ClassifierTree.dumpTree`, without recursion (a loaded tree
    /// can be as deep as it has nodes).
    fn dump(&self, out: &mut String) {
        // (split node, branch to print next, depth), in pre-order.
        let mut stack = vec![(0usize, 0usize, 0usize)];
        while let Some((node, branch, depth)) = stack.pop() {
            let children = self.children(node);
            let Some(&child) = children.get(branch) else {
                continue;
            };
            let (feature, threshold) = match &self.doc.nodes[node] {
                Node::Leaf { .. } => continue,
                Node::Numeric {
                    feature, threshold, ..
                } => (*feature, Some(*threshold)),
                Node::Nominal { feature, .. } => (*feature, None),
            };
            out.push('\n');
            for _ in 0..depth {
                out.push_str("|   ");
            }
            out.push_str(&self.doc.features[feature].name);
            match threshold {
                Some(t) if branch == 0 => {
                    out.push_str(" <= ");
                    out.push_str(&threshold_to_string(t));
                }
                Some(t) => {
                    out.push_str(" > ");
                    out.push_str(&threshold_to_string(t));
                }
                None => {
                    out.push_str(" = ");
                    out.push_str(self.value_name(feature, branch));
                }
            }
            stack.push((node, branch + 1, depth));
            if let Node::Leaf { .. } = self.doc.nodes[child] {
                out.push_str(": ");
                out.push_str(&self.leaf_label(child));
            } else {
                stack.push((child, 0, depth + 1));
            }
        }
    }
}

/// The tree in Weka J48's text form (`J48.toString`), byte for byte for
/// thresholds that are not a tie at the 7th decimal. Its length is quadratic
/// in the depth (one indentation per level on every line), e.g.
///
/// ```text
/// J48 pruned tree
/// ------------------
///
/// outlook = sunny
/// |   humidity <= 75: yes (2.0)
/// |   humidity > 75: no (3.0)
/// outlook = overcast: yes (4.0)
/// ...
///
/// Number of Leaves  : \t5
///
/// Size of the tree : \t8
/// ```
impl fmt::Display for C45Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = String::new();
        text.push_str(if self.doc.pruned {
            "J48 pruned tree\n------------------\n"
        } else {
            "J48 unpruned tree\n------------------\n"
        });
        if let Node::Leaf { .. } = self.doc.nodes[0] {
            text.push_str(": ");
            text.push_str(&self.leaf_label(0));
        } else {
            self.dump(&mut text);
        }
        text.push_str(&format!(
            "\n\nNumber of Leaves  : \t{}\n\nSize of the tree : \t{}\n",
            self.num_leaves(),
            self.num_nodes()
        ));
        f.write_str(&text)
    }
}

fn feature_kind(doc: &C45Document, node: usize, feature: usize) -> Result<&'static str, C45Error> {
    match doc.features.get(feature) {
        None => Err(C45Error::FeatureOutOfRange {
            node,
            feature,
            n_features: doc.features.len(),
        }),
        Some(f) if f.values.is_some() => Ok("nominal"),
        Some(_) => Ok("numeric"),
    }
}

fn sum_rows(totals: &[Vec<f64>], rows: &[usize], n_classes: usize) -> Vec<f64> {
    let mut sum = vec![0.0; n_classes];
    for &r in rows {
        for (s, v) in sum.iter_mut().zip(&totals[r]) {
            *s += v;
        }
    }
    sum
}

/// The `f64` that Weka would hold for a value we hold as `f32`: the `f64`
/// nearest to the `f32`'s shortest decimal form (`33.1`, not
/// `33.09999847`). For a value read from text with at most 7 significant
/// digits that form is the text, so this is exactly Weka's double. The fitter
/// works on these values too, so fitting and prediction agree.
pub fn decimal_f64(value: f32) -> f64 {
    if !value.is_finite() || (value.fract() == 0.0 && value.abs() < 16_777_216.0) {
        // Integers below 2^24 (ports, sizes, counts) are exact: no formatting.
        return f64::from(value);
    }
    value.to_string().parse().unwrap_or(f64::from(value))
}

/// A threshold as Weka prints it: [`weka_double_to_string`] of its
/// [`decimal_f64`].
fn threshold_to_string(threshold: f32) -> String {
    weka_double_to_string(decimal_f64(threshold))
}

/// Weka's `Utils.doubleToString(value, 6)`: at most 6 decimals, rounded,
/// trailing zeros (and a trailing point) dropped, no exponent.
fn weka_double_to_string(value: f64) -> String {
    let mut s = format!("{value:.6}");
    if s.contains('.') {
        while s.ends_with('0') {
            s.pop();
        }
        if s.ends_with('.') {
            s.pop();
        }
    }
    s
}

/// Java's `Double.toString(Math.round(value * 100) / 100.0)`, as Weka's
/// `Utils.roundDouble(value, 2)` prints leaf counts: `48.0`, `3.33`, `1.0E7`.
fn java_round2(value: f64) -> String {
    let rounded = (value * 100.0 + 0.5).floor() / 100.0;
    let magnitude = rounded.abs();
    if magnitude == 0.0 || (1e-3..1e7).contains(&magnitude) {
        if rounded.fract() == 0.0 {
            format!("{rounded:.1}")
        } else {
            format!("{rounded}")
        }
    } else {
        // Java's computerized scientific notation: d.dddE±n.
        let exponent = magnitude.log10().floor() as i32;
        let mantissa = rounded / 10f64.powi(exponent);
        let mut m = format!("{mantissa}");
        if !m.contains('.') {
            m.push_str(".0");
        }
        format!("{m}E{exponent}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The weather tree (Weka J48 on weather.numeric), written by hand.
    fn weather_json() -> String {
        r#"{
          "format": "flowlens-c45", "version": 1,
          "features": [
            {"name": "outlook", "values": ["sunny", "overcast", "rainy"]},
            {"name": "temperature"},
            {"name": "humidity"},
            {"name": "windy", "values": ["TRUE", "FALSE"]}
          ],
          "classes": ["yes", "no"],
          "pruned": true,
          "nodes": [
            {"kind": "nominal", "feature": 0, "children": [1, 4, 5]},
            {"kind": "numeric", "feature": 2, "threshold": 75.0, "children": [2, 3]},
            {"kind": "leaf", "counts": [2.0, 0.0]},
            {"kind": "leaf", "counts": [0.0, 3.0]},
            {"kind": "leaf", "counts": [4.0, 0.0]},
            {"kind": "nominal", "feature": 3, "children": [6, 7]},
            {"kind": "leaf", "counts": [0.0, 2.0]},
            {"kind": "leaf", "counts": [3.0, 0.0]}
          ]
        }"#
        .to_owned()
    }

    fn weather() -> C45Model {
        C45Model::from_json(&weather_json()).expect("weather tree loads")
    }

    #[test]
    fn text_form_is_wekas() {
        let expected = "J48 pruned tree\n------------------\n\n\
outlook = sunny\n\
|   humidity <= 75: yes (2.0)\n\
|   humidity > 75: no (3.0)\n\
outlook = overcast: yes (4.0)\n\
outlook = rainy\n\
|   windy = TRUE: no (2.0)\n\
|   windy = FALSE: yes (3.0)\n\n\
Number of Leaves  : \t5\n\nSize of the tree : \t8\n";
        assert_eq!(weather().to_string(), expected);
    }

    #[test]
    fn predicts_and_explains() {
        let m = weather();
        // sunny, 80 degrees, humidity 75 (the threshold itself goes left), windy
        let x = [0.0, 80.0, 75.0, 0.0];
        assert_eq!(m.predict(&x), (0, vec![1.0, 0.0]));
        let path = m.decision_path(&x);
        assert_eq!(
            path,
            vec![
                PathStep {
                    feature: 0,
                    feature_name: "outlook".into(),
                    value_seen: 0.0,
                    went: Went::Eq {
                        value: "sunny".into()
                    },
                },
                PathStep {
                    feature: 2,
                    feature_name: "humidity".into(),
                    value_seen: 75.0,
                    went: Went::Le { threshold: 75.0 },
                },
            ]
        );
        let json = serde_json::to_value(&path[1]).expect("serialises");
        assert_eq!(
            json,
            serde_json::json!({"feature": 2, "feature_name": "humidity",
                               "value_seen": 75.0, "went": "<=", "threshold": 75.0})
        );
        // rainy, not windy
        assert_eq!(m.predict(&[2.0, 70.0, 96.0, 1.0]).0, 0);
        // sunny and humid
        assert_eq!(m.predict(&[0.0, 70.0, 75.5, 1.0]), (1, vec![0.0, 1.0]));
    }

    #[test]
    fn missing_values_mix_branches_by_training_weight() {
        let m = weather();
        // Outlook missing: 5/14 sunny (humidity 90: no), 4/14 overcast (yes),
        // 5/14 rainy (windy TRUE: no).
        let (class, probs) = m.predict(&[f32::NAN, 70.0, 90.0, 0.0]);
        assert_eq!(class, 1);
        assert!((probs[0] - 4.0 / 14.0).abs() < 1e-6, "{probs:?}");
        assert!((probs[1] - 10.0 / 14.0).abs() < 1e-6, "{probs:?}");
        // A short row: humidity and windy absent; sunny -> 2/5 yes, 3/5 no.
        let (class, probs) = m.predict(&[0.0]);
        assert_eq!(class, 1);
        assert!((probs[0] - 0.4).abs() < 1e-6 && (probs[1] - 0.6).abs() < 1e-6);
        let path = m.decision_path(&[0.0]);
        assert_eq!(path.len(), 2);
        assert_eq!(path[1].went, Went::Missing);
        assert!(path[1].value_seen.is_nan());
        // A nominal code that is no value's index is missing too.
        assert_eq!(m.decision_path(&[7.0])[0].went, Went::Missing);
        assert_eq!(m.decision_path(&[0.5])[0].went, Went::Missing);
    }

    #[test]
    fn empty_leaf_predicts_parents_distribution() {
        let json = weather_json().replace(
            r#"{"kind": "leaf", "counts": [4.0, 0.0]}"#,
            r#"{"kind": "leaf", "counts": [0.0, 0.0]}"#,
        );
        let m = C45Model::from_json(&json).expect("loads");
        // Root total without overcast: yes 5, no 5 -> class 0 (first of equals).
        assert_eq!(m.predict(&[1.0, 0.0, 0.0, 0.0]), (0, vec![0.5, 0.5]));
        assert!(m.to_string().contains("outlook = overcast: yes (0.0)\n"));
    }

    fn load_err(json: &str) -> C45Error {
        match C45Model::from_json(json) {
            Ok(_) => panic!("loaded a bad model: {json}"),
            Err(e) => e,
        }
    }

    #[test]
    fn bad_documents_are_typed_errors() {
        let good = weather_json();
        assert!(matches!(load_err("{not json"), C45Error::Json(_)));
        assert!(matches!(load_err("[]"), C45Error::Json(_)));
        assert!(matches!(
            load_err(&good.replace(r#""kind": "leaf""#, r#""kind": "stump""#)),
            C45Error::Json(_)
        ));
        assert!(matches!(
            load_err(&good.replace("flowlens-c45", "weka-j48")),
            C45Error::Format { .. }
        ));
        assert!(matches!(
            load_err(&good.replace(r#""version": 1"#, r#""version": 2"#)),
            C45Error::Version { found: 2 }
        ));
        // A test on a feature the model does not have.
        assert!(matches!(
            load_err(&good.replace(r#""feature": 2,"#, r#""feature": 9,"#)),
            C45Error::FeatureOutOfRange {
                node: 1,
                feature: 9,
                n_features: 4
            }
        ));
        assert!(matches!(
            load_err(&good.replace(r#""feature": 2,"#, r#""feature": 3,"#)),
            C45Error::TestKind { node: 1, .. }
        ));
        assert!(matches!(
            load_err(&good.replace("[1, 4, 5]", "[1, 4]")),
            C45Error::BranchCount { node: 0, .. }
        ));
        assert!(matches!(
            load_err(&good.replace("[1, 4, 5]", "[1, 4, 50]")),
            C45Error::BadChild { child: 50, .. }
        ));
        // A cycle back to the root.
        assert!(matches!(
            load_err(&good.replace("[6, 7]", "[6, 0]")),
            C45Error::BadChild {
                node: 5,
                child: 0,
                ..
            }
        ));
        // Node 4 shared, node 5 orphaned.
        assert!(matches!(
            load_err(&good.replace("[1, 4, 5]", "[1, 4, 4]")),
            C45Error::NotATree {
                node: 4,
                parents: 2
            }
        ));
        assert!(matches!(
            load_err(&good.replace("[2.0, 0.0]", "[2.0]")),
            C45Error::CountsLength { node: 2, .. }
        ));
        assert!(matches!(
            load_err(&good.replace("[2.0, 0.0]", "[2.0, -1.0]")),
            C45Error::BadNumber { node: 2, .. }
        ));
        assert!(matches!(
            load_err(&good.replace(r#""classes": ["yes", "no"]"#, r#""classes": []"#)),
            C45Error::Empty { what: "classes" }
        ));
    }

    /// A chain of `depth` numeric tests on x: `x <= i` goes to a leaf, `>`
    /// goes on.
    fn chain(depth: usize) -> C45Model {
        let mut nodes = Vec::new();
        for i in 0..depth {
            nodes.push(Node::Numeric {
                feature: 0,
                threshold: i as f32,
                children: [2 * i + 1, 2 * i + 2],
            });
            nodes.push(Node::Leaf {
                counts: vec![1.0, 0.0],
            });
        }
        nodes.push(Node::Leaf {
            counts: vec![0.0, 1.0],
        });
        let doc = C45Document {
            format: FORMAT.into(),
            version: VERSION,
            features: vec![Feature::numeric("x")],
            classes: vec!["low".into(), "high".into()],
            pruned: false,
            nodes,
        };
        let json = serde_json::to_string(&doc).expect("serialises");
        C45Model::from_json(&json).expect("loads")
    }

    #[test]
    fn a_very_deep_tree_loads_predicts_and_prints_without_recursion() {
        let depth = 100_000;
        let m = chain(depth);
        assert_eq!(m.predict(&[1e9]).0, 1);
        assert_eq!(m.decision_path(&[1e9]).len(), depth);
        assert_eq!(m.predict(&[f32::NAN]).0, 0);
        // The text form is quadratic in depth (Weka's indentation): print a
        // shorter chain, still deeper than a recursive printer would like.
        let depth = 3_000;
        let text = chain(depth).to_string();
        assert!(text.starts_with(
            "J48 unpruned tree\n------------------\n\nx <= 0: low (1.0)\nx > 0\n|   x <= 1: low (1.0)\n"
        ));
        assert!(text.ends_with(&format!("Size of the tree : \t{}\n", 2 * depth + 1)));
    }

    #[test]
    fn number_formats_follow_weka() {
        assert_eq!(weka_double_to_string(75.0), "75");
        assert_eq!(threshold_to_string(0.6), "0.6");
        assert_eq!(threshold_to_string(33.1), "33.1");
        assert_eq!(threshold_to_string(31.6296), "31.6296");
        assert_eq!(threshold_to_string(0.1234567), "0.123457");
        assert_eq!(threshold_to_string(1e20), "100000000000000000000");
        assert_eq!(decimal_f64(33.1), 33.1f64);
        assert_eq!(decimal_f64(70.16), 70.16f64);
        assert_eq!(decimal_f64(443.0), 443.0);
        assert_eq!(decimal_f64(1e20), 1e20f64);
        assert_eq!(weka_double_to_string(-2.5), "-2.5");
        assert_eq!(weka_double_to_string(1.0 / 3.0), "0.333333");
        assert_eq!(java_round2(48.0), "48.0");
        assert_eq!(java_round2(10.0 / 3.0), "3.33");
        assert_eq!(java_round2(0.0), "0.0");
        assert_eq!(java_round2(12_345_678.0), "1.2345678E7");
    }

    #[test]
    fn single_leaf_tree() {
        let json = r#"{"format": "flowlens-c45", "version": 1, "features": [],
            "classes": ["a", "b"], "pruned": true,
            "nodes": [{"kind": "leaf", "counts": [9.0, 5.0]}]}"#;
        let m = C45Model::from_json(json).expect("loads");
        assert_eq!(
            m.to_string(),
            "J48 pruned tree\n------------------\n: a (14.0/5.0)\n\n\
Number of Leaves  : \t1\n\nSize of the tree : \t1\n"
        );
        let (class, probs) = m.predict(&[]);
        assert_eq!(class, 0);
        assert!((probs[0] - 9.0 / 14.0).abs() < 1e-6);
        assert!(m.decision_path(&[1.0]).is_empty());
    }
}
