//! Miners' committed models on disk, and fetching them in bounded time.
//!
//! A fetch is bounded three ways ([`FetchLimits`]): the file may not be larger than the
//! subnet's `max_model_bytes` (refused as soon as the miner announces its size), the
//! stream may not go quiet for longer than `stall_timeout`, and after a grace period it
//! must keep up an average of `min_rate` bytes per second. So a fetch ends, one way or
//! the other, within `grace + max_bytes / min_rate`, and a miner cannot keep a validator
//! waiting by trickling bytes. Every chunk is checked against the on-chain hash before
//! it is written; nothing is kept unless the whole file matches.

use std::{
	path::{Path, PathBuf},
	time::{Duration, Instant, SystemTime},
};

use subxt_signer::sr25519::Keypair;
use tessera_proto::{auth::signed_unary, method, model::ModelDownload, v1::FetchModelRequest};
use tokio::io::AsyncWriteExt;

use super::AuditError;
use crate::round::MinerTarget;

/// Largest model file accepted when the subnet sets no limit.
pub const MAX_MODEL_BYTES: u64 = 16 << 30;

/// How long and how slowly a model fetch may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchLimits {
	/// Largest file (the subnet's `max_model_bytes`).
	pub max_bytes: u64,
	/// Least average rate after `grace`, bytes per second.
	pub min_rate: u64,
	/// Time before the rate is enforced (connection, the miner reading its file).
	pub grace: Duration,
	/// Longest wait for the next chunk.
	pub stall_timeout: Duration,
	/// To open the connection.
	pub connect_timeout: Duration,
}

impl Default for FetchLimits {
	/// 16 GiB, 1 MiB/s after 15 s, 20 s without a chunk, 5 s to connect.
	fn default() -> Self {
		Self {
			max_bytes: MAX_MODEL_BYTES,
			min_rate: 1 << 20,
			grace: Duration::from_secs(15),
			stall_timeout: Duration::from_secs(20),
			connect_timeout: Duration::from_secs(5),
		}
	}
}

impl FetchLimits {
	/// The longest a fetch can take: the grace plus the largest file at the least rate.
	pub fn max_duration(&self) -> Duration {
		self.grace + Duration::from_secs(self.max_bytes / self.min_rate.max(1)) + self.stall_timeout
	}

	/// Whether `received` bytes after `elapsed` is under the least rate.
	fn too_slow(&self, received: u64, elapsed: Duration) -> bool {
		let Some(rated) = elapsed.checked_sub(self.grace) else { return false };
		(received as f64) < self.min_rate as f64 * rated.as_secs_f64()
	}
}

/// Models on disk, named by their hash, at most `max_bytes` in all.
#[derive(Debug, Clone)]
pub struct ModelCache {
	dir: PathBuf,
	max_bytes: u64,
}

impl ModelCache {
	/// A cache in `dir` (created when needed) holding at most `max_bytes`.
	pub fn new(dir: PathBuf, max_bytes: u64) -> Self {
		Self { dir, max_bytes }
	}

	/// Where the model with `hash` lives.
	pub fn path(&self, hash: &[u8; 32]) -> PathBuf {
		self.dir.join(format!("{}.gguf", hex::encode(hash)))
	}

	/// The cached file of `hash`, marked as just used.
	pub fn get(&self, hash: &[u8; 32]) -> Option<PathBuf> {
		let path = self.path(hash);
		let file = std::fs::File::options().append(true).open(&path).ok()?;
		let _ = file.set_modified(SystemTime::now());
		Some(path)
	}

	/// Drops the model with `hash` (it does not load: keeping it only costs disk).
	pub fn remove(&self, hash: &[u8; 32]) {
		let _ = std::fs::remove_file(self.path(hash));
	}

	/// Downloads `target`'s model through `FetchModel` within `limits`, checking it chunk
	/// by chunk against `hash` (the on-chain commitment) before it is kept, then evicts
	/// old models. A cached copy is used as it is.
	pub async fn fetch(&self, target: &MinerTarget, key: &Keypair, hash: &[u8; 32], limits: &FetchLimits) -> Result<PathBuf, AuditError> {
		if let Some(path) = self.get(hash) {
			return Ok(path);
		}
		tokio::fs::create_dir_all(&self.dir).await.map_err(io_error(&self.dir))?;
		let partial = self.dir.join(format!("{}.part", hex::encode(hash)));
		let result = download(target, key, hash, limits, &partial).await;
		if let Err(e) = result {
			let _ = tokio::fs::remove_file(&partial).await;
			return Err(e);
		}
		let path = self.path(hash);
		tokio::fs::rename(&partial, &path).await.map_err(io_error(&path))?;
		self.evict(hash);
		Ok(path)
	}

	/// Removes the least recently used models (never `keep`) until the cache fits.
	pub fn evict(&self, keep: &[u8; 32]) {
		let Ok(entries) = std::fs::read_dir(&self.dir) else { return };
		let keep = self.path(keep);
		let mut files: Vec<(SystemTime, u64, PathBuf)> = entries
			.flatten()
			.filter(|e| e.path().extension().is_some_and(|x| x == "gguf"))
			.filter_map(|e| {
				let m = e.metadata().ok()?;
				Some((m.modified().ok()?, m.len(), e.path()))
			})
			.collect();
		let mut total: u64 = files.iter().map(|f| f.1).sum();
		files.sort();
		for (_, len, path) in files {
			if total <= self.max_bytes {
				break;
			}
			if path != keep && std::fs::remove_file(&path).is_ok() {
				tracing::info!(model = %path.display(), "evicted from the model cache");
				total -= len;
			}
		}
	}
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> AuditError {
	let path = path.display().to_string();
	move |source| AuditError::Io { path, source }
}

/// One `FetchModel` stream into `partial`, within `limits`.
async fn download(target: &MinerTarget, key: &Keypair, hash: &[u8; 32], limits: &FetchLimits, partial: &Path) -> Result<(), AuditError> {
	let fail = |reason: String| AuditError::Fetch { addr: target.addr.to_string(), reason };
	let status = |s: tonic::Status| fail(format!("{:?}: {}", s.code(), s.message()));
	let started = Instant::now();
	// Over TLS the bytes are checked against the on-chain hash anyway; the certificate
	// binding is the round's business.
	let (channel, _) = tessera_proto::transport::connect(target.addr, target.tls, limits.connect_timeout)
		.await
		.map_err(|e| fail(e.to_string()))?;
	let mut client = tessera_proto::client(channel);
	let req = FetchModelRequest { offset: 0, chunk_size: 0, model_hash: hash.to_vec() };
	let mut stream = tokio::time::timeout(
		limits.stall_timeout,
		client.fetch_model(signed_unary(key, &target.hotkey, method::FETCH_MODEL, req)),
	)
	.await
	.map_err(|_| fail(format!("no answer within {:?}", limits.stall_timeout)))?
	.map_err(status)?
	.into_inner();
	let mut check = ModelDownload::new(Some(*hash), limits.max_bytes);
	let mut file = tokio::fs::File::create(partial).await.map_err(io_error(partial))?;
	loop {
		let next = tokio::time::timeout(limits.stall_timeout, stream.message())
			.await
			.map_err(|_| fail(format!("stalled: no chunk for {:?}", limits.stall_timeout)))?
			.map_err(status)?;
		let Some(chunk) = next else { break };
		let done = check.push(&chunk)?;
		file.write_all(&chunk.data).await.map_err(io_error(partial))?;
		if done.is_some() {
			break;
		}
		if limits.too_slow(check.next_offset(), started.elapsed()) {
			return Err(fail(format!(
				"under the least rate of {} bytes/s: {} bytes in {:.1} s",
				limits.min_rate,
				check.next_offset(),
				started.elapsed().as_secs_f64()
			)));
		}
	}
	check.finish()?;
	file.flush().await.map_err(io_error(partial))?;
	Ok(())
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn cache_evicts_least_recently_used_first() {
		let dir = tempfile::tempdir().unwrap();
		let cache = ModelCache::new(dir.path().to_path_buf(), 250);
		let t0 = SystemTime::now() - Duration::from_secs(100);
		for (i, age) in [(1u8, 30u64), (2, 20), (3, 10)] {
			let p = cache.path(&[i; 32]);
			std::fs::write(&p, vec![0u8; 100]).unwrap();
			std::fs::File::options().append(true).open(&p).unwrap().set_modified(t0 + Duration::from_secs(age)).unwrap();
		}
		// Using model 1 makes model 2 the oldest.
		assert!(cache.get(&[1; 32]).is_some());
		cache.evict(&[3; 32]);
		assert!(cache.path(&[1; 32]).exists());
		assert!(!cache.path(&[2; 32]).exists());
		assert!(cache.path(&[3; 32]).exists());
		assert!(cache.get(&[2; 32]).is_none());
	}

	#[test]
	fn the_least_rate_applies_after_the_grace() {
		let l = FetchLimits { min_rate: 1000, grace: Duration::from_secs(10), ..FetchLimits::default() };
		assert!(!l.too_slow(0, Duration::from_secs(9)));
		assert!(!l.too_slow(5000, Duration::from_secs(15)));
		assert!(l.too_slow(4999, Duration::from_secs(15)));
		let bounded = FetchLimits { max_bytes: 100_000, ..l };
		assert_eq!(bounded.max_duration(), Duration::from_secs(10 + 100 + 20));
	}
}
