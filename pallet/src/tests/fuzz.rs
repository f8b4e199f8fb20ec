//! Fuzzing every call of the pallet: seeded random sequences of calls, with random origins
//! and arguments drawn mostly from the accounts, subnets and uids in play (so that calls
//! get past their first checks) and sometimes from anywhere, with blocks (and epochs) in
//! between. After every step:
//! - nothing panicked;
//! - a failed call failed with a named pallet error (or `BadOrigin`) and changed no
//!   storage at all (same state root);
//! - a successful call's actual weight is at most what it declared before dispatch;
//! - every invariant of [`crate::invariants`] holds, and so do the balances: total
//!   issuance is the sum of all accounts, and every account's staking hold is the
//!   principal of its positions.
//!
//! CI runs `FUZZ_CASES` sequences from a fixed seed in seconds; `scripts/fuzz.sh` runs
//! many more (`TESSERA_FUZZ_CASES`, `TESSERA_FUZZ_SEED`).

use super::fraud::{evidence_signed_by, MODEL};
use crate::{mock::*, weights::weights_commit_hash, *};
use frame_support::{
	dispatch::GetDispatchInfo,
	traits::{fungible::Inspect, GetCallName},
};
use proptest::{
	collection::vec,
	prelude::*,
	test_runner::{Config, RngSeed, TestCaseError, TestRunner},
};
use sp_core::H256;
use sp_runtime::{traits::Dispatchable, DispatchError};

/// Sequences per CI run, and steps per sequence.
const FUZZ_CASES: u32 = 48;
const STEPS: usize = 40;
/// The seed of CI runs.
const FUZZ_SEED: u64 = 0x7e55_e7a0;

/// Who signs a call.
#[derive(Clone, Debug)]
enum Who {
	Signed(AccountId),
	Root,
	Unsigned,
}

/// One step of a sequence.
#[derive(Clone, Debug)]
enum Step {
	Call(Who, Call<Test>),
	/// Commit the hash of these weights, wait, reveal them (both through `commit_weights`
	/// and `reveal_weights`, so the reveal can succeed).
	CommitReveal { hotkey: AccountId, netuid: NetUid, uids: Vec<Uid>, values: Vec<u16>, salt: Vec<u16>, wait: u8 },
	/// `remove_stake` of `amount`, capped at the position's value when it runs.
	Withdraw { coldkey: AccountId, hotkey: AccountId, amount: Balance },
	/// `report_fraud` on subnet 1 with valid evidence against `uid` as it stands when it
	/// runs (signed by its hotkey, naming its committed model).
	Report { reporter: AccountId, uid: Uid },
	/// `report_escrowed` on subnet 1 with valid evidence against the escrowed `hotkey`
	/// (its signature, the model it had committed).
	ReportEscrowed { reporter: AccountId, hotkey: AccountId },
	/// Advance this many blocks (`on_initialize`, epochs, escrow sweeps).
	Blocks(u8),
}

/// Mostly the funded coldkeys (1..=9, 100..=109) and hotkeys (11..=16 registered at the
/// start, 17..=26 not), sometimes anyone.
fn account() -> impl Strategy<Value = AccountId> {
	prop_oneof![3 => 1..=9u64, 4 => 11..=16u64, 1 => 17..=26u64, 1 => 100..=109u64, 1 => any::<u64>()]
}

/// The signer of a call a hotkey makes: mostly a hotkey.
fn hotkey_signer() -> impl Strategy<Value = Who> {
	prop_oneof![8 => prop_oneof![4 => 11..=16u64, 1 => 17..=26u64].prop_map(Who::Signed), 1 => account().prop_map(Who::Signed), 1 => Just(Who::Unsigned)]
}

/// The signer of a call a coldkey makes: mostly a funded coldkey.
fn coldkey_signer() -> impl Strategy<Value = Who> {
	prop_oneof![8 => prop_oneof![1..=9u64, 100..=109u64].prop_map(Who::Signed), 1 => account().prop_map(Who::Signed), 1 => Just(Who::Unsigned)]
}

/// The signer of a root call: mostly root.
fn root_signer() -> impl Strategy<Value = Who> {
	prop_oneof![8 => Just(Who::Root), 1 => account().prop_map(Who::Signed), 1 => Just(Who::Unsigned)]
}

/// Subnet 1 (audits on), subnet 2 (commit-reveal), or any.
fn netuid() -> impl Strategy<Value = NetUid> {
	prop_oneof![6 => Just(1u16), 3 => Just(2u16), 1 => any::<u16>()]
}

/// A position of the seed state: coldkey `100 + i` in hotkey `10 + i`'s pool.
fn position() -> impl Strategy<Value = (AccountId, AccountId)> {
	(1..=4u64).prop_map(|i| (100 + i, 10 + i))
}

fn uid() -> impl Strategy<Value = Uid> {
	prop_oneof![6 => 0..10u16, 1 => any::<u16>()]
}

fn amount() -> impl Strategy<Value = Balance> {
	prop_oneof![
		1 => Just(0u128),
		2 => 1..=200u128,
		3 => 1_000..=1_000_000u128,
		1 => 1_000_000_000..=INITIAL,
		1 => any::<u128>(),
	]
}

fn weights_of_len() -> impl Strategy<Value = (Vec<Uid>, Vec<u16>)> {
	prop_oneof![
		4 => proptest::sample::subsequence((0..6u16).collect::<Vec<_>>(), 1..=6).prop_flat_map(|uids| {
			let n = uids.len();
			(Just(uids), vec(1..=u16::MAX, n))
		}),
		2 => (0..10usize).prop_flat_map(|n| (vec(uid(), n), vec(any::<u16>(), n))),
		1 => (vec(uid(), 0..12), vec(any::<u16>(), 0..12)),
	]
}

fn hash() -> impl Strategy<Value = H256> {
	prop_oneof![Just(MODEL), Just(H256::zero()), any::<[u8; 32]>().prop_map(H256)]
}

fn hyperparam() -> impl Strategy<Value = Hyperparam> {
	use Hyperparam::*;
	let small = || prop_oneof![0..=20u16, any::<u16>()];
	let block = || prop_oneof![0..=30u64, any::<u64>()];
	prop_oneof![
		small().prop_map(Tempo),
		any::<u16>().prop_map(Kappa),
		any::<u64>().prop_map(BondsMovingAverage),
		any::<bool>().prop_map(Yuma3Enabled),
		any::<bool>().prop_map(LiquidAlphaEnabled),
		(any::<u16>(), any::<u16>()).prop_map(|(low, high)| AlphaValues { low, high }),
		small().prop_map(MaxAllowedUids),
		small().prop_map(MaxAllowedValidators),
		small().prop_map(MinAllowedWeights),
		any::<u16>().prop_map(MaxWeightLimit),
		small().prop_map(ImmunityPeriod),
		small().prop_map(ActivityCutoff),
		block().prop_map(WeightsRateLimit),
		block().prop_map(ServingRateLimit),
		block().prop_map(WeightsVersionKey),
		any::<bool>().prop_map(CommitRevealEnabled),
		block().prop_map(CommitRevealPeriod),
		amount().prop_map(Burn),
		(amount(), amount()).prop_map(|(min, max)| BurnBounds { min, max }),
		small().prop_map(TargetRegistrationsPerInterval),
		small().prop_map(AdjustmentInterval),
		small().prop_map(MaxRegistrationsPerBlock),
		any::<bool>().prop_map(RegistrationAllowed),
		amount().prop_map(WeightsMinStake),
		hash().prop_map(TokenizerHash),
		any::<bool>().prop_map(AllowLocalAxons),
		any::<bool>().prop_map(AuditsEnabled),
		amount().prop_map(MinerBond),
		any::<u16>().prop_map(FraudThreshold),
		block().prop_map(FraudWindow),
		any::<bool>().prop_map(SlashToReporters),
		any::<u64>().prop_map(MaxModelBytes),
	]
}

/// Fraud evidence: signed by the miner for the reporter (valid when the model is its
/// commitment), signed by someone else, or garbage.
fn evidence() -> impl Strategy<Value = FraudEvidence> {
	let signed = (account(), account(), account(), hash()).prop_map(|(signer, reporter, miner, model)| {
		let mut e = evidence_signed_by(signer, reporter, miner, model);
		if signer % 2 == 0 {
			e.signature = evidence_signed_by(miner, reporter, miner, model).signature;
		}
		e
	});
	let garbage = (hash(), 0..4usize, any::<u32>(), any::<[u8; 32]>()).prop_map(|(model_hash, n, index, seed)| {
		let digests: Vec<AnswerDigest> =
			(0..n).map(|i| AnswerDigest { position: i as u32, context: seed, distribution: seed }).collect();
		FraudEvidence {
			model_hash,
			digests: digests.try_into().expect("at most 4 digests"),
			index,
			signature: [seed[0]; 64],
			evidence_hash: H256(seed),
		}
	});
	prop_oneof![3 => signed, 1 => garbage]
}

/// A call with a signer of the kind it expects (most of the time).
fn call() -> impl Strategy<Value = Step> {
	prop_oneof![
		4 => (coldkey_signer(), netuid(), account()).prop_map(|(w, netuid, hotkey)| Step::Call(w, Call::burned_register { netuid, hotkey })),
		2 => (hotkey_signer(), netuid(), any::<u32>(), prop_oneof![Just(0x0808_0808u128), any::<u128>()], prop_oneof![Just(8080u16), any::<u16>()], prop_oneof![Just(4u8), 0..7u8], 0..3u8)
			.prop_map(|(w, netuid, version, ip, port, ip_type, protocol)| Step::Call(w, Call::serve_axon { netuid, version, ip, port, ip_type, protocol })),
		2 => (hotkey_signer(), netuid(), hash(), prop_oneof![3 => Just(H256::zero()), 1 => hash()])
			.prop_map(|(w, netuid, model_hash, tokenizer_hash)| Step::Call(w, Call::commit_model { netuid, model_hash, tokenizer_hash })),
		2 => (coldkey_signer(), account(), amount()).prop_map(|(w, hotkey, amount)| Step::Call(w, Call::add_stake { hotkey, amount })),
		2 => (prop_oneof![1..=9u64, 100..=109u64], 11..=16u64, 100..=100_000u128)
			.prop_map(|(c, hotkey, amount)| Step::Call(Who::Signed(c), Call::add_stake { hotkey, amount })),
		1 => (coldkey_signer(), account(), amount()).prop_map(|(w, hotkey, amount)| Step::Call(w, Call::remove_stake { hotkey, amount })),
		3 => (position(), prop_oneof![1..=60_000u128, Just(u128::MAX)]).prop_map(|((coldkey, hotkey), amount)| Step::Withdraw { coldkey, hotkey, amount }),
		1 => (coldkey_signer(), account(), any::<u16>()).prop_map(|(w, hotkey, take)| Step::Call(w, Call::set_delegate_take { hotkey, take })),
		1 => (1..=6u64, 0..=TAKE_18).prop_map(|(i, take)| Step::Call(Who::Signed(i), Call::set_delegate_take { hotkey: 10 + i, take })),
		4 => (hotkey_signer(), netuid(), weights_of_len(), prop_oneof![Just(0u64), any::<u64>()])
			.prop_map(|(w, netuid, (dests, weights), version_key)| Step::Call(w, Call::set_weights { netuid, dests, weights, version_key })),
		1 => (hotkey_signer(), netuid(), hash()).prop_map(|(w, netuid, hash)| Step::Call(w, Call::commit_weights { netuid, hash })),
		1 => (hotkey_signer(), netuid(), weights_of_len(), vec(any::<u16>(), 0..4), any::<u64>()).prop_map(|(w, netuid, (uids, values), salt, version_key)| {
			Step::Call(w, Call::reveal_weights { netuid, uids, values, salt, version_key })
		}),
		1 => (root_signer(), prop_oneof![1..=4u16, any::<u16>()], prop_oneof![Just(None), small_tempo_params()])
			.prop_map(|(w, netuid, params)| Step::Call(w, Call::sudo_register_network { netuid, params })),
		4 => (root_signer(), netuid(), hyperparam()).prop_map(|(w, netuid, param)| Step::Call(w, Call::sudo_set_hyperparam { netuid, param })),
		1 => (root_signer(), netuid(), any::<u16>()).prop_map(|(w, netuid, share)| Step::Call(w, Call::sudo_set_emission_share { netuid, share })),
		1 => (hotkey_signer(), netuid(), uid(), evidence()).prop_map(|(w, netuid, uid, evidence)| Step::Call(w, Call::report_fraud { netuid, uid, evidence })),
		3 => (11..=14u64, 4..=5u16).prop_map(|(reporter, uid)| Step::Report { reporter, uid }),
		1 => (coldkey_signer(), netuid(), account()).prop_map(|(w, netuid, hotkey)| Step::Call(w, Call::deregister { netuid, hotkey })),
		1 => (coldkey_signer(), netuid(), account()).prop_map(|(w, netuid, hotkey)| Step::Call(w, Call::release_escrow { netuid, hotkey })),
		1 => (5..=6u64, netuid()).prop_map(|(owner, netuid)| Step::Call(Who::Signed(owner), Call::deregister { netuid, hotkey: owner + 10 })),
		1 => (coldkey_signer(), 15..=16u64).prop_map(|(w, hotkey)| Step::Call(w, Call::release_escrow { netuid: 1, hotkey })),
		2 => (11..=14u64, 15..=16u64).prop_map(|(reporter, hotkey)| Step::ReportEscrowed { reporter, hotkey }),
		1 => (hotkey_signer(), netuid(), account(), evidence()).prop_map(|(w, netuid, hotkey, evidence)| Step::Call(w, Call::report_escrowed { netuid, hotkey, evidence })),
	]
}

fn small_tempo_params() -> impl Strategy<Value = Option<SubnetHyperparams>> {
	(0..=12u16).prop_map(|tempo| Some(SubnetHyperparams { tempo, ..test_params() }))
}

fn step() -> impl Strategy<Value = Step> {
	let commit_reveal = (11..=16u64, prop_oneof![1 => Just(1u16), 3 => Just(2u16)], weights_of_len(), vec(any::<u16>(), 0..4), 0..30u8)
		.prop_map(|(hotkey, netuid, (uids, values), salt, wait)| Step::CommitReveal { hotkey, netuid, uids, values, salt, wait });
	prop_oneof![12 => call(), 1 => commit_reveal, 3 => (1..=12u8).prop_map(Step::Blocks)]
}

/// The state every sequence starts from: audits on subnet 1 (bond 5 000, reports count
/// 20 blocks); subnet 2
/// with commit-reveal; hotkeys 11..=16 (owned by 1..=6) registered on both, 15 and 16
/// with a committed model on subnet 1; pools of 11..=14 staked by 101..=104; one epoch
/// run on each (permits, epoch stake).
fn seed_state() {
	use frame_support::assert_ok;
	let root = RuntimeOrigin::root;
	assert_ok!(Tessera::sudo_set_hyperparam(root(), 1, Hyperparam::AuditsEnabled(true)));
	assert_ok!(Tessera::sudo_set_hyperparam(root(), 1, Hyperparam::MinerBond(5_000)));
	assert_ok!(Tessera::sudo_set_hyperparam(root(), 1, Hyperparam::FraudWindow(20)));
	let commit_reveal = SubnetHyperparams { commit_reveal_enabled: true, commit_reveal_period: 1, ..test_params() };
	assert_ok!(Tessera::sudo_register_network(root(), 2, Some(commit_reveal)));
	for i in 0..6u64 {
		for netuid in [1, 2] {
			assert_ok!(Tessera::burned_register(RuntimeOrigin::signed(1 + i), netuid, 11 + i));
		}
	}
	for hotkey in [15, 16] {
		assert_ok!(Tessera::commit_model(RuntimeOrigin::signed(hotkey), 1, MODEL, H256::zero()));
	}
	for i in 0..4u64 {
		frame_support::assert_ok!(Tessera::add_stake(RuntimeOrigin::signed(101 + i), 11 + i, 10_000 * (i as u128 + 1)));
	}
	run_epoch(1);
	run_epoch(2);
}

fn origin_of(who: &Who) -> RuntimeOrigin {
	match who {
		Who::Signed(a) => RuntimeOrigin::signed(*a),
		Who::Root => RuntimeOrigin::root(),
		Who::Unsigned => RuntimeOrigin::none(),
	}
}

/// Totals over the fuzz run: what was tried and how it ended.
#[derive(Default, Debug)]
struct Tally {
	sequences: u64,
	calls: u64,
	succeeded: u64,
	blocks: u64,
	/// Per call: dispatched, succeeded.
	by_call: std::collections::BTreeMap<&'static str, (u64, u64)>,
}

/// Dispatches `call` as `who` and checks what any call must do: a named error and no
/// change on failure, actual weight within the declared one on success.
fn dispatch(who: &Who, call: Call<Test>, tally: &mut Tally) -> Result<(), TestCaseError> {
	let name = call.get_call_name();
	let call = RuntimeCall::Tessera(call);
	let declared = call.get_dispatch_info().call_weight;
	let root_before = sp_io::storage::root(sp_runtime::StateVersion::V1);
	tally.calls += 1;
	let counts = tally.by_call.entry(name).or_default();
	counts.0 += 1;
	match call.clone().dispatch(origin_of(who)) {
		Ok(post) => {
			tally.succeeded += 1;
			counts.1 += 1;
			let actual = post.actual_weight.unwrap_or(declared);
			prop_assert!(actual.all_lte(declared), "{call:?}: actual weight {actual:?} over declared {declared:?}");
		},
		Err(e) => {
			prop_assert!(
				matches!(e.error, DispatchError::Module(_) | DispatchError::BadOrigin),
				"{call:?} as {who:?} failed without a named error: {:?}",
				e.error
			);
			let root_after = sp_io::storage::root(sp_runtime::StateVersion::V1);
			prop_assert_eq!(root_before, root_after, "{:?} failed ({:?}) but changed storage", call, e.error);
		},
	}
	Ok(())
}

/// Total issuance is the sum of all accounts; each account's staking hold is the principal
/// of its positions (also for accounts with none).
fn check_balances() -> Result<(), TestCaseError> {
	let mut total = 0u128;
	for (who, info) in frame_system::Account::<Test>::iter() {
		total += info.data.free + info.data.reserved;
		let principal: u128 = StakingHotkeys::<Test>::iter_key_prefix(who)
			.filter_map(|hot| Stake::<Test>::get(hot, who))
			.map(|p| p.principal)
			.sum();
		prop_assert_eq!(super::held(who), principal, "account {}'s staking hold is not its principal", who);
	}
	prop_assert_eq!(total, <Balances as Inspect<AccountId>>::total_issuance(), "issuance is not the sum of accounts");
	Ok(())
}

fn run_sequence(steps: &[Step], tally: &mut Tally) -> Result<(), TestCaseError> {
	tally.sequences += 1;
	new_test_ext().execute_with(|| {
		seed_state();
		for step in steps {
			match step.clone() {
				Step::Call(who, call) => dispatch(&who, call, tally)?,
				Step::CommitReveal { hotkey, netuid, uids, values, salt, wait } => {
					let version_key = Hyperparams::<Test>::get(netuid).map(|p| p.weights_version_key).unwrap_or(0);
					let hash = weights_commit_hash(&hotkey, netuid, &uids, &values, &salt, version_key);
					dispatch(&Who::Signed(hotkey), Call::commit_weights { netuid, hash }, tally)?;
					run_to_block(System::block_number() + u64::from(wait));
					tally.blocks += u64::from(wait);
					let reveal = Call::reveal_weights { netuid, uids, values, salt, version_key };
					dispatch(&Who::Signed(hotkey), reveal, tally)?;
				},
				Step::Withdraw { coldkey, hotkey, amount } => {
					let amount = amount.min(Tessera::stake_value(&hotkey, &coldkey)).max(1);
					dispatch(&Who::Signed(coldkey), Call::remove_stake { hotkey, amount }, tally)?;
				},
				Step::Report { reporter, uid } => {
					let miner = Keys::<Test>::get(1, uid).unwrap_or(0);
					let model = ModelCommitments::<Test>::get(1, miner).map_or(MODEL, |c| c.model_hash);
					let evidence = evidence_signed_by(miner, reporter, miner, model);
					dispatch(&Who::Signed(reporter), Call::report_fraud { netuid: 1, uid, evidence }, tally)?;
				},
				Step::ReportEscrowed { reporter, hotkey } => {
					let model = EscrowedBonds::<Test>::get(1, hotkey).and_then(|e| e.model_hash).unwrap_or(MODEL);
					let evidence = evidence_signed_by(hotkey, reporter, hotkey, model);
					dispatch(&Who::Signed(reporter), Call::report_escrowed { netuid: 1, hotkey, evidence }, tally)?;
				},
				Step::Blocks(n) => {
					run_to_block(System::block_number() + u64::from(n));
					tally.blocks += u64::from(n);
				},
			}
			Tessera::do_try_state().map_err(|e| TestCaseError::fail(format!("after {step:?}: {e:?}")))?;
			check_balances()?;
		}
		Ok(())
	})
}

/// The fuzz run's size and seed: `TESSERA_FUZZ_CASES` / `TESSERA_FUZZ_SEED` when set.
fn fuzz_config() -> Config {
	let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
	Config {
		cases: env("TESSERA_FUZZ_CASES").map_or(FUZZ_CASES, |c| c as u32),
		rng_seed: RngSeed::Fixed(env("TESSERA_FUZZ_SEED").unwrap_or(FUZZ_SEED)),
		failure_persistence: None,
		..Config::default()
	}
}

#[test]
fn random_call_sequences_keep_every_invariant() {
	let mut runner = TestRunner::new(fuzz_config());
	let tally = std::cell::RefCell::new(Tally::default());
	let result = runner.run(&vec(step(), 1..=STEPS), |steps| run_sequence(&steps, &mut tally.borrow_mut()));
	let tally = tally.into_inner();
	println!(
		"pallet fuzz: {} sequences (with shrinking), {} calls ({} succeeded), {} blocks",
		tally.sequences, tally.calls, tally.succeeded, tally.blocks
	);
	for (name, (tried, ok)) in &tally.by_call {
		println!("  {name}: {tried} dispatched, {ok} succeeded");
	}
	if let Err(e) = result {
		panic!("{e}");
	}
	let never: Vec<_> = tally.by_call.iter().filter(|(_, (_, ok))| *ok == 0).map(|(n, _)| *n).collect();
	println!("  never succeeded: {never:?}");
	assert!(tally.succeeded * 10 >= tally.calls, "under 10% of calls succeed: the fuzzer does not get past the checks");
}

/// The invariants are not vacuous: each corruption of a consistent state is caught.
#[test]
fn invariants_catch_corrupted_storage() {
	let corruptions: [(&str, fn()); 6] = [
		("TotalStake off by one", || TotalStake::<Test>::mutate(|t| *t += 1)),
		("a uid's key removed", || Keys::<Test>::remove(1, 0)),
		("a pool's shares changed", || TotalHotkeyShares::<Test>::mutate(11, |s| *s += 1)),
		("a position without its index", || StakingHotkeys::<Test>::remove(101, 11)),
		("an epoch vector shortened", || Rank::<Test>::mutate(1, |r| { r.pop(); })),
		("a vacant uid that is held", || VacantUids::<Test>::insert(1, vec![0])),
	];
	for (what, corrupt) in corruptions {
		new_test_ext().execute_with(|| {
			frame_support::assert_ok!(Tessera::burned_register(RuntimeOrigin::signed(1), 1, 11));
			frame_support::assert_ok!(Tessera::add_stake(RuntimeOrigin::signed(101), 11, 5_000));
			Tessera::do_try_state().expect("consistent before");
			corrupt();
			assert!(Tessera::do_try_state().is_err(), "{what} was not caught");
		});
	}
}
