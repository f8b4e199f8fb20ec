//! Crash: `kill -9` of a real `tessera-node --dev` while it produces blocks and
//! transactions are in flight. Restarted on the same ParityDB base path, it has the same
//! finalized chain (every finalized block hash unchanged), the state of its last finalized
//! block, and goes on producing and finalizing blocks.

mod common;

use common::{start_dev_node, wait_for};
use std::time::Duration;
use tessera_client::{chain::account_of, keys, TesseraClient};

/// The hash of finalized block `n`.
async fn hash_at(client: &TesseraClient, n: u64) -> tessera_client::H256 {
	client.api().at_block(n).await.expect("block of the finalized chain").block_hash()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_node_restarts_with_the_same_finalized_chain() {
	let dir = tempfile::tempdir().unwrap();
	let base = dir.path().join("chain");
	let mut node = start_dev_node(&base).await.unwrap();
	let alice = keys::dev("alice").unwrap();
	let mut transferred = 0u128;
	for round in 0..3u64 {
		let client = node.client().await;
		let dest = account_of(&keys::from_uri(&format!("//Crash{round}")).unwrap());
		client.transfer(&alice, &dest, 1_000_000_000_000).await.expect("a finalized transfer");
		transferred += 1_000_000_000_000;
		// A second transfer in flight when the node dies: it may or may not be in a block.
		let in_flight = {
			let client = node.client().await;
			let dest = dest.clone();
			let alice = alice.clone();
			tokio::spawn(async move { client.transfer(&alice, &dest, 1).await })
		};
		tokio::time::sleep(Duration::from_millis(300)).await;
		let height = client.finalized_number().await.unwrap();
		let hashes: Vec<_> = finalized_hashes(&client, height).await;
		let balance = client.free_balance(&dest).await.unwrap();
		assert!(balance >= 1_000_000_000_000);
		node.kill();
		let _ = in_flight.await;
		println!("round {round}: killed at finalized #{height}");

		node = start_dev_node(&base).await.unwrap_or_else(|e| panic!("restart after kill -9: {e}"));
		let client = node.client().await;
		let now = client.finalized_number().await.unwrap();
		assert!(now >= height, "finalized head went back from {height} to {now}");
		assert_eq!(finalized_hashes(&client, height).await, hashes, "a finalized block changed");
		let after = client.free_balance(&dest).await.unwrap();
		assert!(after == balance || after == balance + 1, "{dest:?}: {balance} before the kill, {after} after");
		// And the chain goes on: two more blocks finalized.
		wait_for(Duration::from_secs(60), "blocks after the restart", || async {
			(client.finalized_number().await.ok()? >= now + 2).then_some(())
		})
		.await;
	}
	assert_eq!(transferred, 3_000_000_000_000);
	node.stop();
}

/// Hashes of the last (up to) 8 finalized blocks up to `height`.
async fn finalized_hashes(client: &TesseraClient, height: u64) -> Vec<tessera_client::H256> {
	let mut out = Vec::new();
	for n in height.saturating_sub(7)..=height {
		out.push(hash_at(client, n).await);
	}
	out
}
