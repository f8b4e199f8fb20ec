//! The `tessera-validator` command line (flags, and `TESSERA_*` environment variables)
//! and the long-running scoring loop.

use std::{
	collections::{BTreeMap, BTreeSet},
	net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
	path::PathBuf,
	sync::Arc,
	time::{Duration, Instant},
};

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use parking_lot::Mutex;
use rand::{rngs::StdRng, SeedableRng};
use tessera_client::{chain::account_of, keys, AxonInfo, KeyFile, Keypair, Metagraph, TesseraClient};
use tessera_miner::{llama::device_from_spec, model_limits::ModelLimits, model_store::cache_root, WeightFormat};
use tessera_proto::Hotkey;
use tessera_scoring::CompareConfig;
use tokio::sync::watch;

use crate::{
	audit::{
		pipeline::{AuditJob, AuditPipeline},
		Auditor, FetchLimits, ModelCache, Tolerance, MAX_MODEL_BYTES,
	},
	corpus::{self, draw_windows, remaining, Corpus, Retired, WindowSpec},
	enforce::{apply_verdicts, evidence_dir, is_barred, report_pending, AuditLedger, Chain, Failed},
	metrics::Metrics,
	refusals::{scored_rows, PermitClock},
	round::{run_round, MinerTarget, Outcome, RoundConfig, RoundResult},
	scores::{table, Scores, TableRow},
	store::Store,
	tokenizer::SubnetTokenizer,
	weights::{WeightSetter, WeightTarget},
};

/// `tessera-validator`: score a Tessera subnet's miners and set weights.
#[derive(Debug, Parser)]
#[command(name = "tessera-validator", version, about)]
pub struct Cli {
	/// What to do.
	#[command(subcommand)]
	pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
	/// Run the validator: rounds, scores, weights on-chain.
	Run(RunArgs),
	/// Download the default (public, localnet-only) corpus; print its directory.
	FetchCorpus,
	/// Print the tokenizer hash of a model (default: the default model): the subnet's
	/// `TokenizerHash` hyperparameter.
	TokenizerHash {
		/// GGUF file.
		#[arg(long)]
		model: Option<PathBuf>,
	},
	/// Evaluate miners given by address, without a chain (benchmarks, private tests):
	/// run rounds, print the table and the bits per byte. Windows are retired only in
	/// memory.
	Evaluate(EvaluateArgs),
}

/// Key, data and round settings shared by `run` and `evaluate`.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
	/// The validator's hotkey as a secret URI (`//Alice`, a phrase, `0x` seed).
	#[arg(long, env = "TESSERA_HOTKEY_URI", conflicts_with = "hotkey_file")]
	pub hotkey_uri: Option<String>,
	/// The validator's hotkey as a key file (`tessera wallet` format).
	#[arg(long, env = "TESSERA_HOTKEY_FILE")]
	pub hotkey_file: Option<PathBuf>,
	/// Directory of private evaluation text (.txt files, .jsonl lines), never sent whole
	/// to anyone. Default: the public State of the Union corpus (localnets only).
	#[arg(long, env = "TESSERA_EVAL_DATA")]
	pub eval_data: Option<PathBuf>,
	/// GGUF model whose tokenizer is the subnet's (default: the default model).
	#[arg(long, env = "TESSERA_TOKENIZER_MODEL")]
	pub tokenizer_model: Option<PathBuf>,
	/// Documents per round (distinct documents, each a fresh window).
	#[arg(long, env = "TESSERA_DOCS_PER_ROUND", default_value_t = 8)]
	pub docs_per_round: usize,
	/// Tokens shown to the miners before the first scored token.
	#[arg(long, env = "TESSERA_PREFIX_TOKENS", default_value_t = 64)]
	pub prefix_tokens: usize,
	/// Tokens scored per document.
	#[arg(long, env = "TESSERA_SCORED_TOKENS", default_value_t = 64)]
	pub scored_tokens: usize,
	/// Entries asked per distribution.
	#[arg(long, env = "TESSERA_TOP_K", default_value_t = 32)]
	pub top_k: u32,
	/// Milliseconds a miner has for each answer after the first, plus the time
	/// `--decode-rate` gives for the documents revealed.
	#[arg(long, env = "TESSERA_STEP_TIMEOUT_MS", default_value_t = 5_000)]
	pub step_timeout_ms: u64,
	/// Milliseconds a miner has for its first answer (it reads every prefix), plus the time
	/// `--prefill-rate` gives for the prefix tokens.
	#[arg(long, env = "TESSERA_OPEN_TIMEOUT_MS", default_value_t = 10_000)]
	pub open_timeout_ms: u64,
	/// Prefix tokens per second a miner must sustain; the first deadline grows by the
	/// tokens sent divided by this (0: fixed deadline).
	#[arg(long, env = "TESSERA_PREFILL_RATE", default_value_t = 50)]
	pub prefill_rate: u32,
	/// Documents per second a miner must sustain in one decode step; each later deadline
	/// grows by the documents revealed divided by this (0: fixed deadline).
	#[arg(long, env = "TESSERA_DECODE_RATE", default_value_t = 20)]
	pub decode_rate: u32,
	/// Milliseconds to connect to a miner, and for its `Info`.
	#[arg(long, env = "TESSERA_CONNECT_TIMEOUT_MS", default_value_t = 5_000)]
	pub connect_timeout_ms: u64,
	/// Most miners with a request in flight at once (keep it above the number of
	/// miners: a step's requests share one deadline).
	#[arg(long, env = "TESSERA_MAX_CONCURRENCY", default_value_t = 1024)]
	pub max_concurrency: usize,
	/// Positions per round kept as signed evidence and re-run for audits.
	#[arg(long, env = "TESSERA_AUDIT_SAMPLES", default_value_t = 4)]
	pub audit_samples: usize,
}

impl CommonArgs {
	/// The hotkey from `--hotkey-uri` or `--hotkey-file`.
	pub fn hotkey(&self) -> anyhow::Result<Keypair> {
		match (&self.hotkey_uri, &self.hotkey_file) {
			(Some(uri), _) => Ok(keys::from_uri(uri)?),
			(None, Some(path)) => Ok(KeyFile::load(path)?.keypair()?),
			(None, None) => anyhow::bail!("no hotkey: pass --hotkey-uri or --hotkey-file (or TESSERA_HOTKEY_URI)"),
		}
	}

	/// The window spec.
	pub fn window_spec(&self) -> WindowSpec {
		WindowSpec { docs: self.docs_per_round.max(1), prefix: self.prefix_tokens.max(1), scored: self.scored_tokens.max(1) }
	}

	/// The round config for `tokenizer`.
	pub fn round_config(&self, tokenizer: &SubnetTokenizer) -> RoundConfig {
		RoundConfig {
			connect_timeout: Duration::from_millis(self.connect_timeout_ms),
			info_timeout: Duration::from_millis(self.connect_timeout_ms),
			open_timeout: Duration::from_millis(self.open_timeout_ms),
			step_timeout: Duration::from_millis(self.step_timeout_ms),
			prefill_rate: self.prefill_rate,
			decode_rate: self.decode_rate,
			max_concurrency: self.max_concurrency.max(1),
			top_k: self.top_k.max(1),
			audit_samples: self.audit_samples,
			tokenizer_hash: tokenizer.hash(),
			vocab_size: tokenizer.vocab_size(),
		}
	}

	/// Loads the tokenizer (fetching the default model if needed).
	pub async fn tokenizer(&self) -> anyhow::Result<SubnetTokenizer> {
		let path = model_path(self.tokenizer_model.clone()).await?;
		let tok = tokio::task::spawn_blocking(move || SubnetTokenizer::from_gguf_file(&path)).await??;
		Ok(tok)
	}

	/// Loads the evaluation corpus (fetching the default one if no directory is given),
	/// made representable by `tokenizer`.
	pub async fn corpus(&self, tokenizer: &SubnetTokenizer) -> anyhow::Result<Corpus> {
		let dir = match &self.eval_data {
			Some(d) => d.clone(),
			None => {
				tracing::warn!(
					"no --eval-data: using the public State of the Union corpus; fine for a localnet, \
					 but real validators must evaluate on private text"
				);
				tokio::task::spawn_blocking(corpus::fetch_default_corpus).await??
			},
		};
		let (c, sanitized) = tokio::task::spawn_blocking({
			let dir = dir.clone();
			let tokenizer = tokenizer.clone();
			move || {
				let mut c = Corpus::load(&dir)?;
				let n = c.sanitize(&tokenizer);
				Ok::<_, corpus::CorpusError>((c, n))
			}
		})
		.await?
		.with_context(|| format!("loading the evaluation corpus {}", dir.display()))?;
		if sanitized > 0 {
			tracing::warn!(documents = sanitized, "characters without tokens replaced by U+FFFD");
		}
		if c.docs.is_empty() {
			anyhow::bail!(corpus::CorpusError::Empty(dir.display().to_string()));
		}
		tracing::info!(dir = %dir.display(), documents = c.docs.len(), bytes = c.total_bytes(), "evaluation corpus loaded");
		Ok(c)
	}
}

/// Flags of `tessera-validator run`.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
	/// Key, data and round settings.
	#[command(flatten)]
	pub common: CommonArgs,
	/// WebSocket RPC endpoint of a Tessera node.
	#[arg(long, env = "TESSERA_URL", default_value = "ws://127.0.0.1:9944")]
	pub url: String,
	/// Subnet to validate.
	#[arg(long, env = "TESSERA_NETUID", default_value_t = 1)]
	pub netuid: u16,
	/// The database (scores, pending commits, retired windows). Default:
	/// `$TESSERA_CACHE/validator/<hotkey>-<netuid>.redb`.
	#[arg(long, env = "TESSERA_DB")]
	pub db: Option<PathBuf>,
	/// EMA smoothing factor of the round scores, in (0, 1].
	#[arg(long, env = "TESSERA_EMA_ALPHA", default_value_t = 0.1)]
	pub ema_alpha: f64,
	/// Paired comparison: standard errors a mean difference must exceed to count.
	#[arg(long, default_value_t = CompareConfig::default().z)]
	pub compare_z: f64,
	/// Paired comparison: bits per token a mean difference must exceed to count.
	#[arg(long, default_value_t = CompareConfig::default().margin_bits)]
	pub compare_margin_bits: f64,
	/// Least seconds between the starts of two rounds.
	#[arg(long, env = "TESSERA_ROUND_INTERVAL_SECS", default_value_t = 12)]
	pub round_interval_secs: u64,
	/// Milliseconds between two looks at the chain for weights to set, commit or reveal.
	#[arg(long, default_value_t = 1_000)]
	pub weights_poll_ms: u64,
	/// Warn when the corpus has fewer rounds than this left.
	#[arg(long, default_value_t = 100)]
	pub corpus_low_rounds: u64,
	/// Port of the Prometheus `/metrics` endpoint on 127.0.0.1 (none if absent).
	#[arg(long, env = "TESSERA_PROMETHEUS_PORT")]
	pub prometheus_port: Option<u16>,
	/// Seconds after this validator gets its permit during which miners that refuse it
	/// are not scored (their view of the chain lags); after that a refusal scores the floor.
	#[arg(long, env = "TESSERA_REFUSAL_GRACE_SECS", default_value_t = 60)]
	pub refusal_grace_secs: u64,
	/// Audits of the miners' signed answers (`--audit-samples` per round).
	#[command(flatten)]
	pub audit: AuditArgs,
}

/// How the validator audits miners.
#[derive(Debug, Clone, Args)]
pub struct AuditArgs {
	/// Where fetched miner models are kept. Default: `$TESSERA_CACHE/validator/models`.
	#[arg(long, env = "TESSERA_MODEL_CACHE")]
	pub model_cache: Option<PathBuf>,
	/// Most GiB of models kept; least recently used go first.
	#[arg(long, env = "TESSERA_MODEL_CACHE_GIB", default_value_t = 20)]
	pub model_cache_gib: u64,
	/// Device audits run on: `cpu`, `cuda`, `cuda:N`.
	#[arg(long, env = "TESSERA_AUDIT_DEVICE", default_value = "cpu")]
	pub audit_device: String,
	/// How audits hold the weights (`auto`: as the file stores them).
	#[arg(long, env = "TESSERA_AUDIT_WEIGHTS", value_enum, default_value_t = WeightFormat::Auto)]
	pub audit_weights: WeightFormat,
	/// Largest median per-position mean |Δ logprob| (nats) of an honest miner.
	#[arg(long, default_value_t = Tolerance::default().median_mean_abs)]
	pub audit_median_nats: f32,
	/// Largest |Δ logprob| (nats) of an honest miner's token at the level of the model's
	/// best; it grows by this much for every `GAP_SCALE` (8) nats a token lies below it.
	#[arg(long, default_value_t = Tolerance::default().max_abs)]
	pub audit_max_nats: f32,
	/// Largest |Δ| between an honest tail mass and the model's unlisted mass.
	#[arg(long, default_value_t = Tolerance::default().tail_abs)]
	pub audit_tail: f32,
	/// Largest median over positions of the probability an honest answer moves.
	#[arg(long, default_value_t = Tolerance::default().median_moved)]
	pub audit_median_moved: f32,
	/// Largest probability an honest answer moves (total variation) at one position.
	#[arg(long, default_value_t = Tolerance::default().moved)]
	pub audit_moved: f32,
	/// Largest rank gap (nats below the model's k-th best) of an honest answer.
	#[arg(long, default_value_t = Tolerance::default().rank_gap)]
	pub audit_rank_gap_nats: f32,
	/// Most GiB of memory loading one miner's model may take; larger models are not
	/// audited by this validator (and not paid by it).
	#[arg(long, env = "TESSERA_AUDIT_MAX_MEMORY_GIB", default_value_t = 8)]
	pub audit_max_memory_gib: u64,
	/// Model downloads at once.
	#[arg(long, env = "TESSERA_AUDIT_MAX_FETCHES", default_value_t = 4)]
	pub audit_max_fetches: usize,
	/// Least average download rate a miner must sustain, KiB/s (after the grace).
	#[arg(long, env = "TESSERA_AUDIT_FETCH_MIN_RATE_KIB", default_value_t = 1024)]
	pub audit_fetch_min_rate_kib: u64,
	/// Seconds before the least rate applies.
	#[arg(long, default_value_t = 15)]
	pub audit_fetch_grace_secs: u64,
	/// Longest wait for the next chunk of a download, seconds.
	#[arg(long, default_value_t = 20)]
	pub audit_fetch_stall_secs: u64,
	/// Rounds in a row a miner's model may fail to download before it counts as a
	/// failed audit (each such round pays it nothing).
	#[arg(long, env = "TESSERA_AUDIT_FETCH_FAILURES", default_value_t = 3)]
	pub audit_fetch_failures: u32,
}

impl AuditArgs {
	/// The auditor these flags describe.
	pub fn auditor(&self) -> anyhow::Result<Auditor> {
		let dir = self.model_cache.clone().unwrap_or_else(|| cache_root().join("validator").join("models"));
		let device = device_from_spec(&self.audit_device)?;
		let tolerance = Tolerance {
			median_mean_abs: self.audit_median_nats,
			median_moved: self.audit_median_moved,
			max_abs: self.audit_max_nats,
			tail_abs: self.audit_tail,
			moved: self.audit_moved,
			rank_gap: self.audit_rank_gap_nats,
		};
		Ok(Auditor::new(ModelCache::new(dir, self.model_cache_gib << 30), device, self.audit_weights, tolerance))
	}

	/// The fetch bounds for a subnet whose largest model is `max_model_bytes`.
	pub fn fetch_limits(&self, max_model_bytes: u64) -> FetchLimits {
		FetchLimits {
			max_bytes: max_model_bytes,
			min_rate: self.audit_fetch_min_rate_kib.max(1) << 10,
			grace: Duration::from_secs(self.audit_fetch_grace_secs),
			stall_timeout: Duration::from_secs(self.audit_fetch_stall_secs.max(1)),
			..FetchLimits::default()
		}
	}

	/// The model bounds for a subnet with `vocab_size` tokens and models of at most
	/// `max_model_bytes`.
	pub fn model_limits(&self, vocab_size: u32, max_model_bytes: u64) -> ModelLimits {
		ModelLimits {
			vocab_size: Some(vocab_size as usize),
			max_file_bytes: max_model_bytes,
			max_memory_bytes: self.audit_max_memory_gib << 30,
			..ModelLimits::default()
		}
	}
}

/// Everything the scoring loop keeps about audits.
pub struct Audits {
	/// Background audits.
	pub pipeline: AuditPipeline,
	/// Where each miner's audits stand.
	pub ledger: AuditLedger,
	/// Failed audits (persisted).
	pub failed: Failed,
	/// Where evidence files go.
	pub evidence_dir: PathBuf,
}

/// Flags of `tessera-validator evaluate`.
#[derive(Debug, Clone, Args)]
pub struct EvaluateArgs {
	/// Key, data and round settings.
	#[command(flatten)]
	pub common: CommonArgs,
	/// A miner as `IP:PORT=HOTKEY` (SS58 or 0x hex), `tls://IP:PORT=HOTKEY` over TLS;
	/// repeatable. Start miners with
	/// `tessera-miner run --no-chain --allow-caller <this validator's hotkey>`.
	#[arg(long = "miner", required = true)]
	pub miners: Vec<String>,
	/// Rounds to run.
	#[arg(long, default_value_t = 1)]
	pub rounds: u64,
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
	tessera_miner::run::shutdown_signal().await
}

/// Runs a subcommand to completion.
pub async fn main(cli: Cli) -> anyhow::Result<()> {
	match cli.command {
		Command::Run(args) => run(args, shutdown_signal()).await,
		Command::FetchCorpus => {
			let dir = tokio::task::spawn_blocking(corpus::fetch_default_corpus).await??;
			println!("{}", dir.display());
			Ok(())
		},
		Command::TokenizerHash { model } => {
			let path = model_path(model).await?;
			let tok = tokio::task::spawn_blocking(move || SubnetTokenizer::from_gguf_file(&path)).await??;
			println!("0x{}", hex::encode(tok.hash()));
			Ok(())
		},
		Command::Evaluate(args) => evaluate(args).await,
	}
}

async fn model_path(model: Option<PathBuf>) -> anyhow::Result<PathBuf> {
	match model {
		Some(p) => Ok(p),
		None => Ok(tokio::task::spawn_blocking(tessera_miner::model_store::ensure_default_model).await??),
	}
}

/// Hands every miner's signed answers of `result` to the background audits.
fn submit_audits(pipeline: &mut AuditPipeline, result: &RoundResult) {
	for m in &result.miners {
		let Some(model_hash) = m.target.model_hash else { continue };
		pipeline.submit(AuditJob { target: m.target.clone(), model_hash, evidence: m.evidence.clone() });
	}
}

/// Default database path of `hotkey` on `netuid`.
pub fn default_db_path(hotkey: &Hotkey, netuid: u16) -> PathBuf {
	cache_root().join("validator").join(format!("{}-{netuid}.redb", hotkey.to_ss58()))
}

/// The socket address of an on-chain axon, if it has one.
pub fn axon_addr(axon: &AxonInfo) -> Option<SocketAddr> {
	if axon.port == 0 {
		return None;
	}
	let ip = match axon.ip_type {
		4 => IpAddr::V4(Ipv4Addr::from(u32::try_from(axon.ip).ok()?)),
		6 => IpAddr::V6(Ipv6Addr::from(axon.ip)),
		_ => return None,
	};
	if ip.is_unspecified() {
		return None;
	}
	Some(SocketAddr::new(ip, axon.port))
}

/// The serving miners of `mg`: an axon, and a model commitment with `tokenizer_hash`;
/// never `me`.
pub fn serving_miners(mg: &Metagraph, tokenizer_hash: &[u8; 32], me: &Hotkey) -> Vec<MinerTarget> {
	mg.neurons
		.iter()
		.filter_map(|n| {
			let hotkey = Hotkey(n.hotkey.0);
			let model = n.model.as_ref()?;
			if hotkey == *me || model.tokenizer_hash.0 != *tokenizer_hash {
				return None;
			}
			let axon = n.axon.as_ref()?;
			let addr = axon_addr(axon)?;
			let tls = axon.protocol == tessera_proto::transport::PROTOCOL_GRPC_TLS;
			Some(MinerTarget { uid: n.uid, hotkey, addr, commit_block: model.block, model_hash: Some(model.model_hash.0), tls })
		})
		.collect()
}

/// Scores of a finished round: the paired-comparison score of every miner in `rows`.
pub fn round_scores(result: &RoundResult, rows: &[usize], cfg: &CompareConfig) -> anyhow::Result<BTreeMap<usize, f64>> {
	if rows.is_empty() {
		return Ok(BTreeMap::new());
	}
	let c = result.compare(rows, cfg)?;
	Ok(rows.iter().copied().zip(c.scores).collect())
}

fn log_outcomes(result: &RoundResult, metrics: &Metrics) {
	for m in &result.miners {
		metrics.miner_outcomes.with_label_values(&[m.outcome.label()]).inc();
		if m.outcome != Outcome::Completed {
			tracing::info!(uid = m.target.uid, addr = %m.target.addr, outcome = %m.outcome, "miner");
		}
	}
	let floored: usize = result.miners.iter().map(|m| m.floored).sum();
	metrics.floored_tokens.inc_by(floored as u64);
	metrics.scored_tokens.inc_by(result.bits.len() as u64);
	metrics.round_seconds.observe(result.elapsed.as_secs_f64());
	metrics.miners_evaluated.set(result.miners.len() as i64);
}

/// Loads the validator's state and runs rounds until `shutdown` resolves.
pub async fn run(args: RunArgs, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
	let key = args.common.hotkey()?;
	let me = Hotkey::of(&key);
	let tokenizer = args.common.tokenizer().await?;
	tracing::info!(hash = %hex::encode(tokenizer.hash()), vocab = tokenizer.vocab_size(), "subnet tokenizer");
	let corpus = args.common.corpus(&tokenizer).await?;
	let db_path = args.db.clone().unwrap_or_else(|| default_db_path(&me, args.netuid));
	let store = Arc::new(Store::open(&db_path).with_context(|| format!("opening {}", db_path.display()))?);
	let mut scores = Scores::from_entries(args.ema_alpha, &store.load_ema()?).context("stored scores")?;
	let mut retired = store.load_retired()?;
	let pending = store.pending_commits()?;
	tracing::info!(
		db = %db_path.display(),
		rounds = store.rounds()?,
		scored_uids = scores.all().len(),
		pending_commits = pending.len(),
		"state resumed"
	);
	let spec = args.common.window_spec();
	let round_cfg = args.common.round_config(&tokenizer);
	let compare_cfg = CompareConfig { z: args.compare_z, margin_bits: args.compare_margin_bits };
	let mut audits = Audits {
		pipeline: AuditPipeline::new(args.audit.auditor()?, key.clone(), args.audit.audit_max_fetches),
		ledger: AuditLedger::new(args.audit.audit_fetch_failures),
		failed: store.failed_audits()?,
		evidence_dir: evidence_dir(&db_path),
	};
	let mut permit_clock = PermitClock::new(Duration::from_secs(args.refusal_grace_secs));

	let client = TesseraClient::connect(&args.url).await.with_context(|| format!("connecting to {}", args.url))?;
	let metrics = Metrics::new();
	let (stop_tx, stop_rx) = watch::channel(false);
	tokio::spawn(async move {
		shutdown.await;
		let _ = stop_tx.send(true);
	});
	let stopped = |mut rx: watch::Receiver<bool>| async move {
		let _ = rx.wait_for(|s| *s).await;
	};
	let mut background = Vec::new();
	if let Some(port) = args.prometheus_port {
		let registry = metrics.registry.clone();
		background.push(tokio::spawn(async move {
			let addr = SocketAddr::from(([127, 0, 0, 1], port));
			if let Err(e) = substrate_prometheus_endpoint::init_prometheus(addr, registry).await {
				tracing::error!(error = %e, "prometheus endpoint failed");
			}
		}));
	}
	let target = Arc::new(Mutex::new(None::<WeightTarget>));
	let setter = WeightSetter::new(client.clone(), key.clone(), args.netuid, store.clone(), metrics.clone(), target.clone());
	let weights_task = tokio::spawn(setter.run(Duration::from_millis(args.weights_poll_ms.max(100)), stopped(stop_rx.clone())));

	tracing::info!(hotkey = %me, netuid = args.netuid, url = %args.url, "validator running");
	let mut round_no = store.rounds()?;
	let interval = Duration::from_secs(args.round_interval_secs);
	let mut stop = stop_rx.clone();
	loop {
		let started = Instant::now();
		let work = one_round(
			&client, &args, &key, &me, &tokenizer, &corpus, &store, &mut scores, &mut retired, &spec, &round_cfg,
			&compare_cfg, &metrics, &target, round_no, &mut audits, &mut permit_clock,
		);
		tokio::select! {
			r = work => match r {
				Ok(true) => round_no += 1,
				Ok(false) => {},
				Err(e) => tracing::warn!(error = %e, "round failed"),
			},
			_ = stop.wait_for(|s| *s) => break,
		}
		let wait = interval.saturating_sub(started.elapsed()).max(Duration::from_millis(500));
		tokio::select! {
			_ = tokio::time::sleep(wait) => {},
			_ = stop.wait_for(|s| *s) => break,
		}
	}
	tracing::info!("stopping");
	let _ = tokio::time::timeout(Duration::from_secs(30), weights_task).await;
	for t in background {
		t.abort();
	}
	Ok(())
}

/// One round of the loop. Returns whether a round was scored.
#[allow(clippy::too_many_arguments)]
async fn one_round(
	client: &TesseraClient,
	args: &RunArgs,
	key: &Keypair,
	me: &Hotkey,
	tokenizer: &SubnetTokenizer,
	corpus: &Corpus,
	store: &Store,
	scores: &mut Scores,
	retired: &mut Retired,
	spec: &WindowSpec,
	round_cfg: &RoundConfig,
	compare_cfg: &CompareConfig,
	metrics: &Metrics,
	target: &Mutex<Option<WeightTarget>>,
	round_no: u64,
	audits: &mut Audits,
	permit_clock: &mut PermitClock,
) -> anyhow::Result<bool> {
	let mg = client.metagraph(args.netuid).await?;
	metrics.block.set(mg.block as i64);
	let me_id = account_of(key);
	let own = mg.neurons.iter().find(|n| n.hotkey == me_id);
	metrics.registered.set(i64::from(own.is_some()));
	let permit = own.is_some_and(|n| n.validator_permit);
	metrics.validator_permit.set(i64::from(permit));
	match own {
		None => tracing::warn!(
			hotkey = %me,
			netuid = args.netuid,
			"this hotkey is not registered on the subnet: miners will refuse it and it cannot set weights \
			 (register it with `tessera register`); scoring anyway"
		),
		Some(n) if !n.validator_permit => tracing::warn!(
			uid = n.uid,
			stake = n.stake,
			"NO VALIDATOR PERMIT: weights cannot be set until this hotkey is among the subnet's top validators \
			 by stake (permits are handed out at each epoch); scoring anyway"
		),
		_ => {},
	}
	let subnet_hash = mg.hyperparams.tokenizer_hash.0;
	if subnet_hash != [0; 32] && subnet_hash != tokenizer.hash() {
		metrics.rounds_skipped.with_label_values(&["tokenizer_mismatch"]).inc();
		anyhow::bail!(
			"the subnet's tokenizer hash 0x{} is not that of --tokenizer-model (0x{}): pass the subnet's model",
			hex::encode(subnet_hash),
			hex::encode(tokenizer.hash())
		);
	}
	permit_clock.observe(permit);
	let registered: BTreeMap<u16, [u8; 32]> = mg.neurons.iter().map(|n| (n.uid, n.hotkey.0)).collect();
	scores.sync(&registered);
	let chain = Chain { client, netuid: args.netuid, can_report: permit && mg.hyperparams.audits_enabled };
	let max_model_bytes = if mg.hyperparams.max_model_bytes == 0 { MAX_MODEL_BYTES } else { mg.hyperparams.max_model_bytes };
	audits.pipeline.auditor().set_limits(
		args.audit.fetch_limits(max_model_bytes),
		args.audit.model_limits(tokenizer.vocab_size(), max_model_bytes),
	);
	let verdicts = audits.pipeline.drain();
	apply_verdicts(verdicts, &mut audits.ledger, key, &chain, store, &audits.evidence_dir, scores, &mut audits.failed, metrics)
		.await;
	report_pending(&chain, key, &registered, store, &audits.evidence_dir, &mut audits.failed, metrics).await;
	let mut miners = serving_miners(&mg, &tokenizer.hash(), me);
	// Miners that failed an audit with the model they still serve are not asked again.
	let failed = &audits.failed;
	miners.retain(|m| {
		let barred = is_barred(failed, m);
		if barred {
			scores.forfeit(m.uid, m.hotkey.0);
		}
		!barred
	});
	if miners.is_empty() {
		metrics.rounds_skipped.with_label_values(&["no_miners"]).inc();
		tracing::info!("no serving miners (axon and model commitment with the subnet's tokenizer) yet");
		return Ok(false);
	}

	let left = remaining(corpus, retired, spec);
	metrics.corpus_free_bytes.set(left.free_bytes as i64);
	metrics.corpus_rounds_left.set(left.rounds as i64);
	if left.rounds < args.corpus_low_rounds {
		tracing::warn!(
			rounds_left = left.rounds,
			free_bytes = left.free_bytes,
			"the evaluation corpus is running low: revealed text is retired for good; add private text to --eval-data"
		);
	}
	let windows = draw_windows(corpus, retired, tokenizer, spec, &mut StdRng::from_entropy())?;
	if windows.is_empty() {
		metrics.rounds_skipped.with_label_values(&["corpus_spent"]).inc();
		anyhow::bail!("the evaluation corpus is spent: no unrevealed window left; add text to --eval-data");
	}
	if windows.len() < spec.docs {
		tracing::warn!(windows = windows.len(), wanted = spec.docs, "fewer windows than documents per round");
	}
	// Retired before anything is revealed: a crash mid-round must not reuse them.
	store.retire(retired, &windows)?;

	let result = run_round(&miners, &windows, key, round_cfg).await;
	log_outcomes(&result, metrics);
	let rows = scored_rows(&result, permit_clock.refusals_count());
	let round = round_scores(&result, &rows, compare_cfg)?;
	let mut update: Vec<(u16, [u8; 32], f64)> =
		round.iter().map(|(&i, &s)| (result.miners[i].target.uid, result.miners[i].target.hotkey.0, s)).collect();
	// Registered neurons that serve nothing (other than this validator) decay toward zero.
	let serving: Vec<u16> = miners.iter().map(|m| m.uid).collect();
	let own_uid = own.map(|n| n.uid);
	for (&uid, hk) in &registered {
		if !serving.contains(&uid) && Some(uid) != own_uid && scores.get(uid).is_some() {
			update.push((uid, *hk, 0.0));
		}
	}
	scores.update(&update)?;
	let withheld = if round_cfg.audit_samples > 0 {
		submit_audits(&mut audits.pipeline, &result);
		audits.ledger.withheld(&miners)
	} else {
		BTreeSet::new()
	};
	store.save_ema(&scores.entries())?;
	let (uids, values) = scores.weights(own_uid, &withheld);
	*target.lock() = Some(WeightTarget { uids: uids.clone(), values: values.clone(), round: round_no + 1 });

	let bpb = result.bpb();
	let rows: Vec<TableRow> = result
		.miners
		.iter()
		.enumerate()
		.map(|(i, m)| {
			let uid = m.target.uid;
			let weight = uids.iter().position(|&u| u == uid).map_or(0, |p| values[p]);
			let row = TableRow {
				uid,
				hotkey: m.target.hotkey,
				outcome: m.outcome.label().to_string(),
				bpb: bpb[i],
				floored: m.floored,
				score: round.get(&i).copied(),
				ema: scores.get(uid).unwrap_or(0.0),
				weight,
			};
			let l = uid.to_string();
			metrics.miner_bpb.with_label_values(&[&l]).set(row.bpb);
			metrics.miner_ema.with_label_values(&[&l]).set(row.ema);
			metrics.miner_weight.with_label_values(&[&l]).set(f64::from(weight));
			row
		})
		.collect();
	metrics.best_bpb.set(bpb.iter().copied().fold(f64::INFINITY, f64::min));
	metrics.rounds.inc();
	tracing::info!(
		"round {} at block {}: {} miners, {} windows x {} tokens ({} bytes) in {:.2} s\n{}",
		round_no + 1,
		mg.block,
		result.miners.len(),
		windows.len(),
		result.steps,
		result.bytes.iter().map(|&b| u64::from(b)).sum::<u64>(),
		result.elapsed.as_secs_f64(),
		table(&rows)
	);
	Ok(true)
}

fn parse_miner(s: &str, i: usize) -> anyhow::Result<MinerTarget> {
	let (tls, rest) = match s.strip_prefix("tls://") {
		Some(rest) => (true, rest),
		None => (false, s),
	};
	let (addr, hotkey) = rest.split_once('=').with_context(|| format!("--miner {s}: expected [tls://]IP:PORT=HOTKEY"))?;
	Ok(MinerTarget {
		uid: i as u16,
		hotkey: Hotkey::parse(hotkey).map_err(|e| anyhow::anyhow!("--miner {s}: {e}"))?,
		addr: addr.parse().with_context(|| format!("--miner {s}: bad address"))?,
		commit_block: 0,
		model_hash: None,
		tls,
	})
}

/// `tessera-validator evaluate`: rounds against miners given by address, no chain.
pub async fn evaluate(args: EvaluateArgs) -> anyhow::Result<()> {
	let key = args.common.hotkey()?;
	let tokenizer = args.common.tokenizer().await?;
	let corpus = args.common.corpus(&tokenizer).await?;
	let miners = args.miners.iter().enumerate().map(|(i, s)| parse_miner(s, i)).collect::<anyhow::Result<Vec<_>>>()?;
	let spec = args.common.window_spec();
	let cfg = args.common.round_config(&tokenizer);
	let mut retired = Retired::new();
	let mut totals = vec![(0f64, 0u64); miners.len()];
	let mut times = Vec::new();
	for round in 1..=args.rounds {
		let windows = draw_windows(&corpus, &retired, &tokenizer, &spec, &mut StdRng::from_entropy())?;
		if windows.is_empty() {
			anyhow::bail!("the corpus is spent");
		}
		for w in &windows {
			retired.retire(w.doc_hash, w.start, w.end);
		}
		let result = run_round(&miners, &windows, &key, &cfg).await;
		let bpb = result.bpb();
		let all: Vec<usize> = (0..miners.len()).collect();
		let scores = round_scores(&result, &all, &CompareConfig::default())?;
		let bytes: u64 = result.bytes.iter().map(|&b| u64::from(b)).sum();
		let rows: Vec<TableRow> = result
			.miners
			.iter()
			.enumerate()
			.map(|(i, m)| {
				totals[i].0 += result.bits.row(i).sum();
				totals[i].1 += bytes;
				TableRow {
					uid: m.target.uid,
					hotkey: m.target.hotkey,
					outcome: m.outcome.label().to_string(),
					bpb: bpb[i],
					floored: m.floored,
					score: scores.get(&i).copied(),
					ema: 0.0,
					weight: 0,
				}
			})
			.collect();
		for m in &result.miners {
			if m.outcome != Outcome::Completed {
				println!("uid {} ({}): {}", m.target.uid, m.target.addr, m.outcome);
			}
		}
		println!(
			"round {round}: {} miners, {} windows x {} tokens ({bytes} bytes) in {:.3} s\n{}",
			miners.len(),
			windows.len(),
			result.steps,
			result.elapsed.as_secs_f64(),
			table(&rows)
		);
		times.push(result.elapsed.as_secs_f64());
	}
	let mean = times.iter().sum::<f64>() / times.len().max(1) as f64;
	println!("mean round time {mean:.3} s over {} rounds", times.len());
	for (i, (bits, bytes)) in totals.iter().enumerate() {
		println!("miner {i}: {:.4} bits per byte over {bytes} bytes", bits / (*bytes).max(1) as f64);
	}
	Ok(())
}
