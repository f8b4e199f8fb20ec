//! Per-token score: bits = -log2 p(true token), floored at [`FLOOR_BITS`].
//!
//! A miner's answer lists its `top_k` most likely tokens with their logprobs and
//! leaves the rest of the mass in `tail_mass`, which the validator spreads evenly over
//! the tokens not listed. A missing, late or malformed answer scores the floor, as does
//! a true token given probability below 2^-[`FLOOR_BITS`] (zero included). Honest
//! probabilities minimise the expected bits (the log score is strictly proper).

use tessera_proto::{v1::TokenDistribution, validate::validate_distribution};

/// The most bits one token can cost: the score of a missing or malformed answer.
pub const FLOOR_BITS: f64 = 30.0;

/// Why a token scored [`FLOOR_BITS`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FloorReason {
	/// No answer: the miner missed the deadline, erred or disconnected.
	Missing,
	/// The answer is not a distribution; holds the reason from `validate_distribution`.
	Invalid(String),
	/// A valid answer that gave the true token probability below 2^-[`FLOOR_BITS`]
	/// (zero included: not listed with no tail mass, or no unlisted token to spread it on).
	Improbable,
}

/// A per-token score and, when it is the floor, why.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
	/// Bits for this token, in [0, [`FLOOR_BITS`]].
	pub bits: f64,
	/// `Some` exactly when `bits` is [`FLOOR_BITS`].
	pub floored: Option<FloorReason>,
}

impl Scored {
	fn floor(reason: FloorReason) -> Self {
		Self { bits: FLOOR_BITS, floored: Some(reason) }
	}
}

/// Bits of `answer` for `true_token`; see [`score_token`].
pub fn token_bits(answer: Option<&TokenDistribution>, true_token: u32, top_k: u32, vocab_size: u32) -> f64 {
	score_token(answer, true_token, top_k, vocab_size).bits
}

/// Scores `answer` (checked against `top_k` and `vocab_size` with `validate_distribution`)
/// for `true_token`: p = exp(logprob) when the true token is listed, else
/// `tail_mass / (vocab_size - listed)`; bits = min(-log2 p, [`FLOOR_BITS`]), in f64.
///
/// `vocab_size` must be the tokenizer's real size: with 0 (unknown) an unlisted true
/// token cannot be priced and scores the floor.
pub fn score_token(answer: Option<&TokenDistribution>, true_token: u32, top_k: u32, vocab_size: u32) -> Scored {
	let Some(d) = answer else { return Scored::floor(FloorReason::Missing) };
	if let Err(e) = validate_distribution(d, top_k, vocab_size) {
		return Scored::floor(FloorReason::Invalid(e.message().to_owned()));
	}
	let p = match d.token_ids.iter().position(|&t| t == true_token) {
		Some(i) => f64::from(d.logprobs[i]).exp(),
		None => {
			// Listed ids are distinct and below vocab_size, so this counts the unlisted ones.
			let unlisted = u64::from(vocab_size).saturating_sub(d.token_ids.len() as u64);
			if unlisted == 0 {
				0.0
			} else {
				f64::from(d.tail_mass) / unlisted as f64
			}
		},
	};
	let bits = -p.log2();
	// NaN is excluded by validation; checked anyway so no input yields a NaN score.
	if bits.is_nan() || bits >= FLOOR_BITS {
		return Scored::floor(FloorReason::Improbable);
	}
	Scored { bits: bits.max(0.0), floored: None }
}

#[cfg(test)]
mod tests {
	use super::*;
	use proptest::prelude::*;

	fn dist(ids: Vec<u32>, probs: &[f64], tail: f64) -> TokenDistribution {
		let logprobs = probs.iter().map(|p| p.ln() as f32).collect();
		TokenDistribution { doc_id: 1, position: 0, token_ids: ids, logprobs, tail_mass: tail as f32 }
	}

	#[test]
	fn listed_and_tail_tokens() {
		let d = dist(vec![5, 9, 1], &[0.5, 0.25, 0.125], 0.125);
		let close = |a: f64, b: f64| (a - b).abs() < 1e-6;
		assert!(close(token_bits(Some(&d), 5, 3, 100), 1.0));
		assert!(close(token_bits(Some(&d), 1, 3, 100), 3.0));
		// 0.125 over 97 unlisted tokens.
		assert!(close(token_bits(Some(&d), 42, 3, 100), -(0.125f64 / 97.0).log2()));
		assert_eq!(score_token(Some(&d), 42, 3, 100).floored, None);
	}

	#[test]
	fn floors() {
		assert_eq!(score_token(None, 1, 8, 100), Scored::floor(FloorReason::Missing));
		let no_tail = dist(vec![1, 2], &[0.5, 0.5], 0.0);
		assert_eq!(score_token(Some(&no_tail), 3, 8, 100).floored, Some(FloorReason::Improbable));
		let all = dist(vec![0, 1], &[0.5, 0.25], 0.25);
		assert!((token_bits(Some(&all), 1, 2, 2) - 2.0).abs() < 1e-6);
		// Unknown vocab: an unlisted token cannot be priced.
		assert_eq!(token_bits(Some(&all), 7, 2, 0), FLOOR_BITS);
		// Tiny but positive probability is capped.
		let tiny = dist(vec![1, 2], &[1.0 - 1e-12, 1e-12], 0.0);
		assert_eq!(score_token(Some(&tiny), 2, 8, 100), Scored::floor(FloorReason::Improbable));
	}

	#[test]
	fn malformed_scores_exactly_the_floor() {
		let good = dist(vec![5, 9, 1], &[0.5, 0.25, 0.125], 0.125);
		let mut bad = Vec::new();
		let mut x = good.clone();
		x.logprobs[1] = f32::NAN;
		bad.push(x);
		let mut x = good.clone();
		x.tail_mass = f32::NAN;
		bad.push(x);
		let mut x = good.clone();
		x.tail_mass = 0.2; // mass 1.075
		bad.push(x);
		let mut x = good.clone();
		x.token_ids[2] = 5; // duplicate
		bad.push(x);
		let mut x = good.clone();
		x.token_ids[1] = 100; // out of vocab
		bad.push(x);
		let mut x = good.clone();
		x.logprobs.swap(0, 1); // unsorted
		bad.push(x);
		let mut x = good.clone();
		x.logprobs.pop(); // length mismatch
		bad.push(x);
		let mut x = good.clone();
		x.logprobs[0] = 0.1; // probability above 1
		bad.push(x);
		for (i, d) in bad.iter().enumerate() {
			for t in [5, 9, 1, 42] {
				let s = score_token(Some(d), t, 3, 100);
				assert_eq!(s.bits, FLOOR_BITS, "case {i}");
				assert!(matches!(s.floored, Some(FloorReason::Invalid(_))), "case {i}: {s:?}");
			}
		}
		// More entries than top_k.
		assert_eq!(token_bits(Some(&good), 5, 2, 100), FLOOR_BITS);
	}

	/// A report of the full distribution `q` over `0..q.len()`: the top `k` tokens
	/// (in the order of `order`) listed, the rest of the mass times `tail_scale` in the tail.
	fn report(q: &[f64], order: &[u32], k: usize, tail_scale: f64) -> TokenDistribution {
		let ids: Vec<u32> = order[..k].to_vec();
		let probs: Vec<f64> = ids.iter().map(|&t| q[t as usize]).collect();
		let tail: f64 = order[k..].iter().map(|&t| q[t as usize]).sum();
		dist(ids, &probs, (tail * tail_scale).min(1.0))
	}

	fn expected_bits(p: &[f64], d: &TokenDistribution, k: u32) -> f64 {
		let v = p.len() as u32;
		(0..v).map(|t| p[t as usize] * token_bits(Some(d), t, k, v)).sum()
	}

	fn power(p: &[f64], a: f64) -> Vec<f64> {
		let q: Vec<f64> = p.iter().map(|x| x.powf(a)).collect();
		let s: f64 = q.iter().sum();
		q.iter().map(|x| x / s).collect()
	}

	proptest! {
		#[test]
		fn honest_reports_minimise_expected_bits(
			raw in prop::collection::vec(0.05f64..1.0, 16..64),
			k_frac in 0.0f64..1.0,
			sharp in 1.1f64..3.0,
			flat in 0.2f64..0.9,
			drop in 0.0f64..0.9,
		) {
			let s: f64 = raw.iter().sum();
			let p: Vec<f64> = raw.iter().map(|x| x / s).collect();
			let v = p.len();
			let k = 1 + ((v - 1) as f64 * k_frac) as usize;
			let mut order: Vec<u32> = (0..v as u32).collect();
			order.sort_by(|&a, &b| p[b as usize].total_cmp(&p[a as usize]).then(a.cmp(&b)));
			let honest = expected_bits(&p, &report(&p, &order, k, 1.0), k as u32);
			let others = [
				("sharpened", report(&power(&p, sharp), &order, k, 1.0)),
				("flattened", report(&power(&p, flat), &order, k, 1.0)),
				("truncated", report(&p, &order, k, 0.0)),
				("tail dropped", report(&p, &order, k, drop)),
			];
			for (name, d) in &others {
				let e = expected_bits(&p, d, k as u32);
				prop_assert!(honest <= e + 1e-6, "{name}: honest {honest} > {e}");
			}
		}

		#[test]
		fn bits_are_in_range(
			ids in prop::collection::vec(0u32..70, 0..8),
			lps in prop::collection::vec(prop_oneof![-40f32..=0.0, Just(f32::NAN), Just(0.5f32)], 0..8),
			tail in prop_oneof![0f32..=1.0, Just(f32::NAN), Just(-1.0f32)],
			truth in 0u32..64,
		) {
			let d = TokenDistribution { doc_id: 0, position: 0, token_ids: ids, logprobs: lps, tail_mass: tail };
			let s = score_token(Some(&d), truth, 8, 64);
			prop_assert!((0.0..=FLOOR_BITS).contains(&s.bits));
			prop_assert_eq!(s.floored.is_some(), s.bits == FLOOR_BITS);
		}
	}
}
