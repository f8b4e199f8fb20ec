//! Miner bonds, fraud reports, slashing and `deregister`.

use super::{free, issuance, origin, register, set_param, NET};
use crate::{fraud, mock::*, Error, Event, *};
use frame_support::{
	assert_noop, assert_ok,
	traits::fungible::{Inspect, InspectHold},
};
use sp_core::H256;

pub(super) const BOND: u128 = 5_000;
pub(super) const BURN: u128 = 1_000;
/// Validators 11..=14 (owners 1..=4) with these pool stakes (staked by 101..=104).
const STAKES: [u128; 4] = [4_000, 3_000, 2_000, 1_000];
/// The miner under audit: hotkey 21, owner 5, uid 4.
pub(super) const MINER: AccountId = 21;
pub(super) const MINER_UID: Uid = 4;
pub(super) const MODEL: H256 = H256::repeat_byte(0xaa);
pub(super) const EVIDENCE: H256 = H256::repeat_byte(0xee);

pub(super) fn bond_held(a: AccountId) -> u128 {
	Balances::balance_on_hold(&RuntimeHoldReason::Tessera(HoldReason::MinerBond), &a)
}

/// The sr25519 public key of test account `a`.
pub(super) fn key(a: AccountId) -> [u8; 32] {
	<MockKeys as PublicKeyOf<AccountId>>::public_key(&a).unwrap()
}

/// Two answer digests of a step.
pub(super) fn digests() -> Vec<AnswerDigest> {
	vec![
		AnswerDigest { position: 3, context: [1; 32], distribution: [2; 32] },
		AnswerDigest { position: 7, context: [3; 32], distribution: [4; 32] },
	]
}

/// Evidence `signer` signed as miner `miner` for `reporter`, claiming `model`,
/// disputing digest 1.
pub(super) fn evidence_signed_by(signer: AccountId, reporter: AccountId, miner: AccountId, model: H256) -> FraudEvidence {
	let digests = digests();
	let payload = crate::evidence::step_payload(&key(reporter), &key(miner), &model, &digests);
	FraudEvidence {
		model_hash: model,
		digests: digests.try_into().unwrap(),
		index: 1,
		signature: MockKeys::sign(signer, &payload),
		evidence_hash: EVIDENCE,
	}
}

/// Valid evidence against the neuron at `uid` (its own signature, its committed model).
pub(super) fn evidence_against(reporter: AccountId, uid: Uid) -> FraudEvidence {
	let miner = Keys::<Test>::get(NET, uid).unwrap_or(0);
	let model = ModelCommitments::<Test>::get(NET, miner).map(|c| c.model_hash).unwrap_or(MODEL);
	evidence_signed_by(miner, reporter, miner, model)
}

pub(super) fn report(reporter: AccountId, uid: Uid) -> sp_runtime::DispatchResult {
	report_with(reporter, uid, evidence_against(reporter, uid))
}

pub(super) fn report_with(reporter: AccountId, uid: Uid, evidence: FraudEvidence) -> sp_runtime::DispatchResult {
	Tessera::report_fraud(origin(reporter), NET, uid, evidence).map(|_| ()).map_err(|e| e.error)
}

/// `hot` commits `MODEL`.
pub(super) fn commit(hot: AccountId) {
	assert_ok!(Tessera::commit_model(origin(hot), NET, MODEL, H256::zero()));
}

pub(super) fn events() -> Vec<Event<Test>> {
	System::events()
		.into_iter()
		.filter_map(|r| if let RuntimeEvent::Tessera(e) = r.event { Some(e) } else { None })
		.collect()
}

/// Give validator permits to exactly the uids listed and record every uid's current
/// stake as the epoch stake (what an epoch does).
pub(super) fn set_permits(uids: &[Uid]) {
	let n = SubnetN::<Test>::get(NET) as usize;
	ValidatorPermit::<Test>::insert(NET, (0..n).map(|u| uids.contains(&(u as Uid))).collect::<Vec<_>>());
	let stake = (0..n as Uid).map(|u| Keys::<Test>::get(NET, u).map(TotalHotkeyStake::<Test>::get).unwrap_or(0));
	EpochStake::<Test>::insert(NET, stake.collect::<Vec<_>>());
}

/// Audits on with `BOND`; a long tempo so no epoch runs (and pays emission) during a test.
pub(super) fn enable_audits() {
	set_param(Hyperparam::Tempo(1_000));
	set_param(Hyperparam::AuditsEnabled(true));
	set_param(Hyperparam::MinerBond(BOND));
}

/// `enable_audits`, validators 11..=14 at uids 0..=3 with `STAKES` and permits, the
/// miner at uid 4 with a committed model.
pub(super) fn setup() {
	enable_audits();
	for (i, stake) in STAKES.iter().enumerate() {
		let (hot, cold) = (11 + i as u64, 1 + i as u64);
		assert_eq!(register(cold, hot), i as Uid);
		assert_ok!(Tessera::add_stake(origin(101 + i as u64), hot, *stake));
	}
	assert_eq!(register(5, MINER), MINER_UID);
	assert_ok!(Tessera::commit_model(origin(MINER), NET, MODEL, H256::zero()));
	set_permits(&[0, 1, 2, 3]);
}

// ---------------------------------------------------------------------------------------
// Hyperparameters
// ---------------------------------------------------------------------------------------

#[test]
fn audit_hyperparams_set_and_validated() {
	new_test_ext().execute_with(|| {
		let d = SubnetHyperparams::default();
		assert!(!d.audits_enabled && !d.slash_to_reporters);
		assert_eq!((d.fraud_threshold, d.fraud_window), (32_768, 7_200));
		set_param(Hyperparam::AuditsEnabled(true));
		set_param(Hyperparam::MinerBond(7));
		set_param(Hyperparam::FraudThreshold(100));
		set_param(Hyperparam::FraudWindow(9));
		set_param(Hyperparam::SlashToReporters(true));
		assert_eq!(last_event(), Event::HyperparamSet { netuid: NET, param: Hyperparam::SlashToReporters(true) }.into());
		let p = Hyperparams::<Test>::get(NET).unwrap();
		assert_eq!(
			(p.audits_enabled, p.miner_bond, p.fraud_threshold, p.fraud_window, p.slash_to_reporters),
			(true, 7, 100, 9, true)
		);
		assert_noop!(
			Tessera::sudo_set_hyperparam(RuntimeOrigin::root(), NET, Hyperparam::FraudWindow(0)),
			Error::<Test>::InvalidHyperparameter
		);
	});
}

/// Store `params` for `NET` as an old version encoded them: without the last
/// `dropped` bytes of the current encoding, at storage version `version`.
fn store_old_hyperparams(params: &SubnetHyperparams, dropped: usize, version: u16) {
	use codec::Encode;
	let full = params.encode();
	sp_io::storage::set(&Hyperparams::<Test>::hashed_key_for(NET), &full[..full.len() - dropped]);
	frame_support::traits::StorageVersion::new(version).put::<Tessera>();
	assert_eq!(Hyperparams::<Test>::get(NET), None);
}

#[test]
fn migration_from_v1_keeps_hyperparams_and_adds_audit_and_model_size_defaults() {
	use codec::Encode;
	use frame_support::traits::{GetStorageVersion, Hooks};
	new_test_ext().execute_with(|| {
		let params = SubnetHyperparams { tempo: 77, burn: 5_555, allow_local_axons: true, ..test_params() };
		// Version 1 encoded the same fields without the audit fields and max_model_bytes.
		let newer = (
			params.audits_enabled,
			params.miner_bond,
			params.fraud_threshold,
			params.fraud_window,
			params.slash_to_reporters,
			params.max_model_bytes,
		)
			.encode();
		store_old_hyperparams(&params, newer.len(), 1);

		<Tessera as Hooks<u64>>::on_runtime_upgrade();
		assert_eq!(Hyperparams::<Test>::get(NET), Some(params.clone()));
		assert!(!params.audits_enabled);
		assert_eq!(params.max_model_bytes, 4 << 30);
		assert_eq!(Tessera::on_chain_storage_version(), 4);
		// A second upgrade leaves version-3 values alone.
		set_param(Hyperparam::AuditsEnabled(true));
		<Tessera as Hooks<u64>>::on_runtime_upgrade();
		assert!(Hyperparams::<Test>::get(NET).unwrap().audits_enabled);
	});
}

#[test]
fn migration_from_v2_adds_max_model_bytes_and_drops_uid_keyed_reports() {
	use codec::Encode;
	use frame_support::storage::StoragePrefixedMap;
	use frame_support::traits::{GetStorageVersion, Hooks};
	new_test_ext().execute_with(|| {
		let params = SubnetHyperparams { audits_enabled: true, miner_bond: 77, fraud_window: 99, ..test_params() };
		store_old_hyperparams(&params, 8, 2);
		// A version-2 report: keyed by (netuid, uid), without the disputed digest.
		let old_key = [
			FraudReports::<Test>::final_prefix().to_vec(),
			sp_io::hashing::twox_64(&NET.encode()).to_vec(),
			NET.encode(),
			sp_io::hashing::twox_64(&4u16.encode()).to_vec(),
			4u16.encode(),
		]
		.concat();
		sp_io::storage::set(&old_key, &vec![(11u64, 1u64, EVIDENCE)].encode());

		<Tessera as Hooks<u64>>::on_runtime_upgrade();
		assert_eq!(Hyperparams::<Test>::get(NET), Some(SubnetHyperparams { max_model_bytes: 4 << 30, ..params }));
		assert_eq!(sp_io::storage::get(&old_key), None);
		assert_eq!(Tessera::on_chain_storage_version(), 4);
	});
}

#[test]
fn max_model_bytes_is_a_hyperparameter() {
	new_test_ext().execute_with(|| {
		assert_eq!(SubnetHyperparams::default().max_model_bytes, 4 << 30);
		set_param(Hyperparam::MaxModelBytes(1 << 20));
		assert_eq!(last_event(), Event::HyperparamSet { netuid: NET, param: Hyperparam::MaxModelBytes(1 << 20) }.into());
		assert_eq!(Hyperparams::<Test>::get(NET).unwrap().max_model_bytes, 1 << 20);
		assert_eq!(Tessera::metagraph(NET).unwrap().hyperparams.max_model_bytes, 1 << 20);
		assert_noop!(
			Tessera::sudo_set_hyperparam(RuntimeOrigin::root(), NET, Hyperparam::MaxModelBytes(0)),
			Error::<Test>::InvalidHyperparameter
		);
	});
}

// ---------------------------------------------------------------------------------------
// Bonds
// ---------------------------------------------------------------------------------------

#[test]
fn audits_off_no_bond_and_reports_rejected() {
	new_test_ext().execute_with(|| {
		let before = issuance();
		register(1, 11);
		register(5, MINER);
		assert_eq!((bond_held(1), bond_held(5)), (0, 0));
		assert_eq!(MinerBonds::<Test>::get(NET, MINER), None);
		assert_eq!(free(5), INITIAL - BURN);
		assert_eq!(issuance(), before - 2 * BURN);
		set_permits(&[0]);
		assert_noop!(report(11, 1), Error::<Test>::AuditsDisabled);
	});
}

#[test]
fn register_holds_bond_recorded_at_its_amount() {
	new_test_ext().execute_with(|| {
		enable_audits();
		let before = issuance();
		assert_eq!(register(5, MINER), 0);
		let bonded = Event::MinerBonded { netuid: NET, uid: 0, hotkey: MINER, coldkey: 5, amount: BOND };
		assert!(events().contains(&bonded));
		assert_eq!(MinerBonds::<Test>::get(NET, MINER), Some(BOND));
		assert_eq!(bond_held(5), BOND);
		assert_eq!(free(5), INITIAL - BURN - BOND);
		// The burn leaves the supply, the bond does not.
		assert_eq!(issuance(), before - BURN);

		// A later change of the bond does not change what is owed back.
		set_param(Hyperparam::MinerBond(7_000));
		assert_ok!(Tessera::deregister(origin(5), NET, MINER));
		assert!(events().contains(&Event::BondReturned { netuid: NET, hotkey: MINER, coldkey: 5, amount: BOND }));
		assert_eq!((bond_held(5), free(5)), (0, INITIAL - BURN));
		assert_eq!(MinerBonds::<Test>::get(NET, MINER), None);
		assert_eq!(issuance(), before - BURN);
	});
}

#[test]
fn not_enough_balance_for_bond() {
	new_test_ext().execute_with(|| {
		enable_audits();
		// Enough for the burn and the existential deposit, one token short of the bond.
		assert_ok!(Balances::force_set_balance(RuntimeOrigin::root(), 60, ED + BURN + BOND - 1));
		assert_noop!(Tessera::burned_register(origin(60), NET, 61), Error::<Test>::NotEnoughBalanceForBond);
		assert_noop!(Tessera::burned_register(origin(50), NET, 51), Error::<Test>::NotEnoughBalanceToRegister);
		assert_ok!(Balances::force_set_balance(RuntimeOrigin::root(), 60, ED + BURN + BOND));
		assert_ok!(Tessera::burned_register(origin(60), NET, 61));
		assert_eq!((free(60), bond_held(60)), (ED, BOND));
	});
}

#[test]
fn bond_of_zero_holds_nothing() {
	new_test_ext().execute_with(|| {
		set_param(Hyperparam::AuditsEnabled(true));
		set_param(Hyperparam::MinerBond(0));
		register(5, MINER);
		assert_eq!((bond_held(5), MinerBonds::<Test>::get(NET, MINER)), (0, None));
		assert_ok!(Tessera::deregister(origin(5), NET, MINER));
		assert_eq!(free(5), INITIAL - BURN);
	});
}

#[test]
fn deregister_vacates_uid_and_next_registration_fills_it() {
	new_test_ext().execute_with(|| {
		enable_audits();
		register(1, 11);
		register(2, 12);
		register(3, 13);
		assert_ok!(Tessera::serve_axon(origin(12), NET, 1, 0x01020304, 8080, 4, 0));
		assert_ok!(Tessera::commit_model(origin(12), NET, MODEL, H256::zero()));
		Weights::<Test>::insert(NET, 1, vec![(0u16, 1u16)]);
		Incentive::<Test>::insert(NET, vec![1, 2, 3]);
		run_to_block(5);

		assert_noop!(Tessera::deregister(origin(1), NET, 12), Error::<Test>::NotHotkeyOwner);
		assert_noop!(Tessera::deregister(origin(2), NET, 99), Error::<Test>::HotkeyNotRegistered);
		assert_noop!(Tessera::deregister(origin(2), 9, 12), Error::<Test>::SubnetNotFound);
		assert_ok!(Tessera::deregister(origin(2), NET, 12));
		assert_eq!(
			last_event(),
			Event::MinerDeregistered { netuid: NET, uid: 1, hotkey: 12, reason: DeregisterReason::Voluntary }.into()
		);
		assert_eq!((Keys::<Test>::get(NET, 1), Uids::<Test>::get(NET, 12)), (None, None));
		assert_eq!((Axons::<Test>::get(NET, 12), ModelCommitments::<Test>::get(NET, 12)), (None, None));
		assert!(Weights::<Test>::get(NET, 1).is_empty());
		assert_eq!(Incentive::<Test>::get(NET), vec![1, 0, 3]);
		assert_eq!(Active::<Test>::get(NET)[1], false);
		assert_eq!(BlockAtRegistration::<Test>::get(NET, 1), 5);
		assert_eq!(VacantUids::<Test>::get(NET), vec![1]);
		assert_eq!(SubnetN::<Test>::get(NET), 3);
		assert!(HotkeyNetworks::<Test>::get(12).is_empty());
		assert_eq!(Owner::<Test>::get(12), Some(2));
		let m = Tessera::metagraph(NET).unwrap();
		assert_eq!(m.neurons.iter().map(|n| n.uid).collect::<Vec<_>>(), vec![0, 2]);
		assert_eq!(Tessera::neuron(NET, 1), None);
		assert_noop!(Tessera::deregister(origin(2), NET, 12), Error::<Test>::HotkeyNotRegistered);

		// The next registration takes the vacant uid, even with room at the end.
		assert_ok!(Tessera::burned_register(origin(4), NET, 14));
		assert_eq!(
			last_event(),
			Event::NeuronRegistered { netuid: NET, uid: 1, hotkey: 14, coldkey: 4, burn: BURN, replaced: None }.into()
		);
		assert_eq!(Keys::<Test>::get(NET, 1), Some(14));
		assert_eq!(Active::<Test>::get(NET)[1], true);
		assert!(VacantUids::<Test>::get(NET).is_empty());
		assert_eq!(register(4, 15), 3);
		// The old hotkey may come back (to a new uid).
		assert_eq!(register(2, 12), 4);
	});
}

#[test]
fn vacant_uid_gets_no_permit_at_the_epoch() {
	new_test_ext().execute_with(|| {
		// Fewer uids than validator permits: every staked uid gets one; a vacant uid has
		// no hotkey and so no stake.
		register(1, 11);
		register(2, 12);
		register(3, 13);
		for hot in [11, 12, 13] {
			assert_ok!(Tessera::add_stake(origin(101), hot, 1_000));
		}
		assert_ok!(Tessera::deregister(origin(2), NET, 12));
		run_epoch(NET);
		assert_eq!(ValidatorPermit::<Test>::get(NET), vec![true, false, true]);
		assert_eq!(Tessera::validator_permit_count(NET), 2);
	});
}

#[test]
fn pruning_returns_the_bond_of_the_replaced_neuron() {
	new_test_ext().execute_with(|| {
		enable_audits();
		set_param(Hyperparam::MaxAllowedUids(2));
		register(1, 11);
		register(5, MINER);
		let before = issuance();
		PruningScores::<Test>::insert(NET, vec![9, 1]);
		assert_ok!(Tessera::burned_register(origin(6), NET, 22));
		assert_eq!(Keys::<Test>::get(NET, 1), Some(22));
		assert!(events().contains(&Event::BondReturned { netuid: NET, hotkey: MINER, coldkey: 5, amount: BOND }));
		assert_eq!((bond_held(5), free(5)), (0, INITIAL - BURN));
		assert_eq!((bond_held(6), free(6)), (BOND, INITIAL - BURN - BOND));
		assert_eq!(MinerBonds::<Test>::get(NET, MINER), None);
		assert_eq!(MinerBonds::<Test>::get(NET, 22), Some(BOND));
		assert_eq!(issuance(), before - BURN);
	});
}

// ---------------------------------------------------------------------------------------
// Reports
// ---------------------------------------------------------------------------------------

#[test]
fn report_errors() {
	new_test_ext().execute_with(|| {
		setup();
		register(6, 22);
		assert_noop!(
			Tessera::report_fraud(origin(11), 9, MINER_UID, evidence_against(11, MINER_UID)).map_err(|e| e.error),
			Error::<Test>::SubnetNotFound
		);
		// Registered without a permit, or not registered at all.
		assert_noop!(report(22, MINER_UID), Error::<Test>::NoValidatorPermit);
		assert_noop!(report(MINER, 5), Error::<Test>::NoValidatorPermit);
		assert_noop!(report(99, MINER_UID), Error::<Test>::HotkeyNotRegistered);
		// No such uid; a vacant uid.
		assert_noop!(report(11, 7), Error::<Test>::InvalidUid);
		assert_ok!(Tessera::deregister(origin(6), NET, 22));
		assert_noop!(report(11, 5), Error::<Test>::InvalidUid);
		assert_noop!(report(11, 0), Error::<Test>::CannotReportSelf);
		// Once per window.
		assert_ok!(report(11, MINER_UID));
		assert_noop!(report(11, MINER_UID), Error::<Test>::AlreadyReported);
		run_to_block(10);
		assert_noop!(report(11, MINER_UID), Error::<Test>::AlreadyReported);
		set_param(Hyperparam::AuditsEnabled(false));
		assert_noop!(report(12, MINER_UID), Error::<Test>::AuditsDisabled);
	});
}

#[test]
fn reports_are_weighed_by_permits_and_free_when_accepted() {
	use frame_support::dispatch::{GetDispatchInfo, Pays};
	new_test_ext().execute_with(|| {
		setup();
		let evidence = evidence_against(11, MINER_UID);
		let call = crate::Call::<Test>::report_fraud { netuid: NET, uid: MINER_UID, evidence: evidence.clone() };
		let info = call.get_dispatch_info();
		assert_eq!(info.call_weight, <() as WeightInfo>::report_fraud(4, 2));
		assert_eq!(info.pays_fee, Pays::Yes);
		let ok = Tessera::report_fraud(origin(11), NET, MINER_UID, evidence.clone()).unwrap();
		assert_eq!(ok.pays_fee, Pays::No);
		let err = Tessera::report_fraud(origin(11), NET, MINER_UID, evidence).unwrap_err();
		assert_eq!(err.post_info.pays_fee, Pays::Yes);
	});
}

#[test]
fn threshold_exactly_reached_does_not_slash_crossing_does() {
	new_test_ext().execute_with(|| {
		setup();
		// 0.6 of the permit stake (10_000): 6_000 is not more than that, 7_000 is.
		set_param(Hyperparam::FraudThreshold(39_321));
		assert_ok!(report(11, MINER_UID));
		assert_eq!(
			last_event(),
			Event::FraudReported {
				netuid: NET,
				uid: MINER_UID,
				hotkey: MINER,
				reporter: 11,
				evidence_hash: EVIDENCE,
				reported_stake: 4_000,
				permitted_stake: 10_000,
			}
			.into()
		);
		assert_ok!(report(13, MINER_UID));
		assert_eq!(Keys::<Test>::get(NET, MINER_UID), Some(MINER));
		assert_eq!(FraudReports::<Test>::get(NET, MINER).len(), 2);
		assert_eq!(bond_held(5), BOND);

		assert_ok!(report(14, MINER_UID));
		assert!(events().contains(&Event::FraudReported {
			netuid: NET,
			uid: MINER_UID,
			hotkey: MINER,
			reporter: 14,
			evidence_hash: EVIDENCE,
			reported_stake: 7_000,
			permitted_stake: 10_000,
		}));
		assert_eq!(Keys::<Test>::get(NET, MINER_UID), None);
		assert_eq!(bond_held(5), 0);
	});
}

#[test]
fn default_threshold_needs_more_than_half() {
	new_test_ext().execute_with(|| {
		setup();
		// 4_000 + 1_000 is exactly half of 10_000.
		assert_ok!(report(11, MINER_UID));
		assert_ok!(report(14, MINER_UID));
		assert_eq!(Keys::<Test>::get(NET, MINER_UID), Some(MINER));
		assert_ok!(report(13, MINER_UID));
		assert_eq!(Keys::<Test>::get(NET, MINER_UID), None);
	});
}

#[test]
fn reports_expire_after_the_window() {
	new_test_ext().execute_with(|| {
		setup();
		set_param(Hyperparam::FraudWindow(20));
		assert_ok!(report(11, MINER_UID)); // block 1: counts until block 21
		run_to_block(20);
		assert_ok!(report(14, MINER_UID)); // 5_000: exactly half, no slash
		run_to_block(21);
		// 11's report expired: 14 + 13 = 3_000 (11 would have made it 7_000).
		assert_ok!(report(13, MINER_UID));
		assert_eq!(Keys::<Test>::get(NET, MINER_UID), Some(MINER));
		let reporters: Vec<_> = FraudReports::<Test>::get(NET, MINER).iter().map(|r| r.reporter).collect();
		assert_eq!(reporters, vec![14, 13]);
		// An expired report no longer stops its validator from reporting again.
		assert_ok!(report(11, MINER_UID));
		assert_eq!(Keys::<Test>::get(NET, MINER_UID), None);
	});
}

#[test]
fn reports_of_validators_that_lost_their_permit_do_not_count() {
	new_test_ext().execute_with(|| {
		setup();
		assert_ok!(report(11, MINER_UID));
		set_permits(&[1, 2, 3]);
		// Without 11 the permit stake is 6_000; 12 alone (3_000) is exactly half.
		assert_ok!(report(12, MINER_UID));
		assert!(events().contains(&Event::FraudReported {
			netuid: NET,
			uid: MINER_UID,
			hotkey: MINER,
			reporter: 12,
			evidence_hash: EVIDENCE,
			reported_stake: 3_000,
			permitted_stake: 6_000,
		}));
		assert_eq!(Keys::<Test>::get(NET, MINER_UID), Some(MINER));
		assert_noop!(report(11, MINER_UID), Error::<Test>::NoValidatorPermit);
	});
}

#[test]
fn permits_from_the_epoch_gate_reports() {
	new_test_ext().execute_with(|| {
		set_param(Hyperparam::AuditsEnabled(true));
		set_param(Hyperparam::MinerBond(BOND));
		set_param(Hyperparam::MaxAllowedValidators(1));
		register(1, 11);
		register(2, 12);
		register(5, MINER);
		commit(MINER);
		assert_ok!(Tessera::add_stake(origin(101), 11, 1_000_000));
		assert_ok!(Tessera::add_stake(origin(102), 12, 1_000));
		run_epoch(NET);
		assert_eq!(ValidatorPermit::<Test>::get(NET), vec![true, false, false]);
		assert_noop!(report(12, 2), Error::<Test>::NoValidatorPermit);
		// The only permit holds all the permit stake.
		assert_ok!(report(11, 2));
		assert_eq!(Keys::<Test>::get(NET, 2), None);
		assert_eq!(bond_held(5), 0);
	});
}

// ---------------------------------------------------------------------------------------
// Slashing
// ---------------------------------------------------------------------------------------

#[test]
fn slash_burns_bond_bars_model_and_vacates_uid() {
	new_test_ext().execute_with(|| {
		setup();
		let before = issuance();
		let free_before = free(5);
		assert_ok!(report(11, MINER_UID));
		assert_ok!(report(12, MINER_UID));
		let ev = events();
		let slashed = Event::MinerSlashed {
			netuid: NET,
			uid: MINER_UID,
			hotkey: MINER,
			coldkey: 5,
			amount: BOND,
			destination: SlashDestination::Burned,
			burned: BOND,
		};
		assert!(ev.contains(&slashed));
		assert!(ev.contains(&Event::ModelBarred { netuid: NET, coldkey: 5, model_hash: MODEL }));
		assert_eq!(
			ev.last(),
			Some(&Event::MinerDeregistered { netuid: NET, uid: MINER_UID, hotkey: MINER, reason: DeregisterReason::Fraud })
		);
		assert!(!ev.iter().any(|e| matches!(e, Event::BondReturned { .. })));
		assert_eq!(issuance(), before - BOND);
		assert_eq!((bond_held(5), free(5)), (0, free_before));
		assert_eq!(MinerBonds::<Test>::get(NET, MINER), None);
		assert_eq!(BarredModels::<Test>::get(NET, (5, MODEL)), Some(1));
		assert_eq!((Keys::<Test>::get(NET, MINER_UID), Uids::<Test>::get(NET, MINER)), (None, None));
		assert_eq!(ModelCommitments::<Test>::get(NET, MINER), None);
		assert!(FraudReports::<Test>::get(NET, MINER).is_empty());
		assert_eq!(VacantUids::<Test>::get(NET), vec![MINER_UID]);
		// The validators' own bonds are untouched.
		assert_eq!((bond_held(1), bond_held(2)), (BOND, BOND));
	});
}

#[test]
fn slash_to_reporters_pays_pro_rata_exactly() {
	new_test_ext().execute_with(|| {
		setup();
		set_param(Hyperparam::SlashToReporters(true));
		let before = issuance();
		let (free1, free2) = (free(1), free(2));
		assert_ok!(report(11, MINER_UID));
		assert_ok!(report(12, MINER_UID));
		// 5_000 over stakes 4_000 : 3_000 = 2857.14 : 2142.86 -> 2857 + 2142, the
		// remaining 1 to the largest stake.
		assert_eq!(free(1), free1 + 2_858);
		assert_eq!(free(2), free2 + 2_142);
		assert_eq!(issuance(), before);
		assert_eq!(bond_held(5), 0);
		let ev = events();
		assert!(ev.contains(&Event::SlashRewardPaid { netuid: NET, reporter: 11, coldkey: 1, amount: 2_858 }));
		assert!(ev.contains(&Event::SlashRewardPaid { netuid: NET, reporter: 12, coldkey: 2, amount: 2_142 }));
		assert!(ev.contains(&Event::MinerSlashed {
			netuid: NET,
			uid: MINER_UID,
			hotkey: MINER,
			coldkey: 5,
			amount: BOND,
			destination: SlashDestination::Reporters,
			burned: 0,
		}));
	});
}

#[test]
fn unpayable_reporter_share_is_burned() {
	new_test_ext().execute_with(|| {
		setup();
		set_param(Hyperparam::SlashToReporters(true));
		// Validator 16 at uid 5, registered without a bond by coldkey 60, whose account
		// is then emptied and reaped.
		set_param(Hyperparam::MinerBond(0));
		assert_ok!(Balances::force_set_balance(RuntimeOrigin::root(), 60, ED + BURN));
		assert_eq!(register(60, 16), 5);
		assert_ok!(Tessera::add_stake(origin(106), 16, 3_000));
		assert_ok!(Balances::force_set_balance(RuntimeOrigin::root(), 60, 0));
		assert!(!System::account_exists(&60));
		// Miner 22 (owner 6) at uid 6 with a bond so small that 16's share is below the
		// existential deposit.
		set_param(Hyperparam::MinerBond(12));
		assert_eq!(register(6, 22), 6);
		commit(22);
		set_permits(&[0, 2, 3, 5]); // 4_000 + 2_000 + 1_000 + 3_000
		let before = issuance();
		let free1 = free(1);
		assert_ok!(report(11, 6));
		assert_ok!(report(16, 6)); // 7_000 of 10_000
		// 12 over 4_000 : 3_000 -> 6 + 5, the remainder 1 to the largest: 7 and 5.
		assert_eq!(free(1), free1 + 7);
		assert!(!System::account_exists(&60));
		assert_eq!(issuance(), before - 5);
		assert_eq!(bond_held(6), 0);
		assert!(events().contains(&Event::MinerSlashed {
			netuid: NET,
			uid: 6,
			hotkey: 22,
			coldkey: 6,
			amount: 12,
			destination: SlashDestination::Reporters,
			burned: 5,
		}));
	});
}

#[test]
fn barred_model_cannot_be_committed_again_by_its_owner_on_that_subnet() {
	new_test_ext().execute_with(|| {
		setup();
		assert_ok!(report(11, MINER_UID));
		assert_ok!(report(12, MINER_UID));
		// The same owner with a new hotkey is barred; another owner serving the same
		// (say, popular) model is not.
		register(5, 23);
		register(7, 24);
		assert_noop!(Tessera::commit_model(origin(23), NET, MODEL, H256::zero()), Error::<Test>::ModelBarred);
		assert_ok!(Tessera::commit_model(origin(24), NET, MODEL, H256::zero()));
		// The slashed hotkey itself, registered again.
		register(5, MINER);
		assert_noop!(Tessera::commit_model(origin(MINER), NET, MODEL, H256::zero()), Error::<Test>::ModelBarred);
		assert_ok!(Tessera::commit_model(origin(24), NET, H256::repeat_byte(0xbb), H256::zero()));
		// The bar is per subnet.
		assert_ok!(Tessera::sudo_register_network(RuntimeOrigin::root(), 2, Some(test_params())));
		assert_ok!(Tessera::burned_register(origin(8), 2, 25));
		assert_ok!(Tessera::commit_model(origin(25), 2, MODEL, H256::zero()));
	});
}

#[test]
fn new_neuron_on_a_slashed_uid_starts_without_reports() {
	new_test_ext().execute_with(|| {
		setup();
		set_param(Hyperparam::FraudThreshold(39_321)); // 0.6
		assert_ok!(report(11, MINER_UID));
		assert_ok!(report(12, MINER_UID)); // 7_000 > 6_000: slashed
		assert_eq!(Keys::<Test>::get(NET, MINER_UID), None);
		assert_eq!(register(6, 22), MINER_UID);
		commit(22);
		assert!(FraudReports::<Test>::get(NET, 22).is_empty());
		assert!(!Tessera::has_pending_reports(NET, &22, &Hyperparams::<Test>::get(NET).unwrap(), 1));
		// The same validators may report the newcomer at once, and only their new
		// reports count.
		assert_ok!(report(11, MINER_UID));
		assert!(events().contains(&Event::FraudReported {
			netuid: NET,
			uid: MINER_UID,
			hotkey: 22,
			reporter: 11,
			evidence_hash: EVIDENCE,
			reported_stake: 4_000,
			permitted_stake: 10_000,
		}));
		assert_eq!(Keys::<Test>::get(NET, MINER_UID), Some(22));
	});
}

#[test]
fn reports_do_not_carry_over_to_a_neuron_replacing_by_pruning() {
	new_test_ext().execute_with(|| {
		setup();
		set_param(Hyperparam::MaxAllowedUids(5));
		assert_ok!(report(11, MINER_UID));
		PruningScores::<Test>::insert(NET, vec![9, 9, 9, 9, 1]);
		assert_ok!(Tessera::burned_register(origin(6), NET, 22));
		commit(22);
		assert_eq!(Keys::<Test>::get(NET, MINER_UID), Some(22));
		assert!(FraudReports::<Test>::get(NET, 22).is_empty());
		// 12's report alone is not more than half: the old report of 11 was against 21.
		assert_ok!(report(12, MINER_UID));
		assert_eq!(Keys::<Test>::get(NET, MINER_UID), Some(22));
		// The pruned, reported miner's bond is in escrow, not back with its owner.
		assert_eq!(bond_held(5), BOND);
		assert_eq!(free(5), INITIAL - BURN - BOND);
	});
}

#[test]
fn deregister_while_reported_escrows_the_bond() {
	new_test_ext().execute_with(|| {
		setup();
		set_param(Hyperparam::FraudWindow(20));
		assert_ok!(report(11, MINER_UID));
		assert_ok!(Tessera::deregister(origin(5), NET, MINER));
		assert!(events().contains(&Event::BondEscrowed { netuid: NET, uid: MINER_UID, hotkey: MINER, coldkey: 5, amount: BOND }));
		assert_eq!((bond_held(5), Keys::<Test>::get(NET, MINER_UID)), (BOND, None));
		run_to_block(20);
		assert_noop!(Tessera::release_escrow(origin(9), NET, MINER), Error::<Test>::FraudReportsPending);
		// Block 21 without its `on_initialize` (whose sweep would return the escrow).
		System::set_block_number(21);
		assert_ok!(Tessera::release_escrow(origin(9), NET, MINER));
		assert!(events().contains(&Event::BondReturned { netuid: NET, hotkey: MINER, coldkey: 5, amount: BOND }));
		assert_eq!((bond_held(5), free(5)), (0, INITIAL - BURN));
		assert_eq!(EscrowedBonds::<Test>::get(NET, MINER), None);
	});
}

#[test]
fn deregister_allowed_once_audits_are_off() {
	new_test_ext().execute_with(|| {
		setup();
		assert_ok!(report(11, MINER_UID));
		set_param(Hyperparam::AuditsEnabled(false));
		// Bonds placed while audits were on are still returned in full.
		assert_ok!(Tessera::deregister(origin(5), NET, MINER));
		assert_eq!((bond_held(5), free(5)), (0, INITIAL - BURN));
	});
}

#[test]
fn holds_and_issuance_add_up_over_a_lifecycle() {
	new_test_ext().execute_with(|| {
		setup();
		set_param(Hyperparam::SlashToReporters(true));
		let total = || -> u128 {
			(1..=9u64)
				.chain(100..=109)
				.chain([Tessera::pot_account()])
				.map(|a| <Balances as Inspect<AccountId>>::total_balance(&a))
				.sum()
		};
		let start = (issuance(), total());
		assert_eq!(start.0, start.1);
		// Register (burn), deregister (bond back), register again, slash to reporters.
		register(6, 22);
		assert_ok!(Tessera::deregister(origin(6), NET, 22));
		register(6, 22);
		commit(22);
		assert_ok!(report(11, 5));
		assert_ok!(report(12, 5));
		assert_eq!(issuance(), start.0 - 2 * BURN);
		assert_eq!(total(), issuance());
		let bonds: u128 = (1..=6u64).map(bond_held).sum();
		// Validators 1..=4 and miner 5 keep their bonds; 6 lost its.
		assert_eq!(bonds, 5 * BOND);
		let recorded: u128 = MinerBonds::<Test>::iter_prefix_values(NET).sum();
		assert_eq!(recorded, bonds);
	});
}

// ---------------------------------------------------------------------------------------
// Pure helpers
// ---------------------------------------------------------------------------------------

#[test]
fn pro_rata_shares_add_up_exactly() {
	assert_eq!(fraud::pro_rata(1_000, &[4, 3]), vec![572, 428]);
	assert_eq!(fraud::pro_rata(10, &[1, 1, 1]), vec![4, 3, 3]);
	assert_eq!(fraud::pro_rata(10, &[1, 2, 2]), vec![2, 4, 4]);
	assert_eq!(fraud::pro_rata(11, &[1, 2, 2]), vec![2, 5, 4]);
	assert_eq!(fraud::pro_rata(7, &[0, 0]), vec![0, 0]);
	assert_eq!(fraud::pro_rata(7, &[]), Vec::<u128>::new());
	let big = fraud::pro_rata(u128::MAX, &[u128::MAX / 3, u128::MAX / 3, 5]);
	assert_eq!(big.iter().fold(0u128, |a, s| a.checked_add(*s).unwrap()), u128::MAX);
	for amount in [0u128, 1, 999, 1_000_003] {
		let stakes = [17u128, 5, 0, 230, 9];
		assert_eq!(fraud::pro_rata(amount, &stakes).iter().sum::<u128>(), amount);
	}
}

#[test]
fn threshold_comparison_is_strict_and_overflow_free() {
	assert!(!fraud::exceeds_threshold(5, 10, 32_768));
	assert!(fraud::exceeds_threshold(6, 10, 32_768));
	assert!(!fraud::exceeds_threshold(0, 0, 0));
	assert!(fraud::exceeds_threshold(1, 10, 0));
	assert!(!fraud::exceeds_threshold(10, 10, u16::MAX));
	assert!(fraud::exceeds_threshold(u128::MAX, u128::MAX, u16::MAX - 1));
}
