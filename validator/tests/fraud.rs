//! Fraud end to end on a real dev node: a miner commits the default model but answers
//! with another one. Two validators (real binaries, equal stake) audit it and each reports
//! it with `report_fraud`; together they pass the subnet's threshold, so its bond is
//! slashed, it is deregistered, and its owner cannot commit that model hash again. An
//! honest miner serving the same model is audited too and never reported.

mod common;

use std::time::Duration;

use candle_core::Device;
use common::{miner, validator, wait_log, RealMiner};
use tessera_client::{
	chain::account_of,
	devnode::{free_port, wait_for, workspace_binary, DevNode},
	keys::dev,
	Hyperparam, TesseraClient, H256, TOKEN,
};
use tessera_miner::{LoadedModel, WeightFormat};
use tessera_proto::Hotkey;

const NET: u16 = 1;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cheating_miner_is_reported_by_two_validators_slashed_and_barred() {
	let dir = tempfile::tempdir().unwrap();
	let (tok, ct) = common::tokenizer();
	let node = DevNode::start(&dir.path().join("chain")).await.unwrap();
	let client: TesseraClient = node.client().await;
	let url = node.url.clone();
	let (alice, bob, charlie, dave) = (dev("alice").unwrap(), dev("bob").unwrap(), dev("charlie").unwrap(), dev("dave").unwrap());
	let bond = 5 * TOKEN;
	for p in [
		Hyperparam::TokenizerHash(H256(tok.hash())),
		Hyperparam::AuditsEnabled(true),
		Hyperparam::MinerBond(bond),
		Hyperparam::MaxAllowedValidators(2),
		// Reports must come from more than 3/4 of the permit stake: with two validators of
		// about equal stake, both are needed.
		Hyperparam::FraudThreshold(49_151),
	] {
		client.sudo_set_hyperparam(&alice, NET, p).await.unwrap();
	}
	for (i, k) in [&alice, &dave, &bob, &charlie].into_iter().enumerate() {
		assert_eq!(client.burned_register(k, NET, &account_of(k)).await.unwrap(), i as u16);
	}
	let held = client.account(&account_of(&charlie)).await.unwrap().reserved;
	assert!(held >= bond, "registration holds the bond: {held}");
	for v in [&alice, &dave] {
		client.add_stake(v, &account_of(v), 1_000 * TOKEN).await.unwrap();
	}
	wait_for(Duration::from_secs(120), "both validator permits", || async {
		let m = client.metagraph(NET).await.ok()?;
		(m.neurons.iter().filter(|n| n.validator_permit && n.stake >= 1_000 * TOKEN).count() == 2).then_some(())
	})
	.await;

	// The cheater: commits (and serves the file of) the default model, answers with a
	// random llama.
	let default = common::default_model();
	let model_hash = tessera_proto::model::model_hash(&std::fs::read(&default).unwrap());
	let weak = common::weak_model(dir.path(), &ct);
	let mut cheat = LoadedModel::load(&default, &Device::Cpu).unwrap();
	cheat.llama = tessera_miner::Llama::load_gguf(&weak, &Device::Cpu, WeightFormat::Auto).unwrap();
	let validators = [Hotkey::of(&alice), Hotkey::of(&dave)];
	let cheater = RealMiner::start_loaded(cheat, &charlie, &validators).await;
	client.serve_axon(&charlie, NET, cheater.addr.ip(), cheater.addr.port(), 1).await.unwrap();
	client.commit_model(&charlie, NET, H256(model_hash), H256(tok.hash())).await.unwrap();
	// The honest miner: the real binary with the same model.
	let honest = miner(&workspace_binary("tessera-miner", "TESSERA_MINER_BIN").unwrap(), "//Bob", &url, None, dir.path().join("bob.log"));

	let data = dir.path().join("eval");
	std::fs::create_dir_all(&data).unwrap();
	for d in common::corpus(24, 6000, 3).docs {
		std::fs::write(data.join(&d.name), &d.text).unwrap();
	}
	let audit = ["--audit-samples", "3", "--model-cache"];
	let cache = dir.path().join("models");
	let flags = |v: &str| {
		let mut f: Vec<String> = audit.iter().map(|s| s.to_string()).collect();
		f.push(cache.join(v).display().to_string());
		f
	};
	let (fa, fd) = (flags("alice"), flags("dave"));
	let fa: Vec<&str> = fa.iter().map(String::as_str).collect();
	let fd: Vec<&str> = fd.iter().map(String::as_str).collect();
	let va = validator("//Alice", &url, &data, &dir.path().join("alice.redb"), free_port(), &fa, dir.path().join("alice.log"));
	let vd = validator("//Dave", &url, &data, &dir.path().join("dave.redb"), free_port(), &fd, dir.path().join("dave.log"));

	// Each validator audits the cheater and reports it; the second report crosses the
	// threshold.
	let deadline = std::time::Instant::now() + Duration::from_secs(180);
	loop {
		let m = client.metagraph(NET).await.unwrap();
		if !m.neurons.iter().any(|n| n.hotkey == account_of(&charlie)) {
			break;
		}
		assert!(std::time::Instant::now() < deadline, "the cheater is still registered\n{}\n{}", va.tail(), vd.tail());
		tokio::time::sleep(Duration::from_secs(1)).await;
	}
	for v in [&va, &vd] {
		wait_log(v, "fraud reported on-chain", 10).await;
		// The honest miner (announced once its model loaded) passes its audits.
		wait_log(v, "audit passed uid=2", 240).await;
	}
	// The bond is gone from the cheater's owner (burned; the pallet tests check issuance).
	let after = client.account(&account_of(&charlie)).await.unwrap();
	assert_eq!(after.reserved, held - bond, "the bond is no longer held");
	// The honest miner is untouched, and no validator ever reported it.
	let m = client.metagraph(NET).await.unwrap();
	assert!(m.neurons.iter().any(|n| n.hotkey == account_of(&bob)), "the honest miner stays");
	for v in [&va, &vd] {
		assert_eq!(v.log().matches("fraud reported on-chain").count(), 1, "{}", v.tail());
	}
	// Its owner registers again: the model it cheated with cannot be committed.
	client.burned_register(&charlie, NET, &account_of(&charlie)).await.unwrap();
	let err = client.commit_model(&charlie, NET, H256(model_hash), H256(tok.hash())).await.unwrap_err();
	assert_eq!(err.pallet_error(), Some(("Tessera", "ModelBarred")), "{err}");
	drop((va, vd, honest));
	cheater.stop().await;
}
