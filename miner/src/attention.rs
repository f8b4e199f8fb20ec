//! Attention of many sequences against their own KV caches, on the CPU.
//!
//! With candle ops, each sequence of a batch costs about ten small tensor operations per
//! layer, each paying thread-pool dispatch; at 32 sequences x 30 layers that overhead
//! outweighs the arithmetic. Here one call per layer runs every (sequence, kv head) pair
//! as a rayon task over plain f32 slices of the caches.

use candle_core::{Storage, StorageRef, Tensor};
use rayon::prelude::*;

/// One sequence's part of a batch: `len` new tokens at positions `past..past + len`,
/// whose keys and values are already in the caches.
pub struct SeqAttention<'a> {
	/// Tokens before the new ones.
	pub past: usize,
	/// New tokens.
	pub len: usize,
	/// `[kv_heads, capacity, head_dim]` keys.
	pub keys: &'a Tensor,
	/// `[kv_heads, capacity, head_dim]` values.
	pub values: &'a Tensor,
}

fn cpu_f32(t: &Tensor) -> candle_core::Result<(StorageRef<'_>, usize)> {
	let (storage, layout) = t.storage_and_layout();
	if !layout.is_contiguous() {
		candle_core::bail!("attention: tensor is not contiguous");
	}
	let offset = layout.start_offset();
	Ok((storage, offset))
}

fn slice_of<'a>(storage: &'a Storage, offset: usize) -> candle_core::Result<&'a [f32]> {
	match storage {
		Storage::Cpu(cpu) => Ok(&cpu.as_slice::<f32>()?[offset..]),
		_ => candle_core::bail!("attention: not a CPU tensor"),
	}
}

/// Causal softmax attention. `q` is `[heads, tokens, head_dim]` (already scaled and
/// rotated; the tokens of `seqs` in order); query head `j` reads kv head
/// `j / (heads / kv_heads)`. Returns `[tokens, heads * head_dim]`.
pub fn attend(q: &Tensor, seqs: &[SeqAttention<'_>], kv_heads: usize) -> candle_core::Result<Tensor> {
	let (heads, n, hd) = q.dims3()?;
	let groups = heads / kv_heads;
	let (q_store, q_off) = cpu_f32(q)?;
	let qs = slice_of(&q_store, q_off)?;
	let guards: Vec<_> = seqs
		.iter()
		.map(|s| Ok((cpu_f32(s.keys)?, cpu_f32(s.values)?, s.keys.dim(1)?)))
		.collect::<candle_core::Result<_>>()?;
	let caches: Vec<(&[f32], &[f32], usize)> = guards
		.iter()
		.map(|((ks, ko), (vs, vo), cap)| Ok((slice_of(ks, *ko)?, slice_of(vs, *vo)?, *cap)))
		.collect::<candle_core::Result<_>>()?;
	let mut starts = Vec::with_capacity(seqs.len());
	let mut start = 0;
	for s in seqs {
		starts.push(start);
		start += s.len;
	}
	// One task per (sequence, kv head): its query heads, all its new tokens.
	let tasks: Vec<(usize, usize)> = (0..seqs.len()).flat_map(|i| (0..kv_heads).map(move |kv| (i, kv))).collect();
	let parts: Vec<Vec<f32>> = tasks
		.par_iter()
		.map(|&(i, kv)| {
			let s = &seqs[i];
			let (keys, values, cap) = caches[i];
			let keys = &keys[kv * cap * hd..];
			let values = &values[kv * cap * hd..];
			let mut out = vec![0f32; groups * s.len * hd];
			let mut scores = vec![0f32; s.past + s.len];
			for g in 0..groups {
				let head = kv * groups + g;
				for t in 0..s.len {
					let q = &qs[(head * n + starts[i] + t) * hd..][..hd];
					let visible = s.past + t + 1;
					let mut max = f32::NEG_INFINITY;
					for (p, score) in scores[..visible].iter_mut().enumerate() {
						let k = &keys[p * hd..][..hd];
						*score = q.iter().zip(k).map(|(a, b)| a * b).sum();
						max = max.max(*score);
					}
					let mut total = 0f32;
					for score in &mut scores[..visible] {
						*score = (*score - max).exp();
						total += *score;
					}
					let o = &mut out[(g * s.len + t) * hd..][..hd];
					for (p, &w) in scores[..visible].iter().enumerate() {
						let w = w / total;
						for (acc, v) in o.iter_mut().zip(&values[p * hd..][..hd]) {
							*acc += w * v;
						}
					}
				}
			}
			out
		})
		.collect();
	// Scatter to [tokens, heads * hd].
	let mut y = vec![0f32; n * heads * hd];
	for (&(i, kv), part) in tasks.iter().zip(&parts) {
		let len = seqs[i].len;
		for g in 0..groups {
			let head = kv * groups + g;
			for t in 0..len {
				let row = starts[i] + t;
				y[(row * heads + head) * hd..][..hd].copy_from_slice(&part[(g * len + t) * hd..][..hd]);
			}
		}
	}
	drop(guards);
	drop(q_store);
	Tensor::from_vec(y, (n, heads * hd), q.device())
}
