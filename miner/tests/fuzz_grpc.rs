//! Fuzzing the miner over a real gRPC connection (tonic on 127.0.0.1, the real service and
//! engine on a tiny random llama): seeded random and mutated request bodies, of every
//! size up to the protocol's message limit and past it, sent as raw gRPC frames on signed
//! `Evaluate` streams and `Info` calls, and signed envelopes with a field altered. Every
//! request ends in a gRPC status or well-formed answers, never a hung or dropped
//! connection, and the miner still answers a well-formed stream afterwards.

mod common;

use std::time::Duration;

use common::*;
use prost::{bytes::Buf, bytes::BufMut, Message};
use tessera_miner::{engine::EngineConfig, service::ServiceLimits};
use tessera_proto::{
	auth::{header, sign_with_nonce, stream_body_hash, unix_nanos},
	limits::MAX_MESSAGE_BYTES,
	method,
	v1::{evaluate_request, Document, EvaluateRequest, EvaluateResponse, Open},
};
use tokio::time::timeout;
use tonic::{
	codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder},
	metadata::MetadataValue,
	Code, Request, Status,
};

/// Sends and receives message bodies as raw bytes.
#[derive(Default, Clone, Copy)]
struct RawCodec;

impl Encoder for RawCodec {
	type Item = Vec<u8>;
	type Error = Status;
	fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
		dst.put_slice(&item);
		Ok(())
	}
}

impl Decoder for RawCodec {
	type Item = Vec<u8>;
	type Error = Status;
	fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
		let mut out = vec![0; src.remaining()];
		src.copy_to_slice(&mut out);
		Ok(Some(out))
	}
}

impl Codec for RawCodec {
	type Encode = Vec<u8>;
	type Decode = Vec<u8>;
	type Encoder = Self;
	type Decoder = Self;
	fn encoder(&mut self) -> Self {
		*self
	}
	fn decoder(&mut self) -> Self {
		*self
	}
}

/// xorshift64*: the fuzz inputs are a function of the seed alone.
struct Rng(u64);

impl Rng {
	fn next(&mut self) -> u64 {
		self.0 ^= self.0 >> 12;
		self.0 ^= self.0 << 25;
		self.0 ^= self.0 >> 27;
		self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
	}
	fn below(&mut self, n: u64) -> u64 {
		self.next() % n.max(1)
	}
}

/// A valid `Open` for the tiny model, encoded.
fn valid_open(doc_id: u32) -> Vec<u8> {
	EvaluateRequest {
		msg: Some(evaluate_request::Msg::Open(Open { documents: vec![Document { doc_id, prefix: vec![1, 2, 3] }], top_k: 4 })),
	}
	.encode_to_vec()
}

/// A body: random bytes of a random size class (up to the message limit and just past it),
/// or a valid `Open` as it is or with bytes flipped, inserted or cut.
fn body(rng: &mut Rng) -> Vec<u8> {
	match rng.below(6) {
		0 => (0..rng.below(64)).map(|_| rng.next() as u8).collect(),
		1 => (0..rng.below(4096)).map(|_| rng.next() as u8).collect(),
		2 => {
			// Large: near or over the limit (the server must refuse, not allocate blindly).
			let n = MAX_MESSAGE_BYTES - 1024 + rng.below(2048) as usize;
			let byte = rng.next() as u8;
			vec![byte; n]
		},
		_ => {
			let mut b = valid_open(rng.below(8) as u32);
			for _ in 0..rng.below(4) {
				let at = rng.below(b.len() as u64 + 1) as usize;
				match rng.below(3) {
					0 if at < b.len() => b[at] ^= 1 + rng.below(255) as u8,
					1 => b.insert(at, rng.next() as u8),
					_ => b.truncate(at),
				}
			}
			b
		},
	}
}

/// Opens a signed `Evaluate` stream with `bodies` as its messages (envelope field `alter`
/// replaced by `value` when given) and returns how it ended: the answers it decoded and
/// the status, if any.
async fn raw_stream(h: &Harness, bodies: Vec<Vec<u8>>, alter: Option<(&'static str, String)>) -> (usize, Option<Status>) {
	let channel = tonic::transport::Channel::from_shared(format!("http://{}", h.addr)).unwrap().connect().await.unwrap();
	let mut grpc = tonic::client::Grpc::new(channel).max_decoding_message_size(MAX_MESSAGE_BYTES).max_encoding_message_size(2 * MAX_MESSAGE_BYTES);
	let envelope = sign_with_nonce(&validator(), &h.miner, method::EVALUATE, stream_body_hash(method::EVALUATE), unix_nanos());
	let mut req = Request::new(tokio_stream::iter(bodies));
	envelope.insert_into(req.metadata_mut());
	if let Some((key, value)) = alter {
		if let Ok(v) = MetadataValue::try_from(value.as_str()) {
			req.metadata_mut().insert(key, v);
		}
	}
	grpc.ready().await.unwrap();
	let mut answers = match grpc.streaming(req, method::EVALUATE.parse().unwrap(), RawCodec).await {
		Ok(r) => r.into_inner(),
		Err(status) => return (0, Some(status)),
	};
	let mut n = 0;
	loop {
		match answers.message().await {
			Ok(Some(bytes)) => {
				EvaluateResponse::decode(bytes.as_slice()).expect("the miner's answers decode");
				n += 1;
			},
			Ok(None) => return (n, None),
			Err(status) => return (n, Some(status)),
		}
	}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_frames_and_envelopes_over_grpc_get_a_status_and_the_miner_keeps_serving() {
	timeout(LIMIT, async {
		let dir = tempfile::tempdir().unwrap();
		let limits = ServiceLimits { max_documents: 8, ..Default::default() };
		let h = Harness::start(&tiny_model(dir.path()), EngineConfig::default(), limits).await;
		let seed = std::env::var("TESSERA_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x7e55_e7a2u64);
		let cases: usize = std::env::var("TESSERA_FUZZ_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(120);
		let mut rng = Rng(seed | 1);
		let mut codes = std::collections::BTreeMap::<String, usize>::new();
		let mut answered = 0usize;
		for case in 0..cases {
			let bodies: Vec<Vec<u8>> = (0..1 + rng.below(3)).map(|_| body(&mut rng)).collect();
			let sizes: Vec<usize> = bodies.iter().map(Vec::len).collect();
			let bodies_decode: Vec<bool> = bodies.iter().map(|b| b.len() <= MAX_MESSAGE_BYTES && EvaluateRequest::decode(b.as_slice()).is_ok()).collect();
			// One case in four alters one envelope field.
			let fields = [header::CALLER, header::TARGET, header::NONCE, header::BODY_HASH, header::SIGNATURE];
			let alter = (rng.below(4) == 0).then(|| {
				let key = fields[rng.below(5) as usize];
				let value = match rng.below(3) {
					0 => String::new(),
					1 => format!("0x{:x}", rng.next()),
					_ => (0..rng.below(80)).map(|_| (b' ' + rng.below(95) as u8) as char).collect(),
				};
				(key, value)
			});
			let altered = alter.is_some();
			let (n, status) = timeout(Duration::from_secs(30), raw_stream(&h, bodies, alter))
				.await
				.unwrap_or_else(|_| panic!("case {case}: the stream hung ({sizes:?})"));
			answered += n;
			let code = status.as_ref().map_or(Code::Ok, |s| s.code());
			if altered {
				assert!(
					matches!(code, Code::Unauthenticated | Code::PermissionDenied | Code::InvalidArgument),
					"case {case}: an altered envelope got {code:?} ({status:?})"
				);
				assert_eq!(n, 0, "case {case}: an altered envelope was answered");
			} else {
				assert!(
					matches!(code, Code::Ok | Code::InvalidArgument | Code::Internal | Code::ResourceExhausted | Code::OutOfRange),
					"case {case}: {code:?} ({status:?}) for bodies of {sizes:?}"
				);
				if let Some(s) = &status {
					assert!(!s.message().is_empty(), "case {case}: a status without a reason");
				}
				// Ending with neither an answer nor a reason is only for messages that
				// need no answer (a well-formed `Close`, say).
				let all_decode = bodies_decode.iter().all(|ok| *ok);
				assert!(n > 0 || status.is_some() || all_decode, "case {case}: undecodable bodies {sizes:?} ended the stream without a status");
			}
			*codes.entry(format!("{code:?}")).or_default() += 1;
			if std::env::var("FUZZ_DEBUG").is_ok() {
				println!("case {case}: {sizes:?} altered {altered} -> {n} answers, {status:?}");
			}
		}
		println!("miner gRPC fuzz: {cases} streams, {answered} answers; statuses {codes:?}");
		assert!(codes.len() >= 3, "the inputs reach more than one outcome: {codes:?}");
		h.assert_serving_then_stop().await;
	})
	.await
	.expect("test timed out");
}
