//! Benchmarks (frame-benchmarking v2) and the population helper they share with the
//! native bench binary `benches/epoch.rs`.
//!
//! Run the frame benchmarks once each as tests with
//! `cargo test -p pallet-tessera --features runtime-benchmarks benchmarking`, or measure
//! the epoch natively with `cargo bench -p pallet-tessera --features runtime-benchmarks`.

use crate::*;
use alloc::vec::Vec;
use frame_benchmarking::v2::*;
use frame_support::{
	traits::fungible::{Inspect, Mutate, MutateHold},
	BoundedVec,
};
use frame_system::RawOrigin;
use sp_core::H256;

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

/// Give `coldkey` a held miner bond of `amount` for `hotkey` on `netuid` (and the
/// existential deposit besides), as `burned_register` would on a subnet with audits.
fn bond<T: Config>(netuid: NetUid, hotkey: &T::AccountId, coldkey: &T::AccountId, amount: Balance) {
	let ed = T::Currency::minimum_balance();
	T::Currency::set_balance(coldkey, amount.saturating_add(ed));
	T::Currency::hold(&HoldReason::MinerBond.into(), coldkey, amount).expect("funded just now");
	MinerBonds::<T>::insert(netuid, hotkey, amount);
}

/// Per-uid vectors of length `n` (what registrations and epochs leave behind).
fn fill_uid_vectors<T: Config>(netuid: NetUid, n: u16, permits: Vec<bool>) {
	let n = n as usize;
	Rank::<T>::insert(netuid, alloc::vec![1u16; n]);
	Trust::<T>::insert(netuid, alloc::vec![1u16; n]);
	Consensus::<T>::insert(netuid, alloc::vec![1u16; n]);
	Incentive::<T>::insert(netuid, alloc::vec![1u16; n]);
	Dividends::<T>::insert(netuid, alloc::vec![1u16; n]);
	ValidatorTrust::<T>::insert(netuid, alloc::vec![1u16; n]);
	PruningScores::<T>::insert(netuid, alloc::vec![1u16; n]);
	Emission::<T>::insert(netuid, alloc::vec![1 as Balance; n]);
	Active::<T>::insert(netuid, alloc::vec![true; n]);
	ValidatorPermit::<T>::insert(netuid, permits);
}

#[benchmarks]
mod benchmarks {
	use super::*;

	/// The worst fraud report on a subnet with `v` validator permits: every uid but the
	/// last is a permitted validator, all but one have reported already, the threshold
	/// needs all of them, and this last report crosses it and pays the bond to every
	/// reporter.
	#[benchmark]
	fn report_fraud(v: Linear<2, 4095>) {
		let n = v as u16 + 1;
		populate_subnet::<T>(BENCH_NETUID, n, n - 1, 1);
		let mut params = Hyperparams::<T>::get(BENCH_NETUID).expect("populated");
		params.audits_enabled = true;
		params.slash_to_reporters = true;
		params.fraud_threshold = u16::MAX - 1;
		params.fraud_window = 1_000_000;
		Hyperparams::<T>::insert(BENCH_NETUID, params);
		let miner_uid = n - 1;
		fill_uid_vectors::<T>(BENCH_NETUID, n, (0..n).map(|u| u != miner_uid).collect());
		let ed = T::Currency::minimum_balance();
		let miner: T::AccountId = account("hotkey", miner_uid as u32, 0);
		let miner_cold: T::AccountId = account("coldkey", miner_uid as u32, 0);
		bond::<T>(BENCH_NETUID, &miner, &miner_cold, ed.saturating_mul(10 * n as Balance).max(1_000_000));
		ModelCommitments::<T>::insert(
			BENCH_NETUID,
			&miner,
			ModelCommitment { model_hash: H256::repeat_byte(1), tokenizer_hash: H256::zero(), block: 0 },
		);
		let now = Pallet::<T>::current_block();
		let mut reports = Vec::new();
		for uid in 0..n - 1 {
			T::Currency::set_balance(&account("coldkey", uid as u32, 0), ed);
			if uid < n - 2 {
				reports.push(FraudReport {
					reporter: account("hotkey", uid as u32, 0),
					block: now,
					evidence_hash: H256::repeat_byte(2),
				});
			}
		}
		FraudReports::<T>::insert(
			BENCH_NETUID,
			miner_uid,
			BoundedVec::try_from(reports).expect("fewer reports than uids"),
		);
		let reporter: T::AccountId = account("hotkey", (n - 2) as u32, 0);
		assert_eq!(Pallet::<T>::validator_permit_count(BENCH_NETUID), v);

		#[extrinsic_call]
		report_fraud(RawOrigin::Signed(reporter), BENCH_NETUID, miner_uid, H256::repeat_byte(3));

		assert_eq!(Keys::<T>::get(BENCH_NETUID, miner_uid), None);
		assert_eq!(MinerBonds::<T>::get(BENCH_NETUID, &miner), None);
		assert!(BarredModels::<T>::contains_key(BENCH_NETUID, (miner_cold, H256::repeat_byte(1))));
	}

	/// An owner takes a bonded neuron with an axon and a model off a full subnet.
	#[benchmark]
	fn deregister() {
		let n: u16 = 256;
		populate_subnet::<T>(BENCH_NETUID, n, 1, 1);
		fill_uid_vectors::<T>(BENCH_NETUID, n, alloc::vec![false; n as usize]);
		let mut params = Hyperparams::<T>::get(BENCH_NETUID).expect("populated");
		params.audits_enabled = true;
		Hyperparams::<T>::insert(BENCH_NETUID, params);
		let uid = n - 1;
		let hotkey: T::AccountId = account("hotkey", uid as u32, 0);
		let coldkey: T::AccountId = account("coldkey", uid as u32, 0);
		bond::<T>(BENCH_NETUID, &hotkey, &coldkey, 1_000_000);
		Axons::<T>::insert(BENCH_NETUID, &hotkey, AxonInfo { ip: 0x01020304, port: 1, ip_type: 4, ..Default::default() });
		ModelCommitments::<T>::insert(BENCH_NETUID, &hotkey, ModelCommitment::default());
		Weights::<T>::insert(BENCH_NETUID, uid, alloc::vec![(0u16, 1u16)]);

		#[extrinsic_call]
		deregister(RawOrigin::Signed(coldkey), BENCH_NETUID, hotkey.clone());

		assert_eq!(Keys::<T>::get(BENCH_NETUID, uid), None);
		assert_eq!(MinerBonds::<T>::get(BENCH_NETUID, &hotkey), None);
		assert_eq!(VacantUids::<T>::get(BENCH_NETUID), alloc::vec![uid]);
	}

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
