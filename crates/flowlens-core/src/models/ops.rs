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
//! - [`gru_sequence`]: a bidirectional GRU's whole recurrence (the `W_hh h`
//!   products and the gates of every step) in one op, with a hand-written
//!   backward pass through time.
//! - [`max_pool2d`]: candle's CPU max-pool indexes every element through its
//!   strides; this one walks whole rows (the CNN's second-largest cost).
//!
//! All have backward passes, so the trainer
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
        // The gradient of each window goes to its maximum, split evenly on
        // ties. A tie has no gradient, only one-sided slopes, so any rule is
        // a choice; never give every tied element all of it (candle's max
        // does), which multiplies it. In the CNN ties come from blocks of
        // zero bytes (padding packets, zeroed addresses, zero fields): the
        // convolution's exact zeros there, and the equal values the next
        // layer computes from them. They change the gradient only at zero
        // inputs, which gradient x input and integrated gradients multiply
        // by zero (see explain's finite-difference test).
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

/// A whole single-layer GRU recurrence, both directions, in one op, with
/// PyTorch's equations and the hidden bias `b_hh = [b_hr, b_hz, b_hn]`
/// carried in the step input:
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
/// (`b_hn` cannot join `x_n`: it sits inside `r * (..)`.) Forward and
/// backward (backpropagation through time, hand-written) each make one pass
/// over the sequence; a step written with candle ops costs ~10 ops forward
/// and ~30 backward on tiny `[2, N, H]` tensors, plus full-size gradient
/// buffers for every slice, which is what made HAN training slow.
///
/// Inputs: `x` `[T, 2, N, 4H]` (the reverse direction already reversed in
/// time), `w` `[2, H, 3H]` (`W_hh^T` per direction). Output `[N, T, 2H]` as
/// PyTorch's: forward states, then reverse states, both at the input
/// position they belong to. With `keep_gates` the forward pass also keeps
/// `r, z, n, g_n + b_hn` of every step (`[T, 2, N, 4H]`) for the backward
/// pass; it is set only when a gradient can flow.
struct GruSeq {
    keep_gates: bool,
    gates: std::sync::OnceLock<Vec<f32>>,
}

/// Dims of the [`GruSeq`] inputs, checked: `(T, N, H)`.
fn gru_seq_dims(
    l_x: &Layout,
    l_w: &Layout,
    op: &str,
) -> candle_core::Result<(usize, usize, usize)> {
    let (t, dirs, n, four_h) = l_x.shape().dims4()?;
    let (w_dirs, h, three_h) = l_w.shape().dims3()?;
    if dirs != 2 || w_dirs != 2 || h == 0 || four_h != 4 * h || three_h != 3 * h {
        return Err(candle_core::Error::Msg(format!(
            "{op}: inputs {:?} and {:?} are not [T, 2, N, 4H] and [2, H, 3H]",
            l_x.dims(),
            l_w.dims()
        )));
    }
    Ok((t, n, h))
}

/// Where the state of direction `d` after step `t` sits in the `[N, T, 2H]`
/// output, for row `i`: the offset of its `H` values.
#[inline(always)]
fn state_at(i: usize, d: usize, t: usize, t_len: usize, h: usize) -> usize {
    let pos = if d == 0 { t } else { t_len - 1 - t };
    (i * t_len + pos) * 2 * h + d * h
}

/// `g[j] = sum_k h[k] * w[k][j]` for `w` `[H, 3H]` row-major.
#[inline(always)]
fn row_times_matrix(h: &[f32], w: &[f32], g: &mut [f32]) {
    g.iter_mut().for_each(|v| *v = 0.0);
    for (&hk, w_row) in h.iter().zip(w.chunks_exact(g.len())) {
        for (gj, &wkj) in g.iter_mut().zip(w_row) {
            *gj += hk * wkj;
        }
    }
}

/// The forward recurrence shared by [`GruSeq`] and [`GruSeqEmbedded`]:
/// `input(t, d, i)` is the `4H` step input of row `i`, direction `d`, step
/// `t`. Returns the `[N, T, 2H]` states and, with `keep_gates`, the gates
/// `[T, 2, N, 4H]`.
fn gru_forward<'a>(
    (t_len, n, h): (usize, usize, usize),
    w: &[f32],
    keep_gates: bool,
    input: impl Fn(usize, usize, usize) -> &'a [f32],
) -> (Vec<f32>, Vec<f32>) {
    let mut out = vec![0f32; n * t_len * 2 * h];
    let mut gates = if keep_gates {
        vec![0f32; t_len * 2 * n * 4 * h]
    } else {
        Vec::new()
    };
    let mut g = vec![0f32; 3 * h];
    let mut h_prev = vec![0f32; h];
    for t in 0..t_len {
        for d in 0..2 {
            let w_d = &w[d * 3 * h * h..(d + 1) * 3 * h * h];
            for i in 0..n {
                let row = (t * 2 + d) * n + i;
                match t {
                    0 => h_prev.fill(0.0),
                    _ => h_prev.copy_from_slice(&out[state_at(i, d, t - 1, t_len, h)..][..h]),
                }
                let xs = input(t, d, i);
                row_times_matrix(&h_prev, w_d, &mut g);
                let o = &mut out[state_at(i, d, t, t_len, h)..][..h];
                for j in 0..h {
                    let r = sigmoid_f32(xs[j] + g[j]);
                    let z = sigmoid_f32(xs[h + j] + g[h + j]);
                    let gnb = g[2 * h + j] + xs[3 * h + j];
                    let nn = tanh_f32(xs[2 * h + j] + r * gnb);
                    o[j] = nn + z * (h_prev[j] - nn);
                    if keep_gates {
                        let kept = &mut gates[row * 4 * h..][..4 * h];
                        kept[j] = r;
                        kept[h + j] = z;
                        kept[2 * h + j] = nn;
                        kept[3 * h + j] = gnb;
                    }
                }
            }
        }
    }
    (out, gates)
}

/// Backpropagation through time, shared by both GRU ops: from the states
/// `out` `[N, T, 2H]`, their gradient `d_out` (same shape), the kept gates
/// `[T, 2, N, 4H]` and `w` `[2, H, 3H]`, calls `on_d_input(t, d, i, dx)`
/// with the `4H` gradient of every step input and returns that of `w`.
fn gru_backward(
    (t_len, n, h): (usize, usize, usize),
    out: &[f32],
    d_out: &[f32],
    gates: &[f32],
    w: &[f32],
    mut on_d_input: impl FnMut(usize, usize, usize, &[f32]),
) -> Vec<f32> {
    let mut d_w = vec![0f32; 2 * h * 3 * h];
    let mut carry = vec![0f32; 2 * n * h]; // dL/dh flowing back from step t + 1
    let mut dh = vec![0f32; h];
    let mut dx = vec![0f32; 4 * h];
    let mut d_g = vec![0f32; 3 * h];
    let zeros = vec![0f32; h];
    // W^T per direction, [3H, H].
    let w_t: Vec<Vec<f32>> = (0..2)
        .map(|d| {
            let w_d = &w[d * 3 * h * h..(d + 1) * 3 * h * h];
            (0..3 * h)
                .flat_map(|j| (0..h).map(move |k| w_d[k * 3 * h + j]))
                .collect()
        })
        .collect();
    for t in (0..t_len).rev() {
        for d in 0..2 {
            let d_w_d = &mut d_w[d * 3 * h * h..(d + 1) * 3 * h * h];
            for i in 0..n {
                let row = (t * 2 + d) * n + i;
                let f = &gates[row * 4 * h..][..4 * h];
                let (r, z, nn, gnb) = (&f[..h], &f[h..2 * h], &f[2 * h..3 * h], &f[3 * h..]);
                let c = &mut carry[(d * n + i) * h..][..h];
                let ds = &d_out[state_at(i, d, t, t_len, h)..][..h];
                for j in 0..h {
                    dh[j] = ds[j] + c[j];
                }
                let h_prev = match t {
                    0 => zeros.as_slice(),
                    _ => &out[state_at(i, d, t - 1, t_len, h)..][..h],
                };
                for j in 0..h {
                    // h' = n + z (h - n); n = tanh(a_n), a_n = x_n + r (g_n + b_hn)
                    let d_n = dh[j] * (1.0 - z[j]);
                    let d_z = dh[j] * (h_prev[j] - nn[j]);
                    let d_a_n = d_n * (1.0 - nn[j] * nn[j]);
                    let d_r = d_a_n * gnb[j];
                    dx[j] = d_r * r[j] * (1.0 - r[j]); // d a_r
                    dx[h + j] = d_z * z[j] * (1.0 - z[j]); // d a_z
                    dx[2 * h + j] = d_a_n;
                    dx[3 * h + j] = d_a_n * r[j]; // d g_n, also d b_hn
                    c[j] = dh[j] * z[j];
                }
                // g = h_prev W with d_g = [d a_r, d a_z, d g_n]:
                // carry += W d_g, dW += h_prev (outer) d_g; both written as
                // sums of scaled rows so that they vectorise.
                d_g[..2 * h].copy_from_slice(&dx[..2 * h]);
                d_g[2 * h..].copy_from_slice(&dx[3 * h..]);
                for (&dgj, wt_row) in d_g.iter().zip(w_t[d].chunks_exact(h)) {
                    for (ck, &w) in c.iter_mut().zip(wt_row) {
                        *ck += dgj * w;
                    }
                }
                for (&hk, d_w_row) in h_prev.iter().zip(d_w_d.chunks_exact_mut(3 * h)) {
                    for (dw, &dgj) in d_w_row.iter_mut().zip(&d_g) {
                        *dw += hk * dgj;
                    }
                }
                on_d_input(t, d, i, &dx);
            }
        }
    }
    d_w
}

/// The gates the forward pass kept, or an error.
fn kept_gates<'a>(
    gates: &'a std::sync::OnceLock<Vec<f32>>,
    op: &str,
) -> candle_core::Result<&'a [f32]> {
    gates.get().map(Vec::as_slice).ok_or_else(|| {
        candle_core::Error::Msg(format!("{op}: backward without the forward's gates"))
    })
}

/// Keeps the forward's gates in the op for its backward pass.
fn keep(
    slot: &std::sync::OnceLock<Vec<f32>>,
    keep_gates: bool,
    gates: Vec<f32>,
    op: &str,
) -> candle_core::Result<()> {
    if keep_gates && slot.set(gates).is_err() {
        return Err(candle_core::Error::Msg(format!(
            "{op}: one op value ran forward twice"
        )));
    }
    Ok(())
}

impl CustomOp2 for GruSeq {
    fn name(&self) -> &'static str {
        "flowlens-gru-seq"
    }

    fn cpu_fwd(
        &self,
        s_x: &CpuStorage,
        l_x: &Layout,
        s_w: &CpuStorage,
        l_w: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (t_len, n, h) = gru_seq_dims(l_x, l_w, self.name())?;
        let x = contiguous_f32(s_x, l_x, self.name())?;
        let w = contiguous_f32(s_w, l_w, self.name())?;
        let (out, gates) = gru_forward((t_len, n, h), w, self.keep_gates, |t, d, i| {
            &x[((t * 2 + d) * n + i) * 4 * h..][..4 * h]
        });
        keep(&self.gates, self.keep_gates, gates, self.name())?;
        Ok((CpuStorage::F32(out), Shape::from((n, t_len, 2 * h))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        res: &Tensor,
        d_res: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let (t_len, _, n, four_h) = x.dims4()?;
        let dims = (t_len, n, four_h / 4);
        let gates = kept_gates(&self.gates, self.name())?;
        let (out, d_out, w) = (
            res.flatten_all()?.to_vec1::<f32>()?,
            d_res.flatten_all()?.to_vec1::<f32>()?,
            w.flatten_all()?.to_vec1::<f32>()?,
        );
        let mut d_x = vec![0f32; t_len * 2 * n * four_h];
        let d_w = gru_backward(dims, &out, &d_out, gates, &w, |t, d, i, dx| {
            d_x[((t * 2 + d) * n + i) * four_h..][..four_h].copy_from_slice(dx)
        });
        let h = dims.2;
        Ok((
            Some(Tensor::from_vec(d_x, (t_len, 2, n, four_h), x.device())?),
            Some(Tensor::from_vec(d_w, (2, h, 3 * h), x.device())?),
        ))
    }
}

/// [`GruSeq`] over byte ids: the step input of id `v` is row `v` (forward
/// direction) or `V + v` (reverse) of a `[2V, 4H]` table, so the `[T, 2, N,
/// 4H]` inputs (and their gradient) never exist; the backward pass adds
/// each step's input gradient into the table's rows.
///
/// Inputs: `table` `[2V, 4H]`, `ids` u32 `[N, T]` (each `< V`), `w` `[2, H, 3H]`.
/// Output `[N, T, 2H]` as [`GruSeq`]'s.
struct GruSeqEmbedded {
    keep_gates: bool,
    gates: std::sync::OnceLock<Vec<f32>>,
}

impl CustomOp3 for GruSeqEmbedded {
    fn name(&self) -> &'static str {
        "flowlens-gru-seq-embedded"
    }

    fn cpu_fwd(
        &self,
        s_table: &CpuStorage,
        l_table: &Layout,
        s_ids: &CpuStorage,
        l_ids: &Layout,
        s_w: &CpuStorage,
        l_w: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let table = contiguous_f32(s_table, l_table, self.name())?;
        let w = contiguous_f32(s_w, l_w, self.name())?;
        let ids = match s_ids {
            CpuStorage::U32(ids) => match l_ids.contiguous_offsets() {
                Some((a, b)) => &ids[a..b],
                None => {
                    return Err(candle_core::Error::Msg(format!(
                        "{}: ids must be contiguous",
                        self.name()
                    )))
                }
            },
            other => {
                return Err(candle_core::Error::UnsupportedDTypeForOp(
                    other.dtype(),
                    self.name(),
                ))
            }
        };
        let (n, t_len) = l_ids.shape().dims2()?;
        let (rows, four_h) = l_table.shape().dims2()?;
        let (_, h, _) = l_w.shape().dims3()?;
        let vocab = rows / 2;
        if rows != 2 * vocab || four_h != 4 * h || l_w.dims() != [2, h, 3 * h] || h == 0 {
            return Err(candle_core::Error::Msg(format!(
                "{}: inputs {:?} and {:?} are not [2V, 4H] and [2, H, 3H]",
                self.name(),
                l_table.dims(),
                l_w.dims()
            )));
        }
        if let Some(&id) = ids.iter().find(|&&id| id as usize >= vocab) {
            return Err(candle_core::Error::Msg(format!(
                "{}: byte id {id} is not below {vocab}",
                self.name()
            )));
        }
        let (out, gates) = gru_forward((t_len, n, h), w, self.keep_gates, |t, d, i| {
            let table_row = match d {
                0 => ids[i * t_len + t] as usize,
                _ => vocab + ids[i * t_len + t_len - 1 - t] as usize,
            };
            &table[table_row * 4 * h..][..4 * h]
        });
        keep(&self.gates, self.keep_gates, gates, self.name())?;
        Ok((CpuStorage::F32(out), Shape::from((n, t_len, 2 * h))))
    }

    fn bwd(
        &self,
        table: &Tensor,
        ids: &Tensor,
        w: &Tensor,
        res: &Tensor,
        d_res: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (n, t_len) = ids.dims2()?;
        let (rows, four_h) = table.dims2()?;
        let (h, vocab) = (four_h / 4, rows / 2);
        let gates = kept_gates(&self.gates, self.name())?;
        let (ids, out, d_out, w) = (
            ids.flatten_all()?.to_vec1::<u32>()?,
            res.flatten_all()?.to_vec1::<f32>()?,
            d_res.flatten_all()?.to_vec1::<f32>()?,
            w.flatten_all()?.to_vec1::<f32>()?,
        );
        let mut d_table = vec![0f32; rows * four_h];
        let d_w = gru_backward((t_len, n, h), &out, &d_out, gates, &w, |t, d, i, dx| {
            let table_row = match d {
                0 => ids[i * t_len + t] as usize,
                _ => vocab + ids[i * t_len + t_len - 1 - t] as usize,
            };
            for (acc, &g) in d_table[table_row * four_h..][..four_h].iter_mut().zip(dx) {
                *acc += g;
            }
        });
        Ok((
            Some(Tensor::from_vec(d_table, (rows, four_h), table.device())?),
            None,
            Some(Tensor::from_vec(d_w, (2, h, 3 * h), table.device())?),
        ))
    }
}

/// A whole bidirectional GRU recurrence in one op (see [`GruSeq`]).
///
/// # Shapes
/// - `x`: `[T, 2, N, 4H]`, step inputs with the hidden bias folded in (see
///   [`GruSeq`]), the reverse direction's reversed in time
/// - `w`: `[2, H, 3H]`, `W_hh^T` of each direction
/// - returns `[N, T, 2H]`: forward states, then reverse states, both aligned
///   with the input positions (step `s` of the reverse direction is input
///   position `T - 1 - s`)
pub fn gru_sequence(x: &Tensor, w: &Tensor) -> candle_core::Result<Tensor> {
    if x.dtype() != DType::F32 || w.dtype() != DType::F32 {
        return Err(candle_core::Error::UnsupportedDTypeForOp(
            x.dtype(),
            "flowlens-gru-seq",
        ));
    }
    let op = GruSeq {
        keep_gates: x.track_op() || w.track_op(),
        gates: std::sync::OnceLock::new(),
    };
    x.contiguous()?.apply_op2(&w.contiguous()?, op)
}

/// [`gru_sequence`] over byte ids looked up in a table of step inputs (see
/// [`GruSeqEmbedded`]): equals `gru_sequence` of the `[T, 2, N, 4H]` inputs
/// `table[ids]` (forward) and `table[V + reversed ids]` (reverse).
///
/// # Shapes
/// - `table`: `[2V, 4H]`, rows `0..V` the forward direction's step input
///   per id, rows `V..2V` the reverse direction's
/// - `ids`: u32 `[N, T]`, each `< V`
/// - `w`: `[2, H, 3H]`
/// - returns `[N, T, 2H]`
pub fn gru_sequence_embedded(
    table: &Tensor,
    ids: &Tensor,
    w: &Tensor,
) -> candle_core::Result<Tensor> {
    if table.dtype() != DType::F32 || w.dtype() != DType::F32 {
        return Err(candle_core::Error::UnsupportedDTypeForOp(
            table.dtype(),
            "flowlens-gru-seq-embedded",
        ));
    }
    let op = GruSeqEmbedded {
        keep_gates: table.track_op() || w.track_op(),
        gates: std::sync::OnceLock::new(),
    };
    table
        .contiguous()?
        .apply_op3(&ids.contiguous()?, &w.contiguous()?, op)
}
