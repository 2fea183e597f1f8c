//! From representation bytes to model input tensors.

use candle_core::{DType, Device, Tensor};

use super::{ModelError, Result};

/// One batch of representation matrices, `[batch, P, B]` bytes.
///
/// Holds the raw bytes once; [`ModelInput::scaled`] (CNN, LSTM, SAE) and
/// [`ModelInput::ids`] (HAN) derive what each model reads.
#[derive(Debug, Clone)]
pub struct ModelInput {
    /// `[batch, P, B]`, u8.
    bytes: Tensor,
}

impl ModelInput {
    /// `bytes` holds `batch` flows one after another, each `p` packets of `b`
    /// bytes (row-major `[batch, p, b]`), as [`crate::repr`] lays them out.
    pub fn from_bytes(
        bytes: &[u8],
        batch: usize,
        p: usize,
        b: usize,
        device: &Device,
    ) -> Result<Self> {
        let expected = batch * p * b;
        if bytes.len() != expected {
            return Err(ModelError::InputLength {
                expected,
                got: bytes.len(),
            });
        }
        let bytes = Tensor::from_slice(bytes, (batch, p, b), device)?;
        Ok(ModelInput { bytes })
    }

    /// Wraps an existing u8 tensor `[batch, P, B]`. Float tensors are refused:
    /// whether they hold 0..=255 or 0..=1 would be a guess.
    pub fn from_tensor(bytes: Tensor) -> Result<Self> {
        if bytes.dtype() != DType::U8 || bytes.rank() != 3 {
            return Err(ModelError::InputTensor {
                dtype: bytes.dtype().as_str().to_string(),
                dims: bytes.dims().to_vec(),
            });
        }
        Ok(ModelInput { bytes })
    }

    /// `(batch, P, B)`.
    pub fn dims(&self) -> (usize, usize, usize) {
        let d = self.bytes.dims();
        (d[0], d[1], d[2])
    }

    /// The raw bytes, u8 `[batch, P, B]`.
    pub fn bytes(&self) -> &Tensor {
        &self.bytes
    }

    /// f32 `[batch, P, B]`, byte / 255, for CNN, LSTM and SAE.
    pub fn scaled(&self) -> Result<Tensor> {
        Ok(self.bytes.to_dtype(DType::F32)?.affine(1.0 / 255.0, 0.0)?)
    }

    /// u32 `[batch, P, B]` byte values 0..=255, HAN's embedding ids.
    pub fn ids(&self) -> Result<Tensor> {
        Ok(self.bytes.to_dtype(DType::U32)?)
    }
}

/// f32 `[batch, p, b]` scaled to [0, 1] (byte / 255): CNN, LSTM and SAE input.
pub fn input_tensor(
    bytes: &[u8],
    batch: usize,
    p: usize,
    b: usize,
    device: &Device,
) -> Result<Tensor> {
    ModelInput::from_bytes(bytes, batch, p, b, device)?.scaled()
}

/// u32 `[batch, p, b]` byte values: HAN's embedding ids.
pub fn input_ids(
    bytes: &[u8],
    batch: usize,
    p: usize,
    b: usize,
    device: &Device,
) -> Result<Tensor> {
    ModelInput::from_bytes(bytes, batch, p, b, device)?.ids()
}

/// 1.0 for real packets, 0.0 for padding (all-zero) packet rows.
///
/// # Shapes
/// - `x`: `[batch, P, B]`, any dtype whose zero is byte 0 (u32 ids or scaled f32)
/// - returns f32 `[batch, P]`
pub(crate) fn packet_mask(x: &Tensor) -> candle_core::Result<Tensor> {
    // Bytes are >= 0, so a row's max is 0 exactly when the row is all zero.
    x.max(2)? // [batch, P]
        .gt(0.0)? // [batch, P] u8
        .to_dtype(DType::F32)
}
