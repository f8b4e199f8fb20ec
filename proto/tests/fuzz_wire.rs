//! Fuzzing what a peer sends over the wire, on both ends of the protocol:
//! - **bytes**: random and mutated encodings of every message decode or fail without a
//!   panic, and what decodes goes through the checks the miner and validator apply;
//! - **the stream protocol**: random sequences of client messages and miner answers
//!   (honest, wrong step, wrong documents or positions, broken distributions) through
//!   [`EvaluateSession`]: a refused message changes nothing, an accepted one leaves the
//!   state the protocol says, an honest answer is always accepted;
//! - **distributions**: [`validate_distribution`] accepts exactly what an independent
//!   statement of the rules accepts, NaN, infinities and masses above 1 included;
//! - **request envelopes**: random metadata never panics the parser, and a signed
//!   envelope with any one field changed is refused.
//!
//! Seeded: CI runs the default number of cases; `scripts/fuzz.sh` sets
//! `TESSERA_FUZZ_CASES` (and `TESSERA_FUZZ_SEED`) for long runs.

use prost::Message;
use proptest::{
	collection::vec,
	prelude::*,
	test_runner::{Config, RngSeed, TestRunner},
};
use subxt_signer::sr25519::dev;
use tessera_proto::{
	auth::{header, sign_with_nonce, Verifier},
	limits::{Limits, MASS_EPSILON},
	session::{Answered, Effect, EvaluateSession, Expectation},
	v1::{
		evaluate_request, evaluate_response, Close, Document, EvaluateError, EvaluateRequest, EvaluateResponse,
		FetchModelRequest, InfoResponse, ModelChunk, Open, Reveal, RevealedToken, Step, TokenDistribution,
	},
	validate::{validate_distribution, validate_info, validate_response},
	Hotkey,
};
use tonic::metadata::{MetadataMap, MetadataValue};

/// Runs `test` on `cases` inputs of `strategy` (or `TESSERA_FUZZ_CASES`), from a fixed
/// seed (or `TESSERA_FUZZ_SEED`); returns how many inputs ran.
fn fuzz<S: Strategy>(name: &str, cases: u32, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>) -> u64
where
	S::Value: std::fmt::Debug,
{
	let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
	let config = Config {
		cases: env("TESSERA_FUZZ_CASES").map_or(cases, |c| c as u32),
		rng_seed: RngSeed::Fixed(env("TESSERA_FUZZ_SEED").unwrap_or(0x7e55_e7a1)),
		failure_persistence: None,
		..Config::default()
	};
	let runs = std::cell::Cell::new(0u64);
	let result = TestRunner::new(config).run(&strategy, |v| {
		runs.set(runs.get() + 1);
		test(v)
	});
	println!("{name}: {} inputs", runs.get());
	if let Err(e) = result {
		panic!("{name}: {e}");
	}
	runs.get()
}

fn limits() -> Limits {
	Limits { max_documents: 6, max_top_k: 8, vocab_size: 50, max_context: 12 }
}

// ---------------------------------------------------------------------------------------
// Bytes
// ---------------------------------------------------------------------------------------

/// A valid encoding of each message kind, to mutate.
fn seeds() -> Vec<Vec<u8>> {
	let open = EvaluateRequest {
		msg: Some(evaluate_request::Msg::Open(Open {
			documents: vec![Document { doc_id: 1, prefix: vec![3, 4, 5] }, Document { doc_id: 2, prefix: vec![] }],
			top_k: 4,
		})),
	};
	let step = EvaluateResponse {
		msg: Some(evaluate_response::Msg::Step(Step {
			step: 0,
			distributions: vec![honest(1, 3, 4), honest(2, 0, 4)],
			signature: vec![7; 64],
			contexts: vec![vec![1; 32]],
		})),
	};
	let info = InfoResponse { model_hash: vec![1; 32], tokenizer_hash: vec![2; 32], vocab_size: 50, hotkey: Hotkey::of(&dev::bob()).to_ss58(), ..Default::default() };
	vec![open.encode_to_vec(), step.encode_to_vec(), info.encode_to_vec(), ModelChunk { offset: 3, data: vec![9; 40].into(), total_size: 43, model_hash: vec![1; 32] }.encode_to_vec()]
}

/// Random bytes, or a valid encoding with bytes flipped, inserted or cut.
fn wire_bytes() -> impl Strategy<Value = Vec<u8>> {
	let mutated = (0..seeds().len(), vec((any::<usize>(), any::<u8>(), 0..3u8), 1..6)).prop_map(|(i, edits)| {
		let mut b = seeds().swap_remove(i);
		for (at, byte, how) in edits {
			let at = at % (b.len() + 1);
			match how {
				0 if at < b.len() => b[at] ^= byte.max(1),
				1 => b.insert(at, byte),
				_ => b.truncate(at),
			}
		}
		b
	});
	prop_oneof![vec(any::<u8>(), 0..512), mutated]
}

/// A session with documents 1 and 2 open and answered, waiting for nothing.
fn open_session() -> EvaluateSession {
	let mut s = EvaluateSession::new(limits());
	let Ok(Effect::Answer(e)) = s.apply(&open_req(&[(1, 3), (2, 1)], 4)) else { panic!("open refused") };
	s.answer(&honest_step(&e)).expect("honest answer");
	s
}

#[test]
fn random_bytes_are_refused_or_checked_never_a_panic() {
	fuzz("wire bytes", 2_000, wire_bytes(), |bytes| {
		if let Ok(req) = EvaluateRequest::decode(bytes.as_slice()) {
			let mut s = open_session();
			let before = format!("{s:?}");
			if let Err(status) = s.apply(&req) {
				prop_assert_eq!(status.code(), tonic::Code::InvalidArgument);
				prop_assert_eq!(before, format!("{s:?}"), "a refused request changed the session");
			}
		}
		if let Ok(resp) = EvaluateResponse::decode(bytes.as_slice()) {
			let _ = validate_response(&resp, &limits());
			let mut s = EvaluateSession::new(limits());
			if let Ok(Effect::Answer(_)) = s.apply(&open_req(&[(1, 3), (2, 1)], 4)) {
				let before = format!("{s:?}");
				if s.answer(&resp).is_err() {
					prop_assert_eq!(before, format!("{s:?}"), "a refused answer changed the session");
				}
			}
		}
		if let Ok(info) = InfoResponse::decode(bytes.as_slice()) {
			let _ = validate_info(&info);
			let _ = Limits::from_info(&info);
		}
		let _ = ModelChunk::decode(bytes.as_slice());
		let _ = FetchModelRequest::decode(bytes.as_slice());
		Ok(())
	});
}

// ---------------------------------------------------------------------------------------
// The stream protocol
// ---------------------------------------------------------------------------------------

fn open_req(docs: &[(u32, usize)], top_k: u32) -> EvaluateRequest {
	EvaluateRequest {
		msg: Some(evaluate_request::Msg::Open(Open {
			documents: docs.iter().map(|&(doc_id, n)| Document { doc_id, prefix: (0..n as u32).collect() }).collect(),
			top_k,
		})),
	}
}

/// A valid distribution of `top_k.min(3)` tokens at 0.2 each, the rest in the tail.
fn honest(doc_id: u32, position: u32, top_k: u32) -> TokenDistribution {
	let n = top_k.min(3);
	TokenDistribution {
		doc_id,
		position,
		token_ids: (0..n).map(|i| i * 7 % 50).collect(),
		logprobs: vec![0.2f32.ln(); n as usize],
		tail_mass: 1.0 - 0.2 * n as f32,
	}
}

fn honest_step(e: &Expectation) -> EvaluateResponse {
	let distributions = e.docs.iter().map(|d| honest(d.doc_id, d.position, d.top_k)).collect();
	EvaluateResponse { msg: Some(evaluate_response::Msg::Step(Step { step: e.step, distributions, signature: vec![], contexts: vec![] })) }
}

/// How a miner answers the pending request.
#[derive(Debug, Clone, Copy)]
enum Answer {
	Honest,
	WrongStep,
	WrongDoc,
	WrongPosition,
	OneMissing,
	/// The first document's distribution broken: NaN, positive, mass above 1, a repeat.
	Broken(u8),
	ErrorForTheRequest,
	ErrorForOthers,
}

#[derive(Debug, Clone)]
enum Msg {
	Open(Vec<(u32, usize)>, u32),
	Reveal(Vec<u32>),
	Close(Vec<u32>),
	Answer(Answer),
}

fn msg() -> impl Strategy<Value = Msg> {
	let id = || 0..8u32;
	let answer = prop_oneof![
		6 => Just(Answer::Honest),
		1 => Just(Answer::WrongStep),
		1 => Just(Answer::WrongDoc),
		1 => Just(Answer::WrongPosition),
		1 => Just(Answer::OneMissing),
		2 => (0..4u8).prop_map(Answer::Broken),
		1 => Just(Answer::ErrorForTheRequest),
		1 => Just(Answer::ErrorForOthers),
	];
	prop_oneof![
		2 => (vec((id(), 0..14usize), 0..4), 0..10u32).prop_map(|(d, k)| Msg::Open(d, k)),
		3 => vec(id(), 0..4).prop_map(Msg::Reveal),
		1 => vec(id(), 0..3).prop_map(Msg::Close),
		5 => answer.prop_map(Msg::Answer),
	]
}

fn response(e: &Expectation, how: Answer) -> EvaluateResponse {
	let mut resp = honest_step(e);
	let Some(evaluate_response::Msg::Step(step)) = resp.msg.as_mut() else { unreachable!() };
	match how {
		Answer::Honest => {},
		Answer::WrongStep => step.step += 1,
		Answer::WrongDoc => step.distributions.iter_mut().take(1).for_each(|d| d.doc_id += 100),
		Answer::WrongPosition => step.distributions.iter_mut().take(1).for_each(|d| d.position += 1),
		Answer::OneMissing => {
			step.distributions.pop();
		},
		Answer::Broken(kind) => {
			if let Some(d) = step.distributions.first_mut() {
				match kind {
					0 => d.logprobs = vec![f32::NAN],
					1 => d.logprobs = vec![0.5],
					2 => d.tail_mass = 1.0,
					_ => {
						d.token_ids = vec![4, 4];
						d.logprobs = vec![-3.0, -3.0];
					},
				}
				d.token_ids.truncate(d.logprobs.len());
				d.token_ids.resize(d.logprobs.len(), 4);
			}
		},
		Answer::ErrorForTheRequest | Answer::ErrorForOthers => {
			let mut doc_ids: Vec<u32> = e.docs.iter().map(|d| d.doc_id).collect();
			if matches!(how, Answer::ErrorForOthers) {
				doc_ids.push(99);
			}
			resp.msg = Some(evaluate_response::Msg::Error(EvaluateError { code: 8, message: "busy".into(), doc_ids }));
		},
	}
	resp
}

/// Whether `how` for `e` is a well-formed answer, and for which documents it is broken.
fn answer_fits(e: &Expectation, how: Answer) -> (bool, usize) {
	let empty = e.docs.is_empty();
	match how {
		Answer::Honest | Answer::ErrorForTheRequest => (true, 0),
		Answer::Broken(kind) => {
			let broken = !empty && !(kind == 2 && honest(0, 0, e.docs[0].top_k).token_ids.is_empty());
			(true, broken as usize)
		},
		Answer::WrongDoc | Answer::WrongPosition | Answer::OneMissing => (empty, 0),
		Answer::WrongStep | Answer::ErrorForOthers => (false, 0),
	}
}

/// Client messages accepted and refused, answers accepted and refused, over the run.
static TALLY: [std::sync::atomic::AtomicU64; 4] = [const { std::sync::atomic::AtomicU64::new(0) }; 4];

fn count(i: usize) {
	TALLY[i].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

fn session_sequence(msgs: Vec<Msg>) -> Result<(), TestCaseError> {
	let lim = limits();
	let mut s = EvaluateSession::new(lim);
	for m in msgs {
		let before = format!("{s:?}");
		let pending = s.pending().cloned();
		let result = match &m {
			Msg::Open(docs, k) => s.apply(&open_req(docs, *k)).map(Some),
			Msg::Reveal(ids) => {
				let tokens = ids.iter().map(|&doc_id| RevealedToken { doc_id, token_id: doc_id % 50 }).collect();
				s.apply(&EvaluateRequest { msg: Some(evaluate_request::Msg::Reveal(Reveal { tokens })) }).map(Some)
			},
			Msg::Close(ids) => s.apply(&EvaluateRequest { msg: Some(evaluate_request::Msg::Close(Close { doc_ids: ids.clone() })) }).map(Some),
			Msg::Answer(how) => match &pending {
				None => {
					prop_assert!(s.answer(&EvaluateResponse::default()).is_err(), "an answer with nothing pending was taken");
					Ok(None)
				},
				Some(e) => {
					let (fits, broken) = answer_fits(e, *how);
					let verdict = s.answer(&response(e, *how));
					count(if verdict.is_ok() { 2 } else { 3 });
					match verdict {
						Ok(Answered::Step { step, invalid }) => {
							prop_assert!(fits, "{how:?} for {e:?} was accepted");
							prop_assert_eq!(step, e.step);
							prop_assert_eq!(invalid.len(), broken, "{:?}: {:?}", how, invalid);
						},
						Ok(Answered::Error { dropped, .. }) => {
							prop_assert!(fits, "{how:?} for {e:?} was accepted");
							prop_assert!(dropped.iter().all(|id| s.position(*id).is_none()), "dropped documents are still open");
						},
						Err(status) => {
							prop_assert!(!fits, "{how:?} for {e:?} refused: {status:?}");
							prop_assert_eq!(&before, &format!("{s:?}"), "a refused answer changed the session");
						},
					}
					prop_assert!(s.pending().is_none() || !fits);
					Ok(None)
				},
			},
		};
		match &result {
			Ok(Some(_)) => count(0),
			Err(_) => count(1),
			Ok(None) => {},
		}
		match result {
			Ok(Some(Effect::Answer(e))) => {
				prop_assert_eq!(s.pending(), Some(&e));
				for d in &e.docs {
					prop_assert_eq!(s.position(d.doc_id), Some(d.position));
					prop_assert!(d.top_k >= 1 && d.top_k <= lim.max_top_k);
				}
			},
			Ok(Some(Effect::Closed(ids))) => prop_assert!(ids.iter().all(|id| s.position(*id).is_none())),
			Ok(None) => {},
			Err(status) => {
				prop_assert_eq!(status.code(), tonic::Code::InvalidArgument);
				prop_assert_eq!(&before, &format!("{s:?}"), "{:?} was refused but changed the session", m);
			},
		}
		prop_assert!(s.open_documents() <= lim.max_documents as usize);
	}
	Ok(())
}

#[test]
fn random_streams_keep_the_protocol_state() {
	fuzz("session sequences", 600, vec(msg(), 1..40), session_sequence);
	let t: Vec<u64> = TALLY.iter().map(|c| c.load(std::sync::atomic::Ordering::Relaxed)).collect();
	println!("session sequences: requests {} accepted, {} refused; answers {} accepted, {} refused", t[0], t[1], t[2], t[3]);
	assert!(t.iter().all(|&c| c > 100), "each kind of outcome is exercised: {t:?}");
}

// ---------------------------------------------------------------------------------------
// Distributions
// ---------------------------------------------------------------------------------------

fn tricky_f32() -> impl Strategy<Value = f32> {
	prop_oneof![
		4 => -20.0f32..0.0,
		1 => Just(0.0f32),
		1 => Just(-0.0f32),
		1 => Just(f32::NAN),
		1 => Just(f32::INFINITY),
		1 => Just(f32::NEG_INFINITY),
		1 => 0.0f32..2.0,
		1 => any::<f32>(),
	]
}

fn distribution() -> impl Strategy<Value = TokenDistribution> {
	(0..12usize, 0..3usize).prop_flat_map(|(n, extra)| {
		(vec(prop_oneof![0..60u32, any::<u32>()], n), vec(tricky_f32(), n + extra % 2), prop_oneof![0.0f32..1.0, tricky_f32()], any::<bool>())
	})
	.prop_map(|(token_ids, mut logprobs, tail_mass, sort)| {
		if sort {
			logprobs.sort_by(|a, b| b.total_cmp(a));
		}
		TokenDistribution { doc_id: 1, position: 0, token_ids, logprobs, tail_mass }
	})
}

/// The rules of a distribution, stated independently of `validate_distribution`.
fn is_distribution(d: &TokenDistribution, top_k: u32, vocab: u32) -> bool {
	let ids = &d.token_ids;
	let lps = &d.logprobs;
	let distinct = ids.iter().enumerate().all(|(i, a)| !ids[..i].contains(a));
	let mass: f64 = lps.iter().map(|&l| f64::from(l).exp()).sum::<f64>() + f64::from(d.tail_mass);
	ids.len() == lps.len() &&
		ids.len() <= top_k as usize &&
		ids.iter().all(|&t| vocab == 0 || t < vocab) &&
		distinct &&
		lps.iter().all(|l| l.is_finite() && *l <= 0.0) &&
		lps.windows(2).all(|w| w[1] <= w[0]) &&
		d.tail_mass.is_finite() &&
		(0.0..=1.0).contains(&d.tail_mass) &&
		mass <= 1.0 + MASS_EPSILON
}

#[test]
fn distributions_are_accepted_exactly_when_they_are_distributions() {
	fuzz("distributions", 4_000, (distribution(), 0..12u32, prop_oneof![Just(0u32), Just(60u32)]), |(d, top_k, vocab)| {
		let verdict = validate_distribution(&d, top_k, vocab);
		prop_assert_eq!(verdict.is_ok(), is_distribution(&d, top_k, vocab), "{:?}: {:?}", d, verdict);
		if let Err(status) = verdict {
			prop_assert_eq!(status.code(), tonic::Code::InvalidArgument);
			prop_assert!(status.message().contains("doc 1"), "the error names the document: {}", status.message());
		}
		Ok(())
	});
}

// ---------------------------------------------------------------------------------------
// Request envelopes
// ---------------------------------------------------------------------------------------

const HEADERS: [&str; 5] = [header::CALLER, header::TARGET, header::NONCE, header::BODY_HASH, header::SIGNATURE];

fn metadata_value() -> impl Strategy<Value = String> {
	prop_oneof![
		"[ -~]{0,80}",
		"0x[0-9a-f]{0,140}",
		"[0-9]{0,24}",
		Just(Hotkey::of(&dev::alice()).to_ss58()),
	]
}

#[test]
fn random_metadata_and_altered_envelopes_are_refused() {
	let miner = dev::bob();
	let verifier = Verifier::new(Hotkey::of(&miner));
	let method = "/tessera.v1.Miner/Info";
	let body = [5u8; 32];
	let now = tessera_proto::auth::unix_nanos();
	fuzz("envelopes", 1_500, (vec((0..7usize, metadata_value()), 0..8), 0..6usize, metadata_value()), |(entries, field, value)| {
		// Random metadata: parsed or refused with a named reason, never accepted.
		let mut md = MetadataMap::new();
		for (k, v) in &entries {
			if let (Some(key), Ok(v)) = (HEADERS.get(*k), MetadataValue::try_from(v.as_str())) {
				md.append(*key, v);
			}
		}
		prop_assert!(verifier.verify_at(&md, method, &body, now).is_err(), "random metadata verified: {:?}", md);
		// A signed envelope with one field replaced: refused (or unchanged).
		let envelope = sign_with_nonce(&dev::alice(), &Hotkey::of(&miner), method, body, now);
		let mut md = MetadataMap::new();
		envelope.insert_into(&mut md);
		let original = md.get(HEADERS[field.min(4)]).map(|v| v.to_str().unwrap_or_default().to_owned());
		if field < 5 {
			if let Ok(v) = MetadataValue::try_from(value.as_str()) {
				md.insert(HEADERS[field], v);
			}
		} else {
			md.remove(HEADERS[value.len() % 5]);
		}
		let unchanged = field < 5 && original.as_deref() == Some(value.as_str());
		let fresh = Verifier::new(Hotkey::of(&miner));
		let verdict = fresh.verify_at(&md, method, &body, now);
		prop_assert_eq!(verdict.is_ok(), unchanged, "field {} set to {:?}: {:?}", field, value, verdict.err());
		Ok(())
	});
}
