//! Errors of the models module.

use thiserror::Error;

/// Why a model could not be built, loaded or run.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ModelError {
    /// A tensor operation failed, or the weight bytes are not safetensors.
    #[error("tensor error: {0}")]
    Candle(#[from] candle_core::Error),

    /// Serialising weights failed.
    #[error("safetensors error: {0}")]
    Safetensors(#[from] safetensors::SafeTensorError),

    /// The weight file lacks a tensor the architecture needs (often: the file
    /// belongs to another architecture or another config).
    #[error("weight file has no tensor `{name}`")]
    MissingTensor { name: String },

    /// A tensor in the weight file has another shape than the config implies.
    #[error("tensor `{name}` has shape {got:?}, the config needs {expected:?}")]
    ShapeMismatch {
        name: String,
        expected: Vec<usize>,
        got: Vec<usize>,
    },

    /// A tensor in the weight file is not a float tensor.
    #[error("tensor `{name}` has dtype {dtype}, expected a float type")]
    WeightDType { name: String, dtype: String },

    /// A tensor in the weight file holds a NaN or an infinity (or a value
    /// beyond the f32 range the models compute in).
    #[error("tensor `{name}` holds {value}, not a finite f32 weight")]
    NonFiniteWeight { name: String, value: f32 },

    /// The weight file holds tensors the architecture does not use (sorted).
    #[error("weight file has {} tensor(s) the model does not use, e.g. `{}`", names.len(), names.first().map(String::as_str).unwrap_or(""))]
    UnexpectedTensors { names: Vec<String> },

    /// A config value is out of range.
    #[error("invalid model config: {field}: {reason}")]
    InvalidConfig { field: &'static str, reason: String },

    /// The byte buffer does not hold `batch * packets * bytes_per_packet` bytes.
    #[error("input has {got} bytes, expected {expected} (batch x packets x bytes per packet)")]
    InputLength { expected: usize, got: usize },

    /// The input tensor is not `[batch, P, B]` of u8.
    #[error("input tensor must be u8 [batch, packets, bytes], got {dtype} {dims:?}")]
    InputTensor { dtype: String, dims: Vec<usize> },

    /// The input's P or B differs from the model's.
    #[error(
        "input is {packets} packets x {bytes_per_packet} bytes, the model expects \
         {expected_packets} x {expected_bytes_per_packet}"
    )]
    InputShape {
        expected_packets: usize,
        expected_bytes_per_packet: usize,
        packets: usize,
        bytes_per_packet: usize,
    },

    /// [`crate::models::Sae`] layer index out of range.
    #[error("SAE has {layers} layers, no layer {index}")]
    NoSuchLayer { index: usize, layers: usize },
}
