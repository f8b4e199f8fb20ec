//! End-to-end: a real tonic server on 127.0.0.1 (ephemeral port) with a test-only `Miner`
//! that authenticates every call through the `Verifier`, driven by a real client.

use std::{collections::HashMap, net::SocketAddr, pin::Pin, sync::Arc, time::Duration};

use prost::bytes::Bytes;
use subxt_signer::sr25519::{dev, Keypair};
use tessera_proto::{
	auth::{signed_stream, signed_unary},
	limits::Limits,
	method,
	model::{model_chunks, model_hash, ModelDownload},
	session::{Answered, Effect, EvaluateSession},
	v1::{
		evaluate_request, evaluate_response, miner_client::MinerClient, miner_server::Miner, Close, Document,
		EvaluateRequest, EvaluateResponse, FetchModelRequest, InfoRequest, InfoResponse, ModelChunk, Open, Reveal,
		RevealedToken, Step, TokenDistribution,
	},
	Hotkey, Verifier,
};
use tokio::{
	net::TcpListener,
	sync::{mpsc, oneshot},
	task::JoinHandle,
	time::timeout,
};
use tokio_stream::{
	wrappers::{ReceiverStream, TcpListenerStream},
	Stream, StreamExt,
};
use tonic::{
	transport::{Channel, Endpoint, Server},
	Code, Request, Response, Status, Streaming,
};

const VOCAB: u32 = 1000;
const LIMIT: Duration = Duration::from_secs(30);

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// A fake model: after token t it lists t+1, t+2, ... with probabilities 1/2, 1/4, ...
struct TestMiner {
	verifier: Arc<Verifier>,
	info: InfoResponse,
	model: Bytes,
	hash: [u8; 32],
}

fn predict(doc_id: u32, position: u32, last: u32, top_k: u32) -> TokenDistribution {
	let token_ids: Vec<u32> = (1..=top_k).map(|i| (last + i) % VOCAB).collect();
	let logprobs = (1..=top_k).map(|i| -(i as f32) * std::f32::consts::LN_2).collect();
	TokenDistribution { doc_id, position, token_ids, logprobs, tail_mass: 0.5f32.powi(top_k as i32) }
}

#[tonic::async_trait]
impl Miner for TestMiner {
	async fn info(&self, request: Request<InfoRequest>) -> Result<Response<InfoResponse>, Status> {
		self.verifier.verify_unary(&request, method::INFO)?;
		Ok(Response::new(self.info.clone()))
	}

	type EvaluateStream = BoxStream<EvaluateResponse>;

	async fn evaluate(
		&self,
		request: Request<Streaming<EvaluateRequest>>,
	) -> Result<Response<Self::EvaluateStream>, Status> {
		self.verifier.verify_stream(&request, method::EVALUATE)?;
		let limits = Limits::from_info(&self.info);
		let mut inbound = request.into_inner();
		let (tx, rx) = mpsc::channel(4);
		tokio::spawn(async move {
			let mut session = EvaluateSession::new(limits);
			let mut last: HashMap<u32, u32> = HashMap::new();
			loop {
				let msg = match inbound.message().await {
					Ok(Some(m)) => m,
					Ok(None) | Err(_) => break,
				};
				let expectation = match session.apply(&msg) {
					Ok(Effect::Answer(e)) => e,
					Ok(Effect::Closed(_)) => continue,
					Err(status) => {
						let _ = tx.send(Err(status)).await;
						break;
					},
				};
				match &msg.msg {
					Some(evaluate_request::Msg::Open(o)) => {
						for d in &o.documents {
							last.insert(d.doc_id, *d.prefix.last().expect("validated non-empty"));
						}
					},
					Some(evaluate_request::Msg::Reveal(r)) => {
						for t in &r.tokens {
							last.insert(t.doc_id, t.token_id);
						}
					},
					_ => unreachable!("only open and reveal are answered"),
				}
				let distributions =
					expectation.docs.iter().map(|d| predict(d.doc_id, d.position, last[&d.doc_id], d.top_k)).collect();
				let resp = EvaluateResponse {
					msg: Some(evaluate_response::Msg::Step(Step { step: expectation.step, distributions, signature: vec![], contexts: vec![] })),
				};
				match session.answer(&resp) {
					Ok(Answered::Step { invalid, .. }) if invalid.is_empty() => {},
					other => panic!("test miner produced a bad answer: {other:?}"),
				}
				if tx.send(Ok(resp)).await.is_err() {
					break;
				}
			}
		});
		Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
	}

	type FetchModelStream = BoxStream<ModelChunk>;

	async fn fetch_model(
		&self,
		request: Request<FetchModelRequest>,
	) -> Result<Response<Self::FetchModelStream>, Status> {
		self.verifier.verify_unary(&request, method::FETCH_MODEL)?;
		let chunks = model_chunks(self.model.clone(), self.hash, request.get_ref())?;
		Ok(Response::new(Box::pin(tokio_stream::iter(chunks.map(Ok)))))
	}
}

struct Harness {
	client: MinerClient<Channel>,
	miner: Hotkey,
	model: Bytes,
	info: InfoResponse,
	addr: SocketAddr,
	shutdown: Option<oneshot::Sender<()>>,
	server: Option<JoinHandle<Result<(), tonic::transport::Error>>>,
}

impl Harness {
	async fn start() -> Self {
		let miner_key = dev::bob();
		let miner = Hotkey::of(&miner_key);
		let model = Bytes::from(
			(0..1_048_576 + 12_345).map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect::<Vec<_>>(),
		);
		let hash = model_hash(&model);
		let info = InfoResponse {
			model_hash: hash.to_vec(),
			tokenizer_hash: vec![0x11; 32],
			vocab_size: VOCAB,
			max_context: 64,
			backend: "test/cpu".into(),
			version: env!("CARGO_PKG_VERSION").into(),
			hotkey: miner.to_ss58(),
			model_size: model.len() as u64,
			max_documents: 8,
			max_top_k: 16,
			tls: None,
		};
		let verifier = Arc::new(Verifier::new(miner));
		let svc = TestMiner { verifier, info: info.clone(), model: model.clone(), hash };
		let reflection = tonic_reflection::server::Builder::configure()
			.register_encoded_file_descriptor_set(tessera_proto::FILE_DESCRIPTOR_SET)
			.build_v1()
			.unwrap();
		let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
		let addr = listener.local_addr().unwrap();
		let (shutdown, stop) = oneshot::channel::<()>();
		let server = tokio::spawn(
			Server::builder()
				.add_service(tessera_proto::server(svc))
				.add_service(reflection)
				.serve_with_incoming_shutdown(TcpListenerStream::new(listener), async {
					let _ = stop.await;
				}),
		);
		let channel = Endpoint::from_shared(format!("http://{addr}"))
			.unwrap()
			.connect_timeout(Duration::from_secs(5))
			.connect()
			.await
			.unwrap();
		Self {
			client: tessera_proto::client(channel),
			miner,
			model,
			info,
			addr,
			shutdown: Some(shutdown),
			server: Some(server),
		}
	}

	async fn stop(mut self) {
		let _ = self.shutdown.take().unwrap().send(());
		drop(self.client);
		timeout(Duration::from_secs(10), self.server.take().unwrap()).await.expect("server stops").unwrap().unwrap();
	}
}

fn validator() -> Keypair {
	dev::alice()
}

#[tokio::test]
async fn info_requires_a_valid_signature() {
	timeout(LIMIT, async {
		let mut h = Harness::start().await;
		// Signed: answered.
		let resp = h
			.client
			.info(signed_unary(&validator(), &h.miner, method::INFO, InfoRequest {}))
			.await
			.unwrap()
			.into_inner();
		assert_eq!(resp, h.info);
		assert_eq!(tessera_proto::validate::validate_info(&resp).unwrap(), h.miner);
		// Unsigned: refused.
		let err = h.client.info(InfoRequest {}).await.unwrap_err();
		assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");
		assert!(err.message().contains("unsigned"), "{err:?}");
		// The same signed request replayed: refused.
		let req = signed_unary(&validator(), &h.miner, method::INFO, InfoRequest {});
		let md = req.metadata().clone();
		h.client.info(req).await.unwrap();
		let mut replay = Request::new(InfoRequest {});
		*replay.metadata_mut() = md;
		let err = h.client.info(replay).await.unwrap_err();
		assert_eq!(err.code(), Code::Unauthenticated);
		assert!(err.message().contains("replayed"), "{err:?}");
		// Signed for another miner: permission denied.
		let other = Hotkey::of(&dev::charlie());
		let err = h.client.info(signed_unary(&validator(), &other, method::INFO, InfoRequest {})).await.unwrap_err();
		assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
		// Signed for another method: bad signature.
		let req = signed_unary(&validator(), &h.miner, method::FETCH_MODEL, InfoRequest {});
		let err = h.client.info(req).await.unwrap_err();
		assert_eq!(err.code(), Code::Unauthenticated);
		h.stop().await;
	})
	.await
	.expect("test timed out");
}

fn open(docs: &[(u32, &[u32])], top_k: u32) -> EvaluateRequest {
	EvaluateRequest {
		msg: Some(evaluate_request::Msg::Open(Open {
			documents: docs.iter().map(|&(doc_id, p)| Document { doc_id, prefix: p.to_vec() }).collect(),
			top_k,
		})),
	}
}

/// Applies `m` to the validator-side session (so only valid messages go out), then sends it.
async fn send(session: &mut EvaluateSession, tx: &mpsc::Sender<EvaluateRequest>, m: EvaluateRequest) -> Effect {
	let effect = session.apply(&m).expect("the validator only sends valid messages");
	tx.send(m).await.unwrap();
	effect
}

fn step_of(resp: &EvaluateResponse) -> &Step {
	match &resp.msg {
		Some(evaluate_response::Msg::Step(s)) => s,
		other => panic!("expected a step, got {other:?}"),
	}
}

#[tokio::test]
async fn evaluate_stream_lockstep() {
	timeout(LIMIT, async {
		let mut h = Harness::start().await;
		let (tx, rx) = mpsc::channel::<EvaluateRequest>(4);
		let req = signed_stream(&validator(), &h.miner, method::EVALUATE, ReceiverStream::new(rx));
		let mut answers = h.client.evaluate(req).await.unwrap().into_inner();
		let mut session = EvaluateSession::new(Limits::from_info(&h.info));

		// Open two documents: step 0 answers both at their prefix lengths.
		let Effect::Answer(e) = send(&mut session, &tx, open(&[(7, &[1, 2, 10]), (9, &[500])], 4)).await else {
			panic!()
		};
		let resp = answers.message().await.unwrap().expect("step 0");
		let s = step_of(&resp);
		assert_eq!(s.step, 0);
		assert_eq!(s.distributions.iter().map(|d| (d.doc_id, d.position)).collect::<Vec<_>>(), vec![(7, 3), (9, 1)]);
		assert_eq!(s.distributions[0].token_ids, vec![11, 12, 13, 14]);
		assert_eq!(s.distributions[1].token_ids, vec![501, 502, 503, 504]);
		assert_eq!(e.step, 0);
		let Answered::Step { invalid, .. } = session.answer(&resp).unwrap() else { panic!() };
		assert!(invalid.is_empty());

		// Reveal the true tokens: step 1 conditions on them.
		let reveal = EvaluateRequest {
			msg: Some(evaluate_request::Msg::Reveal(Reveal {
				tokens: vec![RevealedToken { doc_id: 7, token_id: 42 }, RevealedToken { doc_id: 9, token_id: 999 }],
			})),
		};
		send(&mut session, &tx, reveal).await;
		let resp = answers.message().await.unwrap().expect("step 1");
		let s = step_of(&resp);
		assert_eq!(s.step, 1);
		assert_eq!(s.distributions.iter().map(|d| (d.doc_id, d.position)).collect::<Vec<_>>(), vec![(7, 4), (9, 2)]);
		assert_eq!(s.distributions[0].token_ids[0], 43);
		assert_eq!(s.distributions[1].token_ids[0], 0); // wraps at the vocab size
		session.answer(&resp).unwrap();

		// Close both (not answered), then half-close: the miner ends the stream cleanly.
		let Effect::Closed(ids) = send(
			&mut session,
			&tx,
			EvaluateRequest { msg: Some(evaluate_request::Msg::Close(Close { doc_ids: vec![7, 9] })) },
		)
		.await
		else {
			panic!()
		};
		assert_eq!(ids, vec![7, 9]);
		drop(tx);
		assert_eq!(answers.message().await.unwrap(), None);
		assert_eq!(session.open_documents(), 0);
		h.stop().await;
	})
	.await
	.expect("test timed out");
}

#[tokio::test]
async fn evaluate_refuses_unsigned_and_malformed_streams() {
	timeout(LIMIT, async {
		let mut h = Harness::start().await;
		// Unsigned stream.
		let (_tx, rx) = mpsc::channel::<EvaluateRequest>(1);
		let err = h.client.evaluate(Request::new(ReceiverStream::new(rx))).await.unwrap_err();
		assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");
		// A reveal before any open, and a top_k above the miner's limit (16).
		for bad in [
			EvaluateRequest {
				msg: Some(evaluate_request::Msg::Reveal(Reveal {
					tokens: vec![RevealedToken { doc_id: 1, token_id: 2 }],
				})),
			},
			open(&[(1, &[1])], 17),
			open(&[(1, &[VOCAB])], 4),
		] {
			let (tx, rx) = mpsc::channel::<EvaluateRequest>(1);
			let req = signed_stream(&validator(), &h.miner, method::EVALUATE, ReceiverStream::new(rx));
			let mut answers = h.client.evaluate(req).await.unwrap().into_inner();
			tx.send(bad).await.unwrap();
			let err = answers.message().await.unwrap_err();
			assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
		}
		h.stop().await;
	})
	.await
	.expect("test timed out");
}

#[tokio::test]
async fn fetch_model_streams_the_committed_file() {
	timeout(LIMIT, async {
		let mut h = Harness::start().await;
		let hash = model_hash(&h.model);
		let req = FetchModelRequest { offset: 0, chunk_size: 100_000, model_hash: hash.to_vec() };
		let mut chunks = h
			.client
			.fetch_model(signed_unary(&validator(), &h.miner, method::FETCH_MODEL, req))
			.await
			.unwrap()
			.into_inner();
		let mut download = ModelDownload::new(Some(hash), 64 << 20);
		let mut file = Vec::new();
		let mut n = 0;
		while let Some(chunk) = chunks.next().await {
			let chunk = chunk.unwrap();
			download.push(&chunk).unwrap();
			file.extend_from_slice(&chunk.data);
			n += 1;
			assert!(n <= 100, "too many chunks");
		}
		assert_eq!(n, 11);
		assert_eq!(download.finish().unwrap(), hash);
		assert_eq!(&file[..], &h.model[..]);
		assert_eq!(file.len() as u64, h.info.model_size);

		// Resume from the middle with the miner's default chunk size.
		let offset = 700_001usize;
		let req = FetchModelRequest { offset: offset as u64, ..Default::default() };
		let mut chunks = h
			.client
			.fetch_model(signed_unary(&validator(), &h.miner, method::FETCH_MODEL, req))
			.await
			.unwrap()
			.into_inner();
		let mut download = ModelDownload::resume(&h.model[..offset], Some(hash), 64 << 20);
		while let Some(chunk) = chunks.message().await.unwrap() {
			download.push(&chunk).unwrap();
		}
		assert_eq!(download.finish().unwrap(), hash);

		// Another model expected: refused before streaming.
		let req = FetchModelRequest { model_hash: vec![0; 32], ..Default::default() };
		let err =
			h.client.fetch_model(signed_unary(&validator(), &h.miner, method::FETCH_MODEL, req)).await.unwrap_err();
		assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
		// Unsigned.
		let err = h.client.fetch_model(FetchModelRequest::default()).await.unwrap_err();
		assert_eq!(err.code(), Code::Unauthenticated);
		h.stop().await;
	})
	.await
	.expect("test timed out");
}

#[tokio::test]
async fn reflection_lists_the_service() {
	use tonic_reflection::pb::v1::{
		server_reflection_client::ServerReflectionClient, server_reflection_request::MessageRequest,
		server_reflection_response::MessageResponse, ServerReflectionRequest,
	};
	timeout(LIMIT, async {
		let h = Harness::start().await;
		let channel = Endpoint::from_shared(format!("http://{}", h.addr)).unwrap().connect().await.unwrap();
		let mut client = ServerReflectionClient::new(channel);
		let req = ServerReflectionRequest {
			host: String::new(),
			message_request: Some(MessageRequest::ListServices(String::new())),
		};
		let mut resp = client.server_reflection_info(tokio_stream::iter([req])).await.unwrap().into_inner();
		let msg = resp.message().await.unwrap().expect("one answer");
		let Some(MessageResponse::ListServicesResponse(list)) = msg.message_response else { panic!("{msg:?}") };
		let names: Vec<_> = list.service.iter().map(|s| s.name.as_str()).collect();
		assert!(names.contains(&"tessera.v1.Miner"), "{names:?}");
		drop(client);
		h.stop().await;
	})
	.await
	.expect("test timed out");
}
