//! Fitting the classic baselines of Lee, Lee & Kim (SIGCOMM'20, Table 4):
//! C4.5 as Weka's J48 builds it ([`c45_fit`]) and k-NN with k = 3
//! ([`knn_fit`]). The fitted models are the core's types
//! (`flowlens_core::baselines`), which the browser loads unchanged.

pub mod c45_fit;
pub mod knn_fit;

use anyhow::{ensure, Result};
use flowlens_core::baselines::c45::Feature;

/// Training data for the baselines: one row of features per flow and its
/// class. Nominal features hold the index of their value as an `f32`.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// The columns, in row order.
    pub features: Vec<Feature>,
    /// Class names; `y` holds indices into this list.
    pub classes: Vec<String>,
    /// `[rows, features]`, row-major.
    pub x: Vec<f32>,
    /// `[rows]`: class index per row.
    pub y: Vec<usize>,
}

impl Table {
    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.y.len()
    }

    /// Number of features per row.
    pub fn n_features(&self) -> usize {
        self.features.len()
    }

    /// Row `i`'s features.
    pub fn row(&self, i: usize) -> &[f32] {
        let d = self.n_features();
        &self.x[i * d..(i + 1) * d]
    }

    /// Row `i`'s value of feature `j`.
    pub fn value(&self, i: usize, j: usize) -> f32 {
        self.x[i * self.n_features() + j]
    }

    /// Checks the shape and every value: finite features (missing values are
    /// not supported), nominal codes that are value indices, labels that are
    /// class indices.
    pub fn check(&self) -> Result<()> {
        ensure!(!self.classes.is_empty(), "the table has no classes");
        ensure!(
            self.x.len() == self.n_rows() * self.n_features(),
            "{} values for {} rows of {} features",
            self.x.len(),
            self.n_rows(),
            self.n_features()
        );
        for (i, &label) in self.y.iter().enumerate() {
            ensure!(
                label < self.classes.len(),
                "row {i}: class {label}, but there are {} classes",
                self.classes.len()
            );
        }
        for (j, feature) in self.features.iter().enumerate() {
            let n_values = feature.values.as_ref().map(Vec::len);
            for i in 0..self.n_rows() {
                let v = self.value(i, j);
                ensure!(
                    v.is_finite(),
                    "row {i}, feature {:?}: {v} (missing values are not supported)",
                    feature.name
                );
                if let Some(n) = n_values {
                    ensure!(
                        v >= 0.0 && v.fract() == 0.0 && (v as usize) < n,
                        "row {i}, nominal feature {:?}: {v} is not one of its {n} value indices",
                        feature.name
                    );
                }
            }
        }
        Ok(())
    }
}

/// Readers for the test data in `trainer/tests/data/` (see its SOURCES.md).
#[cfg(test)]
pub(crate) mod testdata {
    use super::*;

    /// Weka's weather data with numeric temperature and humidity.
    pub fn weather() -> Table {
        parse_arff(include_str!("../../tests/data/weather.numeric.arff"))
    }

    /// Fisher's iris data as scikit-learn ships it, with Weka's column names.
    pub fn iris() -> Table {
        parse_sklearn_csv(
            include_str!("../../tests/data/iris.csv"),
            &["sepallength", "sepalwidth", "petallength", "petalwidth"],
        )
    }

    /// A minimal ARFF reader: numeric (`numeric`/`real`/`integer`) and
    /// nominal (`{a, b}`) attributes, the last one the class; `%` comments;
    /// names and values in single quotes without commas inside; no sparse
    /// rows or missing values.
    pub fn parse_arff(text: &str) -> Table {
        let mut columns: Vec<Feature> = Vec::new();
        let mut x = Vec::new();
        let mut y = Vec::new();
        let mut in_data = false;
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('%') {
                continue;
            }
            let lower = line.to_ascii_lowercase();
            if lower.starts_with("@attribute") {
                let rest = line["@attribute".len()..].trim();
                let (name, kind) = rest.split_once(char::is_whitespace).expect("name and type");
                let kind = kind.trim();
                let values = kind.strip_prefix('{').map(|v| {
                    v.trim_end_matches('}')
                        .split(',')
                        .map(|s| unquote(s).to_owned())
                        .collect()
                });
                columns.push(Feature {
                    name: unquote(name).to_owned(),
                    values,
                });
            } else if lower.starts_with("@data") {
                in_data = true;
            } else if in_data {
                let cells: Vec<&str> = line.split(',').map(unquote).collect();
                assert_eq!(cells.len(), columns.len(), "row {line:?}");
                for (cell, column) in cells.iter().zip(&columns) {
                    let v = match &column.values {
                        Some(values) => {
                            values.iter().position(|v| v == cell).expect("known value") as f32
                        }
                        None => cell.parse().expect("number"),
                    };
                    x.push(v);
                }
                y.push(x.pop().expect("class cell") as usize);
            }
        }
        let class = columns.pop().expect("a class attribute");
        Table {
            features: columns,
            classes: class.values.expect("a nominal class"),
            x,
            y,
        }
    }

    /// Trims spaces and one pair of single quotes.
    fn unquote(s: &str) -> &str {
        let s = s.trim();
        s.strip_prefix('\'')
            .and_then(|s| s.strip_suffix('\''))
            .unwrap_or(s)
    }

    /// scikit-learn's bundled CSV layout: a first line `n_rows,n_features,
    /// class names...`, then rows of features and a class index.
    pub fn parse_sklearn_csv(text: &str, feature_names: &[&str]) -> Table {
        let mut lines = text.lines();
        let head: Vec<&str> = lines.next().expect("header").split(',').collect();
        let n_rows: usize = head[0].parse().expect("row count");
        let n_features: usize = head[1].parse().expect("feature count");
        assert_eq!(n_features, feature_names.len());
        let mut x = Vec::new();
        let mut y = Vec::new();
        for line in lines.filter(|l| !l.trim().is_empty()) {
            let cells: Vec<&str> = line.split(',').collect();
            assert_eq!(cells.len(), n_features + 1, "row {line:?}");
            for cell in &cells[..n_features] {
                x.push(cell.trim().parse().expect("number"));
            }
            y.push(cells[n_features].trim().parse().expect("class index"));
        }
        assert_eq!(y.len(), n_rows);
        Table {
            features: feature_names.iter().map(|n| Feature::numeric(*n)).collect(),
            classes: head[2..].iter().map(|s| s.trim().to_owned()).collect(),
            x,
            y,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_data_reads_as_expected() {
        let w = testdata::weather();
        assert_eq!((w.n_rows(), w.n_features()), (14, 4));
        assert_eq!(w.classes, ["yes", "no"]);
        // First row: sunny,85,85,FALSE,no
        assert_eq!(w.row(0), [0.0, 85.0, 85.0, 1.0]);
        assert_eq!(w.y[0], 1);
        w.check().expect("valid");

        let iris = testdata::iris();
        assert_eq!((iris.n_rows(), iris.n_features()), (150, 4));
        assert_eq!(iris.classes, ["setosa", "versicolor", "virginica"]);
        assert_eq!(iris.row(0), [5.1, 3.5, 1.4, 0.2]);
        assert_eq!(iris.y.iter().filter(|&&c| c == 2).count(), 50);
        iris.check().expect("valid");
    }

    #[test]
    fn check_rejects_bad_tables() {
        let mut t = testdata::weather();
        t.x[1] = f32::NAN;
        assert!(t.check().is_err(), "missing value");
        let mut t = testdata::weather();
        t.x[0] = 3.0; // outlook has 3 values: 0..=2
        assert!(t.check().is_err(), "nominal code");
        let mut t = testdata::weather();
        t.y[0] = 2;
        assert!(t.check().is_err(), "label");
        let mut t = testdata::weather();
        t.x.pop();
        assert!(t.check().is_err(), "shape");
    }
}
