//! The dev-node harness lives in `tessera_client::devnode`; the node's own tests use the
//! binary cargo built for them.
#![allow(unused_imports, dead_code)]

pub use tessera_client::devnode::{free_port, wait_for, DevNode};
use tessera_client::{keys::Keypair, FraudEvidenceArgs};
use tessera_proto::{
	receipt::{distribution_hash, sign_step, AnswerDigest, ContextHash, Evidence},
	v1::TokenDistribution,
	Hotkey,
};

/// Starts the `tessera-node` this test was built with.
pub async fn start_dev_node(base_path: &std::path::Path) -> anyhow::Result<DevNode> {
	DevNode::start_with(std::path::Path::new(env!("CARGO_BIN_EXE_tessera-node")), base_path).await
}

/// A step `miner` signed for `caller` (two documents), as a miner's `Evaluate` answers are
/// signed, and the evidence a validator keeps about its second answer.
pub fn signed_evidence(miner: &Keypair, caller: &Keypair, model_hash: [u8; 32]) -> Evidence {
	let contexts = [vec![5u32, 6, 7], vec![1, 2, 3, 4]];
	let dists = [
		TokenDistribution { doc_id: 0, position: 3, token_ids: vec![1, 2], logprobs: vec![-0.1, -2.5], tail_mass: 0.01 },
		TokenDistribution { doc_id: 1, position: 4, token_ids: vec![9], logprobs: vec![-0.5], tail_mass: 0.3 },
	];
	let digests: Vec<AnswerDigest> = contexts
		.iter()
		.zip(&dists)
		.map(|(c, d)| AnswerDigest { position: c.len() as u32, context: ContextHash::of(c), distribution: distribution_hash(d) })
		.collect();
	let signature = sign_step(miner, &Hotkey::of(caller), &model_hash, &digests);
	Evidence {
		miner: Hotkey::of(miner).0,
		caller: Hotkey::of(caller).0,
		model_hash,
		digests,
		index: 1,
		context: contexts[1].clone(),
		token_ids: dists[1].token_ids.clone(),
		logprob_bits: dists[1].logprobs.iter().map(|l| l.to_bits()).collect(),
		tail_mass_bits: dists[1].tail_mass.to_bits(),
		signature,
	}
}

/// What `report_fraud` takes, from the evidence (as the validator builds it).
pub fn evidence_args(e: &Evidence) -> FraudEvidenceArgs {
	FraudEvidenceArgs {
		model_hash: e.model_hash,
		digests: e.digests.iter().map(|d| (d.position, d.context.0, d.distribution)).collect(),
		index: e.index,
		signature: e.signature,
		evidence_hash: e.hash(),
	}
}

