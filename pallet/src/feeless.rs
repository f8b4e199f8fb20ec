//! Free hotkey operations.
//!
//! A registered hotkey's own operations on its subnet (`serve_axon`, `commit_model`,
//! `set_weights`, `commit_weights`, `reveal_weights`) cost no fee when they succeed, as in
//! subtensor, so a hotkey needs no balance to mine or validate. Each of those calls carries
//! a `#[pallet::feeless_if]` predicate, and the runtime wraps `ChargeTransactionPayment` in
//! `pallet_skip_feeless_payment::SkipCheckIfFeeless`, which asks the predicate before it
//! charges.
//!
//! The predicate runs the call against the current state inside a storage transaction that
//! is always rolled back (events included), so "free" means exactly "this call would
//! succeed now". The pool asks when it validates a transaction, and the block asks again
//! right before dispatch, against the state the call then runs on. A call that would fail
//! pays its whole fee, as any other call: spam that fails costs what it always did.
//!
//! Spam that succeeds is bounded by rate limits: a hotkey gets at most one free call of
//! each kind per block and subnet (more often when the subnet's rate limit is longer), and
//! a model commitment is free at most once per `serving_rate_limit` blocks. The call
//! weights count the dry run (see [`FEELESS_CHECK_RUNS`]), so block weight stays honest.
//!
//! A hotkey with no balance still needs an account for its nonce: registration gives the
//! hotkey a sufficient reference while it holds a uid on any subnet (see
//! [`Pallet::add_hotkey_network`]).

use crate::*;
use frame_support::{
	pallet_prelude::{DispatchError, DispatchResult},
	storage::{with_transaction, TransactionOutcome},
};
use frame_system::pallet_prelude::OriginFor;
use sp_core::H256;

/// How many times a feeless-checked call runs: once in its `feeless_if` dry run, once in
/// dispatch. Its declared weight is the call's weight times this.
pub const FEELESS_CHECK_RUNS: u64 = 2;

impl<T: Config> Pallet<T> {
	/// Whether `op` would succeed now. It runs in a storage transaction that is rolled
	/// back whatever happens, so nothing it writes (events included) stays.
	fn would_succeed(op: impl FnOnce() -> DispatchResult) -> bool {
		with_transaction(|| TransactionOutcome::Rollback(Ok::<bool, DispatchError>(op().is_ok()))).unwrap_or(false)
	}

	/// The signer of `origin`, if it is a signed origin.
	fn signer(origin: &OriginFor<T>) -> Option<T::AccountId> {
		frame_system::ensure_signed(origin.clone()).ok()
	}

	/// `serve_axon` is free when it would succeed and the hotkey has not served on this
	/// subnet in this block.
	#[allow(clippy::too_many_arguments)]
	pub(crate) fn serve_axon_is_feeless(
		origin: &OriginFor<T>,
		netuid: NetUid,
		version: u32,
		ip: u128,
		port: u16,
		ip_type: u8,
		protocol: u8,
	) -> bool {
		let Some(hotkey) = Self::signer(origin) else { return false };
		let now = Self::current_block();
		Axons::<T>::get(netuid, &hotkey).is_none_or(|prev| prev.block < now) &&
			Self::would_succeed(|| Self::do_serve_axon(hotkey, netuid, version, ip, port, ip_type, protocol))
	}

	/// `commit_model` is free when it would succeed and the hotkey's last commitment on
	/// this subnet is at least `serving_rate_limit` blocks (and at least one block) old.
	pub(crate) fn commit_model_is_feeless(
		origin: &OriginFor<T>,
		netuid: NetUid,
		model_hash: H256,
		tokenizer_hash: H256,
	) -> bool {
		let Some(hotkey) = Self::signer(origin) else { return false };
		let Ok(params) = Self::hyperparams_of(netuid) else { return false };
		let now = Self::current_block();
		let spacing = params.serving_rate_limit.max(1);
		ModelCommitments::<T>::get(netuid, &hotkey).is_none_or(|prev| now.saturating_sub(prev.block) >= spacing) &&
			Self::would_succeed(|| Self::do_commit_model(hotkey, netuid, model_hash, tokenizer_hash))
	}

	/// `set_weights` is free when it would succeed and the hotkey's weights on this subnet
	/// were not set in this block.
	pub(crate) fn set_weights_is_feeless(
		origin: &OriginFor<T>,
		netuid: NetUid,
		dests: &[Uid],
		weights: &[u16],
		version_key: u64,
	) -> bool {
		let Some(hotkey) = Self::signer(origin) else { return false };
		let Some(uid) = Uids::<T>::get(netuid, &hotkey) else { return false };
		let now = Self::current_block();
		let last = LastUpdate::<T>::get(netuid).get(uid as usize).copied().unwrap_or(0);
		last < now &&
			Self::would_succeed(|| {
				Self::do_set_weights(hotkey, netuid, dests.to_vec(), weights.to_vec(), version_key, false)
			})
	}

	/// `commit_weights` is free when it would succeed and the hotkey has not committed on
	/// this subnet in this block.
	pub(crate) fn commit_weights_is_feeless(origin: &OriginFor<T>, netuid: NetUid, hash: H256) -> bool {
		let Some(hotkey) = Self::signer(origin) else { return false };
		let now = Self::current_block();
		LastCommitBlock::<T>::get(netuid, &hotkey).is_none_or(|last| last < now) &&
			Self::would_succeed(|| Self::do_commit_weights(hotkey, netuid, hash))
	}

	/// `reveal_weights` is free when it would succeed: each reveal consumes a commit, and
	/// commits are rate-limited.
	pub(crate) fn reveal_weights_is_feeless(
		origin: &OriginFor<T>,
		netuid: NetUid,
		uids: &[Uid],
		values: &[u16],
		salt: &[u16],
		version_key: u64,
	) -> bool {
		let Some(hotkey) = Self::signer(origin) else { return false };
		Self::would_succeed(|| {
			Self::do_reveal_weights(hotkey, netuid, uids.to_vec(), values.to_vec(), salt.to_vec(), version_key)
		})
	}
}
