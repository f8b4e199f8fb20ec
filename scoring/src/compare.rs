//! Paired comparison of the miners of one round, scored on the same tokens.
//!
//! For each pair (i, j) the per-token differences d_t = bits_i - bits_j give a mean and
//! a standard error; i beats j when mean(d) < -(margin + z * se), i.e. when i is better by
//! more than the margin with significance. Otherwise the pair ties and the tie goes to
//! the earlier model commitment (lower block); equal blocks split it. So a copy of a
//! model, with or without noise added, does not beat its original. A miner's round
//! score is its Copeland win rate: points / (miners - 1), in [0, 1].
//!
//! The test is on bits per token; all miners share the tokenizer and the tokens, so it
//! ranks them as bits per byte would (BPB differences are these times tokens / bytes).

use ndarray::Array2;
use thiserror::Error;

use crate::bpb::BpbError;

/// Significance settings of [`compare`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CompareConfig {
	/// Standard errors the mean difference must clear (default 2.0).
	pub z: f64,
	/// Bits per token the mean difference must clear besides (default 0.001).
	pub margin_bits: f64,
}

impl Default for CompareConfig {
	fn default() -> Self {
		Self { z: 2.0, margin_bits: 0.001 }
	}
}

/// Why a comparison could not be made.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum CompareError {
	/// An input's length does not match the bits matrix.
	#[error("{what}: {got} entries, expected {expected}")]
	Shape {
		/// Which input.
		what: &'static str,
		/// Length the bits matrix implies.
		expected: usize,
		/// Length given.
		got: usize,
	},
	/// A per-token score is NaN, infinite or negative.
	#[error("miner {miner}, token {token}: bits {bits} is not a finite non-negative number")]
	BadBits {
		/// Row of the score.
		miner: usize,
		/// Column of the score.
		token: usize,
		/// The score.
		bits: f64,
	},
	/// `z` or `margin_bits` is negative or not finite.
	#[error("compare config: z and margin_bits must be finite and non-negative")]
	BadConfig,
	/// The tokens hold no bytes (an empty round).
	#[error(transparent)]
	Bpb(#[from] BpbError),
}

/// The outcome of [`compare`]. Matrices are miners x miners, in the input's row order.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
	/// `points[[i, j]]`: what i earns against j: 1 win, 0.5 genuine tie, 0 loss (0 on the diagonal).
	pub points: Array2<f64>,
	/// `mean_diff[[i, j]]`: mean over tokens of bits_i - bits_j (negative: i is better).
	pub mean_diff: Array2<f64>,
	/// `std_err[[i, j]]`: standard error of that mean (infinite with fewer than 2 tokens).
	pub std_err: Array2<f64>,
	/// Each miner's bits per byte over the round.
	pub bpb: Vec<f64>,
	/// Each miner's round score, points / (miners - 1), in [0, 1]; 1 for a lone miner.
	pub scores: Vec<f64>,
}

/// Compares miners on one round. `bits` is miners x tokens (every miner scored on the
/// same tokens, missed answers at the floor), `bytes` the UTF-8 length of each token,
/// `commit_blocks` the block of each miner's model commitment.
pub fn compare(
	bits: &Array2<f64>,
	bytes: &[u32],
	commit_blocks: &[u64],
	cfg: &CompareConfig,
) -> Result<Comparison, CompareError> {
	let (m, n) = bits.dim();
	if bytes.len() != n {
		return Err(CompareError::Shape { what: "bytes", expected: n, got: bytes.len() });
	}
	if commit_blocks.len() != m {
		return Err(CompareError::Shape { what: "commit_blocks", expected: m, got: commit_blocks.len() });
	}
	if !(cfg.z.is_finite() && cfg.margin_bits.is_finite() && cfg.z >= 0.0 && cfg.margin_bits >= 0.0) {
		return Err(CompareError::BadConfig);
	}
	if let Some(((miner, token), &b)) = bits.indexed_iter().find(|(_, b)| !(b.is_finite() && **b >= 0.0)) {
		return Err(CompareError::BadBits { miner, token, bits: b });
	}
	let total_bytes: u64 = bytes.iter().map(|&b| u64::from(b)).sum();
	if total_bytes == 0 {
		return Err(BpbError::NoBytes.into());
	}
	let bpb = bits.rows().into_iter().map(|r| r.sum() / total_bytes as f64).collect();

	let mut points = Array2::zeros((m, m));
	let mut mean_diff = Array2::zeros((m, m));
	let mut std_err = Array2::zeros((m, m));
	for i in 0..m {
		for j in i + 1..m {
			let d = &bits.row(i) - &bits.row(j);
			let mean = d.sum() / n as f64;
			let se = if n < 2 {
				f64::INFINITY
			} else {
				let var = d.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
				(var / n as f64).sqrt()
			};
			let bar = cfg.margin_bits + cfg.z * se;
			let p = if mean < -bar {
				1.0
			} else if mean > bar {
				0.0
			} else {
				match commit_blocks[i].cmp(&commit_blocks[j]) {
					std::cmp::Ordering::Less => 1.0,
					std::cmp::Ordering::Equal => 0.5,
					std::cmp::Ordering::Greater => 0.0,
				}
			};
			points[[i, j]] = p;
			points[[j, i]] = 1.0 - p;
			mean_diff[[i, j]] = mean;
			mean_diff[[j, i]] = -mean;
			std_err[[i, j]] = se;
			std_err[[j, i]] = se;
		}
	}
	let scores = if m == 1 { vec![1.0] } else { points.rows().into_iter().map(|r| r.sum() / (m - 1) as f64).collect() };
	Ok(Comparison { points, mean_diff, std_err, bpb, scores })
}

#[cfg(test)]
mod tests {
	use super::*;
	use ndarray::{array, Array1};
	use rand::{rngs::StdRng, Rng, SeedableRng};

	/// `rows` miners x `n` tokens: a shared base of 0..12 bits plus each row's offset and
	/// zero-mean noise of the given amplitude.
	fn bits(offsets: &[f64], noise: f64, n: usize) -> Array2<f64> {
		let mut rng = StdRng::seed_from_u64(7);
		let base: Array1<f64> = (0..n).map(|_| rng.gen_range(0.0..12.0)).collect();
		Array2::from_shape_fn((offsets.len(), n), |(i, t)| {
			(base[t] + offsets[i] + noise * rng.gen_range(-1.0..1.0)).clamp(0.0, 30.0)
		})
	}

	fn run(b: &Array2<f64>, blocks: &[u64]) -> Comparison {
		compare(b, &vec![4; b.ncols()], blocks, &CompareConfig::default()).unwrap()
	}

	#[test]
	fn better_miner_wins_whatever_its_commitment() {
		let c = run(&bits(&[0.0, 0.3, 1.0], 0.5, 2000), &[30, 20, 10]);
		assert_eq!(c.scores, vec![1.0, 0.5, 0.0]);
		assert_eq!(c.points, array![[0.0, 1.0, 1.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0]]);
		assert!(c.mean_diff[[0, 2]] < -0.9 && c.bpb[0] < c.bpb[1] && c.bpb[1] < c.bpb[2]);
	}

	#[test]
	fn identical_copy_never_beats_original() {
		let b = bits(&[0.0, 0.0], 0.0, 500);
		assert_eq!(run(&b, &[100, 50]).scores, vec![0.0, 1.0]);
		assert_eq!(run(&b, &[50, 100]).scores, vec![1.0, 0.0]);
		// Same block: a genuine tie.
		assert_eq!(run(&b, &[50, 50]).scores, vec![0.5, 0.5]);
	}

	#[test]
	fn differences_below_the_margin_or_noise_tie() {
		// A constant edge under the margin.
		let c = run(&bits(&[0.0, 0.0005], 0.0, 500), &[9, 5]);
		assert_eq!(c.scores, vec![0.0, 1.0]);
		// A copy with zero-mean noise added: not significant.
		let mut b = bits(&[0.0, 0.0], 0.0, 500);
		let mut rng = StdRng::seed_from_u64(1);
		b.row_mut(0).mapv_inplace(|x| (x + rng.gen_range(-0.5..0.5)).max(0.0));
		assert_eq!(run(&b, &[9, 5]).scores, vec![0.0, 1.0]);
	}

	#[test]
	fn edge_cases() {
		let one = bits(&[1.0], 0.0, 3);
		assert_eq!(run(&one, &[1]).scores, vec![1.0]);
		// One token: no standard error, so a tie.
		assert_eq!(run(&array![[1.0], [5.0]], &[2, 1]).scores, vec![0.0, 1.0]);
		let cfg = CompareConfig::default();
		let b = bits(&[0.0, 1.0], 0.0, 3);
		assert!(matches!(compare(&b, &[1, 1], &[1, 2], &cfg), Err(CompareError::Shape { what: "bytes", .. })));
		assert!(matches!(compare(&b, &[1; 3], &[1], &cfg), Err(CompareError::Shape { .. })));
		assert_eq!(compare(&b, &[0; 3], &[1, 2], &cfg), Err(CompareError::Bpb(BpbError::NoBytes)));
		let empty = Array2::zeros((2, 0));
		assert_eq!(compare(&empty, &[], &[1, 2], &cfg), Err(CompareError::Bpb(BpbError::NoBytes)));
		let bad = CompareConfig { z: f64::NAN, ..cfg };
		assert_eq!(compare(&b, &[1; 3], &[1, 2], &bad), Err(CompareError::BadConfig));
		let mut nan = b.clone();
		nan[[1, 2]] = f64::NAN;
		assert!(matches!(compare(&nan, &[1; 3], &[1, 2], &cfg), Err(CompareError::BadBits { miner: 1, token: 2, .. })));
		let none = compare(&Array2::zeros((0, 2)), &[1, 1], &[], &cfg).unwrap();
		assert!(none.scores.is_empty());
	}
}
