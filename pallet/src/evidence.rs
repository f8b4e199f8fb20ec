//! Fraud evidence the runtime checks: the accused miner's own sr25519 signature over the
//! step it disputes.
//!
//! A miner signs every `Evaluate` step for the validator that asked (see
//! `tessera_proto::receipt`): the SCALE encoding of
//!
//! ```text
//! (b"tessera/v1/step" as [u8; 15], caller: [u8; 32], miner: [u8; 32],
//!  model_hash: [u8; 32], digests: Vec<AnswerDigest>)
//! ```
//!
//! [`FraudEvidence`] carries those digests, the model hash and the signature; the runtime
//! rebuilds the payload with the reporter as the caller and the accused hotkey as the
//! miner and verifies it with `sp_io::crypto::sr25519_verify`. So a validator can only
//! report answers the miner really signed, for that validator, while claiming the model
//! it committed to; what the answers should have been is what the stake vote decides.

use crate::*;
use alloc::vec::Vec;
use codec::Encode;
use sp_core::H256;

/// Domain tag of step signatures (`tessera_proto::receipt::STEP_TAG`).
pub const STEP_TAG: [u8; 15] = *b"tessera/v1/step";

/// The sr25519 public key behind an account: hotkeys sign steps with it.
pub trait PublicKeyOf<AccountId> {
	/// The 32-byte sr25519 public key of `who`, or `None` when it has none.
	fn public_key(who: &AccountId) -> Option<[u8; 32]>;

	/// Benchmarks only: an account whose signatures [`PublicKeyOf::bench_sign`] makes.
	#[cfg(feature = "runtime-benchmarks")]
	fn bench_account(seed: u32) -> AccountId;

	/// Benchmarks only: `who`'s sr25519 signature of `message`.
	#[cfg(feature = "runtime-benchmarks")]
	fn bench_sign(who: &AccountId, message: &[u8]) -> Option<[u8; 64]>;
}

/// Accounts that are their sr25519 public key (`AccountId32`, as on the Tessera runtime).
pub struct AccountIdIsPublicKey;

/// Key type of the keys benchmarks generate in the keystore.
#[cfg(feature = "runtime-benchmarks")]
const BENCH_KEY_TYPE: sp_core::crypto::KeyTypeId = sp_core::crypto::KeyTypeId(*b"tsra");

impl<A: AsRef<[u8; 32]> + From<[u8; 32]>> PublicKeyOf<A> for AccountIdIsPublicKey {
	fn public_key(who: &A) -> Option<[u8; 32]> {
		Some(*who.as_ref())
	}

	#[cfg(feature = "runtime-benchmarks")]
	fn bench_account(seed: u32) -> A {
		let uri = alloc::format!("//tessera-bench-{seed}").into_bytes();
		A::from(sp_io::crypto::sr25519_generate(BENCH_KEY_TYPE, Some(uri)).0)
	}

	#[cfg(feature = "runtime-benchmarks")]
	fn bench_sign(who: &A, message: &[u8]) -> Option<[u8; 64]> {
		let public = sp_core::sr25519::Public::from_raw(*who.as_ref());
		sp_io::crypto::sr25519_sign(BENCH_KEY_TYPE, &public, message).map(|s| s.0)
	}
}

/// The bytes a miner signs for a step answered for `caller` (see the module docs).
pub fn step_payload(caller: &[u8; 32], miner: &[u8; 32], model_hash: &H256, digests: &[AnswerDigest]) -> Vec<u8> {
	(STEP_TAG, *caller, *miner, model_hash.0, digests).encode()
}

/// Why evidence does not hold.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum EvidenceError {
	/// `index` is not a digest of the step.
	IndexOutOfRange,
	/// The model hash is not the accused's commitment.
	ModelMismatch,
	/// The signature is not the accused's signature of the step for the reporter.
	SignatureInvalid,
}

impl<T: Config> From<EvidenceError> for Error<T> {
	fn from(e: EvidenceError) -> Self {
		match e {
			EvidenceError::IndexOutOfRange => Error::<T>::EvidenceIndexOutOfRange,
			EvidenceError::ModelMismatch => Error::<T>::EvidenceModelMismatch,
			EvidenceError::SignatureInvalid => Error::<T>::EvidenceSignatureInvalid,
		}
	}
}

/// Check `evidence` against the accused's committed model (`committed`) and keys;
/// returns the disputed digest.
pub fn check_evidence(
	evidence: &FraudEvidence,
	committed: Option<H256>,
	reporter_key: Option<[u8; 32]>,
	accused_key: Option<[u8; 32]>,
) -> Result<AnswerDigest, EvidenceError> {
	let disputed = *evidence.digests.get(evidence.index as usize).ok_or(EvidenceError::IndexOutOfRange)?;
	if committed != Some(evidence.model_hash) {
		return Err(EvidenceError::ModelMismatch);
	}
	let (Some(reporter), Some(accused)) = (reporter_key, accused_key) else {
		return Err(EvidenceError::SignatureInvalid);
	};
	let payload = step_payload(&reporter, &accused, &evidence.model_hash, &evidence.digests);
	let signature = sp_core::sr25519::Signature::from_raw(evidence.signature);
	let public = sp_core::sr25519::Public::from_raw(accused);
	if !sp_io::crypto::sr25519_verify(&signature, &payload, &public) {
		return Err(EvidenceError::SignatureInvalid);
	}
	Ok(disputed)
}
