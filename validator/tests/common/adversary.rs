//! Adversarial miners for the attack tests: they commit (announce and serve through
//! `FetchModel`) a model file of the test's choosing, answer with the real model and
//! then lie in a chosen way, sign every step with their hotkey, and may refuse, stall
//! or trickle the model download, or refuse whole rounds.

use std::{
	collections::HashMap,
	net::SocketAddr,
	sync::{
		atomic::{AtomicUsize, Ordering},
		Arc,
	},
	time::Duration,
};

use prost::bytes::Bytes;
use subxt_signer::sr25519::Keypair;
use tessera_miner::{
	llama::{Extend, Llama, SeqCache},
	topk::top_k,
};
use tessera_proto::{
	model::{model_chunks, model_hash},
	receipt::{sign_step, step_contexts, step_digests},
	session::{Effect, EvaluateSession},
	v1::{
		evaluate_request, evaluate_response, miner_server::Miner, EvaluateRequest, EvaluateResponse, FetchModelRequest,
		InfoRequest, InfoResponse, ModelChunk, Step, TokenDistribution,
	},
	Hotkey,
};
use tessera_validator::SubnetTokenizer;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

/// How the answers lie (applied to the model's honest top-K).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lie {
	/// The model's answers as they are.
	None,
	/// The first `k - 2` tokens exact, then two tokens the model ranks lower (chosen by
	/// "a stronger model": ranks k+8 and k+9) at +2.95 nats (just under the old bound of
	/// 3), paid from the tail.
	TwoTokens,
	/// Every token exact but one (rank 5) at +2 nats, paid from the tail.
	OneToken,
	/// Up to 0.1 of probability moved from the top token to the second, each logprob
	/// changed by at most 2.5 nats (under the old bound); the tail exact.
	MoveMass,
	/// No model at all: every answer uniform (all mass in the tail).
	Uniform,
	/// The model's answers with the tail raised to 1: more than probability 1 in all.
	MassAboveOne,
	/// The second listed token replaced by the first (an id listed twice).
	RepeatedIds,
	/// The top token at logprob +0.5 (a probability above 1).
	PositiveLogprob,
	/// The top token's logprob NaN.
	NotANumber,
	/// Listed tokens exact, the tail claimed at half of what the model leaves unlisted
	/// (the answer adds up to less than 1).
	TailShort,
	/// The first distribution names a document the validator did not ask about.
	OtherDocs,
}

/// How the miner answers `FetchModel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fetch {
	/// The committed file, at full speed.
	Serve,
	/// `UNAVAILABLE`, every time.
	Refuse,
	/// The first chunk, then nothing (the stream stays open).
	Stall,
	/// One 4 KiB chunk per second, forever.
	Trickle,
}

/// An adversarial miner's settings.
#[derive(Clone)]
pub struct Plan {
	/// The file it commits (announced in `Info`, served by `FetchModel`).
	pub file: Bytes,
	/// The model it answers with (required unless `lie` is `Uniform`).
	pub model: Option<Arc<Llama>>,
	/// How it lies.
	pub lie: Lie,
	/// How it serves its model.
	pub fetch: Fetch,
	/// Refuse (`PERMISSION_DENIED` on `Info`) rounds `i` with `i % cycle < refused`
	/// (0: never).
	pub refuse: (usize, usize),
	/// Wait before every answer.
	pub delay: Duration,
	/// Sign steps with this key instead of the miner's own (answers replayed with another
	/// miner's signatures).
	pub sign_as: Option<Arc<Keypair>>,
	/// Answer with this model instead on rounds `i` with `i % n == 0` (a miner serving
	/// another model than the committed one only on some rounds).
	pub switch: Option<(Arc<Llama>, usize)>,
}

impl Plan {
	/// An honest plan: the model's own answers, the file served.
	pub fn honest(file: Bytes, model: Arc<Llama>) -> Self {
		Self { file, model: Some(model), lie: Lie::None, fetch: Fetch::Serve, refuse: (0, 1), delay: Duration::ZERO, sign_as: None, switch: None }
	}

	/// Uniform answers (no model) for a committed `file`.
	pub fn uniform(file: Bytes) -> Self {
		Self { file, model: None, lie: Lie::Uniform, fetch: Fetch::Serve, refuse: (0, 1), delay: Duration::ZERO, sign_as: None, switch: None }
	}
}

#[derive(Clone)]
struct Adversary {
	key: Arc<Keypair>,
	plan: Plan,
	model_hash: [u8; 32],
	info: InfoResponse,
	rounds: Arc<AtomicUsize>,
}

type BoxStream<T> = std::pin::Pin<Box<dyn futures::Stream<Item = Result<T, Status>> + Send>>;

/// Applies `lie` to an honest top-K.
fn lie(lie: Lie, logits: &[f32], k: usize) -> (Vec<u32>, Vec<f32>, f32) {
	let honest = top_k(logits, k);
	let (mut ids, mut lps, mut tail) = (honest.token_ids, honest.logprobs, honest.tail_mass);
	match lie {
		Lie::None | Lie::Uniform | Lie::OtherDocs => {},
		Lie::MassAboveOne => tail = 1.0,
		Lie::RepeatedIds if ids.len() > 1 => ids[1] = ids[0],
		Lie::PositiveLogprob => lps[0] = 0.5,
		Lie::NotANumber => lps[0] = f32::NAN,
		Lie::TailShort => tail /= 2.0,
		Lie::RepeatedIds => {},
		Lie::TwoTokens => {
			let wide = top_k(logits, k + 10);
			for j in 0..2 {
				let (Some(&id), Some(&lp)) = (wide.token_ids.get(k + 8 + j), wide.logprobs.get(k + 8 + j)) else { continue };
				let at = k - 2 + j;
				tail += lps[at].exp();
				ids[at] = id;
				lps[at] = lp + 2.95;
				tail -= lps[at].exp();
			}
		},
		Lie::OneToken => {
			let before = lps[5].exp();
			lps[5] += 2.0;
			tail -= lps[5].exp() - before;
		},
		Lie::MoveMass => {
			let (p0, p1) = (lps[0].exp(), lps[1].exp());
			let moved = 0.1f32.min(p0 - 0.05).min(p1 * (2.5f32.exp() - 1.0)).max(0.0);
			lps[0] = (p0 - moved).ln();
			lps[1] = (p1 + moved).ln();
		},
	}
	(ids, lps, tail.max(0.0))
}

impl Adversary {
	/// The answers of one step: for each expected document, its distribution.
	fn answers(&self, caches: &mut HashMap<u32, SeqCache>, pending: &mut HashMap<u32, Vec<u32>>, e: &tessera_proto::session::Expectation) -> Vec<TokenDistribution> {
		let uniform = |d: &tessera_proto::session::ExpectedDoc| TokenDistribution {
			doc_id: d.doc_id,
			position: d.position,
			token_ids: vec![],
			logprobs: vec![],
			tail_mass: 1.0,
		};
		let Some(mut model) = self.plan.model.as_ref().filter(|_| self.plan.lie != Lie::Uniform) else {
			return e.docs.iter().map(uniform).collect();
		};
		// `info` counted this round before the stream opened.
		let round = self.rounds.load(Ordering::SeqCst).saturating_sub(1);
		if let Some((other, _)) = self.plan.switch.as_ref().filter(|(_, n)| round % (*n).max(1) == 0) {
			model = other;
		}
		let mut batch_tokens: Vec<(u32, Vec<u32>)> = e.docs.iter().map(|d| (d.doc_id, pending.remove(&d.doc_id).unwrap_or_default())).collect();
		for (id, _) in &batch_tokens {
			caches.entry(*id).or_insert_with(|| model.new_cache());
		}
		let mut caches_in_order: Vec<(u32, SeqCache)> = batch_tokens.iter().map(|(id, _)| (*id, caches.remove(id).unwrap())).collect();
		let mut batch: Vec<Extend> = batch_tokens
			.iter_mut()
			.zip(caches_in_order.iter_mut())
			.map(|((_, tokens), (_, cache))| Extend { tokens, cache })
			.collect();
		let logits: Vec<Vec<f32>> = model.forward(&mut batch).unwrap().to_vec2().unwrap();
		drop(batch);
		for (id, cache) in caches_in_order {
			caches.insert(id, cache);
		}
		let mut out: Vec<TokenDistribution> = e
			.docs
			.iter()
			.zip(logits)
			.map(|(d, row)| {
				let (token_ids, logprobs, tail_mass) = lie(self.plan.lie, &row, d.top_k as usize);
				TokenDistribution { doc_id: d.doc_id, position: d.position, token_ids, logprobs, tail_mass }
			})
			.collect();
		if self.plan.lie == Lie::OtherDocs {
			out.iter_mut().take(1).for_each(|d| d.doc_id += 1_000);
		}
		out
	}
}

#[tonic::async_trait]
impl Miner for Adversary {
	async fn info(&self, _: Request<InfoRequest>) -> Result<Response<InfoResponse>, Status> {
		let round = self.rounds.fetch_add(1, Ordering::SeqCst);
		let (refused, cycle) = self.plan.refuse;
		if round % cycle.max(1) < refused {
			return Err(Status::permission_denied("not serving you this round"));
		}
		Ok(Response::new(self.info.clone()))
	}

	type EvaluateStream = BoxStream<EvaluateResponse>;

	async fn evaluate(&self, request: Request<Streaming<EvaluateRequest>>) -> Result<Response<Self::EvaluateStream>, Status> {
		let caller = tessera_proto::Envelope::from_metadata(request.metadata()).map_err(|e| Status::unauthenticated(e.to_string()))?.caller;
		let mut inbound = request.into_inner();
		let (tx, rx) = tokio::sync::mpsc::channel(4);
		let me = self.clone();
		tokio::spawn(async move {
			let mut session = EvaluateSession::new(tessera_proto::limits::Limits::default());
			let mut caches = HashMap::new();
			let mut pending: HashMap<u32, Vec<u32>> = HashMap::new();
			while let Ok(Some(req)) = inbound.message().await {
				match &req.msg {
					Some(evaluate_request::Msg::Open(o)) => {
						for d in &o.documents {
							pending.insert(d.doc_id, d.prefix.clone());
						}
					},
					Some(evaluate_request::Msg::Reveal(r)) => {
						for t in &r.tokens {
							pending.entry(t.doc_id).or_default().push(t.token_id);
						}
					},
					_ => {},
				}
				let Ok(Effect::Answer(e)) = session.apply(&req) else { continue };
				tokio::time::sleep(me.plan.delay).await;
				let me2 = me.clone();
				let (distributions, c, p) = tokio::task::spawn_blocking(move || {
					let d = me2.answers(&mut caches, &mut pending, &e);
					(d, caches, pending)
				})
				.await
				.unwrap();
				caches = c;
				pending = p;
				let expected = session.pending().cloned().unwrap();
				let signer = me.plan.sign_as.as_deref().unwrap_or(&me.key);
				let signature = sign_step(signer, &caller, &me.model_hash, &step_digests(&expected, &distributions)).to_vec();
				let resp = EvaluateResponse {
					msg: Some(evaluate_response::Msg::Step(Step { step: expected.step, distributions, signature, contexts: step_contexts(&expected) })),
				};
				let _ = session.answer(&resp);
				if tx.send(Ok(resp)).await.is_err() {
					return;
				}
			}
		});
		Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
	}

	type FetchModelStream = BoxStream<ModelChunk>;

	async fn fetch_model(&self, request: Request<FetchModelRequest>) -> Result<Response<Self::FetchModelStream>, Status> {
		let chunks = model_chunks(self.plan.file.clone(), self.model_hash, request.get_ref())?;
		match self.plan.fetch {
			Fetch::Serve => Ok(Response::new(Box::pin(tokio_stream::iter(chunks.map(Ok))))),
			Fetch::Refuse => Err(Status::unavailable("model download disabled")),
			Fetch::Stall | Fetch::Trickle => {
				let trickle = self.plan.fetch == Fetch::Trickle;
				let file = self.plan.file.clone();
				let (tx, rx) = tokio::sync::mpsc::channel(1);
				tokio::spawn(async move {
					let mut offset = 0usize;
					loop {
						let end = (offset + 4096).min(file.len().saturating_sub(1));
						let chunk = ModelChunk { offset: offset as u64, data: file.slice(offset..end), total_size: file.len() as u64, model_hash: vec![] };
						if tx.send(Ok(chunk)).await.is_err() {
							return;
						}
						offset = end;
						let wait = if trickle { Duration::from_secs(1) } else { Duration::from_secs(3600) };
						tokio::time::sleep(wait).await;
					}
				});
				Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
			},
		}
	}
}

/// A running adversarial miner on 127.0.0.1.
pub struct AdversaryMiner {
	pub addr: SocketAddr,
	pub hotkey: Hotkey,
	pub model_hash: [u8; 32],
	task: JoinHandle<()>,
}

impl AdversaryMiner {
	pub async fn start(key: &Keypair, tok: &SubnetTokenizer, plan: Plan) -> Self {
		let hotkey = Hotkey::of(key);
		let model_hash = model_hash(&plan.file);
		let info = InfoResponse {
			model_hash: model_hash.to_vec(),
			tokenizer_hash: tok.hash().to_vec(),
			vocab_size: tok.vocab_size(),
			max_context: 2048,
			backend: "adversary".into(),
			version: "0.0.0".into(),
			hotkey: hotkey.to_ss58(),
			model_size: plan.file.len() as u64,
			max_documents: 64,
			max_top_k: 64,
			tls: None,
		};
		let adversary = Adversary { key: Arc::new(key.clone()), plan, model_hash, info, rounds: Arc::default() };
		let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
		let addr = listener.local_addr().unwrap();
		let task = tokio::spawn(async move {
			let _ = tonic::transport::Server::builder()
				.add_service(tessera_proto::server(adversary))
				.serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
				.await;
		});
		Self { addr, hotkey, model_hash, task }
	}

	/// The target a validator evaluates: this miner with its committed model.
	pub fn target(&self, uid: u16, commit_block: u64) -> tessera_validator::MinerTarget {
		tessera_validator::MinerTarget { uid, hotkey: self.hotkey, addr: self.addr, commit_block, model_hash: Some(self.model_hash), tls: false }
	}
}

impl Drop for AdversaryMiner {
	fn drop(&mut self) {
		self.task.abort();
	}
}
