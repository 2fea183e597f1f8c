//! Weight files: strict loading with typed errors, in-memory export.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use candle_core::{DType, Device, Shape, Tensor};
use candle_nn::var_builder::SimpleBackend;
use candle_nn::{Init, VarBuilder, VarMap};

use super::{ModelError, Result, DTYPE};

/// Serialises every variable of `varmap` as safetensors bytes (f32, names
/// sorted), without touching the file system. `from_safetensors` reads them.
pub fn serialize_varmap(varmap: &VarMap) -> Result<Vec<u8>> {
    let tensors: BTreeMap<String, Tensor> = varmap
        .data()
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .iter()
        .map(|(name, var)| (name.clone(), var.as_tensor().clone()))
        .collect();
    Ok(safetensors::serialize(tensors, None)?)
}

/// Builds a model with `build` from safetensors `bytes`, turning the first
/// missing, misshapen, non-float or non-finite tensor into a typed error,
/// and refusing files with tensors the model did not ask for.
pub(crate) fn load_checked<T>(
    bytes: &[u8],
    device: &Device,
    build: impl FnOnce(VarBuilder) -> Result<T>,
) -> Result<T> {
    let tensors = candle_core::safetensors::load_buffer(bytes, device)?;
    let names: BTreeSet<String> = tensors.keys().cloned().collect();
    let log = Arc::new(Mutex::new(Log::default()));
    let backend = Checked {
        tensors,
        log: Arc::clone(&log),
    };
    let built = build(VarBuilder::from_backend(
        Box::new(backend),
        DTYPE,
        device.clone(),
    ));
    let mut log = log.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(problem) = log.problem.take() {
        return Err(problem);
    }
    let model = built?;
    let unused: Vec<String> = names.difference(&log.used).cloned().collect();
    if !unused.is_empty() {
        return Err(ModelError::UnexpectedTensors { names: unused });
    }
    Ok(model)
}

#[derive(Default)]
struct Log {
    used: BTreeSet<String>,
    /// The first problem met; later ones are usually its consequences.
    problem: Option<ModelError>,
}

/// A `VarBuilder` backend over loaded tensors that records what the model
/// asked for and why a request failed, so the caller gets a typed error
/// rather than candle's message.
struct Checked {
    tensors: HashMap<String, Tensor>,
    log: Arc<Mutex<Log>>,
}

impl Checked {
    fn fail(&self, problem: ModelError) -> candle_core::Error {
        let msg = problem.to_string();
        let mut log = self
            .log
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        log.problem.get_or_insert(problem);
        candle_core::Error::Msg(msg)
    }

    fn lookup(&self, name: &str) -> candle_core::Result<&Tensor> {
        let Some(tensor) = self.tensors.get(name) else {
            return Err(self.fail(ModelError::MissingTensor { name: name.into() }));
        };
        if !tensor.dtype().is_float() {
            return Err(self.fail(ModelError::WeightDType {
                name: name.into(),
                dtype: tensor.dtype().as_str().into(),
            }));
        }
        self.log
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .used
            .insert(name.to_string());
        Ok(tensor)
    }
}

impl Checked {
    /// `tensor` as the model will compute with it, if every value is
    /// finite: one NaN or infinity (also an f64 or f16 value that only
    /// overflows as f32) would make every prediction NaN.
    fn finite(&self, name: &str, tensor: Tensor) -> candle_core::Result<Tensor> {
        let values = tensor
            .flatten_all()?
            .to_dtype(DType::F32)?
            .to_vec1::<f32>()?;
        if let Some(&value) = values.iter().find(|v| !v.is_finite()) {
            return Err(self.fail(ModelError::NonFiniteWeight {
                name: name.into(),
                value,
            }));
        }
        Ok(tensor)
    }
}

impl SimpleBackend for Checked {
    fn get(
        &self,
        shape: Shape,
        name: &str,
        _: Init,
        dtype: DType,
        dev: &Device,
    ) -> candle_core::Result<Tensor> {
        let tensor = self.lookup(name)?;
        if tensor.shape() != &shape {
            return Err(self.fail(ModelError::ShapeMismatch {
                name: name.into(),
                expected: shape.dims().to_vec(),
                got: tensor.dims().to_vec(),
            }));
        }
        self.finite(name, tensor.to_device(dev)?.to_dtype(dtype)?)
    }

    fn get_unchecked(&self, name: &str, dtype: DType, dev: &Device) -> candle_core::Result<Tensor> {
        let tensor = self.lookup(name)?.to_device(dev)?.to_dtype(dtype)?;
        self.finite(name, tensor)
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }
}
