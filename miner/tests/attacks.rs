//! Issue 19, attack 4: one low-stake validator must not lock a miner. Real miner server
//! on 127.0.0.1 (tiny random llama), real signed clients.

mod common;

use std::{collections::HashMap, time::Duration};

use common::{open_msg, reveal_msg, tiny_model, tokens, Harness, LIMIT};
use subxt_signer::sr25519::Keypair;
use tessera_miner::{callers::Caller, engine::EngineConfig, service::ServiceLimits};
use tessera_proto::{v1::evaluate_response, Hotkey};
use tokio::time::timeout;
use tonic::Code;

fn key(name: &str) -> Keypair {
	tessera_client::keys::from_uri(&format!("//Validator{name}")).unwrap()
}

/// A low-stake and a high-stake validator, both with permits.
fn table(low: &Keypair, high: &Keypair) -> HashMap<Hotkey, Caller> {
	HashMap::from([
		(Hotkey::of(low), Caller { uid: 0, stake: 1, validator_permit: true }),
		(Hotkey::of(high), Caller { uid: 1, stake: 1_000, validator_permit: true }),
	])
}

/// The next message of a stream: the status that ended it, if it ended.
async fn ended(c: &mut common::Conversation) -> tonic::Status {
	match timeout(Duration::from_secs(30), c.answers.message()).await.expect("the miner answers") {
		Err(status) => status,
		Ok(other) => panic!("expected the stream to end with a status, got {other:?}"),
	}
}

/// The attack: a validator with almost no stake opens documents filling the whole KV
/// cache and holds its stream (and the only stream slot). Before issue 19 every other
/// validator got RESOURCE_EXHAUSTED (an `EvaluateError` for its documents, or the
/// stream refused). Now the high-stake validator is answered: the low-stake one, above
/// its share, gives its documents and its stream slot back.
#[tokio::test]
async fn attack_4_low_stake_validator_cannot_lock_miner() {
	timeout(LIMIT, async {
		let dir = tempfile::tempdir().unwrap();
		let path = tiny_model(dir.path());
		let (low, high) = (key("Low"), key("High"));
		// 8 documents of 500 tokens fill 8 x 512 tokens of cache.
		let engine = EngineConfig { max_cached_tokens: 8 * 512, min_share_tokens: 512, ..Default::default() };
		let limits = ServiceLimits { max_streams: 2, min_streams_per_caller: 1, ..Default::default() };
		let mut h = Harness::start_with(&path, engine, limits, table(&low, &high)).await;
		let mut hog = h.stream(&low).await.unwrap();
		let docs: Vec<(u32, Vec<u32>)> = (0..8).map(|d| (d, tokens(u64::from(d), 500, 256))).collect();
		assert_eq!(hog.ask(open_msg(&docs, 4)).await.len(), 8);
		assert!(h.metrics.render().contains("tessera_miner_cached_tokens 4096"), "{}", h.metrics.render());
		// Its share of the slots is one (stake 1 of 1001, floor 1): a second stream is refused.
		let err = h.stream(&low).await.err().expect("over its share of streams");
		assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");

		// The high-stake validator opens two long documents and is answered.
		let mut honest = h.stream(&high).await.unwrap();
		let mine: Vec<(u32, Vec<u32>)> = (0..2).map(|d| (d, tokens(100 + u64::from(d), 500, 256))).collect();
		assert_eq!(honest.ask(open_msg(&mine, 4)).await.len(), 2, "the high-stake validator is served");
		assert!(h.metrics.render().contains("tessera_miner_kv_evictions_total 2"), "{}", h.metrics.render());
		assert_eq!(honest.ask(reveal_msg(&[(0, 1), (1, 2)])).await.len(), 2);

		// The hog's next step: its evicted documents are refused, by name and reason.
		let msg = reveal_msg(&docs.iter().map(|(d, _)| (*d, 1)).collect::<Vec<_>>());
		hog.session.apply(&msg).unwrap();
		hog.send_raw(msg).await;
		let resp = hog.answers.message().await.unwrap().unwrap();
		match &resp.msg {
			Some(evaluate_response::Msg::Error(e)) => {
				assert_eq!(e.code, Code::ResourceExhausted as u32);
				assert!(e.message.contains("evicted"), "{}", e.message);
			},
			other => panic!("expected an EvaluateError, got {other:?}"),
		}
		hog.session.answer(&resp).unwrap();

		// Stream slots: the only slot is the hog's; a validator with more stake takes it.
		drop(honest);
		let limits = ServiceLimits { max_streams: 1, min_streams_per_caller: 1, ..Default::default() };
		let mut h2 = Harness::start_with(&path, EngineConfig::default(), limits, table(&low, &high)).await;
		let mut hog = h2.stream(&low).await.unwrap();
		hog.ask(open_msg(&[(1, vec![1, 2, 3])], 4)).await;
		let mut honest = h2.stream(&high).await.expect("the slot is given to the higher stake");
		assert_eq!(honest.ask(open_msg(&[(1, vec![4, 5])], 4)).await.len(), 1);
		let status = ended(&mut hog).await;
		assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
		assert!(status.message().contains("more stake"), "{status:?}");
		// And the low-stake validator cannot take it back.
		let err = h2.stream(&low).await.err().expect("no slot for less stake");
		assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
		drop((hog, honest));
		h.stop().await;
		h2.stop().await;
	})
	.await
	.expect("test timed out");
}

/// A stream that goes quiet is closed after the idle timeout and frees its documents.
#[tokio::test]
async fn attack_4_idle_streams_are_closed() {
	timeout(LIMIT, async {
		let dir = tempfile::tempdir().unwrap();
		let path = tiny_model(dir.path());
		let (low, high) = (key("Low"), key("High"));
		let limits = ServiceLimits { idle_timeout: Duration::from_secs(1), ..Default::default() };
		let mut h = Harness::start_with(&path, EngineConfig::default(), limits, table(&low, &high)).await;
		let mut c = h.stream(&low).await.unwrap();
		c.ask(open_msg(&[(1, tokens(1, 100, 256))], 4)).await;
		let status = ended(&mut c).await;
		assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
		assert!(status.message().contains("no message"), "{status:?}");
		let metrics = h.metrics.render();
		assert!(metrics.contains(r#"tessera_miner_streams_ended_total{reason="idle"} 1"#), "{metrics}");
		tokio::time::sleep(Duration::from_millis(200)).await;
		assert!(h.metrics.render().contains("tessera_miner_cached_tokens 0"), "documents freed");
		drop(c);
		h.stop().await;
	})
	.await
	.expect("test timed out");
}

/// A busy stream still ends at its lifetime.
#[tokio::test]
async fn attack_4_streams_end_at_their_lifetime() {
	timeout(LIMIT, async {
		let dir = tempfile::tempdir().unwrap();
		let path = tiny_model(dir.path());
		let (low, high) = (key("Low"), key("High"));
		let limits = ServiceLimits { stream_lifetime: Duration::from_secs(2), ..Default::default() };
		let mut h = Harness::start_with(&path, EngineConfig::default(), limits, table(&low, &high)).await;
		let mut c = h.stream(&low).await.unwrap();
		c.ask(open_msg(&[(1, vec![1, 2])], 4)).await;
		let started = std::time::Instant::now();
		// Keep it busy: a reveal every 200 ms, until the miner ends the stream.
		let status = loop {
			assert!(started.elapsed() < Duration::from_secs(20), "the stream outlived its lifetime");
			tokio::time::sleep(Duration::from_millis(200)).await;
			let msg = reveal_msg(&[(1, 3)]);
			c.session.apply(&msg).unwrap();
			if c.tx.send(msg).await.is_err() {
				break ended(&mut c).await;
			}
			match c.answers.message().await {
				Ok(Some(resp)) => {
					c.session.answer(&resp).unwrap();
				},
				Ok(None) => panic!("the stream ended without a status"),
				Err(status) => break status,
			}
		};
		assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
		assert!(status.message().contains("lifetime"), "{status:?}");
		drop(c);
		h.stop().await;
	})
	.await
	.expect("test timed out");
}

/// A validator that loses its permit (a new metagraph) loses its open streams.
#[tokio::test]
async fn attack_4_a_revoked_permit_ends_open_streams() {
	timeout(LIMIT, async {
		let dir = tempfile::tempdir().unwrap();
		let path = tiny_model(dir.path());
		let (low, high) = (key("Low"), key("High"));
		let mut h = Harness::start_with(&path, EngineConfig::default(), ServiceLimits::default(), table(&low, &high)).await;
		let mut c = h.stream(&low).await.unwrap();
		c.ask(open_msg(&[(1, vec![1, 2])], 4)).await;
		let mut without = table(&low, &high);
		without.get_mut(&Hotkey::of(&low)).unwrap().validator_permit = false;
		h.callers.replace(without);
		let status = ended(&mut c).await;
		assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
		assert!(status.message().contains("no validator permit"), "{status:?}");
		// The other validator's stream is unaffected.
		let mut other = h.stream(&high).await.unwrap();
		assert_eq!(other.ask(open_msg(&[(1, vec![1, 2])], 4)).await.len(), 1);
		drop((c, other));
		h.stop().await;
	})
	.await
	.expect("test timed out");
}
