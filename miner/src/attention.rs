//! Attention of many sequences against their own KV caches, on the CPU.
//!
//! One call per layer runs every (sequence, kv head) pair as a rayon task over plain f32
//! slices of the caches. The dot products keep eight partial sums (one vector register),
//! so the loops vectorize; on AVX2 machines the same code is compiled a second time with
//! AVX2 enabled and picked at run time. Both versions add in the same order, so they give
//! the same bits.

use rayon::prelude::*;

use crate::kernels::has_avx2;

/// One sequence's part of a batch: `len` new tokens at positions `past..past + len`,
/// whose keys and values are already in the caches.
pub struct SeqAttention<'a> {
	/// Tokens before the new ones.
	pub past: usize,
	/// New tokens.
	pub len: usize,
	/// `[kv_heads, capacity, head_dim]` keys.
	pub keys: &'a [f32],
	/// `[kv_heads, capacity, head_dim]` values.
	pub values: &'a [f32],
	/// Positions each kv head has room for in `keys` and `values`.
	pub capacity: usize,
}

/// Shapes of one attention call.
#[derive(Debug, Clone, Copy)]
pub struct Heads {
	/// Query heads.
	pub heads: usize,
	/// Key/value heads; query head `j` reads kv head `j / (heads / kv_heads)`.
	pub kv_heads: usize,
	/// Values per head.
	pub head_dim: usize,
}

#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
	let mut acc = [0f32; 8];
	let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
	let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
	for (x, y) in ca.zip(cb) {
		for l in 0..8 {
			acc[l] += x[l] * y[l];
		}
	}
	((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}

/// Causal softmax attention of one (sequence, kv head): its query heads, all its new
/// tokens. `out` is `[groups, len, head_dim]`.
#[inline(always)]
fn attend_group(q: &[f32], start: usize, s: &SeqAttention<'_>, kv: usize, shape: Heads, out: &mut [f32]) {
	let Heads { heads, kv_heads, head_dim: hd } = shape;
	let groups = heads / kv_heads;
	let keys = &s.keys[kv * s.capacity * hd..];
	let values = &s.values[kv * s.capacity * hd..];
	let mut scores = vec![0f32; s.past + s.len];
	for g in 0..groups {
		let head = kv * groups + g;
		for t in 0..s.len {
			let q = &q[((start + t) * heads + head) * hd..][..hd];
			let visible = s.past + t + 1;
			let mut max = f32::NEG_INFINITY;
			for (p, score) in scores[..visible].iter_mut().enumerate() {
				*score = dot(q, &keys[p * hd..][..hd]);
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
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn attend_group_avx2(q: &[f32], start: usize, s: &SeqAttention<'_>, kv: usize, shape: Heads, out: &mut [f32]) {
	attend_group(q, start, s, kv, shape, out)
}

/// Causal softmax attention. `q` is `[tokens, heads, head_dim]` (already scaled and
/// rotated; the tokens of `seqs` in order). Returns `[tokens, heads * head_dim]`.
///
/// # Panics
/// If `q` or a cache is shorter than the shapes say (a caller bug).
pub fn attend(q: &[f32], seqs: &[SeqAttention<'_>], shape: Heads) -> Vec<f32> {
	let Heads { heads, kv_heads, head_dim: hd } = shape;
	let groups = heads / kv_heads.max(1);
	let mut starts = Vec::with_capacity(seqs.len());
	let mut n = 0;
	for s in seqs {
		starts.push(n);
		n += s.len;
	}
	assert!(q.len() >= n * heads * hd, "attend: q holds fewer than {n} tokens");
	let avx2 = has_avx2();
	let tasks: Vec<(usize, usize)> = (0..seqs.len()).flat_map(|i| (0..kv_heads).map(move |kv| (i, kv))).collect();
	let parts: Vec<Vec<f32>> = tasks
		.par_iter()
		.map(|&(i, kv)| {
			let s = &seqs[i];
			let mut out = vec![0f32; groups * s.len * hd];
			#[cfg(target_arch = "x86_64")]
			if avx2 {
				// SAFETY: AVX2 and FMA were detected at run time.
				unsafe { attend_group_avx2(q, starts[i], s, kv, shape, &mut out) };
				return out;
			}
			let _ = avx2;
			attend_group(q, starts[i], s, kv, shape, &mut out);
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
	y
}

#[cfg(test)]
mod tests {
	use super::*;

	fn sample(n: usize, seed: u32) -> Vec<f32> {
		(0..n).map(|i| (((i as u32).wrapping_mul(2_654_435_761) ^ seed) % 2001) as f32 / 1000.0 - 1.0).collect()
	}

	/// Textbook attention in f64 for one sequence: `[len, heads * hd]`.
	fn reference(q: &[f32], keys: &[f32], values: &[f32], cap: usize, past: usize, len: usize, shape: Heads) -> Vec<f64> {
		let Heads { heads, kv_heads, head_dim: hd } = shape;
		let mut y = vec![0f64; len * heads * hd];
		for t in 0..len {
			for head in 0..heads {
				let kv = head / (heads / kv_heads);
				let q = &q[(t * heads + head) * hd..][..hd];
				let scores: Vec<f64> = (0..past + t + 1)
					.map(|p| q.iter().zip(&keys[(kv * cap + p) * hd..][..hd]).map(|(a, b)| f64::from(*a) * f64::from(*b)).sum())
					.collect();
				let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
				let w: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
				let total: f64 = w.iter().sum();
				for (p, w) in w.iter().enumerate() {
					for d in 0..hd {
						y[(t * heads + head) * hd + d] += w / total * f64::from(values[(kv * cap + p) * hd + d]);
					}
				}
			}
		}
		y
	}

	#[test]
	fn matches_textbook_attention_and_both_paths_agree() {
		// Odd head size (not a multiple of 8) and grouped heads.
		for hd in [64, 13] {
			let shape = Heads { heads: 6, kv_heads: 2, head_dim: hd };
			let (cap, past, len) = (16, 5, 3);
			let keys = sample(2 * cap * hd, 1);
			let values = sample(2 * cap * hd, 2);
			let q = sample(len * 6 * hd, 3);
			let seq = SeqAttention { past, len, keys: &keys, values: &values, capacity: cap };
			let ours = attend(&q, &[seq], shape);
			let want = reference(&q, &keys, &values, cap, past, len, shape);
			for (a, b) in ours.iter().zip(&want) {
				assert!((f64::from(*a) - b).abs() < 1e-5, "{a} vs {b}");
			}
			let mut portable = vec![0f32; 3 * len * hd];
			let seq = SeqAttention { past, len, keys: &keys, values: &values, capacity: cap };
			attend_group(&q, 0, &seq, 1, shape, &mut portable);
			if has_avx2() {
				let mut fast = vec![0f32; 3 * len * hd];
				// SAFETY: AVX2 detected.
				unsafe { attend_group_avx2(&q, 0, &seq, 1, shape, &mut fast) };
				assert_eq!(fast, portable, "AVX2 and portable attention differ");
			}
		}
	}
}
