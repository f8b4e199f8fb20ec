//! A llama-architecture decoder for many documents at once.
//!
//! candle's `quantized_llama::ModelWeights` keeps one KV cache inside the model, so it can
//! follow one sequence at a time. A miner follows hundreds of documents, each at its own
//! position, and wants one forward pass per step for all of them. Here the weights are
//! shared and immutable ([`Llama`]) and each document owns its KV cache ([`SeqCache`]).
//!
//! [`Llama::forward`] takes any mix of sequences, each extending its cache by one or more
//! tokens (a prefix being opened, or one revealed token): every token of every sequence
//! goes through the projections and the MLP as one `[tokens, hidden]` matrix (the weights
//! are read once per step, whatever the batch); only attention runs per sequence, against
//! that sequence's own keys and values, with its own causal mask and RoPE positions.
//! It returns the logits of each sequence's last token.
//!
//! On the CPU the whole pass runs over plain f32 buffers ([`Llama::forward`] ->
//! `run_host`): no candle tensor per operation, one parallel call for the query, key and
//! value projections, one for gate and up, the KV caches as vectors. On a GPU it runs on
//! candle ops.
//!
//! The arithmetic follows `quantized_llama` (same RMS norm, interleaved RoPE for llama
//! GGUF files, grouped-query attention), so answers match it within float rounding; the
//! tests check that.

use std::path::Path;

use candle_core::{
	quantized::{gguf_file, GgmlDType, QMatMul, QTensor},
	DType, Device, Module, Tensor,
};

use crate::{
	attention::{attend, Heads, SeqAttention},
	gguf_header::{read_header, HeaderError},
	kernels::{matmul_many, QMatrix},
	model_limits::{check_model, load_footprint, ModelLimits},
};
use candle_nn::ops::{rms_norm, silu, softmax_last_dim};

/// Errors loading or running a model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
	/// A candle operation failed.
	#[error("candle: {0}")]
	Candle(#[from] candle_core::Error),
	/// Reading the model file failed.
	#[error("reading {path}: {source}")]
	Io {
		/// The file.
		path: String,
		/// The error.
		source: std::io::Error,
	},
	/// The file is not a model this backend can run.
	#[error("unsupported model: {0}")]
	Unsupported(String),
	/// A token id is not below the vocab size.
	#[error("token id {token} is not below the vocab size {vocab}")]
	TokenOutOfVocab {
		/// The token.
		token: u32,
		/// The vocab size.
		vocab: usize,
	},
	/// The GGUF header breaks the format or its bounds.
	#[error(transparent)]
	Header(#[from] HeaderError),
	/// A metadata field or size is over its limit.
	#[error("model {what} is {value}, over the limit of {limit}")]
	Limit {
		/// What was measured.
		what: String,
		/// Its value.
		value: u64,
		/// The limit.
		limit: u64,
	},
	/// The metadata and the tensors disagree, or a value is out of range.
	#[error("malformed model: {0}")]
	Shape(String),
	/// Loading would take more memory than allowed.
	#[error("loading the model takes about {needed} bytes of memory, over the limit of {limit}")]
	Memory {
		/// Estimated bytes.
		needed: u64,
		/// The limit.
		limit: u64,
	},
	/// A sequence would grow past the model's context.
	#[error("sequence of {len} tokens exceeds the context of {max} tokens")]
	ContextExceeded {
		/// Tokens it would hold.
		len: usize,
		/// The model's context.
		max: usize,
	},
}

/// How the weight matrices are held and multiplied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum WeightFormat {
	/// As stored in the file. On the CPU, Q4_1 and Q8_0 matrices run on this crate's
	/// kernels ([`crate::kernels`]: AVX2 chosen at run time), everything else on candle's.
	#[default]
	Auto,
	/// As stored in the file, always multiplied by candle (for comparison).
	Native,
	/// Dequantized to f32 (exact weights, 4 bytes each; dense GEMM).
	F32,
}

/// One weight matrix, `y = x W^T`.
enum Linear {
	Candle(QMatMul),
	Kernel(QMatrix),
}

impl Linear {
	fn new(t: QTensor, format: WeightFormat, device: &Device) -> candle_core::Result<Self> {
		match format {
			WeightFormat::Auto if device.is_cpu() => match QMatrix::from_qtensor(&t)? {
				Some(m) => Ok(Self::Kernel(m)),
				None => Ok(Self::Candle(QMatMul::from_qtensor(t)?)),
			},
			WeightFormat::Auto | WeightFormat::Native => Ok(Self::Candle(QMatMul::from_qtensor(t)?)),
			WeightFormat::F32 => Ok(Self::Candle(QMatMul::from_qtensor(QTensor::quantize(&t.dequantize(device)?, GgmlDType::F32)?)?)),
		}
	}

	fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
		match self {
			Self::Candle(m) => m.forward(x),
			Self::Kernel(m) => m.forward(x),
		}
	}

	/// `x W^T` on the CPU for `x` of `m` rows.
	fn host_matmul(&self, x: &[f32], m: usize) -> candle_core::Result<Vec<f32>> {
		match self {
			Self::Kernel(q) => {
				check_cols(x, m, q.cols())?;
				Ok(q.matmul(x, m))
			}
			Self::Candle(q) => {
				let k = if m == 0 { 0 } else { x.len() / m };
				let t = Tensor::from_slice(x, (m, k), &Device::Cpu)?;
				q.forward(&t)?.flatten_all()?.to_vec1::<f32>()
			}
		}
	}
}

fn check_cols(x: &[f32], m: usize, k: usize) -> candle_core::Result<()> {
	if x.len() != m * k {
		candle_core::bail!("matmul: {} inputs are not {m} rows of {k}", x.len());
	}
	Ok(())
}

/// `x W_i^T` for each matrix: one parallel call when all are this crate's kernels.
fn project(linears: &[&Linear], x: &[f32], m: usize) -> candle_core::Result<Vec<Vec<f32>>> {
	let kernels: Option<Vec<&QMatrix>> = linears
		.iter()
		.map(|l| match l {
			Linear::Kernel(q) => Some(q),
			Linear::Candle(_) => None,
		})
		.collect();
	match kernels {
		Some(ks) if ks.iter().all(|q| q.cols() == ks[0].cols()) => {
			check_cols(x, m, ks[0].cols())?;
			Ok(matmul_many(&ks, x, m))
		}
		_ => linears.iter().map(|l| l.host_matmul(x, m)).collect(),
	}
}

/// RMS norm of each `w.len()`-wide row of `x`, as candle's `rms_norm` computes it.
fn rms_norm_rows(x: &[f32], w: &[f32], eps: f32) -> Vec<f32> {
	let mut out = vec![0f32; x.len()];
	for (src, dst) in x.chunks_exact(w.len()).zip(out.chunks_exact_mut(w.len())) {
		let sum2: f32 = src.iter().map(|v| v * v).sum();
		let m = (sum2 / w.len() as f32 + eps).sqrt();
		for ((d, s), a) in dst.iter_mut().zip(src).zip(w) {
			*d = *s / m * *a;
		}
	}
	out
}

/// Rotates every `hd`-wide head of one token's row `x` by the angles of its position
/// (`cos`, `sin`: `hd / 2` each), as candle's `rope_i` (pairs `2i, 2i + 1`) or `rope`
/// (pairs `i, i + hd / 2`) does.
fn rope_row(x: &mut [f32], hd: usize, cos: &[f32], sin: &[f32], neox: bool) {
	let half = hd / 2;
	for head in x.chunks_exact_mut(hd) {
		for i in 0..half {
			let (a, b) = if neox { (i, i + half) } else { (2 * i, 2 * i + 1) };
			let (x0, x1) = (head[a], head[b]);
			head[a] = x0 * cos[i] - x1 * sin[i];
			head[b] = x0 * sin[i] + x1 * cos[i];
		}
	}
}

fn add_into(x: &mut [f32], y: &[f32]) {
	for (a, b) in x.iter_mut().zip(y) {
		*a = *b + *a;
	}
}

/// Where the CPU pass reads token embeddings from.
enum HostEmbedding {
	/// Rows dequantized on demand from the file's quantized matrix.
	Rows(QMatrix),
	/// The dequantized table, `[vocab, hidden]`.
	Dense(Vec<f32>),
}

impl HostEmbedding {
	fn row(&self, token: usize, out: &mut [f32]) -> Result<(), ModelError> {
		let found = match self {
			Self::Rows(q) => q.dequantize_row(token, out),
			Self::Dense(t) => t.get(token * out.len()..(token + 1) * out.len()).map(|r| out.copy_from_slice(r)),
		};
		found.ok_or_else(|| ModelError::Shape(format!("no embedding row for token {token}")))
	}
}

/// What the CPU pass reads besides the blocks' matrices.
struct HostTables {
	embedding: HostEmbedding,
	norm: Vec<f32>,
	/// `[context, head_dim / 2]` RoPE tables.
	cos: Vec<f32>,
	sin: Vec<f32>,
}

/// Shape and constants of a llama model, read from GGUF metadata (`llama.*` keys).
#[derive(Debug, Clone, PartialEq)]
pub struct LlamaConfig {
	/// Vocabulary size (rows of the token embedding).
	pub vocab_size: usize,
	/// Hidden size.
	pub hidden: usize,
	/// Transformer blocks.
	pub layers: usize,
	/// Query heads.
	pub heads: usize,
	/// Key/value heads (grouped-query attention when fewer than `heads`).
	pub kv_heads: usize,
	/// Longest sequence the model was trained for.
	pub context_length: usize,
	/// RMS norm epsilon.
	pub rms_eps: f64,
	/// RoPE frequency base.
	pub rope_theta: f32,
	/// RoPE pairs `(i, i + d/2)` (NEOX) rather than `(2i, 2i + 1)` (llama GGUF).
	pub rope_neox: bool,
}

impl LlamaConfig {
	/// Dimension of one attention head.
	pub fn head_dim(&self) -> usize {
		self.hidden / self.heads
	}

	/// Reads the configuration of a `general.architecture = llama` GGUF file, every field
	/// and tensor checked against the default [`ModelLimits`] ([`check_model`]).
	pub fn from_gguf(ct: &gguf_file::Content) -> Result<Self, ModelError> {
		Ok(check_model(ct, &ModelLimits::default())?.0)
	}
}

struct Block {
	attn_norm: Tensor,
	attn_norm_host: Vec<f32>,
	ffn_norm_host: Vec<f32>,
	wq: Linear,
	wk: Linear,
	wv: Linear,
	wo: Linear,
	ffn_norm: Tensor,
	w_gate: Linear,
	w_up: Linear,
	w_down: Linear,
}

/// A loaded llama model: immutable weights, shared by every sequence.
pub struct Llama {
	cfg: LlamaConfig,
	device: Device,
	/// The dequantized embedding on a GPU (empty on the CPU, which reads `host`).
	embedding: Tensor,
	/// The CPU pass's tables (`None` on a GPU).
	host: Option<HostTables>,
	blocks: Vec<Block>,
	norm: Tensor,
	output: Linear,
	/// RoPE tables on a GPU (empty on the CPU, which reads `host`).
	cos: Tensor,
	sin: Tensor,
}

/// One sequence's keys and values for every layer, grown by doubling.
pub struct SeqCache {
	/// Per layer on a GPU: `(k, v)`, each `[kv_heads, capacity, head_dim]`.
	layers: Vec<(Tensor, Tensor)>,
	/// Per layer on the CPU: `(k, v)`, each `[kv_heads, capacity, head_dim]`.
	host: Vec<(Vec<f32>, Vec<f32>)>,
	len: usize,
	capacity: usize,
}

impl SeqCache {
	/// Tokens the cache holds (the position of the next token).
	pub fn len(&self) -> usize {
		self.len
	}

	/// Whether no token has been fed yet.
	pub fn is_empty(&self) -> bool {
		self.len == 0
	}

	/// Tokens the cache has room for before it grows (what its memory is sized for).
	pub fn capacity(&self) -> usize {
		self.capacity
	}
}

/// One sequence of a [`Llama::forward`] batch: the tokens to append and its cache.
pub struct Extend<'a> {
	/// Tokens that follow what `cache` holds (at least one).
	pub tokens: &'a [u32],
	/// The sequence's cache, extended in place.
	pub cache: &'a mut SeqCache,
}

fn rope_tables(cfg: &LlamaConfig, device: &Device) -> candle_core::Result<(Tensor, Tensor)> {
	let hd = cfg.head_dim();
	let inv: Vec<f32> = (0..hd).step_by(2).map(|i| 1f32 / cfg.rope_theta.powf(i as f32 / hd as f32)).collect();
	let n = cfg.context_length;
	let inv = Tensor::new(inv.as_slice(), device)?;
	let pos = Tensor::arange(0, n as u32, device)?.to_dtype(DType::F32)?.reshape((n, 1))?;
	let angles = pos.matmul(&inv.reshape((1, hd / 2))?)?;
	Ok((angles.cos()?, angles.sin()?))
}

impl Llama {
	/// Loads a llama GGUF file (any GGML quantization candle supports) onto `device`,
	/// within the default [`ModelLimits`].
	pub fn load_gguf(path: &Path, device: &Device, weights: WeightFormat) -> Result<Self, ModelError> {
		Self::load_gguf_within(path, device, weights, &ModelLimits::default())
	}

	/// Loads a llama GGUF file from a peer: the file size, the header, every metadata
	/// field and tensor and the memory loading takes are checked against `limits` before
	/// anything is allocated for the weights.
	pub fn load_gguf_within(path: &Path, device: &Device, weights: WeightFormat, limits: &ModelLimits) -> Result<Self, ModelError> {
		let io = |source| ModelError::Io { path: path.display().to_string(), source };
		let mut file = std::fs::File::open(path).map_err(io)?;
		let len = file.metadata().map_err(io)?.len();
		if len > limits.max_file_bytes {
			return Err(ModelError::Limit { what: "file size".into(), value: len, limit: limits.max_file_bytes });
		}
		let ct = read_header(&mut file, &limits.header)?;
		Self::from_gguf_within(&ct, &mut file, device, weights, limits)
	}

	/// Builds the model from parsed GGUF content and its reader (default limits).
	pub fn from_gguf<R: std::io::Read + std::io::Seek>(
		ct: &gguf_file::Content,
		reader: &mut R,
		device: &Device,
		weights: WeightFormat,
	) -> Result<Self, ModelError> {
		Self::from_gguf_within(ct, reader, device, weights, &ModelLimits::default())
	}

	/// Builds the model from parsed GGUF content and its reader, after checking the
	/// configuration, every tensor and the memory it takes against `limits`.
	pub fn from_gguf_within<R: std::io::Read + std::io::Seek>(
		ct: &gguf_file::Content,
		reader: &mut R,
		device: &Device,
		weights: WeightFormat,
		limits: &ModelLimits,
	) -> Result<Self, ModelError> {
		let (cfg, _ffn) = check_model(ct, limits)?;
		let needed = load_footprint(ct, &cfg, weights);
		if needed > limits.max_memory_bytes {
			return Err(ModelError::Memory { needed, limit: limits.max_memory_bytes });
		}
		let mut get = |name: &str| ct.tensor(reader, name, device);
		let embedding_q = get("token_embd.weight")?;
		// A GPU keeps the dequantized table; the CPU reads rows of the quantized one.
		let (embedding, host_embedding) = if !device.is_cpu() {
			(embedding_q.dequantize(device)?, None)
		} else if let Some(rows) = QMatrix::from_qtensor(&embedding_q)? {
			(Tensor::zeros(0, DType::F32, device)?, Some(HostEmbedding::Rows(rows)))
		} else {
			let dense = embedding_q.dequantize(device)?.flatten_all()?.to_vec1()?;
			(Tensor::zeros(0, DType::F32, device)?, Some(HostEmbedding::Dense(dense)))
		};
		let norm = get("output_norm.weight")?.dequantize(device)?;
		// No output layer: it is tied to the embedding.
		let output = if ct.tensor_infos.contains_key("output.weight") { get("output.weight")? } else { embedding_q };
		let mut blocks = Vec::with_capacity(cfg.layers);
		for l in 0..cfg.layers {
			let attn_norm = get(&format!("blk.{l}.attn_norm.weight"))?.dequantize(device)?;
			let ffn_norm = get(&format!("blk.{l}.ffn_norm.weight"))?.dequantize(device)?;
			let mut q = |n: &str| -> Result<Linear, ModelError> {
				Ok(Linear::new(get(&format!("blk.{l}.{n}.weight"))?, weights, device)?)
			};
			blocks.push(Block {
				attn_norm_host: attn_norm.to_vec1()?,
				ffn_norm_host: ffn_norm.to_vec1()?,
				wq: q("attn_q")?,
				wk: q("attn_k")?,
				wv: q("attn_v")?,
				wo: q("attn_output")?,
				w_gate: q("ffn_gate")?,
				w_up: q("ffn_up")?,
				w_down: q("ffn_down")?,
				attn_norm,
				ffn_norm,
			});
		}
		let (mut cos, mut sin) = rope_tables(&cfg, device)?;
		// The CPU pass reads its own copies of the RoPE tables; each tensor is dropped as
		// soon as it is copied, so no more than three tables are ever held (what
		// `load_footprint` counts).
		let take = |t: &mut Tensor| -> candle_core::Result<Vec<f32>> {
			let host = t.flatten_all()?.to_vec1::<f32>()?;
			*t = Tensor::zeros(0, DType::F32, device)?;
			Ok(host)
		};
		let host = match host_embedding {
			Some(embedding) => Some(HostTables { embedding, norm: norm.to_vec1()?, cos: take(&mut cos)?, sin: take(&mut sin)? }),
			None => None,
		};
		Ok(Self { output: Linear::new(output, weights, device)?, cfg, device: device.clone(), embedding, host, blocks, norm, cos, sin })
	}

	/// The model's configuration.
	pub fn config(&self) -> &LlamaConfig {
		&self.cfg
	}

	/// The device it runs on.
	pub fn device(&self) -> &Device {
		&self.device
	}

	/// An empty cache for a new sequence (no memory until it is first extended).
	pub fn new_cache(&self) -> SeqCache {
		SeqCache { layers: Vec::new(), host: Vec::new(), len: 0, capacity: 0 }
	}

	/// Bytes of KV cache one token takes (keys and values of every layer, f32).
	pub fn cache_bytes_per_token(&self) -> usize {
		2 * self.cfg.layers * self.cfg.kv_heads * self.cfg.head_dim() * 4
	}

	fn reserve(&self, cache: &mut SeqCache, needed: usize) -> candle_core::Result<()> {
		if needed <= cache.capacity {
			return Ok(());
		}
		let capacity = needed.next_power_of_two().max(64);
		if self.host.is_some() {
			let (kvh, hd, old_capacity) = (self.cfg.kv_heads, self.cfg.head_dim(), cache.capacity);
			// Each kv head's rows move to the start of its new, larger region.
			let grow = |old: Option<&Vec<f32>>| {
				let mut new = vec![0f32; kvh * capacity * hd];
				if let Some(old) = old.filter(|_| old_capacity * hd > 0) {
					for (src, dst) in old.chunks_exact(old_capacity * hd).zip(new.chunks_exact_mut(capacity * hd)) {
						dst[..src.len()].copy_from_slice(src);
					}
				}
				new
			};
			cache.host = (0..self.cfg.layers)
				.map(|l| {
					let old = cache.host.get(l);
					(grow(old.map(|o| &o.0)), grow(old.map(|o| &o.1)))
				})
				.collect();
			cache.capacity = capacity;
			return Ok(());
		}
		let shape = (self.cfg.kv_heads, capacity, self.cfg.head_dim());
		let mut layers = Vec::with_capacity(self.cfg.layers);
		for l in 0..self.cfg.layers {
			let k = Tensor::zeros(shape, DType::F32, &self.device)?;
			let v = Tensor::zeros(shape, DType::F32, &self.device)?;
			if let Some((old_k, old_v)) = cache.layers.get(l) {
				k.slice_set(old_k, 1, 0)?;
				v.slice_set(old_v, 1, 0)?;
			}
			layers.push((k, v));
		}
		cache.layers = layers;
		cache.capacity = capacity;
		Ok(())
	}

	/// Appends each sequence's tokens to its cache and returns the logits of each
	/// sequence's last token, `[sequences, vocab]` (f32).
	///
	/// Checks every token id and the context length before touching any cache, so an
	/// error leaves every cache as it was.
	pub fn forward(&self, batch: &mut [Extend<'_>]) -> Result<Tensor, ModelError> {
		let vocab = self.cfg.vocab_size;
		for item in batch.iter() {
			if item.tokens.is_empty() {
				return Err(ModelError::Unsupported("a sequence in the batch has no tokens".into()));
			}
			if let Some(&token) = item.tokens.iter().find(|&&t| t as usize >= vocab) {
				return Err(ModelError::TokenOutOfVocab { token, vocab });
			}
			let len = item.cache.len + item.tokens.len();
			if len > self.cfg.context_length {
				return Err(ModelError::ContextExceeded { len, max: self.cfg.context_length });
			}
		}
		for item in batch.iter_mut() {
			self.reserve(item.cache, item.cache.len + item.tokens.len())?;
		}
		let seqs = batch.len();
		let logits = if self.host.is_some() {
			self.run_host(batch).and_then(|rows| Ok(Tensor::from_vec(rows, (seqs, vocab), &self.device)?))
		} else {
			self.run(batch)
		};
		// Commit the new lengths only once the whole pass succeeded.
		if logits.is_ok() {
			for item in batch.iter_mut() {
				item.cache.len += item.tokens.len();
			}
		}
		logits
	}

	fn run(&self, batch: &[Extend<'_>]) -> Result<Tensor, ModelError> {
		let cfg = &self.cfg;
		let (h, kvh, hd) = (cfg.heads, cfg.kv_heads, cfg.head_dim());
		let tokens: Vec<u32> = batch.iter().flat_map(|b| b.tokens.iter().copied()).collect();
		let positions: Vec<u32> =
			batch.iter().flat_map(|b| (b.cache.len..b.cache.len + b.tokens.len()).map(|p| p as u32)).collect();
		let n = tokens.len();
		let dev = &self.device;
		let tokens_t = Tensor::new(tokens.as_slice(), dev)?;
		let pos_t = Tensor::new(positions.as_slice(), dev)?;
		let cos = self.cos.index_select(&pos_t, 0)?;
		let sin = self.sin.index_select(&pos_t, 0)?;
		let scale = 1.0 / (hd as f64).sqrt();
		let masks: Vec<Option<Tensor>> =
			batch.iter().map(|b| causal_mask(b.cache.len, b.tokens.len(), h / kvh, dev)).collect::<Result<_, _>>()?;

		let mut x = self.embedding.index_select(&tokens_t, 0)?;
		for (l, block) in self.blocks.iter().enumerate() {
			let normed = rms_norm(&x, &block.attn_norm, cfg.rms_eps as f32)?;
			let q = self.rotate(&block.wq.forward(&normed)?, h, &cos, &sin)?;
			let q = (q * scale)?;
			let k = self.rotate(&block.wk.forward(&normed)?, kvh, &cos, &sin)?;
			let v = block.wv.forward(&normed)?.reshape((n, kvh, hd))?.transpose(0, 1)?;
			let mut start = 0;
			for item in batch.iter() {
				let (len, past) = (item.tokens.len(), item.cache.len);
				let (k_cache, v_cache) = &item.cache.layers[l];
				k_cache.slice_set(&k.narrow(1, start, len)?.contiguous()?, 1, past)?;
				v_cache.slice_set(&v.narrow(1, start, len)?.contiguous()?, 1, past)?;
				start += len;
			}
			let attn = self.attend_on_device(&q, batch, l, &masks)?;
			x = (block.wo.forward(&attn)? + x)?;
			let normed = rms_norm(&x, &block.ffn_norm, cfg.rms_eps as f32)?;
			let mlp = block.w_down.forward(&(silu(&block.w_gate.forward(&normed)?)? * block.w_up.forward(&normed)?)?)?;
			x = (mlp + x)?;
		}
		let mut last = Vec::with_capacity(batch.len());
		let mut end = 0u32;
		for item in batch {
			end += item.tokens.len() as u32;
			last.push(end - 1);
		}
		let x = x.index_select(&Tensor::new(last.as_slice(), dev)?, 0)?;
		let x = rms_norm(&x, &self.norm, cfg.rms_eps as f32)?;
		Ok(self.output.forward(&x)?.to_dtype(DType::F32)?)
	}

	/// The pass on the CPU over plain buffers: logits of each sequence's last token,
	/// `[sequences, vocab]` row-major. The caches have room for the new tokens.
	fn run_host(&self, batch: &mut [Extend<'_>]) -> Result<Vec<f32>, ModelError> {
		let host = self.host.as_ref().ok_or_else(|| ModelError::Unsupported("no CPU tables on this device".into()))?;
		let cfg = &self.cfg;
		let (h, kvh, hd, hidden) = (cfg.heads, cfg.kv_heads, cfg.head_dim(), cfg.hidden);
		let eps = cfg.rms_eps as f32;
		let n: usize = batch.iter().map(|b| b.tokens.len()).sum();
		let positions: Vec<usize> = batch.iter().flat_map(|b| b.cache.len..b.cache.len + b.tokens.len()).collect();
		let mut x = vec![0f32; n * hidden];
		for (row, &token) in x.chunks_exact_mut(hidden).zip(batch.iter().flat_map(|b| b.tokens.iter())) {
			host.embedding.row(token as usize, row)?;
		}
		let scale = (1.0 / (hd as f64).sqrt()) as f32;
		let half = hd / 2;
		for (l, block) in self.blocks.iter().enumerate() {
			let normed = rms_norm_rows(&x, &block.attn_norm_host, eps);
			let [mut q, mut k, v]: [Vec<f32>; 3] = project(&[&block.wq, &block.wk, &block.wv], &normed, n)?
				.try_into()
				.map_err(|_| ModelError::Shape("projection count".into()))?;
			for (t, &pos) in positions.iter().enumerate() {
				let (cos, sin) = (&host.cos[pos * half..(pos + 1) * half], &host.sin[pos * half..(pos + 1) * half]);
				let q_row = &mut q[t * h * hd..(t + 1) * h * hd];
				rope_row(q_row, hd, cos, sin, cfg.rope_neox);
				q_row.iter_mut().for_each(|v| *v *= scale);
				rope_row(&mut k[t * kvh * hd..(t + 1) * kvh * hd], hd, cos, sin, cfg.rope_neox);
			}
			let mut start = 0;
			for item in batch.iter_mut() {
				let (cap, past, len) = (item.cache.capacity, item.cache.len, item.tokens.len());
				let (k_cache, v_cache) = &mut item.cache.host[l];
				for t in 0..len {
					for kv in 0..kvh {
						let (src, dst) = (((start + t) * kvh + kv) * hd, (kv * cap + past + t) * hd);
						k_cache[dst..dst + hd].copy_from_slice(&k[src..src + hd]);
						v_cache[dst..dst + hd].copy_from_slice(&v[src..src + hd]);
					}
				}
				start += len;
			}
			let seqs: Vec<SeqAttention<'_>> = batch
				.iter()
				.map(|item| {
					let (keys, values) = &item.cache.host[l];
					SeqAttention { past: item.cache.len, len: item.tokens.len(), keys, values, capacity: item.cache.capacity }
				})
				.collect();
			let attn = attend(&q, &seqs, Heads { heads: h, kv_heads: kvh, head_dim: hd });
			add_into(&mut x, &block.wo.host_matmul(&attn, n)?);
			let normed = rms_norm_rows(&x, &block.ffn_norm_host, eps);
			let [mut gate, up]: [Vec<f32>; 2] = project(&[&block.w_gate, &block.w_up], &normed, n)?
				.try_into()
				.map_err(|_| ModelError::Shape("projection count".into()))?;
			for (g, u) in gate.iter_mut().zip(&up) {
				*g = *g / (1.0 + (-*g).exp()) * *u;
			}
			add_into(&mut x, &block.w_down.host_matmul(&gate, n)?);
		}
		let mut last = Vec::with_capacity(batch.len() * hidden);
		let mut end = 0;
		for item in batch.iter() {
			end += item.tokens.len();
			last.extend_from_slice(&x[(end - 1) * hidden..end * hidden]);
		}
		let normed = rms_norm_rows(&last, &host.norm, eps);
		Ok(self.output.host_matmul(&normed, batch.len())?)
	}

	/// Attention with candle ops, one sequence at a time (GPU path).
	fn attend_on_device(&self, q: &Tensor, batch: &[Extend<'_>], l: usize, masks: &[Option<Tensor>]) -> candle_core::Result<Tensor> {
		let (h, kvh, hd) = (self.cfg.heads, self.cfg.kv_heads, self.cfg.head_dim());
		let mut outs = Vec::with_capacity(batch.len());
		let mut start = 0;
		for (item, mask) in batch.iter().zip(masks) {
			let (len, past) = (item.tokens.len(), item.cache.len);
			let (k_cache, v_cache) = &item.cache.layers[l];
			let keys = k_cache.narrow(1, 0, past + len)?;
			let values = v_cache.narrow(1, 0, past + len)?;
			// Query head j reads kv head j / (h / kvh): group the query rows by kv head.
			let q_i = q.narrow(1, start, len)?.contiguous()?.reshape((kvh, (h / kvh) * len, hd))?;
			let mut att = q_i.matmul(&keys.t()?)?;
			if let Some(mask) = mask {
				att = att.broadcast_add(mask)?;
			}
			let att = softmax_last_dim(&att)?;
			outs.push(att.matmul(&values)?.reshape((h, len, hd))?.transpose(0, 1)?.reshape((len, h * hd))?);
			start += len;
		}
		if outs.len() == 1 {
			Ok(outs.pop().expect("one output"))
		} else {
			Tensor::cat(&outs, 0)
		}
	}

	/// `[n, heads * hd]` projections -> `[heads, n, hd]` with RoPE at each token's position.
	fn rotate(&self, x: &Tensor, heads: usize, cos: &Tensor, sin: &Tensor) -> candle_core::Result<Tensor> {
		let hd = self.cfg.head_dim();
		let n = x.dim(0)?;
		let x = x.reshape((n, heads, hd))?.transpose(0, 1)?.contiguous()?.unsqueeze(0)?;
		let x = if self.cfg.rope_neox {
			candle_nn::rotary_emb::rope(&x, cos, sin)?
		} else {
			candle_nn::rotary_emb::rope_i(&x, cos, sin)?
		};
		x.squeeze(0)
	}
}

/// Additive causal mask for `len` new tokens after `past` cached ones, repeated for the
/// `groups` query heads that share a kv head: `[groups * len, past + len]`, or `None`
/// for a single token (it sees everything).
fn causal_mask(past: usize, len: usize, groups: usize, device: &Device) -> candle_core::Result<Option<Tensor>> {
	if len == 1 {
		return Ok(None);
	}
	let total = past + len;
	let mut mask = Vec::with_capacity(groups * len * total);
	for _ in 0..groups {
		for t in 0..len {
			mask.extend((0..total).map(|j| if j > past + t { f32::NEG_INFINITY } else { 0.0 }));
		}
	}
	Ok(Some(Tensor::from_vec(mask, (groups * len, total), device)?))
}

/// The device named by `spec`: `cpu`, `cuda` or `cuda:N` (with the `cuda` feature).
pub fn device_from_spec(spec: &str) -> Result<Device, ModelError> {
	match spec {
		"cpu" => Ok(Device::Cpu),
		s if s == "cuda" || s.starts_with("cuda:") => {
			let ordinal = s.strip_prefix("cuda:").map(str::parse::<usize>).transpose().map_err(|_| {
				ModelError::Unsupported(format!("device {s:?}: expected cuda:N with N a GPU index"))
			})?;
			if !candle_core::utils::cuda_is_available() {
				return Err(ModelError::Unsupported(format!(
					"device {s:?}: this miner was built without the `cuda` feature"
				)));
			}
			Ok(Device::new_cuda(ordinal.unwrap_or(0))?)
		}
		s => Err(ModelError::Unsupported(format!("device {s:?}: expected cpu, cuda or cuda:N"))),
	}
}
