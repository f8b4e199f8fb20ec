//! Signed answers: what a miner's `Step.signature` covers, and the evidence a validator
//! keeps to audit a miner and to prove fraud to anyone.
//!
//! Each `Step` is signed by the miner's hotkey (sr25519, signing context "substrate")
//! over the SCALE encoding of
//!
//! ```text
//! (b"tessera/v1/step" as [u8; 15], caller: [u8; 32], miner: [u8; 32],
//!  model_hash: [u8; 32], digests: Vec<AnswerDigest>)
//! ```
//!
//! with one [`AnswerDigest`] per distribution of the step, in order: the position
//! answered, the [`ContextHash`] of every token of the document before that position,
//! and the [`distribution_hash`] of the answer. So one signature says "given exactly
//! these tokens, the model with this hash gives these probabilities", for every document
//! of the step, and the miner cannot later disown any of it. Costs: one sr25519
//! signature per step for the miner, one verification per step for the validator, and
//! one BLAKE2b of 36 bytes per token for both ends to keep the context hashes.
//!
//! An [`Evidence`] is one answered position taken out of a step: the whole step's
//! digests (to check the signature), the document's tokens up to the position and the
//! distribution. [`Evidence::verify`] checks it without any stream state; its
//! [`Evidence::hash`] is what `report_fraud` puts on-chain.

use codec::{Decode, Encode};
use subxt_signer::sr25519::{self, Keypair};
use thiserror::Error;

use crate::{blake2_256, session::Expectation, v1::TokenDistribution, Hotkey};

/// Domain tag of step signatures.
pub const STEP_TAG: [u8; 15] = *b"tessera/v1/step";
/// Domain tag that starts every context hash.
pub const CONTEXT_TAG: &[u8] = b"tessera/v1/context";

/// Running hash of a document's tokens: `h0 = BLAKE2b-256("tessera/v1/context")`,
/// `h(i+1) = BLAKE2b-256(h(i) ++ token(i) as u32 little-endian)`. O(1) per token on both
/// ends of a stream, and anyone holding the tokens recomputes it.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Encode, Decode)]
pub struct ContextHash(pub [u8; 32]);

impl Default for ContextHash {
	fn default() -> Self {
		Self(blake2_256(CONTEXT_TAG))
	}
}

impl ContextHash {
	/// The hash after `token`.
	pub fn push(&mut self, token: u32) {
		let mut buf = [0u8; 36];
		buf[..32].copy_from_slice(&self.0);
		buf[32..].copy_from_slice(&token.to_le_bytes());
		self.0 = blake2_256(&buf);
	}

	/// The hash of `tokens`.
	pub fn of(tokens: &[u32]) -> Self {
		let mut h = Self::default();
		for &t in tokens {
			h.push(t);
		}
		h
	}
}

/// BLAKE2b-256 of SCALE(token_ids: Vec<u32>, logprob bits: Vec<u32>, tail_mass bits: u32):
/// exactly the numbers sent, bit for bit.
pub fn distribution_hash(d: &TokenDistribution) -> [u8; 32] {
	let bits: Vec<u32> = d.logprobs.iter().map(|l| l.to_bits()).collect();
	blake2_256(&(&d.token_ids, bits, d.tail_mass.to_bits()).encode())
}

/// What a step signature covers for one distribution.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Encode, Decode)]
pub struct AnswerDigest {
	/// Index of the predicted token in its document.
	pub position: u32,
	/// [`ContextHash`] of the document's tokens before `position`.
	pub context: ContextHash,
	/// [`distribution_hash`] of the answer.
	pub distribution: [u8; 32],
}

/// The digests of a step answering `expected` with `distributions` (same order; the
/// session checks that they match).
pub fn step_digests(expected: &Expectation, distributions: &[TokenDistribution]) -> Vec<AnswerDigest> {
	expected
		.docs
		.iter()
		.zip(distributions)
		.map(|(e, d)| AnswerDigest { position: e.position, context: e.context, distribution: distribution_hash(d) })
		.collect()
}

/// The signed bytes of a step (see the module docs).
pub fn step_payload(caller: &Hotkey, miner: &Hotkey, model_hash: &[u8; 32], digests: &[AnswerDigest]) -> Vec<u8> {
	(STEP_TAG, caller.0, miner.0, *model_hash, digests).encode()
}

/// The miner's signature of a step for `caller`.
pub fn sign_step(miner: &Keypair, caller: &Hotkey, model_hash: &[u8; 32], digests: &[AnswerDigest]) -> [u8; 64] {
	miner.sign(&step_payload(caller, &Hotkey::of(miner), model_hash, digests)).0
}

/// Whether `signature` is `miner`'s signature of a step for `caller`.
pub fn verify_step(
	miner: &Hotkey,
	caller: &Hotkey,
	model_hash: &[u8; 32],
	digests: &[AnswerDigest],
	signature: &[u8],
) -> bool {
	let Ok(sig) = <[u8; 64]>::try_from(signature) else { return false };
	sr25519::verify(&sr25519::Signature(sig), step_payload(caller, miner, model_hash, digests), &miner.public_key())
}

/// The context hashes a step's signature covers, as `Step.contexts` carries them.
pub fn step_contexts(expected: &Expectation) -> Vec<Vec<u8>> {
	expected.docs.iter().map(|e| e.context.0.to_vec()).collect()
}

/// What a step's signature says about the stream it came on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepCheck {
	/// Signed by the miner over the validator's own contexts.
	Valid,
	/// Signed by the miner, but over other contexts (`Step.contexts`) than the
	/// validator's: what the miner received was not what the validator sent. The stream
	/// was rewritten in transit; the answers are not the miner's fault, and unusable.
	Tampered,
	/// Not the miner's signature over any contexts it claims: the miner's fault.
	Forged,
}

/// Checks a step: its signature over `ours` (the validator's digests), and when that
/// fails, over the same answers with the contexts the miner says it signed
/// (`claimed`, one 32-byte hash per digest).
pub fn classify_step(
	miner: &Hotkey,
	caller: &Hotkey,
	model_hash: &[u8; 32],
	ours: &[AnswerDigest],
	claimed: &[Vec<u8>],
	signature: &[u8],
) -> StepCheck {
	if verify_step(miner, caller, model_hash, ours, signature) {
		return StepCheck::Valid;
	}
	if claimed.len() != ours.len() {
		return StepCheck::Forged;
	}
	let mut theirs = ours.to_vec();
	for (d, c) in theirs.iter_mut().zip(claimed) {
		let Ok(c) = <[u8; 32]>::try_from(c.as_slice()) else { return StepCheck::Forged };
		d.context = ContextHash(c);
	}
	if theirs != ours && verify_step(miner, caller, model_hash, &theirs, signature) {
		StepCheck::Tampered
	} else {
		StepCheck::Forged
	}
}

/// Why an [`Evidence`] does not hold.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum ReceiptError {
	/// `index` is not a digest of the step.
	#[error("evidence index {index} is outside the step's {len} digests")]
	Index {
		/// The index.
		index: u32,
		/// Digests in the step.
		len: usize,
	},
	/// The context tokens do not hash to the signed context or position.
	#[error("the context tokens do not match the signed context hash and position")]
	Context,
	/// The distribution does not hash to the signed digest.
	#[error("the distribution does not match the signed digest")]
	Distribution,
	/// The signature is not the miner's.
	#[error("the step signature is not the miner's")]
	Signature,
}

/// One signed answer, self-contained: anyone can [`verify`](Evidence::verify) it and
/// re-run `context` through the model whose hash is `model_hash`.
#[derive(Clone, PartialEq, Debug, Encode, Decode)]
pub struct Evidence {
	/// The miner that signed.
	pub miner: [u8; 32],
	/// The validator the step was for.
	pub caller: [u8; 32],
	/// The model the miner claims to run (its `Info` and on-chain commitment).
	pub model_hash: [u8; 32],
	/// Every digest of the signed step.
	pub digests: Vec<AnswerDigest>,
	/// Which digest this evidence is about.
	pub index: u32,
	/// The document's tokens before the answered position.
	pub context: Vec<u32>,
	/// The listed token ids of the answer.
	pub token_ids: Vec<u32>,
	/// Their logprobs, as `f32` bits.
	pub logprob_bits: Vec<u32>,
	/// The answer's tail mass, as `f32` bits.
	pub tail_mass_bits: u32,
	/// The miner's step signature.
	pub signature: [u8; 64],
}

impl Evidence {
	/// The distribution this evidence holds.
	pub fn distribution(&self) -> TokenDistribution {
		TokenDistribution {
			doc_id: 0,
			position: self.context.len() as u32,
			token_ids: self.token_ids.clone(),
			logprobs: self.logprob_bits.iter().map(|&b| f32::from_bits(b)).collect(),
			tail_mass: f32::from_bits(self.tail_mass_bits),
		}
	}

	/// Checks that the miner signed this answer to this context.
	pub fn verify(&self) -> Result<(), ReceiptError> {
		let digest = self
			.digests
			.get(self.index as usize)
			.ok_or(ReceiptError::Index { index: self.index, len: self.digests.len() })?;
		if digest.position as usize != self.context.len() || digest.context != ContextHash::of(&self.context) {
			return Err(ReceiptError::Context);
		}
		if digest.distribution != distribution_hash(&self.distribution()) {
			return Err(ReceiptError::Distribution);
		}
		if !verify_step(&Hotkey(self.miner), &Hotkey(self.caller), &self.model_hash, &self.digests, &self.signature) {
			return Err(ReceiptError::Signature);
		}
		Ok(())
	}

	/// BLAKE2b-256 of the SCALE encoding: the `evidence_hash` of a fraud report.
	pub fn hash(&self) -> [u8; 32] {
		blake2_256(&self.encode())
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use crate::session::ExpectedDoc;
	use subxt_signer::SecretUri;

	fn key(uri: &str) -> Keypair {
		Keypair::from_uri(&uri.parse::<SecretUri>().expect("uri")).expect("key")
	}

	fn dist(ids: &[u32], lps: &[f32], tail: f32) -> TokenDistribution {
		TokenDistribution { doc_id: 7, position: 3, token_ids: ids.to_vec(), logprobs: lps.to_vec(), tail_mass: tail }
	}

	fn evidence() -> Evidence {
		let (miner, caller) = (key("//Bob"), key("//Alice"));
		let contexts = [vec![5u32, 6, 7], vec![1, 2, 3, 4]];
		let dists = [dist(&[1, 2], &[-0.1, -2.5], 0.01), dist(&[9], &[-0.5], 0.3)];
		let expected = Expectation {
			step: 0,
			docs: contexts
				.iter()
				.enumerate()
				.map(|(i, c)| ExpectedDoc { doc_id: i as u32, position: c.len() as u32, top_k: 4, context: ContextHash::of(c) })
				.collect(),
		};
		let digests = step_digests(&expected, &dists);
		let model_hash = [3u8; 32];
		let signature = sign_step(&miner, &Hotkey::of(&caller), &model_hash, &digests);
		Evidence {
			miner: Hotkey::of(&miner).0,
			caller: Hotkey::of(&caller).0,
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

	#[test]
	fn steps_are_valid_tampered_or_forged() {
		let (miner, caller) = (key("//Bob"), key("//Alice"));
		let (m, c) = (Hotkey::of(&miner), Hotkey::of(&caller));
		let dists = [dist(&[1, 2], &[-0.1, -2.5], 0.01)];
		let expect = |tokens: &[u32]| Expectation {
			step: 1,
			docs: vec![ExpectedDoc { doc_id: 0, position: tokens.len() as u32, top_k: 4, context: ContextHash::of(tokens) }],
		};
		let (sent, received) = (expect(&[5, 6, 7]), expect(&[5, 6, 9]));
		let model = [3u8; 32];
		// The miner answers what it received and signs that.
		let sig = sign_step(&miner, &c, &model, &step_digests(&received, &dists));
		let ours = step_digests(&sent, &dists);
		let theirs = step_contexts(&received);
		assert_eq!(classify_step(&m, &c, &model, &ours, &theirs, &sig), StepCheck::Tampered);
		assert_eq!(classify_step(&m, &c, &model, &step_digests(&received, &dists), &theirs, &sig), StepCheck::Valid);
		// Claiming contexts does not launder a signature that is not the miner's.
		let forged = sign_step(&key("//Eve"), &c, &model, &step_digests(&received, &dists));
		assert_eq!(classify_step(&m, &c, &model, &ours, &theirs, &forged), StepCheck::Forged);
		// Nor does it launder other answers: the distributions are ours.
		let other = step_digests(&sent, &[dist(&[1], &[-0.2], 0.1)]);
		assert_eq!(classify_step(&m, &c, &model, &other, &theirs, &sig), StepCheck::Forged);
		assert_eq!(classify_step(&m, &c, &model, &ours, &[vec![0; 31]], &sig), StepCheck::Forged);
		assert_eq!(classify_step(&m, &c, &model, &ours, &[], &sig), StepCheck::Forged);
	}

	#[test]
	fn context_hash_is_incremental() {
		let mut h = ContextHash::default();
		for t in [1, 2, 3] {
			h.push(t);
		}
		assert_eq!(h, ContextHash::of(&[1, 2, 3]));
		assert_ne!(h, ContextHash::of(&[1, 3, 2]));
		assert_ne!(ContextHash::of(&[]), ContextHash::of(&[0]));
	}

	#[test]
	fn evidence_verifies_and_survives_encoding() {
		let e = evidence();
		e.verify().expect("valid evidence");
		let decoded = Evidence::decode(&mut &e.encode()[..]).expect("decodes");
		assert_eq!(decoded, e);
		assert_eq!(decoded.hash(), e.hash());
	}

	#[test]
	fn any_change_breaks_the_evidence() {
		let mut e = evidence();
		e.logprob_bits[0] = (-0.4f32).to_bits();
		assert_eq!(e.verify(), Err(ReceiptError::Distribution));

		let mut e = evidence();
		e.context[0] = 99;
		assert_eq!(e.verify(), Err(ReceiptError::Context));

		let mut e = evidence();
		e.context.pop();
		assert_eq!(e.verify(), Err(ReceiptError::Context));

		let mut e = evidence();
		e.model_hash = [4; 32];
		assert_eq!(e.verify(), Err(ReceiptError::Signature));

		let mut e = evidence();
		e.caller = Hotkey::of(&key("//Charlie")).0;
		assert_eq!(e.verify(), Err(ReceiptError::Signature));

		let mut e = evidence();
		e.index = 2;
		assert_eq!(e.verify(), Err(ReceiptError::Index { index: 2, len: 2 }));

		// Re-signed by someone else: not the miner's signature.
		let mut e = evidence();
		e.signature = sign_step(&key("//Eve"), &Hotkey(e.caller), &e.model_hash, &e.digests);
		assert_eq!(e.verify(), Err(ReceiptError::Signature));
	}
}
