//! End-to-end: miner bonds, fraud reports and `deregister` on a real `tessera-node --dev`
//! (subnet 1 of the dev preset runs audits with a 1 TSR bond).

mod common;

use common::{evidence_args, signed_evidence, start_dev_node, wait_for};
use std::time::Duration;
use tessera_client::{
	chain::account_of,
	keys::{self, dev},
	runtime::{runtime_types::pallet_tessera::types::SlashDestination, tessera::events},
	Hyperparam, TesseraClient, H256, TOKEN,
};

const NET: u16 = 1;

/// Tokens `who` has on hold (stake and bonds).
async fn held(client: &TesseraClient, who: &tessera_client::AccountId) -> u128 {
	client.account(who).await.unwrap().reserved
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bond_report_slash_bar_and_deregister() {
	let dir = tempfile::tempdir().unwrap();
	let node = start_dev_node(&dir.path().join("chain")).await.unwrap();
	let client = node.client().await;

	let (alice, bob, charlie) = (dev("alice").unwrap(), dev("bob").unwrap(), dev("charlie").unwrap());
	let validator = keys::from_uri(&format!("{}//validator", keys::generate_phrase())).unwrap();
	let miner = keys::from_uri(&format!("{}//miner", keys::generate_phrase())).unwrap();
	let other = keys::from_uri(&format!("{}//other", keys::generate_phrase())).unwrap();
	let (validator_id, miner_id, other_id) = (account_of(&validator), account_of(&miner), account_of(&other));

	let params = client.hyperparams(NET).await.unwrap();
	assert!(params.audits_enabled);
	assert_eq!(params.miner_bond, TOKEN);
	let bond = params.miner_bond;
	client.sudo_set_hyperparam(&alice, NET, Hyperparam::MaxAllowedValidators(1)).await.unwrap();

	// Registration holds the bond on the coldkey.
	let bob_held = held(&client, &account_of(&bob)).await;
	assert_eq!(client.burned_register(&alice, NET, &validator_id).await.unwrap(), 0);
	assert_eq!(client.burned_register(&bob, NET, &miner_id).await.unwrap(), 1);
	assert_eq!(held(&client, &account_of(&bob)).await, bob_held + bond);
	for key in [&validator_id, &miner_id] {
		client.transfer(&alice, key, 10 * TOKEN).await.unwrap();
	}
	let model = H256::repeat_byte(0x42);
	let evidence = |reporter| evidence_args(&signed_evidence(&miner, reporter, model.0));
	client.commit_model(&miner, NET, model, H256::zero()).await.unwrap();
	client.add_stake(&alice, &validator_id, 1_000 * TOKEN).await.unwrap();
	wait_for(Duration::from_secs(90), "validator permit", || async {
		let m = client.metagraph(NET).await.ok()?;
		m.neurons.first()?.validator_permit.then_some(())
	})
	.await;

	// Only permitted validators report; the one permit holds all the permit stake, so its
	// report slashes at once: the bond is burned, the model barred, the uid vacated.
	let err = client.report_fraud(&miner, NET, 0, &evidence(&miner)).await.unwrap_err();
	assert!(err.is("Tessera", "NoValidatorPermit"), "{err}");
	let bob_free = client.free_balance(&account_of(&bob)).await.unwrap();
	let validator_free = client.free_balance(&validator_id).await.unwrap();
	let outcome = client.report_fraud(&validator, NET, 1, &evidence(&validator)).await.unwrap();
	let reported = outcome.events.find_first::<events::FraudReported>().unwrap().unwrap();
	assert_eq!((reported.uid, reported.reporter.clone()), (1, validator_id.clone()));
	assert_eq!(reported.reported_stake, reported.permitted_stake);
	let slashed = outcome.events.find_first::<events::MinerSlashed>().unwrap().unwrap();
	assert_eq!((slashed.amount, slashed.burned, slashed.destination), (bond, bond, SlashDestination::Burned));
	assert!(outcome.events.find_first::<events::MinerDeregistered>().is_some());
	// An accepted report costs the validator nothing.
	assert_eq!(client.free_balance(&validator_id).await.unwrap(), validator_free);
	assert_eq!(held(&client, &account_of(&bob)).await, bob_held);
	assert_eq!(client.free_balance(&account_of(&bob)).await.unwrap(), bob_free);
	let m = client.metagraph(NET).await.unwrap();
	assert_eq!(m.neurons.iter().map(|n| n.uid).collect::<Vec<_>>(), vec![0]);

	// The slashed owner cannot bring the model back under another hotkey; the next
	// registration takes the vacant uid. Another owner may serve the same model.
	let again = keys::from_uri(&format!("{}//again", keys::generate_phrase())).unwrap();
	assert_eq!(client.burned_register(&bob, NET, &account_of(&again)).await.unwrap(), 1);
	client.transfer(&alice, &account_of(&again), 10 * TOKEN).await.unwrap();
	let err = client.commit_model(&again, NET, model, H256::zero()).await.unwrap_err();
	assert!(err.is("Tessera", "ModelBarred"), "{err}");
	assert_eq!(client.burned_register(&charlie, NET, &other_id).await.unwrap(), 2);
	client.transfer(&alice, &other_id, 10 * TOKEN).await.unwrap();
	client.commit_model(&other, NET, model, H256::zero()).await.unwrap();

	// A clean exit returns the bond.
	let charlie_held = held(&client, &account_of(&charlie)).await;
	let err = client.deregister(&bob, NET, &other_id).await.unwrap_err();
	assert!(err.is("Tessera", "NotHotkeyOwner"), "{err}");
	let outcome = client.deregister(&charlie, NET, &other_id).await.unwrap();
	let returned = outcome.events.find_first::<events::BondReturned>().unwrap().unwrap();
	assert_eq!(returned.amount, bond);
	assert_eq!(held(&client, &account_of(&charlie)).await, charlie_held - bond);
	assert!(client.neuron(NET, 2).await.is_err(), "uid 2 is vacant again");
}
