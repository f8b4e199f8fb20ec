//! The pallet's storage invariants, checked by `try_state` (try-runtime) and after every
//! step of the fuzz tests (`tests/fuzz.rs`).
//!
//! Each check reads whole maps, so it is for tests and try-runtime only, never for a
//! block. The invariants:
//! - **neurons**: every uid below `SubnetN` holds a hotkey or is listed vacant (never
//!   both); `Keys` and `Uids` are inverse maps; a registered hotkey has an owner and lists
//!   the subnet in `HotkeyNetworks`; axons, model commitments and weight commits belong
//!   to registered hotkeys;
//! - **per-uid vectors**: the epoch outputs have one entry per uid slot, and the
//!   normalized ones (incentive, dividends) add up to at most 1.0 (`u16::MAX`, plus one
//!   unit of rounding per uid);
//! - **stake pools**: the shares of a pool's positions add up to its outstanding shares,
//!   `TotalStake` is the sum of the pools, `StakingHotkeys` indexes exactly the positions,
//!   every coldkey's staking hold is the principal of its positions, no principal is
//!   above its position's value, and the pot holds at least every reward nominators
//!   could withdraw;
//! - **bonds**: every owner's bond hold is the bonds of its registered and escrowed
//!   hotkeys, and `EscrowCount` counts the escrows.

use crate::*;
use alloc::collections::btree_map::BTreeMap;
use frame_support::traits::{
	fungible::{Inspect, InspectHold},
	tokens::{Fortitude, Preservation},
};
use sp_runtime::TryRuntimeError;

/// Fails with `message` unless `condition` holds.
fn check(condition: bool, message: &'static str) -> Result<(), TryRuntimeError> {
	if condition {
		Ok(())
	} else {
		Err(TryRuntimeError::Other(message))
	}
}

impl<T: Config> Pallet<T> {
	/// Checks every invariant of the module docs; the first that fails is named.
	pub fn do_try_state() -> Result<(), TryRuntimeError> {
		for netuid in Self::subnet_ids() {
			Self::check_neurons(netuid)?;
			Self::check_uid_vectors(netuid)?;
		}
		Self::check_stake_pools()?;
		Self::check_bonds()
	}

	fn check_neurons(netuid: NetUid) -> Result<(), TryRuntimeError> {
		let n = SubnetN::<T>::get(netuid);
		let vacant = VacantUids::<T>::get(netuid);
		check(vacant.windows(2).all(|w| w[0] < w[1]), "VacantUids is not strictly ascending")?;
		check(vacant.iter().all(|u| *u < n), "a vacant uid is not below SubnetN")?;
		for uid in 0..n {
			let hotkey = Keys::<T>::get(netuid, uid);
			check(hotkey.is_some() != vacant.contains(&uid), "a uid is neither held nor vacant, or both")?;
			if let Some(hotkey) = hotkey {
				check(Uids::<T>::get(netuid, &hotkey) == Some(uid), "Uids does not map a hotkey back to its uid")?;
				check(Owner::<T>::contains_key(&hotkey), "a registered hotkey has no owner")?;
				check(
					HotkeyNetworks::<T>::get(&hotkey).contains(&netuid),
					"HotkeyNetworks misses a subnet the hotkey is registered on",
				)?;
			}
		}
		check(Keys::<T>::iter_prefix(netuid).all(|(uid, _)| uid < n), "a key at a uid not below SubnetN")?;
		check(Uids::<T>::iter_prefix(netuid).count() == Keys::<T>::iter_prefix(netuid).count(), "Uids and Keys differ in size")?;
		let registered = |hotkey: &T::AccountId| Uids::<T>::contains_key(netuid, hotkey);
		check(Axons::<T>::iter_key_prefix(netuid).all(|h| registered(&h)), "an axon of an unregistered hotkey")?;
		check(ModelCommitments::<T>::iter_key_prefix(netuid).all(|h| registered(&h)), "a model commitment of an unregistered hotkey")?;
		check(WeightCommits::<T>::iter_key_prefix(netuid).all(|h| registered(&h)), "weight commits of an unregistered hotkey")?;
		check(Weights::<T>::iter_key_prefix(netuid).all(|u| u < n), "a weights row of a uid not below SubnetN")?;
		Ok(())
	}

	fn check_uid_vectors(netuid: NetUid) -> Result<(), TryRuntimeError> {
		let n = SubnetN::<T>::get(netuid) as usize;
		let lengths = [
			Rank::<T>::decode_len(netuid),
			Trust::<T>::decode_len(netuid),
			Consensus::<T>::decode_len(netuid),
			Incentive::<T>::decode_len(netuid),
			Dividends::<T>::decode_len(netuid),
			ValidatorTrust::<T>::decode_len(netuid),
			Emission::<T>::decode_len(netuid),
			ValidatorPermit::<T>::decode_len(netuid),
			Active::<T>::decode_len(netuid),
			LastUpdate::<T>::decode_len(netuid),
			PruningScores::<T>::decode_len(netuid),
		];
		check(lengths.iter().all(|l| l.unwrap_or(0) == n), "a per-uid vector is not SubnetN long")?;
		check(EpochStake::<T>::decode_len(netuid).unwrap_or(0) <= n, "EpochStake is longer than SubnetN")?;
		let at_most_one = |v: Vec<u16>| v.iter().map(|x| u64::from(*x)).sum::<u64>() <= u64::from(u16::MAX) + n as u64;
		check(at_most_one(Incentive::<T>::get(netuid)), "incentive adds up to more than 1")?;
		check(at_most_one(Dividends::<T>::get(netuid)), "dividends add up to more than 1")?;
		Ok(())
	}

	fn check_stake_pools() -> Result<(), TryRuntimeError> {
		let mut shares: BTreeMap<T::AccountId, u128> = BTreeMap::new();
		let mut principal: BTreeMap<T::AccountId, Balance> = BTreeMap::new();
		let mut owed_by_pot: Balance = 0;
		let mut positions = 0usize;
		for (hotkey, coldkey, p) in Stake::<T>::iter() {
			positions += 1;
			check(p.shares > 0, "a position with no shares")?;
			check(StakingHotkeys::<T>::contains_key(&coldkey, &hotkey), "StakingHotkeys misses a position")?;
			let pool = shares.entry(hotkey.clone()).or_default();
			*pool = pool.saturating_add(p.shares);
			let held = principal.entry(coldkey).or_default();
			*held = held.saturating_add(p.principal);
			let worth = Self::shares_to_value(&hotkey, p.shares);
			check(p.principal <= worth, "a position's principal is above its value")?;
			owed_by_pot = owed_by_pot.saturating_add(worth - p.principal);
		}
		check(StakingHotkeys::<T>::iter_keys().count() == positions, "StakingHotkeys lists a closed position")?;
		for (hotkey, total) in TotalHotkeyShares::<T>::iter() {
			check(shares.get(&hotkey).copied().unwrap_or(0) == total, "a pool's shares are not its positions' shares")?;
		}
		check(
			shares.keys().all(|h| TotalHotkeyShares::<T>::contains_key(h)),
			"positions in a pool with no outstanding shares",
		)?;
		let pools = TotalHotkeyStake::<T>::iter_values().fold(0 as Balance, Balance::saturating_add);
		check(pools == TotalStake::<T>::get(), "TotalStake is not the sum of the pools")?;
		for (coldkey, held) in principal {
			check(
				Self::staked_balance_on_hold(&coldkey) == held,
				"a coldkey's staking hold is not the principal of its positions",
			)?;
		}
		let pot = T::Currency::reducible_balance(&Self::pot_account(), Preservation::Preserve, Fortitude::Polite);
		check(pot >= owed_by_pot, "the pot holds less than the rewards nominators can withdraw")
	}

	fn check_bonds() -> Result<(), TryRuntimeError> {
		let mut bonds: BTreeMap<T::AccountId, Balance> = BTreeMap::new();
		for (_, hotkey, amount) in MinerBonds::<T>::iter() {
			let owner = Owner::<T>::get(&hotkey).ok_or(TryRuntimeError::Other("a bond of a hotkey with no owner"))?;
			let b = bonds.entry(owner).or_default();
			*b = b.saturating_add(amount);
		}
		let mut escrows = 0u32;
		for (_, _, escrow) in EscrowedBonds::<T>::iter() {
			escrows = escrows.saturating_add(1);
			let b = bonds.entry(escrow.coldkey).or_default();
			*b = b.saturating_add(escrow.amount);
		}
		check(escrows == EscrowCount::<T>::get(), "EscrowCount does not count the escrows")?;
		for (owner, bond) in bonds {
			check(
				T::Currency::balance_on_hold(&HoldReason::MinerBond.into(), &owner) == bond,
				"an owner's bond hold is not the bonds of its hotkeys",
			)?;
		}
		Ok(())
	}
}
