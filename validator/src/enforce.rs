//! What the validator does with audit verdicts.
//!
//! A miner is paid only while the latest audit of the model it serves passed: until the
//! first verdict, and whenever the model cannot be fetched in bounded time, its weight is
//! 0 ([`AuditLedger::withheld`]). A fetch that fails `failures_to_fail` rounds in a row
//! counts as a failed audit. A failed audit forfeits the miner's EMA, leaves it out of
//! later rounds while it serves that model, writes the evidence next to the database,
//! and, when the subnet has audits on and this validator holds a permit, reports it with
//! `report_fraud` (retried each round until it goes through).

use std::{
	collections::{BTreeMap, BTreeSet, HashMap},
	path::{Path, PathBuf},
};

use codec::{Decode, Encode};
use subxt_signer::sr25519::Keypair;
use tessera_client::{FraudEvidenceArgs, TesseraClient};
use tessera_proto::receipt::Evidence;

use crate::{
	audit::pipeline::{AuditOutcome, Verdict},
	metrics::Metrics,
	round::MinerTarget,
	scores::Scores,
	store::{FailedAudit, Store},
};

/// Miners that failed an audit, by (hotkey, model hash).
pub type Failed = BTreeMap<([u8; 32], [u8; 32]), FailedAudit>;

/// Where evidence files go: `<dir of the database>/evidence/<hash>.scale`.
pub fn evidence_dir(db: &Path) -> PathBuf {
	db.parent().unwrap_or(Path::new(".")).join("evidence")
}

/// Whether `target` failed an audit with the model it serves now.
pub fn is_barred(failed: &Failed, target: &MinerTarget) -> bool {
	target.model_hash.is_some_and(|m| failed.contains_key(&(target.hotkey.0, m)))
}

/// The chain side of enforcement.
pub struct Chain<'a> {
	/// The client.
	pub client: &'a TesseraClient,
	/// The subnet.
	pub netuid: u16,
	/// Whether the subnet takes fraud reports (`audits_enabled`) and this validator may
	/// send them (it holds a permit).
	pub can_report: bool,
}

/// Where each miner's audits stand, by (hotkey, model hash). In memory: after a restart
/// every miner is audited again before it is paid (cached models make that quick).
#[derive(Debug, Clone, Default)]
pub struct AuditLedger {
	status: HashMap<([u8; 32], [u8; 32]), Standing>,
	failures_to_fail: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Standing {
	/// The latest audit passed.
	Passed,
	/// The latest `n` fetches in a row failed.
	Unfetchable(u32),
	/// This validator could not audit the model.
	Unauditable,
}

/// What to do after a verdict.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
	/// Nothing beyond the ledger.
	None,
	/// Treat as a failed audit: forfeit, bar, keep the evidence, report when `report`.
	Fail {
		/// Why.
		reason: String,
		/// What to report.
		evidence: Option<Evidence>,
		/// Whether it goes on-chain.
		report: bool,
	},
}

impl AuditLedger {
	/// A ledger that turns `failures_to_fail` failed fetches in a row into a failed
	/// audit (at least 1).
	pub fn new(failures_to_fail: u32) -> Self {
		Self { status: HashMap::new(), failures_to_fail: failures_to_fail.max(1) }
	}

	/// Whether `hotkey` serving `model` may be paid: its latest audit passed.
	pub fn cleared(&self, hotkey: &[u8; 32], model: &[u8; 32]) -> bool {
		self.status.get(&(*hotkey, *model)) == Some(&Standing::Passed)
	}

	/// The uids of `miners` that may not be paid now: no passed audit of the model each
	/// one serves.
	pub fn withheld(&self, miners: &[MinerTarget]) -> BTreeSet<u16> {
		miners
			.iter()
			.filter(|m| m.model_hash.is_some_and(|model| !self.cleared(&m.hotkey.0, &model)))
			.map(|m| m.uid)
			.collect()
	}

	/// Records `outcome`; returns what to do about it.
	pub fn record(&mut self, outcome: &AuditOutcome) -> Action {
		let id = (outcome.target.hotkey.0, outcome.model_hash);
		match &outcome.verdict {
			Verdict::Passed(_) => {
				self.status.insert(id, Standing::Passed);
				Action::None
			},
			Verdict::Unauditable(_) => {
				self.status.insert(id, Standing::Unauditable);
				Action::None
			},
			Verdict::Unfetchable { reason, evidence } => {
				let n = match self.status.get(&id) {
					Some(Standing::Unfetchable(n)) => n + 1,
					_ => 1,
				};
				self.status.insert(id, Standing::Unfetchable(n));
				if n < self.failures_to_fail {
					return Action::None;
				}
				self.status.remove(&id);
				Action::Fail {
					reason: format!("the committed model could not be fetched {n} rounds in a row: {reason}"),
					evidence: evidence.clone(),
					report: true,
				}
			},
			Verdict::Failed { reason, evidence, report } => {
				self.status.remove(&id);
				Action::Fail { reason: reason.clone(), evidence: evidence.clone(), report: *report }
			},
		}
	}
}

/// Applies the verdicts of finished audits (see the module docs).
#[allow(clippy::too_many_arguments)]
pub async fn apply_verdicts(
	outcomes: Vec<AuditOutcome>,
	ledger: &mut AuditLedger,
	key: &Keypair,
	chain: &Chain<'_>,
	store: &Store,
	evidence_dir: &Path,
	scores: &mut Scores,
	failed: &mut Failed,
	metrics: &Metrics,
) {
	for outcome in outcomes {
		let (uid, hotkey) = (outcome.target.uid, outcome.target.hotkey);
		metrics.audits.with_label_values(&[outcome.verdict.label()]).inc();
		metrics.audit_seconds.observe(outcome.elapsed.as_secs_f64());
		match &outcome.verdict {
			Verdict::Passed(r) => {
				let worst = r.checks.iter().map(|c| c.mean_abs).fold(0f32, f32::max);
				tracing::info!(uid, positions = r.checks.len(), worst_mean_nats = worst, "audit passed");
			},
			Verdict::Unfetchable { reason, .. } => {
				tracing::warn!(uid, %reason, "the miner's committed model could not be fetched: weight 0");
			},
			Verdict::Unauditable(reason) => tracing::warn!(uid, %reason, "cannot audit this miner's model: weight 0"),
			Verdict::Failed { .. } => {},
		}
		let Action::Fail { reason, evidence, report } = ledger.record(&outcome) else { continue };
		tracing::warn!(uid, %hotkey, model = %hex::encode(outcome.model_hash), %reason, "AUDIT FAILED: weight 0");
		scores.forfeit(uid, hotkey.0);
		let evidence_hash = evidence.as_ref().map(|e| keep_evidence(evidence_dir, e));
		let reported = match (&evidence, report && chain.can_report) {
			(Some(e), true) => submit_report(chain, key, uid, e, metrics).await,
			_ => false,
		};
		let entry = FailedAudit { uid, evidence_hash: evidence_hash.unwrap_or_default(), reported: reported || !report || evidence.is_none() };
		if let Err(e) = store.put_failed_audit(&hotkey.0, &outcome.model_hash, &entry) {
			tracing::error!(error = %e, "could not record the failed audit");
		}
		failed.insert((hotkey.0, outcome.model_hash), entry);
	}
}

/// Writes `evidence` to `<dir>/<hash>.scale`; returns its hash.
fn keep_evidence(dir: &Path, evidence: &Evidence) -> [u8; 32] {
	let hash = evidence.hash();
	let path = dir.join(format!("{}.scale", hex::encode(hash)));
	if let Err(e) = std::fs::create_dir_all(dir).and_then(|_| std::fs::write(&path, evidence.encode())) {
		tracing::error!(path = %path.display(), error = %e, "could not keep the evidence");
	}
	hash
}

/// The evidence kept under `hash`, if its file is there and whole.
fn load_evidence(dir: &Path, hash: &[u8; 32]) -> Option<Evidence> {
	let bytes = std::fs::read(dir.join(format!("{}.scale", hex::encode(hash)))).ok()?;
	Evidence::decode(&mut &bytes[..]).ok().filter(|e| e.hash() == *hash)
}

/// Who a report is against: a registered uid, or a hotkey whose neuron is gone but whose
/// bond the chain holds in escrow while reports against it count.
enum Accused {
	Uid(u16),
	Escrowed([u8; 32]),
}

/// Reports the failed audits not reported yet (found before this validator held a permit,
/// or whose report failed): for miners still registered at the same uid with the same
/// hotkey, or removed with their bond in escrow.
pub async fn report_pending(
	chain: &Chain<'_>,
	key: &Keypair,
	registered: &BTreeMap<u16, [u8; 32]>,
	store: &Store,
	evidence_dir: &Path,
	failed: &mut Failed,
	metrics: &Metrics,
) {
	if !chain.can_report {
		return;
	}
	for ((hotkey, model), entry) in failed.iter_mut() {
		if entry.reported {
			continue;
		}
		let accused = if registered.get(&entry.uid) == Some(hotkey) {
			Accused::Uid(entry.uid)
		} else {
			match chain.client.escrow(chain.netuid, &tessera_client::AccountId::from(*hotkey)).await {
				Ok(Some(_)) => Accused::Escrowed(*hotkey),
				_ => continue,
			}
		};
		let Some(evidence) = load_evidence(evidence_dir, &entry.evidence_hash) else {
			tracing::warn!(uid = entry.uid, "the evidence of a failed audit is gone; it cannot be reported");
			entry.reported = true;
			continue;
		};
		if submit(chain, key, accused, &evidence, metrics).await {
			entry.reported = true;
			if let Err(e) = store.put_failed_audit(hotkey, model, entry) {
				tracing::error!(error = %e, "could not record the fraud report");
			}
		}
	}
}

async fn submit_report(chain: &Chain<'_>, key: &Keypair, uid: u16, evidence: &Evidence, metrics: &Metrics) -> bool {
	submit(chain, key, Accused::Uid(uid), evidence, metrics).await
}

/// `report_fraud` (or `report_escrowed`) with the miner's signed step; whether it went
/// through.
async fn submit(chain: &Chain<'_>, key: &Keypair, accused: Accused, evidence: &Evidence, metrics: &Metrics) -> bool {
	let evidence_hash = evidence.hash();
	let args = FraudEvidenceArgs {
		model_hash: evidence.model_hash,
		digests: evidence.digests.iter().map(|d| (d.position, d.context.0, d.distribution)).collect(),
		index: evidence.index,
		signature: evidence.signature,
		evidence_hash,
	};
	let result = match &accused {
		Accused::Uid(uid) => chain.client.report_fraud(key, chain.netuid, *uid, &args).await,
		Accused::Escrowed(hotkey) => {
			chain.client.report_escrowed(key, chain.netuid, &tessera_client::AccountId::from(*hotkey), &args).await
		},
	};
	match result {
		Ok(_) => {
			metrics.fraud_reports.with_label_values(&["ok"]).inc();
			tracing::info!(evidence = %hex::encode(evidence_hash), "fraud reported on-chain");
			true
		},
		Err(e) => {
			metrics.fraud_reports.with_label_values(&["failed"]).inc();
			tracing::warn!(error = %e, "report_fraud failed; will retry");
			false
		},
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use crate::audit::{pipeline::Verdict, AuditReport};
	use std::time::Duration;
	use tessera_proto::Hotkey;

	fn outcome(verdict: Verdict) -> AuditOutcome {
		let target = MinerTarget {
			uid: 3,
			hotkey: Hotkey([3; 32]),
			addr: "127.0.0.1:1".parse().unwrap(),
			commit_block: 1,
			model_hash: Some([9; 32]),
			tls: false,
		};
		AuditOutcome { target, model_hash: [9; 32], verdict, elapsed: Duration::ZERO }
	}

	fn passed() -> Verdict {
		Verdict::Passed(AuditReport { checks: vec![], passed: true, worst: None, unverified: vec![], compute: Duration::ZERO })
	}

	fn unfetchable() -> Verdict {
		Verdict::Unfetchable { reason: "UNAVAILABLE".into(), evidence: None }
	}

	#[test]
	fn a_miner_is_paid_only_after_a_passed_audit() {
		let mut ledger = AuditLedger::new(3);
		let o = outcome(passed());
		let miners = [o.target.clone()];
		assert_eq!(ledger.withheld(&miners), BTreeSet::from([3]), "no audit yet");
		assert_eq!(ledger.record(&o), Action::None);
		assert!(ledger.withheld(&miners).is_empty());
		assert_eq!(ledger.record(&outcome(unfetchable())), Action::None);
		assert_eq!(ledger.withheld(&miners), BTreeSet::from([3]), "weight 0 the round the fetch fails");
	}

	#[test]
	fn refusing_the_download_n_rounds_in_a_row_is_a_failed_audit() {
		let mut ledger = AuditLedger::new(3);
		assert_eq!(ledger.record(&outcome(unfetchable())), Action::None);
		assert_eq!(ledger.record(&outcome(unfetchable())), Action::None);
		assert!(matches!(ledger.record(&outcome(unfetchable())), Action::Fail { report: true, .. }));
		// A pass in between starts the count again.
		let mut ledger = AuditLedger::new(2);
		ledger.record(&outcome(unfetchable()));
		ledger.record(&outcome(passed()));
		assert_eq!(ledger.record(&outcome(unfetchable())), Action::None);
	}

	#[test]
	fn failures_that_may_be_ours_are_not_reported() {
		let mut ledger = AuditLedger::new(3);
		let panic = Verdict::Failed { reason: "panicked".into(), evidence: None, report: false };
		assert!(matches!(ledger.record(&outcome(panic)), Action::Fail { report: false, .. }));
		assert_eq!(ledger.record(&outcome(Verdict::Unauditable("memory".into()))), Action::None);
	}
}
