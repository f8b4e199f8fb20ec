//! Exponential moving average of round scores per miner key (a uid).
//!
//! `score = alpha * round + (1 - alpha) * previous`. A miner seen for the first time
//! starts from 0, as in subtensor, so a new or re-registered miner earns its weight over
//! several rounds and churning keys does not pay. A miner not in a round keeps its score.

use std::collections::BTreeMap;

use thiserror::Error;

/// Why an EMA could not be made or updated.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum EmaError {
	/// `alpha` is not in (0, 1].
	#[error("alpha {0} is not in (0, 1]")]
	BadAlpha(f64),
	/// A round score or stored score is NaN or infinite.
	#[error("score {0} is not finite")]
	BadScore(f64),
}

/// Per-key EMA of round scores. Its state is the plain map [`Ema::scores`], which the
/// validator persists and restores with [`Ema::from_scores`].
#[derive(Debug, Clone, PartialEq)]
pub struct Ema<K: Ord = u16> {
	alpha: f64,
	scores: BTreeMap<K, f64>,
}

impl<K: Ord> Ema<K> {
	/// An empty EMA with weight `alpha` in (0, 1] on each new round.
	pub fn new(alpha: f64) -> Result<Self, EmaError> {
		Self::from_scores(alpha, BTreeMap::new())
	}

	/// An EMA resumed from persisted `scores`.
	pub fn from_scores(alpha: f64, scores: BTreeMap<K, f64>) -> Result<Self, EmaError> {
		if !(alpha > 0.0 && alpha <= 1.0) {
			return Err(EmaError::BadAlpha(alpha));
		}
		if let Some(&s) = scores.values().find(|s| !s.is_finite()) {
			return Err(EmaError::BadScore(s));
		}
		Ok(Self { alpha, scores })
	}

	/// The weight of each new round.
	pub fn alpha(&self) -> f64 {
		self.alpha
	}

	/// The current scores, by key.
	pub fn scores(&self) -> &BTreeMap<K, f64> {
		&self.scores
	}

	/// The current score of `key` (`None`: never scored).
	pub fn get(&self, key: &K) -> Option<f64> {
		self.scores.get(key).copied()
	}

	/// Folds in one round's scores. If any is not finite, nothing is changed.
	pub fn update(&mut self, round: impl IntoIterator<Item = (K, f64)>) -> Result<(), EmaError> {
		let round: Vec<(K, f64)> = round.into_iter().collect();
		if let Some(&(_, s)) = round.iter().find(|(_, s)| !s.is_finite()) {
			return Err(EmaError::BadScore(s));
		}
		for (k, s) in round {
			let prev = self.scores.entry(k).or_insert(0.0);
			*prev = self.alpha * s + (1.0 - self.alpha) * *prev;
		}
		Ok(())
	}

	/// Keeps only the keys for which `keep` is true (drop uids that left or were
	/// taken by a new hotkey, so the newcomer starts from 0).
	pub fn retain(&mut self, mut keep: impl FnMut(&K) -> bool) {
		self.scores.retain(|k, _| keep(k));
	}

	/// Forgets `key`; returns its last score.
	pub fn remove(&mut self, key: &K) -> Option<f64> {
		self.scores.remove(key)
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn update_and_converge() {
		let mut ema: Ema = Ema::new(0.1).unwrap();
		let round = vec![(3u16, 0.8), (7, 0.0)];
		ema.update(round.clone()).unwrap();
		assert!((ema.get(&3).unwrap() - 0.08).abs() < 1e-12, "new miners start from 0");
		for _ in 0..300 {
			ema.update(round.clone()).unwrap();
		}
		assert!((ema.get(&3).unwrap() - 0.8).abs() < 1e-9);
		assert_eq!(ema.get(&7), Some(0.0));
		// A miner absent from a round keeps its score.
		ema.update(BTreeMap::from([(7u16, 1.0)])).unwrap();
		assert!((ema.get(&3).unwrap() - 0.8).abs() < 1e-9);
		assert!(ema.update(BTreeMap::from([(3u16, f64::NAN), (9, 1.0)])).is_err());
		assert_eq!(ema.get(&9), None, "a bad round changes nothing");
		ema.retain(|&uid| uid != 7);
		assert_eq!(ema.scores().keys().collect::<Vec<_>>(), vec![&3]);
		assert!(ema.remove(&3).is_some() && ema.scores().is_empty());
	}

	#[test]
	fn alpha_one_and_persistence() {
		let mut ema = Ema::new(1.0).unwrap();
		ema.update(BTreeMap::from([("a", 0.5)])).unwrap();
		assert_eq!(ema.get(&"a"), Some(0.5));
		let restored = Ema::from_scores(ema.alpha(), ema.scores().clone()).unwrap();
		assert_eq!(restored, ema);
		for a in [0.0, -0.5, 1.5, f64::NAN] {
			assert_eq!(Ema::<u16>::new(a).map(|_| ()).unwrap_err().to_string(), EmaError::BadAlpha(a).to_string());
		}
		assert!(Ema::from_scores(0.5, BTreeMap::from([(1u16, f64::INFINITY)])).is_err());
	}
}
