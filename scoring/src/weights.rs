//! Scores to the u16 weights `set_weights` takes, as bittensor's
//! `convert_weights_and_uids_for_emit` makes them: each score divided by the largest,
//! times 65535, rounded to nearest (ties to even, as Python's `round`), zeros dropped.

use std::collections::BTreeMap;

/// `(uids, weights)` for `set_weights`, sorted by uid: the largest score becomes
/// `u16::MAX`, the rest in proportion. Scores that are negative, NaN or infinite count
/// as 0; uids whose weight rounds to 0 are left out. With no positive score both
/// vectors are empty.
pub fn to_u16_weights(scores: &BTreeMap<u16, f64>) -> (Vec<u16>, Vec<u16>) {
	let clean = |s: f64| if s.is_finite() && s > 0.0 { s } else { 0.0 };
	let max = scores.values().map(|&s| clean(s)).fold(0.0, f64::max);
	if max <= 0.0 {
		return (Vec::new(), Vec::new());
	}
	scores
		.iter()
		// In [0, 65535] because clean(s) <= max; the cast saturates regardless.
		.map(|(&uid, &s)| (uid, ((clean(s) / max) * f64::from(u16::MAX)).round_ties_even() as u16))
		.filter(|&(_, w)| w > 0)
		.unzip()
}

/// `weights` as fractions summing to 1 (all zeros when they sum to 0), for display and tests.
pub fn normalize(weights: &[u16]) -> Vec<f64> {
	let sum: u64 = weights.iter().map(|&w| u64::from(w)).sum();
	weights.iter().map(|&w| if sum == 0 { 0.0 } else { f64::from(w) / sum as f64 }).collect()
}

#[cfg(test)]
mod tests {
	use super::*;
	use proptest::prelude::*;

	#[test]
	fn scales_to_max_drops_zeros_and_sorts() {
		let scores = BTreeMap::from([(9, 0.5), (2, 1.0), (4, 0.0), (7, 0.25), (1, 1e-9), (3, -1.0), (5, f64::NAN)]);
		let (uids, weights) = to_u16_weights(&scores);
		assert_eq!(uids, vec![2, 7, 9]);
		// 65535 / 2 = 32767.5 rounds to even; / 4 = 16383.75.
		assert_eq!(weights, vec![65535, 16384, 32768]);
		let n = normalize(&weights);
		assert!((n[0] - 4.0 / 7.0).abs() < 1e-4 && (n[1] - 1.0 / 7.0).abs() < 1e-4);
	}

	#[test]
	fn nothing_to_weigh() {
		let empty = (Vec::new(), Vec::new());
		assert_eq!(to_u16_weights(&BTreeMap::new()), empty);
		assert_eq!(to_u16_weights(&BTreeMap::from([(1, 0.0), (2, f64::NAN), (3, f64::INFINITY)])), empty);
		assert_eq!(normalize(&[]), Vec::<f64>::new());
		assert_eq!(normalize(&[0, 0]), vec![0.0, 0.0]);
		// Tiny scores are scaled to the max like any others.
		assert_eq!(to_u16_weights(&BTreeMap::from([(4, 1e-300)])), (vec![4], vec![65535]));
	}

	proptest! {
		#[test]
		fn weights_keep_proportions(scores in prop::collection::btree_map(any::<u16>(), 0.0f64..1e6, 0..64)) {
			let (uids, weights) = to_u16_weights(&scores);
			prop_assert_eq!(uids.len(), weights.len());
			prop_assert!(uids.windows(2).all(|w| w[0] < w[1]));
			prop_assert!(weights.iter().all(|&w| w > 0));
			let max = scores.values().copied().fold(0.0, f64::max);
			if max > 0.0 {
				prop_assert_eq!(weights.iter().max(), Some(&u16::MAX));
			}
			for (uid, w) in uids.iter().zip(&weights) {
				let exact = scores[uid] / max * 65535.0;
				prop_assert!((f64::from(*w) - exact).abs() <= 0.5 + 1e-9);
			}
			let dropped = scores.iter().filter(|(u, _)| !uids.contains(*u));
			for (_, s) in dropped {
				prop_assert!(s / max * 65535.0 <= 0.5 + 1e-9);
			}
		}

		#[test]
		fn normalize_sums_to_one(weights in prop::collection::vec(any::<u16>(), 1..300)) {
			let n = normalize(&weights);
			let sum: f64 = n.iter().sum();
			if weights.iter().any(|&w| w > 0) {
				prop_assert!((sum - 1.0).abs() < 1e-9);
			} else {
				prop_assert_eq!(sum, 0.0);
			}
			prop_assert!(n.iter().all(|x| (0.0..=1.0).contains(x)));
		}
	}
}
