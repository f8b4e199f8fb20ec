//! GGUF helpers: the subnet tokenizer hash, and random llama models (a weak miner for the
//! localnet, small models for fast tests) written with the real GGUF writer.

use std::{io::Write, path::Path};

use candle_core::{
	quantized::{gguf_file, GgmlDType, QTensor},
	Device, Tensor,
};

use crate::llama::ModelError;

/// GGUF metadata keys that define the tokenizer, in the order they are hashed.
pub const TOKENIZER_KEYS: [&str; 6] = [
	"tokenizer.ggml.model",
	"tokenizer.ggml.pre",
	"tokenizer.ggml.tokens",
	"tokenizer.ggml.token_type",
	"tokenizer.ggml.merges",
	"tokenizer.ggml.add_bos_token",
];

fn encode_value(out: &mut Vec<u8>, v: &gguf_file::Value) {
	use gguf_file::Value::*;
	let mut tagged = |tag: u8, bytes: &[u8]| {
		out.push(tag);
		out.extend_from_slice(bytes);
	};
	match v {
		U8(x) => tagged(0, &x.to_le_bytes()),
		I8(x) => tagged(1, &x.to_le_bytes()),
		U16(x) => tagged(2, &x.to_le_bytes()),
		I16(x) => tagged(3, &x.to_le_bytes()),
		U32(x) => tagged(4, &x.to_le_bytes()),
		I32(x) => tagged(5, &x.to_le_bytes()),
		F32(x) => tagged(6, &x.to_le_bytes()),
		Bool(x) => tagged(7, &[u8::from(*x)]),
		String(s) => {
			tagged(8, &(s.len() as u64).to_le_bytes());
			out.extend_from_slice(s.as_bytes());
		}
		Array(items) => {
			tagged(9, &(items.len() as u64).to_le_bytes());
			for item in items {
				encode_value(out, item);
			}
		}
		U64(x) => tagged(10, &x.to_le_bytes()),
		I64(x) => tagged(11, &x.to_le_bytes()),
		F64(x) => tagged(12, &x.to_le_bytes()),
	}
}

/// The tokenizer hash of a GGUF model: BLAKE2b-256 over `b"tessera/tokenizer/v1"` and,
/// for each of [`TOKENIZER_KEYS`] present in the metadata, the key and its value in a
/// tagged little-endian encoding (type tag, u64 lengths). Two files with the same
/// vocabulary, merges and pre-tokenizer hash the same, whatever their weights. This is
/// what a miner commits as `tokenizer_hash` and what a subnet sets as its
/// `TokenizerHash` hyperparameter.
pub fn tokenizer_hash(ct: &gguf_file::Content) -> Result<[u8; 32], ModelError> {
	if !ct.metadata.contains_key("tokenizer.ggml.tokens") {
		return Err(ModelError::Unsupported("GGUF has no tokenizer (tokenizer.ggml.tokens missing)".into()));
	}
	let mut buf = b"tessera/tokenizer/v1".to_vec();
	for key in TOKENIZER_KEYS {
		if let Some(v) = ct.metadata.get(key) {
			buf.extend_from_slice(&(key.len() as u64).to_le_bytes());
			buf.extend_from_slice(key.as_bytes());
			encode_value(&mut buf, v);
		}
	}
	Ok(tessera_proto::blake2_256(&buf))
}

/// Reads only the header (metadata and tensor index) of a GGUF file, within the default
/// [`HeaderLimits`](crate::gguf_header::HeaderLimits).
pub fn read_header(path: &Path) -> Result<gguf_file::Content, ModelError> {
	let mut f = std::fs::File::open(path).map_err(|source| ModelError::Io { path: path.display().to_string(), source })?;
	Ok(crate::gguf_header::read_header(&mut f, &Default::default())?)
}

/// Shape of a random llama model.
#[derive(Debug, Clone, Copy)]
pub struct RandomLlama {
	/// Vocabulary size (ignored when a tokenizer is copied: the tokenizer's size wins).
	pub vocab_size: usize,
	/// Hidden size (a multiple of 32 for quantized weights).
	pub hidden: usize,
	/// Blocks.
	pub layers: usize,
	/// Query heads.
	pub heads: usize,
	/// Key/value heads.
	pub kv_heads: usize,
	/// MLP width (a multiple of 32).
	pub ffn: usize,
	/// Context length.
	pub context_length: usize,
	/// Weight type of the projection matrices (`F32`, `Q8_0`, `Q4_1`, ...).
	pub dtype: GgmlDType,
	/// Seed of the weights.
	pub seed: u64,
}

impl Default for RandomLlama {
	/// A tiny model: 2 blocks, hidden 64, 4 heads over 2 kv heads, vocab 256.
	fn default() -> Self {
		Self {
			vocab_size: 256,
			hidden: 64,
			layers: 2,
			heads: 4,
			kv_heads: 2,
			ffn: 128,
			context_length: 512,
			dtype: GgmlDType::Q8_0,
			seed: 1,
		}
	}
}

/// SplitMix64 + Box-Muller: reproducible normal samples without a RNG dependency.
struct Normal(u64);

impl Normal {
	fn next_u64(&mut self) -> u64 {
		self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
		let mut z = self.0;
		z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
		z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
		z ^ (z >> 31)
	}

	fn sample(&mut self) -> f32 {
		let u1 = ((self.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
		let u2 = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
		((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
	}

	fn tensor(&mut self, rows: usize, cols: usize, std: f32) -> candle_core::Result<Tensor> {
		let data: Vec<f32> = (0..rows * cols).map(|_| self.sample() * std).collect();
		Tensor::from_vec(data, (rows, cols), &Device::Cpu)
	}
}

/// Writes a randomly initialized llama GGUF to `path`. With `tokenizer_from`, the
/// tokenizer metadata (and so the vocab size and [`tokenizer_hash`]) is copied from that
/// model, so the random model can serve on the same subnet as a real one (a weak miner).
pub fn write_random_llama(
	path: &Path,
	spec: &RandomLlama,
	tokenizer_from: Option<&gguf_file::Content>,
) -> Result<(), ModelError> {
	let mut metadata: Vec<(String, gguf_file::Value)> = Vec::new();
	let mut vocab = spec.vocab_size;
	if let Some(src) = tokenizer_from {
		for key in TOKENIZER_KEYS.iter().chain(["tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id"].iter()) {
			if let Some(v) = src.metadata.get(*key) {
				metadata.push((key.to_string(), v.clone()));
			}
		}
		if let Some(Ok(tokens)) = src.metadata.get("tokenizer.ggml.tokens").map(|v| v.to_vec()) {
			vocab = tokens.len();
		}
	} else {
		// A byte-level vocab so the file is a complete, self-describing model.
		let tokens = (0..vocab).map(|i| gguf_file::Value::String(format!("<{i}>"))).collect();
		metadata.push(("tokenizer.ggml.model".into(), gguf_file::Value::String("gpt2".into())));
		metadata.push(("tokenizer.ggml.tokens".into(), gguf_file::Value::Array(tokens)));
	}
	use gguf_file::Value::{String as S, F32, U32};
	let u = |v: usize| U32(v as u32);
	metadata.extend([
		("general.architecture".into(), S("llama".into())),
		("general.name".into(), S(format!("tessera-random-llama-{}", spec.seed))),
		("llama.block_count".into(), u(spec.layers)),
		("llama.embedding_length".into(), u(spec.hidden)),
		("llama.feed_forward_length".into(), u(spec.ffn)),
		("llama.attention.head_count".into(), u(spec.heads)),
		("llama.attention.head_count_kv".into(), u(spec.kv_heads)),
		("llama.context_length".into(), u(spec.context_length)),
		("llama.rope.dimension_count".into(), u(spec.hidden / spec.heads)),
		("llama.rope.freq_base".into(), F32(10_000.0)),
		("llama.attention.layer_norm_rms_epsilon".into(), F32(1e-5)),
	]);

	let mut rng = Normal(spec.seed);
	let hd = spec.hidden / spec.heads;
	let mut tensors: Vec<(String, QTensor)> = Vec::new();
	let ones = |n: usize| Tensor::ones(n, candle_core::DType::F32, &Device::Cpu);
	let q = |t: Tensor, dtype: GgmlDType| QTensor::quantize(&t, dtype);
	let std = 1.0 / (spec.hidden as f32).sqrt();
	tensors.push(("token_embd.weight".into(), q(rng.tensor(vocab, spec.hidden, 1.0)?, GgmlDType::F32)?));
	tensors.push(("output_norm.weight".into(), q(ones(spec.hidden)?, GgmlDType::F32)?));
	for l in 0..spec.layers {
		let p = |n: &str| format!("blk.{l}.{n}.weight");
		tensors.push((p("attn_norm"), q(ones(spec.hidden)?, GgmlDType::F32)?));
		tensors.push((p("ffn_norm"), q(ones(spec.hidden)?, GgmlDType::F32)?));
		tensors.push((p("attn_q"), q(rng.tensor(spec.heads * hd, spec.hidden, std)?, spec.dtype)?));
		tensors.push((p("attn_k"), q(rng.tensor(spec.kv_heads * hd, spec.hidden, std)?, spec.dtype)?));
		tensors.push((p("attn_v"), q(rng.tensor(spec.kv_heads * hd, spec.hidden, std)?, spec.dtype)?));
		tensors.push((p("attn_output"), q(rng.tensor(spec.hidden, spec.heads * hd, std)?, spec.dtype)?));
		tensors.push((p("ffn_gate"), q(rng.tensor(spec.ffn, spec.hidden, std)?, spec.dtype)?));
		tensors.push((p("ffn_up"), q(rng.tensor(spec.ffn, spec.hidden, std)?, spec.dtype)?));
		tensors.push((p("ffn_down"), q(rng.tensor(spec.hidden, spec.ffn, 1.0 / (spec.ffn as f32).sqrt())?, spec.dtype)?));
	}

	let io = |source| ModelError::Io { path: path.display().to_string(), source };
	let tmp = path.with_extension("gguf.partial");
	{
		let mut f = std::io::BufWriter::new(std::fs::File::create(&tmp).map_err(io)?);
		let md: Vec<(&str, &gguf_file::Value)> = metadata.iter().map(|(k, v)| (k.as_str(), v)).collect();
		let ts: Vec<(&str, &QTensor)> = tensors.iter().map(|(k, v)| (k.as_str(), v)).collect();
		gguf_file::write(&mut f, &md, &ts)?;
		f.flush().map_err(io)?;
	}
	std::fs::rename(&tmp, path).map_err(io)?;
	Ok(())
}
