//! Escrow of reported neurons' bonds.
//!
//! Whatever removes a neuron from a subnet (pruning or replacement by a registration,
//! `deregister` by its owner), [`Pallet::settle_bond`] decides what happens to its
//! bond: with no fraud report against it counting, the bond is returned and its reports
//! are dropped; otherwise the bond moves to [`EscrowedBonds`] under `(netuid, hotkey)`
//! with the owner, the amount, the uid it had and the model it had committed. A fraud
//! slash never escrows: the bond is slashed outright.
//!
//! The reports stay in [`FraudReports`] (keyed by hotkey) and keep counting against the
//! escrow: validators add more with `report_escrowed` (the evidence is checked against
//! the escrowed model hash), and when they cross the threshold the escrow is slashed and
//! the model barred exactly as for a registered neuron. The hotkey cannot register on
//! the subnet again while it has an escrow there (`HotkeyBondInEscrow`).
//!
//! Once every report against the escrow is older than `fraud_window` (or audits are off
//! on the subnet), the bond is returned to the owner: by `release_escrow(netuid,
//! hotkey)`, which anyone may call, or by the sweep in `on_initialize`, which visits at
//! most [`SWEEP_PER_BLOCK`] escrows per block in storage order (a cursor remembers where
//! it stopped), so the work per block is bounded whatever the number of escrows.

use crate::*;
use alloc::vec::Vec;
use frame_support::pallet_prelude::*;

/// Escrows the per-block sweep visits at most.
pub const SWEEP_PER_BLOCK: u32 = 4;

impl<T: Config> Pallet<T> {
	/// `hotkey` leaves `uid` of `netuid`: return its bond (and drop its reports) when no
	/// report counts, or move the bond to escrow.
	pub(crate) fn settle_bond(
		netuid: NetUid,
		uid: Uid,
		hotkey: &T::AccountId,
		params: &SubnetHyperparams,
		now: BlockHeight,
	) {
		if Self::has_pending_reports(netuid, hotkey, params, now) {
			Self::escrow_bond(netuid, uid, hotkey, now);
		} else {
			Self::release_bond(netuid, hotkey);
			FraudReports::<T>::remove(netuid, hotkey);
		}
	}

	/// Move `hotkey`'s bond on `netuid` (possibly zero) and its committed model to escrow.
	fn escrow_bond(netuid: NetUid, uid: Uid, hotkey: &T::AccountId, now: BlockHeight) {
		let Some(coldkey) = Owner::<T>::get(hotkey) else { return };
		let amount = MinerBonds::<T>::take(netuid, hotkey).unwrap_or(0);
		let model_hash = ModelCommitments::<T>::get(netuid, hotkey).map(|c| c.model_hash);
		let escrow = EscrowedBond { coldkey: coldkey.clone(), amount, model_hash, uid, since: now };
		if !EscrowedBonds::<T>::contains_key(netuid, hotkey) {
			EscrowCount::<T>::mutate(|c| *c = c.saturating_add(1));
		}
		EscrowedBonds::<T>::insert(netuid, hotkey, escrow);
		Self::deposit_event(Event::BondEscrowed { netuid, uid, hotkey: hotkey.clone(), coldkey, amount });
	}

	/// Remove the escrow of `hotkey` on `netuid` and its reports (the bond is the caller's).
	pub(crate) fn remove_escrow(netuid: NetUid, hotkey: &T::AccountId) {
		if EscrowedBonds::<T>::take(netuid, hotkey).is_some() {
			EscrowCount::<T>::mutate(|c| *c = c.saturating_sub(1));
		}
		FraudReports::<T>::remove(netuid, hotkey);
	}

	/// Whether the escrow of `hotkey` on `netuid` may be returned at `now`: audits are off
	/// or every report against it is older than `fraud_window`.
	pub fn escrow_releasable(netuid: NetUid, hotkey: &T::AccountId, params: &SubnetHyperparams, now: BlockHeight) -> bool {
		!params.audits_enabled ||
			FraudReports::<T>::get(netuid, hotkey)
				.iter()
				.all(|r| now >= r.block.saturating_add(params.fraud_window))
	}

	/// Return `escrow` (of `hotkey` on `netuid`) to its owner.
	fn return_escrow(netuid: NetUid, hotkey: &T::AccountId, escrow: EscrowedBond<T::AccountId>) {
		Self::remove_escrow(netuid, hotkey);
		Self::return_held_bond(netuid, hotkey, escrow.coldkey, escrow.amount);
	}

	/// `release_escrow`.
	pub(crate) fn do_release_escrow(netuid: NetUid, hotkey: &T::AccountId) -> DispatchResult {
		let params = Self::hyperparams_of(netuid)?;
		let escrow = EscrowedBonds::<T>::get(netuid, hotkey).ok_or(Error::<T>::NoEscrow)?;
		let now = Self::current_block();
		ensure!(Self::escrow_releasable(netuid, hotkey, &params, now), Error::<T>::FraudReportsPending);
		Self::return_escrow(netuid, hotkey, escrow);
		Ok(())
	}

	/// Visit up to [`SWEEP_PER_BLOCK`] escrows after the cursor and return those whose
	/// reports all expired. Returns the weight used.
	pub(crate) fn sweep_escrows(now: BlockHeight) -> Weight {
		if EscrowCount::<T>::get() == 0 {
			return T::DbWeight::get().reads(1);
		}
		let batch = Self::next_escrows();
		let visited = batch.len() as u32;
		for (netuid, hotkey, escrow) in batch {
			let releasable = Hyperparams::<T>::get(netuid)
				.is_none_or(|params| Self::escrow_releasable(netuid, &hotkey, &params, now));
			if releasable {
				Self::return_escrow(netuid, &hotkey, escrow);
			}
		}
		T::WeightInfo::sweep_escrows(visited)
	}

	/// The next escrows after the cursor (at most [`SWEEP_PER_BLOCK`]); moves the cursor
	/// past them, or back to the start at the end of the map.
	fn next_escrows() -> Vec<(NetUid, T::AccountId, EscrowedBond<T::AccountId>)> {
		let iter = match EscrowCursor::<T>::get() {
			Some(key) => EscrowedBonds::<T>::iter_from(key),
			None => EscrowedBonds::<T>::iter(),
		};
		let batch: Vec<_> = iter.take(SWEEP_PER_BLOCK as usize).collect();
		match batch.last() {
			Some((netuid, hotkey, _)) if batch.len() == SWEEP_PER_BLOCK as usize => {
				EscrowCursor::<T>::put(EscrowedBonds::<T>::hashed_key_for(netuid, hotkey))
			},
			_ => EscrowCursor::<T>::kill(),
		}
		batch
	}
}
