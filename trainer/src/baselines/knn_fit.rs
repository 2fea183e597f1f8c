//! Fitting k-NN: the training rows become the reference set, z-scored with
//! the training set's mean and population standard deviation (a feature that
//! is constant in training gets std 1, as scikit-learn's `StandardScaler`
//! does). The model and its format are the core's
//! (`flowlens_core::baselines::knn`); write it with `KnnModel::to_bytes`.

use anyhow::{ensure, Context, Result};
use flowlens_core::baselines::KnnModel;

use super::Table;

/// The reference set and scaling of a k-NN classifier over `table`, which
/// must have numeric features only (Euclidean distance on nominal codes would
/// mean nothing).
pub fn fit_knn(table: &Table, k: usize) -> Result<KnnModel> {
    table.check()?;
    if let Some(f) = table.features.iter().find(|f| f.values.is_some()) {
        anyhow::bail!("k-NN needs numeric features; {:?} is nominal", f.name);
    }
    ensure!(table.n_rows() > 0, "k-NN needs at least one training row");
    let d = table.n_features();
    let n = table.n_rows() as f64;
    let mut mean = vec![0.0f64; d];
    for i in 0..table.n_rows() {
        for (m, &v) in mean.iter_mut().zip(table.row(i)) {
            *m += f64::from(v);
        }
    }
    mean.iter_mut().for_each(|m| *m /= n);
    let mut var = vec![0.0f64; d];
    for i in 0..table.n_rows() {
        for ((s, &v), m) in var.iter_mut().zip(table.row(i)).zip(&mean) {
            *s += (f64::from(v) - m).powi(2);
        }
    }
    let std: Vec<f32> = var
        .iter()
        .map(|s| {
            let sd = (s / n).sqrt() as f32;
            if sd.is_finite() && sd > 0.0 {
                sd
            } else {
                1.0
            }
        })
        .collect();
    let mean: Vec<f32> = mean.iter().map(|&m| m as f32).collect();
    let labels = table
        .y
        .iter()
        .map(|&c| u32::try_from(c))
        .collect::<Result<Vec<u32>, _>>()
        .context("class index beyond u32")?;
    let features = table.features.iter().map(|f| f.name.clone()).collect();
    Ok(KnnModel::from_raw(
        k,
        features,
        table.classes.clone(),
        mean,
        std,
        &table.x,
        labels,
    )?)
}

#[cfg(test)]
mod tests {
    use flowlens_core::baselines::c45::Feature;

    use super::super::testdata;
    use super::*;

    /// Six flows, two features: (packets, mean size). Means 4 and 300;
    /// population stds 2 and 100 (and one constant feature).
    fn flows() -> Table {
        #[rustfmt::skip]
        let x = vec![
            2.0, 200.0, 7.0,   // 0 dns
            2.0, 200.0, 7.0,   // 1 dns
            4.0, 300.0, 7.0,   // 2 web
            6.0, 400.0, 7.0,   // 3 web
            6.0, 400.0, 7.0,   // 4 video
            4.0, 300.0, 7.0,   // 5 video
        ];
        Table {
            features: vec![
                Feature::numeric("packets"),
                Feature::numeric("mean_size"),
                Feature::numeric("proto"),
            ],
            classes: vec!["dns".into(), "web".into(), "video".into()],
            x,
            y: vec![0, 0, 1, 1, 2, 2],
        }
    }

    #[test]
    fn scaling_is_the_training_z_score() {
        let m = fit_knn(&flows(), 3).expect("fits");
        assert_eq!(m.mean(), [4.0, 300.0, 7.0]);
        // Population std: sqrt((4+4+0+4+4+0)/6) = sqrt(8/3).
        let sd = (8.0f32 / 3.0).sqrt();
        assert!((m.std()[0] - sd).abs() < 1e-6);
        assert!((m.std()[1] - 100.0 * sd / 2.0).abs() < 1e-3);
        assert_eq!(m.std()[2], 1.0, "a constant feature keeps its scale");
        assert_eq!(m.reference_row(0).map(|r| r[2]), Some(0.0));
    }

    #[test]
    fn known_neighbours_and_distances() {
        let m = fit_knn(&flows(), 3).expect("fits");
        // The query (2, 200) is row 0 and row 1 exactly; next are rows 2 and 5
        // at z distance sqrt(2) * 2 / sd (rows 2 before 5).
        let sd = (8.0f32 / 3.0).sqrt();
        let near = m.neighbours(&[2.0, 200.0, 7.0], 4);
        let indices: Vec<usize> = near.iter().map(|n| n.index).collect();
        assert_eq!(indices, [0, 1, 2, 5]);
        assert_eq!(near[0].distance, 0.0);
        assert_eq!(near[1].distance, 0.0);
        let expected = 2.0f32.sqrt() * 2.0 / sd;
        assert!((near[2].distance - expected).abs() < 1e-5, "{near:?}");
        assert_eq!(near[3].label, 2);
        // k = 3: dns, dns, web.
        let (class, probs) = m.predict(&[2.0, 200.0, 7.0]);
        assert_eq!(class, 0);
        assert_eq!(probs, [2.0 / 3.0, 1.0 / 3.0, 0.0]);
        // At (6, 400): rows 3 (web) and 4 (video) exactly, then rows 2 and 5
        // tie: row 2 (web) wins the third place.
        let near = m.neighbours(&[6.0, 400.0, 7.0], 3);
        let indices: Vec<usize> = near.iter().map(|n| n.index).collect();
        assert_eq!(indices, [3, 4, 2]);
        assert_eq!(
            m.predict(&[6.0, 400.0, 7.0]),
            (1, vec![0.0, 2.0 / 3.0, 1.0 / 3.0])
        );
    }

    #[test]
    fn export_and_load_round_trip() {
        let table = testdata::iris();
        let m = fit_knn(&table, 3).expect("fits");
        let loaded = KnnModel::from_bytes(&m.to_bytes()).expect("loads");
        assert_eq!(loaded, m);
        let mut correct = 0;
        for i in 0..table.n_rows() {
            let row = table.row(i);
            assert_eq!(loaded.predict(row), m.predict(row));
            assert_eq!(loaded.neighbours(row, 3), m.neighbours(row, 3));
            // A training row is its own nearest neighbour (or ties with a
            // duplicate that comes earlier).
            let first = loaded.neighbours(row, 1)[0];
            assert_eq!(first.distance, 0.0);
            assert!(first.index <= i);
            correct += usize::from(loaded.predict(row).0 == table.y[i]);
        }
        // Resubstitution accuracy of 3-NN on z-scored iris is high but not
        // perfect (the versicolor / virginica overlap).
        assert!((140..150).contains(&correct), "{correct}");
    }

    #[test]
    fn rejects_nominal_features() {
        assert!(fit_knn(&testdata::weather(), 3).is_err());
    }
}
