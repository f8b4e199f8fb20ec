//! The `tessera.v1.Miner` gRPC service around the [`Engine`], and the server that hosts
//! it with health, reflection, limits and graceful shutdown.

use std::{collections::HashMap, net::SocketAddr, pin::Pin, sync::Arc, time::Duration};

use futures::Stream;
use prost::bytes::Bytes;
use tessera_proto::{
	limits::Limits,
	method,
	model::model_chunks,
	receipt::{sign_step, step_digests},
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
	engine::{Engine, SeqId, Work, WorkItem},
	metrics::Metrics,
};

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// Limits of the service itself (the engine has its own).
#[derive(Debug, Clone, Copy)]
pub struct ServiceLimits {
	/// Most Evaluate streams served at once; more get `RESOURCE_EXHAUSTED`.
	pub max_streams: usize,
	/// Most documents open on one stream (announced in `Info`).
	pub max_documents: u32,
	/// Largest `top_k` accepted (announced in `Info`).
	pub max_top_k: u32,
	/// Longest document accepted (announced in `Info`); at most the model's context.
	pub max_context: u32,
}

impl Default for ServiceLimits {
	fn default() -> Self {
		Self { max_streams: 64, max_documents: 64, max_top_k: 64, max_context: 2048 }
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
	streams: Arc<tokio::sync::Semaphore>,
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
		engine: crate::engine::EngineConfig,
		limits: ServiceLimits,
		metrics: Metrics,
	) -> Self {
		let verifier = Arc::new(Verifier::new(Hotkey::of(&keypair)).with_authorizer(callers.authorizer()));
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
		};
		Self {
			keypair: Arc::new(keypair),
			verifier,
			callers,
			engine,
			info,
			model: model.bytes,
			model_hash: model.model_hash,
			streams: Arc::new(tokio::sync::Semaphore::new(limits.max_streams)),
			metrics,
			closing: Arc::new(tokio::sync::watch::channel(false).0),
		}
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
	fn work(&mut self, req: &EvaluateRequest, expect: &Expectation, priority: u64) -> Work {
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
		Work { priority, items }
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

/// Serves one Evaluate stream until the client half-closes it, breaks the protocol, or
/// goes away. Each request is answered before the next is read.
async fn serve_stream(
	mut inbound: Streaming<EvaluateRequest>,
	tx: mpsc::Sender<Result<EvaluateResponse, Status>>,
	mut session: EvaluateSession,
	signer: StepSigner,
	engine: Arc<Engine>,
	priority: u64,
	metrics: Metrics,
	mut closing: tokio::sync::watch::Receiver<bool>,
) {
	let mut docs = StreamDocs { engine: engine.clone(), seqs: HashMap::new() };
	loop {
		let msg = tokio::select! {
			msg = inbound.message() => msg,
			_ = tx.closed() => return,
			_ = cut_off(&mut closing) => {
				let _ = tx.send(Err(Status::unavailable("the miner is shutting down"))).await;
				return;
			}
		};
		let msg = match msg {
			Ok(Some(m)) => m,
			Ok(None) => return,
			Err(status) => {
				tracing::debug!(%status, "evaluate stream broke");
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
				metrics.rejections.with_label_values(&["malformed_stream"]).inc();
				let _ = tx.send(Err(status)).await;
				return;
			}
		};
		let work = docs.work(&msg, &expect, priority);
		let answer = tokio::select! {
			a = engine.run(work) => a,
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
				let signature = signer.sign(&expect, &distributions);
				EvaluateResponse {
					msg: Some(evaluate_response::Msg::Step(Step { step: expect.step, distributions, signature })),
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
		let permit = self.streams.clone().try_acquire_owned().map_err(|_| {
			self.refused(
				"Evaluate",
				Status::resource_exhausted("too many Evaluate streams open on this miner; retry later"),
			)
		})?;
		self.metrics.requests.with_label_values(&["Evaluate", "Ok"]).inc();
		let priority = self.callers.priority(&verified.caller);
		let limits = Limits::from_info(&self.info);
		let (tx, rx) = mpsc::channel(2);
		let (engine, metrics, closing) = (self.engine.clone(), self.metrics.clone(), self.closing.subscribe());
		let signer = StepSigner { keypair: self.keypair.clone(), caller: verified.caller, model_hash: self.model_hash };
		tokio::spawn(async move {
			metrics.active_streams.inc();
			let session = EvaluateSession::new(limits);
			serve_stream(request.into_inner(), tx, session, signer, engine, priority, metrics.clone(), closing).await;
			metrics.active_streams.dec();
			drop(permit);
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
/// finish, closes what is left and returns.
pub async fn serve(
	listener: TcpListener,
	service: MinerService,
	shutdown: impl std::future::Future<Output = ()> + Send,
	grace: Duration,
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
	let server = Server::builder()
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
