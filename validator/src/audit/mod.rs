//! Audits: re-running a miner's signed answers with the model it committed on-chain.
//!
//! Every round keeps a few signed answers per miner ([`Evidence`], at secret random
//! positions). The [`Auditor`] fetches the miner's committed model once through
//! `FetchModel` ([`cache`]: hash-checked against the commitment, bounded in size, time
//! and rate, cached on disk), loads it within [`ModelLimits`] (a downloaded model is
//! hostile input: every field and tensor is checked before anything is allocated, and
//! loading and recomputing run on a blocking thread behind a panic boundary), recomputes
//! the full next-token distribution at each sampled position and compares the whole
//! answer with it ([`check`]). [`pipeline`] runs all of this in the background, so a
//! slow download never delays a round. Failed audits come with the evidence that proves
//! them: anyone can verify the signature and re-run the context.

pub mod cache;
pub mod check;
pub mod pipeline;

use std::{
	collections::HashMap,
	panic::AssertUnwindSafe,
	path::{Path, PathBuf},
	sync::Arc,
	time::{Duration, Instant},
};

use candle_core::Device;
use parking_lot::Mutex;
use subxt_signer::sr25519::Keypair;
use tessera_miner::{
	llama::{Extend, Llama},
	model_limits::ModelLimits,
	WeightFormat,
};
use tessera_proto::{
	model::ModelError as DownloadError,
	receipt::{ContextHash, Evidence, ReceiptError},
};

pub use cache::{FetchLimits, ModelCache, MAX_MODEL_BYTES};
pub use check::{check_position, within, PositionCheck, Tolerance};

use crate::round::MinerTarget;

/// Why an audit could not be done, or the model could not be run.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
	/// The miner did not deliver its committed model (refused, stalled, too slow).
	#[error("model fetch from {addr}: {reason}")]
	Fetch {
		/// The miner's axon.
		addr: String,
		/// What went wrong.
		reason: String,
	},
	/// The bytes received are not the committed model (tampered, truncated, too large).
	#[error("model fetch: {0}")]
	Tampered(#[from] DownloadError),
	/// The committed model does not load: malformed, or outside the subnet's limits.
	#[error("the committed model does not load: {0}")]
	Load(tessera_miner::ModelError),
	/// The model is valid but loading it takes more memory than this validator allows.
	#[error("model too large for this validator: {0}")]
	Memory(tessera_miner::ModelError),
	/// Recomputing an answer failed (a context the model cannot take).
	#[error("model: {0}")]
	Model(String),
	/// Loading or recomputing panicked (caught; the auditor starts afresh).
	#[error("the audit panicked: {0}")]
	Panicked(String),
	/// Disk I/O of the model cache.
	#[error("model cache {path}: {source}")]
	Io {
		/// The file.
		path: String,
		/// The error.
		source: std::io::Error,
	},
}

/// The outcome of auditing one miner.
#[derive(Debug, Clone)]
pub struct AuditReport {
	/// One check per verified evidence, in order.
	pub checks: Vec<PositionCheck>,
	/// Whether the answers come from the committed model within the tolerance.
	pub passed: bool,
	/// The evidence that fails worst (largest mean |Δ|, or the first outside the
	/// per-position bounds), when the audit failed: what a fraud report points at.
	pub worst: Option<Evidence>,
	/// Evidence whose signature or hashes do not hold (never kept by the round, so a
	/// bug or a corrupted store); skipped.
	pub unverified: Vec<ReceiptError>,
	/// Time spent recomputing (not fetching).
	pub compute: Duration,
}

/// Recomputed distributions kept for miners serving the same model.
const MEMO_LIMIT: usize = 64;

/// Contexts recomputed in one forward pass.
const AUDIT_BATCH: usize = 8;

/// The full next-token log-softmax after each of `contexts`, computed by `llama` from
/// scratch (prefills, nothing cached), [`AUDIT_BATCH`] contexts per forward pass.
pub fn reference_logprobs(llama: &Llama, contexts: &[&[u32]]) -> Result<Vec<Vec<f32>>, AuditError> {
	let model = |e: &dyn std::fmt::Display| AuditError::Model(e.to_string());
	let mut out = Vec::with_capacity(contexts.len());
	for chunk in contexts.chunks(AUDIT_BATCH) {
		let mut caches: Vec<_> = chunk.iter().map(|_| llama.new_cache()).collect();
		let mut batch: Vec<Extend> =
			chunk.iter().zip(caches.iter_mut()).map(|(tokens, cache)| Extend { tokens, cache }).collect();
		let rows: Vec<Vec<f32>> = llama.forward(&mut batch).map_err(|e| model(&e))?.to_vec2().map_err(|e| model(&e))?;
		for row in rows {
			let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
			let log_sum = row.iter().map(|&x| f64::from(x - max).exp()).sum::<f64>().ln() as f32;
			out.push(row.iter().map(|&x| x - max - log_sum).collect());
		}
	}
	Ok(out)
}

/// The model side of audits: the loaded model and the recomputed distributions. Runs on
/// blocking threads only, one audit at a time.
struct Recompute {
	device: Device,
	weights: WeightFormat,
	tolerance: Tolerance,
	limits: ModelLimits,
	loaded: Option<([u8; 32], Llama)>,
	/// Recomputed distributions by context hash, for the loaded model: miners serving the
	/// same model at the same (shared) audit positions cost one recomputation.
	memo: HashMap<[u8; 32], Vec<f32>>,
}

impl Recompute {
	fn load(&mut self, hash: &[u8; 32], path: &Path) -> Result<(), AuditError> {
		self.loaded = None;
		self.memo.clear();
		let llama = Llama::load_gguf_within(path, &self.device, self.weights, &self.limits).map_err(|e| match e {
			e @ tessera_miner::ModelError::Memory { .. } => AuditError::Memory(e),
			e @ tessera_miner::ModelError::Io { .. } => AuditError::Io { path: path.display().to_string(), source: std::io::Error::other(e.to_string()) },
			e => AuditError::Load(e),
		})?;
		self.loaded = Some((*hash, llama));
		Ok(())
	}

	fn audit_with(&mut self, model_hash: &[u8; 32], path: &Path, evidence: &[Evidence]) -> Result<AuditReport, AuditError> {
		let started = Instant::now();
		let (kept, unverified) = verified(evidence);
		if self.loaded.as_ref().map(|(h, _)| h) != Some(model_hash) {
			self.load(model_hash, path)?;
		}
		if self.memo.len() >= MEMO_LIMIT {
			self.memo.clear();
		}
		let key = |e: &Evidence| ContextHash::of(&e.context).0;
		let mut todo: Vec<&[u32]> = Vec::new();
		let mut todo_keys = Vec::new();
		for e in &kept {
			let k = key(e);
			if !self.memo.contains_key(&k) && !todo_keys.contains(&k) {
				todo.push(&e.context);
				todo_keys.push(k);
			}
		}
		let Some((_, llama)) = self.loaded.as_ref() else { return Err(AuditError::Model("no model loaded".into())) };
		for (k, r) in todo_keys.into_iter().zip(reference_logprobs(llama, &todo)?) {
			self.memo.insert(k, r);
		}
		let checks: Vec<PositionCheck> =
			kept.iter().map(|e| self.memo.get(&key(e)).map_or(PositionCheck::INVALID, |r| check_position(e, r))).collect();
		let passed = within(&checks, &self.tolerance);
		let worst = if passed { None } else { worst_evidence(&checks, &kept, &self.tolerance) };
		Ok(AuditReport { checks, passed, worst, unverified, compute: started.elapsed() })
	}
}

/// The evidence whose signatures hold, and the errors of the others.
fn verified(evidence: &[Evidence]) -> (Vec<&Evidence>, Vec<ReceiptError>) {
	let mut kept = Vec::with_capacity(evidence.len());
	let mut unverified = Vec::new();
	for e in evidence {
		match e.verify() {
			Ok(()) => kept.push(e),
			Err(err) => unverified.push(err),
		}
	}
	(kept, unverified)
}

/// The evidence a failed audit points at: the first position outside the per-position
/// bounds, else the one with the largest mean |Δ|.
fn worst_evidence(checks: &[PositionCheck], kept: &[&Evidence], tol: &Tolerance) -> Option<Evidence> {
	let outside = checks.iter().zip(kept).find(|(c, _)| !c.within(tol));
	outside
		.or_else(|| checks.iter().zip(kept).max_by(|a, b| a.0.mean_abs.total_cmp(&b.0.mean_abs)))
		.map(|(_, e)| (*e).clone())
}

/// Audits miners: keeps fetched models on disk and the most recently used one loaded.
#[derive(Clone)]
pub struct Auditor {
	cache: ModelCache,
	fetch: Arc<Mutex<FetchLimits>>,
	recompute: Arc<Mutex<Recompute>>,
}

impl Auditor {
	/// An auditor running models on `device` as `weights`, judging with `tolerance`.
	pub fn new(cache: ModelCache, device: Device, weights: WeightFormat, tolerance: Tolerance) -> Self {
		let recompute = Recompute { device, weights, tolerance, limits: ModelLimits::default(), loaded: None, memo: HashMap::new() };
		Self { cache, fetch: Arc::new(Mutex::new(FetchLimits::default())), recompute: Arc::new(Mutex::new(recompute)) }
	}

	/// The tolerance in force.
	pub fn tolerance(&self) -> Tolerance {
		self.recompute.lock().tolerance
	}

	/// The model cache.
	pub fn cache(&self) -> &ModelCache {
		&self.cache
	}

	/// Sets the bounds of later fetches and loads (the subnet's, read from the chain).
	pub fn set_limits(&self, fetch: FetchLimits, model: ModelLimits) {
		*self.fetch.lock() = fetch;
		self.recompute.lock().limits = model;
	}

	/// The fetch bounds in force.
	pub fn fetch_limits(&self) -> FetchLimits {
		*self.fetch.lock()
	}

	/// Fetches `target`'s committed model `model_hash` (unless cached), within the fetch
	/// bounds; returns the cached file.
	pub async fn fetch(&self, target: &MinerTarget, key: &Keypair, model_hash: &[u8; 32]) -> Result<PathBuf, AuditError> {
		let limits = self.fetch_limits();
		self.cache.fetch(target, key, model_hash, &limits).await
	}

	/// Audits `target`'s signed answers `evidence` (all for the model `model_hash`, its
	/// on-chain commitment), fetching the model from the miner if it is not cached.
	pub async fn audit(&self, target: &MinerTarget, key: &Keypair, model_hash: &[u8; 32], evidence: &[Evidence]) -> Result<AuditReport, AuditError> {
		let path = self.fetch(target, key, model_hash).await?;
		self.recompute(model_hash, path, evidence.to_vec()).await
	}

	/// Audits `evidence` against the model file at `path` (whose hash is `model_hash`) on
	/// a blocking thread, behind a panic boundary: a panic is an error and leaves no
	/// model loaded.
	pub async fn recompute(&self, model_hash: &[u8; 32], path: PathBuf, evidence: Vec<Evidence>) -> Result<AuditReport, AuditError> {
		let recompute = self.recompute.clone();
		let hash = *model_hash;
		tokio::task::spawn_blocking(move || {
			let result = std::panic::catch_unwind(AssertUnwindSafe(|| recompute.lock().audit_with(&hash, &path, &evidence)));
			result.unwrap_or_else(|panic| {
				let mut r = recompute.lock();
				r.loaded = None;
				r.memo.clear();
				Err(AuditError::Panicked(panic_message(&panic)))
			})
		})
		.await
		.unwrap_or_else(|e| Err(AuditError::Panicked(e.to_string())))
	}
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
	panic
		.downcast_ref::<&str>()
		.map(|s| s.to_string())
		.or_else(|| panic.downcast_ref::<String>().cloned())
		.unwrap_or_else(|| "unknown panic".into())
}
