//! Shared test harness: the default tokenizer, a generated corpus, in-process real miners
//! (tessera-miner's service around a model file) and fake miners that misbehave on cue.
#![allow(dead_code)]

pub mod adversary;
pub mod craft;
pub mod mitm;

use std::{
	collections::HashMap,
	io::{Read, Write},
	net::SocketAddr,
	path::{Path, PathBuf},
	process::{Child, Command},
	sync::Arc,
	time::{Duration, Instant},
};

use candle_core::{quantized::gguf_file, Device};
use parking_lot::Mutex;
use rand::{rngs::StdRng, SeedableRng};
use subxt_signer::sr25519::Keypair;
use tessera_client::devnode::free_port;
use tessera_miner::{
	callers::{Caller, Callers, Policy},
	engine::EngineConfig,
	gguf::{write_random_llama, RandomLlama},
	metrics::Metrics,
	service::{serve_tls, MinerService, ServiceLimits},
	LoadedModel,
};
use tessera_proto::{
	receipt::{sign_step, step_digests},
	session::{Effect, EvaluateSession},
	v1::{
		evaluate_response, miner_server::Miner, EvaluateRequest, EvaluateResponse, FetchModelRequest, InfoRequest,
		InfoResponse, ModelChunk, Step, TokenDistribution,
	},
	Hotkey,
};
use tessera_validator::{
	corpus::{draw_windows, Corpus, Document, Retired, Window, WindowSpec},
	SubnetTokenizer,
};
use tokio::{sync::oneshot, task::JoinHandle};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

/// The default model file.
pub fn default_model() -> PathBuf {
	tessera_miner::model_store::ensure_default_model().expect("the default model")
}

/// The subnet tokenizer and the default model's header.
pub fn tokenizer() -> (SubnetTokenizer, gguf_file::Content) {
	let ct = tessera_miner::gguf::read_header(&default_model()).unwrap();
	(SubnetTokenizer::from_gguf(&ct).unwrap(), ct)
}

/// Writes a tiny random llama with the default tokenizer (a weak, fast miner model).
pub fn weak_model(dir: &Path, ct: &gguf_file::Content) -> PathBuf {
	let path = dir.join("weak.gguf");
	write_random_llama(&path, &RandomLlama::default(), Some(ct)).expect("writing the weak model");
	path
}

const SUBJECTS: &[&str] = &[
	"The committee", "Our government", "The people of this nation", "Congress", "The treasury", "Every citizen",
	"The administration", "Our farmers", "The army and the navy", "The courts",
];
const VERBS: &[&str] = &[
	"has considered", "will support", "must protect", "should examine", "continues to improve", "has reported on",
	"will strengthen", "cannot ignore",
];
const OBJECTS: &[&str] = &[
	"the public debt", "the welfare of our children", "the commerce of the country", "the rights of all men",
	"the education of the young", "the defense of our borders", "the price of bread", "the health of the economy",
	"the laws of the land", "the freedom of the press",
];
const TAILS: &[&str] = &[
	" with great care.", " in the coming year.", ", as the Constitution requires.", " without delay.",
	" for the good of all.", ", and it will do so again.", ".", " in every state of the Union.",
];

/// A generated corpus of `n` English-like documents of about `bytes` bytes each.
pub fn corpus(n: usize, bytes: usize, seed: u64) -> Corpus {
	let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
	let mut next = |m: usize| {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		(x % m as u64) as usize
	};
	let docs = (0..n)
		.map(|d| {
			let mut text = String::new();
			while text.len() < bytes {
				text.push_str(SUBJECTS[next(SUBJECTS.len())]);
				text.push(' ');
				text.push_str(VERBS[next(VERBS.len())]);
				text.push(' ');
				text.push_str(OBJECTS[next(OBJECTS.len())]);
				text.push_str(TAILS[next(TAILS.len())]);
				text.push(if next(5) == 0 { '\n' } else { ' ' });
			}
			Document::new(format!("doc{d}.txt"), text)
		})
		.collect();
	Corpus::from_documents(docs)
}

/// Draws windows from a fresh generated corpus.
pub fn windows(tok: &SubnetTokenizer, docs: usize, prefix: usize, scored: usize) -> Vec<Window> {
	let c = corpus(docs * 2, 4000, 11);
	let spec = WindowSpec { docs, prefix, scored };
	let w = draw_windows(&c, &Retired::new(), tok, &spec, &mut StdRng::seed_from_u64(5)).unwrap();
	assert_eq!(w.len(), docs);
	w
}

/// A real miner (tessera-miner's service) serving `model` in this process, admitting
/// `validator`.
pub struct RealMiner {
	pub addr: SocketAddr,
	pub hotkey: Hotkey,
	stop: Option<oneshot::Sender<()>>,
	task: Option<JoinHandle<Result<(), tonic::transport::Error>>>,
}

impl RealMiner {
	pub async fn start(model: &Path, key: &Keypair, validator: Hotkey) -> Self {
		Self::start_loaded(LoadedModel::load(model, &Device::Cpu).expect("model loads"), key, &[validator]).await
	}

	/// Serves `loaded` as it is: tests build cheaters by mixing one model's weights with
	/// another's file and hash.
	pub async fn start_loaded(loaded: LoadedModel, key: &Keypair, validators: &[Hotkey]) -> Self {
		Self::serve_with(loaded, key, validators, None).await
	}

	async fn serve_with(
		loaded: LoadedModel,
		key: &Keypair,
		validators: &[Hotkey],
		tls: Option<(tonic::transport::ServerTlsConfig, tessera_proto::v1::TlsBinding)>,
	) -> Self {
		let hotkey = Hotkey::of(key);
		let callers = Callers::new(1, Policy { require_permit: true, min_stake: 0 });
		callers.replace(
			validators.iter().map(|v| (*v, Caller { uid: 0, stake: 1_000_000, validator_permit: true })).collect::<HashMap<_, _>>(),
		);
		let mut service =
			MinerService::start(key.clone(), loaded, callers, EngineConfig::default(), ServiceLimits::default(), Metrics::new());
		let (tls_config, binding) = tls.unzip();
		if let Some(binding) = binding {
			service = service.with_tls_binding(binding);
		}
		let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
		let addr = listener.local_addr().unwrap();
		let (stop, stopped) = oneshot::channel::<()>();
		let task = tokio::spawn(serve_tls(
			listener,
			service,
			async {
				let _ = stopped.await;
			},
			Duration::from_secs(2),
			tls_config,
		));
		Self { addr, hotkey, stop: Some(stop), task: Some(task) }
	}

	/// Serves `model` over TLS with a fresh self-signed certificate bound to `key`.
	pub async fn start_tls(model: &Path, key: &Keypair, validator: Hotkey) -> Self {
		let dir = tempfile::tempdir().unwrap();
		let (cert, pem_key) = tessera_miner::tls::self_signed().unwrap();
		let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
		std::fs::write(&cert_path, cert).unwrap();
		std::fs::write(&key_path, pem_key).unwrap();
		let tls = tessera_miner::tls::load(&cert_path, &key_path, key).unwrap();
		let loaded = LoadedModel::load(model, &Device::Cpu).expect("model loads");
		Self::serve_with(loaded, key, &[validator], Some(tls)).await
	}

	pub async fn stop(mut self) {
		let _ = self.stop.take().unwrap().send(());
		let _ = tokio::time::timeout(Duration::from_secs(10), self.task.take().unwrap()).await;
	}
}

/// How a fake miner behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
	/// Valid uniform distributions (all mass in the tail), after `delay`.
	Uniform { delay: Duration },
	/// Step answers whose distributions claim a total mass of 2.
	Garbage,
	/// Answers the first `after` requests, then never answers again (stream stays open).
	Stall { after: usize },
	/// Answers the first `after` requests, then ends the stream.
	Drop { after: usize },
	/// Answers with a distribution for a position the validator did not ask.
	WrongPosition,
	/// Valid uniform distributions, but steps signed by another key.
	BadSignature,
}

/// Events a fake miner records: (miner name, "recv" or "send", step, when).
pub type Log = Arc<Mutex<Vec<(&'static str, &'static str, u32, Instant)>>>;

#[derive(Clone)]
struct Fake {
	name: &'static str,
	key: Arc<Keypair>,
	behaviour: Behaviour,
	info: InfoResponse,
	log: Log,
}

type BoxStream<T> = std::pin::Pin<Box<dyn futures::Stream<Item = Result<T, Status>> + Send>>;

#[tonic::async_trait]
impl Miner for Fake {
	async fn info(&self, _: Request<InfoRequest>) -> Result<Response<InfoResponse>, Status> {
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
			let mut answered = 0usize;
			while let Ok(Some(req)) = inbound.message().await {
				let Ok(Effect::Answer(e)) = session.apply(&req) else { continue };
				me.log.lock().push((me.name, "recv", e.step, Instant::now()));
				let stop_after = match me.behaviour {
					Behaviour::Stall { after } | Behaviour::Drop { after } => Some(after),
					_ => None,
				};
				if stop_after.is_some_and(|a| answered >= a) {
					if matches!(me.behaviour, Behaviour::Drop { .. }) {
						return; // ends the response stream
					}
					// Stall: hold the stream open, never answer.
					let _keep = (inbound, tx);
					tokio::time::sleep(Duration::from_secs(3600)).await;
					return;
				}
				if let Behaviour::Uniform { delay } = me.behaviour {
					tokio::time::sleep(delay).await;
				}
				let distributions = e
					.docs
					.iter()
					.map(|d| match me.behaviour {
						Behaviour::Garbage => TokenDistribution {
							doc_id: d.doc_id,
							position: d.position,
							token_ids: vec![1, 2],
							logprobs: vec![0.0, 0.0],
							tail_mass: 0.0,
						},
						Behaviour::WrongPosition => TokenDistribution {
							doc_id: d.doc_id,
							position: d.position + 1,
							token_ids: vec![],
							logprobs: vec![],
							tail_mass: 1.0,
						},
						_ => TokenDistribution {
							doc_id: d.doc_id,
							position: d.position,
							token_ids: vec![],
							logprobs: vec![],
							tail_mass: 1.0,
						},
					})
					.collect::<Vec<_>>();
				let signer = if me.behaviour == Behaviour::BadSignature { Keypair::from_secret_key([9; 32]).unwrap() } else { (*me.key).clone() };
				let model_hash: [u8; 32] = me.info.model_hash.clone().try_into().unwrap();
				let signature = sign_step(&signer, &caller, &model_hash, &step_digests(&e, &distributions)).to_vec();
				let resp = EvaluateResponse { msg: Some(evaluate_response::Msg::Step(Step { step: e.step, distributions, signature, contexts: tessera_proto::receipt::step_contexts(&e) })) };
				let _ = session.answer(&resp);
				me.log.lock().push((me.name, "send", e.step, Instant::now()));
				if tx.send(Ok(resp)).await.is_err() {
					return;
				}
				answered += 1;
			}
		});
		Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
	}

	type FetchModelStream = BoxStream<ModelChunk>;

	async fn fetch_model(&self, _: Request<FetchModelRequest>) -> Result<Response<Self::FetchModelStream>, Status> {
		Err(Status::unimplemented("fake miner"))
	}
}

/// A fake miner; `info` tweaks its `Info` answer.
pub struct FakeMiner {
	pub addr: SocketAddr,
	pub hotkey: Hotkey,
	task: JoinHandle<()>,
}

impl FakeMiner {
	pub async fn start(
		name: &'static str,
		behaviour: Behaviour,
		key: &Keypair,
		tok: &SubnetTokenizer,
		log: Log,
		tweak: impl FnOnce(&mut InfoResponse),
	) -> Self {
		let hotkey = Hotkey::of(key);
		let mut info = InfoResponse {
			model_hash: vec![0; 32],
			tokenizer_hash: tok.hash().to_vec(),
			vocab_size: tok.vocab_size(),
			max_context: 2048,
			backend: "fake".into(),
			version: "0.0.0".into(),
			hotkey: hotkey.to_ss58(),
			model_size: 0,
			max_documents: 64,
			max_top_k: 64,
			tls: None,
		};
		tweak(&mut info);
		let fake = Fake { name, key: Arc::new(key.clone()), behaviour, info, log };
		let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
		let addr = listener.local_addr().unwrap();
		let task = tokio::spawn(async move {
			let _ = tonic::transport::Server::builder()
				.add_service(tessera_proto::server(fake))
				.serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
				.await;
		});
		Self { addr, hotkey, task }
	}
}

impl Drop for FakeMiner {
	fn drop(&mut self) {
		self.task.abort();
	}
}

/// A child process killed when dropped, logging to a file.
pub struct Proc {
	child: Child,
	log: PathBuf,
}

impl Proc {
	pub fn spawn(cmd: &mut Command, log: PathBuf) -> Self {
		let out = std::fs::File::create(&log).unwrap();
		let err = out.try_clone().unwrap();
		let child = cmd.env("RUST_LOG", "info").stdout(out).stderr(err).spawn().expect("spawn");
		Self { child, log }
	}

	pub fn log(&self) -> String {
		std::fs::read_to_string(&self.log).unwrap_or_default()
	}

	pub fn tail(&self) -> String {
		let log = self.log();
		let lines: Vec<&str> = log.lines().collect();
		lines[lines.len().saturating_sub(60)..].join("\n")
	}

	/// SIGKILL: no chance to clean up.
	pub fn kill(&mut self) {
		let _ = self.child.kill();
		let _ = self.child.wait();
	}
}

impl Drop for Proc {
	fn drop(&mut self) {
		self.kill();
	}
}

pub fn miner(bin: &Path, uri: &str, url: &str, model: Option<&Path>, log: PathBuf) -> Proc {
	let mut cmd = Command::new(bin);
	cmd.args(["run", "--hotkey-uri", uri, "--url", url, "--netuid", "1", "--metagraph-refresh-secs", "1"])
		.args(["--listen", &format!("127.0.0.1:{}", free_port())]);
	if let Some(m) = model {
		cmd.arg("--model").arg(m);
	}
	Proc::spawn(&mut cmd, log)
}

/// The real validator binary as `hotkey`, small rounds, plus `extra` flags.
pub fn validator(hotkey: &str, url: &str, data: &Path, db: &Path, prometheus: u16, extra: &[&str], log: PathBuf) -> Proc {
	let mut cmd = Command::new(env!("CARGO_BIN_EXE_tessera-validator"));
	cmd.args(["run", "--hotkey-uri", hotkey, "--url", url, "--netuid", "1"])
		.arg("--eval-data")
		.arg(data)
		.arg("--db")
		.arg(db)
		.args(["--docs-per-round", "4", "--prefix-tokens", "16", "--scored-tokens", "32", "--top-k", "16"])
		.args(["--round-interval-secs", "2", "--weights-poll-ms", "500", "--corpus-low-rounds", "5"])
		.args(["--step-timeout-ms", "10000", "--open-timeout-ms", "30000"])
		.args(["--prometheus-port", &prometheus.to_string()])
		.args(extra);
	Proc::spawn(&mut cmd, log)
}

pub fn metrics(port: u16) -> String {
	let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else { return String::new() };
	let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
	let _ = s.write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n");
	let mut out = String::new();
	let _ = s.read_to_string(&mut out);
	out
}

pub async fn wait_log(p: &Proc, needle: &str, secs: u64) {
	let deadline = std::time::Instant::now() + Duration::from_secs(secs);
	while !p.log().contains(needle) {
		assert!(std::time::Instant::now() < deadline, "no `{needle}` in the log:\n{}", p.tail());
		tokio::time::sleep(Duration::from_millis(250)).await;
	}
}
