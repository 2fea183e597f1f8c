//! Fused and approximated CPU ops for the HAN's hot loop.
//!
//! candle's `tanh` and `candle_nn::ops::sigmoid` call scalar `tanhf`/`expf`
//! per element, and a GRU step written with tensor ops makes about ten
//! passes over memory. The HAN spends most of its time there (three
//! activations per hidden unit per byte per direction), so this module has:
//!
//! - [`tanh`]: a rational approximation (Eigen's `ptanh_float`, max. error
//!   a few ulp), branch-free so the compiler vectorises it (also with wasm
//!   `simd128`); `sigmoid(x) = 0.5 + 0.5 tanh(x / 2)` uses it too.
//! - [`gru_gates`]: the elementwise half of a GRU step in one pass.
//! - [`max_pool2d`]: candle's CPU max-pool indexes every element through its
//!   strides; this one walks whole rows (the CNN's second-largest cost).
//!
//! Both have backward passes (through ordinary tensor ops), so the trainer
//! trains through exactly the functions the browser runs. CPU only: on other
//! devices they return candle's "no cuda/metal implementation" error.

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp1, CustomOp2, CustomOp3, DType, Layout, Shape, Tensor};

/// Inputs beyond this are clamped: `tanh(7.905)` rounds to 1 in f32.
const CLAMP: f32 = 7.905_311;
const ALPHA: [f32; 7] = [
    4.893_524_6e-3,
    6.372_619_3e-4,
    1.485_722_4e-5,
    5.122_297e-8,
    -8.604_672e-11,
    2.000_188e-13,
    -2.760_768_5e-16,
];
const BETA: [f32; 4] = [4.893_525e-3, 2.268_434_6e-3, 1.185_347_1e-4, 1.198_258_4e-6];

/// `tanh(x)` to within a few ulp, without branches or libm.
#[inline(always)]
pub(crate) fn tanh_f32(x: f32) -> f32 {
    let x = x.clamp(-CLAMP, CLAMP);
    let x2 = x * x;
    let p = ALPHA[6];
    let p = p * x2 + ALPHA[5];
    let p = p * x2 + ALPHA[4];
    let p = p * x2 + ALPHA[3];
    let p = p * x2 + ALPHA[2];
    let p = p * x2 + ALPHA[1];
    let p = p * x2 + ALPHA[0];
    let p = p * x;
    let q = BETA[3];
    let q = q * x2 + BETA[2];
    let q = q * x2 + BETA[1];
    let q = q * x2 + BETA[0];
    p / q
}

#[inline(always)]
pub(crate) fn sigmoid_f32(x: f32) -> f32 {
    0.5 + 0.5 * tanh_f32(0.5 * x)
}

/// The contiguous f32 data of a CPU storage, or an error.
fn contiguous_f32<'a>(
    storage: &'a CpuStorage,
    layout: &Layout,
    op: &'static str,
) -> candle_core::Result<&'a [f32]> {
    let data = match storage {
        CpuStorage::F32(data) => data.as_slice(),
        other => return Err(candle_core::Error::UnsupportedDTypeForOp(other.dtype(), op)),
    };
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&data[start..end]),
        None => Err(candle_core::Error::Msg(format!(
            "{op}: input must be contiguous"
        ))),
    }
}

struct Tanh;

impl CustomOp1 for Tanh {
    fn name(&self) -> &'static str {
        "flowlens-tanh"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let x = contiguous_f32(storage, layout, self.name())?;
        let y: Vec<f32> = x.iter().map(|&v| tanh_f32(v)).collect();
        Ok((CpuStorage::F32(y), layout.shape().clone()))
    }

    fn bwd(
        &self,
        _arg: &Tensor,
        res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        // d tanh = 1 - tanh^2
        let d = res.sqr()?.affine(-1.0, 1.0)?;
        Ok(Some(grad_res.mul(&d)?))
    }
}

/// Elementwise `tanh` (approximated, see the module docs); f32, CPU.
pub fn tanh(x: &Tensor) -> candle_core::Result<Tensor> {
    x.contiguous()?.apply_op1(Tanh)
}

/// The elementwise part of a GRU step, PyTorch's equations, with the hidden
/// bias `b_hh = [b_hr, b_hz, b_hn]` carried in the step input:
///
/// ```text
/// x = [W_ir x_t + b_ir + b_hr, W_iz x_t + b_iz + b_hz, W_in x_t + b_in, b_hn]   (4H)
/// g = [W_hr h, W_hz h, W_hn h]                                                  (3H)
/// r  = sigmoid(x_r + g_r)
/// z  = sigmoid(x_z + g_z)
/// n  = tanh(x_n + r * (g_n + b_hn))
/// h' = (1 - z) * n + z * h
/// ```
///
/// (`b_hn` cannot join `x_n`: it sits inside `r * (..)`.) Forward returns
/// `h'` only; the backward pass recomputes the gates with [`GruGateValues`]
/// (cheaper than keeping them for every step).
struct GruGates;

/// `r`, `z`, `n` of [`GruGates`], stacked: `[3, .., H]`. No backward.
struct GruGateValues;

/// The GRU ops' inputs, checked.
struct GruInputs<'a> {
    /// `[.., 4H]`.
    x: &'a [f32],
    /// `[.., 3H]`.
    g: &'a [f32],
    h_dim: usize,
    /// Dims of `[.., H]`.
    out_dims: Vec<usize>,
}

/// Checks the GRU op inputs: `x` is `[.., 4H]`, `g` `[.., 3H]`.
fn gru_inputs<'a>(
    op: &'static str,
    (s_x, l_x): (&'a CpuStorage, &Layout),
    (s_g, l_g): (&'a CpuStorage, &Layout),
) -> candle_core::Result<GruInputs<'a>> {
    let x = contiguous_f32(s_x, l_x, op)?;
    let g = contiguous_f32(s_g, l_g, op)?;
    let (dims_x, dims_g) = (l_x.dims(), l_g.dims());
    let four_h = dims_x.last().copied().unwrap_or(0);
    let h_dim = four_h / 4;
    let lead = |d: &[usize]| d[..d.len().saturating_sub(1)].to_vec();
    if h_dim == 0
        || four_h != 4 * h_dim
        || dims_g.last() != Some(&(3 * h_dim))
        || lead(dims_x) != lead(dims_g)
    {
        return Err(candle_core::Error::Msg(format!(
            "{op}: inputs {dims_x:?} and {dims_g:?} are not [.., 4H] and [.., 3H]"
        )));
    }
    let mut out_dims = lead(dims_x);
    out_dims.push(h_dim);
    Ok(GruInputs {
        x,
        g,
        h_dim,
        out_dims,
    })
}

/// Calls `f(row, j, r, z, n)` for every hidden unit `j` of every row.
#[inline(always)]
fn for_each_gate(
    x: &[f32],
    g: &[f32],
    h_dim: usize,
    mut f: impl FnMut(usize, usize, f32, f32, f32),
) {
    for (row, (xs, gs)) in x
        .chunks_exact(4 * h_dim)
        .zip(g.chunks_exact(3 * h_dim))
        .enumerate()
    {
        let (x_r, x_z) = (&xs[..h_dim], &xs[h_dim..2 * h_dim]);
        let (x_n, b_n) = (&xs[2 * h_dim..3 * h_dim], &xs[3 * h_dim..]);
        let (g_r, g_z, g_n) = (&gs[..h_dim], &gs[h_dim..2 * h_dim], &gs[2 * h_dim..]);
        for j in 0..h_dim {
            let r = sigmoid_f32(x_r[j] + g_r[j]);
            let z = sigmoid_f32(x_z[j] + g_z[j]);
            let n = tanh_f32(x_n[j] + r * (g_n[j] + b_n[j]));
            f(row, j, r, z, n);
        }
    }
}

impl CustomOp3 for GruGates {
    fn name(&self) -> &'static str {
        "flowlens-gru-gates"
    }

    fn cpu_fwd(
        &self,
        s_x: &CpuStorage,
        l_x: &Layout,
        s_g: &CpuStorage,
        l_g: &Layout,
        s_h: &CpuStorage,
        l_h: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let GruInputs {
            x,
            g,
            h_dim,
            out_dims,
        } = gru_inputs(self.name(), (s_x, l_x), (s_g, l_g))?;
        let h = contiguous_f32(s_h, l_h, self.name())?;
        if l_h.dims() != out_dims.as_slice() {
            return Err(candle_core::Error::Msg(format!(
                "{}: state {:?} does not fit inputs {:?}",
                self.name(),
                l_h.dims(),
                l_x.dims()
            )));
        }
        let mut out = vec![0f32; h.len()];
        for (row, (o, h_old)) in out
            .chunks_exact_mut(h_dim)
            .zip(h.chunks_exact(h_dim))
            .enumerate()
        {
            let x = &x[row * 4 * h_dim..(row + 1) * 4 * h_dim];
            let g = &g[row * 3 * h_dim..(row + 1) * 3 * h_dim];
            for_each_gate(x, g, h_dim, |_, j, _, z, n| {
                o[j] = n + z * (h_old[j] - n);
            });
        }
        Ok((CpuStorage::F32(out), Shape::from(out_dims)))
    }

    fn bwd(
        &self,
        x: &Tensor,
        g: &Tensor,
        h: &Tensor,
        _res: &Tensor,
        d_out: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let last = h.rank() - 1;
        let h_dim = h.dim(last)?;
        let gates = x.detach().apply_op2_no_bwd(&g.detach(), &GruGateValues)?; // [3, .., H]
        let (r, z, n) = (gates.get(0)?, gates.get(1)?, gates.get(2)?);
        // g_n + b_hn
        let g_n = (g.narrow(last, 2 * h_dim, h_dim)? + x.narrow(last, 3 * h_dim, h_dim)?)?;

        // h' = n + z * (h - n)
        let d_h = d_out.mul(&z)?;
        let d_n = d_out.mul(&z.affine(-1.0, 1.0)?)?;
        let d_z = d_out.mul(&(h - &n)?)?;
        // n = tanh(a_n), a_n = x_n + r * (g_n + b_hn)
        let d_a_n = d_n.mul(&n.sqr()?.affine(-1.0, 1.0)?)?;
        let d_r = d_a_n.mul(&g_n)?;
        let d_g_n = d_a_n.mul(&r)?; // also the gradient of b_hn
                                    // r = sigmoid(a_r), z = sigmoid(a_z)
        let d_a_r = d_r.mul(&r.mul(&r.affine(-1.0, 1.0)?)?)?;
        let d_a_z = d_z.mul(&z.mul(&z.affine(-1.0, 1.0)?)?)?;

        let d_x = Tensor::cat(&[&d_a_r, &d_a_z, &d_a_n, &d_g_n], last)?;
        let d_g = Tensor::cat(&[&d_a_r, &d_a_z, &d_g_n], last)?;
        Ok((Some(d_x), Some(d_g), Some(d_h)))
    }
}

impl CustomOp2 for GruGateValues {
    fn name(&self) -> &'static str {
        "flowlens-gru-gate-values"
    }

    fn cpu_fwd(
        &self,
        s_x: &CpuStorage,
        l_x: &Layout,
        s_g: &CpuStorage,
        l_g: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let GruInputs {
            x,
            g,
            h_dim,
            out_dims,
        } = gru_inputs(self.name(), (s_x, l_x), (s_g, l_g))?;
        let plane = x.len() / 4;
        let mut out = vec![0f32; 3 * plane];
        for_each_gate(x, g, h_dim, |row, j, r, z, n| {
            let i = row * h_dim + j;
            out[i] = r;
            out[plane + i] = z;
            out[2 * plane + i] = n;
        });
        let mut dims = vec![3];
        dims.extend(out_dims);
        Ok((CpuStorage::F32(out), Shape::from(dims)))
    }
}

/// One GRU step's gates, fused; see [`GruGates`].
///
/// # Shapes
/// - `x`: `[.., 4H]`, the step input with the hidden bias folded in
/// - `g`: `[.., 3H]`, `W_hh h` without bias
/// - `h`: `[.., H]`
/// - returns `h'`: `[.., H]`
pub fn gru_gates(x: &Tensor, g: &Tensor, h: &Tensor) -> candle_core::Result<Tensor> {
    if x.dtype() != DType::F32 {
        return Err(candle_core::Error::UnsupportedDTypeForOp(
            x.dtype(),
            "flowlens-gru-gates",
        ));
    }
    x.contiguous()?
        .apply_op3(&g.contiguous()?, &h.contiguous()?, GruGates)
}

/// Max-pooling with window = stride = `(ph, pw)`, floor semantics.
struct MaxPool {
    ph: usize,
    pw: usize,
}

impl CustomOp1 for MaxPool {
    fn name(&self) -> &'static str {
        "flowlens-max-pool"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let data = match storage {
            CpuStorage::F32(data) => data.as_slice(),
            other => {
                return Err(candle_core::Error::UnsupportedDTypeForOp(
                    other.dtype(),
                    self.name(),
                ))
            }
        };
        let (batch, c, h, w) = layout.shape().dims4()?;
        let stride = layout.stride();
        let (ph, pw) = (self.ph, self.pw);
        if stride[3] != 1 || ph == 0 || pw == 0 || h < ph || w < pw {
            return Err(candle_core::Error::Msg(format!(
                "{}: cannot pool {:?} (strides {stride:?}) by {ph} x {pw}",
                self.name(),
                layout.dims()
            )));
        }
        let (h_out, w_out) = (h / ph, w / pw);
        let mut out = Vec::with_capacity(batch * c * h_out * w_out);
        for b in 0..batch {
            for ch in 0..c {
                let plane = layout.start_offset() + b * stride[0] + ch * stride[1];
                for i in 0..h_out {
                    let start = out.len();
                    let row = |m: usize| {
                        let at = plane + (i * ph + m) * stride[2];
                        &data[at..at + w_out * pw]
                    };
                    out.extend(
                        row(0)
                            .chunks_exact(pw)
                            .map(|win| win.iter().copied().fold(f32::NEG_INFINITY, f32::max)),
                    );
                    for m in 1..ph {
                        for (o, win) in out[start..].iter_mut().zip(row(m).chunks_exact(pw)) {
                            *o = win.iter().copied().fold(*o, f32::max);
                        }
                    }
                }
            }
        }
        Ok((CpuStorage::F32(out), Shape::from((batch, c, h_out, w_out))))
    }

    fn bwd(
        &self,
        arg: &Tensor,
        res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        // The gradient of each window goes to its maximum, split evenly on ties.
        let (_, _, h, w) = arg.dims4()?;
        let (_, _, h_out, w_out) = res.dims4()?;
        let (h_used, w_used) = (h_out * self.ph, w_out * self.pw);
        let arg = arg.narrow(2, 0, h_used)?.narrow(3, 0, w_used)?;
        let is_max = arg
            .eq(&res.upsample_nearest2d(h_used, w_used)?)?
            .to_dtype(DType::F32)?; // [batch, c, h_used, w_used]
        let ties = (is_max.avg_pool2d((self.ph, self.pw))? * (self.ph * self.pw) as f64)?; // [batch, c, h_out, w_out], >= 1
        let grad = (grad_res / ties)?
            .upsample_nearest2d(h_used, w_used)?
            .mul(&is_max)?;
        Ok(Some(
            grad.pad_with_zeros(2, 0, h - h_used)?
                .pad_with_zeros(3, 0, w - w_used)?,
        ))
    }
}

/// Max-pooling over the last two dims with window = stride = `(ph, pw)`,
/// like `Tensor::max_pool2d`, for f32 on the CPU.
///
/// # Shapes
/// - `x`: `[batch, c, h, w]` (the last dim must have stride 1)
/// - returns `[batch, c, h / ph, w / pw]`
pub fn max_pool2d(x: &Tensor, (ph, pw): (usize, usize)) -> candle_core::Result<Tensor> {
    let x = if x.stride().last() == Some(&1) {
        x.clone()
    } else {
        x.contiguous()?
    };
    x.apply_op1(MaxPool { ph, pw })
}
