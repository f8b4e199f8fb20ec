//! End to end with a real chain: `tessera-node --dev`, the real `tessera-miner run`
//! binary (a small random model, so it starts fast), real signed gRPC calls. The miner
//! announces its axon and model on-chain, admits only registered validators with a
//! permit (from the metagraph it refreshes), and does not re-commit an unchanged model.

use std::{
	process::{Child, Command, Stdio},
	time::Duration,
};

use tessera_client::{
	chain::account_of,
	devnode::{free_port, wait_for, workspace_binary, DevNode},
	keys::{self, dev},
	Hyperparam, TOKEN,
};
use tessera_miner::gguf::{write_random_llama, RandomLlama};
use tessera_proto::{auth::signed_unary, method, v1::InfoRequest, Hotkey};
use tonic::Code;

const NET: u16 = 1;

struct MinerProcess(Child);

impl Drop for MinerProcess {
	fn drop(&mut self) {
		let _ = Command::new("kill").args(["-INT", &self.0.id().to_string()]).status();
		for _ in 0..100 {
			if let Ok(Some(_)) = self.0.try_wait() {
				return;
			}
			std::thread::sleep(Duration::from_millis(100));
		}
		let _ = self.0.kill();
		let _ = self.0.wait();
	}
}

fn start_miner(url: &str, hotkey_uri: &str, model: &std::path::Path, port: u16, log: &std::path::Path) -> MinerProcess {
	let bin = workspace_binary("tessera-miner", "TESSERA_MINER_BIN").expect("tessera-miner built");
	let child = Command::new(bin)
		.args(["run", "--url", url, "--hotkey-uri", hotkey_uri, "--listen"])
		.arg(format!("127.0.0.1:{port}"))
		.arg("--model")
		.arg(model)
		.args(["--metagraph-refresh-secs", "1", "--shutdown-grace-secs", "1"])
		.stdout(Stdio::null())
		.stderr(std::fs::File::create(log).unwrap())
		.spawn()
		.expect("spawn tessera-miner");
	MinerProcess(child)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn miner_announces_itself_and_admits_only_permitted_validators() {
	let dir = tempfile::tempdir().unwrap();
	let node = DevNode::start(&dir.path().join("chain")).await.unwrap();
	let client = node.client().await;
	let alice = dev("alice").unwrap();
	let validator = keys::from_uri("//TesseraValidator").unwrap();
	let idle = keys::from_uri("//TesseraIdle").unwrap();
	let miner_uri = "//TesseraMiner";
	let miner = keys::from_uri(miner_uri).unwrap();
	// One permit, which the staked validator gets at the next epoch.
	client.sudo_set_hyperparam(&alice, NET, Hyperparam::MaxAllowedValidators(1)).await.unwrap();
	// No hotkey is funded: the miner's serve_axon and commit_model are free.
	for key in [&validator, &idle, &miner] {
		client.burned_register(&alice, NET, &account_of(key)).await.unwrap();
	}
	client.add_stake(&alice, &account_of(&validator), 1_000 * TOKEN).await.unwrap();

	let model = dir.path().join("weak.gguf");
	write_random_llama(&model, &RandomLlama::default(), None).unwrap();
	let port = free_port();
	let log = dir.path().join("miner.log");
	let process = start_miner(&node.url, miner_uri, &model, port, &log);

	// The miner announces its axon and commits its model.
	let me = account_of(&miner);
	let announced = wait_for(Duration::from_secs(120), "axon and model on-chain", || async {
		let m = client.metagraph(NET).await.ok()?;
		let n = m.neurons.into_iter().find(|n| n.hotkey == me)?;
		(n.axon.is_some() && n.model.is_some()).then_some(n)
	})
	.await;
	let axon = announced.axon.clone().unwrap();
	assert_eq!((axon.ip, axon.port, axon.ip_type, axon.protocol), (0x7f00_0001, port, 4, 0));
	let file_hash = tessera_proto::model::model_hash(&std::fs::read(&model).unwrap());
	assert_eq!(announced.model.as_ref().unwrap().model_hash.0, file_hash);
	let committed_at = announced.model.as_ref().unwrap().block;
	assert_eq!(client.free_balance(&me).await.unwrap(), 0, "announced without a balance");

	// Wait for the validator's permit, then for the miner to see it.
	wait_for(Duration::from_secs(90), "validator permit", || async {
		let m = client.metagraph(NET).await.ok()?;
		m.neurons.iter().find(|n| n.hotkey == account_of(&validator))?.validator_permit.then_some(())
	})
	.await;
	let channel = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}")).unwrap().connect().await.unwrap();
	let mut grpc = tessera_proto::client(channel);
	let target = Hotkey::of(&miner);
	let info = wait_for(Duration::from_secs(30), "the miner to admit the validator", || {
		let mut grpc = grpc.clone();
		let validator = validator.clone();
		async move { grpc.info(signed_unary(&validator, &target, method::INFO, InfoRequest {})).await.ok() }
	})
	.await
	.into_inner();
	assert_eq!(info.model_hash, file_hash.to_vec());
	assert_eq!(info.hotkey, target.to_ss58());

	// Registered without a permit, and not registered at all: refused.
	let err = grpc.info(signed_unary(&idle, &target, method::INFO, InfoRequest {})).await.unwrap_err();
	assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
	assert!(err.message().contains("no validator permit"), "{err:?}");
	let err = grpc.info(signed_unary(&dev("ferdie").unwrap(), &target, method::INFO, InfoRequest {})).await.unwrap_err();
	assert_eq!(err.code(), Code::PermissionDenied);

	// A restart with the same model keeps the original commitment (and its block).
	drop(process);
	let process = start_miner(&node.url, miner_uri, &model, port, &log);
	wait_for(Duration::from_secs(60), "the restarted miner to serve", || {
		let mut grpc = grpc.clone();
		let validator = validator.clone();
		async move { grpc.info(signed_unary(&validator, &target, method::INFO, InfoRequest {})).await.ok() }
	})
	.await;
	let again = client.metagraph(NET).await.unwrap().neurons.into_iter().find(|n| n.hotkey == me).unwrap();
	assert_eq!(again.model.unwrap().block, committed_at, "an unchanged model is not re-committed");
	drop(process);
	let text = std::fs::read_to_string(&log).unwrap();
	assert!(text.contains("on-chain announcement up to date"), "{text}");
}
