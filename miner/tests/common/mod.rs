//! Shared test harness: a real miner server (real model file, real tonic on 127.0.0.1,
//! real verifier and caller table) and a validator-side Evaluate driver.
#![allow(dead_code)]

use std::{collections::HashMap, net::SocketAddr, path::Path, time::Duration};

use candle_core::{quantized::gguf_file, Device, Tensor};
use candle_transformers::models::quantized_llama::ModelWeights;
use subxt_signer::sr25519::{dev, Keypair};
use tessera_miner::{
	callers::{Caller, Callers, Policy},
	engine::EngineConfig,
	gguf::{write_random_llama, RandomLlama},
	metrics::Metrics,
	service::{serve, MinerService, ServiceLimits},
	LoadedModel,
};
use tessera_proto::{
	auth::signed_stream,
	limits::Limits,
	method,
	session::{Answered, Effect, EvaluateSession},
	v1::{
		evaluate_request, evaluate_response, miner_client::MinerClient, Document, EvaluateRequest, EvaluateResponse,
		InfoResponse, Open, Reveal, RevealedToken, TokenDistribution,
	},
	Hotkey,
};
use tokio::{sync::mpsc, sync::oneshot, task::JoinHandle};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{
	transport::{Channel, Endpoint},
	Streaming,
};

/// Upper bound on any one test.
pub const LIMIT: Duration = Duration::from_secs(300);

/// The miner's hotkey.
pub fn miner_key() -> Keypair {
	dev::bob()
}
/// A validator with a permit and stake.
pub fn validator() -> Keypair {
	dev::alice()
}
/// A registered hotkey without a permit.
pub fn no_permit() -> Keypair {
	dev::charlie()
}
/// A hotkey the subnet does not know.
pub fn stranger() -> Keypair {
	dev::dave()
}

/// Writes the tiny random llama used by the fast tests.
pub fn tiny_model(dir: &Path) -> std::path::PathBuf {
	let path = dir.join("tiny.gguf");
	write_random_llama(&path, &RandomLlama::default(), None).expect("writing the tiny model");
	path
}

/// A running miner.
pub struct Harness {
	pub client: MinerClient<Channel>,
	pub miner: Hotkey,
	pub info: InfoResponse,
	pub addr: SocketAddr,
	pub metrics: Metrics,
	pub model_bytes: prost::bytes::Bytes,
	pub callers: std::sync::Arc<Callers>,
	shutdown: Option<oneshot::Sender<()>>,
	server: Option<JoinHandle<Result<(), tonic::transport::Error>>>,
}

impl Harness {
	pub async fn start(model: &Path, engine: EngineConfig, limits: ServiceLimits) -> Self {
		let table = HashMap::from([
			(Hotkey::of(&validator()), Caller { uid: 0, stake: 1_000_000, validator_permit: true }),
			(Hotkey::of(&miner_key()), Caller { uid: 1, stake: 0, validator_permit: false }),
			(Hotkey::of(&no_permit()), Caller { uid: 2, stake: 5, validator_permit: false }),
		]);
		Self::start_with(model, engine, limits, table).await
	}

	/// A miner whose caller table is `table` (kept in [`Harness::callers`] to change).
	pub async fn start_with(model: &Path, engine: EngineConfig, limits: ServiceLimits, table: HashMap<Hotkey, Caller>) -> Self {
		let loaded = LoadedModel::load(model, &Device::Cpu).expect("model loads");
		let miner = Hotkey::of(&miner_key());
		let callers = Callers::new(1, Policy { require_permit: true, min_stake: 0 });
		callers.replace(table);
		let metrics = Metrics::new();
		let model_bytes = loaded.bytes.clone();
		let service = MinerService::start(miner_key(), loaded, callers.clone(), engine, limits, metrics.clone());
		let info = service.info().clone();
		let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
		let addr = listener.local_addr().unwrap();
		let (shutdown, stop) = oneshot::channel::<()>();
		let server = tokio::spawn(serve(
			listener,
			service,
			async {
				let _ = stop.await;
			},
			Duration::from_secs(5),
		));
		let client = Self::connect(addr).await;
		Self { client, miner, info, addr, metrics, model_bytes, callers, shutdown: Some(shutdown), server: Some(server) }
	}

	pub async fn connect(addr: SocketAddr) -> MinerClient<Channel> {
		let channel = Endpoint::from_shared(format!("http://{addr}"))
			.unwrap()
			.connect_timeout(Duration::from_secs(5))
			.connect()
			.await
			.unwrap();
		tessera_proto::client(channel)
	}

	pub async fn stop(mut self) {
		let _ = self.shutdown.take().unwrap().send(());
		drop(self.client);
		tokio::time::timeout(Duration::from_secs(30), self.server.take().unwrap())
			.await
			.expect("server stops")
			.unwrap()
			.unwrap();
	}

	/// Opens a signed Evaluate stream as `key`.
	pub async fn stream(&mut self, key: &Keypair) -> Result<Conversation, tonic::Status> {
		let (tx, rx) = mpsc::channel::<EvaluateRequest>(4);
		let req = signed_stream(key, &self.miner, method::EVALUATE, ReceiverStream::new(rx));
		let answers = self.client.evaluate(req).await?.into_inner();
		Ok(Conversation { tx, answers, session: EvaluateSession::new(Limits::from_info(&self.info)) })
	}
}

/// The validator's end of one Evaluate stream, checked with the protocol session.
pub struct Conversation {
	pub tx: mpsc::Sender<EvaluateRequest>,
	pub answers: Streaming<EvaluateResponse>,
	pub session: EvaluateSession,
}

pub fn open_msg(docs: &[(u32, Vec<u32>)], top_k: u32) -> EvaluateRequest {
	EvaluateRequest {
		msg: Some(evaluate_request::Msg::Open(Open {
			documents: docs.iter().map(|(doc_id, p)| Document { doc_id: *doc_id, prefix: p.clone() }).collect(),
			top_k,
		})),
	}
}

pub fn reveal_msg(tokens: &[(u32, u32)]) -> EvaluateRequest {
	EvaluateRequest {
		msg: Some(evaluate_request::Msg::Reveal(Reveal {
			tokens: tokens.iter().map(|&(doc_id, token_id)| RevealedToken { doc_id, token_id }).collect(),
		})),
	}
}

impl Harness {
	/// Asserts that the miner still answers a well-formed stream (one document, 6 answers),
	/// then stops it.
	pub async fn assert_serving_then_stop(mut self) {
		let mut conv = self.stream(&validator()).await.unwrap();
		let out = conv.run_documents(&[(1, tokens(3, 8, 256))], 2, 4).await;
		assert_eq!(out[&1].len(), 6);
		drop(conv);
		self.stop().await;
	}
}

impl Conversation {
	/// Sends a valid message and returns the miner's distributions (checked by the session).
	pub async fn ask(&mut self, msg: EvaluateRequest) -> Vec<TokenDistribution> {
		let effect = self.session.apply(&msg).expect("the test only sends valid messages");
		assert!(matches!(effect, Effect::Answer(_)));
		self.tx.send(msg).await.unwrap();
		let resp = self.answers.message().await.expect("stream alive").expect("an answer");
		match self.session.answer(&resp).expect("a well-formed answer") {
			Answered::Step { invalid, .. } => assert!(invalid.is_empty(), "invalid distributions: {invalid:?}"),
			Answered::Error { .. } => panic!("miner answered with an error: {resp:?}"),
		}
		match resp.msg {
			Some(evaluate_response::Msg::Step(s)) => s.distributions,
			other => panic!("expected a step, got {other:?}"),
		}
	}

	/// Sends any message, without checking it first.
	pub async fn send_raw(&mut self, msg: EvaluateRequest) {
		self.tx.send(msg).await.unwrap();
	}

	/// Runs documents to the end: opens them with their first `prefix` tokens, then
	/// reveals the rest token by token (all documents in lockstep). Returns, per
	/// document, the distributions of every position from `prefix` to the end.
	pub async fn run_documents(&mut self, docs: &[(u32, Vec<u32>)], prefix: usize, top_k: u32) -> HashMap<u32, Vec<TokenDistribution>> {
		let mut out: HashMap<u32, Vec<TokenDistribution>> = HashMap::new();
		let opened: Vec<(u32, Vec<u32>)> = docs.iter().map(|(id, toks)| (*id, toks[..prefix].to_vec())).collect();
		for d in self.ask(open_msg(&opened, top_k)).await {
			out.entry(d.doc_id).or_default().push(d);
		}
		let len = docs.iter().map(|(_, t)| t.len()).min().unwrap();
		for pos in prefix..len - 1 {
			let reveal: Vec<(u32, u32)> = docs.iter().map(|(id, t)| (*id, t[pos])).collect();
			for d in self.ask(reveal_msg(&reveal)).await {
				out.entry(d.doc_id).or_default().push(d);
			}
		}
		out
	}
}

/// Reference: candle's own single-sequence `quantized_llama`, log-softmax of the next
/// token after each prefix `tokens[..p]` for p in `prefix..tokens.len()`.
pub fn reference_logprobs(model: &Path, tokens: &[u32], prefix: usize) -> Vec<Vec<f32>> {
	let mut f = std::fs::File::open(model).unwrap();
	let ct = gguf_file::Content::read(&mut f).unwrap();
	let mut m = ModelWeights::from_gguf(ct, &mut f, &Device::Cpu).unwrap();
	let mut out = Vec::new();
	let first = Tensor::new(&tokens[..prefix], &Device::Cpu).unwrap().unsqueeze(0).unwrap();
	let mut logits = m.forward(&first, 0).unwrap();
	for pos in prefix..tokens.len() {
		let lsm = candle_nn::ops::log_softmax(&logits.squeeze(0).unwrap(), 0).unwrap();
		out.push(lsm.to_vec1::<f32>().unwrap());
		if pos + 1 < tokens.len() {
			let next = Tensor::new(&[tokens[pos]], &Device::Cpu).unwrap().unsqueeze(0).unwrap();
			logits = m.forward(&next, pos).unwrap();
		}
	}
	out
}

/// Largest |listed logprob - reference logprob| of a distribution, and whether the
/// listed ids are the reference's top ids (up to near-ties within `tie`).
pub fn compare_to_reference(d: &TokenDistribution, reference: &[f32], tie: f32) -> f32 {
	let mut worst = 0f32;
	for (&id, &lp) in d.token_ids.iter().zip(&d.logprobs) {
		worst = worst.max((lp - reference[id as usize]).abs());
	}
	// Nothing left out may be clearly more likely than the last listed token.
	if let Some(&last) = d.logprobs.last() {
		let listed: std::collections::HashSet<u32> = d.token_ids.iter().copied().collect();
		for (id, &r) in reference.iter().enumerate() {
			if !listed.contains(&(id as u32)) {
				assert!(r <= last + tie, "token {id} (ref {r}) missing though above the last listed ({last})");
			}
		}
	}
	worst
}

/// Checks the wire rules of a distribution: sorted, ids in vocab, distinct, mass <= 1.
pub fn assert_distribution(d: &TokenDistribution, vocab: u32, top_k: usize) {
	assert!(d.token_ids.len() <= top_k && !d.token_ids.is_empty());
	assert!(d.logprobs.windows(2).all(|w| w[0] >= w[1]), "sorted: {:?}", d.logprobs);
	assert!(d.token_ids.iter().all(|&t| t < vocab));
	let distinct: std::collections::HashSet<_> = d.token_ids.iter().collect();
	assert_eq!(distinct.len(), d.token_ids.len());
	let mass: f64 = d.logprobs.iter().map(|&l| f64::from(l).exp()).sum::<f64>() + f64::from(d.tail_mass);
	assert!(mass <= 1.0 + 1e-3 && mass > 0.99, "mass {mass}");
}

/// Deterministic pseudo-random tokens below `vocab`.
pub fn tokens(seed: u64, n: usize, vocab: u32) -> Vec<u32> {
	let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
	(0..n)
		.map(|_| {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			(x % u64::from(vocab)) as u32
		})
		.collect()
}
