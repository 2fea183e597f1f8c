//! The deep models' weight loader: safetensors bytes against each
//! architecture's published manifest entry (CNN, LSTM, SAE, HAN; the
//! smallest pack's, see [`crate::fixtures::published`]).
//!
//! The first byte picks the architecture (low two bits) and the mode:
//! - bit 7 clear (structure-aware): the rest is a program of mutations
//!   ([`crate::st::mutate`]) applied to the real published file of that
//!   architecture: dtypes, shapes, offsets, names, dropped or duplicated
//!   tensors, tame or wild values, metadata, then bytes poked or cut and
//!   the header length lied about;
//! - bit 7 set (raw): the rest is the file.
//!
//! The bytes go to [`Model::from_safetensors`] with the entry's config,
//! what [`flowlens_core::classifier::Classifier::load`] does after checking
//! the sha256 (left out here: no mutated file would pass it).
//! Properties: a file is refused with a [`ModelError`]; a file accepted
//! has only finite weights (read as f32) and gives a model that runs on flows of `tests/data/` under the entry's
//! representation (plus an all-zero and an all-0xff grid), with one row
//! of logits per flow and one logit per class of the manifest entry; when
//! every weight is finite and within ±[`TAME_BOUND`], the logits are
//! finite and the softmax a distribution.

use candle_core::Device;
use flowlens_core::classifier::{Classifier, ClassifierError};
use flowlens_core::manifest::Architecture;
use flowlens_core::models::{Model, ModelError};
use flowlens_core::Flow;

use crate::fixtures::{self, Bytes};
use crate::st;

/// Weights within ± this bound must give finite logits. Trained weights
/// are far below it; mutated ones are multiples of 1/8 in [-16, 16).
pub const TAME_BOUND: f32 = 16.0;

const ARCHITECTURES: [Architecture; 4] = [
    Architecture::Cnn,
    Architecture::Lstm,
    Architecture::Sae,
    Architecture::Han,
];

pub fn run(data: &[u8]) {
    let published = fixtures::published_or_panic();
    let mut r = Bytes::new(data);
    let sel = r.u8();
    let arch = ARCHITECTURES[usize::from(sel & 3)];
    let model = published.model(arch);
    let bytes = if sel & 0x80 != 0 {
        r.rest().to_vec()
    } else {
        let mut file = st::File::parse(&model.bytes).expect("the published file parses");
        let post = st::mutate(&mut file, &mut r);
        let mut bytes = file.to_bytes();
        st::apply_post(&mut bytes, &post);
        bytes
    };
    check(&model.entry, &bytes);
}

/// Loads `bytes` as the weights of `entry` and checks the model.
pub fn check(entry: &flowlens_core::manifest::ModelEntry, bytes: &[u8]) {
    let device = Device::Cpu;
    let cfg = entry.config.as_ref().expect("a deep entry has a config");
    let model = match Model::from_safetensors(cfg, bytes, &device) {
        Ok(m) => m,
        Err(e) => {
            let _: &ModelError = &e;
            let _ = e.to_string();
            return;
        }
    };
    let clf = Classifier::Deep(model);
    let repr = &entry.representation;
    let classes = entry.classes.len();
    let flows: Vec<&Flow> = fixtures::flows().iter().take(3).collect();
    let mut x = repr.encode_batch(&flows);
    x.extend(std::iter::repeat_n(0u8, repr.input_len()));
    x.extend(std::iter::repeat_n(0xffu8, repr.input_len()));
    let n = flows.len() + 2;
    let logits = match clf.logits_matrix(&x, n, repr, &device) {
        Ok(l) => l,
        Err(ClassifierError::Model(e)) => panic!("a loaded model fails on valid input: {e}"),
        Err(e) => panic!("a loaded model fails on valid input: {e}"),
    };
    assert_eq!(logits.len(), n, "one row of logits per flow");
    for row in &logits {
        assert_eq!(row.len(), classes, "one logit per class of the entry");
    }
    // A NaN or infinite weight (also one that only overflows when read as
    // f32) would make every prediction NaN: the loader must refuse it.
    let max = st::max_abs_weight(bytes).expect("a loaded model's weights are finite as f32");
    let tame = max <= TAME_BOUND;
    if tame {
        for row in &logits {
            assert!(
                row.iter().all(|v| v.is_finite()),
                "weights within ±{TAME_BOUND} give non-finite logits {row:?}"
            );
        }
        let preds = clf
            .predict_matrix(&x, n, repr, &device)
            .expect("predicts as it computed logits");
        for p in preds {
            super::check_probabilities("deep model", p.class, &p.probabilities, classes);
            let sum: f32 = p.probabilities.iter().sum();
            assert!((sum - 1.0).abs() < 1e-3, "softmax sums to {sum}");
        }
    }
}
