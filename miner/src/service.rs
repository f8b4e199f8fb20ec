//! The `tessera.v1.Miner` gRPC service around the [`Engine`], and the server that hosts
//! it with health, reflection, limits and graceful shutdown.

use std::{
	collections::HashMap,
	net::SocketAddr,
	pin::Pin,
	sync::Arc,
	time::{Duration, Instant},
};

use futures::Stream;
use prost::bytes::Bytes;
use tessera_proto::{
	limits::Limits,
	method,
	model::model_chunks,
	receipt::{sign_step, step_contexts, step_digests},
	session::{Effect, EvaluateSession, Expectation},
	v1::{
		evaluate_request, evaluate_response, miner_server::Miner, EvaluateError, EvaluateRequest, EvaluateResponse,
		FetchModelRequest, InfoRequest, InfoResponse, ModelChunk, Step, TokenDistribution,
	},
	Hotkey, Verifier,
};
use subxt_signer::sr25519::Keypair;
use tokio::{net::TcpListener, sync::mpsc};
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tonic::{transport::Server, Request, Response, Status, Streaming};

use crate::{
	callers::Callers,
	engine::{Engine, EngineConfig, SeqId, Work, WorkItem},
	kv_share::share_of,
	metrics::Metrics,
	slots::{SlotGuard, StreamSlots},
};

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// Limits of the service itself (the engine has its own).
#[derive(Debug, Clone, Copy)]
pub struct ServiceLimits {
	/// Most Evaluate streams served at once, shared by stake ([`StreamSlots`]).
	pub max_streams: usize,
	/// Least streams any admitted caller may hold, whatever its stake.
	pub min_streams_per_caller: usize,
	/// A stream with no message from its caller for this long is ended.
	pub idle_timeout: Duration,
	/// A stream is ended this long after it opened, however busy.
	pub stream_lifetime: Duration,
	/// Most documents open on one stream (announced in `Info`).
	pub max_documents: u32,
	/// Largest `top_k` accepted (announced in `Info`).
	pub max_top_k: u32,
	/// Longest document accepted (announced in `Info`); at most the model's context.
	pub max_context: u32,
}

impl Default for ServiceLimits {
	fn default() -> Self {
		Self {
			max_streams: 64,
			min_streams_per_caller: 2,
			idle_timeout: Duration::from_secs(60),
			stream_lifetime: Duration::from_secs(30 * 60),
			max_documents: 64,
			max_top_k: 64,
			max_context: 2048,
		}
	}
}

/// The miner service: verifies every call, then answers from the engine.
#[derive(Clone)]
pub struct MinerService {
	/// Signs every answered step (see `tessera_proto::receipt`).
	keypair: Arc<Keypair>,
	verifier: Arc<Verifier>,
	callers: Arc<Callers>,
	engine: Arc<Engine>,
	info: InfoResponse,
	model: Bytes,
	model_hash: [u8; 32],
	streams: Arc<StreamSlots>,
	limits: ServiceLimits,
	/// KV cache tokens and the least share of them per caller.
	kv_budget: (usize, usize),
	metrics: Metrics,
	/// Set when the server cuts the streams still open after the shutdown grace period.
	closing: Arc<tokio::sync::watch::Sender<bool>>,
}

impl MinerService {
	/// The miner: starts the [`Engine`] around `model`, signs answers with `keypair`
	/// (whose public key is the miner's hotkey) and admits the callers `callers`
	/// authorizes.
	pub fn start(
		keypair: Keypair,
		model: crate::LoadedModel,
		callers: Arc<Callers>,
		engine: EngineConfig,
		limits: ServiceLimits,
		metrics: Metrics,
	) -> Self {
		let verifier = Arc::new(Verifier::new(Hotkey::of(&keypair)).with_authorizer(callers.authorizer()));
		let kv_budget = (engine.max_cached_tokens, engine.min_share_tokens);
		let engine = Engine::start(model.llama, engine, metrics.clone());
		let max_context = limits.max_context.min(engine.max_context() as u32);
		let info = InfoResponse {
			model_hash: model.model_hash.to_vec(),
			tokenizer_hash: model.tokenizer_hash.to_vec(),
			vocab_size: engine.vocab_size() as u32,
			max_context,
			backend: format!("candle/{}", engine.device()),
			version: env!("CARGO_PKG_VERSION").into(),
			hotkey: verifier.hotkey().to_ss58(),
			model_size: model.bytes.len() as u64,
			max_documents: limits.max_documents.min(tessera_proto::limits::MAX_DOCUMENTS),
			max_top_k: limits.max_top_k.min(tessera_proto::limits::MAX_TOP_K),
			tls: None,
		};
		Self {
			keypair: Arc::new(keypair),
			verifier,
			callers,
			engine,
			info,
			model: model.bytes,
			model_hash: model.model_hash,
			streams: StreamSlots::new(limits.max_streams, limits.min_streams_per_caller),
			limits,
			kv_budget,
			metrics,
			closing: Arc::new(tokio::sync::watch::channel(false).0),
		}
	}

	/// Announces `binding` in `Info`: the miner serves over TLS with that certificate.
	pub fn with_tls_binding(mut self, binding: tessera_proto::v1::TlsBinding) -> Self {
		self.info.tls = Some(binding);
		self
	}

	/// What `Info` answers.
	pub fn info(&self) -> &InfoResponse {
		&self.info
	}

	fn refused(&self, method: &str, status: Status) -> Status {
		let reason = match status.code() {
			tonic::Code::Unauthenticated => "unauthenticated",
			tonic::Code::PermissionDenied => "permission_denied",
			tonic::Code::ResourceExhausted => "overloaded",
			_ => "invalid",
		};
		self.metrics.rejections.with_label_values(&[reason]).inc();
		self.count(method, &status);
		tracing::debug!(method, %status, "refused");
		status
	}

	fn count(&self, method: &str, status: &Status) {
		self.metrics.requests.with_label_values(&[method, &format!("{:?}", status.code())]).inc();
	}
}

/// Frees a stream's KV caches however the stream ends.
struct StreamDocs {
	engine: Arc<Engine>,
	seqs: HashMap<u32, SeqId>,
}

impl Drop for StreamDocs {
	fn drop(&mut self) {
		self.engine.drop_seqs(self.seqs.drain().map(|(_, s)| s).collect());
	}
}

impl StreamDocs {
	fn close(&mut self, doc_ids: &[u32]) {
		let seqs = doc_ids.iter().filter_map(|d| self.seqs.remove(d)).collect();
		self.engine.drop_seqs(seqs);
	}

	/// The engine work for a request the session accepted.
	fn work(&mut self, req: &EvaluateRequest, expect: &Expectation, caller: &CallerTerms) -> Work {
		let mut tokens: HashMap<u32, Vec<u32>> = HashMap::new();
		match &req.msg {
			Some(evaluate_request::Msg::Open(open)) => {
				for d in &open.documents {
					self.seqs.insert(d.doc_id, self.engine.new_seq());
					tokens.insert(d.doc_id, d.prefix.clone());
				}
			}
			Some(evaluate_request::Msg::Reveal(reveal)) => {
				for t in &reveal.tokens {
					tokens.insert(t.doc_id, vec![t.token_id]);
				}
			}
			_ => {}
		}
		let items = expect
			.docs
			.iter()
			.map(|d| WorkItem {
				seq: self.seqs[&d.doc_id],
				tokens: tokens.remove(&d.doc_id).unwrap_or_default(),
				top_k: d.top_k,
			})
			.collect();
		Work { priority: caller.priority, caller: caller.hotkey.0, share: caller.kv_share, items }
	}
}

/// What a caller is entitled to now: read from the caller table at every request, so a
/// new metagraph changes it at once.
struct CallerTerms {
	hotkey: Hotkey,
	priority: u64,
	kv_share: usize,
}

impl CallerTerms {
	fn of(callers: &Callers, hotkey: Hotkey, (budget, floor): (usize, usize)) -> Self {
		let (stake, total) = callers.stake_share(&hotkey);
		Self { hotkey, priority: callers.priority(&hotkey), kv_share: share_of(budget, stake, total, floor) }
	}
}

/// Resolves once the server cuts open streams (never if it only drops the sender).
async fn cut_off(closing: &mut tokio::sync::watch::Receiver<bool>) {
	loop {
		let cut = *closing.borrow_and_update();
		if cut {
			return;
		}
		if closing.changed().await.is_err() {
			std::future::pending::<()>().await;
		}
	}
}

/// Signs the steps of one stream: for its caller, with the model the miner announces.
struct StepSigner {
	keypair: Arc<Keypair>,
	caller: Hotkey,
	model_hash: [u8; 32],
}

impl StepSigner {
	fn sign(&self, expect: &Expectation, distributions: &[TokenDistribution]) -> Vec<u8> {
		sign_step(&self.keypair, &self.caller, &self.model_hash, &step_digests(expect, distributions)).to_vec()
	}
}

/// One stream's context: who calls, what it may do, and the miner parts it uses.
struct StreamCtx {
	caller: Hotkey,
	callers: Arc<Callers>,
	kv_budget: (usize, usize),
	signer: StepSigner,
	engine: Arc<Engine>,
	metrics: Metrics,
	closing: tokio::sync::watch::Receiver<bool>,
	slot: SlotGuard,
	idle_timeout: Duration,
	ends_at: tokio::time::Instant,
}

/// Why the miner ends a stream: the status the caller gets, and the metric label.
fn ended(metrics: &Metrics, reason: &'static str, status: Status) -> Status {
	metrics.streams_ended.with_label_values(&[reason]).inc();
	status
}

impl StreamCtx {
	/// The next message of the caller, or the status ending the stream (`Ok(None)`: the
	/// caller closed it or went away).
	async fn next(&mut self, inbound: &mut Streaming<EvaluateRequest>, tx: &mpsc::Sender<Result<EvaluateResponse, Status>>) -> Result<Option<EvaluateRequest>, Status> {
		let mut generation = self.callers.subscribe();
		let idle = tokio::time::sleep(self.idle_timeout);
		tokio::pin!(idle);
		loop {
			tokio::select! {
				msg = inbound.message() => return match msg {
					Ok(m) => Ok(m),
					// Bytes that are not an `EvaluateRequest`, or one over the size limit:
					// the caller is still there and is told why.
					Err(status) if matches!(status.code(), tonic::Code::Internal | tonic::Code::OutOfRange | tonic::Code::ResourceExhausted) => {
						self.metrics.rejections.with_label_values(&["malformed_stream"]).inc();
						Err(Status::invalid_argument(format!("EvaluateRequest does not decode: {}", status.message())))
					},
					Err(status) => {
						tracing::debug!(%status, "evaluate stream broke");
						Ok(None)
					}
				},
				_ = tx.closed() => return Ok(None),
				_ = cut_off(&mut self.closing) => return Err(Status::unavailable("the miner is shutting down")),
				_ = &mut idle => {
					let s = Status::deadline_exceeded(format!("no message for {} s: stream closed", self.idle_timeout.as_secs()));
					return Err(ended(&self.metrics, "idle", s));
				},
				_ = tokio::time::sleep_until(self.ends_at) => {
					let s = Status::deadline_exceeded("the stream reached its lifetime on this miner; open a new one");
					return Err(ended(&self.metrics, "lifetime", s));
				},
				_ = self.slot.evicted.changed() => {
					let s = Status::resource_exhausted("stream slot taken by a validator with more stake");
					return Err(ended(&self.metrics, "evicted", s));
				},
				Ok(()) = generation.changed() => {
					if let Err(why) = self.callers.authorize(&self.caller) {
						return Err(ended(&self.metrics, "permit_revoked", Status::permission_denied(why)));
					}
				},
			}
		}
	}
}

/// Serves one Evaluate stream until the client half-closes it, breaks the protocol, goes
/// away, idles, outlives its lifetime, loses its slot or its permit. Each request is
/// answered before the next is read.
async fn serve_stream(
	mut inbound: Streaming<EvaluateRequest>,
	tx: mpsc::Sender<Result<EvaluateResponse, Status>>,
	mut session: EvaluateSession,
	mut ctx: StreamCtx,
) {
	let mut docs = StreamDocs { engine: ctx.engine.clone(), seqs: HashMap::new() };
	loop {
		let msg = match ctx.next(&mut inbound, &tx).await {
			Ok(Some(m)) => m,
			Ok(None) => return,
			Err(status) => {
				tracing::debug!(caller = %ctx.caller, %status, "stream ended by the miner");
				let _ = tx.send(Err(status)).await;
				return;
			}
		};
		let expect = match session.apply(&msg) {
			Ok(Effect::Answer(e)) => e,
			Ok(Effect::Closed(ids)) => {
				docs.close(&ids);
				continue;
			}
			Err(status) => {
				ctx.metrics.rejections.with_label_values(&["malformed_stream"]).inc();
				let _ = tx.send(Err(status)).await;
				return;
			}
		};
		let terms = CallerTerms::of(&ctx.callers, ctx.caller, ctx.kv_budget);
		let work = docs.work(&msg, &expect, &terms);
		let answer = tokio::select! {
			a = ctx.engine.run(work) => a,
			_ = tx.closed() => return,
		};
		let resp = match answer {
			Ok(dists) => {
				let distributions: Vec<TokenDistribution> = expect
					.docs
					.iter()
					.zip(dists)
					.map(|(d, t)| TokenDistribution {
						doc_id: d.doc_id,
						position: d.position,
						token_ids: t.token_ids,
						logprobs: t.logprobs,
						tail_mass: t.tail_mass,
					})
					.collect();
				let signature = ctx.signer.sign(&expect, &distributions);
				EvaluateResponse {
					msg: Some(evaluate_response::Msg::Step(Step { step: expect.step, distributions, signature, contexts: step_contexts(&expect) })),
				}
			}
			Err(e) => {
				let doc_ids: Vec<u32> = expect.docs.iter().map(|d| d.doc_id).collect();
				docs.close(&doc_ids);
				tracing::warn!(error = %e, documents = doc_ids.len(), "request refused");
				EvaluateResponse {
					msg: Some(evaluate_response::Msg::Error(EvaluateError {
						code: e.code() as u32,
						message: e.to_string(),
						doc_ids,
					})),
				}
			}
		};
		if let Err(status) = session.answer(&resp) {
			tracing::error!(%status, "the miner's own answer broke the protocol");
			let _ = tx.send(Err(Status::internal(format!("miner produced an invalid answer: {}", status.message())))).await;
			return;
		}
		if tx.send(Ok(resp)).await.is_err() {
			return;
		}
	}
}

#[tonic::async_trait]
impl Miner for MinerService {
	async fn info(&self, request: Request<InfoRequest>) -> Result<Response<InfoResponse>, Status> {
		self.verifier.verify_unary(&request, method::INFO).map_err(|s| self.refused("Info", s))?;
		self.metrics.requests.with_label_values(&["Info", "Ok"]).inc();
		Ok(Response::new(self.info.clone()))
	}

	type EvaluateStream = BoxStream<EvaluateResponse>;

	async fn evaluate(&self, request: Request<Streaming<EvaluateRequest>>) -> Result<Response<Self::EvaluateStream>, Status> {
		let verified =
			self.verifier.verify_stream(&request, method::EVALUATE).map_err(|s| self.refused("Evaluate", s))?;
		let caller = verified.caller;
		let (stake, total) = self.callers.stake_share(&caller);
		let slot = self
			.streams
			.acquire(caller, self.callers.priority(&caller), stake, total)
			.map_err(|s| self.refused("Evaluate", s))?;
		self.metrics.requests.with_label_values(&["Evaluate", "Ok"]).inc();
		let limits = Limits::from_info(&self.info);
		let (tx, rx) = mpsc::channel(2);
		let ctx = StreamCtx {
			caller,
			callers: self.callers.clone(),
			kv_budget: self.kv_budget,
			signer: StepSigner { keypair: self.keypair.clone(), caller, model_hash: self.model_hash },
			engine: self.engine.clone(),
			metrics: self.metrics.clone(),
			closing: self.closing.subscribe(),
			slot,
			idle_timeout: self.limits.idle_timeout,
			ends_at: tokio::time::Instant::from_std(Instant::now() + self.limits.stream_lifetime),
		};
		let metrics = self.metrics.clone();
		tokio::spawn(async move {
			metrics.active_streams.inc();
			serve_stream(request.into_inner(), tx, EvaluateSession::new(limits), ctx).await;
			metrics.active_streams.dec();
		});
		Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
	}

	type FetchModelStream = BoxStream<ModelChunk>;

	async fn fetch_model(&self, request: Request<FetchModelRequest>) -> Result<Response<Self::FetchModelStream>, Status> {
		self.verifier.verify_unary(&request, method::FETCH_MODEL).map_err(|s| self.refused("FetchModel", s))?;
		let chunks = model_chunks(self.model.clone(), self.model_hash, request.get_ref()).inspect_err(|s| self.count("FetchModel", s))?;
		self.metrics.requests.with_label_values(&["FetchModel", "Ok"]).inc();
		Ok(Response::new(Box::pin(tokio_stream::iter(chunks.map(Ok)))))
	}
}

/// Serves `service` on `listener` (plus `grpc.health.v1.Health` and server reflection)
/// until `shutdown` resolves; then stops accepting, gives open calls up to `grace` to
/// finish, closes what is left and returns. Plaintext; see [`serve_tls`].
pub async fn serve(
	listener: TcpListener,
	service: MinerService,
	shutdown: impl std::future::Future<Output = ()> + Send,
	grace: Duration,
) -> Result<(), tonic::transport::Error> {
	serve_tls(listener, service, shutdown, grace, None).await
}

/// [`serve`], over TLS with `tls` when given (announce the certificate with
/// [`MinerService::with_tls_binding`] and axon protocol 1).
pub async fn serve_tls(
	listener: TcpListener,
	service: MinerService,
	shutdown: impl std::future::Future<Output = ()> + Send,
	grace: Duration,
	tls: Option<tonic::transport::ServerTlsConfig>,
) -> Result<(), tonic::transport::Error> {
	let (health, health_service) = tonic_health::server::health_reporter();
	health.set_serving::<tessera_proto::v1::miner_server::MinerServer<MinerService>>().await;
	let reflection = tonic_reflection::server::Builder::configure()
		.register_encoded_file_descriptor_set(tessera_proto::FILE_DESCRIPTOR_SET)
		.register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
		.build_v1()
		.expect("the descriptor sets are valid");
	let closing = service.closing.clone();
	let (stopping, stopped) = tokio::sync::oneshot::channel::<()>();
	let signal = async move {
		shutdown.await;
		health.set_not_serving::<tessera_proto::v1::miner_server::MinerServer<MinerService>>().await;
		let _ = stopping.send(());
	};
	let mut builder = Server::builder();
	if let Some(tls) = tls {
		builder = builder.tls_config(tls)?;
	}
	let server = builder
		.concurrency_limit_per_connection(256)
		.tcp_nodelay(true)
		.http2_keepalive_interval(Some(Duration::from_secs(30)))
		.add_service(health_service)
		.add_service(reflection)
		.add_service(tessera_proto::server(service))
		.serve_with_incoming_shutdown(TcpListenerStream::new(listener), signal);
	tokio::pin!(server);
	tokio::select! {
		result = &mut server => result,
		_ = async {
			if stopped.await.is_ok() {
				tokio::time::sleep(grace).await;
			} else {
				std::future::pending::<()>().await;
			}
		} => {
			tracing::warn!(grace_secs = grace.as_secs_f64(), "calls still open after the grace period; closing them");
			let _ = closing.send(true);
			// Streams answer UNAVAILABLE and end; give the connections a moment to flush.
			let _ = tokio::time::timeout(Duration::from_secs(2), &mut server).await;
			Ok(())
		}
	}
}

/// Binds `addr` for [`serve`].
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
	TcpListener::bind(addr).await
}
