//! Free hotkey operations (`crate::feeless`): free exactly when the call would succeed,
//! at most once per block, and a registered hotkey has an account without a balance.

use super::*;
use frame_support::dispatch::CheckIfFeeless;

fn feeless(who: AccountId, call: Call<Test>) -> bool {
	RuntimeCall::Tessera(call).is_feeless(&origin(who))
}

fn serve(port: u16) -> Call<Test> {
	Call::serve_axon { netuid: NET, version: 1, ip: 0x01020304, port, ip_type: 4, protocol: 0 }
}

fn commit_model(byte: u8) -> Call<Test> {
	Call::commit_model { netuid: NET, model_hash: H256::repeat_byte(byte), tokenizer_hash: H256::zero() }
}

fn sufficients(who: AccountId) -> u32 {
	frame_system::Account::<Test>::get(who).sufficients
}

#[test]
fn serve_axon_is_free_only_when_it_would_succeed() {
	new_test_ext().execute_with(|| {
		assert!(!feeless(11, serve(8080)), "not registered: the call fails, so it pays");
		register(1, 11);
		let events = System::events().len();
		assert!(feeless(11, serve(8080)));
		// The check is a dry run: nothing it did stays.
		assert_eq!(Axons::<Test>::get(NET, 11), None);
		assert_eq!(System::events().len(), events);
		assert!(!feeless(11, serve(0)), "InvalidPort: pays");
		assert!(!RuntimeCall::Tessera(serve(8080)).is_feeless(&RuntimeOrigin::root()), "not a hotkey");
		assert!(!RuntimeCall::Tessera(serve(8080)).is_feeless(&RuntimeOrigin::none()));

		// Once per block even with no serving rate limit (the mock's is 0).
		assert_ok!(Tessera::serve_axon(origin(11), NET, 1, 0x01020304, 8080, 4, 0));
		assert!(!feeless(11, serve(8081)), "a second free serve in one block");
		run_to_block(2);
		assert!(feeless(11, serve(8081)));
		// With a rate limit, the call itself fails inside it, so it pays.
		set_param(Hyperparam::ServingRateLimit(5));
		assert!(!feeless(11, serve(8081)));
		run_to_block(6);
		assert!(feeless(11, serve(8081)));
	});
}

#[test]
fn commit_model_is_free_once_per_serving_rate_limit() {
	new_test_ext().execute_with(|| {
		register(1, 11);
		set_param(Hyperparam::ServingRateLimit(3));
		assert!(feeless(11, commit_model(7)));
		assert_eq!(ModelCommitments::<Test>::get(NET, 11), None, "dry run");
		assert_ok!(Tessera::commit_model(origin(11), NET, H256::repeat_byte(7), H256::zero()));
		assert!(!feeless(11, commit_model(7)), "ModelAlreadyCommitted: pays");
		// A new model inside the limit succeeds, but is paid for.
		run_to_block(3);
		assert!(!feeless(11, commit_model(8)));
		assert_ok!(Tessera::commit_model(origin(11), NET, H256::repeat_byte(8), H256::zero()));
		run_to_block(5);
		assert!(!feeless(11, commit_model(9)), "2 blocks after the last commitment");
		run_to_block(6);
		assert!(feeless(11, commit_model(9)));
	});
}

#[test]
fn set_weights_is_free_when_it_would_succeed_once_per_block() {
	new_test_ext().execute_with(|| {
		setup_validator(3, 1);
		run_to_block(System::block_number() + 1);
		let call = |dests: Vec<u16>| Call::set_weights { netuid: NET, dests, weights: vec![1, 3], version_key: 0 };
		assert!(feeless(11, call(vec![1, 2])));
		assert!(Weights::<Test>::get(NET, 0).is_empty(), "dry run");
		assert!(!feeless(11, call(vec![1, 1])), "DuplicateUids: pays");
		assert!(!feeless(11, call(vec![1, 9])), "InvalidUid: pays");
		assert!(!feeless(12, call(vec![0, 2])), "NoValidatorPermit: pays");
		assert_ok!(Tessera::set_weights(origin(11), NET, vec![1, 2], vec![1, 3], 0));
		assert!(!feeless(11, call(vec![1, 2])), "a second free set in one block");
		run_to_block(System::block_number() + 1);
		assert!(feeless(11, call(vec![1, 2])));
	});
}

#[test]
fn commit_and_reveal_are_free_when_they_would_succeed() {
	new_test_ext().execute_with(|| {
		setup_validator(3, 1);
		assert!(!feeless(11, Call::commit_weights { netuid: NET, hash: H256::zero() }), "CommitRevealDisabled");
		enable_commit_reveal();
		let (uids, values, salt) = (vec![1u16, 2], vec![10u16, 20], vec![7u16, 8, 9]);
		let hash = weights_commit_hash(&11u64, NET, &uids, &values, &salt, 0);
		let commit = Call::commit_weights { netuid: NET, hash };
		assert!(feeless(11, commit.clone()));
		assert!(!feeless(99, commit.clone()), "HotkeyNotRegistered");
		assert_ok!(Tessera::commit_weights(origin(11), NET, hash));
		assert!(!feeless(11, commit), "a second free commit in one block");

		let reveal = |salt: Vec<u16>| Call::reveal_weights {
			netuid: NET,
			uids: uids.clone(),
			values: values.clone(),
			salt,
			version_key: 0,
		};
		assert!(!feeless(11, reveal(salt.clone())), "RevealTooEarly");
		next_epoch();
		assert!(!feeless(11, reveal(vec![1])), "NoMatchingCommit");
		assert!(feeless(11, reveal(salt.clone())));
		assert_eq!(WeightCommits::<Test>::get(NET, 11).len(), 1, "dry run keeps the commit");
		assert_ok!(Tessera::reveal_weights(origin(11), NET, uids.clone(), values.clone(), salt.clone(), 0));
		assert!(!feeless(11, reveal(salt)), "the commit is consumed");
	});
}

#[test]
fn other_calls_always_pay() {
	new_test_ext().execute_with(|| {
		register(1, 11);
		assert!(!feeless(2, Call::add_stake { hotkey: 11, amount: 1_000 }));
		assert!(!feeless(1, Call::burned_register { netuid: NET, hotkey: 12 }));
		assert!(!feeless(1, Call::deregister { netuid: NET, hotkey: 11 }));
	});
}

#[test]
fn a_registered_hotkey_has_an_account_without_a_balance() {
	new_test_ext().execute_with(|| {
		assert_ok!(Tessera::sudo_register_network(RuntimeOrigin::root(), 2, Some(test_params())));
		assert!(!frame_system::Account::<Test>::contains_key(11));
		register(1, 11);
		assert_eq!(sufficients(11), 1);
		assert_eq!(free(11), 0);
		assert_ok!(Tessera::burned_register(origin(1), 2, 11));
		assert_eq!(sufficients(11), 1, "one reference however many subnets");
		assert_ok!(Tessera::deregister(origin(1), NET, 11));
		assert_eq!(sufficients(11), 1, "still on subnet 2");
		assert_ok!(Tessera::deregister(origin(1), 2, 11));
		assert!(!frame_system::Account::<Test>::contains_key(11), "gone with its last uid");
		assert!(!HotkeyNetworks::<Test>::contains_key(11));

		// Pruning takes the reference of the pruned hotkey with its uid.
		for hot in 20..28 {
			register(1, hot);
		}
		assert_eq!(SubnetN::<Test>::get(NET), 8, "full");
		run_to_block(2);
		let pruned = Keys::<Test>::get(NET, Tessera::neuron_to_prune(NET, &test_params(), 2).unwrap()).unwrap();
		register(1, 28);
		assert_eq!(Uids::<Test>::get(NET, pruned), None);
		assert_eq!(sufficients(pruned), 0);
		assert_eq!(sufficients(28), 1);
	});
}

#[test]
fn migration_to_v4_gives_registered_hotkeys_their_reference_and_indexes_stake() {
	use frame_support::traits::{GetStorageVersion, Hooks, StorageVersion};
	new_test_ext().execute_with(|| {
		// A v3 chain: hotkeys registered with no reference, and an empty entry left behind.
		HotkeyNetworks::<Test>::insert(11, vec![NET]);
		HotkeyNetworks::<Test>::insert(12, Vec::<NetUid>::new());
		// ... and stake positions without the coldkey index.
		Stake::<Test>::insert(11, 2, StakePosition { shares: 5, principal: 5 });
		Stake::<Test>::insert(12, 2, StakePosition { shares: 7, principal: 7 });
		StorageVersion::new(3).put::<Tessera>();
		assert_eq!(sufficients(11), 0);
		assert!(Tessera::coldkey_info(2).positions.is_empty());

		<Tessera as Hooks<u64>>::on_runtime_upgrade();
		assert_eq!(Tessera::on_chain_storage_version(), 4);
		assert_eq!(sufficients(11), 1);
		assert!(!HotkeyNetworks::<Test>::contains_key(12));
		let mut indexed: Vec<_> = StakingHotkeys::<Test>::iter_key_prefix(2).collect();
		indexed.sort();
		assert_eq!(indexed, vec![11, 12]);
		<Tessera as Hooks<u64>>::on_runtime_upgrade();
		assert_eq!(sufficients(11), 1, "runs once");
	});
}
