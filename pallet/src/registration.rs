//! Neuron registration: burn, miner bond, uid assignment and pruning when a subnet is full.
//!
//! A registration fills, in this order: the lowest vacant uid (left by `deregister` or a
//! fraud slash), a new uid while the subnet has room, or the uid of the neuron with the
//! lowest pruning score outside its immunity period. A pruned neuron's bond is returned,
//! or held in escrow while fraud reports against it still count (see [`crate::escrow`]);
//! a hotkey with an escrowed bond on the subnet cannot register there until it resolves.

use crate::*;
use alloc::vec::Vec;
use frame_support::{
	ensure,
	pallet_prelude::*,
	traits::{
		fungible::{Inspect, Mutate, MutateHold},
		tokens::{Fortitude, Precision, Preservation},
	},
};

/// Where a registration puts the new neuron.
enum Slot<AccountId> {
	/// A new uid at the end.
	Append,
	/// A uid left vacant by a deregistration.
	Vacant(Uid),
	/// The uid of a pruned neuron (its hotkey).
	Replace(Uid, AccountId),
}

impl<T: Config> Pallet<T> {
	/// Registers `hotkey`; returns how many uids were scanned for pruning (0 unless the
	/// subnet was full), the `n` of the call's actual weight.
	pub(crate) fn do_burned_register(
		coldkey: T::AccountId,
		netuid: NetUid,
		hotkey: T::AccountId,
	) -> Result<u32, DispatchError> {
		let params = Self::hyperparams_of(netuid)?;
		ensure!(params.registration_allowed, Error::<T>::RegistrationDisabled);
		ensure!(
			RegistrationsThisBlock::<T>::get(netuid) < params.max_registrations_per_block,
			Error::<T>::TooManyRegistrationsThisBlock
		);
		ensure!(
			(RegistrationsThisInterval::<T>::get(netuid) as u32) <
				(params.target_registrations_per_interval as u32).saturating_mul(3),
			Error::<T>::TooManyRegistrationsThisInterval
		);
		ensure!(!Uids::<T>::contains_key(netuid, &hotkey), Error::<T>::HotkeyAlreadyRegistered);
		ensure!(!EscrowedBonds::<T>::contains_key(netuid, &hotkey), Error::<T>::HotkeyBondInEscrow);
		if let Some(owner) = Owner::<T>::get(&hotkey) {
			ensure!(owner == coldkey, Error::<T>::NotHotkeyOwner);
		}
		let burn = params.burn;
		let spendable = T::Currency::reducible_balance(&coldkey, Preservation::Preserve, Fortitude::Polite);
		ensure!(spendable >= burn, Error::<T>::NotEnoughBalanceToRegister);
		let bond = if params.audits_enabled { params.miner_bond } else { 0 };
		ensure!(spendable - burn >= bond, Error::<T>::NotEnoughBalanceForBond);

		let n = SubnetN::<T>::get(netuid);
		let now = Self::current_block();
		let mut scanned = 0u32;
		// Decide the uid before taking any money, so a full immune subnet costs nothing.
		let slot = if let Some(uid) = VacantUids::<T>::get(netuid).first().copied() {
			Slot::Vacant(uid)
		} else if n < params.max_allowed_uids {
			Slot::Append
		} else {
			scanned = u32::from(n);
			let uid = Self::neuron_to_prune(netuid, &params, now).ok_or(Error::<T>::AllNeuronsImmune)?;
			match Keys::<T>::get(netuid, uid) {
				Some(old) => Slot::Replace(uid, old),
				None => Slot::Vacant(uid),
			}
		};

		T::Currency::burn_from(&coldkey, burn, Preservation::Preserve, Precision::Exact, Fortitude::Polite)
			.map_err(|_| Error::<T>::NotEnoughBalanceToRegister)?;
		if bond > 0 {
			T::Currency::hold(&HoldReason::MinerBond.into(), &coldkey, bond)
				.map_err(|_| Error::<T>::NotEnoughBalanceForBond)?;
		}

		let (uid, replaced) = match slot {
			Slot::Append => (Self::append_neuron(netuid, &hotkey, now), None),
			Slot::Vacant(uid) => {
				VacantUids::<T>::mutate(netuid, |v| v.retain(|u| *u != uid));
				Self::install_neuron(netuid, uid, &hotkey, now);
				(uid, None)
			},
			Slot::Replace(uid, old) => {
				Self::settle_bond(netuid, uid, &old, &params, now);
				Self::clear_neuron(netuid, uid, &old);
				Self::install_neuron(netuid, uid, &hotkey, now);
				(uid, Some(old))
			},
		};
		Owner::<T>::insert(&hotkey, &coldkey);
		if bond > 0 {
			MinerBonds::<T>::insert(netuid, &hotkey, bond);
			Self::deposit_event(Event::MinerBonded {
				netuid,
				uid,
				hotkey: hotkey.clone(),
				coldkey: coldkey.clone(),
				amount: bond,
			});
		}
		RegistrationsThisBlock::<T>::mutate(netuid, |c| *c = c.saturating_add(1));
		RegistrationsThisInterval::<T>::mutate(netuid, |c| *c = c.saturating_add(1));

		Self::deposit_event(Event::NeuronRegistered { netuid, uid, hotkey, coldkey, burn, replaced });
		Ok(scanned)
	}

	/// The uid to replace in a full subnet: the lowest pruning score among neurons past
	/// their immunity period; ties go to the earliest registration, then the lowest uid.
	pub fn neuron_to_prune(netuid: NetUid, params: &SubnetHyperparams, now: BlockHeight) -> Option<Uid> {
		let scores = PruningScores::<T>::get(netuid);
		let n = SubnetN::<T>::get(netuid);
		(0..n)
			.filter(|uid| {
				let registered = BlockAtRegistration::<T>::get(netuid, uid);
				now.saturating_sub(registered) >= params.immunity_period as u64
			})
			.min_by_key(|uid| {
				let score = scores.get(*uid as usize).copied().unwrap_or(0);
				(score, BlockAtRegistration::<T>::get(netuid, uid), *uid)
			})
	}

	/// Add a neuron at uid `SubnetN` and grow every per-uid vector. Returns its uid.
	fn append_neuron(netuid: NetUid, hotkey: &T::AccountId, now: BlockHeight) -> Uid {
		let uid = SubnetN::<T>::get(netuid);
		Keys::<T>::insert(netuid, uid, hotkey);
		Uids::<T>::insert(netuid, hotkey, uid);
		BlockAtRegistration::<T>::insert(netuid, uid, now);
		SubnetN::<T>::insert(netuid, uid.saturating_add(1));
		Self::add_hotkey_network(hotkey, netuid);
		Rank::<T>::append(netuid, 0u16);
		Trust::<T>::append(netuid, 0u16);
		Consensus::<T>::append(netuid, 0u16);
		Incentive::<T>::append(netuid, 0u16);
		Dividends::<T>::append(netuid, 0u16);
		ValidatorTrust::<T>::append(netuid, 0u16);
		Emission::<T>::append(netuid, 0 as Balance);
		ValidatorPermit::<T>::append(netuid, false);
		Active::<T>::append(netuid, true);
		LastUpdate::<T>::append(netuid, now);
		PruningScores::<T>::append(netuid, 0u16);
		uid
	}

	/// List `netuid` among `hotkey`'s subnets. A hotkey on its first subnet gets a
	/// sufficient reference, so it has an account (and a nonce) with no balance and can
	/// sign its free operations (see [`crate::feeless`]).
	pub(crate) fn add_hotkey_network(hotkey: &T::AccountId, netuid: NetUid) {
		let first = HotkeyNetworks::<T>::mutate(hotkey, |nets| {
			let first = nets.is_empty();
			if !nets.contains(&netuid) {
				nets.push(netuid)
			}
			first
		});
		if first {
			frame_system::Pallet::<T>::inc_sufficients(hotkey);
		}
	}

	/// Take `netuid` off `hotkey`'s subnets; a hotkey leaving its last subnet gives its
	/// sufficient reference back.
	fn remove_hotkey_network(hotkey: &T::AccountId, netuid: NetUid) {
		let last = HotkeyNetworks::<T>::mutate_exists(hotkey, |entry| {
			let nets = entry.get_or_insert_with(Vec::new);
			let had = !nets.is_empty();
			nets.retain(|n| *n != netuid);
			let now_empty = nets.is_empty();
			if now_empty {
				*entry = None;
			}
			had && now_empty
		});
		if last {
			frame_system::Pallet::<T>::dec_sufficients(hotkey);
		}
	}

	/// Remove everything `old` had at `uid` of `netuid` (its keys, axon, model commitment,
	/// weight commits, weights and bonds rows). Its bond and fraud reports are handled by
	/// the caller (see [`Pallet::settle_bond`]); its stake pool and ownership stay.
	pub(crate) fn clear_neuron(netuid: NetUid, uid: Uid, old: &T::AccountId) {
		Uids::<T>::remove(netuid, old);
		Axons::<T>::remove(netuid, old);
		ModelCommitments::<T>::remove(netuid, old);
		WeightCommits::<T>::remove(netuid, old);
		LastCommitBlock::<T>::remove(netuid, old);
		Self::remove_hotkey_network(old, netuid);
		Weights::<T>::remove(netuid, uid);
		Bonds::<T>::remove(netuid, uid);
	}

	/// Put `new` at the existing (cleared or vacant) `uid` with fresh per-uid values.
	fn install_neuron(netuid: NetUid, uid: Uid, new: &T::AccountId, now: BlockHeight) {
		Keys::<T>::insert(netuid, uid, new);
		Uids::<T>::insert(netuid, new, uid);
		BlockAtRegistration::<T>::insert(netuid, uid, now);
		Self::add_hotkey_network(new, netuid);
		Self::reset_uid_vectors(netuid, uid, now, true);
	}

	/// Take `old` off `uid` of `netuid` and leave the uid vacant: no hotkey, zero outputs,
	/// no permit, inactive, registration block `now` (so weights set before now no longer
	/// reach it). The uid is listed in `VacantUids` for the next registration.
	pub(crate) fn vacate_neuron(netuid: NetUid, uid: Uid, old: &T::AccountId, now: BlockHeight) {
		Self::clear_neuron(netuid, uid, old);
		Keys::<T>::remove(netuid, uid);
		BlockAtRegistration::<T>::insert(netuid, uid, now);
		Self::reset_uid_vectors(netuid, uid, now, false);
		VacantUids::<T>::mutate(netuid, |v| {
			if let Err(pos) = v.binary_search(&uid) {
				v.insert(pos, uid)
			}
		});
	}

	/// Reset every per-uid vector entry of `uid`.
	fn reset_uid_vectors(netuid: NetUid, uid: Uid, now: BlockHeight, active: bool) {
		let i = uid as usize;
		fn set<V: Copy>(v: &mut Vec<V>, i: usize, value: V) {
			if let Some(x) = v.get_mut(i) {
				*x = value
			}
		}
		Rank::<T>::mutate(netuid, |v| set(v, i, 0));
		Trust::<T>::mutate(netuid, |v| set(v, i, 0));
		Consensus::<T>::mutate(netuid, |v| set(v, i, 0));
		Incentive::<T>::mutate(netuid, |v| set(v, i, 0));
		Dividends::<T>::mutate(netuid, |v| set(v, i, 0));
		ValidatorTrust::<T>::mutate(netuid, |v| set(v, i, 0));
		PruningScores::<T>::mutate(netuid, |v| set(v, i, 0));
		Emission::<T>::mutate(netuid, |v| set(v, i, 0));
		ValidatorPermit::<T>::mutate(netuid, |v| set(v, i, false));
		EpochStake::<T>::mutate(netuid, |v| set(v, i, 0));
		Active::<T>::mutate(netuid, |v| set(v, i, active));
		LastUpdate::<T>::mutate(netuid, |v| set(v, i, now));
	}

	/// Whether `hotkey` is registered on `netuid`.
	pub fn is_registered(netuid: NetUid, hotkey: &T::AccountId) -> bool {
		Uids::<T>::contains_key(netuid, hotkey)
	}
}
