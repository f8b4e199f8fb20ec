//! Crafted GGUF files: a small GGUF writer that writes whatever header it is given, so
//! tests can build model files no honest tool writes (0-dim tensors, zero alignment,
//! metadata that disagrees with the tensors).

use std::path::Path;

use candle_core::quantized::gguf_file::{self, Value};

/// One tensor as GGUF stores it: dimensions innermost first, a GGML type id, raw bytes.
#[derive(Debug, Clone)]
pub struct RawTensor {
	pub name: String,
	pub dims: Vec<u64>,
	pub dtype: u32,
	pub data: Vec<u8>,
}

fn string(out: &mut Vec<u8>, s: &str) {
	out.extend((s.len() as u64).to_le_bytes());
	out.extend(s.as_bytes());
}

fn type_id(v: &Value) -> u32 {
	match v {
		Value::U8(_) => 0,
		Value::I8(_) => 1,
		Value::U16(_) => 2,
		Value::I16(_) => 3,
		Value::U32(_) => 4,
		Value::I32(_) => 5,
		Value::F32(_) => 6,
		Value::Bool(_) => 7,
		Value::String(_) => 8,
		Value::Array(_) => 9,
		Value::U64(_) => 10,
		Value::I64(_) => 11,
		Value::F64(_) => 12,
	}
}

fn value(out: &mut Vec<u8>, v: &Value) {
	match v {
		Value::U8(x) => out.push(*x),
		Value::I8(x) => out.push(*x as u8),
		Value::U16(x) => out.extend(x.to_le_bytes()),
		Value::I16(x) => out.extend(x.to_le_bytes()),
		Value::U32(x) => out.extend(x.to_le_bytes()),
		Value::I32(x) => out.extend(x.to_le_bytes()),
		Value::F32(x) => out.extend(x.to_le_bytes()),
		Value::Bool(x) => out.push(u8::from(*x)),
		Value::String(s) => string(out, s),
		Value::Array(items) => {
			out.extend(items.first().map_or(4, type_id).to_le_bytes());
			out.extend((items.len() as u64).to_le_bytes());
			for item in items {
				value(out, item);
			}
		},
		Value::U64(x) => out.extend(x.to_le_bytes()),
		Value::I64(x) => out.extend(x.to_le_bytes()),
		Value::F64(x) => out.extend(x.to_le_bytes()),
	}
}

/// A GGUF v3 file with exactly this header (alignment 32, tensors packed in order).
pub fn write_gguf(metadata: &[(String, Value)], tensors: &[RawTensor]) -> Vec<u8> {
	let mut out = Vec::new();
	out.extend(0x4655_4747u32.to_le_bytes());
	out.extend(3u32.to_le_bytes());
	out.extend((tensors.len() as u64).to_le_bytes());
	out.extend((metadata.len() as u64).to_le_bytes());
	for (k, v) in metadata {
		string(&mut out, k);
		out.extend(type_id(v).to_le_bytes());
		value(&mut out, v);
	}
	let mut offset = 0u64;
	for t in tensors {
		string(&mut out, &t.name);
		out.extend((t.dims.len() as u32).to_le_bytes());
		for d in &t.dims {
			out.extend(d.to_le_bytes());
		}
		out.extend(t.dtype.to_le_bytes());
		out.extend(offset.to_le_bytes());
		offset += (t.data.len() as u64).div_ceil(32) * 32;
	}
	while out.len() % 32 != 0 {
		out.push(0);
	}
	for t in tensors {
		out.extend(&t.data);
		while out.len() % 32 != 0 {
			out.push(0);
		}
	}
	out
}

/// The metadata and raw tensors of the (trusted, locally written) GGUF at `path`.
pub fn read_raw(path: &Path) -> (Vec<(String, Value)>, Vec<RawTensor>) {
	let bytes = std::fs::read(path).unwrap();
	let ct = gguf_file::Content::read(&mut std::io::Cursor::new(&bytes)).unwrap();
	let mut metadata: Vec<(String, Value)> = ct.metadata.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
	metadata.sort_by(|a, b| a.0.cmp(&b.0));
	let mut tensors: Vec<RawTensor> = ct
		.tensor_infos
		.iter()
		.map(|(name, info)| {
			let elements = info.shape.elem_count();
			let len = elements / info.ggml_dtype.block_size() * info.ggml_dtype.type_size();
			let start = (ct.tensor_data_offset + info.offset) as usize;
			let dtype = tessera_miner::gguf_header::dtype_id(info.ggml_dtype);
			RawTensor { name: name.clone(), dims: info.shape.dims().iter().rev().map(|&d| d as u64).collect(), dtype, data: bytes[start..start + len].to_vec() }
		})
		.collect();
	tensors.sort_by(|a, b| a.name.cmp(&b.name));
	(metadata, tensors)
}

/// Rewrites the GGUF at `src` after `edit` changes its metadata and tensors.
pub fn craft(src: &Path, edit: impl FnOnce(&mut Vec<(String, Value)>, &mut Vec<RawTensor>)) -> Vec<u8> {
	let (mut metadata, mut tensors) = read_raw(src);
	edit(&mut metadata, &mut tensors);
	write_gguf(&metadata, &tensors)
}
