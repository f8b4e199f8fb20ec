//! From a row of logits to the wire's top-K distribution, without sorting the vocabulary.

/// A next-token distribution as the wire carries it (see `TokenDistribution`).
#[derive(Debug, Clone, PartialEq)]
pub struct TopK {
	/// Listed token ids, most likely first.
	pub token_ids: Vec<u32>,
	/// Natural-log probability of each listed token.
	pub logprobs: Vec<f32>,
	/// Probability of every token not listed.
	pub tail_mass: f32,
}

/// Log-softmax of `logits` restricted to its `k` most likely tokens, plus the mass of the
/// rest. One pass keeps the `k` best seen so far (a new token rarely enters it), one
/// vectorized pass sums the probabilities; only the `k` kept are sorted. Ties go to the
/// lower token id.
///
/// Non-finite logits (a broken model) are treated as impossible tokens; a row with no
/// finite logit yields an empty list and tail mass 1 (the honest "I don't know").
pub fn top_k(logits: &[f32], k: usize) -> TopK {
	let max = logits.iter().copied().filter(|x| x.is_finite()).fold(f32::NEG_INFINITY, f32::max);
	if !max.is_finite() || k == 0 {
		return TopK { token_ids: Vec::new(), logprobs: Vec::new(), tail_mass: 1.0 };
	}
	let total = sum_exp(logits, max);
	let log_total = total.ln();
	let ids = best_ids(logits, k);
	let weight = |x: f32| f64::from(x - max).exp();
	let listed: f64 = ids.iter().map(|&i| weight(logits[i as usize])).sum();
	let logprobs = ids.iter().map(|&i| (f64::from(logits[i as usize] - max) - log_total).min(0.0) as f32).collect();
	let tail_mass = ((total - listed) / total).clamp(0.0, 1.0) as f32;
	TopK { token_ids: ids, logprobs, tail_mass }
}

/// Whether token `a` ranks before token `b` (higher logit, then lower id).
fn before(logits: &[f32], a: u32, b: u32) -> bool {
	let (x, y) = (logits[a as usize], logits[b as usize]);
	x > y || (x == y && a < b)
}

/// The ids of the `k` best finite logits, best first.
fn best_ids(logits: &[f32], k: usize) -> Vec<u32> {
	let mut kept: Vec<u32> = Vec::with_capacity(k + 1);
	// Index in `kept` of its worst member, and that member's logit.
	let mut worst = (0usize, f32::NEG_INFINITY);
	let find_worst = |kept: &[u32]| {
		let mut w = 0;
		for (i, &id) in kept.iter().enumerate() {
			if before(logits, kept[w], id) {
				w = i;
			}
		}
		(w, logits[kept[w] as usize])
	};
	for (id, &x) in logits.iter().enumerate() {
		if !x.is_finite() {
			continue;
		}
		if kept.len() < k {
			kept.push(id as u32);
			if kept.len() == k {
				worst = find_worst(&kept);
			}
		} else if x > worst.1 {
			// Ids rise during the scan, so an equal logit never displaces a kept one.
			kept[worst.0] = id as u32;
			worst = find_worst(&kept);
		}
	}
	kept.sort_unstable_by(|&a, &b| if before(logits, a, b) { std::cmp::Ordering::Less } else { std::cmp::Ordering::Greater });
	kept
}

/// `exp(x)` for `x <= 0` in f32 (Cody-Waite reduction, degree-7 Taylor polynomial: within 3 ulp of
/// `f32::exp`), written without branches so the loop around it vectorizes.
#[inline(always)]
fn exp_nonpositive(x: f32) -> f32 {
	// In [-87, 0] whatever `x` is (NaN and infinities included), so `n` below is finite.
	let x = x.max(-87.0).min(0.0);
	let n = (x * std::f32::consts::LOG2_E + 0.5).floor();
	// ln 2 in two parts; the first has few enough bits that `n * LN2_HI` is exact.
	let r = x - n * 0.693_145_75;
	let r = r - n * 1.428_606_8e-6;
	let p = 1.0 / 5040.0;
	let p = p * r + 1.0 / 720.0;
	let p = p * r + 1.0 / 120.0;
	let p = p * r + 1.0 / 24.0;
	let p = p * r + 1.0 / 6.0;
	let p = p * r + 0.5;
	let p = p * r + 1.0;
	let p = p * r + 1.0;
	// SAFETY: `n` is an integer in [-126, 0] (x was clamped above).
	let n = unsafe { n.to_int_unchecked::<i32>() };
	p * f32::from_bits(((n + 127) as u32) << 23)
}

/// `sum(exp(x - max))` over the finite logits: eight f32 lanes over runs of 256 logits,
/// each run's lanes added into an f64 total.
#[inline(always)]
fn sum_exp_portable(logits: &[f32], max: f32) -> f64 {
	let mut total = 0f64;
	let runs = logits.chunks_exact(256);
	for &x in runs.remainder() {
		if x.is_finite() {
			total += f64::from(exp_nonpositive(x - max));
		}
	}
	for run in runs {
		let mut acc = [0f32; 8];
		for c in run.chunks_exact(8) {
			for l in 0..8 {
				let e = exp_nonpositive(c[l] - max);
				acc[l] += if c[l].is_finite() { e } else { 0.0 };
			}
		}
		total += acc.iter().map(|&a| f64::from(a)).sum::<f64>();
	}
	total
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn sum_exp_avx2(logits: &[f32], max: f32) -> f64 {
	sum_exp_portable(logits, max)
}

fn sum_exp(logits: &[f32], max: f32) -> f64 {
	#[cfg(target_arch = "x86_64")]
	if crate::kernels::has_avx2() {
		// SAFETY: AVX2 and FMA were detected at run time.
		return unsafe { sum_exp_avx2(logits, max) };
	}
	sum_exp_portable(logits, max)
}

#[cfg(test)]
mod tests {
	use super::*;

	fn mass(t: &TopK) -> f64 {
		t.logprobs.iter().map(|&l| f64::from(l).exp()).sum::<f64>() + f64::from(t.tail_mass)
	}

	#[test]
	fn picks_the_largest_sorted_and_conserves_mass() {
		let logits = [0.5f32, 3.0, -1.0, 2.0, 2.0, 7.0, 0.0];
		let t = top_k(&logits, 3);
		assert_eq!(t.token_ids, vec![5, 1, 3]);
		assert!(t.logprobs.windows(2).all(|w| w[0] >= w[1]));
		assert!((mass(&t) - 1.0).abs() < 1e-6);
		// Exact log-softmax values.
		let z: f64 = logits.iter().map(|&x| f64::from(x).exp()).sum();
		assert!((f64::from(t.logprobs[0]) - (7.0 - z.ln())).abs() < 1e-5);
	}

	#[test]
	fn k_at_least_vocab_lists_everything_with_no_tail() {
		let logits = [1.0f32, 2.0, 3.0];
		let t = top_k(&logits, 10);
		assert_eq!(t.token_ids, vec![2, 1, 0]);
		assert!(t.tail_mass < 1e-6);
	}

	#[test]
	fn non_finite_logits_are_never_listed() {
		let logits = [f32::NAN, 1.0, f32::INFINITY, f32::NEG_INFINITY, 0.0];
		let t = top_k(&logits, 5);
		assert_eq!(t.token_ids, vec![1, 4]);
		assert!((mass(&t) - 1.0).abs() < 1e-6);
		let t = top_k(&[f32::NAN, f32::NAN], 2);
		assert!(t.token_ids.is_empty());
		assert_eq!(t.tail_mass, 1.0);
	}

	#[test]
	fn fast_exp_is_within_three_ulp_and_both_paths_agree() {
		let mut x = 0f32;
		while x > -90.0 {
			let (ours, std) = (exp_nonpositive(x), x.exp());
			let ulp = (std.to_bits() as i64 - ours.to_bits() as i64).abs();
			assert!(ulp <= 3 || std < 1e-37, "exp({x}): {ours} vs {std} ({ulp} ulp)");
			x -= 0.003_7;
		}
		let logits: Vec<f32> = (0..1001u32).map(|i| ((i.wrapping_mul(2_654_435_761) >> 9) % 5000) as f32 / 313.0).collect();
		let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
		let exact: f64 = logits.iter().map(|&v| f64::from(v - max).exp()).sum();
		let ours = sum_exp(&logits, max);
		assert!((ours - exact).abs() <= 1e-6 * exact, "{ours} vs {exact}");
		assert_eq!(ours.to_bits(), sum_exp_portable(&logits, max).to_bits(), "SIMD and portable sums differ");
	}

	#[test]
	fn ties_go_to_the_lower_id() {
		let t = top_k(&[1.0, 2.0, 2.0, 2.0, 0.0], 2);
		assert_eq!(t.token_ids, vec![1, 2]);
	}

	#[test]
	fn large_vocab_matches_a_full_sort() {
		let logits: Vec<f32> = (0..49_152u32).map(|i| ((i.wrapping_mul(2_654_435_761) >> 7) % 10_000) as f32 / 997.0).collect();
		let t = top_k(&logits, 32);
		let mut all: Vec<u32> = (0..logits.len() as u32).collect();
		all.sort_by(|a, b| logits[*b as usize].partial_cmp(&logits[*a as usize]).unwrap().then(a.cmp(b)));
		assert_eq!(t.token_ids, all[..32].to_vec());
		assert!(mass(&t) <= 1.0 + 1e-4);
	}
}
