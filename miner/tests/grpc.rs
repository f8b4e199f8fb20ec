//! The miner's gRPC service end to end on a tiny random llama: real tonic on 127.0.0.1,
//! signed requests, the real engine. Answers, refusals, malformed streams, disconnects,
//! overload and model download.

mod common;

use std::time::Duration;

use common::*;
use tessera_miner::{engine::EngineConfig, service::ServiceLimits};
use tessera_proto::{
	auth::{sign_with_nonce, signed_unary, stream_body_hash, unix_nanos},
	method,
	model::ModelDownload,
	v1::{evaluate_request, evaluate_response, Close, EvaluateRequest, FetchModelRequest, InfoRequest},
	Hotkey,
};
use tokio::time::timeout;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Code, Request};

fn code_of<T>(r: Result<T, tonic::Status>) -> Option<(Code, String)> {
	r.err().map(|s| (s.code(), s.message().to_string()))
}

async fn tiny_harness(dir: &std::path::Path, limits: ServiceLimits) -> (Harness, std::path::PathBuf) {
	let path = tiny_model(dir);
	(Harness::start(&path, EngineConfig::default(), limits).await, path)
}

#[tokio::test]
async fn answers_match_the_model_and_batching_does_not_change_them() {
	timeout(LIMIT, async {
		let dir = tempfile::tempdir().unwrap();
		let (mut h, path) = tiny_harness(dir.path(), ServiceLimits::default()).await;
		let info = h.client.info(signed_unary(&validator(), &h.miner, method::INFO, InfoRequest {})).await.unwrap().into_inner();
		assert_eq!(info.vocab_size, 256);
		assert_eq!(info.model_hash, tessera_proto::model::model_hash(&std::fs::read(&path).unwrap()).to_vec());
		assert_eq!(tessera_proto::validate::validate_info(&info).unwrap(), h.miner);
		assert!(info.backend.starts_with("candle/cpu"), "{}", info.backend);

		let docs: Vec<(u32, Vec<u32>)> = (0..5).map(|i| (100 + i, tokens(u64::from(i) + 7, 24, 256))).collect();
		let top_k = 8;
		// All five documents on one stream (batched).
		let mut conv = h.stream(&validator()).await.unwrap();
		let batched = conv.run_documents(&docs, 4, top_k).await;
		drop(conv);
		// Each document alone on its own stream, run concurrently (batched across streams).
		let mut handles = Vec::new();
		for d in docs.clone() {
			let mut conv = h.stream(&validator()).await.unwrap();
			handles.push(tokio::spawn(async move { conv.run_documents(&[d], 4, top_k).await }));
		}
		let mut alone = std::collections::HashMap::new();
		for handle in handles {
			alone.extend(handle.await.unwrap());
		}
		for (id, toks) in &docs {
			let reference = reference_logprobs(&path, toks, 4);
			let (b, a) = (&batched[id], &alone[id]);
			assert_eq!(b.len(), reference.len());
			for ((db, da), r) in b.iter().zip(a).zip(&reference) {
				assert_distribution(db, 256, top_k as usize);
				assert_eq!(db.doc_id, *id);
				assert_eq!(db.token_ids, da.token_ids, "same ids batched or alone");
				for (x, y) in db.logprobs.iter().zip(&da.logprobs) {
					assert!((x - y).abs() < 1e-4, "batched {x} vs alone {y}");
				}
				let worst = compare_to_reference(db, r, 1e-3);
				assert!(worst < 1e-3, "doc {id} position {}: {worst}", db.position);
			}
		}
		let scored = h.metrics.tokens_scored.get();
		assert_eq!(scored, 2 * 5 * 20, "every position answered twice");
		let max_batch = h.metrics.batch_sequences.get_sample_sum();
		assert!(max_batch > 0.0);
		h.stop().await;
	})
	.await
	.expect("test timed out");
}

#[tokio::test]
async fn refusals_happen_before_any_model_work() {
	timeout(LIMIT, async {
		let dir = tempfile::tempdir().unwrap();
		let (mut h, _) = tiny_harness(dir.path(), ServiceLimits::default()).await;
		let miner = h.miner;

		// Unsigned.
		let (tx, rx) = tokio::sync::mpsc::channel::<EvaluateRequest>(1);
		let (code, msg) = code_of(h.client.evaluate(Request::new(ReceiverStream::new(rx))).await).unwrap();
		assert_eq!(code, Code::Unauthenticated, "{msg}");
		assert!(msg.contains("unsigned"), "{msg}");
		drop(tx);
		// Unknown hotkey, registered without permit.
		let (code, msg) = code_of(h.stream(&stranger()).await.map(|_| ())).unwrap();
		assert_eq!(code, Code::PermissionDenied);
		assert!(msg.contains("not registered on subnet 1"), "{msg}");
		let (code, msg) = code_of(h.stream(&no_permit()).await.map(|_| ())).unwrap();
		assert_eq!(code, Code::PermissionDenied);
		assert!(msg.contains("no validator permit"), "{msg}");
		// Addressed to another miner.
		let (code, _) = code_of(
			h.client.info(signed_unary(&validator(), &Hotkey::of(&stranger()), method::INFO, InfoRequest {})).await,
		)
		.unwrap();
		assert_eq!(code, Code::PermissionDenied);
		// Bad signature: signed by Alice, claiming to be Alice, but for another method path.
		let env = sign_with_nonce(&validator(), &miner, method::INFO, stream_body_hash(method::EVALUATE), unix_nanos());
		let (_tx, rx) = tokio::sync::mpsc::channel::<EvaluateRequest>(1);
		let mut req = Request::new(ReceiverStream::new(rx));
		env.insert_into(req.metadata_mut());
		let (code, msg) = code_of(h.client.evaluate(req).await).unwrap();
		assert_eq!(code, Code::Unauthenticated, "{msg}");
		// Stale nonce (two minutes old), then a replayed one.
		let old = unix_nanos() - 120_000_000_000;
		let env = sign_with_nonce(&validator(), &miner, method::EVALUATE, stream_body_hash(method::EVALUATE), old);
		let (_tx, rx) = tokio::sync::mpsc::channel::<EvaluateRequest>(1);
		let mut req = Request::new(ReceiverStream::new(rx));
		env.insert_into(req.metadata_mut());
		let (code, msg) = code_of(h.client.evaluate(req).await).unwrap();
		assert_eq!(code, Code::Unauthenticated);
		assert!(msg.contains("stale"), "{msg}");
		let req = signed_unary(&validator(), &miner, method::INFO, InfoRequest {});
		let md = req.metadata().clone();
		h.client.info(req).await.unwrap();
		let mut replay = Request::new(InfoRequest {});
		*replay.metadata_mut() = md;
		let (code, msg) = code_of(h.client.info(replay).await).unwrap();
		assert_eq!(code, Code::Unauthenticated);
		assert!(msg.contains("replayed"), "{msg}");

		assert_eq!(h.metrics.tokens_processed.get(), 0, "no model work for refused calls");
		let rejections: u64 = ["unauthenticated", "permission_denied"]
			.iter()
			.map(|r| h.metrics.rejections.with_label_values(&[r]).get())
			.sum();
		assert_eq!(rejections, 7);
		assert!(h.metrics.render().contains("tessera_miner_rejections_total"));
		h.stop().await;
	})
	.await
	.expect("test timed out");
}

/// Sends `msgs` raw on a fresh stream, answering nothing, and returns the status that
/// ends the stream (after any answers).
async fn malformed(h: &mut Harness, msgs: Vec<EvaluateRequest>) -> tonic::Status {
	let mut conv = h.stream(&validator()).await.unwrap();
	for m in msgs {
		conv.send_raw(m).await;
	}
	loop {
		match conv.answers.message().await {
			Ok(Some(_)) => continue,
			Ok(None) => panic!("stream ended without an error"),
			Err(status) => return status,
		}
	}
}

#[tokio::test]
async fn malformed_streams_get_invalid_argument_and_the_server_keeps_serving() {
	timeout(LIMIT, async {
		let dir = tempfile::tempdir().unwrap();
		let limits = ServiceLimits { max_documents: 4, ..Default::default() };
		let (mut h, _) = tiny_harness(dir.path(), limits).await;
		let cases: Vec<(Vec<EvaluateRequest>, &str)> = vec![
			(vec![reveal_msg(&[(1, 5)])], "reveal before any open"),
			(vec![open_msg(&[(1, vec![1, 2])], 4), reveal_msg(&[(2, 5)])], "reveal of a document never opened"),
			(vec![open_msg(&[(1, vec![1]), (1, vec![2])], 4)], "duplicate doc ids"),
			(vec![open_msg(&(0..5).map(|i| (i, vec![1])).collect::<Vec<_>>(), 4)], "too many documents"),
			(vec![open_msg(&[(1, vec![1, 300])], 4)], "token outside the vocab"),
			(vec![open_msg(&[(1, vec![])], 4)], "empty prefix"),
			(vec![open_msg(&[(1, vec![1])], 0)], "top_k 0"),
			(vec![EvaluateRequest { msg: None }], "empty message"),
			(
				vec![EvaluateRequest { msg: Some(evaluate_request::Msg::Close(Close { doc_ids: vec![9] })) }],
				"close of an unknown document",
			),
		];
		for (msgs, what) in cases {
			let status = malformed(&mut h, msgs).await;
			assert_eq!(status.code(), Code::InvalidArgument, "{what}: {status:?}");
			assert!(!status.message().is_empty());
		}
		h.assert_serving_then_stop().await;
	})
	.await
	.expect("test timed out");
}

#[tokio::test]
async fn a_client_that_vanishes_mid_stream_frees_its_documents() {
	timeout(LIMIT, async {
		let dir = tempfile::tempdir().unwrap();
		let (mut h, _) = tiny_harness(dir.path(), ServiceLimits::default()).await;
		let mut conv = h.stream(&validator()).await.unwrap();
		conv.ask(open_msg(&[(1, tokens(1, 10, 256)), (2, tokens(2, 30, 256))], 4)).await;
		conv.ask(reveal_msg(&[(1, 7)])).await;
		assert_eq!(h.metrics.open_documents.get(), 2);
		// Send one more request and vanish without reading the answer.
		conv.send_raw(reveal_msg(&[(1, 8), (2, 9)])).await;
		drop(conv);
		// The server notices, drops the stream's KV caches and keeps serving others.
		let mut waited = 0;
		while h.metrics.open_documents.get() != 0 {
			assert!(waited < 100, "documents of a vanished client were never freed");
			tokio::time::sleep(Duration::from_millis(50)).await;
			waited += 1;
		}
		assert_eq!(h.metrics.cached_tokens.get(), 0);
		let mut other = h.stream(&validator()).await.unwrap();
		assert_eq!(other.ask(open_msg(&[(5, vec![1, 2, 3])], 2)).await.len(), 1);
		drop(other);
		h.stop().await;
	})
	.await
	.expect("test timed out");
}

#[tokio::test]
async fn overload_is_refused_with_resource_exhausted() {
	timeout(LIMIT, async {
		let dir = tempfile::tempdir().unwrap();
		let path = tiny_model(dir.path());
		// One stream at a time, and a KV budget of 128 tokens.
		let engine = EngineConfig { max_cached_tokens: 128, ..Default::default() };
		let mut h = Harness::start(&path, engine, ServiceLimits { max_streams: 1, ..Default::default() }).await;
		let mut first = h.stream(&validator()).await.unwrap();
		first.ask(open_msg(&[(1, vec![1, 2])], 4)).await;
		let err = h.stream(&validator()).await.err().expect("second stream refused");
		assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
		// Documents that need more KV cache than the budget: an EvaluateError, not a crash.
		let msg = open_msg(&[(2, tokens(9, 100, 256))], 4);
		first.session.apply(&msg).unwrap();
		first.send_raw(msg).await;
		let resp = first.answers.message().await.unwrap().unwrap();
		match &resp.msg {
			Some(evaluate_response::Msg::Error(e)) => {
				assert_eq!(e.code, Code::ResourceExhausted as u32);
				assert_eq!(e.doc_ids, vec![2]);
			}
			other => panic!("expected an EvaluateError, got {other:?}"),
		}
		first.session.answer(&resp).unwrap();
		// The stream goes on: document 1 still answers.
		assert_eq!(first.ask(reveal_msg(&[(1, 3)])).await.len(), 1);
		drop(first);
		h.stop().await;
	})
	.await
	.expect("test timed out");
}

#[tokio::test]
async fn fetch_model_streams_the_committed_file() {
	timeout(LIMIT, async {
		let dir = tempfile::tempdir().unwrap();
		let (mut h, path) = tiny_harness(dir.path(), ServiceLimits::default()).await;
		let expected: [u8; 32] = h.info.model_hash.clone().try_into().unwrap();
		let req = FetchModelRequest { chunk_size: 64 * 1024, model_hash: expected.to_vec(), ..Default::default() };
		let mut stream =
			h.client.fetch_model(signed_unary(&validator(), &h.miner, method::FETCH_MODEL, req)).await.unwrap().into_inner();
		let mut download = ModelDownload::new(Some(expected), 1 << 30);
		let mut bytes = Vec::new();
		while let Some(chunk) = stream.message().await.unwrap() {
			bytes.extend_from_slice(&chunk.data);
			download.push(&chunk).unwrap();
		}
		assert_eq!(download.finish().unwrap(), expected);
		assert_eq!(bytes, std::fs::read(&path).unwrap());
		// Asking for another model: refused.
		let req = FetchModelRequest { model_hash: vec![7; 32], ..Default::default() };
		let err = h.client.fetch_model(signed_unary(&validator(), &h.miner, method::FETCH_MODEL, req)).await.err().unwrap();
		assert_eq!(err.code(), Code::FailedPrecondition);
		h.stop().await;
	})
	.await
	.expect("test timed out");
}

#[tokio::test]
async fn shutdown_closes_streams_left_open_after_the_grace_period() {
	timeout(LIMIT, async {
		let dir = tempfile::tempdir().unwrap();
		let (mut h, _) = tiny_harness(dir.path(), ServiceLimits::default()).await;
		let mut idle = h.stream(&validator()).await.unwrap();
		idle.ask(open_msg(&[(1, vec![1, 2, 3])], 4)).await;
		// The client never half-closes; stop() still returns (after the 5 s grace).
		h.stop().await;
		// The idle stream was cut by the server.
		assert!(!matches!(idle.answers.message().await, Ok(Some(_))));
	})
	.await
	.expect("test timed out");
}

#[tokio::test]
async fn health_reports_serving_and_reflection_lists_the_service() {
	timeout(LIMIT, async {
		let dir = tempfile::tempdir().unwrap();
		let (h, _) = tiny_harness(dir.path(), ServiceLimits::default()).await;
		let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", h.addr)).unwrap().connect().await.unwrap();
		let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
		let status = health
			.check(tonic_health::pb::HealthCheckRequest { service: "tessera.v1.Miner".into() })
			.await
			.unwrap()
			.into_inner()
			.status;
		assert_eq!(status, tonic_health::pb::health_check_response::ServingStatus::Serving as i32);

		use tonic_reflection::pb::v1::{
			server_reflection_client::ServerReflectionClient, server_reflection_request::MessageRequest,
			server_reflection_response::MessageResponse, ServerReflectionRequest,
		};
		let mut reflection = ServerReflectionClient::new(channel);
		let req = ServerReflectionRequest { host: String::new(), message_request: Some(MessageRequest::ListServices(String::new())) };
		let mut answers = reflection.server_reflection_info(tokio_stream::iter(vec![req])).await.unwrap().into_inner();
		let Some(MessageResponse::ListServicesResponse(list)) = answers.message().await.unwrap().unwrap().message_response else {
			panic!("expected a service list")
		};
		let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
		assert!(names.contains(&"tessera.v1.Miner".to_string()), "{names:?}");
		assert!(names.contains(&"grpc.health.v1.Health".to_string()), "{names:?}");
		h.stop().await;
	})
	.await
	.expect("test timed out");
}
