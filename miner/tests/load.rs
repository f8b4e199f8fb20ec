//! Load: 8 validators (stakes 1 to 8) x 4 streams x 32 documents against one miner on
//! 127.0.0.1 (real gRPC, the real engine, a tiny random llama), every stream opened at
//! once and run in lockstep to the end. Checked: every admitted stream gets every answer
//! exactly once (the protocol session on the client side refuses a missing, repeated or
//! misplaced one); streams are served by stake (every validator completes at least its
//! stake's share of the 24 slots, the highest all four); a stream refused or evicted for
//! more stake gets RESOURCE_EXHAUSTED; the KV cache is empty again at the end. Printed: wall time,
//! answers per second, peak RSS, and the same signed streams' time with a concurrent
//! flood of unsigned requests (a figure, not an assertion).

mod common;

use std::{collections::HashMap, time::Instant};

use common::{open_msg, reveal_msg, tiny_model, tokens, Conversation, Harness, LIMIT};
use subxt_signer::sr25519::Keypair;
use tessera_miner::{callers::Caller, engine::EngineConfig, kv_share::share_of, service::ServiceLimits};
use tessera_proto::{
	auth::signed_stream,
	limits::Limits,
	method,
	session::{Answered, EvaluateSession},
	v1::InfoRequest,
	Hotkey,
};
use tokio::{sync::mpsc, time::timeout};
use tokio_stream::wrappers::ReceiverStream;
use tonic::Code;

const VALIDATORS: usize = 8;
const STREAMS: usize = 4;
const DOCS: u32 = 32;
/// Tokens per document: 8 of prefix, then 8 revealed one at a time (9 answers each).
const PREFIX: usize = 8;
const LEN: usize = 17;

fn key(i: usize) -> Keypair {
	tessera_client::keys::from_uri(&format!("//LoadValidator{i}")).unwrap()
}

/// Opens a signed stream as `key` on a connection of its own.
async fn open(h: &Harness, key: &Keypair) -> Result<Conversation, tonic::Status> {
	let mut client = Harness::connect(h.addr).await;
	let (tx, rx) = mpsc::channel(4);
	let req = signed_stream(key, &h.miner, method::EVALUATE, ReceiverStream::new(rx));
	let answers = client.evaluate(req).await?.into_inner();
	Ok(Conversation { tx, answers, session: EvaluateSession::new(Limits::from_info(&h.info)) })
}

/// How one stream ended: answers received, and the status if it ended early (refused at
/// open, or evicted for a validator with more stake).
type Ended = (usize, Option<tonic::Status>);

/// Runs one stream's documents to the end in lockstep, each answer checked by the
/// protocol session (a missing, repeated or misplaced answer fails it).
async fn run_stream(conv: &mut Conversation, docs: &[(u32, Vec<u32>)]) -> Ended {
	let opened: Vec<(u32, Vec<u32>)> = docs.iter().map(|(id, t)| (*id, t[..PREFIX].to_vec())).collect();
	let reveals = (PREFIX..LEN - 1).map(|pos| reveal_msg(&docs.iter().map(|(id, t)| (*id, t[pos])).collect::<Vec<_>>()));
	let mut answers = 0;
	for msg in std::iter::once(open_msg(&opened, 8)).chain(reveals) {
		conv.session.apply(&msg).expect("the test sends valid messages");
		let sent = conv.tx.send(msg).await.is_ok();
		let resp = match conv.answers.message().await {
			Ok(Some(resp)) if sent => resp,
			Ok(_) => return (answers, Some(tonic::Status::unknown("the stream ended without a status"))),
			Err(status) => return (answers, Some(status)),
		};
		match conv.session.answer(&resp).expect("a well-formed answer to the request sent") {
			Answered::Step { invalid, .. } => assert!(invalid.is_empty(), "invalid distributions: {invalid:?}"),
			Answered::Error { .. } => panic!("documents refused: {resp:?}"),
		}
		answers += docs.len();
	}
	(answers, None)
}

/// Every validator opens all its streams (the 32 held open at once, so they compete for
/// the slots), then all run to the end concurrently. Returns how each stream ended, per
/// validator, and the wall time of the runs.
async fn run_all(h: &Harness, keys: &[Keypair]) -> (Vec<Vec<Ended>>, std::time::Duration) {
	let mut convs = Vec::new();
	for (v, key) in keys.iter().enumerate() {
		for s in 0..STREAMS {
			convs.push((v, s, open(h, key).await));
		}
	}
	let start = Instant::now();
	let mut tasks = Vec::new();
	for (v, s, conv) in convs {
		tasks.push(tokio::spawn(async move {
			let mut conv = match conv {
				Ok(c) => c,
				Err(status) => return (v, (0, Some(status))),
			};
			let docs: Vec<(u32, Vec<u32>)> = (0..DOCS).map(|d| (d, tokens((v * 1000 + s * 100) as u64 + u64::from(d), LEN, 256))).collect();
			(v, run_stream(&mut conv, &docs).await)
		}));
	}
	let mut per_validator: Vec<Vec<Ended>> = vec![Vec::new(); keys.len()];
	for t in tasks {
		let (v, ended) = t.await.expect("a stream task panicked");
		per_validator[v].push(ended);
	}
	(per_validator, start.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_validators_and_streams_are_served_exactly_once_by_stake() {
	timeout(LIMIT, async {
		let dir = tempfile::tempdir().unwrap();
		let keys: Vec<Keypair> = (0..VALIDATORS).map(key).collect();
		let table: HashMap<Hotkey, Caller> = keys
			.iter()
			.enumerate()
			.map(|(i, k)| (Hotkey::of(k), Caller { uid: i as u16, stake: 1_000 * (i as u128 + 1), validator_permit: true }))
			.collect();
		// 24 stream slots shared by stake (1 to 5 each), so the 32 streams cannot all
		// be admitted; the KV cache holds every admitted document.
		let limits = ServiceLimits { max_streams: 24, min_streams_per_caller: 1, ..Default::default() };
		let engine = EngineConfig { max_cached_tokens: 1 << 18, ..Default::default() };
		let h = Harness::start_with(&tiny_model(dir.path()), engine, limits, table).await;

		let (served, quiet) = run_all(&h, &keys).await;
		let per_stream = DOCS as usize * (LEN - PREFIX);
		let total_stake: u128 = (1..=VALIDATORS as u128).map(|i| 1_000 * i).sum();
		let completed: Vec<usize> = served.iter().map(|e| e.iter().filter(|(_, s)| s.is_none()).count()).collect();
		println!("streams completed, by stake 1..8: {completed:?}");
		for (v, ended) in served.iter().enumerate() {
			for (answers, status) in ended {
				match status {
					None => assert_eq!(*answers, per_stream, "validator {v}: a completed stream with {answers} answers"),
					Some(s) => assert_eq!(s.code(), Code::ResourceExhausted, "validator {v}: {s:?}"),
				}
			}
			let share = share_of(limits.max_streams, 1_000 * (v as u128 + 1), total_stake, limits.min_streams_per_caller);
			assert!(completed[v] >= share.min(STREAMS), "validator {v} (share {share}) completed {} streams", completed[v]);
		}
		assert_eq!(completed[VALIDATORS - 1], STREAMS, "the highest stake is served in full");
		assert!(completed.iter().sum::<usize>() < VALIDATORS * STREAMS, "the slots were not contended: {completed:?}");
		let answers: usize = served.iter().flatten().map(|(a, _)| a).sum();
		// Every stream is closed: the miner frees its documents (as soon as it sees the
		// end of each stream; bounded wait).
		let freed = Instant::now();
		while !h.metrics.render().contains("tessera_miner_cached_tokens 0") {
			assert!(freed.elapsed().as_secs() < 30, "documents left in the cache:\n{}", h.metrics.render());
			tokio::time::sleep(std::time::Duration::from_millis(50)).await;
		}

		// The same load with a flood of unsigned `Info` calls beside it.
		let flood_stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
		let mut flooders = Vec::new();
		for _ in 0..4 {
			let addr = h.addr;
			let stop = flood_stop.clone();
			flooders.push(tokio::spawn(async move {
				let mut client = Harness::connect(addr).await;
				let mut refused = 0u64;
				while !stop.load(std::sync::atomic::Ordering::Relaxed) {
					let status = client.info(InfoRequest {}).await.expect_err("unsigned Info is refused");
					assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
					refused += 1;
				}
				refused
			}));
		}
		let (served_flooded, flooded) = run_all(&h, &keys).await;
		flood_stop.store(true, std::sync::atomic::Ordering::Relaxed);
		let mut refused = 0;
		for f in flooders {
			refused += f.await.unwrap();
		}
		let completed_flooded: Vec<usize> = served_flooded.iter().map(|e| e.iter().filter(|(_, s)| s.is_none()).count()).collect();
		assert!(
			completed_flooded.iter().zip(&completed).all(|(a, b)| a == b),
			"the flood changed who was served: {completed_flooded:?} against {completed:?}"
		);
		println!(
			"load: {} streams, {answers} answers in {:.2} s ({:.0} answers/s); with {refused} unsigned requests refused \
			 beside them: {:.2} s ({:.2}x); peak RSS {:.0} MiB (the test process, miner included)",
			completed.iter().sum::<usize>(),
			quiet.as_secs_f64(),
			answers as f64 / quiet.as_secs_f64(),
			flooded.as_secs_f64(),
			flooded.as_secs_f64() / quiet.as_secs_f64(),
			tessera_miner::metrics::peak_rss_mib(),
		);
		h.stop().await;
	})
	.await
	.expect("test timed out");
}
