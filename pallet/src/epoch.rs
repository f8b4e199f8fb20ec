//! The per-subnet epoch schedule and the validator-permit step of Yuma consensus.
//!
//! Each subnet runs its epoch when `(block + netuid + 1) % (tempo + 1) == 0`
//! (subtensor's schedule, so subnets do not all run in the same block).

use crate::*;
use alloc::vec::Vec;
use frame_support::pallet_prelude::*;

impl<T: Config> Pallet<T> {
	/// Whether `netuid` runs its epoch at `block`.
	pub fn is_epoch_block(netuid: NetUid, tempo: u16, block: BlockHeight) -> bool {
		block.saturating_add(netuid as u64).saturating_add(1) % (tempo as u64).saturating_add(1) == 0
	}

	/// Run the epoch of every subnet whose turn it is. Returns the weight used.
	pub(crate) fn run_scheduled_epochs(now: BlockHeight) -> Weight {
		let mut weight = Weight::zero();
		for (netuid, params) in Hyperparams::<T>::iter() {
			weight = weight.saturating_add(T::DbWeight::get().reads(1));
			if Self::is_epoch_block(netuid, params.tempo, now) {
				let n = SubnetN::<T>::get(netuid);
				Self::update_validator_permits(netuid, &params);
				weight = weight.saturating_add(T::WeightInfo::epoch(n as u32));
			}
		}
		weight
	}

	/// Stake behind each uid's hotkey, indexed by uid.
	pub fn stake_by_uid(netuid: NetUid) -> Vec<Balance> {
		(0..SubnetN::<T>::get(netuid))
			.map(|uid| Keys::<T>::get(netuid, uid).map(|h| TotalHotkeyStake::<T>::get(h)).unwrap_or(0))
			.collect()
	}

	/// Give validator permits to the `max_allowed_validators` uids with the most stake
	/// (ties go to the lower uid), as subtensor's `is_topk`.
	pub fn update_validator_permits(netuid: NetUid, params: &SubnetHyperparams) {
		let stake = Self::stake_by_uid(netuid);
		ValidatorPermit::<T>::insert(netuid, top_k_mask(&stake, params.max_allowed_validators as usize));
	}
}

/// `true` for the `k` largest entries (ties to the lower index), `false` elsewhere.
pub fn top_k_mask(values: &[Balance], k: usize) -> Vec<bool> {
	let mut order: Vec<usize> = (0..values.len()).collect();
	order.sort_by(|a, b| values[*b].cmp(&values[*a]).then(a.cmp(b)));
	let mut mask = alloc::vec![false; values.len()];
	for i in order.into_iter().take(k) {
		mask[i] = true;
	}
	mask
}
