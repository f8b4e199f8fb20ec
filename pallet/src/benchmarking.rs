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
	traits::fungible::{Inspect, InspectHold, Mutate, MutateHold},
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
			StakingHotkeys::<T>::insert(&coldkey, &hotkey, ());
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

/// Put a hotkey whose signatures the benchmark can make (`PublicKeyOf::bench_account`)
/// at `uid` of `netuid` in place of what `populate_subnet` wrote there. Returns it.
fn install_signer<T: Config>(netuid: NetUid, uid: Uid, coldkey: &T::AccountId) -> T::AccountId {
	let hotkey = T::PublicKeyOf::bench_account(uid as u32);
	if let Some(old) = Keys::<T>::get(netuid, uid) {
		Uids::<T>::remove(netuid, &old);
	}
	Keys::<T>::insert(netuid, uid, &hotkey);
	Uids::<T>::insert(netuid, &hotkey, uid);
	Owner::<T>::insert(&hotkey, coldkey);
	hotkey
}

/// Evidence of `d` digests that `miner` signed for `reporter` while claiming `model`.
fn signed_evidence<T: Config>(reporter: &T::AccountId, miner: &T::AccountId, model: H256, d: u32) -> FraudEvidence {
	let digests: Vec<AnswerDigest> = (0..d)
		.map(|i| AnswerDigest { position: i, context: [i as u8; 32], distribution: [0xd1; 32] })
		.collect();
	let reporter_key = T::PublicKeyOf::public_key(reporter).expect("benchmark accounts have keys");
	let miner_key = T::PublicKeyOf::public_key(miner).expect("benchmark accounts have keys");
	let payload = evidence::step_payload(&reporter_key, &miner_key, &model, &digests);
	let signature = T::PublicKeyOf::bench_sign(miner, &payload).expect("the benchmark signer signs");
	FraudEvidence {
		model_hash: model,
		index: d.saturating_sub(1),
		digests: BoundedVec::try_from(digests).expect("at most 256 digests"),
		signature,
		evidence_hash: H256::repeat_byte(3),
	}
}

/// Reports of uids `0..count` of `netuid` at `block`.
fn reports_by<T: Config>(netuid: NetUid, count: u16, block: BlockHeight) -> BoundedVec<FraudReport<T::AccountId>, fraud::MaxReporters<T>> {
	let reports: Vec<_> = (0..count)
		.filter_map(|uid| Keys::<T>::get(netuid, uid))
		.map(|reporter| FraudReport { reporter, block, evidence_hash: H256::repeat_byte(2), disputed: AnswerDigest::default() })
		.collect();
	BoundedVec::try_from(reports).expect("fewer reports than uids")
}

/// A subnet with `v` permitted validators (uids `0..v`, each with a funded coldkey and an
/// epoch stake) and a bonded signer at uid `v`: the worst case of a fraud report, where
/// the threshold needs every permit. Returns the signer and its coldkey.
fn fraud_subnet<T: Config>(v: u32) -> (T::AccountId, T::AccountId) {
	let n = v as u16 + 1;
	populate_subnet::<T>(BENCH_NETUID, n, n - 1, 1);
	let mut params = Hyperparams::<T>::get(BENCH_NETUID).expect("populated");
	params.audits_enabled = true;
	params.slash_to_reporters = true;
	params.fraud_threshold = u16::MAX - 1;
	params.fraud_window = 1_000_000;
	params.max_allowed_validators = n;
	Hyperparams::<T>::insert(BENCH_NETUID, params);
	let miner_uid = n - 1;
	fill_uid_vectors::<T>(BENCH_NETUID, n, (0..n).map(|u| u != miner_uid).collect());
	EpochStake::<T>::insert(BENCH_NETUID, (0..n).map(|u| if u == miner_uid { 0 } else { 1_000_000 }).collect::<Vec<Balance>>());
	let ed = T::Currency::minimum_balance();
	for uid in 0..miner_uid {
		T::Currency::set_balance(&account("coldkey", uid as u32, 0), ed);
	}
	let miner_cold: T::AccountId = account("coldkey", miner_uid as u32, 0);
	let miner = install_signer::<T>(BENCH_NETUID, miner_uid, &miner_cold);
	bond::<T>(BENCH_NETUID, &miner, &miner_cold, ed.saturating_mul(10 * n as Balance).max(1_000_000));
	let commitment = ModelCommitment { model_hash: H256::repeat_byte(1), tokenizer_hash: H256::zero(), block: 0 };
	ModelCommitments::<T>::insert(BENCH_NETUID, &miner, commitment);
	(miner, miner_cold)
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

	/// The worst fraud report on a subnet with `v` validator permits and evidence of `d`
	/// digests: every uid but the last is a permitted validator, all but one have
	/// reported already, the threshold needs all of them, and this last report (its
	/// signature verified over all `d` digests) crosses it and pays the bond to every
	/// reporter.
	#[benchmark]
	fn report_fraud(v: Linear<2, 4095>, d: Linear<1, 256>) {
		let (miner, miner_cold) = fraud_subnet::<T>(v);
		let miner_uid = v as Uid;
		let now = Pallet::<T>::current_block();
		FraudReports::<T>::insert(BENCH_NETUID, &miner, reports_by::<T>(BENCH_NETUID, miner_uid - 1, now));
		let reporter = Keys::<T>::get(BENCH_NETUID, miner_uid - 1).expect("populated");
		let evidence = signed_evidence::<T>(&reporter, &miner, H256::repeat_byte(1), d);
		assert_eq!(Pallet::<T>::validator_permit_count(BENCH_NETUID), v);

		#[extrinsic_call]
		report_fraud(RawOrigin::Signed(reporter), BENCH_NETUID, miner_uid, evidence);

		assert_eq!(Keys::<T>::get(BENCH_NETUID, miner_uid), None);
		assert_eq!(MinerBonds::<T>::get(BENCH_NETUID, &miner), None);
		assert!(BarredModels::<T>::contains_key(BENCH_NETUID, (miner_cold, H256::repeat_byte(1))));
	}

	/// As `report_fraud`, against a neuron that left with its bond in escrow: the last
	/// report slashes the escrow.
	#[benchmark]
	fn report_escrowed(v: Linear<2, 4095>, d: Linear<1, 256>) {
		let (miner, miner_cold) = fraud_subnet::<T>(v);
		let miner_uid = v as Uid;
		let now = Pallet::<T>::current_block();
		FraudReports::<T>::insert(BENCH_NETUID, &miner, reports_by::<T>(BENCH_NETUID, miner_uid - 1, now));
		let params = Hyperparams::<T>::get(BENCH_NETUID).expect("populated");
		Pallet::<T>::settle_bond(BENCH_NETUID, miner_uid, &miner, &params, now);
		Pallet::<T>::vacate_neuron(BENCH_NETUID, miner_uid, &miner, now);
		assert!(EscrowedBonds::<T>::contains_key(BENCH_NETUID, &miner));
		let reporter = Keys::<T>::get(BENCH_NETUID, miner_uid - 1).expect("populated");
		let evidence = signed_evidence::<T>(&reporter, &miner, H256::repeat_byte(1), d);

		#[extrinsic_call]
		report_escrowed(RawOrigin::Signed(reporter), BENCH_NETUID, miner.clone(), evidence);

		assert!(!EscrowedBonds::<T>::contains_key(BENCH_NETUID, &miner));
		assert!(BarredModels::<T>::contains_key(BENCH_NETUID, (miner_cold, H256::repeat_byte(1))));
	}

	/// Return an escrow whose `r` reports all expired.
	#[benchmark]
	fn release_escrow(r: Linear<1, 4095>) {
		let (miner, miner_cold) = fraud_subnet::<T>(r);
		let miner_uid = r as Uid;
		let now = Pallet::<T>::current_block();
		FraudReports::<T>::insert(BENCH_NETUID, &miner, reports_by::<T>(BENCH_NETUID, miner_uid, now));
		let params = Hyperparams::<T>::get(BENCH_NETUID).expect("populated");
		Pallet::<T>::settle_bond(BENCH_NETUID, miner_uid, &miner, &params, now);
		let later = now.saturating_add(params.fraud_window);
		frame_system::Pallet::<T>::set_block_number(sp_runtime::traits::UniqueSaturatedFrom::unique_saturated_from(later));
		let caller: T::AccountId = account("anyone", 0, 0);

		#[extrinsic_call]
		release_escrow(RawOrigin::Signed(caller), BENCH_NETUID, miner.clone());

		assert!(!EscrowedBonds::<T>::contains_key(BENCH_NETUID, &miner));
		assert_eq!(T::Currency::balance_on_hold(&HoldReason::MinerBond.into(), &miner_cold), 0);
	}

	/// The per-block sweep returning `SWEEP_PER_BLOCK` escrows with 64 expired reports each.
	#[benchmark]
	fn sweep_escrows() {
		let k = crate::escrow::SWEEP_PER_BLOCK;
		let (_, _) = fraud_subnet::<T>(64 + k);
		let now = Pallet::<T>::current_block();
		let params = Hyperparams::<T>::get(BENCH_NETUID).expect("populated");
		for uid in 64..64 + k as Uid {
			let hotkey = Keys::<T>::get(BENCH_NETUID, uid).expect("populated");
			bond::<T>(BENCH_NETUID, &hotkey, &account("coldkey", uid as u32, 0), 1_000_000);
			FraudReports::<T>::insert(BENCH_NETUID, &hotkey, reports_by::<T>(BENCH_NETUID, 64, now));
			Pallet::<T>::settle_bond(BENCH_NETUID, uid, &hotkey, &params, now);
		}
		assert_eq!(EscrowCount::<T>::get(), k);
		let later = now.saturating_add(params.fraud_window);

		#[block]
		{
			Pallet::<T>::sweep_escrows(later);
		}

		assert_eq!(EscrowCount::<T>::get(), 0);
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
