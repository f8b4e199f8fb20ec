//! Weights: `set_weights` with subtensor's checks, and commit-reveal.

use crate::*;
use alloc::vec::Vec;
use codec::Encode;
use frame_support::{ensure, pallet_prelude::*};
use sp_core::H256;
use sp_runtime::traits::{BlakeTwo256, Hash};

/// Scale `values` so the largest becomes `u16::MAX` (rounded to nearest); all-zero stays zero.
pub fn max_upscale_to_u16(values: &[u16]) -> Vec<u16> {
	let max = values.iter().copied().max().unwrap_or(0) as u64;
	if max == 0 {
		return values.to_vec();
	}
	values
		.iter()
		.map(|v| ((*v as u64 * u16::MAX as u64 + max / 2) / max).min(u16::MAX as u64) as u16)
		.collect()
}

/// The commit-reveal hash: BlakeTwo256(SCALE(who, netuid, uids, values, salt, version_key)).
pub fn weights_commit_hash<AccountId: Encode>(
	who: &AccountId,
	netuid: NetUid,
	uids: &[Uid],
	values: &[u16],
	salt: &[u16],
	version_key: u64,
) -> H256 {
	BlakeTwo256::hash_of(&(who, netuid, uids, values, salt, version_key))
}

impl<T: Config> Pallet<T> {
	/// Validate and store weights. `revealed` skips the commit-reveal gate and the rate
	/// limit (both were enforced when the weights were committed).
	pub(crate) fn do_set_weights(
		hotkey: T::AccountId,
		netuid: NetUid,
		uids: Vec<Uid>,
		values: Vec<u16>,
		version_key: u64,
		revealed: bool,
	) -> DispatchResult {
		let params = Self::hyperparams_of(netuid)?;
		if !revealed {
			ensure!(!params.commit_reveal_enabled, Error::<T>::CommitRevealEnabled);
		}
		ensure!(uids.len() == values.len(), Error::<T>::WeightVecNotEqualSize);
		let n = SubnetN::<T>::get(netuid);
		ensure!(uids.len() <= n as usize, Error::<T>::TooManyWeights);
		let uid = Uids::<T>::get(netuid, &hotkey).ok_or(Error::<T>::HotkeyNotRegistered)?;
		ensure!(
			TotalHotkeyStake::<T>::get(&hotkey) >= params.weights_min_stake,
			Error::<T>::NotEnoughStakeToSetWeights
		);
		ensure!(version_key >= params.weights_version_key, Error::<T>::IncorrectWeightVersionKey);
		let now = Self::current_block();
		if !revealed {
			let last = LastUpdate::<T>::get(netuid).get(uid as usize).copied().unwrap_or(0);
			ensure!(
				last == 0 || now.saturating_sub(last) >= params.weights_rate_limit,
				Error::<T>::SettingWeightsTooFast
			);
		}
		ensure!(!has_duplicates(&uids), Error::<T>::DuplicateUids);
		ensure!(uids.iter().all(|u| *u < n), Error::<T>::InvalidUid);

		let self_weight_only = uids.len() == 1 && uids[0] == uid;
		if !self_weight_only {
			let min_len = params.min_allowed_weights.min(n) as usize;
			ensure!(uids.len() >= min_len, Error::<T>::WeightVecLengthIsLow);
			let upscaled = max_upscale_to_u16(&values);
			if params.max_weight_limit != u16::MAX {
				ensure!(
					upscaled.iter().all(|w| *w <= params.max_weight_limit),
					Error::<T>::MaxWeightExceeded
				);
			}
			let permit = ValidatorPermit::<T>::get(netuid).get(uid as usize).copied().unwrap_or(false);
			ensure!(permit, Error::<T>::NoValidatorPermit);
		}

		// Explicit zeros are kept, as subtensor does: Yuma3 decays a bond only where the
		// validator's row has an entry.
		let row: Vec<(Uid, u16)> = uids.into_iter().zip(max_upscale_to_u16(&values)).collect();
		let count = row.len() as u32;
		Weights::<T>::insert(netuid, uid, row);
		LastUpdate::<T>::mutate(netuid, |v| {
			if let Some(x) = v.get_mut(uid as usize) {
				*x = now
			}
		});
		Self::deposit_event(Event::WeightsSet { netuid, uid, count });
		Ok(())
	}

	pub(crate) fn do_commit_weights(hotkey: T::AccountId, netuid: NetUid, hash: H256) -> DispatchResult {
		let params = Self::hyperparams_of(netuid)?;
		ensure!(params.commit_reveal_enabled, Error::<T>::CommitRevealDisabled);
		ensure!(Self::is_registered(netuid, &hotkey), Error::<T>::HotkeyNotRegistered);
		let now = Self::current_block();
		if let Some(last) = LastCommitBlock::<T>::get(netuid, &hotkey) {
			ensure!(
				now.saturating_sub(last) >= params.weights_rate_limit,
				Error::<T>::CommittingWeightsTooFast
			);
		}
		let current_epoch = Self::epoch_index(netuid, params.tempo, now);
		let reveal_epoch = current_epoch.saturating_add(params.commit_reveal_period);
		WeightCommits::<T>::try_mutate(netuid, &hotkey, |commits| -> DispatchResult {
			// Commits whose window has passed can never be revealed: drop them.
			commits.retain(|c| c.reveal_epoch >= current_epoch);
			commits
				.try_push(WeightCommit { hash, commit_block: now, reveal_epoch })
				.map_err(|_| Error::<T>::TooManyUnrevealedCommits)?;
			Ok(())
		})?;
		LastCommitBlock::<T>::insert(netuid, &hotkey, now);
		Self::deposit_event(Event::WeightsCommitted { netuid, hotkey, hash, reveal_epoch });
		Ok(())
	}

	pub(crate) fn do_reveal_weights(
		hotkey: T::AccountId,
		netuid: NetUid,
		uids: Vec<Uid>,
		values: Vec<u16>,
		salt: Vec<u16>,
		version_key: u64,
	) -> DispatchResult {
		let params = Self::hyperparams_of(netuid)?;
		ensure!(params.commit_reveal_enabled, Error::<T>::CommitRevealDisabled);
		ensure!(Self::is_registered(netuid, &hotkey), Error::<T>::HotkeyNotRegistered);
		let hash = weights_commit_hash(&hotkey, netuid, &uids, &values, &salt, version_key);
		let mut commits = WeightCommits::<T>::get(netuid, &hotkey);
		let index = commits.iter().position(|c| c.hash == hash).ok_or(Error::<T>::NoMatchingCommit)?;
		let current_epoch = Self::epoch_index(netuid, params.tempo, Self::current_block());
		let reveal_epoch = commits[index].reveal_epoch;
		ensure!(current_epoch >= reveal_epoch, Error::<T>::RevealTooEarly);
		ensure!(current_epoch <= reveal_epoch, Error::<T>::RevealTooLate);
		commits.remove(index);
		Self::do_set_weights(hotkey.clone(), netuid, uids, values, version_key, true)?;
		if commits.is_empty() {
			WeightCommits::<T>::remove(netuid, &hotkey);
		} else {
			WeightCommits::<T>::insert(netuid, &hotkey, commits);
		}
		Self::deposit_event(Event::WeightsRevealed { netuid, hotkey, hash });
		Ok(())
	}
}

fn has_duplicates(uids: &[Uid]) -> bool {
	let mut sorted = uids.to_vec();
	sorted.sort_unstable();
	sorted.windows(2).any(|w| w[0] == w[1])
}
