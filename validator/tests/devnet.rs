//! End-to-end on a real dev node with real miner processes: a strong miner (the default
//! model) and a weak one (a tiny random llama with the same tokenizer). The validator
//! (its binary) says so when it has no permit, then sets weights favouring the strong
//! miner, and incentive follows at the next epoch. With commit-reveal on, a validator
//! killed after committing is restarted and completes the reveal, keeping its scores.

mod common;

use std::time::Duration;

use common::{metrics, miner, validator, wait_log};

use tessera_client::{
	chain::account_of,
	devnode::{free_port, wait_for, workspace_binary, DevNode},
	keys::dev,
	Hyperparam, TesseraClient, H256, TOKEN,
};
use tessera_validator::store::Store;

const NET: u16 = 1;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strong_miner_wins_weights_and_incentive_and_commit_reveal_survives_a_restart() {
	let dir = tempfile::tempdir().unwrap();
	let (tok, ct) = common::tokenizer();
	let node = DevNode::start(&dir.path().join("chain")).await.unwrap();
	let client: TesseraClient = node.client().await;
	let url = node.url.clone();
	let (alice, bob, charlie) = (dev("alice").unwrap(), dev("bob").unwrap(), dev("charlie").unwrap());

	client.sudo_set_hyperparam(&alice, NET, Hyperparam::MaxAllowedValidators(1)).await.unwrap();
	client.sudo_set_hyperparam(&alice, NET, Hyperparam::TokenizerHash(H256(tok.hash()))).await.unwrap();
	assert_eq!(client.burned_register(&alice, NET, &account_of(&alice)).await.unwrap(), 0);
	assert_eq!(client.burned_register(&bob, NET, &account_of(&bob)).await.unwrap(), 1);
	assert_eq!(client.burned_register(&charlie, NET, &account_of(&charlie)).await.unwrap(), 2);

	// Private evaluation text, and the weak model.
	let data = dir.path().join("eval");
	std::fs::create_dir_all(&data).unwrap();
	for d in common::corpus(24, 6000, 3).docs {
		std::fs::write(data.join(&d.name), &d.text).unwrap();
	}
	let weak = common::weak_model(dir.path(), &ct);
	let db = dir.path().join("validator.redb");
	let prom = free_port();

	// The validator starts before it has stake: no permit, and it says so.
	let mut v = validator("//Alice", &url, &data, &db, prom, &[], dir.path().join("validator-1.log"));
	let miner_bin = workspace_binary("tessera-miner", "TESSERA_MINER_BIN").unwrap();
	let strong = miner(&miner_bin, "//Bob", &url, None, dir.path().join("strong.log"));
	let weak_miner = miner(&miner_bin, "//Charlie", &url, Some(&weak), dir.path().join("weak.log"));
	wait_log(&v, "NO VALIDATOR PERMIT", 120).await;
	assert!(metrics(prom).contains("tessera_validator_validator_permit 0"), "{}", metrics(prom));
	wait_for(Duration::from_secs(120), "miners announced", || async {
		let m = client.metagraph(NET).await.ok()?;
		m.neurons.iter().filter(|n| n.axon.is_some() && n.model.as_ref().is_some_and(|c| c.tokenizer_hash.0 == tok.hash())).count().eq(&2).then_some(())
	})
	.await;

	// Stake: the next epoch hands the permit over; rounds score both miners and the
	// weights favour the strong one.
	client.add_stake(&alice, &account_of(&alice), 1_000 * TOKEN).await.unwrap();
	// A miner is paid once its committed model passed an audit: the tiny weak model is
	// audited first, the strong one (a 98 MB download) a round or two later.
	let weights = wait_for(Duration::from_secs(180), "weights on-chain with both miners audited", || async {
		let m = client.metagraph(NET).await.ok()?;
		let w = m.neurons[0].weights.clone();
		w.iter().any(|(u, _)| *u == 1).then_some(w)
	})
	.await;
	let w = |uid: u16| weights.iter().find(|(u, _)| *u == uid).map_or(0, |(_, w)| *w);
	assert_eq!(w(1), u16::MAX, "strong miner: {weights:?}\n{}", v.tail());
	assert!(w(2) < w(1) / 2, "weak miner: {weights:?}");
	assert!(metrics(prom).contains("tessera_validator_validator_permit 1"));
	// The chain can show the weights a moment before the validator logs the extrinsic.
	wait_log(&v, "weights set", 30).await;
	assert!(v.log().contains("bpb"), "{}", v.tail());

	let paid = wait_for(Duration::from_secs(60), "incentive", || async {
		let m = client.metagraph(NET).await.ok()?;
		(m.neurons[1].incentive > 0).then_some(m)
	})
	.await;
	assert!(paid.neurons[1].incentive > paid.neurons[2].incentive, "{:?}", (paid.neurons[1].incentive, paid.neurons[2].incentive));
	assert!(paid.neurons[1].emission > paid.neurons[2].emission);

	// Commit-reveal on, with the reveal three epochs after the commit.
	client.sudo_set_hyperparam(&alice, NET, Hyperparam::CommitRevealPeriod(3)).await.unwrap();
	client.sudo_set_hyperparam(&alice, NET, Hyperparam::CommitRevealEnabled(true)).await.unwrap();
	wait_log(&v, "weights committed", 120).await;
	let last_update = client.metagraph(NET).await.unwrap().neurons[0].last_update;
	v.kill();
	let (ema_before, rounds_before, pending) = {
		let store = Store::open(&db).unwrap();
		(store.load_ema().unwrap(), store.rounds().unwrap(), store.pending_commits().unwrap())
	};
	assert_eq!(pending.len(), 1, "the commit and its salt are in the database");
	assert!(pending[0].reveal_epoch.is_some());
	assert!(ema_before[&1].score > ema_before[&2].score, "{ema_before:?}");

	let v2 = validator("//Alice", &url, &data, &db, free_port(), &[], dir.path().join("validator-2.log"));
	wait_log(&v2, "state resumed", 60).await;
	assert!(v2.log().contains("pending_commits=1"), "{}", v2.tail());
	wait_log(&v2, "weights revealed", 120).await;
	let revealed = wait_for(Duration::from_secs(30), "revealed weights", || async {
		let m = client.metagraph(NET).await.ok()?;
		(m.neurons[0].last_update > last_update).then_some(m)
	})
	.await;
	let weights = &revealed.neurons[0].weights;
	assert_eq!(weights.iter().find(|(u, _)| *u == 1).map(|(_, w)| *w), Some(u16::MAX), "{weights:?}");
	// The scores went on from where they were.
	wait_log(&v2, &format!("round {} ", rounds_before + 1), 60).await;
	drop(v2);
	let store = Store::open(&db).unwrap();
	assert!(store.rounds().unwrap() > rounds_before);
	let ema = store.load_ema().unwrap();
	assert!(ema[&1].score >= ema_before[&1].score, "{ema:?} after {ema_before:?}");
	assert!(store.pending_commits().unwrap().iter().all(|c| c.hash != pending[0].hash));
	drop((strong, weak_miner));
}
