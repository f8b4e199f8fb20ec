//! Issue 19, the chain half: each attack replayed against the pallet (attacks 5, 6 and 9;
//! attack 11 lives with the epoch tests in `yuma/tests/permits.rs`), plus the escrow and
//! evidence rules that close them.

use super::{
	fraud::{
		bond_held, commit, events, evidence_against, evidence_signed_by, report, report_with, set_permits, setup,
		BOND, BURN, EVIDENCE, MINER, MINER_UID, MODEL,
	},
	issuance, origin, register, set_param, NET,
};
use crate::{escrow::SWEEP_PER_BLOCK, mock::*, Error, Event, *};
use frame_support::{assert_noop, assert_ok};
use sp_core::H256;

/// `reporter` reports the escrowed `hotkey` with valid evidence (its escrowed model).
fn report_escrowed(reporter: AccountId, hotkey: AccountId) -> sp_runtime::DispatchResult {
	let model = EscrowedBonds::<Test>::get(NET, hotkey).and_then(|e| e.model_hash).unwrap_or(MODEL);
	let evidence = evidence_signed_by(hotkey, reporter, hotkey, model);
	Tessera::report_escrowed(origin(reporter), NET, hotkey, evidence).map(|_| ()).map_err(|e| e.error)
}

/// Subnet full at 5 uids with the miner (reported by 11) scored lowest: the next
/// registration prunes it.
fn prune_reported_miner() {
	setup();
	set_param(Hyperparam::MaxAllowedUids(5));
	assert_ok!(report(11, MINER_UID)); // 4_000 of 10_000: counts, does not slash
	PruningScores::<Test>::insert(NET, vec![9, 9, 9, 9, 0]);
	assert_ok!(Tessera::burned_register(origin(6), NET, 22));
	assert_eq!(Keys::<Test>::get(NET, MINER_UID), Some(22));
}

// ---------------------------------------------------------------------------------------
// Attack 5: pruning released a reported miner's bond
// ---------------------------------------------------------------------------------------

#[test]
fn attack_5_prune_releases_reported_bond() {
	new_test_ext().execute_with(|| {
		prune_reported_miner();
		// The bond stays held, in escrow, with the model the miner had committed.
		assert_eq!(bond_held(5), BOND, "the pruned miner took its bond back");
		let escrow = EscrowedBond { coldkey: 5, amount: BOND, model_hash: Some(MODEL), uid: MINER_UID, since: 1 };
		assert_eq!(EscrowedBonds::<Test>::get(NET, MINER), Some(escrow));
		assert_eq!(EscrowCount::<Test>::get(), 1);
		let ev = events();
		assert!(ev.contains(&Event::BondEscrowed { netuid: NET, uid: MINER_UID, hotkey: MINER, coldkey: 5, amount: BOND }));
		assert!(!ev.iter().any(|e| matches!(e, Event::BondReturned { hotkey: MINER, .. })));
		// The report still counts against the escrow, and the hotkey cannot come back.
		assert_eq!(FraudReports::<Test>::get(NET, MINER).len(), 1);
		assert_noop!(Tessera::burned_register(origin(5), NET, MINER), Error::<Test>::HotkeyBondInEscrow);
		assert_noop!(Tessera::release_escrow(origin(9), NET, MINER), Error::<Test>::FraudReportsPending);

		// One more report crosses the threshold (4_000 + 3_000 of 10_000): slashed.
		let before = issuance();
		assert_ok!(report_escrowed(12, MINER));
		let slashed = Event::MinerSlashed {
			netuid: NET,
			uid: MINER_UID,
			hotkey: MINER,
			coldkey: 5,
			amount: BOND,
			destination: SlashDestination::Burned,
			burned: BOND,
		};
		assert!(events().contains(&slashed));
		assert!(events().contains(&Event::ModelBarred { netuid: NET, coldkey: 5, model_hash: MODEL }));
		assert_eq!((bond_held(5), issuance()), (0, before - BOND));
		assert_eq!((EscrowedBonds::<Test>::get(NET, MINER), EscrowCount::<Test>::get()), (None, 0));
		assert!(FraudReports::<Test>::get(NET, MINER).is_empty());
		// The newcomer at the uid is untouched.
		assert_eq!((Keys::<Test>::get(NET, MINER_UID), bond_held(6)), (Some(22), BOND));
	});
}

#[test]
fn pruning_an_unreported_miner_still_returns_its_bond() {
	new_test_ext().execute_with(|| {
		setup();
		set_param(Hyperparam::MaxAllowedUids(5));
		set_param(Hyperparam::FraudWindow(10));
		assert_ok!(report(11, MINER_UID));
		run_to_block(11); // the report expired
		PruningScores::<Test>::insert(NET, vec![9, 9, 9, 9, 0]);
		assert_ok!(Tessera::burned_register(origin(6), NET, 22));
		assert!(events().contains(&Event::BondReturned { netuid: NET, hotkey: MINER, coldkey: 5, amount: BOND }));
		assert_eq!((bond_held(5), EscrowedBonds::<Test>::get(NET, MINER)), (0, None));
		assert!(FraudReports::<Test>::get(NET, MINER).is_empty());
	});
}

#[test]
fn escrow_is_returned_by_the_sweep_once_reports_expire() {
	new_test_ext().execute_with(|| {
		setup();
		set_param(Hyperparam::FraudWindow(20));
		assert_ok!(report(11, MINER_UID)); // block 1: counts until block 21
		assert_ok!(Tessera::deregister(origin(5), NET, MINER));
		run_to_block(20);
		assert_eq!(bond_held(5), BOND);
		run_to_block(21);
		assert!(events().contains(&Event::BondReturned { netuid: NET, hotkey: MINER, coldkey: 5, amount: BOND }));
		assert_eq!((bond_held(5), free_of(5)), (0, INITIAL - BURN));
		assert_eq!((EscrowedBonds::<Test>::get(NET, MINER), EscrowCount::<Test>::get()), (None, 0));
		assert!(FraudReports::<Test>::get(NET, MINER).is_empty());
		// The hotkey may register again, with no report carried over.
		assert_ok!(Tessera::burned_register(origin(5), NET, MINER));
	});
}

fn free_of(a: AccountId) -> u128 {
	Balances::free_balance(a)
}

#[test]
fn a_report_against_an_escrow_keeps_it_held_longer() {
	new_test_ext().execute_with(|| {
		setup();
		set_param(Hyperparam::FraudWindow(20));
		set_param(Hyperparam::FraudThreshold(u16::MAX - 1)); // nothing slashes
		assert_ok!(report(11, MINER_UID));
		assert_ok!(Tessera::deregister(origin(5), NET, MINER));
		run_to_block(15);
		assert_ok!(report_escrowed(12, MINER)); // counts until block 35
		run_to_block(34);
		assert_eq!(bond_held(5), BOND);
		run_to_block(35);
		assert_eq!(bond_held(5), 0);
	});
}

#[test]
fn sweep_returns_a_bounded_number_of_escrows_per_block() {
	new_test_ext().execute_with(|| {
		setup();
		set_param(Hyperparam::MaxAllowedUids(16));
		set_param(Hyperparam::FraudWindow(5));
		set_param(Hyperparam::FraudThreshold(u16::MAX - 1));
		let miners: Vec<(AccountId, AccountId)> = (0..6).map(|i| (30 + i, [6, 7, 8, 9, 100, 107][i as usize])).collect();
		for (hot, cold) in &miners {
			let uid = register(*cold, *hot);
			commit(*hot);
			set_permits(&[0, 1, 2, 3]);
			assert_ok!(report(11, uid));
			assert_ok!(Tessera::deregister(origin(*cold), NET, *hot));
		}
		assert_eq!(EscrowCount::<Test>::get(), 6);
		run_to_block(6); // every report expired; this block's sweep returns 4
		assert_eq!(EscrowCount::<Test>::get(), 6 - SWEEP_PER_BLOCK);
		run_to_block(7);
		assert_eq!(EscrowCount::<Test>::get(), 0);
		for (_, cold) in &miners {
			assert_eq!(bond_held(*cold), 0);
		}
	});
}

#[test]
fn escrow_calls_refuse_what_they_cannot_do() {
	new_test_ext().execute_with(|| {
		setup();
		assert_noop!(Tessera::release_escrow(origin(9), NET, MINER), Error::<Test>::NoEscrow);
		assert_noop!(Tessera::release_escrow(origin(9), 9, MINER), Error::<Test>::SubnetNotFound);
		assert_noop!(report_escrowed(11, MINER), Error::<Test>::NoEscrow);
		assert_ok!(report(11, MINER_UID));
		assert_ok!(Tessera::deregister(origin(5), NET, MINER));
		// Evidence about another model than the escrowed one.
		let other = evidence_signed_by(MINER, 12, MINER, H256::repeat_byte(0xbb));
		assert_noop!(
			Tessera::report_escrowed(origin(12), NET, MINER, other).map_err(|e| e.error),
			Error::<Test>::EvidenceModelMismatch
		);
		assert_noop!(report_escrowed(11, MINER), Error::<Test>::AlreadyReported);
		// Audits off: the escrow may go back at once.
		set_param(Hyperparam::AuditsEnabled(false));
		assert_ok!(Tessera::release_escrow(origin(9), NET, MINER));
		assert_eq!(bond_held(5), 0);
	});
}

// ---------------------------------------------------------------------------------------
// Attack 6: the fraud vote could be bought for one block
// ---------------------------------------------------------------------------------------

#[test]
fn attack_6_fraud_vote_bought_in_one_block() {
	new_test_ext().execute_with(|| {
		setup(); // epoch stakes 4_000, 3_000, 2_000, 1_000
		// 14 holds 1_000 of 10_000; in the block of its report it stakes 1_000_000 more.
		assert_ok!(Tessera::add_stake(origin(104), 14, 1_000_000));
		assert_ok!(report(14, MINER_UID));
		assert_eq!(Keys::<Test>::get(NET, MINER_UID), Some(MINER), "stake bought for the vote slashed the miner");
		assert!(events().contains(&Event::FraudReported {
			netuid: NET,
			uid: MINER_UID,
			hotkey: MINER,
			reporter: 14,
			evidence_hash: EVIDENCE,
			reported_stake: 1_000,
			permitted_stake: 10_000,
		}));
		assert_eq!(bond_held(5), BOND);
	});
}

#[test]
fn a_same_block_deposit_cannot_dilute_the_vote_either() {
	new_test_ext().execute_with(|| {
		setup();
		assert_ok!(report(11, MINER_UID));
		// The miner's friend stakes on validator 13 to raise the permit stake: 11 + 12
		// (7_000 of the epoch's 10_000) still slash.
		assert_ok!(Tessera::add_stake(origin(103), 13, 1_000_000));
		assert_ok!(report(12, MINER_UID));
		assert_eq!(Keys::<Test>::get(NET, MINER_UID), None);
	});
}

#[test]
fn stake_counts_for_reports_once_an_epoch_has_seen_it() {
	new_test_ext().execute_with(|| {
		setup();
		assert_ok!(Tessera::add_stake(origin(104), 14, 1_000_000));
		assert_ok!(report(14, MINER_UID)); // counted at 1_000
		assert_eq!(Keys::<Test>::get(NET, MINER_UID), Some(MINER));
		run_epoch(NET);
		assert_eq!(EpochStake::<Test>::get(NET), vec![4_000, 3_000, 2_000, 1_001_000, 0]);
		// 14's report now counts at its epoch stake: with 13's, far over half.
		assert_ok!(report(13, MINER_UID));
		assert_eq!(Keys::<Test>::get(NET, MINER_UID), None);
	});
}

#[test]
fn epoch_stake_of_a_replaced_uid_is_reset() {
	new_test_ext().execute_with(|| {
		setup();
		assert_eq!(EpochStake::<Test>::get(NET), vec![4_000, 3_000, 2_000, 1_000, 0]);
		assert_ok!(Tessera::deregister(origin(2), NET, 12));
		assert_eq!(EpochStake::<Test>::get(NET), vec![4_000, 0, 2_000, 1_000, 0]);
	});
}

// ---------------------------------------------------------------------------------------
// Attack 6: evidence the runtime checks
// ---------------------------------------------------------------------------------------

#[test]
fn fraud_evidence_must_be_the_miners_signature_over_the_disputed_step() {
	new_test_ext().execute_with(|| {
		setup();
		let valid = evidence_against(11, MINER_UID);
		let out_of_range = FraudEvidence { index: 2, ..valid.clone() };
		assert_noop!(report_with(11, MINER_UID, out_of_range), Error::<Test>::EvidenceIndexOutOfRange);
		let empty = FraudEvidence { digests: Default::default(), index: 0, ..valid.clone() };
		assert_noop!(report_with(11, MINER_UID, empty), Error::<Test>::EvidenceIndexOutOfRange);
		// Signed by the miner, but for another model than its commitment.
		let other_model = evidence_signed_by(MINER, 11, MINER, H256::repeat_byte(0xbb));
		assert_noop!(report_with(11, MINER_UID, other_model), Error::<Test>::EvidenceModelMismatch);
		// Forged (signed by another key), or the miner's signature of a step for another
		// validator, or a tampered digest.
		let forged = evidence_signed_by(11, 11, MINER, MODEL);
		assert_noop!(report_with(11, MINER_UID, forged), Error::<Test>::EvidenceSignatureInvalid);
		let for_12 = evidence_signed_by(MINER, 12, MINER, MODEL);
		assert_noop!(report_with(11, MINER_UID, for_12), Error::<Test>::EvidenceSignatureInvalid);
		let mut tampered = valid.clone();
		tampered.digests[0].distribution = [9; 32];
		assert_noop!(report_with(11, MINER_UID, tampered), Error::<Test>::EvidenceSignatureInvalid);
		// The valid evidence goes through and its disputed digest is kept.
		assert_ok!(report_with(11, MINER_UID, valid.clone()));
		let stored = FraudReports::<Test>::get(NET, MINER);
		assert_eq!(stored.len(), 1);
		assert_eq!((stored[0].disputed, stored[0].evidence_hash), (valid.digests[1], EVIDENCE));
	});
}

#[test]
fn a_miner_without_a_model_commitment_cannot_be_reported() {
	new_test_ext().execute_with(|| {
		setup();
		assert_eq!(register(6, 22), 5);
		assert_noop!(report(11, 5), Error::<Test>::EvidenceModelMismatch);
	});
}

#[test]
fn evidence_weight_grows_with_its_digests() {
	use frame_support::dispatch::GetDispatchInfo;
	new_test_ext().execute_with(|| {
		setup();
		let small = evidence_against(11, MINER_UID);
		let mut large = small.clone();
		while large.digests.try_push(small.digests[0]).is_ok() {}
		assert_eq!(large.digests.len(), MAX_EVIDENCE_DIGESTS as usize);
		let weight = |evidence: FraudEvidence| {
			crate::Call::<Test>::report_fraud { netuid: NET, uid: MINER_UID, evidence }.get_dispatch_info().call_weight
		};
		assert!(weight(large).ref_time() > weight(small).ref_time());
	});
}

// ---------------------------------------------------------------------------------------
// Attack 9: axons could point at private networks
// ---------------------------------------------------------------------------------------

/// `(ip, ip_type)` of addresses that are not global, one per kind.
pub(super) fn non_global_axons() -> Vec<(u128, u8)> {
	let v4 = |a: u8, b: u8, c: u8, d: u8| u32::from_be_bytes([a, b, c, d]) as u128;
	let v6 = |s: &str| u128::from(s.parse::<std::net::Ipv6Addr>().unwrap());
	vec![
		(v4(127, 0, 0, 1), 4),
		(v4(10, 1, 2, 3), 4),
		(v4(172, 16, 0, 1), 4),
		(v4(172, 31, 255, 254), 4),
		(v4(192, 168, 1, 1), 4),
		(v4(100, 64, 0, 1), 4),
		(v4(169, 254, 169, 254), 4),
		(v4(0, 1, 2, 3), 4),
		(v4(224, 0, 0, 1), 4),
		(v4(239, 255, 255, 250), 4),
		(v4(240, 0, 0, 1), 4),
		(v4(192, 0, 2, 1), 4),
		(v4(198, 51, 100, 1), 4),
		(v4(203, 0, 113, 1), 4),
		(v4(198, 18, 0, 1), 4),
		(v4(198, 19, 255, 1), 4),
		(v4(192, 0, 0, 8), 4),
		(v6("::1"), 6),
		(v6("::ffff:127.0.0.1"), 6),
		(v6("::ffff:10.0.0.1"), 6),
		(v6("::ffff:192.168.0.1"), 6),
		(v6("::127.0.0.1"), 6),
		(v6("::8.8.8.8"), 6),
		(v6("64:ff9b::10.0.0.1"), 6),
		(v6("64:ff9b::127.0.0.1"), 6),
		(v6("64:ff9b:1::1"), 6),
		(v6("2002:7f00:1::1"), 6),
		(v6("2002:c0a8:101::1"), 6),
		(v6("fe80::1"), 6),
		(v6("febf::1"), 6),
		(v6("fc00::1"), 6),
		(v6("fd12:3456::1"), 6),
		(v6("fec0::1"), 6),
		(v6("ff02::1"), 6),
		(v6("ff0e::1"), 6),
		(v6("2001:db8::1"), 6),
		(v6("2001::1"), 6),
		(v6("3fff::1"), 6),
		(v6("100::1"), 6),
	]
}

/// `(ip, ip_type)` of global addresses.
pub(super) fn global_axons() -> Vec<(u128, u8)> {
	let v4 = |a: u8, b: u8, c: u8, d: u8| u32::from_be_bytes([a, b, c, d]) as u128;
	let v6 = |s: &str| u128::from(s.parse::<std::net::Ipv6Addr>().unwrap());
	vec![
		(v4(8, 8, 8, 8), 4),
		(v4(1, 2, 3, 4), 4),
		(v4(172, 32, 0, 1), 4),
		(v4(100, 128, 0, 1), 4),
		(v4(223, 255, 255, 254), 4),
		(v6("2606:4700:4700::1111"), 6),
		(v6("2a00:1450:4001::1"), 6),
		(v6("::ffff:8.8.8.8"), 6),
		(v6("64:ff9b::8.8.8.8"), 6),
		(v6("2002:808:808::1"), 6),
	]
}

#[test]
fn attack_9_axon_private_address() {
	new_test_ext().execute_with(|| {
		register(1, 11);
		assert!(!Hyperparams::<Test>::get(NET).unwrap().allow_local_axons);
		for (ip, ip_type) in non_global_axons() {
			let served = Tessera::serve_axon(origin(11), NET, 1, ip, 8080, ip_type, 0);
			assert_noop!(served, Error::<Test>::AxonAddressNotGlobal);
		}
		for (port, (ip, ip_type)) in global_axons().into_iter().enumerate() {
			assert_ok!(Tessera::serve_axon(origin(11), NET, 1, ip, 8000 + port as u16, ip_type, 0));
			assert_eq!(Axons::<Test>::get(NET, 11).map(|a| (a.ip, a.ip_type)), Some((ip, ip_type)));
		}
		// A development subnet may use them all.
		set_param(Hyperparam::AllowLocalAxons(true));
		for (ip, ip_type) in non_global_axons() {
			assert_ok!(Tessera::serve_axon(origin(11), NET, 1, ip, 8080, ip_type, 0));
		}
		// Unspecified and broadcast addresses are never axons.
		for (ip, ip_type) in [(0, 4), (u32::MAX as u128, 4), (0, 6), (u128::MAX, 6)] {
			assert_noop!(Tessera::serve_axon(origin(11), NET, 1, ip, 8080, ip_type, 0), Error::<Test>::InvalidIpAddress);
		}
	});
}
