//! Unit tests: every call's success path and every error it can return.

use crate::{mock::*, weights::weights_commit_hash, Error, Event, *};
use frame_support::{
	assert_noop, assert_ok,
	traits::fungible::{Inspect, InspectHold},
};
use sp_core::H256;
use sp_runtime::DispatchError;

mod address;
mod attacks;
mod feeless;
mod fraud;
mod fuzz;

const NET: NetUid = 1;

fn origin(a: AccountId) -> RuntimeOrigin {
	RuntimeOrigin::signed(a)
}

/// Register hotkey `hot` owned by coldkey `cold` on subnet 1.
fn register(cold: AccountId, hot: AccountId) -> Uid {
	assert_ok!(Tessera::burned_register(origin(cold), NET, hot));
	Uids::<Test>::get(NET, hot).unwrap()
}

fn set_param(param: Hyperparam) {
	assert_ok!(Tessera::sudo_set_hyperparam(RuntimeOrigin::root(), NET, param));
}

fn issuance() -> u128 {
	<Balances as Inspect<AccountId>>::total_issuance()
}

fn free(a: AccountId) -> u128 {
	Balances::free_balance(a)
}

fn held(a: AccountId) -> u128 {
	Balances::balance_on_hold(&RuntimeHoldReason::Tessera(HoldReason::Staked), &a)
}

// ---------------------------------------------------------------------------------------
// Subnets and hyperparameters
// ---------------------------------------------------------------------------------------

#[test]
fn genesis_creates_subnet_and_funds_pot() {
	new_test_ext().execute_with(|| {
		assert_eq!(Hyperparams::<Test>::get(NET), Some(test_params()));
		assert_eq!(TotalNetworks::<Test>::get(), 1);
		assert_eq!(free(Tessera::pot_account()), ED);
	});
}

#[test]
fn register_network_root_only_and_unique() {
	new_test_ext().execute_with(|| {
		assert_noop!(Tessera::sudo_register_network(origin(1), 2, None), DispatchError::BadOrigin);
		assert_noop!(
			Tessera::sudo_register_network(RuntimeOrigin::root(), NET, None),
			Error::<Test>::SubnetAlreadyExists
		);
		let bad = SubnetHyperparams { tempo: 0, ..Default::default() };
		assert_noop!(
			Tessera::sudo_register_network(RuntimeOrigin::root(), 2, Some(bad)),
			Error::<Test>::InvalidHyperparameter
		);
		assert_ok!(Tessera::sudo_register_network(RuntimeOrigin::root(), 2, None));
		assert_eq!(last_event(), Event::NetworkAdded { netuid: 2 }.into());
		assert_eq!(Hyperparams::<Test>::get(2), Some(SubnetHyperparams::default()));
		assert_eq!(Tessera::subnet_ids(), vec![1, 2]);
	});
}

#[test]
fn set_hyperparam_changes_value_and_emits_event() {
	new_test_ext().execute_with(|| {
		assert_noop!(
			Tessera::sudo_set_hyperparam(origin(1), NET, Hyperparam::Tempo(5)),
			DispatchError::BadOrigin
		);
		assert_noop!(
			Tessera::sudo_set_hyperparam(RuntimeOrigin::root(), 9, Hyperparam::Tempo(5)),
			Error::<Test>::SubnetNotFound
		);
		set_param(Hyperparam::Tempo(5));
		assert_eq!(Hyperparams::<Test>::get(NET).unwrap().tempo, 5);
		assert_eq!(
			last_event(),
			Event::HyperparamSet { netuid: NET, param: Hyperparam::Tempo(5) }.into()
		);
		set_param(Hyperparam::Kappa(100));
		set_param(Hyperparam::AlphaValues { low: 10, high: 20 });
		let p = Hyperparams::<Test>::get(NET).unwrap();
		assert_eq!((p.kappa, p.alpha_low, p.alpha_high), (100, 10, 20));
	});
}

#[test]
fn invalid_hyperparams_are_rejected() {
	new_test_ext().execute_with(|| {
		for bad in [
			Hyperparam::Tempo(0),
			Hyperparam::AlphaValues { low: 30, high: 20 },
			Hyperparam::MaxAllowedUids(5000),
			Hyperparam::BondsMovingAverage(1_000_001),
			Hyperparam::BurnBounds { min: 10, max: 5 },
			Hyperparam::AdjustmentInterval(0),
			Hyperparam::CommitRevealPeriod(0),
		] {
			assert_noop!(
				Tessera::sudo_set_hyperparam(RuntimeOrigin::root(), NET, bad),
				Error::<Test>::InvalidHyperparameter
			);
		}
		register(1, 11);
		register(1, 12);
		assert_noop!(
			Tessera::sudo_set_hyperparam(RuntimeOrigin::root(), NET, Hyperparam::MaxAllowedUids(1)),
			Error::<Test>::InvalidHyperparameter
		);
	});
}

// ---------------------------------------------------------------------------------------
// Registration
// ---------------------------------------------------------------------------------------

#[test]
fn burned_register_assigns_uids_and_burns() {
	new_test_ext().execute_with(|| {
		let before = issuance();
		assert_eq!(register(1, 11), 0);
		assert_eq!(
			last_event(),
			Event::NeuronRegistered { netuid: NET, uid: 0, hotkey: 11, coldkey: 1, burn: 1_000, replaced: None }
				.into()
		);
		assert_eq!(register(2, 12), 1);
		assert_eq!(issuance(), before - 2_000);
		assert_eq!(free(1), INITIAL - 1_000);
		assert_eq!(SubnetN::<Test>::get(NET), 2);
		assert_eq!(Keys::<Test>::get(NET, 1), Some(12));
		assert_eq!(Owner::<Test>::get(12), Some(2));
		assert_eq!(Rank::<Test>::get(NET).len(), 2);
		assert_eq!(LastUpdate::<Test>::get(NET), vec![1, 1]);
		assert_eq!(BlockAtRegistration::<Test>::get(NET, 1), 1);
	});
}

#[test]
fn burned_register_errors() {
	new_test_ext().execute_with(|| {
		assert_noop!(Tessera::burned_register(origin(1), 7, 11), Error::<Test>::SubnetNotFound);
		register(1, 11);
		assert_noop!(Tessera::burned_register(origin(1), NET, 11), Error::<Test>::HotkeyAlreadyRegistered);
		// A hotkey belongs to the coldkey that registered it first.
		assert_ok!(Tessera::sudo_register_network(RuntimeOrigin::root(), 2, Some(test_params())));
		assert_noop!(Tessera::burned_register(origin(2), 2, 11), Error::<Test>::NotHotkeyOwner);
		assert_ok!(Tessera::burned_register(origin(1), 2, 11));
		assert_eq!(HotkeyNetworks::<Test>::get(11), vec![1, 2]);
		// Account 50 has no funds.
		assert_noop!(Tessera::burned_register(origin(50), NET, 51), Error::<Test>::NotEnoughBalanceToRegister);
		set_param(Hyperparam::RegistrationAllowed(false));
		assert_noop!(Tessera::burned_register(origin(1), NET, 12), Error::<Test>::RegistrationDisabled);
	});
}

#[test]
fn registration_limits_per_block_and_interval() {
	new_test_ext().execute_with(|| {
		set_param(Hyperparam::MaxRegistrationsPerBlock(2));
		register(1, 11);
		register(1, 12);
		assert_noop!(
			Tessera::burned_register(origin(1), NET, 13),
			Error::<Test>::TooManyRegistrationsThisBlock
		);
		run_to_block(2);
		register(1, 13);
		// Interval limit: three times the target.
		set_param(Hyperparam::TargetRegistrationsPerInterval(1));
		assert_noop!(
			Tessera::burned_register(origin(1), NET, 14),
			Error::<Test>::TooManyRegistrationsThisInterval
		);
	});
}

#[test]
fn burn_adjusts_each_interval() {
	new_test_ext().execute_with(|| {
		set_param(Hyperparam::AdjustmentInterval(10));
		set_param(Hyperparam::TargetRegistrationsPerInterval(1));
		register(1, 11);
		register(1, 12);
		register(1, 13);
		// 3 registrations against a target of 1: burn * (3 + 1) / 2 = 2x.
		run_to_block(11);
		assert_eq!(Hyperparams::<Test>::get(NET).unwrap().burn, 2_000);
		assert_eq!(RegistrationsThisInterval::<Test>::get(NET), 0);
		// No registrations: burn halves, floored at min_burn.
		run_to_block(21);
		assert_eq!(Hyperparams::<Test>::get(NET).unwrap().burn, 1_000);
		run_to_block(61);
		assert_eq!(Hyperparams::<Test>::get(NET).unwrap().burn, 100);
	});
}

#[test]
fn full_subnet_replaces_lowest_pruning_score_outside_immunity() {
	new_test_ext().execute_with(|| {
		set_param(Hyperparam::MaxAllowedUids(3));
		set_param(Hyperparam::ImmunityPeriod(5));
		for h in 11..=13 {
			register(1, h);
		}
		// Everyone is immune right after registering.
		assert_noop!(Tessera::burned_register(origin(2), NET, 21), Error::<Test>::AllNeuronsImmune);
		run_to_block(10);
		PruningScores::<Test>::insert(NET, vec![50, 10, 30]);
		assert_ok!(Tessera::serve_axon(origin(12), NET, 1, 0x01020304, 8080, 4, 0));
		Weights::<Test>::insert(NET, 1, vec![(0u16, 1u16)]);
		assert_ok!(Tessera::burned_register(origin(2), NET, 21));
		assert_eq!(
			last_event(),
			Event::NeuronRegistered { netuid: NET, uid: 1, hotkey: 21, coldkey: 2, burn: 1_000, replaced: Some(12) }
				.into()
		);
		assert_eq!(Keys::<Test>::get(NET, 1), Some(21));
		assert_eq!(Uids::<Test>::get(NET, 12), None);
		assert_eq!(Axons::<Test>::get(NET, 12), None);
		assert!(Weights::<Test>::get(NET, 1).is_empty());
		assert_eq!(PruningScores::<Test>::get(NET), vec![50, 0, 30]);
		assert_eq!(BlockAtRegistration::<Test>::get(NET, 1), 10);
		assert_eq!(SubnetN::<Test>::get(NET), 3);
		// The newcomer is immune; the next lowest (uid 2, score 30) goes next.
		assert_ok!(Tessera::burned_register(origin(2), NET, 22));
		assert_eq!(Keys::<Test>::get(NET, 2), Some(22));
	});
}

#[test]
fn registration_is_charged_for_the_uids_it_scanned() {
	use crate::weights_info::WeightInfo as _;
	use frame_support::traits::Get;
	let weight = |n: u32| <Test as Config>::WeightInfo::burned_register(n);
	new_test_ext().execute_with(|| {
		set_param(Hyperparam::MaxAllowedUids(3));
		set_param(Hyperparam::ImmunityPeriod(5));
		// Room on the subnet: no scan, refunded down to burned_register(0).
		for h in 11..=13 {
			let post = Tessera::burned_register(origin(1), NET, h).unwrap();
			assert_eq!(post.actual_weight, Some(weight(0)));
		}
		// A failed registration pays what was declared (the worst case).
		let err = Tessera::burned_register(origin(2), NET, 21).unwrap_err();
		assert_eq!(err.error, Error::<Test>::AllNeuronsImmune.into());
		assert_eq!(err.post_info.actual_weight, None);
		// Full: the scan over its 3 uids is charged.
		run_to_block(10);
		let post = Tessera::burned_register(origin(2), NET, 21).unwrap();
		assert_eq!(post.actual_weight, Some(weight(3)));
		let worst = weight(u32::from(<<Test as Config>::MaxAllowedUidsLimit as Get<u16>>::get()));
		assert!(weight(0).ref_time() < weight(3).ref_time() && weight(3).ref_time() < worst.ref_time());
	});
}

// ---------------------------------------------------------------------------------------
// Serving
// ---------------------------------------------------------------------------------------

#[test]
fn serve_axon_records_and_validates() {
	new_test_ext().execute_with(|| {
		assert_noop!(
			Tessera::serve_axon(origin(11), NET, 1, 0x01020304, 8080, 4, 0),
			Error::<Test>::HotkeyNotRegistered
		);
		register(1, 11);
		assert_noop!(Tessera::serve_axon(origin(11), 9, 1, 0x01020304, 8080, 4, 0), Error::<Test>::SubnetNotFound);
		assert_noop!(Tessera::serve_axon(origin(11), NET, 1, 0x01020304, 8080, 5, 0), Error::<Test>::InvalidIpType);
		assert_noop!(Tessera::serve_axon(origin(11), NET, 1, 0, 8080, 4, 0), Error::<Test>::InvalidIpAddress);
		assert_noop!(
			Tessera::serve_axon(origin(11), NET, 1, 1u128 << 40, 8080, 4, 0),
			Error::<Test>::InvalidIpAddress
		);
		// Loopback is refused unless the subnet allows local axons.
		assert_noop!(
			Tessera::serve_axon(origin(11), NET, 1, 0x7f000001, 8080, 4, 0),
			Error::<Test>::AxonAddressNotGlobal
		);
		assert_noop!(Tessera::serve_axon(origin(11), NET, 1, 1, 8080, 6, 0), Error::<Test>::AxonAddressNotGlobal);
		assert_noop!(Tessera::serve_axon(origin(11), NET, 1, 0x01020304, 0, 4, 0), Error::<Test>::InvalidPort);
		assert_noop!(
			Tessera::serve_axon(origin(11), NET, 1, 0x01020304, 8080, 4, 7),
			Error::<Test>::InvalidProtocol
		);
		assert_ok!(Tessera::serve_axon(origin(11), NET, 3, 0x01020304, 8080, 4, 1));
		assert_eq!(Axons::<Test>::get(NET, 11).map(|a| a.protocol), Some(1), "gRPC over TLS");
		assert_ok!(Tessera::serve_axon(origin(11), NET, 3, 0x01020304, 8080, 4, 0));
		let axon = AxonInfo { block: 1, version: 3, ip: 0x01020304, port: 8080, ip_type: 4, protocol: 0 };
		assert_eq!(Axons::<Test>::get(NET, 11), Some(axon.clone()));
		assert_eq!(last_event(), Event::AxonServed { netuid: NET, hotkey: 11, axon }.into());
		set_param(Hyperparam::AllowLocalAxons(true));
		assert_ok!(Tessera::serve_axon(origin(11), NET, 3, 0x7f000001, 8081, 4, 0));
	});
}

#[test]
fn serve_axon_rate_limited() {
	new_test_ext().execute_with(|| {
		set_param(Hyperparam::ServingRateLimit(5));
		register(1, 11);
		assert_ok!(Tessera::serve_axon(origin(11), NET, 1, 0x01020304, 8080, 4, 0));
		run_to_block(5);
		assert_noop!(
			Tessera::serve_axon(origin(11), NET, 1, 0x01020304, 8081, 4, 0),
			Error::<Test>::ServingRateLimitExceeded
		);
		run_to_block(6);
		assert_ok!(Tessera::serve_axon(origin(11), NET, 1, 0x01020304, 8081, 4, 0));
	});
}

#[test]
fn commit_model_records_first_committer() {
	new_test_ext().execute_with(|| {
		let model = H256::repeat_byte(7);
		let tok = H256::repeat_byte(9);
		assert_noop!(Tessera::commit_model(origin(11), NET, model, tok), Error::<Test>::HotkeyNotRegistered);
		register(1, 11);
		register(2, 12);
		assert_noop!(Tessera::commit_model(origin(11), 5, model, tok), Error::<Test>::SubnetNotFound);
		assert_ok!(Tessera::commit_model(origin(11), NET, model, tok));
		assert_eq!(
			ModelCommitments::<Test>::get(NET, 11),
			Some(ModelCommitment { model_hash: model, tokenizer_hash: tok, block: 1 })
		);
		assert_noop!(Tessera::commit_model(origin(11), NET, model, tok), Error::<Test>::ModelAlreadyCommitted);
		run_to_block(4);
		// A copier commits the same hash later: the original keeps the earlier block.
		assert_ok!(Tessera::commit_model(origin(12), NET, model, tok));
		assert_eq!(
			last_event(),
			Event::ModelCommitted {
				netuid: NET,
				hotkey: 12,
				model_hash: model,
				tokenizer_hash: tok,
				first_committed_at: 1
			}
			.into()
		);
		assert_eq!(FirstModelCommit::<Test>::get(NET, model), Some((1, 11)));
	});
}

#[test]
fn commit_model_checks_tokenizer_and_bar() {
	new_test_ext().execute_with(|| {
		register(1, 11);
		let tok = H256::repeat_byte(9);
		set_param(Hyperparam::TokenizerHash(tok));
		assert_noop!(
			Tessera::commit_model(origin(11), NET, H256::repeat_byte(1), H256::repeat_byte(2)),
			Error::<Test>::TokenizerMismatch
		);
		BarredModels::<Test>::insert(NET, (1, H256::repeat_byte(1)), 1);
		assert_noop!(
			Tessera::commit_model(origin(11), NET, H256::repeat_byte(1), tok),
			Error::<Test>::ModelBarred
		);
		assert_ok!(Tessera::commit_model(origin(11), NET, H256::repeat_byte(3), tok));
	});
}

// ---------------------------------------------------------------------------------------
// Staking
// ---------------------------------------------------------------------------------------

#[test]
fn add_stake_holds_and_mints_shares() {
	new_test_ext().execute_with(|| {
		register(1, 11);
		let before = issuance();
		assert_ok!(Tessera::add_stake(origin(2), 11, 5_000));
		assert_eq!(
			last_event(),
			Event::StakeAdded { coldkey: 2, hotkey: 11, amount: 5_000, shares: 5_000 }.into()
		);
		assert_eq!(held(2), 5_000);
		assert_eq!(free(2), INITIAL - 5_000);
		assert_eq!(issuance(), before);
		assert_eq!(TotalHotkeyStake::<Test>::get(11), 5_000);
		assert_eq!(TotalStake::<Test>::get(), 5_000);
		assert_eq!(Tessera::stake_value(&11, &2), 5_000);
	});
}

#[test]
fn add_stake_errors() {
	new_test_ext().execute_with(|| {
		assert_noop!(Tessera::add_stake(origin(2), 11, 5_000), Error::<Test>::HotkeyNotFound);
		register(1, 11);
		assert_noop!(Tessera::add_stake(origin(2), 11, 99), Error::<Test>::StakeTooLow);
		assert_noop!(Tessera::add_stake(origin(2), 11, INITIAL), Error::<Test>::NotEnoughBalanceToStake);
		assert_noop!(Tessera::add_stake(origin(50), 11, 1_000), Error::<Test>::NotEnoughBalanceToStake);
	});
}

#[test]
fn remove_stake_errors() {
	new_test_ext().execute_with(|| {
		register(1, 11);
		assert_noop!(Tessera::remove_stake(origin(2), 11, 10), Error::<Test>::NotEnoughStakeToWithdraw);
		assert_ok!(Tessera::add_stake(origin(2), 11, 5_000));
		assert_noop!(Tessera::remove_stake(origin(2), 11, 5_001), Error::<Test>::NotEnoughStakeToWithdraw);
		assert_noop!(Tessera::remove_stake(origin(2), 11, 0), Error::<Test>::StakeTooLow);
		assert_noop!(Tessera::remove_stake(origin(3), 11, 1), Error::<Test>::NotEnoughStakeToWithdraw);
	});
}

#[test]
fn stake_round_trip_without_rewards_returns_principal() {
	new_test_ext().execute_with(|| {
		register(1, 11);
		assert_ok!(Tessera::add_stake(origin(2), 11, 5_000));
		assert_ok!(Tessera::remove_stake(origin(2), 11, 2_000));
		assert_eq!(held(2), 3_000);
		assert_ok!(Tessera::remove_stake(origin(2), 11, 3_000));
		assert_eq!(held(2), 0);
		assert_eq!(free(2), INITIAL);
		assert_eq!(Stake::<Test>::get(11, 2), None);
		assert_eq!(TotalHotkeyStake::<Test>::get(11), 0);
		assert_eq!(TotalHotkeyShares::<Test>::get(11), 0);
		assert_eq!(TotalStake::<Test>::get(), 0);
	});
}

/// Found by the fuzz tests: shares minted at a price that does not divide the stake left
/// the new position worth a little less than its principal, and the other positions that
/// little more, which the pot did not hold, so the last withdrawals could fail with
/// `RewardPotInsufficient`. The dust now moves from the new staker's hold to the pot.
#[test]
fn rounding_dust_of_a_stake_backs_the_other_positions() {
	new_test_ext().execute_with(|| {
		register(1, 11);
		assert_ok!(Tessera::add_stake(origin(2), 11, 3_000));
		assert_ok!(Tessera::reward_pool(&11, 1_001).map(|_| ()));
		// 7 777 at a price of (3 000 + 1 001 - take) / 3 000 + owner shares: not a whole number.
		assert_ok!(Tessera::add_stake(origin(3), 11, 7_777));
		let position = Stake::<Test>::get(11, 3).unwrap();
		let worth = Tessera::stake_value(&11, &3);
		assert!(worth < 7_777, "the price does not divide the stake: {worth}");
		assert_eq!(position.principal, worth, "the principal is what the position is worth");
		assert_eq!(held(3), worth);
		assert_eq!(free(3), INITIAL - 7_777);
		Tessera::do_try_state().unwrap();
		// Everybody withdraws everything, the owner first: the pot pays every reward.
		for who in [1, 2, 3] {
			let value = Tessera::stake_value(&11, &who);
			assert_ok!(Tessera::remove_stake(origin(who), 11, value));
			Tessera::do_try_state().unwrap();
		}
		assert_eq!(held(3), 0);
		assert!(free(Tessera::pot_account()) >= ED);
	});
}

#[test]
fn pool_rewards_split_by_shares_with_take() {
	new_test_ext().execute_with(|| {
		// Hotkey 11 is owned by coldkey 1; nominators 2 and 3 stake 3:1.
		register(1, 11);
		assert_ok!(Tessera::add_stake(origin(2), 11, 300_000));
		assert_ok!(Tessera::add_stake(origin(3), 11, 100_000));
		let before = issuance();
		let reward = 1_000_000u128;
		let take = Tessera::reward_pool(&11, reward).unwrap();
		// 18% of u16::MAX: 11796 / 65535 of the reward.
		assert_eq!(take, reward * TAKE_18 as u128 / u16::MAX as u128);
		assert_eq!(issuance(), before + reward);
		let rest = reward - take;
		let v2 = Tessera::stake_value(&11, &2);
		let v3 = Tessera::stake_value(&11, &3);
		let v1 = Tessera::stake_value(&11, &1);
		// Each nominator gains its share of the rest; the owner's take buys shares at the
		// new price. Rounding (always in the pool's favour) costs at most one share's
		// price, here about 2.6 units.
		assert!(v2.abs_diff(300_000 + rest * 3 / 4) <= 3, "{v2}");
		assert!(v3.abs_diff(100_000 + rest / 4) <= 3, "{v3}");
		assert!(v1.abs_diff(take) <= 3, "{v1}");
		assert!(v1 + v2 + v3 <= TotalHotkeyStake::<Test>::get(11));

		// Everybody withdraws everything: principal plus rewards.
		for (c, v) in [(2, v2), (3, v3), (1, v1)] {
			let free_before = free(c);
			assert_ok!(Tessera::remove_stake(origin(c), 11, v));
			assert_eq!(held(c), 0);
			assert_eq!(Stake::<Test>::get(11, c), None);
			assert_eq!(free(c), free_before + v);
		}
		// The pot keeps its existential deposit plus at most rounding dust.
		let pot = free(Tessera::pot_account());
		assert!(pot >= ED && pot <= ED + 10, "{pot}");
		assert_eq!(issuance(), before + reward);
	});
}

#[test]
fn coldkey_info_lists_every_position_and_balance_in_one_read() {
	new_test_ext().execute_with(|| {
		register(1, 11);
		register(1, 12);
		let empty = Tessera::coldkey_info(2);
		assert_eq!((empty.free, empty.held, empty.staked), (INITIAL, 0, 0));
		assert!(empty.positions.is_empty());

		assert_ok!(Tessera::add_stake(origin(2), 11, 300_000));
		assert_ok!(Tessera::add_stake(origin(2), 12, 100_000));
		assert_ok!(Tessera::add_stake(origin(3), 12, 100_000));
		let reward = 1_000_000u128;
		let take = Tessera::reward_pool(&11, reward).unwrap();
		let info = Tessera::coldkey_info(2);
		assert_eq!(info.coldkey, 2);
		assert_eq!((info.free, info.held), (INITIAL - 400_000, 400_000));
		assert!(info.transferable < info.free, "keeps the existential deposit");
		let mut positions = info.positions.clone();
		positions.sort_by_key(|p| p.hotkey);
		assert_eq!(positions.iter().map(|p| (p.hotkey, p.principal)).collect::<Vec<_>>(), vec![(11, 300_000), (12, 100_000)]);
		assert_eq!(positions[0].value, Tessera::stake_value(&11, &2));
		assert!(positions[0].value >= 300_000 + reward - take - 3, "{:?}", positions[0]);
		assert_eq!(info.staked, positions[0].value + positions[1].value);
		// The owner's take made coldkey 1 a staker of 11 too.
		assert_eq!(Tessera::coldkey_info(1).positions.iter().map(|p| p.hotkey).collect::<Vec<_>>(), vec![11]);

		// A position withdrawn to zero leaves the index.
		assert_ok!(Tessera::remove_stake(origin(2), 12, 100_000));
		assert_eq!(StakingHotkeys::<Test>::get(2, 12), None);
		assert_eq!(Tessera::coldkey_info(2).positions.iter().map(|p| p.hotkey).collect::<Vec<_>>(), vec![11]);
		assert_eq!(Tessera::coldkey_info(3).positions.len(), 1);
	});
}

#[test]
fn reward_with_no_nominators_goes_to_owner() {
	new_test_ext().execute_with(|| {
		register(1, 11);
		assert_eq!(Tessera::reward_pool(&11, 1_000).unwrap(), 1_000);
		assert_eq!(Tessera::stake_value(&11, &1), 1_000);
		assert_ok!(Tessera::remove_stake(origin(1), 11, 1_000));
		assert_eq!(free(1), INITIAL - 1_000 + 1_000);
		assert_noop!(
			Tessera::reward_pool(&99, 10).map(|_| ()),
			Error::<Test>::HotkeyNotFound
		);
	});
}

#[test]
fn late_nominator_does_not_share_earlier_rewards() {
	new_test_ext().execute_with(|| {
		register(1, 11);
		assert_ok!(Tessera::add_stake(origin(2), 11, 100_000));
		Tessera::reward_pool(&11, 100_000).unwrap();
		assert_ok!(Tessera::add_stake(origin(3), 11, 100_000));
		// Staker 3 bought in at the new price: its position is worth what it paid.
		assert!(Tessera::stake_value(&11, &3).abs_diff(100_000) <= 1);
		assert!(Tessera::stake_value(&11, &2) > 170_000);
	});
}

#[test]
fn partial_withdrawal_releases_principal_first() {
	new_test_ext().execute_with(|| {
		register(1, 11);
		set_delegate_take_zero(11);
		assert_ok!(Tessera::add_stake(origin(2), 11, 100_000));
		Tessera::reward_pool(&11, 50_000).unwrap();
		assert_eq!(Tessera::stake_value(&11, &2), 150_000);
		assert_ok!(Tessera::remove_stake(origin(2), 11, 60_000));
		assert_eq!(held(2), 40_000);
		assert_eq!(Tessera::stake_value(&11, &2), 90_000);
		assert_ok!(Tessera::remove_stake(origin(2), 11, 90_000));
		assert_eq!(held(2), 0);
		assert_eq!(free(2), INITIAL + 50_000);
	});
}

fn set_delegate_take_zero(hot: AccountId) {
	let owner = Owner::<Test>::get(hot).unwrap();
	assert_ok!(Tessera::set_delegate_take(origin(owner), hot, 0));
}

#[test]
fn delegate_take_owner_only_and_capped() {
	new_test_ext().execute_with(|| {
		assert_noop!(Tessera::set_delegate_take(origin(1), 11, 10), Error::<Test>::HotkeyNotFound);
		register(1, 11);
		assert_eq!(Tessera::delegate_take(&11), TAKE_18);
		assert_noop!(Tessera::set_delegate_take(origin(2), 11, 10), Error::<Test>::NotHotkeyOwner);
		assert_noop!(
			Tessera::set_delegate_take(origin(1), 11, TAKE_18 + 1),
			Error::<Test>::DelegateTakeTooHigh
		);
		assert_ok!(Tessera::set_delegate_take(origin(1), 11, 1_000));
		assert_eq!(last_event(), Event::DelegateTakeSet { hotkey: 11, take: 1_000 }.into());
		assert_eq!(Tessera::delegate_take(&11), 1_000);
	});
}

// ---------------------------------------------------------------------------------------
// Validator permits and weights
// ---------------------------------------------------------------------------------------

/// Register hotkeys 11..=10+n (coldkey 1), stake on 11 (the validator) and run an epoch
/// so that permits are assigned.
fn setup_validator(n: u64, max_validators: u16) {
	set_param(Hyperparam::MaxAllowedValidators(max_validators));
	for h in 11..=10 + n {
		register(1, h);
	}
	assert_ok!(Tessera::add_stake(origin(2), 11, 1_000_000));
	run_epoch(NET);
}

#[test]
fn epoch_gives_permits_to_top_stake() {
	new_test_ext().execute_with(|| {
		setup_validator(4, 2);
		assert_ok!(Tessera::add_stake(origin(2), 13, 500));
		run_epoch(NET);
		assert_eq!(ValidatorPermit::<Test>::get(NET), vec![true, false, true, false]);
	});
}

#[test]
fn set_weights_stores_max_upscaled_row() {
	new_test_ext().execute_with(|| {
		setup_validator(3, 1);
		run_to_block(System::block_number() + 1);
		assert_ok!(Tessera::set_weights(origin(11), NET, vec![1, 2], vec![1, 3], 0));
		assert_eq!(Weights::<Test>::get(NET, 0), vec![(1, 21845), (2, 65535)]);
		assert_eq!(last_event(), Event::WeightsSet { netuid: NET, uid: 0, count: 2 }.into());
		assert_eq!(LastUpdate::<Test>::get(NET)[0], System::block_number());
	});
}

#[test]
fn set_weights_errors() {
	new_test_ext().execute_with(|| {
		setup_validator(3, 1);
		let w = |who, dests: Vec<u16>, vals: Vec<u16>, key| {
			Tessera::set_weights(origin(who), NET, dests, vals, key)
		};
		assert_noop!(Tessera::set_weights(origin(11), 9, vec![1], vec![1], 0), Error::<Test>::SubnetNotFound);
		assert_noop!(w(11, vec![1, 2], vec![1], 0), Error::<Test>::WeightVecNotEqualSize);
		assert_noop!(w(11, vec![0, 1, 2, 0], vec![1; 4], 0), Error::<Test>::TooManyWeights);
		assert_noop!(w(99, vec![1], vec![1], 0), Error::<Test>::HotkeyNotRegistered);
		assert_noop!(w(11, vec![1, 1], vec![1, 1], 0), Error::<Test>::DuplicateUids);
		assert_noop!(w(11, vec![1, 7], vec![1, 1], 0), Error::<Test>::InvalidUid);
		// uid 1 (hotkey 12) has no permit: only a self-weight is allowed.
		assert_noop!(w(12, vec![0], vec![1], 0), Error::<Test>::NoValidatorPermit);
		assert_ok!(w(12, vec![1], vec![1], 0));
		set_param(Hyperparam::MinAllowedWeights(2));
		assert_noop!(w(11, vec![1], vec![1], 0), Error::<Test>::WeightVecLengthIsLow);
		set_param(Hyperparam::MinAllowedWeights(1));
		set_param(Hyperparam::MaxWeightLimit(40_000));
		assert_noop!(w(11, vec![1, 2], vec![1, 3], 0), Error::<Test>::MaxWeightExceeded);
		// Equal weights both upscale to u16::MAX, also above the limit.
		assert_noop!(w(11, vec![1, 2], vec![1, 1], 0), Error::<Test>::MaxWeightExceeded);
		set_param(Hyperparam::MaxWeightLimit(u16::MAX));
		set_param(Hyperparam::WeightsVersionKey(5));
		assert_noop!(w(11, vec![1], vec![1], 4), Error::<Test>::IncorrectWeightVersionKey);
		set_param(Hyperparam::WeightsVersionKey(0));
		set_param(Hyperparam::WeightsMinStake(u128::MAX));
		assert_noop!(w(11, vec![1], vec![1], 0), Error::<Test>::NotEnoughStakeToSetWeights);
		set_param(Hyperparam::WeightsMinStake(0));
		set_param(Hyperparam::WeightsRateLimit(5));
		assert_ok!(w(11, vec![1], vec![1], 0));
		assert_noop!(w(11, vec![2], vec![1], 0), Error::<Test>::SettingWeightsTooFast);
		run_to_block(System::block_number() + 5);
		assert_ok!(w(11, vec![2], vec![1], 0));
		set_param(Hyperparam::CommitRevealEnabled(true));
		assert_noop!(w(11, vec![1], vec![1], 0), Error::<Test>::CommitRevealEnabled);
	});
}

#[test]
fn max_upscale_rounds_and_keeps_zero() {
	use crate::weights::max_upscale_to_u16;
	assert_eq!(max_upscale_to_u16(&[0, 0]), vec![0, 0]);
	assert_eq!(max_upscale_to_u16(&[1, 2]), vec![32768, 65535]);
	assert_eq!(max_upscale_to_u16(&[u16::MAX, 1]), vec![65535, 1]);
	assert_eq!(max_upscale_to_u16(&[]), Vec::<u16>::new());
}

// ---------------------------------------------------------------------------------------
// Commit-reveal
// ---------------------------------------------------------------------------------------

fn enable_commit_reveal() {
	set_param(Hyperparam::CommitRevealEnabled(true));
	set_param(Hyperparam::CommitRevealPeriod(1));
}

/// Move to the first block of the epoch after the current one.
fn next_epoch() {
	let tempo = Hyperparams::<Test>::get(NET).unwrap().tempo;
	let now = System::block_number();
	let e = Tessera::epoch_index(NET, tempo, now);
	let mut b = now;
	while Tessera::epoch_index(NET, tempo, b) == e {
		b += 1;
	}
	run_to_block(b);
}

#[test]
fn commit_then_reveal_in_window_sets_weights() {
	new_test_ext().execute_with(|| {
		setup_validator(3, 1);
		enable_commit_reveal();
		let (uids, vals, salt) = (vec![1u16, 2], vec![10u16, 20], vec![7u16, 8, 9]);
		let hash = weights_commit_hash(&11u64, NET, &uids, &vals, &salt, 0);
		assert_ok!(Tessera::commit_weights(origin(11), NET, hash));
		assert_eq!(WeightCommits::<Test>::get(NET, 11).len(), 1);
		next_epoch();
		assert_ok!(Tessera::reveal_weights(origin(11), NET, uids.clone(), vals.clone(), salt.clone(), 0));
		assert_eq!(last_event(), Event::WeightsRevealed { netuid: NET, hotkey: 11, hash }.into());
		assert_eq!(Weights::<Test>::get(NET, 0), vec![(1, 32768), (2, 65535)]);
		assert!(WeightCommits::<Test>::get(NET, 11).is_empty());
		// Replay: the commit was consumed.
		assert_noop!(
			Tessera::reveal_weights(origin(11), NET, uids, vals, salt, 0),
			Error::<Test>::NoMatchingCommit
		);
	});
}

#[test]
fn reveal_with_wrong_salt_or_values_fails() {
	new_test_ext().execute_with(|| {
		setup_validator(3, 1);
		enable_commit_reveal();
		let hash = weights_commit_hash(&11u64, NET, &[1], &[10], &[7], 0);
		assert_ok!(Tessera::commit_weights(origin(11), NET, hash));
		next_epoch();
		assert_noop!(
			Tessera::reveal_weights(origin(11), NET, vec![1], vec![10], vec![8], 0),
			Error::<Test>::NoMatchingCommit
		);
		assert_noop!(
			Tessera::reveal_weights(origin(11), NET, vec![1], vec![11], vec![7], 0),
			Error::<Test>::NoMatchingCommit
		);
		// Another hotkey cannot reveal someone else's commit.
		assert_noop!(
			Tessera::reveal_weights(origin(12), NET, vec![1], vec![10], vec![7], 0),
			Error::<Test>::NoMatchingCommit
		);
		assert_ok!(Tessera::reveal_weights(origin(11), NET, vec![1], vec![10], vec![7], 0));
	});
}

#[test]
fn reveal_too_early_and_too_late() {
	new_test_ext().execute_with(|| {
		setup_validator(3, 1);
		enable_commit_reveal();
		let hash = weights_commit_hash(&11u64, NET, &[1], &[10], &[7], 0);
		assert_ok!(Tessera::commit_weights(origin(11), NET, hash));
		assert_noop!(
			Tessera::reveal_weights(origin(11), NET, vec![1], vec![10], vec![7], 0),
			Error::<Test>::RevealTooEarly
		);
		next_epoch();
		next_epoch();
		assert_noop!(
			Tessera::reveal_weights(origin(11), NET, vec![1], vec![10], vec![7], 0),
			Error::<Test>::RevealTooLate
		);
	});
}

#[test]
fn commit_errors_and_limits() {
	new_test_ext().execute_with(|| {
		setup_validator(3, 1);
		let h = |i: u8| H256::repeat_byte(i);
		assert_noop!(Tessera::commit_weights(origin(11), NET, h(1)), Error::<Test>::CommitRevealDisabled);
		assert_noop!(
			Tessera::reveal_weights(origin(11), NET, vec![1], vec![1], vec![], 0),
			Error::<Test>::CommitRevealDisabled
		);
		enable_commit_reveal();
		assert_noop!(Tessera::commit_weights(origin(99), NET, h(1)), Error::<Test>::HotkeyNotRegistered);
		for i in 1..=3 {
			assert_ok!(Tessera::commit_weights(origin(11), NET, h(i)));
		}
		assert_noop!(Tessera::commit_weights(origin(11), NET, h(4)), Error::<Test>::TooManyUnrevealedCommits);
		// Expired commits are dropped on the next commit.
		next_epoch();
		next_epoch();
		assert_ok!(Tessera::commit_weights(origin(11), NET, h(5)));
		assert_eq!(WeightCommits::<Test>::get(NET, 11).len(), 1);
		set_param(Hyperparam::WeightsRateLimit(5));
		assert_noop!(Tessera::commit_weights(origin(11), NET, h(6)), Error::<Test>::CommittingWeightsTooFast);
	});
}

#[test]
fn revealed_weights_still_get_every_check() {
	new_test_ext().execute_with(|| {
		setup_validator(3, 1);
		enable_commit_reveal();
		// Duplicate uids: the hash matches but the weights are invalid.
		let hash = weights_commit_hash(&11u64, NET, &[1, 1], &[1, 1], &[3], 0);
		assert_ok!(Tessera::commit_weights(origin(11), NET, hash));
		next_epoch();
		assert_noop!(
			Tessera::reveal_weights(origin(11), NET, vec![1, 1], vec![1, 1], vec![3], 0),
			Error::<Test>::DuplicateUids
		);
	});
}

// ---------------------------------------------------------------------------------------
// Runtime API
// ---------------------------------------------------------------------------------------

#[test]
fn metagraph_reports_every_neuron() {
	new_test_ext().execute_with(|| {
		setup_validator(2, 1);
		assert_ok!(Tessera::serve_axon(origin(12), NET, 1, 0x01020304, 9000, 4, 0));
		assert_ok!(Tessera::commit_model(origin(12), NET, H256::repeat_byte(1), H256::repeat_byte(2)));
		run_to_block(System::block_number() + 1);
		assert_ok!(Tessera::set_weights(origin(11), NET, vec![1], vec![5], 0));
		let m = Tessera::metagraph(NET).unwrap();
		assert_eq!(m.neurons.len(), 2);
		let v = &m.neurons[0];
		assert_eq!((v.uid, v.hotkey, v.coldkey), (0, 11, 1));
		// Staked 1_000_000, plus the stake-proportional emission of the first epoch.
		assert!(v.stake > 1_000_000);
		assert_eq!(v.stake, TotalHotkeyStake::<Test>::get(11));
		assert!(v.validator_permit);
		assert_eq!(v.weights, vec![(1, u16::MAX)]);
		let miner = &m.neurons[1];
		assert_eq!(miner.axon.as_ref().unwrap().port, 9000);
		assert_eq!(miner.model.as_ref().unwrap().model_hash, H256::repeat_byte(1));
		assert_eq!(Tessera::neuron(NET, 1), Some(miner.clone()));
		assert_eq!(Tessera::neuron(NET, 5), None);
		assert!(Tessera::metagraph(42).is_none());
	});
}

// ---------------------------------------------------------------------------------------
// Emission and the epoch
// ---------------------------------------------------------------------------------------

#[test]
fn block_emission_halves_on_emitted_supply() {
	new_test_ext().execute_with(|| {
		let cap: u128 = 21_000_000_000_000_000;
		let base: u128 = 1_000_000_000;
		assert_eq!(Tessera::block_emission(), base);
		TotalEmitted::<Test>::put(cap / 2 - 1);
		assert_eq!(Tessera::block_emission(), base);
		TotalEmitted::<Test>::put(cap / 2);
		assert_eq!(Tessera::block_emission(), base / 2);
		TotalEmitted::<Test>::put(cap / 2 + cap / 4);
		assert_eq!(Tessera::block_emission(), base / 4);
		TotalEmitted::<Test>::put(cap - 10);
		assert_eq!(Tessera::block_emission(), 10.min(base >> 60));
		TotalEmitted::<Test>::put(cap);
		assert_eq!(Tessera::block_emission(), 0);
	});
}

#[test]
fn emission_accrues_by_subnet_share() {
	new_test_ext().execute_with(|| {
		assert_ok!(Tessera::sudo_register_network(RuntimeOrigin::root(), 2, Some(test_params())));
		assert_noop!(Tessera::sudo_set_emission_share(origin(1), 2, 1), DispatchError::BadOrigin);
		assert_noop!(
			Tessera::sudo_set_emission_share(RuntimeOrigin::root(), 9, 1),
			Error::<Test>::SubnetNotFound
		);
		// No shares set: equal split.
		Tessera::accrue_emission();
		assert_eq!(PendingEmission::<Test>::get(1), 500_000_000);
		assert_eq!(PendingEmission::<Test>::get(2), 500_000_000);
		assert_ok!(Tessera::sudo_set_emission_share(RuntimeOrigin::root(), 1, 3));
		assert_ok!(Tessera::sudo_set_emission_share(RuntimeOrigin::root(), 2, 1));
		assert_eq!(last_event(), Event::EmissionShareSet { netuid: 2, share: 1 }.into());
		Tessera::accrue_emission();
		assert_eq!(PendingEmission::<Test>::get(1), 500_000_000 + 750_000_000);
		assert_eq!(PendingEmission::<Test>::get(2), 500_000_000 + 250_000_000);
		assert_eq!(TotalEmitted::<Test>::get(), 2_000_000_000);
	});
}

const PRINCIPAL: u128 = 50_000_000_000;

/// Validator 11 (owner 1, nominated by 2 and 3) weights miner 12 (owner 4) and runs
/// several epochs; returns the issuance before the epochs.
fn run_validator_miner_epochs(epochs: u32) -> u128 {
	set_param(Hyperparam::MaxAllowedValidators(1));
	register(1, 11);
	register(4, 12);
	// Principal large against the ~11 tokens per epoch, so compounding stays small.
	assert_ok!(Tessera::add_stake(origin(1), 11, PRINCIPAL));
	assert_ok!(Tessera::add_stake(origin(2), 11, 3 * PRINCIPAL));
	assert_ok!(Tessera::add_stake(origin(3), 11, 6 * PRINCIPAL));
	run_epoch(NET);
	run_to_block(System::block_number() + 1);
	assert_ok!(Tessera::set_weights(origin(11), NET, vec![1], vec![1], 0));
	let before = issuance();
	for _ in 0..epochs {
		run_epoch(NET);
	}
	before
}

#[test]
fn epoch_pays_miner_and_validator_pool_and_conserves_issuance() {
	new_test_ext().execute_with(|| {
		let miner_owner_before = free(4);
		let before = run_validator_miner_epochs(3);
		let paid: u128 = System::events()
			.iter()
			.filter_map(|r| match &r.event {
				RuntimeEvent::Tessera(Event::EpochCompleted { emitted, .. }) => Some(*emitted),
				_ => None,
			})
			.sum();
		assert!(paid > 0);
		// Issuance rises by exactly the paid emission (mints only; fees do not exist here).
		let paid_after_weights: u128 = paid - epoch_paid_before_weights();
		assert_eq!(issuance(), before + paid_after_weights);
		let m = Tessera::metagraph(NET).unwrap();
		assert!(m.neurons[0].validator_permit && !m.neurons[1].validator_permit);
		assert_eq!(m.neurons[1].incentive, u16::MAX);
		assert_eq!(m.neurons[0].dividends, u16::MAX);
		assert!(m.neurons[1].emission > 0 && m.neurons[0].emission > 0);
		assert!(free(4) > miner_owner_before);
		assert!(!Bonds::<Test>::get(NET, 0).is_empty());
	});
}

/// Emission paid by the first epoch (before any weights were set).
fn epoch_paid_before_weights() -> u128 {
	System::events()
		.iter()
		.find_map(|r| match &r.event {
			RuntimeEvent::Tessera(Event::EpochCompleted { emitted, .. }) => Some(*emitted),
			_ => None,
		})
		.unwrap_or(0)
}

#[test]
fn nominators_earn_pro_rata_minus_take_over_epochs() {
	new_test_ext().execute_with(|| {
		run_validator_miner_epochs(5);
		let v1 = Tessera::stake_value(&11, &1);
		let v2 = Tessera::stake_value(&11, &2);
		let v3 = Tessera::stake_value(&11, &3);
		let (g2, g3) = (v2 - 3 * PRINCIPAL, v3 - 6 * PRINCIPAL);
		assert!(g2 > 0 && g3 > 0);
		// Nominators 2 and 3 hold 3:6 of the non-take part: their gains keep that ratio.
		let ratio = g3 as f64 / g2 as f64;
		assert!((ratio - 2.0).abs() < 0.01, "{ratio}");
		// The owner earns its 10% share plus the 18% take on everything.
		let total_gain = (v1 - PRINCIPAL) + g2 + g3;
		let take = TAKE_18 as f64 / u16::MAX as f64;
		let expected_owner_gain = total_gain as f64 * (take + (1.0 - take) * 0.1);
		let owner_gain = (v1 - PRINCIPAL) as f64;
		assert!((owner_gain / expected_owner_gain - 1.0).abs() < 0.02, "{owner_gain} vs {expected_owner_gain}");
		// Everybody withdraws principal plus rewards.
		for (c, v) in [(1, v1), (2, v2), (3, v3)] {
			let before = free(c);
			assert_ok!(Tessera::remove_stake(origin(c), 11, v));
			assert_eq!(free(c), before + v);
			assert_eq!(held(c), 0);
		}
	});
}
