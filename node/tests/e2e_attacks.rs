//! End-to-end: issue 19's chain attacks (5, 6, 9, 11) replayed against a real
//! `tessera-node --dev`; each test fails on the code before the fix.

mod common;

use common::{evidence_args as args, signed_evidence, start_dev_node, wait_for, DevNode};
use std::{
	net::{IpAddr, Ipv4Addr, Ipv6Addr},
	time::Duration,
};
use tessera_client::{
	chain::account_of,
	keys::{self, dev, Keypair},
	runtime::tessera::events,
	AccountId, FraudEvidenceArgs, Hyperparam, TesseraClient, H256, TOKEN,
};

const NET: u16 = 1;
const MODEL: [u8; 32] = [0x42; 32];

fn fresh(name: &str) -> Keypair {
	keys::from_uri(&format!("{}//{name}", keys::generate_phrase())).unwrap()
}

/// Tokens `who` has on hold (stake and bonds).
async fn held(client: &TesseraClient, who: &AccountId) -> u128 {
	client.account(who).await.unwrap().reserved
}

/// Until the neuron at `uid` holds a validator permit.
async fn wait_for_permit(client: &TesseraClient, uid: u16) {
	wait_for(Duration::from_secs(90), "validator permit", || async {
		let m = client.metagraph(NET).await.ok()?;
		m.neurons.iter().find(|n| n.uid == uid)?.validator_permit.then_some(())
	})
	.await;
}

/// The stake per uid the last epoch recorded (`EpochStake`).
async fn epoch_stake(client: &TesseraClient) -> Vec<u128> {
	let at = client.api().at_current_block().await.unwrap();
	let entry = at.storage().entry(tessera_client::runtime::storage().tessera().epoch_stake()).unwrap();
	entry.fetch((NET,)).await.unwrap().decode().unwrap()
}

async fn node() -> (tempfile::TempDir, DevNode, TesseraClient) {
	let dir = tempfile::tempdir().unwrap();
	let node = start_dev_node(&dir.path().join("chain")).await.unwrap();
	let client = node.client().await;
	(dir, node, client)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attack_5_prune_releases_reported_bond() {
	let (_dir, _node, client) = node().await;
	let (alice, bob, charlie) = (dev("alice").unwrap(), dev("bob").unwrap(), dev("charlie").unwrap());
	let (validator, miner, newcomer) = (fresh("validator"), fresh("miner"), fresh("newcomer"));
	let (validator_id, miner_id) = (account_of(&validator), account_of(&miner));
	let bond = client.hyperparams(NET).await.unwrap().miner_bond;
	// One report counts but never slashes on its own.
	client.sudo_set_hyperparam(&alice, NET, Hyperparam::FraudThreshold(u16::MAX)).await.unwrap();

	assert_eq!(client.burned_register(&alice, NET, &validator_id).await.unwrap(), 0);
	assert_eq!(client.burned_register(&bob, NET, &miner_id).await.unwrap(), 1);
	for key in [&validator_id, &miner_id] {
		client.transfer(&alice, key, 10 * TOKEN).await.unwrap();
	}
	client.commit_model(&miner, NET, H256(MODEL), H256::zero()).await.unwrap();
	client.add_stake(&alice, &validator_id, 1_000 * TOKEN).await.unwrap();
	wait_for_permit(&client, 0).await;
	let outcome = client.report_fraud(&validator, NET, 1, &args(&signed_evidence(&miner, &validator, MODEL))).await.unwrap();
	assert!(outcome.events.find_first::<events::FraudReported>().is_some());
	let bob_held = held(&client, &account_of(&bob)).await;

	// The subnet is full and the reported miner has the lowest pruning score: the next
	// registration replaces it.
	client.sudo_set_hyperparam(&alice, NET, Hyperparam::ImmunityPeriod(0)).await.unwrap();
	client.sudo_set_hyperparam(&alice, NET, Hyperparam::MaxAllowedUids(2)).await.unwrap();
	let outcome = client
		.submit(&tessera_client::runtime::tx().tessera().burned_register(NET, account_of(&newcomer)), &charlie)
		.await
		.unwrap();
	let registered = outcome.events.find_first::<events::NeuronRegistered>().unwrap().unwrap();
	assert_eq!((registered.uid, registered.replaced), (1, Some(miner_id.clone())));
	assert!(outcome.events.find_first::<events::BondReturned>().is_none(), "the pruned miner took its bond back");
	let escrowed = outcome.events.find_first::<events::BondEscrowed>().unwrap().unwrap();
	assert_eq!((escrowed.hotkey, escrowed.amount), (miner_id.clone(), bond));
	assert_eq!(held(&client, &account_of(&bob)).await, bob_held, "the bond left the hold");
	let escrow = client.escrow(NET, &miner_id).await.unwrap().expect("escrowed");
	assert_eq!((escrow.amount, escrow.model_hash, escrow.uid), (bond, Some(H256(MODEL)), 1));
	// The escrowed hotkey cannot register again, nor can anyone take the bond early.
	let err = client.burned_register(&bob, NET, &miner_id).await.unwrap_err();
	assert!(err.is("Tessera", "HotkeyBondInEscrow"), "{err}");
	let err = client.release_escrow(&charlie, NET, &miner_id).await.unwrap_err();
	assert!(err.is("Tessera", "FraudReportsPending"), "{err}");

	// Once the report expires, the sweep returns the bond.
	client.sudo_set_hyperparam(&alice, NET, Hyperparam::FraudWindow(1)).await.unwrap();
	wait_for(Duration::from_secs(30), "the escrow's return", || async {
		(held(&client, &account_of(&bob)).await == bob_held - bond).then_some(())
	})
	.await;
	assert!(client.escrow(NET, &miner_id).await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attack_6_fraud_vote_bought_in_one_block() {
	let (_dir, _node, client) = node().await;
	let (alice, bob, charlie) = (dev("alice").unwrap(), dev("bob").unwrap(), dev("charlie").unwrap());
	let (big, small, miner) = (fresh("big"), fresh("small"), fresh("miner"));
	let (big_id, small_id, miner_id) = (account_of(&big), account_of(&small), account_of(&miner));

	assert_eq!(client.burned_register(&alice, NET, &big_id).await.unwrap(), 0);
	assert_eq!(client.burned_register(&charlie, NET, &small_id).await.unwrap(), 1);
	assert_eq!(client.burned_register(&bob, NET, &miner_id).await.unwrap(), 2);
	// Hotkeys pay the fees of refused reports.
	for key in [&big_id, &small_id, &miner_id] {
		client.transfer(&alice, key, 100 * TOKEN).await.unwrap();
	}
	client.commit_model(&miner, NET, H256(MODEL), H256::zero()).await.unwrap();
	client.add_stake(&alice, &big_id, 1_000 * TOKEN).await.unwrap();
	client.add_stake(&charlie, &small_id, 10 * TOKEN).await.unwrap();
	wait_for_permit(&client, 0).await;
	wait_for_permit(&client, 1).await;
	// No epoch (so no new stake snapshot) for the rest of the test.
	client.sudo_set_hyperparam(&alice, NET, Hyperparam::Tempo(5_000)).await.unwrap();

	// Evidence the runtime refuses, each with its named error.
	let valid = signed_evidence(&miner, &small, MODEL);
	let forged = signed_evidence(&small, &small, MODEL); // not the miner's signature
	let for_other = signed_evidence(&miner, &big, MODEL); // signed for another validator
	let other_model = signed_evidence(&miner, &small, [7; 32]);
	let out_of_range = FraudEvidenceArgs { index: 2, ..args(&valid) };
	for (evidence, error) in [
		(args(&forged), "EvidenceSignatureInvalid"),
		(args(&for_other), "EvidenceSignatureInvalid"),
		(args(&other_model), "EvidenceModelMismatch"),
		(out_of_range, "EvidenceIndexOutOfRange"),
	] {
		let err = client.report_fraud(&small, NET, 2, &evidence).await.unwrap_err();
		assert!(err.is("Tessera", error), "{error}: {err}");
	}

	// The small validator (10 of 1_010 TSR at the epoch) buys 100_000 TSR of stake for
	// its vote right before reporting: the report counts at the epoch's 10 TSR.
	let deposit = client.add_stake(&charlie, &small_id, 100_000 * TOKEN).await.unwrap();
	let outcome = client.report_fraud(&small, NET, 2, &args(&valid)).await.unwrap();
	let reported = outcome.events.find_first::<events::FraudReported>().unwrap().unwrap();
	eprintln!("deposit in block {:?}, report in block {:?}", deposit.block_hash, outcome.block_hash);
	let snapshot = epoch_stake(&client).await;
	let permits: Vec<bool> = client.metagraph(NET).await.unwrap().neurons.iter().map(|n| n.validator_permit).collect();
	let permitted: u128 = snapshot.iter().zip(&permits).filter(|(_, p)| **p).map(|(s, _)| *s).sum();
	eprintln!("epoch stake {snapshot:?}, permits {permits:?}");
	assert!(snapshot[1] < 20 * TOKEN, "{snapshot:?}");
	assert_eq!((reported.reported_stake, reported.permitted_stake), (snapshot[1], permitted));
	assert!(outcome.events.find_first::<events::MinerSlashed>().is_none(), "bought stake slashed the miner");
	assert!(client.neuron(NET, 2).await.is_ok());

	// A miner-signed step (tessera_proto's `sign_step`) is accepted from the large
	// validator too, and with its epoch stake the reports cross the threshold.
	let outcome = client.report_fraud(&big, NET, 2, &args(&signed_evidence(&miner, &big, MODEL))).await.unwrap();
	let slashed = outcome.events.find_first::<events::MinerSlashed>().unwrap().unwrap();
	assert_eq!(slashed.hotkey, miner_id);
	assert!(client.neuron(NET, 2).await.is_err(), "uid 2 vacated");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attack_9_axon_private_address() {
	let (_dir, _node, client) = node().await;
	let alice = dev("alice").unwrap();
	let params = client.hyperparams(NET).await.unwrap();
	assert!(params.allow_local_axons, "the dev subnet allows local axons");
	assert_eq!(params.max_model_bytes, 1 << 30, "the dev preset's model size limit");
	client.sudo_set_hyperparam(&alice, NET, Hyperparam::AllowLocalAxons(false)).await.unwrap();
	let miner = fresh("miner");
	client.burned_register(&alice, NET, &account_of(&miner)).await.unwrap();
	client.transfer(&alice, &account_of(&miner), 100 * TOKEN).await.unwrap();

	let v4 = |a, b, c, d| IpAddr::V4(Ipv4Addr::new(a, b, c, d));
	let v6 = |s: &str| IpAddr::V6(s.parse::<Ipv6Addr>().unwrap());
	let private = [
		v4(127, 0, 0, 1),
		v4(10, 0, 0, 1),
		v4(172, 16, 5, 4),
		v4(192, 168, 1, 1),
		v4(100, 64, 0, 1),
		v4(169, 254, 169, 254),
		v4(0, 1, 2, 3),
		v4(224, 0, 0, 1),
		v4(192, 0, 2, 1),
		v4(198, 18, 0, 1),
		v6("::1"),
		v6("::ffff:127.0.0.1"),
		v6("::ffff:10.0.0.1"),
		v6("::127.0.0.1"),
		v6("64:ff9b::192.168.0.1"),
		v6("2002:c0a8:101::1"),
		v6("fe80::1"),
		v6("fd00::1"),
		v6("ff02::1"),
		v6("2001:db8::1"),
	];
	for ip in private {
		let err = client.serve_axon(&miner, NET, ip, 8091, 1).await.unwrap_err();
		assert!(err.is("Tessera", "AxonAddressNotGlobal"), "{ip}: {err}");
	}
	client.serve_axon(&miner, NET, v4(8, 8, 8, 8), 8091, 1).await.unwrap();
	let m = client.metagraph(NET).await.unwrap();
	let axon = m.neurons[0].axon.clone().expect("served");
	assert_eq!((axon.ip, axon.ip_type), (0x0808_0808, 4));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attack_11_dust_stake_permit() {
	let (_dir, _node, client) = node().await;
	let (alice, charlie) = (dev("alice").unwrap(), dev("charlie").unwrap());
	let (validator, dust) = (fresh("validator"), fresh("dust"));
	let (validator_id, dust_id) = (account_of(&validator), account_of(&dust));
	assert_eq!(client.burned_register(&alice, NET, &validator_id).await.unwrap(), 0);
	assert_eq!(client.burned_register(&charlie, NET, &dust_id).await.unwrap(), 1);
	client.add_stake(&alice, &validator_id, 1_000 * TOKEN).await.unwrap();
	// About 1 planck of stake (what `add_stake` takes at least, less all but one planck):
	// 10⁻¹² of the total, far below 2⁻³².
	// (An epoch in between may pay it a little: take that out too.)
	client.add_stake(&charlie, &dust_id, 1_000_000).await.unwrap();
	for _ in 0..3 {
		let have = client.stake_of(&dust_id, &account_of(&charlie)).await.unwrap();
		if have > 1 {
			client.remove_stake(&charlie, &dust_id, have - 1).await.unwrap();
		}
	}

	wait_for_permit(&client, 0).await;
	// Two more epochs, to be sure the dust uid was judged with its stake in place.
	let start = client.finalized_number().await.unwrap();
	wait_for(Duration::from_secs(60), "two epochs", || async {
		(client.finalized_number().await.ok()? > start + 22).then_some(())
	})
	.await;
	let m = client.metagraph(NET).await.unwrap();
	let dust_neuron = m.neurons.iter().find(|n| n.uid == 1).unwrap();
	assert!(dust_neuron.stake <= 10, "{}", dust_neuron.stake);
	assert!(!dust_neuron.validator_permit, "dust stake bought a validator permit");
	assert_eq!(dust_neuron.dividends, 0);
	assert!(m.neurons[0].validator_permit);
}
