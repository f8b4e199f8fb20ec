//! `tessera-miner-bench`: scored tokens per second and peak memory of the miner, through
//! the whole stack (signed gRPC on 127.0.0.1, the engine, the batched model), for 1, 8
//! and 32 concurrent documents.
//!
//! The workload is FACTS.md's: every document opens with a prefix of `--prompt` tokens,
//! then `--steps` tokens are revealed one at a time; each step answers a top-`--top-k`
//! distribution for every open document. Each batch size runs in a fresh child process so
//! its peak RSS (VmHWM) is its own.

use std::{process::Command, time::Instant};

use anyhow::Context;
use clap::{Parser, ValueEnum};
use tessera_miner::{
	callers::{Caller, Callers, Policy},
	engine::EngineConfig,
	llama::device_from_spec,
	metrics::Metrics,
	model_store,
	service::{serve, MinerService, ServiceLimits},
	LoadedModel, WeightFormat,
};
use tessera_proto::{
	auth::signed_stream,
	method,
	v1::{evaluate_request, evaluate_response, Document, EvaluateRequest, Open, Reveal, RevealedToken},
	Hotkey,
};

#[derive(Parser, Debug, Clone)]
#[command(name = "tessera-miner-bench", about = "Miner throughput and memory for 1, 8 and 32 concurrent documents")]
struct Args {
	/// Concurrent documents to measure, comma-separated.
	#[arg(long, value_delimiter = ',', default_values_t = vec![1usize, 8, 32])]
	batches: Vec<usize>,
	/// Prefix tokens per document.
	#[arg(long, default_value_t = 128)]
	prompt: usize,
	/// Revealed (scored) tokens per document after the prefix.
	#[arg(long, default_value_t = 128)]
	steps: usize,
	/// Entries per distribution.
	#[arg(long, default_value_t = 32)]
	top_k: u32,
	/// Device: cpu, cuda, cuda:N.
	#[arg(long, default_value = "cpu")]
	device: String,
	/// How weights are held (auto, native, f32).
	#[arg(long, value_enum, default_value_t = WeightFormat::Auto)]
	weights: WeightFormat,
	/// GGUF model (default: the default model).
	#[arg(long)]
	model: Option<std::path::PathBuf>,
	/// Documents to score, a JSON file `{"documents": [[token ids], ...]}` (as
	/// `scripts/bench-peers.sh` writes them, so llama.cpp reads the same ones); each needs
	/// `--prompt + --steps` tokens. Default: random token ids.
	#[arg(long)]
	docs: Option<std::path::PathBuf>,
	/// Print the default model's path (fetching it if needed) and exit.
	#[arg(long)]
	print_model_path: bool,
	/// Print one JSON line per batch size instead of the table.
	#[arg(long)]
	json: bool,
	/// Internal: measure one batch size in this process and print one JSON line.
	#[arg(long, hide = true)]
	child: Option<usize>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Measurement {
	engine: String,
	documents: usize,
	prefill_s: f64,
	decode_s: f64,
	scored_tokens: usize,
	/// Mean score of the answers in nats, as the validator prices them
	/// ([`tessera_scoring::bits::score_token`]).
	mean_nll: f64,
	peak_rss_mib: f64,
}

#[derive(serde::Deserialize)]
struct DocsFile {
	documents: Vec<Vec<u32>>,
}

fn load_documents(args: &Args, count: usize, vocab: u32) -> anyhow::Result<Vec<Vec<u32>>> {
	let need = args.prompt + args.steps;
	let Some(path) = &args.docs else {
		return Ok((0..count).map(|i| tokens(i as u64 + 1, need, vocab)).collect());
	};
	let file: DocsFile = serde_json::from_slice(&std::fs::read(path).with_context(|| format!("reading {}", path.display()))?)
		.with_context(|| format!("{}: expected {{\"documents\": [[token ids], ...]}}", path.display()))?;
	anyhow::ensure!(file.documents.len() >= count, "{}: {count} documents asked, it holds {}", path.display(), file.documents.len());
	let docs: Vec<Vec<u32>> = file.documents.into_iter().take(count).collect();
	if let Some((i, d)) = docs.iter().enumerate().find(|(_, d)| d.len() < need || d.iter().any(|&t| t >= vocab)) {
		anyhow::bail!("{}: document {i} has {} tokens (needs {need}) or an id not below the vocab ({vocab})", path.display(), d.len());
	}
	Ok(docs.into_iter().map(|mut d| {
		d.truncate(need);
		d
	}).collect())
}

/// Nats the validator would charge for each distribution of a step.
fn step_nats(step: &tessera_proto::v1::Step, docs: &[Vec<u32>], top_k: u32, vocab: u32) -> Vec<f64> {
	step.distributions
		.iter()
		.map(|d| {
			let truth = docs.get(d.doc_id as usize).and_then(|doc| doc.get(d.position as usize)).copied();
			let bits = truth.map_or(tessera_scoring::bits::FLOOR_BITS, |t| tessera_scoring::bits::token_bits(Some(d), t, top_k, vocab));
			bits * std::f64::consts::LN_2
		})
		.collect()
}

fn tokens(seed: u64, n: usize, vocab: u32) -> Vec<u32> {
	let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
	(0..n)
		.map(|_| {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			(x % u64::from(vocab)) as u32
		})
		.collect()
}

async fn measure(args: &Args, documents: usize) -> anyhow::Result<Measurement> {
	let path = match &args.model {
		Some(p) => p.clone(),
		None => model_store::ensure_default_model()?,
	};
	let loaded = LoadedModel::load_with(&path, &device_from_spec(&args.device)?, args.weights)?;
	let vocab = loaded.llama.config().vocab_size as u32;
	let miner = subxt_signer::sr25519::dev::bob();
	let validator = subxt_signer::sr25519::dev::alice();
	let callers = Callers::new(1, Policy::default());
	callers.replace([(Hotkey::of(&validator), Caller { uid: 0, stake: 1, validator_permit: true })].into());
	let metrics = Metrics::new();
	let limits = ServiceLimits { max_documents: 256, max_context: 4096, ..Default::default() };
	let service = MinerService::start(miner.clone(), loaded, callers, EngineConfig::default(), limits, metrics);
	let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
	let addr = listener.local_addr()?;
	let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
	let server = tokio::spawn(serve(
		listener,
		service,
		async {
			let _ = stopped.await;
		},
		std::time::Duration::from_secs(1),
	));
	let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))?.connect().await?;
	let mut client = tessera_proto::client(channel);
	let docs = load_documents(args, documents, vocab)?;
	let (tx, rx) = tokio::sync::mpsc::channel::<EvaluateRequest>(2);
	let req = signed_stream(&validator, &Hotkey::of(&miner), method::EVALUATE, tokio_stream::wrappers::ReceiverStream::new(rx));
	let mut answers = client.evaluate(req).await?.into_inner();
	let mut nats = Vec::with_capacity(documents * args.steps);
	let mut expect_step = |resp: Option<tessera_proto::v1::EvaluateResponse>| -> anyhow::Result<usize> {
		match resp.and_then(|r| r.msg) {
			Some(evaluate_response::Msg::Step(s)) => {
				nats.extend(step_nats(&s, &docs, args.top_k, vocab));
				Ok(s.distributions.len())
			}
			other => anyhow::bail!("expected a step, got {other:?}"),
		}
	};

	let started = Instant::now();
	let open = Open {
		documents: docs.iter().enumerate().map(|(i, d)| Document { doc_id: i as u32, prefix: d[..args.prompt].to_vec() }).collect(),
		top_k: args.top_k,
	};
	tx.send(EvaluateRequest { msg: Some(evaluate_request::Msg::Open(open)) }).await?;
	let mut scored = expect_step(answers.message().await?)?;
	let prefill_s = started.elapsed().as_secs_f64();
	let bar = indicatif::ProgressBar::new(args.steps as u64).with_message(format!("{documents} documents"));
	bar.set_style(indicatif::ProgressStyle::with_template("{msg:>14} [{bar:40}] {pos}/{len} steps {per_sec}").expect("static template"));
	let decode = Instant::now();
	for step in 0..args.steps.saturating_sub(1) {
		let tokens = docs
			.iter()
			.enumerate()
			.map(|(i, d)| RevealedToken { doc_id: i as u32, token_id: d[args.prompt + step] })
			.collect();
		tx.send(EvaluateRequest { msg: Some(evaluate_request::Msg::Reveal(Reveal { tokens })) }).await?;
		scored += expect_step(answers.message().await?)?;
		bar.inc(1);
	}
	let decode_s = decode.elapsed().as_secs_f64();
	bar.finish_and_clear();
	drop(tx);
	let _ = stop.send(());
	let _ = server.await;
	let mean_nll = nats.iter().sum::<f64>() / nats.len().max(1) as f64;
	Ok(Measurement {
		engine: "tessera-miner".into(),
		documents,
		prefill_s,
		decode_s,
		scored_tokens: scored,
		mean_nll,
		peak_rss_mib: tessera_miner::metrics::peak_rss_mib(),
	})
}

fn main() -> anyhow::Result<()> {
	let args = Args::parse();
	let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
	if let Some(documents) = args.child {
		let m = runtime.block_on(measure(&args, documents))?;
		println!("{}", serde_json::to_string(&m)?);
		return Ok(());
	}
	// Fetch the model once before the children run.
	if args.model.is_none() || args.print_model_path {
		let path = model_store::ensure_default_model()?;
		if args.print_model_path {
			println!("{}", path.display());
			return Ok(());
		}
	}
	let exe = std::env::current_exe()?;
	if !args.json {
		print_header(&args);
	}
	for &b in &args.batches {
		let mut cmd = Command::new(&exe);
		cmd.args(["--child", &b.to_string(), "--prompt", &args.prompt.to_string(), "--steps", &args.steps.to_string()])
			.args(["--top-k", &args.top_k.to_string(), "--device", &args.device])
			.args(["--weights", args.weights.to_possible_value().expect("no skipped variants").get_name()]);
		for (flag, path) in [("--model", &args.model), ("--docs", &args.docs)] {
			if let Some(p) = path {
				cmd.arg(flag).arg(p);
			}
		}
		let out = cmd.stderr(std::process::Stdio::inherit()).output().context("running a measurement")?;
		anyhow::ensure!(out.status.success(), "measurement for {b} documents failed ({})", out.status);
		let line = String::from_utf8_lossy(&out.stdout);
		let line = line.trim().lines().last().unwrap_or_default();
		if args.json {
			println!("{line}");
			continue;
		}
		let m: Measurement = serde_json::from_str(line)?;
		let decode_tokens = (m.documents * args.steps.saturating_sub(1)) as f64;
		println!(
			"{:>9} {:>11.2} {:>12.2} {:>14.1} {:>15.1} {:>10.3} {:>14.0}",
			m.documents,
			m.prefill_s,
			m.decode_s,
			decode_tokens / m.decode_s,
			m.scored_tokens as f64 / (m.prefill_s + m.decode_s),
			m.mean_nll,
			m.peak_rss_mib
		);
	}
	Ok(())
}

fn print_header(args: &Args) {
	println!(
		"tessera-miner-bench: {} prefix + {} scored tokens per document, top-{}, device {}, weights {:?}",
		args.prompt, args.steps, args.top_k, args.device, args.weights
	);
	println!(
		"{:>9} {:>11} {:>12} {:>14} {:>15} {:>10} {:>14}",
		"documents", "prefill s", "decode s", "scored tok/s", "all-in tok/s", "mean NLL", "peak RSS MiB"
	);
}
