//! Benchmarks (frame-benchmarking v2) and the population helper they share with the
//! native bench binary `benches/epoch.rs`.
//!
//! Run the frame benchmarks once each as tests with
//! `cargo test -p pallet-tessera --features runtime-benchmarks benchmarking`, or measure
//! the epoch natively with `cargo bench -p pallet-tessera --features runtime-benchmarks`.

use crate::*;
use alloc::vec::Vec;
use frame_benchmarking::v2::*;

/// Netuid the benchmarks use.
pub const BENCH_NETUID: NetUid = 1;

/// Fill subnet `netuid` (created if missing) with `n` neurons written straight to storage:
/// the first `validators` uids are staked validators whose weight rows each hold
/// `entries_per_validator` entries, spread over the subnet; everybody updated weights
/// one block ago. Returns the number of weight entries written.
pub fn populate_subnet<T: Config>(netuid: NetUid, n: u16, validators: u16, entries_per_validator: u16) -> u32 {
	let mut params = Hyperparams::<T>::get(netuid).unwrap_or_default();
	params.max_allowed_uids = n.max(params.max_allowed_uids);
	params.max_allowed_validators = validators;
	params.activity_cutoff = u16::MAX;
	Hyperparams::<T>::insert(netuid, params);
	let now = Pallet::<T>::current_block();
	let validators = validators.min(n);
	let mut entries = 0u32;
	let mut last_update = Vec::with_capacity(n as usize);
	for uid in 0..n {
		let hotkey: T::AccountId = account("hotkey", uid as u32, 0);
		let coldkey: T::AccountId = account("coldkey", uid as u32, 0);
		Keys::<T>::insert(netuid, uid, &hotkey);
		Uids::<T>::insert(netuid, &hotkey, uid);
		Owner::<T>::insert(&hotkey, &coldkey);
		BlockAtRegistration::<T>::insert(netuid, uid, 0);
		last_update.push(now.saturating_sub(1));
		if uid < validators {
			let stake: Balance = 1_000_000_000_000 + uid as Balance;
			TotalHotkeyStake::<T>::insert(&hotkey, stake);
			TotalHotkeyShares::<T>::insert(&hotkey, stake);
			Stake::<T>::insert(&hotkey, &coldkey, StakePosition { shares: stake, principal: stake });
			let step = (n / entries_per_validator.max(1)).max(1);
			let row: Vec<(Uid, u16)> = (0..entries_per_validator.min(n))
				.map(|k| ((k.wrapping_mul(step).wrapping_add(uid)) % n, 1 + (k % 100) * 600))
				.collect();
			entries += row.len() as u32;
			Weights::<T>::insert(netuid, uid, row);
		}
	}
	SubnetN::<T>::insert(netuid, n);
	LastUpdate::<T>::insert(netuid, last_update);
	entries
}

#[benchmarks]
mod benchmarks {
	use super::*;

	/// One epoch of a subnet with `n` uids, 64 validators and `e` weights per validator.
	#[benchmark]
	fn epoch(n: Linear<64, 4096>, e: Linear<1, 256>) {
		let validators = 64u16.min(n as u16);
		populate_subnet::<T>(BENCH_NETUID, n as u16, validators, e as u16);
		let params = Hyperparams::<T>::get(BENCH_NETUID).expect("populated");
		PendingEmission::<T>::insert(BENCH_NETUID, 1_000_000_000_000);
		let now = Pallet::<T>::current_block();

		#[block]
		{
			Pallet::<T>::run_epoch(BENCH_NETUID, &params, now);
		}

		assert_eq!(Emission::<T>::get(BENCH_NETUID).len(), n as usize);
		assert!(Emission::<T>::get(BENCH_NETUID).iter().any(|x| *x > 0));
	}

	impl_benchmark_test_suite!(Pallet, crate::mock::new_test_ext(), crate::mock::Test);
}
