//! The per-subnet epoch: emission accrual, the Yuma consensus run and the payouts.
//!
//! - Every block, [`Pallet::block_emission`] new tokens are scheduled and split across
//!   subnets by their root-set emission shares (equal shares when none is set); each
//!   subnet accumulates them in `PendingEmission`. Nothing is minted yet.
//! - Each subnet runs its epoch when `(block + netuid + 1) % (tempo + 1) == 0`
//!   (subtensor's schedule, so subnets do not all run in the same block). The epoch reads
//!   stakes, weights and bonds, runs [`crate::yuma::epoch`], stores its outputs (and the
//!   stake it read per uid, [`EpochStake`], which weighs fraud reports), and pays
//!   the pending emission: half to miners by incentive (minted to the miner hotkey's
//!   owner coldkey), half to validators by dividends (minted into the validator's stake
//!   pool via [`Pallet::reward_pool`], the delegate take to its owner). Total issuance
//!   rises by exactly what is paid; an amount that cannot be paid (e.g. it would leave a
//!   new account below the existential deposit) stays pending for the next epoch.

use crate::{yuma, *};
use alloc::vec::Vec;
use frame_support::{pallet_prelude::*, traits::fungible::Mutate};

impl<T: Config> Pallet<T> {
	/// Whether `netuid` runs its epoch at `block`.
	pub fn is_epoch_block(netuid: NetUid, tempo: u16, block: BlockHeight) -> bool {
		block.saturating_add(netuid as u64).saturating_add(1) % (tempo as u64).saturating_add(1) == 0
	}

	/// Tokens scheduled for emission this block: `InitialBlockEmission` halved each time
	/// the emitted total crosses `cap * (1 - 1/2^k)` (Bittensor's halving schedule on
	/// emitted supply), and never more than what is left under the cap.
	pub fn block_emission() -> Balance {
		let cap = T::TotalSupplyCap::get();
		let emitted = TotalEmitted::<T>::get();
		let Some(remaining) = cap.checked_sub(emitted).filter(|r| *r > 0) else { return 0 };
		let mut halvings = 0u32;
		while halvings < 127 && remaining <= (cap >> (halvings + 1)) {
			halvings += 1;
		}
		(T::InitialBlockEmission::get() >> halvings).min(remaining)
	}

	/// Schedule this block's emission across subnets. Loops over subnets only.
	pub(crate) fn accrue_emission() -> Weight {
		let emission = Self::block_emission();
		let subnets: Vec<(NetUid, u16)> =
			Hyperparams::<T>::iter_keys().map(|n| (n, SubnetEmissionShare::<T>::get(n))).collect();
		let reads = subnets.len() as u64 * 2 + 2;
		if emission == 0 || subnets.is_empty() {
			return T::DbWeight::get().reads(reads);
		}
		let total_share: u128 = subnets.iter().map(|(_, s)| *s as u128).sum();
		let weights: Vec<sp_core::U256> = subnets
			.iter()
			.map(|(_, s)| if total_share == 0 { 1u32.into() } else { (*s as u128).into() })
			.collect();
		let amounts = yuma::emission::apportion(emission, &weights);
		for ((netuid, _), amount) in subnets.iter().zip(amounts) {
			if amount > 0 {
				PendingEmission::<T>::mutate(netuid, |p| *p = p.saturating_add(amount));
			}
		}
		TotalEmitted::<T>::mutate(|e| *e = e.saturating_add(emission));
		T::DbWeight::get().reads_writes(reads, subnets.len() as u64 + 1)
	}

	/// Run the epoch of every subnet whose turn it is. Returns the weight used.
	pub(crate) fn run_scheduled_epochs(now: BlockHeight) -> Weight {
		let mut weight = Weight::zero();
		for (netuid, params) in Hyperparams::<T>::iter() {
			weight = weight.saturating_add(T::DbWeight::get().reads(1));
			if Self::is_epoch_block(netuid, params.tempo, now) {
				weight = weight.saturating_add(Self::run_epoch(netuid, &params, now));
			}
		}
		weight
	}


	/// Run Yuma consensus on `netuid`, store its outputs and pay the pending emission.
	pub fn run_epoch(netuid: NetUid, params: &SubnetHyperparams, now: BlockHeight) -> Weight {
		let n = SubnetN::<T>::get(netuid);
		// Each uid's hotkey is read once and serves both the stake vector and the payouts.
		let hotkeys: Vec<Option<T::AccountId>> = (0..n).map(|uid| Keys::<T>::get(netuid, uid)).collect();
		let stake: Vec<Balance> =
			hotkeys.iter().map(|h| h.as_ref().map(TotalHotkeyStake::<T>::get).unwrap_or(0)).collect();
		let last_update = LastUpdate::<T>::get(netuid);
		let registered: Vec<BlockHeight> = (0..n).map(|uid| BlockAtRegistration::<T>::get(netuid, uid)).collect();
		let weights: Vec<Vec<(Uid, u16)>> = (0..n).map(|uid| Weights::<T>::get(netuid, uid)).collect();
		let bonds: Vec<Vec<(Uid, u16)>> = (0..n).map(|uid| Bonds::<T>::get(netuid, uid)).collect();
		let entries: u32 = weights.iter().chain(bonds.iter()).map(|r| r.len() as u32).sum();

		// Bonds towards uids registered since the last epoch start from zero (subtensor's
		// `last_tempo` reset).
		let options = yuma::EpochOptions {
			bonds_reset_from_block: Some(now.saturating_sub(params.tempo as u64)),
			..Default::default()
		};
		let out = yuma::epoch_with_options(&yuma::EpochInput {
			params: yuma::EpochParams::from_hyperparams(params, now),
			stake: &stake,
			last_update: &last_update,
			block_at_registration: &registered,
			weights: &weights,
			bonds: &bonds,
		}, &options);

		let pending = PendingEmission::<T>::take(netuid);
		let (to_miners, to_validators) = yuma::split_emission(&out, &stake, pending);
		let mut emission = alloc::vec![0 as Balance; n as usize];
		let mut paid: Balance = 0;
		for (i, hotkey) in hotkeys.iter().enumerate() {
			let Some(hotkey) = hotkey else { continue };
			let miner = to_miners.get(i).copied().unwrap_or(0);
			if miner > 0 {
				if let Some(owner) = Owner::<T>::get(hotkey) {
					if T::Currency::mint_into(&owner, miner).is_ok() {
						emission[i] = emission[i].saturating_add(miner);
					}
				}
			}
			let validator = to_validators.get(i).copied().unwrap_or(0);
			if validator > 0 && Self::reward_pool(hotkey, validator).is_ok() {
				emission[i] = emission[i].saturating_add(validator);
			}
			paid = paid.saturating_add(emission[i]);
		}
		let unpaid = pending.saturating_sub(paid);
		if unpaid > 0 {
			PendingEmission::<T>::mutate(netuid, |p| *p = p.saturating_add(unpaid));
		}

		Active::<T>::insert(netuid, out.active);
		ValidatorPermit::<T>::insert(netuid, out.validator_permit);
		EpochStake::<T>::insert(netuid, stake);
		Rank::<T>::insert(netuid, out.rank);
		Trust::<T>::insert(netuid, out.trust);
		Consensus::<T>::insert(netuid, out.consensus);
		Incentive::<T>::insert(netuid, out.incentive);
		Dividends::<T>::insert(netuid, out.dividends);
		ValidatorTrust::<T>::insert(netuid, out.validator_trust);
		PruningScores::<T>::insert(netuid, out.pruning_scores);
		Emission::<T>::insert(netuid, emission);
		for (uid, row) in out.bonds.into_iter().enumerate() {
			if row.is_empty() {
				Bonds::<T>::remove(netuid, uid as Uid);
			} else {
				Bonds::<T>::insert(netuid, uid as Uid, row);
			}
		}
		Self::deposit_event(Event::EpochCompleted { netuid, block: now, emitted: paid, pending: unpaid });
		T::WeightInfo::epoch(n as u32, entries, params.max_allowed_validators.min(n) as u32)
	}
}
