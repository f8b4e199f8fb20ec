//! From a row of logits to the wire's top-K distribution, without sorting the vocabulary.

use std::cmp::Ordering;

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
/// rest. O(vocab) selection (`select_nth_unstable`), then a sort of the `k` kept.
///
/// Non-finite logits (a broken model) are treated as impossible tokens; a row with no
/// finite logit yields an empty list and tail mass 1 (the honest "I don't know").
pub fn top_k(logits: &[f32], k: usize) -> TopK {
	let max = logits.iter().copied().filter(|x| x.is_finite()).fold(f32::NEG_INFINITY, f32::max);
	if !max.is_finite() {
		return TopK { token_ids: Vec::new(), logprobs: Vec::new(), tail_mass: 1.0 };
	}
	let weight = |x: f32| if x.is_finite() { f64::from(x - max).exp() } else { 0.0 };
	let total: f64 = logits.iter().map(|&x| weight(x)).sum();
	let log_total = total.ln();

	let key = |i: u32| {
		let x = logits[i as usize];
		if x.is_finite() {
			x
		} else {
			f32::NEG_INFINITY
		}
	};
	let desc = |a: &u32, b: &u32| key(*b).partial_cmp(&key(*a)).unwrap_or(Ordering::Equal).then(a.cmp(b));
	let mut ids: Vec<u32> = (0..logits.len() as u32).collect();
	let k = k.min(ids.len());
	if k == 0 {
		return TopK { token_ids: Vec::new(), logprobs: Vec::new(), tail_mass: 1.0 };
	}
	if k < ids.len() {
		ids.select_nth_unstable_by(k - 1, desc);
		ids.truncate(k);
	}
	ids.sort_unstable_by(desc);
	// Impossible tokens are not worth listing.
	ids.retain(|&i| logits[i as usize].is_finite());

	let listed: f64 = ids.iter().map(|&i| weight(logits[i as usize])).sum();
	let logprobs = ids.iter().map(|&i| (f64::from(logits[i as usize] - max) - log_total).min(0.0) as f32).collect();
	let tail_mass = ((total - listed) / total).clamp(0.0, 1.0) as f32;
	TopK { token_ids: ids, logprobs, tail_mass }
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
	fn large_vocab_matches_a_full_sort() {
		let logits: Vec<f32> = (0..49_152u32).map(|i| ((i.wrapping_mul(2_654_435_761) >> 7) % 10_000) as f32 / 997.0).collect();
		let t = top_k(&logits, 32);
		let mut all: Vec<u32> = (0..logits.len() as u32).collect();
		all.sort_by(|a, b| logits[*b as usize].partial_cmp(&logits[*a as usize]).unwrap().then(a.cmp(b)));
		assert_eq!(t.token_ids, all[..32].to_vec());
		assert!(mass(&t) <= 1.0 + 1e-4);
	}
}
