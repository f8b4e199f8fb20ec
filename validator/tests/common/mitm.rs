//! A man in the middle between a validator and a miner: a gRPC relay on 127.0.0.1 that
//! forwards every call with its signed envelope untouched (so the miner accepts it) and
//! rewrites the token ids of every `Reveal` on the way. Plaintext or TLS with its own
//! certificate, towards a plaintext or TLS miner.

use std::{net::SocketAddr, time::Duration};

use tessera_proto::{
	auth::header,
	v1::{
		evaluate_request, miner_client::MinerClient, miner_server::Miner, EvaluateRequest, EvaluateResponse,
		FetchModelRequest, InfoRequest, InfoResponse, ModelChunk,
	},
};
use tokio::task::JoinHandle;
use tokio_stream::{wrappers::ReceiverStream, StreamExt};
use tonic::{metadata::MetadataMap, transport::Channel, Request, Response, Status, Streaming};

#[derive(Clone)]
struct Relay {
	upstream: MinerClient<Channel>,
}

type BoxStream<T> = std::pin::Pin<Box<dyn futures::Stream<Item = Result<T, Status>> + Send>>;

/// `msg` with the envelope headers of `from`.
fn forward<T>(from: &MetadataMap, msg: T) -> Request<T> {
	let mut req = Request::new(msg);
	for key in [header::CALLER, header::TARGET, header::NONCE, header::BODY_HASH, header::SIGNATURE] {
		if let Some(v) = from.get(key) {
			req.metadata_mut().insert(key, v.clone());
		}
	}
	req
}

fn rewrite(mut msg: EvaluateRequest) -> EvaluateRequest {
	if let Some(evaluate_request::Msg::Reveal(r)) = &mut msg.msg {
		for t in &mut r.tokens {
			t.token_id = (t.token_id + 1) % 256;
		}
	}
	msg
}

#[tonic::async_trait]
impl Miner for Relay {
	async fn info(&self, request: Request<InfoRequest>) -> Result<Response<InfoResponse>, Status> {
		let req = forward(request.metadata(), request.get_ref().clone());
		self.upstream.clone().info(req).await
	}

	type EvaluateStream = BoxStream<EvaluateResponse>;

	async fn evaluate(&self, request: Request<Streaming<EvaluateRequest>>) -> Result<Response<Self::EvaluateStream>, Status> {
		let metadata = request.metadata().clone();
		let inbound = request.into_inner().filter_map(|m| m.ok()).map(rewrite);
		let answers = self.upstream.clone().evaluate(forward(&metadata, inbound)).await?.into_inner();
		Ok(Response::new(Box::pin(answers)))
	}

	type FetchModelStream = BoxStream<ModelChunk>;

	async fn fetch_model(&self, request: Request<FetchModelRequest>) -> Result<Response<Self::FetchModelStream>, Status> {
		let req = forward(request.metadata(), request.get_ref().clone());
		let (tx, rx) = tokio::sync::mpsc::channel(4);
		let mut chunks = self.upstream.clone().fetch_model(req).await?.into_inner();
		tokio::spawn(async move {
			while let Some(c) = chunks.next().await {
				if tx.send(c).await.is_err() {
					return;
				}
			}
		});
		Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
	}
}

/// A running relay.
pub struct Mitm {
	pub addr: SocketAddr,
	task: JoinHandle<()>,
}

impl Mitm {
	/// Relays to `upstream` (over TLS when `upstream_tls`), serving over TLS with its
	/// own self-signed certificate when `serve_tls`.
	pub async fn start(upstream: SocketAddr, upstream_tls: bool, serve_tls: bool) -> Self {
		let (channel, _) = tessera_proto::transport::connect(upstream, upstream_tls, Duration::from_secs(5)).await.unwrap();
		let relay = Relay { upstream: tessera_proto::client(channel) };
		let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
		let addr = listener.local_addr().unwrap();
		let mut builder = tonic::transport::Server::builder();
		if serve_tls {
			let (cert, key) = tessera_miner::tls::self_signed().unwrap();
			let identity = tonic::transport::Identity::from_pem(cert, key);
			builder = builder.tls_config(tonic::transport::ServerTlsConfig::new().identity(identity)).unwrap();
		}
		let router = builder.add_service(tessera_proto::server(relay));
		let task = tokio::spawn(async move {
			let _ = router.serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)).await;
		});
		Self { addr, task }
	}
}

impl Drop for Mitm {
	fn drop(&mut self) {
		self.task.abort();
	}
}
