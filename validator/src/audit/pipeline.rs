//! Audits in the background: rounds hand in jobs and pick up verdicts, and never wait.
//!
//! Each job (one miner's signed answers of one round) runs as its own task: a fetch of
//! the committed model when it is not cached (at most `max_fetches` at once, one per
//! model hash at a time, each bounded by [`FetchLimits`]), then the recomputation on a
//! blocking thread (one model loaded at a time). At most one job per miner and model is
//! in flight; a miner whose audit is still running is not handed in again. The verdict
//! of every job comes back through [`AuditPipeline::drain`].

use std::{
	collections::{HashMap, HashSet},
	sync::Arc,
	time::{Duration, Instant},
};

use parking_lot::Mutex;
use subxt_signer::sr25519::Keypair;
use tessera_proto::receipt::Evidence;
use tokio::sync::{mpsc, Semaphore};

use super::{AuditError, AuditReport, Auditor};
use crate::round::MinerTarget;

/// One miner's signed answers of a round, to audit against its committed model.
#[derive(Debug, Clone)]
pub struct AuditJob {
	/// The miner.
	pub target: MinerTarget,
	/// Its on-chain model commitment (what its answers claim to come from).
	pub model_hash: [u8; 32],
	/// Its signed answers at the round's audit positions.
	pub evidence: Vec<Evidence>,
}

/// What an audit found.
#[derive(Debug, Clone)]
pub enum Verdict {
	/// The answers come from the committed model.
	Passed(AuditReport),
	/// The answers do not come from the committed model, or the model does not load:
	/// `evidence` (signed by the miner for that model) is what a report points at.
	Failed {
		/// Why.
		reason: String,
		/// The signed answer to report (none when no evidence verified).
		evidence: Option<Evidence>,
		/// Whether the failure is the miner's for certain and goes on-chain (false for
		/// failures that could be this validator's own, such as a panic).
		report: bool,
	},
	/// The miner did not deliver its committed model in bounded time (refused, stalled,
	/// too slow, too large, other bytes): weight 0; repeated, a failed audit.
	Unfetchable {
		/// Why.
		reason: String,
		/// A signed answer for that model, to report when the failure repeats.
		evidence: Option<Evidence>,
	},
	/// This validator cannot audit the model (its memory limit, its disk): weight 0, and
	/// nothing against the miner.
	Unauditable(String),
}

impl Verdict {
	/// A short label for logs and metrics.
	pub fn label(&self) -> &'static str {
		match self {
			Verdict::Passed(_) => "pass",
			Verdict::Failed { .. } => "fail",
			Verdict::Unfetchable { .. } => "unfetchable",
			Verdict::Unauditable(_) => "unauditable",
		}
	}
}

/// The verdict on one job.
#[derive(Debug, Clone)]
pub struct AuditOutcome {
	/// The miner.
	pub target: MinerTarget,
	/// The commitment audited.
	pub model_hash: [u8; 32],
	/// The verdict.
	pub verdict: Verdict,
	/// Wall time of the job (fetch and recomputation).
	pub elapsed: Duration,
}

/// Turns an audit's result into a verdict.
fn verdict(result: Result<AuditReport, AuditError>, evidence: &[Evidence]) -> Verdict {
	let first_valid = || evidence.iter().find(|e| e.verify().is_ok()).cloned();
	match result {
		Ok(report) if report.passed => Verdict::Passed(report),
		Ok(report) => {
			let worst = report.checks.iter().map(|c| c.mean_abs).fold(0f32, f32::max);
			Verdict::Failed {
				reason: format!("signed answers are not the committed model's (worst mean |Δ| {worst:.3} nats)"),
				evidence: report.worst,
				report: true,
			}
		},
		Err(e @ (AuditError::Fetch { .. } | AuditError::Tampered(_))) => {
			Verdict::Unfetchable { reason: e.to_string(), evidence: first_valid() }
		},
		Err(e @ (AuditError::Load(_) | AuditError::Model(_))) => {
			Verdict::Failed { reason: e.to_string(), evidence: first_valid(), report: true }
		},
		Err(e @ AuditError::Panicked(_)) => Verdict::Failed { reason: e.to_string(), evidence: first_valid(), report: false },
		Err(e @ (AuditError::Memory(_) | AuditError::Io { .. })) => Verdict::Unauditable(e.to_string()),
	}
}

/// Background audits (see the module docs).
pub struct AuditPipeline {
	auditor: Auditor,
	key: Keypair,
	fetches: Arc<Semaphore>,
	/// One lock per model hash: two miners serving the same model fetch it once.
	model_locks: Arc<Mutex<HashMap<[u8; 32], Arc<tokio::sync::Mutex<()>>>>>,
	in_flight: HashSet<([u8; 32], [u8; 32])>,
	results_tx: mpsc::UnboundedSender<AuditOutcome>,
	results: mpsc::UnboundedReceiver<AuditOutcome>,
}

impl AuditPipeline {
	/// Audits with `auditor`, fetching as `key`, at most `max_fetches` downloads at once.
	pub fn new(auditor: Auditor, key: Keypair, max_fetches: usize) -> Self {
		let (results_tx, results) = mpsc::unbounded_channel();
		Self {
			auditor,
			key,
			fetches: Arc::new(Semaphore::new(max_fetches.max(1))),
			model_locks: Arc::default(),
			in_flight: HashSet::new(),
			results_tx,
			results,
		}
	}

	/// The auditor (for its limits).
	pub fn auditor(&self) -> &Auditor {
		&self.auditor
	}

	/// Whether an audit of `hotkey` serving `model` is running.
	pub fn in_flight(&self, hotkey: &[u8; 32], model: &[u8; 32]) -> bool {
		self.in_flight.contains(&(*hotkey, *model))
	}

	/// Jobs running.
	pub fn pending(&self) -> usize {
		self.in_flight.len()
	}

	/// Starts auditing `job` in the background; false (and nothing started) when an
	/// audit of the same miner and model is still running or there is no evidence.
	pub fn submit(&mut self, job: AuditJob) -> bool {
		let id = (job.target.hotkey.0, job.model_hash);
		if job.evidence.is_empty() || !self.in_flight.insert(id) {
			return false;
		}
		let (auditor, key, fetches, locks, tx) =
			(self.auditor.clone(), self.key.clone(), self.fetches.clone(), self.model_locks.clone(), self.results_tx.clone());
		tokio::spawn(async move {
			let started = Instant::now();
			let result = run_job(&auditor, &key, &fetches, &locks, &job).await;
			// A file that does not load stays unloadable: keeping it only costs disk.
			if matches!(result, Err(AuditError::Load(_))) {
				auditor.cache().remove(&job.model_hash);
			}
			let verdict = verdict(result, &job.evidence);
			let _ = tx.send(AuditOutcome { target: job.target, model_hash: job.model_hash, verdict, elapsed: started.elapsed() });
		});
		true
	}

	/// The verdicts that came in since the last call (never waits).
	pub fn drain(&mut self) -> Vec<AuditOutcome> {
		let mut out = Vec::new();
		while let Ok(o) = self.results.try_recv() {
			self.in_flight.remove(&(o.target.hotkey.0, o.model_hash));
			out.push(o);
		}
		out
	}

	/// Waits up to `timeout` for every running job, then drains (tests, shutdown).
	pub async fn wait(&mut self, timeout: Duration) -> Vec<AuditOutcome> {
		let deadline = tokio::time::Instant::now() + timeout;
		let mut out = Vec::new();
		while !self.in_flight.is_empty() {
			match tokio::time::timeout_at(deadline, self.results.recv()).await {
				Ok(Some(o)) => {
					self.in_flight.remove(&(o.target.hotkey.0, o.model_hash));
					out.push(o);
				},
				_ => break,
			}
		}
		out
	}
}

async fn run_job(
	auditor: &Auditor,
	key: &Keypair,
	fetches: &Semaphore,
	locks: &Mutex<HashMap<[u8; 32], Arc<tokio::sync::Mutex<()>>>>,
	job: &AuditJob,
) -> Result<AuditReport, AuditError> {
	let path = match auditor.cache().get(&job.model_hash) {
		Some(path) => path,
		None => {
			let lock = locks.lock().entry(job.model_hash).or_default().clone();
			let _model = lock.lock().await;
			let _slot = fetches.acquire().await.map_err(|e| AuditError::Model(e.to_string()))?;
			auditor.fetch(&job.target, key, &job.model_hash).await?
		},
	};
	auditor.recompute(&job.model_hash, path, job.evidence.clone()).await
}
