//! A safetensors file as parts, and the structural mutations the `weights`
//! target applies to a real one.
//!
//! Layout (<https://github.com/huggingface/safetensors>):
//! `[u64 LE n][n bytes of JSON header][data]`, the header mapping each
//! tensor name to `{"dtype", "shape", "data_offsets": [start, end]}`
//! (relative to the data) plus an optional `__metadata__` of strings.
//!
//! The fuzz input is read as a program of mutations ([`mutate`]): change a
//! tensor's dtype (the label only, or converting its data), its shape (with
//! or without resizing its data), its data offsets, its name; drop or
//! duplicate tensors; set weights to tame or wild values; change the
//! metadata; then overwrite or cut bytes of the written file or lie in its
//! header length. Each step changes one thing of a file the loader accepts,
//! which random bytes would almost never reach.

use serde_json::Value;

use crate::fixtures::Bytes;

/// The dtypes of the safetensors format, and a few names it does not have.
pub const DTYPES: &[&str] = &[
    "F32", "F16", "BF16", "F64", "I64", "I32", "I16", "I8", "U8", "U16", "U32", "U64", "BOOL",
    "F8_E4M3", "F8_E5M2", "F6_E2M3", "F4", "E8M0", "f32", "", "C64",
];

/// One tensor of the file.
#[derive(Debug, Clone)]
pub struct Tensor {
    pub name: String,
    pub dtype: String,
    pub shape: Vec<u64>,
    pub data: Vec<u8>,
    /// Written instead of the computed `data_offsets` when set.
    pub offsets: Option<[u64; 2]>,
}

/// A parsed file; [`File::to_bytes`] writes it back.
#[derive(Debug, Clone)]
pub struct File {
    pub metadata: Option<Value>,
    /// In data order.
    pub tensors: Vec<Tensor>,
}

/// Edits of the written bytes, applied after [`File::to_bytes`].
#[derive(Debug, Clone, Copy)]
pub enum Post {
    /// Byte at (position mod length) set to the value.
    Poke(u32, u8),
    /// Keep (length - n mod length) bytes.
    Cut(u32),
    /// The header length field set to a value.
    HeaderLen(u64),
}

fn dtype_size(dtype: &str) -> Option<usize> {
    Some(match dtype {
        "F64" | "I64" | "U64" => 8,
        "F32" | "I32" | "U32" => 4,
        "F16" | "BF16" | "I16" | "U16" => 2,
        "I8" | "U8" | "BOOL" | "F8_E4M3" | "F8_E5M2" => 1,
        _ => return None,
    })
}

impl File {
    /// Parses a well-formed file (the published weights); `None` otherwise.
    pub fn parse(bytes: &[u8]) -> Option<File> {
        let n = u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?) as usize;
        let header: serde_json::Map<String, Value> =
            serde_json::from_slice(bytes.get(8..8usize.checked_add(n)?)?).ok()?;
        let data = &bytes[8 + n..];
        let mut metadata = None;
        let mut tensors = Vec::new();
        for (name, info) in header {
            if name == "__metadata__" {
                metadata = Some(info);
                continue;
            }
            let offsets = info.get("data_offsets")?.as_array()?;
            let start = offsets.first()?.as_u64()? as usize;
            let end = offsets.get(1)?.as_u64()? as usize;
            tensors.push((
                start,
                Tensor {
                    name,
                    dtype: info.get("dtype")?.as_str()?.to_string(),
                    shape: info
                        .get("shape")?
                        .as_array()?
                        .iter()
                        .map(Value::as_u64)
                        .collect::<Option<_>>()?,
                    data: data.get(start..end)?.to_vec(),
                    offsets: None,
                },
            ));
        }
        tensors.sort_by_key(|(start, _)| *start);
        Some(File {
            metadata,
            tensors: tensors.into_iter().map(|(_, t)| t).collect(),
        })
    }

    /// The file's bytes: header (keys in tensor order, duplicates kept,
    /// space-padded to 8 bytes), then the tensors' data one after another.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut header = String::from("{");
        let mut first = true;
        let mut sep = |h: &mut String| {
            if !first {
                h.push(',');
            }
            first = false;
        };
        if let Some(m) = &self.metadata {
            sep(&mut header);
            header.push_str("\"__metadata__\":");
            header.push_str(&m.to_string());
        }
        let mut at = 0u64;
        for t in &self.tensors {
            let len = t.data.len() as u64;
            let [start, end] = t.offsets.unwrap_or([at, at + len]);
            at += len;
            sep(&mut header);
            header.push_str(&Value::from(t.name.as_str()).to_string());
            header.push_str(&format!(
                ":{{\"dtype\":{},\"shape\":{},\"data_offsets\":[{start},{end}]}}",
                Value::from(t.dtype.as_str()),
                Value::from(t.shape.clone())
            ));
        }
        header.push('}');
        let mut header = header.into_bytes();
        header.resize(header.len().div_ceil(8) * 8, b' ');
        let mut out = Vec::with_capacity(8 + header.len() + at as usize);
        out.extend_from_slice(&(header.len() as u64).to_le_bytes());
        out.extend_from_slice(&header);
        for t in &self.tensors {
            out.extend_from_slice(&t.data);
        }
        out
    }
}

/// Applies `post` to written bytes.
pub fn apply_post(bytes: &mut Vec<u8>, post: &[Post]) {
    for p in post {
        match *p {
            Post::Poke(at, v) => {
                if !bytes.is_empty() {
                    let i = at as usize % bytes.len();
                    bytes[i] = v;
                }
            }
            Post::Cut(n) => {
                if !bytes.is_empty() {
                    let keep = bytes.len() - n as usize % bytes.len();
                    bytes.truncate(keep);
                }
            }
            Post::HeaderLen(v) => {
                if bytes.len() >= 8 {
                    bytes[..8].copy_from_slice(&v.to_le_bytes());
                }
            }
        }
    }
}

/// Most mutations one input applies.
const MAX_STEPS: usize = 24;

/// Values a dimension is set to: edge cases, then small numbers.
fn dim_value(r: &mut Bytes, old: u64) -> u64 {
    match r.u8() {
        0 => 0,
        1 => old.wrapping_add(1),
        2 => old.saturating_sub(1),
        3 => old.wrapping_mul(2),
        4 => 1 << 31,
        5 => 1 << 32,
        6 => 1 << 62,
        7 => u64::MAX,
        8 => u64::from(u32::MAX),
        9 => (usize::MAX / 4) as u64 + 1,
        v => u64::from(v - 10),
    }
}

/// A tame weight: multiples of 1/8 in [-16, 16).
fn tame(r: &mut Bytes) -> f32 {
    f32::from(r.u8() as i8) / 8.0
}

fn wild(r: &mut Bytes) -> f32 {
    match r.u8() % 10 {
        0 => f32::NAN,
        1 => f32::INFINITY,
        2 => f32::NEG_INFINITY,
        3 => f32::MAX,
        4 => -f32::MAX,
        5 => 1e20,
        6 => f32::MIN_POSITIVE / 2.0,
        7 => -0.0,
        8 => 65_504.0 * 2.0,
        _ => r.f32(),
    }
}

/// f32 to IEEE half, rounding toward zero (overflow: infinity).
fn f16_bits(v: f32) -> u16 {
    let b = v.to_bits();
    let sign = ((b >> 16) & 0x8000) as u16;
    let exp = ((b >> 23) & 0xff) as i32;
    let man = b & 0x7f_ffff;
    if exp == 0xff {
        return sign | 0x7c00 | if man != 0 { 0x200 } else { 0 };
    }
    let e = exp - 127 + 15;
    if e >= 0x1f {
        sign | 0x7c00
    } else if e <= 0 {
        sign
    } else {
        sign | ((e as u16) << 10) | (man >> 13) as u16
    }
}

/// Re-encodes an F32 tensor's values as `dtype` (a well-formed file whose
/// tensor has another dtype).
fn convert(t: &mut Tensor, dtype: &'static str) {
    if t.dtype != "F32" {
        return;
    }
    let values: Vec<f32> = t
        .data
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let mut data = Vec::new();
    for v in values {
        match dtype {
            "F16" => data.extend_from_slice(&f16_bits(v).to_le_bytes()),
            "BF16" => data.extend_from_slice(&((v.to_bits() >> 16) as u16).to_le_bytes()),
            "F64" => data.extend_from_slice(&f64::from(v).to_le_bytes()),
            "I64" => data.extend_from_slice(&(v as i64).to_le_bytes()),
            "I32" => data.extend_from_slice(&(v as i32).to_le_bytes()),
            "U8" => data.push(v as u8),
            "BOOL" => data.push(u8::from(v != 0.0)),
            "F8_E4M3" | "F8_E5M2" => data.push((v.to_bits() >> 24) as u8),
            _ => return,
        }
    }
    t.data = data;
    t.dtype = dtype.to_string();
}

/// Resizes a tensor's data to fit `shape` (repeating its bytes), so the
/// file stays well formed with a tensor of another shape.
fn resize(t: &mut Tensor, shape: Vec<u64>) {
    let Some(size) = dtype_size(&t.dtype) else {
        return;
    };
    let Some(n) = shape
        .iter()
        .try_fold(size as u64, |acc, &d| acc.checked_mul(d))
    else {
        return;
    };
    // Keep files small: a shape this large is the offsets' job (op 2).
    if n > 8 << 20 {
        return;
    }
    let old = std::mem::take(&mut t.data);
    t.data = if old.is_empty() {
        vec![0; n as usize]
    } else {
        old.iter().copied().cycle().take(n as usize).collect()
    };
    t.shape = shape;
}

/// Reads mutations from `r` and applies them to `f`; returns the byte
/// edits to apply to the written file.
pub fn mutate(f: &mut File, r: &mut Bytes) -> Vec<Post> {
    let mut post = Vec::new();
    for _ in 0..MAX_STEPS {
        if r.is_empty() {
            break;
        }
        let op = r.u8() % 16;
        let n = f.tensors.len();
        let ti = r.index(n);
        match op {
            0 => {
                let d = DTYPES[r.index(DTYPES.len())];
                if let Some(t) = f.tensors.get_mut(ti) {
                    t.dtype = d.to_string();
                }
            }
            1 => {
                let d = DTYPES[r.index(DTYPES.len())];
                if let Some(t) = f.tensors.get_mut(ti) {
                    convert(t, d);
                }
            }
            2 => {
                let pos = r.u8() as usize;
                if let Some(t) = f.tensors.get_mut(ti) {
                    let pos = pos % (t.shape.len() + 1);
                    let old = t.shape.get(pos).copied().unwrap_or(1);
                    let v = dim_value(r, old);
                    if pos == t.shape.len() {
                        t.shape.push(v);
                    } else {
                        t.shape[pos] = v;
                    }
                }
            }
            3 => {
                let pos = r.u8() as usize;
                if let Some(t) = f.tensors.get_mut(ti) {
                    if !t.shape.is_empty() {
                        let pos = pos % t.shape.len();
                        t.shape.remove(pos);
                    }
                }
            }
            4 => {
                // Same elements, another layout: flat, reversed, or [1, ..].
                let how = r.u8() % 3;
                if let Some(t) = f.tensors.get_mut(ti) {
                    match how {
                        0 => t.shape = vec![t.shape.iter().fold(1u64, |a, &d| a.wrapping_mul(d))],
                        1 => t.shape.reverse(),
                        _ => t.shape.insert(0, 1),
                    }
                }
            }
            5 => {
                let pos = r.u8() as usize;
                let v = u64::from(r.u8() % 200);
                if let Some(t) = f.tensors.get_mut(ti) {
                    let mut shape = t.shape.clone();
                    if shape.is_empty() {
                        shape.push(v);
                    } else {
                        let pos = pos % shape.len();
                        shape[pos] = v;
                    }
                    resize(t, shape);
                }
            }
            6 => {
                if ti < n {
                    f.tensors.remove(ti);
                }
            }
            7 => {
                let how = r.u8() % 5;
                let other = r.index(n);
                let other_name = f.tensors.get(other).map(|t| t.name.clone());
                if let Some(t) = f.tensors.get_mut(ti) {
                    match how {
                        0 => t.name = other_name.unwrap_or_default(),
                        1 => t.name.push('x'),
                        2 => t.name = String::new(),
                        3 => t.name = "__metadata__".into(),
                        _ => {
                            t.name.pop();
                        }
                    }
                }
                if how == 4 && ti < n {
                    f.tensors.swap(ti, other);
                }
            }
            8 => {
                if let Some(t) = f.tensors.get(ti).cloned() {
                    let mut copy = t;
                    copy.name.push_str(".copy");
                    f.tensors.push(copy);
                }
            }
            9 => {
                let which = r.u8();
                let delta = r.u32();
                if let Some(t) = f.tensors.get_mut(ti) {
                    let mut offs = t.offsets.unwrap_or([0, t.data.len() as u64]);
                    let i = usize::from(which & 1);
                    offs[i] = match which >> 1 {
                        0 => offs[i].wrapping_add(u64::from(delta % 64)),
                        1 => offs[i].wrapping_sub(u64::from(delta % 64)),
                        2 => u64::MAX - u64::from(delta % 64),
                        3 => 1 << 62,
                        _ => u64::from(delta),
                    };
                    t.offsets = Some(offs);
                }
            }
            10 | 11 => {
                let e = r.u32() as usize;
                let v = if op == 10 { tame(r) } else { wild(r) };
                if let Some(t) = f.tensors.get_mut(ti) {
                    if t.dtype == "F32" && t.data.len() >= 4 {
                        let i = e % (t.data.len() / 4) * 4;
                        t.data[i..i + 4].copy_from_slice(&v.to_le_bytes());
                    }
                }
            }
            12 => {
                f.metadata = match r.u8() % 5 {
                    0 => None,
                    1 => Some(serde_json::json!({"format": "pt"})),
                    2 => Some(serde_json::json!(7)),
                    3 => Some(serde_json::json!({"format": {"nested": [1, 2]}})),
                    _ => Some(serde_json::json!([])),
                };
            }
            13 => post.push(Post::Poke(r.u32(), r.u8())),
            14 => post.push(Post::Cut(r.u32())),
            _ => {
                let v = match r.u8() % 6 {
                    0 => 0,
                    1 => u64::MAX,
                    2 => 1 << 32,
                    3 => 100_000_001,
                    4 => u64::from(r.u16()),
                    _ => r.u64(),
                };
                post.push(Post::HeaderLen(v));
            }
        }
    }
    post
}

/// The largest magnitude among the float weights of a file, as the loader
/// reads them (`None` if a value is not finite or the file does not load).
pub fn max_abs_weight(bytes: &[u8]) -> Option<f32> {
    let tensors = candle_core::safetensors::load_buffer(bytes, &candle_core::Device::Cpu).ok()?;
    let mut max = 0f32;
    for t in tensors.values() {
        let v = t
            .to_dtype(candle_core::DType::F32)
            .and_then(|t| t.flatten_all())
            .and_then(|t| t.to_vec1::<f32>())
            .ok()?;
        for x in v {
            if !x.is_finite() {
                return None;
            }
            max = max.max(x.abs());
        }
    }
    Some(max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;
    use flowlens_core::manifest::Architecture;
    use flowlens_core::models::Model;

    /// The mutator's starting point is the real file: parsed and written
    /// back with no mutation, it loads as the published one, and its
    /// weights are within the bound the `weights` target checks finiteness
    /// under.
    #[test]
    fn published_files_survive_parse_and_write() {
        let Some(p) = fixtures::published() else {
            eprintln!("skipped: no published models");
            return;
        };
        for arch in [
            Architecture::Cnn,
            Architecture::Lstm,
            Architecture::Sae,
            Architecture::Han,
        ] {
            let m = p.model(arch);
            let file = File::parse(&m.bytes).expect("parses");
            let bytes = file.to_bytes();
            let cfg = m.entry.config.as_ref().expect("config");
            Model::from_safetensors(cfg, &bytes, &candle_core::Device::Cpu)
                .unwrap_or_else(|e| panic!("{}: {e}", m.entry.id));
            let max = max_abs_weight(&bytes).expect("finite weights");
            assert!(
                max <= crate::targets::weights::TAME_BOUND,
                "{}: largest weight {max}",
                m.entry.id
            );
            eprintln!("{}: largest |weight| {max}", m.entry.id);
        }
    }

    #[test]
    fn f16_conversion() {
        assert_eq!(f16_bits(1.0), 0x3c00);
        assert_eq!(f16_bits(-2.0), 0xc000);
        assert_eq!(f16_bits(1e6), 0x7c00);
        assert_eq!(f16_bits(0.0), 0);
    }
}
