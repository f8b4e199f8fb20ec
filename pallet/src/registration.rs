//! Neuron registration: burn, uid assignment and pruning when a subnet is full.

use crate::*;
use alloc::vec::Vec;
use frame_support::{
	ensure,
	pallet_prelude::*,
	traits::{
		fungible::{Inspect, Mutate},
		tokens::{Fortitude, Precision, Preservation},
	},
};

impl<T: Config> Pallet<T> {
	pub(crate) fn do_burned_register(
		coldkey: T::AccountId,
		netuid: NetUid,
		hotkey: T::AccountId,
	) -> DispatchResult {
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
		if let Some(owner) = Owner::<T>::get(&hotkey) {
			ensure!(owner == coldkey, Error::<T>::NotHotkeyOwner);
		}
		let burn = params.burn;
		ensure!(
			T::Currency::reducible_balance(&coldkey, Preservation::Preserve, Fortitude::Polite) >= burn,
			Error::<T>::NotEnoughBalanceToRegister
		);

		let n = SubnetN::<T>::get(netuid);
		let now = Self::current_block();
		// Decide the uid before taking any money, so a full immune subnet costs nothing.
		let (uid, replaced) = if n < params.max_allowed_uids {
			(n, None)
		} else {
			let uid = Self::neuron_to_prune(netuid, &params, now).ok_or(Error::<T>::AllNeuronsImmune)?;
			(uid, Keys::<T>::get(netuid, uid))
		};

		T::Currency::burn_from(&coldkey, burn, Preservation::Preserve, Precision::Exact, Fortitude::Polite)
			.map_err(|_| Error::<T>::NotEnoughBalanceToRegister)?;

		match &replaced {
			None => Self::append_neuron(netuid, &hotkey, now),
			Some(old) => Self::replace_neuron(netuid, uid, old, &hotkey, now),
		}
		Owner::<T>::insert(&hotkey, &coldkey);
		RegistrationsThisBlock::<T>::mutate(netuid, |c| *c = c.saturating_add(1));
		RegistrationsThisInterval::<T>::mutate(netuid, |c| *c = c.saturating_add(1));

		Self::deposit_event(Event::NeuronRegistered { netuid, uid, hotkey, coldkey, burn, replaced });
		Ok(())
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

	/// Add a neuron at uid `SubnetN` and grow every per-uid vector.
	fn append_neuron(netuid: NetUid, hotkey: &T::AccountId, now: BlockHeight) {
		let uid = SubnetN::<T>::get(netuid);
		Keys::<T>::insert(netuid, uid, hotkey);
		Uids::<T>::insert(netuid, hotkey, uid);
		BlockAtRegistration::<T>::insert(netuid, uid, now);
		SubnetN::<T>::insert(netuid, uid.saturating_add(1));
		HotkeyNetworks::<T>::mutate(hotkey, |nets| {
			if !nets.contains(&netuid) {
				nets.push(netuid)
			}
		});
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
	}

	/// Put `new` in place of `old` at `uid`, clearing everything `old` had there.
	fn replace_neuron(netuid: NetUid, uid: Uid, old: &T::AccountId, new: &T::AccountId, now: BlockHeight) {
		Uids::<T>::remove(netuid, old);
		Axons::<T>::remove(netuid, old);
		ModelCommitments::<T>::remove(netuid, old);
		WeightCommits::<T>::remove(netuid, old);
		LastCommitBlock::<T>::remove(netuid, old);
		HotkeyNetworks::<T>::mutate(old, |nets| nets.retain(|n| *n != netuid));
		Weights::<T>::remove(netuid, uid);
		Bonds::<T>::remove(netuid, uid);

		Keys::<T>::insert(netuid, uid, new);
		Uids::<T>::insert(netuid, new, uid);
		BlockAtRegistration::<T>::insert(netuid, uid, now);
		HotkeyNetworks::<T>::mutate(new, |nets| {
			if !nets.contains(&netuid) {
				nets.push(netuid)
			}
		});
		let i = uid as usize;
		let zero_u16 = |v: &mut Vec<u16>| {
			if let Some(x) = v.get_mut(i) {
				*x = 0
			}
		};
		Rank::<T>::mutate(netuid, zero_u16);
		Trust::<T>::mutate(netuid, zero_u16);
		Consensus::<T>::mutate(netuid, zero_u16);
		Incentive::<T>::mutate(netuid, zero_u16);
		Dividends::<T>::mutate(netuid, zero_u16);
		ValidatorTrust::<T>::mutate(netuid, zero_u16);
		PruningScores::<T>::mutate(netuid, zero_u16);
		Emission::<T>::mutate(netuid, |v| {
			if let Some(x) = v.get_mut(i) {
				*x = 0
			}
		});
		ValidatorPermit::<T>::mutate(netuid, |v| {
			if let Some(x) = v.get_mut(i) {
				*x = false
			}
		});
		Active::<T>::mutate(netuid, |v| {
			if let Some(x) = v.get_mut(i) {
				*x = true
			}
		});
		LastUpdate::<T>::mutate(netuid, |v| {
			if let Some(x) = v.get_mut(i) {
				*x = now
			}
		});
	}

	/// Whether `hotkey` is registered on `netuid`.
	pub fn is_registered(netuid: NetUid, hotkey: &T::AccountId) -> bool {
		Uids::<T>::contains_key(netuid, hotkey)
	}
}
