//! What the validator does with audits: after each round it audits every miner whose
//! signed answers it kept; a miner that fails gets weight 0 at once (its EMA is
//! forfeited and it is left out of later rounds while it serves that model), the evidence
//! is written next to the database, and, when the subnet has audits on and this
//! validator holds a permit, `report_fraud` puts the evidence hash on-chain.

use std::{
	collections::BTreeMap,
	path::{Path, PathBuf},
	time::Instant,
};

use codec::Encode;
use subxt_signer::sr25519::Keypair;
use tessera_client::{TesseraClient, H256};

use crate::{
	audit::{AuditError, Auditor},
	metrics::Metrics,
	round::{MinerTarget, RoundResult},
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

/// Reports the failed audits not reported yet (found before this validator held a permit,
/// or whose report failed), for miners still registered at the same uid with the same
/// hotkey.
pub async fn report_pending(
	chain: &Chain<'_>,
	key: &Keypair,
	registered: &BTreeMap<u16, [u8; 32]>,
	store: &Store,
	failed: &mut Failed,
	metrics: &Metrics,
) {
	if !chain.can_report {
		return;
	}
	for ((hotkey, model), entry) in failed.iter_mut() {
		if entry.reported || registered.get(&entry.uid) != Some(hotkey) {
			continue;
		}
		if submit_report(chain, key, entry.uid, entry.evidence_hash, metrics).await {
			entry.reported = true;
			if let Err(e) = store.put_failed_audit(hotkey, model, entry) {
				tracing::error!(error = %e, "could not record the fraud report");
			}
		}
	}
}

async fn submit_report(chain: &Chain<'_>, key: &Keypair, uid: u16, evidence_hash: [u8; 32], metrics: &Metrics) -> bool {
	match chain.client.report_fraud(key, chain.netuid, uid, H256(evidence_hash)).await {
		Ok(_) => {
			metrics.fraud_reports.with_label_values(&["ok"]).inc();
			tracing::info!(uid, evidence = %hex::encode(evidence_hash), "fraud reported on-chain");
			true
		},
		Err(e) => {
			metrics.fraud_reports.with_label_values(&["failed"]).inc();
			tracing::warn!(uid, error = %e, "report_fraud failed; will retry");
			false
		},
	}
}

/// Audits every miner of `result` that left evidence; handles failures (see the module
/// docs).
#[allow(clippy::too_many_arguments)]
pub async fn audit_round(
	auditor: &mut Auditor,
	result: &RoundResult,
	key: &Keypair,
	chain: &Chain<'_>,
	store: &Store,
	evidence_dir: &Path,
	scores: &mut Scores,
	failed: &mut Failed,
	metrics: &Metrics,
) {
	for m in &result.miners {
		let (Some(model), false) = (m.target.model_hash, m.evidence.is_empty()) else { continue };
		let started = Instant::now();
		let report = auditor.audit(&m.target, key, &model, &m.evidence).await;
		metrics.audit_seconds.observe(started.elapsed().as_secs_f64());
		let uid = m.target.uid;
		let report = match report {
			Ok(r) => r,
			Err(e @ AuditError::Tampered(_)) => {
				// It cannot be audited, so it cannot be paid; but nothing it signed is
				// wrong yet, so there is nothing to report.
				metrics.audits.with_label_values(&["unauditable"]).inc();
				tracing::warn!(uid, error = %e, "the miner's model download is not its commitment: weight 0 this round");
				scores.forfeit(uid, m.target.hotkey.0);
				continue;
			},
			Err(e) => {
				metrics.audits.with_label_values(&["error"]).inc();
				tracing::warn!(uid, error = %e, "audit not done");
				continue;
			},
		};
		let worst = report.checks.iter().map(|c| c.mean_abs).fold(0f32, f32::max);
		if report.passed {
			metrics.audits.with_label_values(&["pass"]).inc();
			tracing::info!(uid, positions = report.checks.len(), worst_mean_nats = worst, "audit passed");
			continue;
		}
		metrics.audits.with_label_values(&["fail"]).inc();
		let evidence = report.worst.expect("a failed audit names its worst evidence");
		let hash = evidence.hash();
		tracing::warn!(
			uid,
			hotkey = %m.target.hotkey,
			model = %hex::encode(model),
			worst_mean_nats = worst,
			evidence = %hex::encode(hash),
			"AUDIT FAILED: the miner's signed answers do not come from its committed model; weight 0"
		);
		scores.forfeit(uid, m.target.hotkey.0);
		let path = evidence_dir.join(format!("{}.scale", hex::encode(hash)));
		if let Err(e) = std::fs::create_dir_all(evidence_dir).and_then(|_| std::fs::write(&path, evidence.encode())) {
			tracing::error!(path = %path.display(), error = %e, "could not keep the evidence");
		}
		let reported = chain.can_report && submit_report(chain, key, uid, hash, metrics).await;
		let entry = FailedAudit { uid, evidence_hash: hash, reported };
		if let Err(e) = store.put_failed_audit(&m.target.hotkey.0, &model, &entry) {
			tracing::error!(error = %e, "could not record the failed audit");
		}
		failed.insert((m.target.hotkey.0, model), entry);
	}
}
