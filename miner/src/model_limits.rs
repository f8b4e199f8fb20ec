//! What a llama GGUF must look like before anything is allocated for it.
//!
//! [`ModelLimits`] bounds every metadata field the decoder reads (vocabulary, blocks,
//! heads, kv heads, embedding and MLP widths, context) and the memory loading may take;
//! [`check_model`] reads the configuration from checked metadata and then checks every
//! tensor the decoder will load — present, the shape the configuration implies, a type
//! candle can run — so a file whose metadata disagrees with its tensors, or whose sizes
//! would ask for more memory than allowed, is a named [`ModelError`] and never a panic or
//! an out-of-memory abort. A validator loads miners' files with its subnet's limits; a
//! miner loads its own with the defaults.

use candle_core::quantized::{
	gguf_file::{Content, TensorInfo, Value},
	GgmlDType,
};

use crate::{
	gguf_header::{int_value, tensor_bytes, HeaderLimits},
	llama::{LlamaConfig, ModelError, WeightFormat},
};

/// Bounds of a model file and of what loading it may allocate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelLimits {
	/// Bounds of the GGUF header itself.
	pub header: HeaderLimits,
	/// The vocabulary the model must have (a subnet's tokenizer), if any.
	pub vocab_size: Option<usize>,
	/// Largest vocabulary.
	pub max_vocab: usize,
	/// Most transformer blocks.
	pub max_layers: usize,
	/// Most query heads.
	pub max_heads: usize,
	/// Largest embedding width.
	pub max_hidden: usize,
	/// Largest MLP width.
	pub max_ffn: usize,
	/// Largest head dimension.
	pub max_head_dim: usize,
	/// Longest context.
	pub max_context: usize,
	/// Largest model file.
	pub max_file_bytes: u64,
	/// Most memory the loaded weights and tables may take.
	pub max_memory_bytes: u64,
}

impl Default for ModelLimits {
	/// Bounds no real llama model reaches (a 405B model has 126 blocks, 128 heads,
	/// width 16384, MLP 53248; vocabularies stay under 2^18).
	fn default() -> Self {
		Self {
			header: HeaderLimits::default(),
			vocab_size: None,
			max_vocab: 1 << 20,
			max_layers: 512,
			max_heads: 1024,
			max_hidden: 1 << 16,
			max_ffn: 1 << 18,
			max_head_dim: 1024,
			max_context: 1 << 20,
			max_file_bytes: 1 << 40,
			max_memory_bytes: u64::MAX,
		}
	}
}

fn limit(what: &str, value: usize, max: usize) -> Result<usize, ModelError> {
	if value > max {
		return Err(ModelError::Limit { what: what.to_string(), value: value as u64, limit: max as u64 });
	}
	Ok(value)
}

fn shape_error(msg: String) -> ModelError {
	ModelError::Shape(msg)
}

/// The metadata integer `key` (any integer type), if present.
fn meta_int(ct: &Content, key: &str) -> Result<Option<usize>, ModelError> {
	match ct.metadata.get(key) {
		None => Ok(None),
		Some(v) => int_value(v)
			.and_then(|x| usize::try_from(x).ok())
			.map(Some)
			.ok_or_else(|| shape_error(format!("GGUF metadata {key} is {v:?}, not a non-negative integer"))),
	}
}

fn meta_required(ct: &Content, key: &str) -> Result<usize, ModelError> {
	meta_int(ct, key)?.ok_or_else(|| ModelError::Unsupported(format!("GGUF metadata {key} missing")))
}

/// The metadata float `key`, if present and finite.
fn meta_f32(ct: &Content, key: &str) -> Result<Option<f32>, ModelError> {
	match ct.metadata.get(key) {
		None => Ok(None),
		Some(Value::F32(x)) if x.is_finite() => Ok(Some(*x)),
		Some(Value::F64(x)) if x.is_finite() => Ok(Some(*x as f32)),
		Some(v) => Err(shape_error(format!("GGUF metadata {key} is {v:?}, not a finite float"))),
	}
}

fn tensor<'a>(ct: &'a Content, name: &str) -> Result<&'a TensorInfo, ModelError> {
	ct.tensor_infos.get(name).ok_or_else(|| ModelError::Unsupported(format!("tensor {name} missing")))
}

/// Checks that tensor `name` has shape `dims` (outermost first).
fn expect_shape(ct: &Content, name: &str, dims: &[usize]) -> Result<(), ModelError> {
	let t = tensor(ct, name)?;
	if t.shape.dims() != dims {
		return Err(shape_error(format!(
			"tensor {name} has shape {:?}; the metadata implies {dims:?}",
			t.shape.dims()
		)));
	}
	if t.ggml_dtype == GgmlDType::Q8K || (dims.len() == 2 && !is_matrix_type(t.ggml_dtype)) {
		return Err(ModelError::Unsupported(format!("tensor {name} has type {:?}", t.ggml_dtype)));
	}
	Ok(())
}

fn is_matrix_type(t: GgmlDType) -> bool {
	!matches!(t, GgmlDType::Q8_1 | GgmlDType::Q8K)
}

/// The configuration of a llama GGUF, every field bounded by `limits` and every tensor
/// the decoder loads checked against it. Returns the configuration and the MLP width.
pub fn check_model(ct: &Content, limits: &ModelLimits) -> Result<(LlamaConfig, usize), ModelError> {
	let arch = ct.metadata.get("general.architecture").and_then(|v| v.to_string().ok()).cloned().unwrap_or_default();
	if arch != "llama" {
		return Err(ModelError::Unsupported(format!("architecture {arch:?}; this miner runs \"llama\"")));
	}
	let embd = tensor(ct, "token_embd.weight")?;
	let [vocab, embd_width] = *embd.shape.dims() else {
		return Err(shape_error(format!("token_embd.weight has shape {:?}, not [vocab, hidden]", embd.shape.dims())));
	};
	let vocab = limit("vocabulary", vocab, limits.max_vocab)?;
	if let Some(expected) = limits.vocab_size.filter(|&v| v != vocab) {
		return Err(shape_error(format!("vocabulary of {vocab} tokens; the subnet's tokenizer has {expected}")));
	}
	if let Some(Ok(tokens)) = ct.metadata.get("tokenizer.ggml.tokens").map(Value::to_vec) {
		if tokens.len() != vocab {
			return Err(shape_error(format!("{} tokenizer tokens for an embedding of {vocab} rows", tokens.len())));
		}
	}
	let hidden = limit("embedding width", meta_required(ct, "llama.embedding_length")?, limits.max_hidden)?;
	if hidden != embd_width {
		return Err(shape_error(format!("llama.embedding_length {hidden}, but token_embd.weight is {embd_width} wide")));
	}
	let layers = limit("block count", meta_required(ct, "llama.block_count")?, limits.max_layers)?;
	let heads = limit("head count", meta_required(ct, "llama.attention.head_count")?, limits.max_heads)?;
	let kv_heads = limit("kv head count", meta_int(ct, "llama.attention.head_count_kv")?.unwrap_or(heads), heads)?;
	if heads == 0 || kv_heads == 0 || hidden % heads != 0 || heads % kv_heads != 0 {
		return Err(ModelError::Unsupported(format!(
			"inconsistent attention shape: hidden {hidden}, heads {heads}, kv heads {kv_heads}"
		)));
	}
	let head_dim = limit("head dimension", hidden / heads, limits.max_head_dim)?;
	if head_dim % 2 != 0 {
		return Err(ModelError::Unsupported(format!("odd head dimension {head_dim}")));
	}
	let context = limit("context length", meta_int(ct, "llama.context_length")?.unwrap_or(2048), limits.max_context)?;
	if context == 0 {
		return Err(shape_error("context length 0".into()));
	}
	let rms_eps = meta_f32(ct, "llama.attention.layer_norm_rms_epsilon")?.unwrap_or(1e-5);
	let rope_theta = meta_f32(ct, "llama.rope.freq_base")?.unwrap_or(10_000.0);
	if !(rms_eps > 0.0 && rms_eps < 1.0) || rope_theta <= 1.0 {
		return Err(shape_error(format!("RMS epsilon {rms_eps} or RoPE base {rope_theta} out of range")));
	}
	let cfg = LlamaConfig {
		vocab_size: vocab,
		hidden,
		layers,
		heads,
		kv_heads,
		context_length: context,
		rms_eps: f64::from(rms_eps),
		rope_theta,
		rope_neox: false,
	};
	let ffn = check_tensors(ct, &cfg, limits)?;
	Ok((cfg, ffn))
}

/// Checks every tensor the decoder loads against `cfg`; returns the MLP width.
fn check_tensors(ct: &Content, cfg: &LlamaConfig, limits: &ModelLimits) -> Result<usize, ModelError> {
	let (h, kv) = (cfg.hidden, cfg.kv_heads * cfg.head_dim());
	let gate = tensor(ct, "blk.0.ffn_gate.weight")?;
	let ffn = match meta_int(ct, "llama.feed_forward_length")? {
		Some(f) => f,
		None => gate.shape.dims().first().copied().unwrap_or(0),
	};
	let ffn = limit("MLP width", ffn, limits.max_ffn)?;
	expect_shape(ct, "token_embd.weight", &[cfg.vocab_size, h])?;
	expect_shape(ct, "output_norm.weight", &[h])?;
	if ct.tensor_infos.contains_key("output.weight") {
		expect_shape(ct, "output.weight", &[cfg.vocab_size, h])?;
	}
	for l in 0..cfg.layers {
		let name = |n: &str| format!("blk.{l}.{n}.weight");
		expect_shape(ct, &name("attn_norm"), &[h])?;
		expect_shape(ct, &name("ffn_norm"), &[h])?;
		expect_shape(ct, &name("attn_q"), &[h, h])?;
		expect_shape(ct, &name("attn_k"), &[kv, h])?;
		expect_shape(ct, &name("attn_v"), &[kv, h])?;
		expect_shape(ct, &name("attn_output"), &[h, h])?;
		expect_shape(ct, &name("ffn_gate"), &[ffn, h])?;
		expect_shape(ct, &name("ffn_up"), &[ffn, h])?;
		expect_shape(ct, &name("ffn_down"), &[h, ffn])?;
	}
	Ok(ffn)
}

/// Bytes tensor `t` takes once loaded as `format` (f32 when dequantized).
fn loaded_bytes(t: &TensorInfo, dequantized: bool) -> u64 {
	let Some(elements) = t.shape.dims().iter().try_fold(1u64, |n, &d| n.checked_mul(d as u64)) else {
		return u64::MAX;
	};
	if dequantized {
		elements.saturating_mul(4)
	} else {
		tensor_bytes(t.ggml_dtype, elements).unwrap_or(u64::MAX)
	}
}

/// Memory loading the checked model `ct` as `format` takes at most: the weights as held
/// (norms and the embedding table dequantized to f32, matrices as stored or as f32), the
/// RoPE tables, and the two copies of the largest tensor while it is decoded.
pub fn load_footprint(ct: &Content, cfg: &LlamaConfig, format: WeightFormat) -> u64 {
	let f32_matrices = format == WeightFormat::F32;
	let mut total = 0u64;
	let mut largest = 0u64;
	for (name, t) in &ct.tensor_infos {
		let used = name == "token_embd.weight" ||
			name == "output.weight" ||
			name == "output_norm.weight" ||
			name.strip_prefix("blk.").and_then(|r| r.split('.').next()).and_then(|l| l.parse::<usize>().ok()).is_some_and(|l| l < cfg.layers);
		if !used {
			continue;
		}
		let is_vector = t.shape.dims().len() == 1;
		let held = loaded_bytes(t, is_vector || f32_matrices);
		// The embedding is held dequantized and, when the output layer is tied to it, as
		// stored too.
		let held = if name == "token_embd.weight" {
			loaded_bytes(t, true).saturating_add(if ct.tensor_infos.contains_key("output.weight") { 0 } else { held })
		} else {
			held
		};
		total = total.saturating_add(held);
		largest = largest.max(loaded_bytes(t, false));
	}
	// cos, sin and the angles they come from: context x head_dim / 2 floats each.
	let rope = (cfg.context_length as u64).saturating_mul(cfg.head_dim() as u64 / 2).saturating_mul(4 * 3);
	total.saturating_add(rope).saturating_add(largest.saturating_mul(2))
}

#[cfg(test)]
mod tests {
	use super::*;
	use crate::gguf::{write_random_llama, RandomLlama};

	fn random(dir: &std::path::Path, spec: RandomLlama) -> Content {
		let path = dir.join("m.gguf");
		write_random_llama(&path, &spec, None).unwrap();
		crate::gguf::read_header(&path).unwrap()
	}

	#[test]
	fn a_valid_model_passes_and_its_footprint_counts_the_weights() {
		let dir = tempfile::tempdir().unwrap();
		let spec = RandomLlama::default();
		let ct = random(dir.path(), spec);
		let (cfg, ffn) = check_model(&ct, &ModelLimits::default()).expect("valid");
		assert_eq!((cfg.vocab_size, cfg.hidden, cfg.layers, ffn), (spec.vocab_size, spec.hidden, spec.layers, spec.ffn));
		let native = load_footprint(&ct, &cfg, WeightFormat::Auto);
		let f32s = load_footprint(&ct, &cfg, WeightFormat::F32);
		assert!(f32s > native, "f32 weights take more: {f32s} vs {native}");
		// At least the dequantized embedding and every f32 projection.
		let params = spec.layers * (2 * spec.hidden * spec.hidden + 2 * spec.hidden * spec.hidden / 2 + 3 * spec.hidden * spec.ffn);
		assert!(f32s >= 4 * (params + spec.vocab_size * spec.hidden) as u64);
	}

	#[test]
	fn limits_and_the_subnet_vocabulary_are_enforced() {
		let dir = tempfile::tempdir().unwrap();
		let ct = random(dir.path(), RandomLlama::default());
		let tight = ModelLimits { max_layers: 1, ..ModelLimits::default() };
		assert!(matches!(check_model(&ct, &tight), Err(ModelError::Limit { .. })));
		let subnet = ModelLimits { vocab_size: Some(49_152), ..ModelLimits::default() };
		assert!(matches!(check_model(&ct, &subnet), Err(ModelError::Shape(m)) if m.contains("49152")));
		let huge_context = random(dir.path(), RandomLlama { context_length: 1 << 26, ..RandomLlama::default() });
		assert!(matches!(check_model(&huge_context, &ModelLimits::default()), Err(ModelError::Limit { .. })));
	}

	#[test]
	fn metadata_that_disagrees_with_the_tensors_is_refused() {
		let dir = tempfile::tempdir().unwrap();
		let mut ct = random(dir.path(), RandomLlama::default());
		ct.metadata.insert("llama.embedding_length".into(), Value::U32(128));
		assert!(matches!(check_model(&ct, &ModelLimits::default()), Err(ModelError::Shape(_))));
		let mut ct = random(dir.path(), RandomLlama::default());
		ct.metadata.insert("llama.attention.head_count_kv".into(), Value::U32(4));
		assert!(matches!(check_model(&ct, &ModelLimits::default()), Err(ModelError::Shape(m)) if m.contains("attn_k")));
		let mut ct = random(dir.path(), RandomLlama::default());
		ct.tensor_infos.remove("blk.1.ffn_down.weight");
		assert!(matches!(check_model(&ct, &ModelLimits::default()), Err(ModelError::Unsupported(m)) if m.contains("ffn_down")));
		let mut ct = random(dir.path(), RandomLlama::default());
		ct.metadata.insert("llama.rope.freq_base".into(), Value::F32(f32::NAN));
		assert!(check_model(&ct, &ModelLimits::default()).is_err());
	}
}
