//! One evaluation round: the same windows, in lockstep, on every miner.
//!
//! Each miner gets one signed `Evaluate` stream. Step 0 opens every window with its
//! prefix; step t reveals the true token t-1 of every window and asks for position t.
//! Position t is revealed to a miner only after every miner has answered position t or
//! missed its deadline, so a fast miner never holds a token a slow one has not yet
//! predicted. Streams run concurrently, at most `max_concurrency` requests in flight.
//!
//! A miner that cannot be reached, refuses, lies in `Info`, breaks the protocol, misses a
//! deadline or drops its stream is cut off: it scores the floor
//! ([`tessera_scoring::FLOOR_BITS`]) for every token it has not answered, and the round
//! goes on without waiting for it again. An answer that is not a distribution scores the
//! floor for that token.

use std::{
	net::SocketAddr,
	time::{Duration, Instant},
};

use futures::StreamExt;
use ndarray::Array2;
use rand::Rng;
use subxt_signer::sr25519::Keypair;
use tessera_proto::{
	auth::{signed_stream, signed_unary},
	receipt::{classify_step, step_digests, Evidence, StepCheck},
	transport::{connect as dial, verify_tls_binding},
	limits::Limits,
	method,
	session::{Answered, EvaluateSession},
	v1::{
		evaluate_request, evaluate_response, miner_client::MinerClient, Document, EvaluateRequest, EvaluateResponse,
		InfoRequest, InfoResponse, Open, Reveal, RevealedToken, TokenDistribution,
	},
	Hotkey,
};
use tessera_scoring::{score_token, CompareConfig, CompareError, Comparison, FLOOR_BITS};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Code, Streaming};

use crate::corpus::Window;

/// A miner to evaluate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MinerTarget {
	/// Its uid.
	pub uid: u16,
	/// Its hotkey (requests are addressed and signed for it).
	pub hotkey: Hotkey,
	/// Its axon.
	pub addr: SocketAddr,
	/// Block of its model commitment (earlier wins ties in the paired comparison).
	pub commit_block: u64,
	/// Its on-chain model commitment; `Info` must announce the same hash (None: any).
	pub model_hash: Option<[u8; 32]>,
	/// Whether its axon serves gRPC over TLS (protocol 1): the connection is then TLS,
	/// and its certificate must be the one its hotkey signed in `Info`.
	pub tls: bool,
}

/// Deadlines and limits of a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoundConfig {
	/// To open the TCP/HTTP2 connection.
	pub connect_timeout: Duration,
	/// For `Info`, and for the miner to accept the `Evaluate` stream.
	pub info_timeout: Duration,
	/// For the answer to the `Open`, before [`RoundConfig::prefill_rate`] adds time for
	/// the prefix tokens sent.
	pub open_timeout: Duration,
	/// For each later answer, before [`RoundConfig::decode_rate`] adds time for the
	/// documents revealed.
	pub step_timeout: Duration,
	/// Prefix tokens per second a miner must sustain: the `Open` deadline grows by
	/// `prefix tokens / prefill_rate` (0: no growth).
	pub prefill_rate: u32,
	/// Documents per second a miner must sustain in one decode step: each later deadline
	/// grows by `documents / decode_rate` (0: no growth).
	pub decode_rate: u32,
	/// Most miners with a request in flight at once. Keep it at least the number of
	/// miners: every step's requests share one deadline, so miners beyond it may find
	/// the deadline passed before they are asked.
	pub max_concurrency: usize,
	/// Entries asked per distribution (capped by each miner's `max_top_k`).
	pub top_k: u32,
	/// Positions per round kept as signed [`Evidence`] for audits (the same secret,
	/// random positions for every miner).
	pub audit_samples: usize,
	/// The subnet tokenizer's hash; a miner announcing another scores the floor.
	pub tokenizer_hash: [u8; 32],
	/// The subnet tokenizer's vocabulary size.
	pub vocab_size: u32,
}

impl RoundConfig {
	/// Defaults for `tokenizer_hash` and `vocab_size`: 5 s connect and info, open 10 s +
	/// 1 s per 50 prefix tokens, each step 5 s + 1 s per 20 documents, up to 1024
	/// miners asked at once, top-32.
	pub fn new(tokenizer_hash: [u8; 32], vocab_size: u32) -> Self {
		Self {
			connect_timeout: Duration::from_secs(5),
			info_timeout: Duration::from_secs(5),
			open_timeout: Duration::from_secs(10),
			step_timeout: Duration::from_secs(5),
			prefill_rate: 50,
			decode_rate: 20,
			max_concurrency: 1024,
			top_k: 32,
			audit_samples: 4,
			tokenizer_hash,
			vocab_size,
		}
	}

	/// The deadline of `msg`: the base timeout of its kind plus the time the work it asks
	/// for takes at the configured minimum rates (an `Open` of 8 x 64 tokens at 50 tokens/s
	/// adds 10.24 s to the base).
	pub fn deadline(&self, msg: &EvaluateRequest) -> Duration {
		let extra = |units: usize, rate: u32| {
			if rate == 0 { Duration::ZERO } else { Duration::from_secs_f64(units as f64 / f64::from(rate)) }
		};
		match &msg.msg {
			Some(evaluate_request::Msg::Open(open)) => {
				let tokens = open.documents.iter().map(|d| d.prefix.len()).sum();
				self.open_timeout + extra(tokens, self.prefill_rate)
			},
			Some(evaluate_request::Msg::Reveal(reveal)) => self.step_timeout + extra(reveal.tokens.len(), self.decode_rate),
			_ => self.step_timeout,
		}
	}
}

/// How a miner's round ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
	/// Answered every step it was asked.
	Completed,
	/// Could not be reached (connect, `Info` or stream open failed or timed out).
	Unreachable(String),
	/// Refused our requests (permission or authentication): with no validator permit this
	/// is expected and the miner is left out of the round's scores.
	Refused(String),
	/// `Info` does not match the chain or the subnet (hotkey, tokenizer, vocabulary).
	BadInfo(String),
	/// Missed the deadline of a step.
	Timeout {
		/// The step (0 = the open).
		step: usize,
	},
	/// Ended the stream or failed the transport.
	Dropped {
		/// The step.
		step: usize,
		/// Why.
		reason: String,
	},
	/// Its step was signed over other tokens than this validator sent: the stream was
	/// rewritten in transit (plaintext only: over TLS this is a protocol error).
	Tampered {
		/// The step.
		step: usize,
	},
	/// Answered something the protocol forbids.
	ProtocolError {
		/// The step.
		step: usize,
		/// Why.
		reason: String,
	},
}

impl Outcome {
	/// A short label for logs and metrics.
	pub fn label(&self) -> &'static str {
		match self {
			Outcome::Completed => "ok",
			Outcome::Unreachable(_) => "unreachable",
			Outcome::Refused(_) => "refused",
			Outcome::BadInfo(_) => "bad_info",
			Outcome::Timeout { .. } => "timeout",
			Outcome::Dropped { .. } => "dropped",
			Outcome::Tampered { .. } => "tampered",
			Outcome::ProtocolError { .. } => "protocol_error",
		}
	}
}

impl std::fmt::Display for Outcome {
	fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
		match self {
			Outcome::Completed => write!(f, "ok"),
			Outcome::Unreachable(r) => write!(f, "unreachable: {r}"),
			Outcome::Refused(r) => write!(f, "refused: {r}"),
			Outcome::BadInfo(r) => write!(f, "bad info: {r}"),
			Outcome::Timeout { step } => write!(f, "missed the deadline of step {step}"),
			Outcome::Dropped { step, reason } => write!(f, "dropped at step {step}: {reason}"),
			Outcome::Tampered { step } => write!(f, "stream rewritten in transit at step {step} (use TLS)"),
			Outcome::ProtocolError { step, reason } => write!(f, "protocol error at step {step}: {reason}"),
		}
	}
}

/// One miner's part of a round.
#[derive(Debug, Clone)]
pub struct MinerReport {
	/// Who.
	pub target: MinerTarget,
	/// How it ended.
	pub outcome: Outcome,
	/// Its `Info`, if it answered.
	pub info: Option<InfoResponse>,
	/// Distributions received (valid or not).
	pub answered: usize,
	/// Distributions that were not distributions.
	pub invalid: usize,
	/// Tokens scored at the floor (missing, invalid, or probability ~0).
	pub floored: usize,
	/// Signed answers at the round's audit positions.
	pub evidence: Vec<Evidence>,
}

/// The result of a round.
#[derive(Debug, Clone)]
pub struct RoundResult {
	/// Bits of each scored token, one row per miner (in the order given), one column per
	/// token (window-major).
	pub bits: Array2<f64>,
	/// UTF-8 bytes of each scored token; they add up to the bytes of the scored text.
	pub bytes: Vec<u32>,
	/// Per miner, in the order given.
	pub miners: Vec<MinerReport>,
	/// Wall time of the whole round.
	pub elapsed: Duration,
	/// Steps run (scored tokens per window).
	pub steps: usize,
}

impl RoundResult {
	/// Paired comparison of the rows in `rows` (indices into [`RoundResult::miners`]).
	pub fn compare(&self, rows: &[usize], cfg: &CompareConfig) -> Result<Comparison, CompareError> {
		let bits = self.bits.select(ndarray::Axis(0), rows);
		let blocks: Vec<u64> = rows.iter().map(|&r| self.miners[r].target.commit_block).collect();
		tessera_scoring::compare(&bits, &self.bytes, &blocks, cfg)
	}

	/// Bits per byte of each miner over the whole round.
	pub fn bpb(&self) -> Vec<f64> {
		let total: f64 = self.bytes.iter().map(|&b| f64::from(b)).sum();
		self.bits.rows().into_iter().map(|r| if total > 0.0 { r.sum() / total } else { f64::NAN }).collect()
	}
}

/// One miner's stream.
struct Conn {
	/// Who we are, who the miner is, and the model it announced: what its step
	/// signatures must cover.
	caller: Hotkey,
	miner: Hotkey,
	model_hash: [u8; 32],
	/// Whether the stream runs over TLS (then a step signed over other contexts is the
	/// miner's fault, not the network's).
	tls: bool,
	tx: Option<mpsc::Sender<EvaluateRequest>>,
	answers: Option<Streaming<EvaluateResponse>>,
	session: EvaluateSession,
	/// Random doc id per window, for this stream.
	doc_ids: Vec<u32>,
	/// Whether each window is open (and alive) on this miner.
	open: Vec<bool>,
	top_k: u32,
	outcome: Option<Outcome>,
	info: Option<InfoResponse>,
	answered: usize,
	invalid: usize,
	evidence: Vec<Evidence>,
}

impl Conn {
	fn cut(reason: Outcome, n: usize) -> Self {
		Self {
			caller: Hotkey([0; 32]),
			miner: Hotkey([0; 32]),
			model_hash: [0; 32],
			tls: false,
			tx: None,
			answers: None,
			session: EvaluateSession::new(Limits::default()),
			doc_ids: Vec::new(),
			open: vec![false; n],
			top_k: 0,
			outcome: Some(reason),
			info: None,
			answered: 0,
			invalid: 0,
			evidence: Vec::new(),
		}
	}

	fn alive(&self) -> bool {
		self.outcome.is_none() && self.open.iter().any(|&o| o)
	}

	fn kill(&mut self, outcome: Outcome) {
		self.outcome = Some(outcome);
		self.tx = None;
		self.answers = None;
		self.open.iter_mut().for_each(|o| *o = false);
	}

	/// The message of `step` for this miner, and the windows it names.
	fn message(&self, windows: &[Window], step: usize) -> (EvaluateRequest, Vec<usize>) {
		let names: Vec<usize> = (0..windows.len()).filter(|&w| self.open[w]).collect();
		let msg = if step == 0 {
			evaluate_request::Msg::Open(Open {
				documents: names
					.iter()
					.map(|&w| Document { doc_id: self.doc_ids[w], prefix: windows[w].tokens[..windows[w].prefix].to_vec() })
					.collect(),
				top_k: self.top_k,
			})
		} else {
			evaluate_request::Msg::Reveal(Reveal {
				tokens: names
					.iter()
					.map(|&w| RevealedToken {
						doc_id: self.doc_ids[w],
						token_id: windows[w].tokens[windows[w].prefix + step - 1],
					})
					.collect(),
			})
		};
		(EvaluateRequest { msg: Some(msg) }, names)
	}

	/// Sends `msg` and waits for its answer; returns the distributions by window, with
	/// the signed step checked, and keeps [`Evidence`] of the windows in `audit`. Any
	/// failure cuts the miner off.
	async fn exchange(
		&mut self,
		msg: EvaluateRequest,
		names: Vec<usize>,
		step: usize,
		deadline: tokio::time::Instant,
		audit: &[usize],
		windows: &[Window],
	) -> Vec<(usize, TokenDistribution)> {
		if let Err(status) = self.session.apply(&msg) {
			// Our own message broke the protocol: a bug here, not the miner's fault; the
			// miner is still cut off, since the stream cannot go on.
			tracing::error!(step, error = %status.message(), "validator built an invalid Evaluate message");
			self.kill(Outcome::ProtocolError { step, reason: format!("validator bug: {}", status.message()) });
			return Vec::new();
		}
		let expected = self.session.pending().cloned().expect("an Open or Reveal is always answered");
		let (Some(tx), Some(answers)) = (self.tx.as_ref(), self.answers.as_mut()) else { return Vec::new() };
		let result = tokio::time::timeout_at(deadline, async {
			tx.send(msg).await.map_err(|_| "request stream closed".to_string())?;
			match answers.message().await {
				Ok(Some(resp)) => Ok(resp),
				Ok(None) => Err("stream ended".to_string()),
				Err(status) => Err(format!("{:?}: {}", status.code(), status.message())),
			}
		})
		.await;
		let resp = match result {
			Err(_) => {
				self.kill(Outcome::Timeout { step });
				return Vec::new();
			},
			Ok(Err(reason)) => {
				self.kill(Outcome::Dropped { step, reason });
				return Vec::new();
			},
			Ok(Ok(resp)) => resp,
		};
		match self.session.answer(&resp) {
			Err(status) => {
				self.kill(Outcome::ProtocolError { step, reason: status.message().to_string() });
				Vec::new()
			},
			Ok(Answered::Error { .. }) => {
				for &w in &names {
					self.open[w] = false;
				}
				Vec::new()
			},
			Ok(Answered::Step { invalid, .. }) => {
				self.invalid += invalid.len();
				let Some(evaluate_response::Msg::Step(s)) = resp.msg else { return Vec::new() };
				let digests = step_digests(&expected, &s.distributions);
				match classify_step(&self.miner, &self.caller, &self.model_hash, &digests, &s.contexts, &s.signature) {
					StepCheck::Valid => {},
					StepCheck::Tampered if !self.tls => {
						self.kill(Outcome::Tampered { step });
						return Vec::new();
					},
					StepCheck::Tampered | StepCheck::Forged => {
						self.kill(Outcome::ProtocolError { step, reason: "the step is not signed by the miner's hotkey".into() });
						return Vec::new();
					},
				}
				for (index, (&w, d)) in names.iter().zip(&s.distributions).enumerate() {
					if audit.contains(&w) {
						let win = &windows[w];
						self.evidence.push(Evidence {
							miner: self.miner.0,
							caller: self.caller.0,
							model_hash: self.model_hash,
							digests: digests.clone(),
							index: index as u32,
							context: win.tokens[..win.prefix + step].to_vec(),
							token_ids: d.token_ids.clone(),
							logprob_bits: d.logprobs.iter().map(|l| l.to_bits()).collect(),
							tail_mass_bits: d.tail_mass.to_bits(),
							signature: s.signature.clone().try_into().expect("verified signatures are 64 bytes"),
						});
					}
				}
				self.answered += s.distributions.len();
				// The session checked that the distributions name `names` in order.
				names.into_iter().zip(s.distributions).collect()
			},
		}
	}
}

fn refused(status: &tonic::Status) -> bool {
	matches!(status.code(), Code::PermissionDenied | Code::Unauthenticated)
}

/// Connects to a miner, checks its `Info` and opens its stream.
async fn connect(target: &MinerTarget, key: &Keypair, windows: &[Window], cfg: &RoundConfig) -> Conn {
	let n = windows.len();
	let (channel, peer) = match dial(target.addr, target.tls, cfg.connect_timeout).await {
		Ok(c) => c,
		Err(e) => return Conn::cut(Outcome::Unreachable(e.to_string()), n),
	};
	let mut client: MinerClient<_> = tessera_proto::client(channel);
	let info = match tokio::time::timeout(
		cfg.info_timeout,
		client.info(signed_unary(key, &target.hotkey, method::INFO, InfoRequest {})),
	)
	.await
	{
		Ok(Ok(r)) => r.into_inner(),
		Ok(Err(s)) if refused(&s) => return Conn::cut(Outcome::Refused(s.message().to_string()), n),
		Ok(Err(s)) => return Conn::cut(Outcome::Unreachable(format!("Info: {:?}: {}", s.code(), s.message())), n),
		Err(_) => return Conn::cut(Outcome::Unreachable("Info: timed out".into()), n),
	};
	let bad = |why: String, info: &InfoResponse| {
		let mut c = Conn::cut(Outcome::BadInfo(why), n);
		c.info = Some(info.clone());
		c
	};
	if Hotkey::parse(&info.hotkey).ok() != Some(target.hotkey) {
		return bad(format!("hotkey {} is not the registered {}", info.hotkey, target.hotkey), &info);
	}
	if target.tls {
		if let Err(e) = verify_tls_binding(info.tls.as_ref(), peer.get(), &target.hotkey) {
			return bad(e.to_string(), &info);
		}
	}
	if info.tokenizer_hash != cfg.tokenizer_hash {
		return bad(format!("tokenizer 0x{} is not the subnet's", hex::encode(&info.tokenizer_hash)), &info);
	}
	if info.vocab_size != cfg.vocab_size {
		return bad(format!("vocab size {} is not the tokenizer's {}", info.vocab_size, cfg.vocab_size), &info);
	}
	let limits = Limits::from_info(&info);
	// Windows beyond the miner's limits are not opened (they score the floor).
	let mut open = vec![false; n];
	let mut count = 0u32;
	for (w, win) in windows.iter().enumerate() {
		let fits = limits.max_context == 0 || win.tokens.len() <= limits.max_context as usize;
		if fits && count < limits.max_documents {
			open[w] = true;
			count += 1;
		}
	}
	if count == 0 {
		return bad("its limits admit none of the round's windows".into(), &info);
	}
	let (tx, rx) = mpsc::channel::<EvaluateRequest>(2);
	let req = signed_stream(key, &target.hotkey, method::EVALUATE, ReceiverStream::new(rx));
	let answers = match tokio::time::timeout(cfg.info_timeout, client.evaluate(req)).await {
		Ok(Ok(r)) => r.into_inner(),
		Ok(Err(s)) if refused(&s) => return Conn::cut(Outcome::Refused(s.message().to_string()), n),
		Ok(Err(s)) => return Conn::cut(Outcome::Unreachable(format!("Evaluate: {:?}: {}", s.code(), s.message())), n),
		Err(_) => return Conn::cut(Outcome::Unreachable("Evaluate: timed out".into()), n),
	};
	let mut rng = rand::thread_rng();
	let mut doc_ids: Vec<u32> = Vec::with_capacity(n);
	while doc_ids.len() < n {
		let id = rng.gen::<u32>();
		if !doc_ids.contains(&id) {
			doc_ids.push(id);
		}
	}
	// The channel may have reconnected since `Info`: the stream must run on the bound
	// certificate too.
	if target.tls {
		if let Err(e) = verify_tls_binding(info.tls.as_ref(), peer.get(), &target.hotkey) {
			return bad(e.to_string(), &info);
		}
	}
	let Ok(model_hash) = <[u8; 32]>::try_from(info.model_hash.as_slice()) else {
		return bad(format!("model hash of {} bytes", info.model_hash.len()), &info);
	};
	if target.model_hash.is_some_and(|committed| committed != model_hash) {
		return bad(format!("model 0x{} is not its on-chain commitment", hex::encode(model_hash)), &info);
	}
	Conn {
		caller: Hotkey::of(key),
		miner: target.hotkey,
		model_hash,
		tls: target.tls,
		tx: Some(tx),
		answers: Some(answers),
		session: EvaluateSession::new(limits),
		doc_ids,
		open,
		top_k: cfg.top_k.clamp(1, limits.max_top_k),
		outcome: None,
		info: Some(info),
		answered: 0,
		invalid: 0,
		evidence: Vec::new(),
	}
}

/// Runs one round of `windows` (all with the same number of scored tokens) on `miners`,
/// signing as `key`. Never fails: every problem with a miner becomes its [`Outcome`] and
/// floors. Takes at most the connect timeout plus twice the info timeout plus the sum of
/// the step deadlines ([`RoundConfig::deadline`]), however the miners behave (with up to
/// `max_concurrency` miners).
pub async fn run_round(miners: &[MinerTarget], windows: &[Window], key: &Keypair, cfg: &RoundConfig) -> RoundResult {
	let started = Instant::now();
	let steps = windows.iter().map(|w| w.tokens.len() - w.prefix).min().unwrap_or(0);
	let n_tokens = windows.len() * steps;
	let mut bits = Array2::from_elem((miners.len(), n_tokens), FLOOR_BITS);
	let bytes: Vec<u32> = windows
		.iter()
		.flat_map(|w| w.bytes[w.prefix..w.prefix + steps].iter().copied())
		.collect();
	let concurrency = cfg.max_concurrency.max(1);
	// The audit positions: secret, random, the same for every miner (so miners serving
	// the same model share one recomputation). Audits at step s: windows audit[s].
	let mut audit: Vec<Vec<usize>> = vec![Vec::new(); steps];
	for i in rand::seq::index::sample(&mut rand::thread_rng(), n_tokens, cfg.audit_samples.min(n_tokens)) {
		audit[i % steps].push(i / steps);
	}

	// Every miner of a step is asked at once (at most `max_concurrency` at a time), and
	// the step ends at one absolute deadline: slow miners cost the round one deadline per
	// step, however many there are.
	let connect_deadline = tokio::time::Instant::now() + cfg.connect_timeout + cfg.info_timeout * 2;
	let mut conns: Vec<Conn> = futures::stream::iter(miners.iter().map(|m| async move {
		tokio::time::timeout_at(connect_deadline, connect(m, key, windows, cfg))
			.await
			.unwrap_or_else(|_| Conn::cut(Outcome::Unreachable("connect: timed out".into()), windows.len()))
	}))
	.buffered(concurrency)
	.collect()
	.await;

	for step in 0..steps {
		let step_started = tokio::time::Instant::now();
		let answers: Vec<(usize, Vec<(usize, TokenDistribution)>)> = futures::stream::iter(
			conns.iter_mut().enumerate().filter(|(_, c)| c.alive()).map(|(i, c)| {
				let (msg, names) = c.message(windows, step);
				let deadline = step_started + cfg.deadline(&msg);
				let audit = &audit[step];
				async move { (i, c.exchange(msg, names, step, deadline, audit, windows).await) }
			}),
		)
		.buffer_unordered(concurrency)
		.collect()
		.await;
		for (i, dists) in answers {
			let top_k = conns[i].top_k;
			for (w, d) in dists {
				let truth = windows[w].tokens[windows[w].prefix + step];
				bits[[i, w * steps + step]] = score_token(Some(&d), truth, top_k, cfg.vocab_size).bits;
			}
		}
	}
	let miners = miners
		.iter()
		.zip(conns)
		.enumerate()
		.map(|(i, (target, c))| {
			let floored = bits.row(i).iter().filter(|&&b| b >= FLOOR_BITS).count();
			// Dropping the sender half-closes each stream: the miner frees its documents.
			MinerReport {
				target: target.clone(),
				outcome: c.outcome.unwrap_or(Outcome::Completed),
				info: c.info,
				answered: c.answered,
				invalid: c.invalid,
				floored,
				evidence: c.evidence,
			}
		})
		.collect();
	RoundResult { bits, bytes, miners, elapsed: started.elapsed(), steps }
}

#[cfg(test)]
mod tests {
	use super::*;

	fn open(docs: usize, prefix: usize) -> EvaluateRequest {
		let documents = (0..docs).map(|d| Document { doc_id: d as u32, prefix: vec![1; prefix] }).collect();
		EvaluateRequest { msg: Some(evaluate_request::Msg::Open(Open { documents, top_k: 8 })) }
	}

	fn reveal(docs: usize) -> EvaluateRequest {
		let tokens = (0..docs).map(|d| RevealedToken { doc_id: d as u32, token_id: 1 }).collect();
		EvaluateRequest { msg: Some(evaluate_request::Msg::Reveal(Reveal { tokens })) }
	}

	#[test]
	fn deadlines_grow_with_the_work_asked() {
		let cfg = RoundConfig::new([0; 32], 100);
		assert_eq!(cfg.deadline(&open(8, 64)), Duration::from_secs(10) + Duration::from_secs_f64(512.0 / 50.0));
		assert_eq!(cfg.deadline(&open(32, 64)), Duration::from_secs(10) + Duration::from_secs_f64(2048.0 / 50.0));
		assert_eq!(cfg.deadline(&reveal(8)), Duration::from_secs(5) + Duration::from_millis(400));
		let fixed = RoundConfig { prefill_rate: 0, decode_rate: 0, ..cfg };
		assert_eq!(fixed.deadline(&open(32, 64)), fixed.open_timeout);
		assert_eq!(fixed.deadline(&reveal(32)), fixed.step_timeout);
	}
}
