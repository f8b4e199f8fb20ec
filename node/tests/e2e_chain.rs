//! End-to-end: a real `tessera-node --dev`, driven through `tessera-client`.

mod common;

use common::{start_dev_node, wait_for};
use std::{net::Ipv4Addr, time::Duration};
use tessera_client::{
	chain::account_of,
	keys::{self, dev},
	ClientError, Hyperparam, TesseraClient, H256, TOKEN,
};

const NET: u16 = 1;

/// Wait until `n` more blocks are finalized.
async fn wait_blocks(client: &TesseraClient, n: u64) {
	let start = client.finalized_number().await.unwrap();
	wait_for(Duration::from_secs(60), "blocks", || async {
		(client.finalized_number().await.ok()? >= start + n).then_some(())
	})
	.await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_serve_commit_stake_weights_and_restart() {
	let dir = tempfile::tempdir().unwrap();
	let base = dir.path().join("chain");
	let mut node = start_dev_node(&base).await.unwrap();
	let client = node.client().await;

	let alice = dev("alice").unwrap();
	let bob = dev("bob").unwrap();
	let validator = keys::from_uri(&format!("{}//validator", keys::generate_phrase())).unwrap();
	let miner = keys::from_uri(&format!("{}//miner", keys::generate_phrase())).unwrap();
	let (validator_id, miner_id) = (account_of(&validator), account_of(&miner));

	// Only one validator permit, so the unstaked miner never gets one.
	client.sudo_set_hyperparam(&alice, NET, Hyperparam::MaxAllowedValidators(1)).await.unwrap();
	assert_eq!(client.hyperparams(NET).await.unwrap().max_allowed_validators, 1);

	let bob_before = client.free_balance(&account_of(&bob)).await.unwrap();
	assert_eq!(client.burned_register(&alice, NET, &validator_id).await.unwrap(), 0);
	assert_eq!(client.burned_register(&bob, NET, &miner_id).await.unwrap(), 1);
	let burn = client.hyperparams(NET).await.unwrap().burn;
	assert!(client.free_balance(&account_of(&bob)).await.unwrap() <= bob_before - burn);

	// The hotkeys have no balance: a registered hotkey's own operations are free when
	// they succeed (serve_axon, commit_model and set_weights here).
	assert_eq!(client.free_balance(&miner_id).await.unwrap(), 0);
	client.serve_axon(&miner, NET, Ipv4Addr::new(127, 0, 0, 1).into(), 50051, 7).await.unwrap();
	let model = H256::repeat_byte(0xab);
	let tokenizer = H256::repeat_byte(0xcd);
	client.commit_model(&miner, NET, model, tokenizer).await.unwrap();
	let before = client.stake_of(&validator_id, &account_of(&alice)).await.unwrap();
	client.add_stake(&alice, &validator_id, 1_000 * TOKEN).await.unwrap();
	// Epochs may already have paid the (unweighted, stake-fallback) emission into the pool.
	assert!(client.stake_of(&validator_id, &account_of(&alice)).await.unwrap() >= before + 1_000 * TOKEN);

	// The next epoch hands the permit to the staked validator.
	wait_for(Duration::from_secs(90), "validator permit", || async {
		let m = client.metagraph(NET).await.ok()?;
		m.neurons.first()?.validator_permit.then_some(())
	})
	.await;
	client.set_weights(&validator, NET, vec![1], vec![100], 0).await.unwrap();
	for id in [&validator_id, &miner_id] {
		assert_eq!(client.free_balance(id).await.unwrap(), 0, "free operations cost nothing");
	}

	let m = client.metagraph(NET).await.unwrap();
	assert_eq!(m.neurons.len(), 2);
	let (v, mi) = (&m.neurons[0], &m.neurons[1]);
	assert_eq!((v.hotkey.clone(), v.coldkey.clone()), (validator_id.clone(), account_of(&alice)));
	assert!(v.stake >= 1_000 * TOKEN);
	assert!(v.validator_permit && !mi.validator_permit);
	assert_eq!(v.weights, vec![(1, u16::MAX)]);
	assert_eq!(mi.hotkey, miner_id);
	let axon = mi.axon.clone().expect("miner axon");
	assert_eq!((axon.ip, axon.port, axon.ip_type, axon.version), (0x7f000001, 50051, 4, 7));
	let commitment = mi.model.clone().expect("model commitment");
	assert_eq!((commitment.model_hash, commitment.tokenizer_hash), (model, tokenizer));
	assert_eq!(client.neuron(NET, 1).await.unwrap(), mi.clone());

	// Invalid extrinsics come back as named pallet errors; the chain keeps going.
	// (The rate limit, 2 blocks on the dev subnet, is checked before the uids.)
	wait_blocks(&client, 3).await;
	// A call that would fail is not free, and an unfunded hotkey cannot pay for it.
	let err = client.set_weights(&validator, NET, vec![7], vec![1], 0).await.unwrap_err();
	assert!(matches!(&err, ClientError::Rejected(m) if m.contains("pay")), "{err}");
	for id in [&validator_id, &miner_id] {
		client.transfer(&alice, id, 10 * TOKEN).await.unwrap();
	}
	let err = client.set_weights(&validator, NET, vec![7], vec![1], 0).await.unwrap_err();
	assert!(err.is("Tessera", "InvalidUid"), "{err}");
	let err = client.set_weights(&validator, NET, vec![0, 1, 1], vec![1, 1, 1], 0).await.unwrap_err();
	assert!(err.is("Tessera", "TooManyWeights"), "{err}");
	let err = client.set_weights(&miner, NET, vec![0], vec![1], 0).await.unwrap_err();
	assert!(err.is("Tessera", "NoValidatorPermit"), "{err}");
	// Each failed call paid its fee.
	for id in [&validator_id, &miner_id] {
		assert!(client.free_balance(id).await.unwrap() < 10 * TOKEN, "a failed call pays");
	}
	let err = client.burned_register(&alice, NET, &validator_id).await.unwrap_err();
	assert!(err.is("Tessera", "HotkeyAlreadyRegistered"), "{err}");
	let err = client.sudo_set_hyperparam(&alice, NET, Hyperparam::Tempo(0)).await.unwrap_err();
	assert!(err.is("Tessera", "InvalidHyperparameter"), "{err}");
	let err = client.sudo_set_hyperparam(&bob, NET, Hyperparam::Tempo(5)).await.unwrap_err();
	assert!(err.is("Sudo", "RequireSudo"), "{err}");
	wait_blocks(&client, 2).await;

	// The next epochs turn the weights into incentive and pay the miner's owner.
	let paid = wait_for(Duration::from_secs(90), "miner incentive", || async {
		let m = client.metagraph(NET).await.ok()?;
		(m.neurons[1].incentive == u16::MAX && m.neurons[1].emission > 0).then_some(m)
	})
	.await;
	assert_eq!(paid.neurons[0].dividends, u16::MAX);
	// Every further epoch pays the miner's owner (Bob) again.
	let bob_before = client.free_balance(&account_of(&bob)).await.unwrap();
	let tempo = client.hyperparams(NET).await.unwrap().tempo as u64;
	wait_blocks(&client, tempo + 2).await;
	assert!(client.free_balance(&account_of(&bob)).await.unwrap() > bob_before);

	// Stop and restart on the same base path: the state is still there.
	let stake_before_stop = client.metagraph(NET).await.unwrap().neurons[0].stake;
	let height = client.finalized_number().await.unwrap();
	drop(client);
	node.stop();
	let node = start_dev_node(&base).await.unwrap();
	let client = node.client().await;
	assert!(client.finalized_number().await.unwrap() >= height);
	let again = client.metagraph(NET).await.unwrap();
	assert_eq!(again.neurons.len(), 2);
	assert_eq!(again.neurons[1].model, mi.model);
	assert!(again.neurons[0].stake >= stake_before_stop);
	assert_eq!(again.neurons[0].weights, vec![(1, u16::MAX)]);
	wait_blocks(&client, 2).await;
}
