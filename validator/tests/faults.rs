//! Rounds against misbehaving miners: garbage scores the floor; a miner that stalls,
//! drops its stream, lies in `Info`, breaks the protocol or cannot be reached never
//! stalls the round; all miners move in lockstep.

mod common;

use std::time::Duration;

use common::{Behaviour, FakeMiner, Log, RealMiner};
use subxt_signer::sr25519::{dev, Keypair};
use tessera_proto::Hotkey;
use tessera_scoring::{CompareConfig, FLOOR_BITS};
use tessera_validator::{run_round, MinerTarget, Outcome, RoundConfig};

fn target(uid: u16, hotkey: Hotkey, addr: std::net::SocketAddr) -> MinerTarget {
	MinerTarget { uid, hotkey, addr, commit_block: u64::from(uid), model_hash: None, tls: false }
}

fn key(i: u32) -> Keypair {
	tessera_client::keys::from_uri(&format!("//Miner{i}")).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misbehaving_miners_get_the_floor_and_never_stall_the_round() {
	let (tok, ct) = common::tokenizer();
	let dir = tempfile::tempdir().unwrap();
	let weak = common::weak_model(dir.path(), &ct);
	let validator = dev::alice();
	let log = Log::default();
	let honest = RealMiner::start(&common::default_model(), &key(0), Hotkey::of(&validator)).await;
	let tiny = RealMiner::start(&weak, &key(9), Hotkey::of(&validator)).await;
	let garbage = FakeMiner::start("garbage", Behaviour::Garbage, &key(1), &tok, log.clone(), |_| {}).await;
	let stall = FakeMiner::start("stall", Behaviour::Stall { after: 3 }, &key(2), &tok, log.clone(), |_| {}).await;
	let drop = FakeMiner::start("drop", Behaviour::Drop { after: 2 }, &key(3), &tok, log.clone(), |_| {}).await;
	let liar = FakeMiner::start("liar", Behaviour::Garbage, &key(4), &tok, log.clone(), |i| i.tokenizer_hash = vec![9; 32]).await;
	let wrong = FakeMiner::start("wrong", Behaviour::WrongPosition, &key(5), &tok, log.clone(), |_| {}).await;
	// A port held by a socket that never listens: connections are refused, and no other
	// server of this process can be given the port while the round runs.
	let closed_socket = tokio::net::TcpSocket::new_v4().unwrap();
	closed_socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
	let closed = closed_socket.local_addr().unwrap();
	// A fake claiming someone else's hotkey.
	let impostor = FakeMiner::start("impostor", Behaviour::Garbage, &key(6), &tok, log.clone(), |_| {}).await;
	let forger = FakeMiner::start("forger", Behaviour::BadSignature, &key(10), &tok, log.clone(), |_| {}).await;

	let miners = vec![
		target(10, honest.hotkey, honest.addr),
		target(11, garbage.hotkey, garbage.addr),
		target(12, stall.hotkey, stall.addr),
		target(13, drop.hotkey, drop.addr),
		target(14, liar.hotkey, liar.addr),
		target(15, wrong.hotkey, wrong.addr),
		target(16, Hotkey::of(&key(7)), closed),
		target(17, Hotkey::of(&key(8)), impostor.addr),
		target(18, tiny.hotkey, tiny.addr),
		target(19, forger.hotkey, forger.addr),
	];
	let windows = common::windows(&tok, 4, 8, 16);
	let mut cfg = RoundConfig::new(tok.hash(), tok.vocab_size());
	cfg.open_timeout = Duration::from_secs(20);
	cfg.step_timeout = Duration::from_millis(1500);
	cfg.connect_timeout = Duration::from_secs(2);
	cfg.info_timeout = Duration::from_secs(2);
	let result = run_round(&miners, &windows, &validator, &cfg).await;

	let n_tokens = 4 * 16;
	assert_eq!(result.bits.dim(), (miners.len(), n_tokens));
	let scored_bytes: u64 = windows.iter().map(|w| w.bytes[w.prefix..].iter().map(|&b| u64::from(b)).sum::<u64>()).sum();
	assert_eq!(result.bytes.iter().map(|&b| u64::from(b)).sum::<u64>(), scored_bytes);
	// One stall costs one step deadline, not one per step; the honest tiny model is fast.
	assert!(result.elapsed < Duration::from_secs(15), "round took {:?}", result.elapsed);

	let m = &result.miners;
	let outcome = |i: usize| &m[i].outcome;
	assert_eq!(*outcome(0), Outcome::Completed, "honest");
	assert_eq!(m[0].floored, 0);
	assert_eq!((m[0].answered, m[0].invalid), (n_tokens, 0));
	// The tiny random model answers everything validly, but is often sure of the wrong
	// token (probability below 2^-30: the floor).
	assert_eq!(*outcome(8), Outcome::Completed, "tiny");
	assert_eq!((m[8].answered, m[8].invalid), (n_tokens, 0));
	assert!(result.bpb()[8] > result.bpb()[0] + 1.0, "bpb {:?}", result.bpb());
	assert_eq!(*outcome(1), Outcome::Completed, "garbage is answered but not a distribution");
	assert_eq!((m[1].floored, m[1].invalid), (n_tokens, n_tokens));
	assert_eq!(*outcome(2), Outcome::Timeout { step: 3 });
	assert_eq!(m[2].floored, 4 * (16 - 3));
	assert!(matches!(outcome(3), Outcome::Dropped { step: 2, .. }), "{:?}", outcome(3));
	assert_eq!(m[3].floored, 4 * (16 - 2));
	assert!(matches!(outcome(4), Outcome::BadInfo(r) if r.contains("tokenizer")), "{:?}", outcome(4));
	assert!(matches!(outcome(5), Outcome::ProtocolError { step: 0, .. }), "{:?}", outcome(5));
	assert!(matches!(outcome(6), Outcome::Unreachable(_)), "{:?}", outcome(6));
	assert!(matches!(outcome(7), Outcome::BadInfo(r) if r.contains("hotkey")), "{:?}", outcome(7));
	assert!(
		matches!(outcome(9), Outcome::ProtocolError { step: 0, reason } if reason.contains("signed")),
		"{:?}",
		outcome(9)
	);
	for i in [1, 4, 5, 6, 7, 9] {
		assert!(result.bits.row(i).iter().all(|&b| b == FLOOR_BITS), "miner {i} is all floor");
	}
	// Signed evidence at the same secret positions for every miner that answered them; it
	// verifies on its own, and the contexts are the round's text.
	assert_eq!(cfg.audit_samples, 4);
	let positions = |i: usize| m[i].evidence.iter().map(|e| e.context.clone()).collect::<Vec<_>>();
	assert_eq!(m[0].evidence.len(), 4);
	assert_eq!(positions(0), positions(8));
	for e in m[0].evidence.iter().chain(&m[8].evidence) {
		e.verify().expect("a real miner's evidence verifies");
		assert!(windows.iter().any(|w| w.tokens.starts_with(&e.context)));
	}
	assert!(m[9].evidence.is_empty(), "nothing unverified is kept");
	// Before they stopped, the stalling and dropping miners were scored (uniform: log2 V).
	let uniform = (tok.vocab_size() as f64).log2();
	assert!((result.bits[[2, 0]] - uniform).abs() < 1e-3);
	assert!((result.bits[[3, 16]] - uniform).abs() < 1e-3);

	let all: Vec<usize> = (0..miners.len()).collect();
	let c = result.compare(&all, &CompareConfig::default()).unwrap();
	assert_eq!(c.scores[0], 1.0, "the honest miner beats every faulty one: {:?}", c.scores);
	// Garbage loses to everyone who answered (ties among all-floor rows go to the earlier
	// commitment).
	for i in [0, 2, 3, 8] {
		assert_eq!(c.points[[1, i]], 0.0, "garbage vs {i}");
	}
	assert_eq!(c.bpb[1], FLOOR_BITS * n_tokens as f64 / scored_bytes as f64);
	honest.stop().await;
	tiny.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn position_t_is_revealed_only_after_every_miner_answered_it() {
	let (tok, _) = common::tokenizer();
	let validator = dev::alice();
	let log = Log::default();
	let fast = FakeMiner::start("fast", Behaviour::Uniform { delay: Duration::ZERO }, &key(1), &tok, log.clone(), |_| {}).await;
	let slow =
		FakeMiner::start("slow", Behaviour::Uniform { delay: Duration::from_millis(60) }, &key(2), &tok, log.clone(), |_| {}).await;
	let late = FakeMiner::start("late", Behaviour::Uniform { delay: Duration::from_millis(900) }, &key(3), &tok, log.clone(), |_| {})
		.await;
	let miners = vec![target(1, fast.hotkey, fast.addr), target(2, slow.hotkey, slow.addr), target(3, late.hotkey, late.addr)];
	let windows = common::windows(&tok, 3, 4, 8);
	let mut cfg = RoundConfig::new(tok.hash(), tok.vocab_size());
	cfg.step_timeout = Duration::from_millis(400);
	cfg.open_timeout = Duration::from_secs(2);
	let result = run_round(&miners, &windows, &validator, &cfg).await;
	assert_eq!(result.miners[0].outcome, Outcome::Completed);
	assert_eq!(result.miners[1].outcome, Outcome::Completed);
	// Step 0 (the open) has 2 s; the first reveal has 400 ms, which "late" misses.
	assert_eq!(result.miners[2].outcome, Outcome::Timeout { step: 1 });
	assert!(result.elapsed < Duration::from_secs(5), "{:?}", result.elapsed);

	let log = log.lock().clone();
	let at = |name: &str, ev: &str, step: u32| log.iter().find(|e| e.0 == name && e.1 == ev && e.2 == step).map(|e| e.3);
	for step in 1..8u32 {
		let fast_got = at("fast", "recv", step).expect("fast received every step");
		let slow_answered = at("slow", "send", step - 1).expect("slow answered the previous step");
		assert!(fast_got >= slow_answered, "step {step}: revealed to fast before slow answered");
	}
	// "late" answered step 1 only after the deadline, by which time the others had moved
	// on; it never got step 2.
	assert!(at("late", "recv", 2).is_none());
	assert!(at("fast", "recv", 2).unwrap() > at("late", "recv", 1).unwrap());
}
