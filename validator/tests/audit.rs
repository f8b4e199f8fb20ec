//! Audits against real miners serving over gRPC: an honest miner (the default model)
//! passes every audit over many samples, on the same kernels, against an f32 run of the
//! same weights and against candle's kernels (the calibration of the tolerance, printed);
//! a miner serving another
//! model than the one it announces fails; tampered `FetchModel` bytes are refused.

mod common;

use candle_core::Device;
use common::RealMiner;
use subxt_signer::sr25519::{dev, Keypair};
use tessera_miner::{LoadedModel, WeightFormat};
use tessera_proto::{receipt::Evidence, Hotkey};
use tessera_validator::{
	audit::{AuditError, Auditor, ModelCache, PositionCheck, Tolerance},
	corpus::{draw_windows, fetch_default_corpus, Corpus, Retired, WindowSpec},
	run_round, MinerTarget, Outcome, RoundConfig, SubnetTokenizer,
};

fn key(i: u32) -> Keypair {
	tessera_client::keys::from_uri(&format!("//AuditMiner{i}")).unwrap()
}

fn target(miner: &RealMiner) -> MinerTarget {
	MinerTarget { uid: 1, hotkey: miner.hotkey, addr: miner.addr, commit_block: 1, model_hash: None, tls: false }
}

/// Signed answers of `miner` at `samples` secret positions per round over `rounds` rounds
/// of real text (the default corpus).
async fn collect(miner: &RealMiner, tok: &SubnetTokenizer, rounds: usize, samples: usize) -> Vec<Evidence> {
	let mut corpus = Corpus::load(&fetch_default_corpus().expect("default corpus")).unwrap();
	corpus.sanitize(tok);
	let spec = WindowSpec { docs: 8, prefix: 48, scored: 24 };
	let mut cfg = RoundConfig::new(tok.hash(), tok.vocab_size());
	cfg.audit_samples = samples;
	let mut retired = Retired::new();
	let mut out = Vec::new();
	for _ in 0..rounds {
		let windows = draw_windows(&corpus, &retired, tok, &spec, &mut rand::thread_rng()).unwrap();
		for w in &windows {
			retired.retire(w.doc_hash, w.start, w.end);
		}
		let result = run_round(&[target(miner)], &windows, &dev::alice(), &cfg).await;
		println!("round of {} windows x {} tokens: {:.2} s", windows.len(), result.steps, result.elapsed.as_secs_f64());
		assert_eq!(result.miners[0].outcome, Outcome::Completed);
		assert_eq!(result.miners[0].evidence.len(), samples);
		out.extend(result.miners[0].evidence.iter().cloned());
	}
	out
}

fn summary(name: &str, checks: &[PositionCheck]) {
	let mut means: Vec<f32> = checks.iter().map(|c| c.mean_abs).collect();
	means.sort_by(f32::total_cmp);
	let worst = |f: fn(&PositionCheck) -> f32| checks.iter().map(f).fold(0f32, f32::max);
	let mut moved: Vec<f32> = checks.iter().map(|c| c.moved).collect();
	moved.sort_by(f32::total_cmp);
	println!(
		"{name}: {} positions, per-position mean |dlogprob| median {:.4} p90 {:.4} max {:.4}; worst token {:.4} \
		 (scaled by its gap to the best {:.4}); worst tail {:.4}; moved median {:.4} worst {:.4}; worst rank gap {:.4}",
		checks.len(),
		means[means.len() / 2],
		means[means.len() * 9 / 10],
		means[means.len() - 1],
		worst(|c| c.max_abs),
		worst(|c| c.scaled_abs),
		worst(|c| c.tail_abs),
		moved[moved.len() / 2],
		worst(|c| c.moved),
		worst(|c| c.rank_gap),
	);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn honest_miners_pass_cheaters_fail_and_tampered_models_are_refused() {
	let (tok, ct) = common::tokenizer();
	let default = common::default_model();
	let model_hash = tessera_proto::model::model_hash(&std::fs::read(&default).unwrap());
	let validator = dev::alice();
	let cache_dir = tempfile::tempdir().unwrap();
	let cache = ModelCache::new(cache_dir.path().to_path_buf(), 1 << 30);

	// Honest: 2 rounds x 16 positions = 32 samples, audited with the model fetched from
	// the miner itself (hash-checked), on the same kernels and as f32 weights.
	let honest = RealMiner::start(&default, &key(0), Hotkey::of(&validator)).await;
	let evidence = collect(&honest, &tok, 2, 16).await;
	assert_eq!(evidence.len(), 32);
	let same = Auditor::new(cache.clone(), Device::Cpu, WeightFormat::Auto, Tolerance::default());
	let report = same.audit(&target(&honest), &validator, &model_hash, &evidence).await.expect("audit runs");
	summary("same kernels (quantized)", &report.checks);
	println!(
		"audit compute for {} positions: {:.2} s ({:.3} s per position, batched)",
		evidence.len(),
		report.compute.as_secs_f64(),
		report.compute.as_secs_f64() / evidence.len() as f64
	);
	assert!(report.unverified.is_empty());
	assert!(report.passed, "false positive on the same kernels: {:?}", report.checks);
	assert!(cache.get(&model_hash).is_some(), "the fetched model is cached");
	// Every single position passes on its own too: no false positives anywhere.
	for (e, c) in evidence.iter().zip(&report.checks) {
		assert!(tessera_validator::audit::within(&[*c], &same.tolerance()), "position {} failed: {c:?}", e.context.len());
	}
	let f32_run = Auditor::new(cache.clone(), Device::Cpu, WeightFormat::F32, Tolerance::default());
	let report = f32_run.audit(&target(&honest), &validator, &model_hash, &evidence).await.expect("audit runs");
	summary("quantized miner vs f32 auditor", &report.checks);
	assert!(report.passed, "false positive against f32: {:?}", report.checks);
	// Another engine: candle's own quantized matmul (slow on the CPU: 8 positions).
	let candle = Auditor::new(cache.clone(), Device::Cpu, WeightFormat::Native, Tolerance::default());
	let report = candle.audit(&target(&honest), &validator, &model_hash, &evidence[..8]).await.expect("audit runs");
	summary("our kernels vs candle's kernels", &report.checks);
	assert!(report.passed, "false positive against candle's kernels: {:?}", report.checks);
	honest.stop().await;

	// A cheater: announces (and serves the file of) the default model but answers with a
	// weak random model.
	let dir = tempfile::tempdir().unwrap();
	let weak = common::weak_model(dir.path(), &ct);
	let mut cheat = LoadedModel::load(&default, &Device::Cpu).unwrap();
	cheat.llama = tessera_miner::Llama::load_gguf(&weak, &Device::Cpu, WeightFormat::Auto).unwrap();
	let cheater = RealMiner::start_loaded(cheat, &key(1), &[Hotkey::of(&validator)]).await;
	let evidence = collect(&cheater, &tok, 1, 8).await;
	let report = same.audit(&target(&cheater), &validator, &model_hash, &evidence).await.expect("audit runs");
	summary("cheater (random model) vs committed", &report.checks);
	assert!(!report.passed, "the cheater passed: {:?}", report.checks);
	let worst = report.worst.expect("a failed audit names its evidence");
	worst.verify().expect("the evidence holds on its own");
	assert_eq!(worst.miner, cheater.hotkey.0);
	assert_eq!(worst.model_hash, model_hash);
	cheater.stop().await;

	// Tampered bytes: the miner announces the committed hash but one byte differs.
	let mut tampered = LoadedModel::load(&default, &Device::Cpu).unwrap();
	let mut bytes = tampered.bytes.to_vec();
	let mid = bytes.len() / 2;
	bytes[mid] ^= 1;
	tampered.bytes = bytes.into();
	let miner = RealMiner::start_loaded(tampered, &key(2), &[Hotkey::of(&validator)]).await;
	let empty = ModelCache::new(tempfile::tempdir().unwrap().keep(), 1 << 30);
	let fresh = Auditor::new(empty.clone(), Device::Cpu, WeightFormat::Auto, Tolerance::default());
	let err = fresh.audit(&target(&miner), &validator, &model_hash, &evidence).await.expect_err("tampered bytes");
	assert!(matches!(err, AuditError::Tampered(_)), "{err}");
	assert!(empty.get(&model_hash).is_none(), "nothing tampered is kept");
	// Asking for another hash than the miner serves fails the same way.
	let err = fresh.audit(&target(&miner), &validator, &[7; 32], &evidence).await.expect_err("not the committed model");
	assert!(matches!(err, AuditError::Fetch { .. } | AuditError::Tampered(_)), "{err}");
	miner.stop().await;
}
