//! The batched decoder against candle's single-sequence `quantized_llama`, on a tiny
//! random llama written to a temp file with the real GGUF writer and loaded with the
//! real loading code.

mod common;

use candle_core::Device;
use common::{reference_logprobs, tiny_model, tokens};
use tessera_miner::{
	gguf::{read_header, tokenizer_hash, write_random_llama, RandomLlama},
	llama::{Extend, ModelError},
	LoadedModel,
};

fn log_softmax(row: &[f32]) -> Vec<f32> {
	let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
	let lse = max + row.iter().map(|&x| (x - max).exp()).sum::<f32>().ln();
	row.iter().map(|&x| x - lse).collect()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
	a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

#[test]
fn batched_decoding_matches_single_sequence_reference() {
	let dir = tempfile::tempdir().unwrap();
	let path = tiny_model(dir.path());
	let model = LoadedModel::load(&path, &Device::Cpu).unwrap();
	let llama = &model.llama;
	let vocab = llama.config().vocab_size as u32;
	// Four documents of different prefix lengths, decoded together for 12 steps.
	let docs: Vec<Vec<u32>> = (0..4).map(|i| tokens(i + 1, 24, vocab)).collect();
	let prefixes = [1usize, 3, 5, 8];
	let mut caches: Vec<_> = docs.iter().map(|_| llama.new_cache()).collect();
	let mut got: Vec<Vec<Vec<f32>>> = vec![Vec::new(); docs.len()];
	// Step 0: all prefixes in one pass (mixed lengths).
	{
		let mut batch: Vec<Extend<'_>> = docs
			.iter()
			.zip(&prefixes)
			.zip(caches.iter_mut())
			.map(|((d, &p), cache)| Extend { tokens: &d[..p], cache })
			.collect();
		let rows = llama.forward(&mut batch).unwrap().to_vec2::<f32>().unwrap();
		for (i, r) in rows.iter().enumerate() {
			got[i].push(log_softmax(r));
		}
	}
	for step in 0..12 {
		let mut batch: Vec<Extend<'_>> = docs
			.iter()
			.zip(&prefixes)
			.zip(caches.iter_mut())
			.map(|((d, &p), cache)| Extend { tokens: &d[p + step..p + step + 1], cache })
			.collect();
		let rows = llama.forward(&mut batch).unwrap().to_vec2::<f32>().unwrap();
		for (i, r) in rows.iter().enumerate() {
			got[i].push(log_softmax(r));
		}
	}
	for (i, doc) in docs.iter().enumerate() {
		assert_eq!(caches[i].len(), prefixes[i] + 12);
		let reference = reference_logprobs(&path, &doc[..prefixes[i] + 13], prefixes[i]);
		assert_eq!(reference.len(), got[i].len());
		for (pos, (r, g)) in reference.iter().zip(&got[i]).enumerate() {
			let d = max_diff(r, g);
			assert!(d < 1e-3, "doc {i} position {pos}: max |logprob diff| {d}");
		}
	}
}

#[test]
fn a_document_answers_the_same_alone_or_in_a_batch() {
	let dir = tempfile::tempdir().unwrap();
	let path = tiny_model(dir.path());
	let model = LoadedModel::load(&path, &Device::Cpu).unwrap();
	let llama = &model.llama;
	let doc = tokens(42, 16, llama.config().vocab_size as u32);
	let others: Vec<Vec<u32>> = (0..7).map(|i| tokens(100 + i, 16, llama.config().vocab_size as u32)).collect();

	let mut alone = llama.new_cache();
	let mut alone_rows = Vec::new();
	alone_rows.push(llama.forward(&mut [Extend { tokens: &doc[..4], cache: &mut alone }]).unwrap().to_vec2::<f32>().unwrap()[0].clone());
	for t in 4..10 {
		alone_rows.push(llama.forward(&mut [Extend { tokens: &doc[t..t + 1], cache: &mut alone }]).unwrap().to_vec2::<f32>().unwrap()[0].clone());
	}

	let mut mine = llama.new_cache();
	let mut theirs: Vec<_> = others.iter().map(|_| llama.new_cache()).collect();
	// The others start first: later the document joins a batch already decoding.
	let mut b: Vec<Extend<'_>> = others.iter().zip(theirs.iter_mut()).map(|(o, c)| Extend { tokens: &o[..6], cache: c }).collect();
	llama.forward(&mut b).unwrap();
	let mut batched_rows = Vec::new();
	for (step, t) in (3..10).enumerate() {
		let mut b: Vec<Extend<'_>> =
			others.iter().zip(theirs.iter_mut()).map(|(o, c)| Extend { tokens: &o[6 + step..7 + step], cache: c }).collect();
		let mine_tokens = if step == 0 { &doc[..4] } else { &doc[t..t + 1] };
		b.insert(3, Extend { tokens: mine_tokens, cache: &mut mine });
		let rows = llama.forward(&mut b).unwrap().to_vec2::<f32>().unwrap();
		batched_rows.push(rows[3].clone());
	}
	for (i, (a, b)) in alone_rows.iter().zip(&batched_rows).enumerate() {
		let d = max_diff(&log_softmax(a), &log_softmax(b));
		assert!(d < 1e-4, "step {i}: batched differs from alone by {d}");
	}
}

#[test]
fn bad_tokens_and_context_overflow_leave_caches_untouched() {
	let dir = tempfile::tempdir().unwrap();
	let path = dir.path().join("short.gguf");
	write_random_llama(&path, &RandomLlama { context_length: 16, ..Default::default() }, None).unwrap();
	let model = LoadedModel::load(&path, &Device::Cpu).unwrap();
	let llama = &model.llama;
	let mut a = llama.new_cache();
	let mut b = llama.new_cache();
	llama.forward(&mut [Extend { tokens: &[1, 2, 3], cache: &mut a }]).unwrap();
	let err = llama
		.forward(&mut [Extend { tokens: &[4], cache: &mut a }, Extend { tokens: &[9999], cache: &mut b }])
		.err()
		.expect("out-of-vocab token refused");
	assert!(matches!(err, ModelError::TokenOutOfVocab { token: 9999, .. }), "{err}");
	assert_eq!((a.len(), b.len()), (3, 0));
	let err = llama.forward(&mut [Extend { tokens: &[1; 14], cache: &mut a }]).err().expect("context exceeded");
	assert!(matches!(err, ModelError::ContextExceeded { len: 17, max: 16 }), "{err}");
	assert_eq!(a.len(), 3);
	// Still usable afterwards.
	llama.forward(&mut [Extend { tokens: &[5], cache: &mut a }]).unwrap();
	assert_eq!(a.len(), 4);
}

#[test]
fn loading_rejects_files_that_are_not_llama_gguf() {
	let dir = tempfile::tempdir().unwrap();
	let junk = dir.path().join("junk.gguf");
	std::fs::write(&junk, b"definitely not a model").unwrap();
	let err = LoadedModel::load(&junk, &Device::Cpu).err().expect("junk refused");
	assert!(err.to_string().contains("not a GGUF file"), "{err}");
	let missing = LoadedModel::load(&dir.path().join("missing.gguf"), &Device::Cpu).err().expect("missing refused");
	assert!(matches!(missing, ModelError::Io { .. }), "{missing}");
}

#[test]
fn tokenizer_hash_ignores_weights_but_not_vocab() {
	let dir = tempfile::tempdir().unwrap();
	let (a, b, c) = (dir.path().join("a.gguf"), dir.path().join("b.gguf"), dir.path().join("c.gguf"));
	write_random_llama(&a, &RandomLlama { seed: 1, ..Default::default() }, None).unwrap();
	write_random_llama(&b, &RandomLlama { seed: 2, ..Default::default() }, None).unwrap();
	write_random_llama(&c, &RandomLlama { vocab_size: 300, ..Default::default() }, None).unwrap();
	let h = |p: &std::path::Path| tokenizer_hash(&read_header(p).unwrap()).unwrap();
	assert_eq!(h(&a), h(&b));
	assert_ne!(h(&a), h(&c));
	assert_ne!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
}
