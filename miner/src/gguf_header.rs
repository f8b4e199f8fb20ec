//! A bounded GGUF header reader for files from peers.
//!
//! A validator audits a miner by loading the model file the miner committed, so the file
//! is hostile input. candle's own reader trusts a few fields it should not (an alignment
//! of 0 divides by zero; tensor dimensions whose product overflows; metadata arrays cost
//! ~32 bytes of memory per byte of file), so this module parses the header itself, with
//! every count, length and dimension bounded by [`HeaderLimits`] *before* anything is
//! allocated for it, and builds candle's [`gguf_file::Content`] from what it checked.
//!
//! Checked here: magic and version (GGUF v2 and v3), counts of metadata entries and
//! tensors, key and string lengths, array lengths and nesting (arrays of scalars or
//! strings only), the memory all metadata takes, the alignment (a power of two), tensor
//! names (unique), dimensions (1 to 4, each at least 1, product without overflow), data
//! types (the ones candle can load), and each tensor's bytes: aligned, inside the file,
//! not overlapping another tensor. What a model's tensors must look like is
//! [`crate::model_limits`]' job.

use std::{
	collections::HashMap,
	io::{Read, Seek, SeekFrom},
};

use candle_core::{
	quantized::{
		gguf_file::{self, Content, TensorInfo, Value, VersionedMagic},
		GgmlDType,
	},
	Shape,
};

/// Why a GGUF header was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
	/// Reading failed or the file ended inside the header.
	#[error("GGUF header: {0}")]
	Io(String),
	/// Not a GGUF file, or a version this reader does not take.
	#[error("not a GGUF file (GGUF v2 or v3): {0}")]
	Format(String),
	/// A count, length or size is over its limit.
	#[error("GGUF header: {what} is {value}, over the limit of {limit}")]
	TooLarge {
		/// What was counted.
		what: String,
		/// Its value in the file.
		value: u64,
		/// The limit.
		limit: u64,
	},
	/// A field holds a value no valid file has.
	#[error("GGUF header: {0}")]
	Invalid(String),
}

/// Bounds of a GGUF header. The defaults admit any llama model up to hundreds of
/// billions of parameters with a vocabulary of up to 2^20 tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderLimits {
	/// Most metadata entries.
	pub max_metadata: u64,
	/// Most tensors.
	pub max_tensors: u64,
	/// Longest key or tensor name, in bytes.
	pub max_key_bytes: u64,
	/// Longest string value, in bytes.
	pub max_string_bytes: u64,
	/// Most elements of one array.
	pub max_array_len: u64,
	/// Memory all metadata may take once parsed (strings, plus 32 bytes per value).
	pub max_metadata_bytes: u64,
	/// Most elements of one tensor.
	pub max_tensor_elements: u64,
}

impl Default for HeaderLimits {
	fn default() -> Self {
		Self {
			max_metadata: 4096,
			max_tensors: 8192,
			max_key_bytes: 512,
			max_string_bytes: 1 << 20,
			max_array_len: 1 << 22,
			max_metadata_bytes: 256 << 20,
			max_tensor_elements: 1 << 36,
		}
	}
}

/// Memory one parsed [`Value`] takes besides a string's bytes.
const VALUE_BYTES: u64 = 32;

/// Most dimensions of a tensor (ggml's `GGML_MAX_DIMS`).
const MAX_DIMS: u32 = 4;

/// Largest alignment accepted.
const MAX_ALIGNMENT: u64 = 1 << 16;

/// The data type with GGUF id `id`, if candle can load it.
pub fn dtype_from_id(id: u32) -> Option<GgmlDType> {
	Some(match id {
		0 => GgmlDType::F32,
		1 => GgmlDType::F16,
		2 => GgmlDType::Q4_0,
		3 => GgmlDType::Q4_1,
		6 => GgmlDType::Q5_0,
		7 => GgmlDType::Q5_1,
		8 => GgmlDType::Q8_0,
		10 => GgmlDType::Q2K,
		11 => GgmlDType::Q3K,
		12 => GgmlDType::Q4K,
		13 => GgmlDType::Q5K,
		14 => GgmlDType::Q6K,
		30 => GgmlDType::BF16,
		_ => return None,
	})
}

/// The GGUF id of `dtype` (the inverse of [`dtype_from_id`]).
pub fn dtype_id(dtype: GgmlDType) -> u32 {
	match dtype {
		GgmlDType::F32 => 0,
		GgmlDType::F16 => 1,
		GgmlDType::Q4_0 => 2,
		GgmlDType::Q4_1 => 3,
		GgmlDType::Q5_0 => 6,
		GgmlDType::Q5_1 => 7,
		GgmlDType::Q8_0 => 8,
		GgmlDType::Q8_1 => 9,
		GgmlDType::Q2K => 10,
		GgmlDType::Q3K => 11,
		GgmlDType::Q4K => 12,
		GgmlDType::Q5K => 13,
		GgmlDType::Q6K => 14,
		GgmlDType::Q8K => 15,
		GgmlDType::BF16 => 30,
	}
}

/// Bytes a tensor of `elements` elements of `dtype` takes, if `elements` fills whole
/// blocks.
pub fn tensor_bytes(dtype: GgmlDType, elements: u64) -> Option<u64> {
	let block = dtype.block_size() as u64;
	if elements % block != 0 {
		return None;
	}
	(elements / block).checked_mul(dtype.type_size() as u64)
}

struct Reader<'a, R> {
	inner: &'a mut R,
	limits: &'a HeaderLimits,
	/// Bytes of the file after the current position.
	remaining: u64,
	/// Memory the metadata parsed so far takes.
	metadata_bytes: u64,
}

fn too_large(what: impl Into<String>, value: u64, limit: u64) -> HeaderError {
	HeaderError::TooLarge { what: what.into(), value, limit }
}

impl<R: Read> Reader<'_, R> {
	fn bytes<const N: usize>(&mut self) -> Result<[u8; N], HeaderError> {
		if self.remaining < N as u64 {
			return Err(HeaderError::Io("the file ends inside the header".into()));
		}
		let mut buf = [0u8; N];
		self.inner.read_exact(&mut buf).map_err(|e| HeaderError::Io(e.to_string()))?;
		self.remaining -= N as u64;
		Ok(buf)
	}

	fn u32(&mut self) -> Result<u32, HeaderError> {
		Ok(u32::from_le_bytes(self.bytes()?))
	}

	fn u64(&mut self) -> Result<u64, HeaderError> {
		Ok(u64::from_le_bytes(self.bytes()?))
	}

	/// Counts `bytes` of parsed metadata against the limit.
	fn charge(&mut self, bytes: u64) -> Result<(), HeaderError> {
		self.metadata_bytes = self.metadata_bytes.saturating_add(bytes);
		if self.metadata_bytes > self.limits.max_metadata_bytes {
			return Err(too_large("memory of the parsed metadata", self.metadata_bytes, self.limits.max_metadata_bytes));
		}
		Ok(())
	}

	fn string(&mut self, what: &str, limit: u64) -> Result<String, HeaderError> {
		let len = self.u64()?;
		if len > limit {
			return Err(too_large(format!("length of {what}"), len, limit));
		}
		if len > self.remaining {
			return Err(HeaderError::Io(format!("{what} of {len} bytes runs past the end of the file")));
		}
		self.charge(len)?;
		let mut buf = vec![0u8; len as usize];
		self.inner.read_exact(&mut buf).map_err(|e| HeaderError::Io(e.to_string()))?;
		self.remaining -= len;
		while buf.last() == Some(&0) {
			buf.pop();
		}
		Ok(String::from_utf8_lossy(&buf).into_owned())
	}

	fn value(&mut self, type_id: u32, in_array: bool) -> Result<Value, HeaderError> {
		self.charge(VALUE_BYTES)?;
		let v = match type_id {
			0 => Value::U8(self.bytes::<1>()?[0]),
			1 => Value::I8(self.bytes::<1>()?[0] as i8),
			2 => Value::U16(u16::from_le_bytes(self.bytes()?)),
			3 => Value::I16(i16::from_le_bytes(self.bytes()?)),
			4 => Value::U32(self.u32()?),
			5 => Value::I32(i32::from_le_bytes(self.bytes()?)),
			6 => Value::F32(f32::from_le_bytes(self.bytes()?)),
			7 => match self.bytes::<1>()?[0] {
				0 => Value::Bool(false),
				1 => Value::Bool(true),
				b => return Err(HeaderError::Invalid(format!("boolean byte {b}"))),
			},
			8 => Value::String(self.string("a string value", self.limits.max_string_bytes)?),
			9 if in_array => return Err(HeaderError::Invalid("nested arrays".into())),
			9 => self.array()?,
			10 => Value::U64(self.u64()?),
			11 => Value::I64(i64::from_le_bytes(self.bytes()?)),
			12 => Value::F64(f64::from_le_bytes(self.bytes()?)),
			t => return Err(HeaderError::Invalid(format!("unknown value type {t}"))),
		};
		Ok(v)
	}

	fn array(&mut self) -> Result<Value, HeaderError> {
		let type_id = self.u32()?;
		let len = self.u64()?;
		if len > self.limits.max_array_len {
			return Err(too_large("array length", len, self.limits.max_array_len));
		}
		// Every element takes at least one byte of the file: a length past the end of the
		// file is refused before anything is reserved for it.
		if len > self.remaining {
			return Err(HeaderError::Io(format!("array of {len} elements runs past the end of the file")));
		}
		self.charge(len.saturating_mul(VALUE_BYTES))?;
		let mut items = Vec::with_capacity(len as usize);
		for _ in 0..len {
			items.push(self.value(type_id, true)?);
		}
		Ok(Value::Array(items))
	}

	fn tensor_info(&mut self) -> Result<(String, u32, Vec<u64>, u64), HeaderError> {
		let name = self.string("a tensor name", self.limits.max_key_bytes)?;
		let n_dims = self.u32()?;
		if n_dims == 0 || n_dims > MAX_DIMS {
			return Err(HeaderError::Invalid(format!("tensor {name:?} has {n_dims} dimensions (1 to {MAX_DIMS})")));
		}
		let mut dims = Vec::with_capacity(n_dims as usize);
		for _ in 0..n_dims {
			dims.push(self.u64()?);
		}
		let dtype = self.u32()?;
		let offset = self.u64()?;
		Ok((name, dtype, dims, offset))
	}
}

/// One tensor's place in the file, as checked.
struct Placed {
	name: String,
	info: TensorInfo,
	start: u64,
	len: u64,
}

fn check_tensor(
	(name, dtype_id, dims, offset): (String, u32, Vec<u64>, u64),
	limits: &HeaderLimits,
) -> Result<Placed, HeaderError> {
	let dtype = dtype_from_id(dtype_id)
		.ok_or_else(|| HeaderError::Invalid(format!("tensor {name:?} has unsupported data type {dtype_id}")))?;
	let mut elements: u64 = 1;
	for &d in &dims {
		if d == 0 {
			return Err(HeaderError::Invalid(format!("tensor {name:?} has a dimension of 0")));
		}
		elements = elements
			.checked_mul(d)
			.filter(|&e| e <= limits.max_tensor_elements)
			.ok_or_else(|| too_large(format!("element count of tensor {name:?}"), u64::MAX, limits.max_tensor_elements))?;
	}
	let block = dtype.block_size() as u64;
	// The innermost dimension (GGUF's first) is a row: quantized rows are whole blocks.
	if dims.first().is_some_and(|row| row % block != 0) {
		return Err(HeaderError::Invalid(format!(
			"tensor {name:?}: rows of {} elements are not whole {dtype:?} blocks of {block}",
			dims[0]
		)));
	}
	let len = tensor_bytes(dtype, elements)
		.ok_or_else(|| HeaderError::Invalid(format!("tensor {name:?}: {elements} elements are not whole blocks")))?;
	// candle's shapes are outermost first; GGUF lists the innermost first.
	let shape: Vec<usize> = dims.iter().rev().map(|&d| d as usize).collect();
	let info = TensorInfo { ggml_dtype: dtype, shape: Shape::from(shape), offset };
	Ok(Placed { name, info, start: offset, len })
}

/// Checks that every tensor lies inside the `data_len` bytes of tensor data, aligned to
/// `alignment`, and that no two overlap.
fn check_placement(placed: &mut [Placed], alignment: u64, data_len: u64) -> Result<(), HeaderError> {
	placed.sort_by_key(|p| p.start);
	let mut end_of_previous = 0u64;
	for p in placed.iter() {
		if p.start % alignment != 0 {
			return Err(HeaderError::Invalid(format!(
				"tensor {:?} starts at {}, not a multiple of the alignment {alignment}",
				p.name, p.start
			)));
		}
		let end = p.start.checked_add(p.len).filter(|&e| e <= data_len).ok_or_else(|| {
			HeaderError::Invalid(format!(
				"tensor {:?} ({} bytes at {}) runs past the end of the file's {data_len} bytes of tensor data",
				p.name, p.len, p.start
			))
		})?;
		if p.start < end_of_previous {
			return Err(HeaderError::Invalid(format!("tensor {:?} overlaps the tensor before it", p.name)));
		}
		end_of_previous = end;
	}
	Ok(())
}

fn alignment_of(metadata: &HashMap<String, Value>) -> Result<u64, HeaderError> {
	let Some(v) = metadata.get("general.alignment") else { return Ok(gguf_file::DEFAULT_ALIGNMENT) };
	let a = int_value(v).ok_or_else(|| HeaderError::Invalid(format!("general.alignment is {v:?}")))?;
	if a == 0 || !a.is_power_of_two() || a > MAX_ALIGNMENT {
		return Err(HeaderError::Invalid(format!("general.alignment {a} is not a power of two up to {MAX_ALIGNMENT}")));
	}
	Ok(a)
}

/// A non-negative integer metadata value of any integer type.
pub fn int_value(v: &Value) -> Option<u64> {
	match *v {
		Value::U8(x) => Some(u64::from(x)),
		Value::U16(x) => Some(u64::from(x)),
		Value::U32(x) => Some(u64::from(x)),
		Value::U64(x) => Some(x),
		Value::I8(x) => u64::try_from(x).ok(),
		Value::I16(x) => u64::try_from(x).ok(),
		Value::I32(x) => u64::try_from(x).ok(),
		Value::I64(x) => u64::try_from(x).ok(),
		_ => None,
	}
}

/// Reads and checks the header of the GGUF file `reader` (positioned at its start),
/// within `limits`. The tensor data is not read.
pub fn read_header<R: Read + Seek>(reader: &mut R, limits: &HeaderLimits) -> Result<Content, HeaderError> {
	let io = |e: std::io::Error| HeaderError::Io(e.to_string());
	let start = reader.stream_position().map_err(io)?;
	let file_len = reader.seek(SeekFrom::End(0)).map_err(io)?;
	reader.seek(SeekFrom::Start(start)).map_err(io)?;
	let mut r = Reader { inner: reader, limits, remaining: file_len.saturating_sub(start), metadata_bytes: 0 };

	let magic = r.u32()?;
	if magic != 0x4655_4747 {
		return Err(HeaderError::Format(format!("magic 0x{magic:08x}")));
	}
	let magic = match r.u32()? {
		2 => VersionedMagic::GgufV2,
		3 => VersionedMagic::GgufV3,
		v => return Err(HeaderError::Format(format!("version {v}"))),
	};
	let tensor_count = r.u64()?;
	if tensor_count > limits.max_tensors {
		return Err(too_large("tensor count", tensor_count, limits.max_tensors));
	}
	let metadata_count = r.u64()?;
	if metadata_count > limits.max_metadata {
		return Err(too_large("metadata entry count", metadata_count, limits.max_metadata));
	}

	let mut metadata = HashMap::with_capacity(metadata_count as usize);
	for _ in 0..metadata_count {
		let key = r.string("a metadata key", limits.max_key_bytes)?;
		let type_id = r.u32()?;
		let value = r.value(type_id, false)?;
		if metadata.insert(key.clone(), value).is_some() {
			return Err(HeaderError::Invalid(format!("metadata key {key:?} appears twice")));
		}
	}
	let mut placed = Vec::with_capacity(tensor_count as usize);
	let mut names = std::collections::HashSet::with_capacity(tensor_count as usize);
	for _ in 0..tensor_count {
		let p = check_tensor(r.tensor_info()?, limits)?;
		if !names.insert(p.name.clone()) {
			return Err(HeaderError::Invalid(format!("tensor {:?} appears twice", p.name)));
		}
		placed.push(p);
	}

	let alignment = alignment_of(&metadata)?;
	let header_end = file_len - r.remaining;
	let tensor_data_offset = header_end.div_ceil(alignment) * alignment;
	check_placement(&mut placed, alignment, file_len.saturating_sub(tensor_data_offset))?;
	let tensor_infos = placed.into_iter().map(|p| (p.name, p.info)).collect();
	Ok(Content { magic, metadata, tensor_infos, tensor_data_offset })
}

#[cfg(test)]
mod tests {
	use super::*;
	use std::io::Cursor;

	/// A hand-written GGUF v3 file: `metadata` entries already encoded, then tensors.
	struct Builder {
		metadata: Vec<u8>,
		metadata_count: u64,
		tensors: Vec<u8>,
		tensor_count: u64,
		data: Vec<u8>,
	}

	impl Builder {
		fn new() -> Self {
			Self { metadata: Vec::new(), metadata_count: 0, tensors: Vec::new(), tensor_count: 0, data: Vec::new() }
		}

		fn string(out: &mut Vec<u8>, s: &str) {
			out.extend((s.len() as u64).to_le_bytes());
			out.extend(s.as_bytes());
		}

		fn kv_u32(mut self, key: &str, v: u32) -> Self {
			Self::string(&mut self.metadata, key);
			self.metadata.extend(4u32.to_le_bytes());
			self.metadata.extend(v.to_le_bytes());
			self.metadata_count += 1;
			self
		}

		fn kv_raw(mut self, key: &str, type_id: u32, body: &[u8]) -> Self {
			Self::string(&mut self.metadata, key);
			self.metadata.extend(type_id.to_le_bytes());
			self.metadata.extend(body);
			self.metadata_count += 1;
			self
		}

		fn tensor(mut self, name: &str, dims: &[u64], dtype: u32, offset: u64) -> Self {
			Self::string(&mut self.tensors, name);
			self.tensors.extend((dims.len() as u32).to_le_bytes());
			for d in dims {
				self.tensors.extend(d.to_le_bytes());
			}
			self.tensors.extend(dtype.to_le_bytes());
			self.tensors.extend(offset.to_le_bytes());
			self.tensor_count += 1;
			self
		}

		fn data(mut self, bytes: usize) -> Self {
			self.data = vec![0; bytes];
			self
		}

		fn build(&self) -> Vec<u8> {
			let mut out = Vec::new();
			out.extend(0x4655_4747u32.to_le_bytes());
			out.extend(3u32.to_le_bytes());
			out.extend(self.tensor_count.to_le_bytes());
			out.extend(self.metadata_count.to_le_bytes());
			out.extend(&self.metadata);
			out.extend(&self.tensors);
			while out.len() % 32 != 0 {
				out.push(0);
			}
			out.extend(&self.data);
			out
		}

		fn read(&self) -> Result<Content, HeaderError> {
			read_header(&mut Cursor::new(self.build()), &HeaderLimits::default())
		}
	}

	#[test]
	fn a_valid_header_reads_like_candles() {
		let b = Builder::new().kv_u32("llama.block_count", 2).tensor("w", &[4, 2], 0, 0).tensor("v", &[8], 0, 32).data(64);
		let ours = b.read().expect("valid");
		let theirs = Content::read(&mut Cursor::new(b.build())).expect("candle reads it");
		assert_eq!(ours.tensor_data_offset, theirs.tensor_data_offset);
		assert_eq!(ours.tensor_infos["w"].shape.dims(), &[2, 4]);
		assert_eq!(ours.tensor_infos["w"].shape, theirs.tensor_infos["w"].shape);
		assert_eq!(ours.tensor_infos["v"].offset, 32);
		assert_eq!(int_value(&ours.metadata["llama.block_count"]), Some(2));
	}

	#[test]
	fn zero_alignment_is_refused_where_candle_divides_by_zero() {
		let b = Builder::new().kv_u32("general.alignment", 0).tensor("w", &[8], 0, 0).data(32);
		assert!(matches!(b.read(), Err(HeaderError::Invalid(m)) if m.contains("alignment")));
		let b = Builder::new().kv_u32("general.alignment", 48).data(0);
		assert!(b.read().is_err());
	}

	#[test]
	fn dimensions_are_bounded() {
		let zero_dims = Builder::new().tensor("token_embd.weight", &[], 0, 0).data(32);
		assert!(matches!(zero_dims.read(), Err(HeaderError::Invalid(m)) if m.contains("0 dimensions")));
		let zero = Builder::new().tensor("w", &[0, 4], 0, 0).data(32);
		assert!(matches!(zero.read(), Err(HeaderError::Invalid(m)) if m.contains("dimension of 0")));
		let overflow = Builder::new().tensor("w", &[1 << 32, 1 << 32, 1 << 32], 0, 0).data(32);
		assert!(matches!(overflow.read(), Err(HeaderError::TooLarge { .. })));
		let five = Builder::new().tensor("w", &[1, 1, 1, 1, 1], 0, 0).data(32);
		assert!(five.read().is_err());
	}

	#[test]
	fn tensors_must_fit_in_the_file_aligned_and_apart() {
		let past_end = Builder::new().tensor("w", &[16], 0, 0).data(32);
		assert!(matches!(past_end.read(), Err(HeaderError::Invalid(m)) if m.contains("past the end")));
		let misaligned = Builder::new().tensor("w", &[4], 0, 4).data(64);
		assert!(matches!(misaligned.read(), Err(HeaderError::Invalid(m)) if m.contains("alignment")));
		let overlap = Builder::new().tensor("a", &[16], 0, 0).tensor("b", &[8], 0, 32).data(96);
		assert!(matches!(overlap.read(), Err(HeaderError::Invalid(m)) if m.contains("overlaps")));
		let twice = Builder::new().tensor("a", &[8], 0, 0).tensor("a", &[8], 0, 32).data(64);
		assert!(matches!(twice.read(), Err(HeaderError::Invalid(m)) if m.contains("twice")));
		let huge_offset = Builder::new().tensor("a", &[8], 0, u64::MAX - 31).data(64);
		assert!(huge_offset.read().is_err());
	}

	#[test]
	fn quantized_rows_are_whole_blocks_and_dtypes_known() {
		// Q8_0 blocks hold 32 elements.
		let partial = Builder::new().tensor("w", &[16, 2], 8, 0).data(64);
		assert!(matches!(partial.read(), Err(HeaderError::Invalid(m)) if m.contains("blocks")));
		let unknown = Builder::new().tensor("w", &[8], 99, 0).data(32);
		assert!(matches!(unknown.read(), Err(HeaderError::Invalid(m)) if m.contains("data type 99")));
		let q8 = Builder::new().tensor("w", &[32, 2], 8, 0).data(96);
		assert_eq!(q8.read().expect("whole blocks").tensor_infos["w"].ggml_dtype, GgmlDType::Q8_0);
	}

	#[test]
	fn lengths_and_counts_are_bounded_before_allocation() {
		// An array claiming 2^40 elements in a tiny file.
		let mut body = 0u32.to_le_bytes().to_vec();
		body.extend((1u64 << 40).to_le_bytes());
		let b = Builder::new().kv_raw("tokenizer.ggml.tokens", 9, &body);
		assert!(matches!(b.read(), Err(HeaderError::TooLarge { .. })));
		let mut body = 0u32.to_le_bytes().to_vec();
		body.extend(1000u64.to_le_bytes());
		let b = Builder::new().kv_raw("a", 9, &body);
		assert!(matches!(b.read(), Err(HeaderError::Io(m)) if m.contains("past the end")));
		// A string longer than the file.
		let b = Builder::new().kv_raw("s", 8, &(1u64 << 20).to_le_bytes());
		assert!(matches!(b.read(), Err(HeaderError::Io(_))));
		// Nested arrays.
		let mut body = 9u32.to_le_bytes().to_vec();
		body.extend(1u64.to_le_bytes());
		body.extend(4u32.to_le_bytes());
		body.extend(0u64.to_le_bytes());
		let b = Builder::new().kv_raw("n", 9, &body);
		assert!(matches!(b.read(), Err(HeaderError::Invalid(m)) if m.contains("nested")));
		// Counts in the header.
		let mut file = Builder::new().build();
		file[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
		assert!(matches!(read_header(&mut Cursor::new(file), &HeaderLimits::default()), Err(HeaderError::TooLarge { .. })));
		// The parsed size of metadata: many small values.
		let mut body = 0u32.to_le_bytes().to_vec();
		body.extend(10_000u64.to_le_bytes());
		body.extend(vec![0u8; 10_000]);
		let b = Builder::new().kv_raw("bytes", 9, &body);
		let tight = HeaderLimits { max_metadata_bytes: 100_000, ..HeaderLimits::default() };
		assert!(matches!(read_header(&mut Cursor::new(b.build()), &tight), Err(HeaderError::TooLarge { .. })));
		assert!(b.read().is_ok());
	}

	#[test]
	fn truncated_files_and_bad_magic_are_errors() {
		let file = Builder::new().kv_u32("a", 1).tensor("w", &[8], 0, 0).data(32).build();
		for cut in [0, 3, 8, 20, 30, 40] {
			let r = read_header(&mut Cursor::new(file[..cut].to_vec()), &HeaderLimits::default());
			assert!(r.is_err(), "cut at {cut}");
		}
		let mut bad = file.clone();
		bad[0] = b'X';
		assert!(matches!(read_header(&mut Cursor::new(bad), &HeaderLimits::default()), Err(HeaderError::Format(_))));
		let mut v1 = file;
		v1[4..8].copy_from_slice(&1u32.to_le_bytes());
		assert!(matches!(read_header(&mut Cursor::new(v1), &HeaderLimits::default()), Err(HeaderError::Format(_))));
	}
}
