//! Smoothed scores per uid (EMA of per-round paired-comparison scores), tied to the
//! hotkey that earned them, and the weights they give; plus the per-round log table.

use std::collections::{BTreeMap, BTreeSet};

use tessera_proto::Hotkey;
use tessera_scoring::{to_u16_weights, Ema, EmaError};

use crate::store::EmaEntry;

/// EMA scores of a subnet's uids.
#[derive(Debug, Clone)]
pub struct Scores {
	ema: Ema<u16>,
	hotkeys: BTreeMap<u16, [u8; 32]>,
}

impl Scores {
	/// No scores yet, smoothing factor `alpha` in (0, 1].
	pub fn new(alpha: f64) -> Result<Self, EmaError> {
		Ok(Self { ema: Ema::new(alpha)?, hotkeys: BTreeMap::new() })
	}

	/// Scores as stored.
	pub fn from_entries(alpha: f64, entries: &BTreeMap<u16, EmaEntry>) -> Result<Self, EmaError> {
		let ema = Ema::from_scores(alpha, entries.iter().map(|(&u, e)| (u, e.score)).collect())?;
		Ok(Self { ema, hotkeys: entries.iter().map(|(&u, e)| (u, e.hotkey)).collect() })
	}

	/// Scores as they are stored.
	pub fn entries(&self) -> BTreeMap<u16, EmaEntry> {
		self.ema
			.scores()
			.iter()
			.map(|(&uid, &score)| (uid, EmaEntry { hotkey: self.hotkeys.get(&uid).copied().unwrap_or_default(), score }))
			.collect()
	}

	/// Forgets uids that are no longer registered, or whose hotkey changed (a new neuron
	/// starts from zero). `registered` maps uid to hotkey.
	pub fn sync(&mut self, registered: &BTreeMap<u16, [u8; 32]>) {
		let hotkeys = &self.hotkeys;
		self.ema.retain(|uid| registered.get(uid).is_some_and(|hk| hotkeys.get(uid) == Some(hk)));
		let kept: Vec<u16> = self.ema.scores().keys().copied().collect();
		self.hotkeys.retain(|uid, _| kept.contains(uid));
	}

	/// Folds one round's scores (uid, hotkey, score in [0, 1]) into the EMA.
	pub fn update(&mut self, round: &[(u16, [u8; 32], f64)]) -> Result<(), EmaError> {
		for &(uid, hk, _) in round {
			if self.hotkeys.get(&uid).is_some_and(|old| *old != hk) {
				self.ema.remove(&uid);
			}
		}
		self.ema.update(round.iter().map(|&(uid, _, s)| (uid, s)))?;
		for &(uid, hk, _) in round {
			self.hotkeys.insert(uid, hk);
		}
		Ok(())
	}

	/// Sets `uid`'s score to zero at once (a failed audit), whatever it was.
	pub fn forfeit(&mut self, uid: u16, hotkey: [u8; 32]) {
		self.ema.remove(&uid);
		// A new uid starts at zero, and a zero round keeps it there.
		let _ = self.ema.update([(uid, 0.0)]);
		self.hotkeys.insert(uid, hotkey);
	}

	/// EMA of `uid`.
	pub fn get(&self, uid: u16) -> Option<f64> {
		self.ema.get(&uid)
	}

	/// Every uid's EMA.
	pub fn all(&self) -> &BTreeMap<u16, f64> {
		self.ema.scores()
	}

	/// The weights to set: EMA scores max-scaled to u16, `exclude` (the validator's own
	/// uid) and `withheld` (miners not paid this round, their EMA kept) left out, zero
	/// weights dropped.
	pub fn weights(&self, exclude: Option<u16>, withheld: &BTreeSet<u16>) -> (Vec<u16>, Vec<u16>) {
		let scores: BTreeMap<u16, f64> = self
			.ema
			.scores()
			.iter()
			.filter(|(u, _)| Some(**u) != exclude && !withheld.contains(u))
			.map(|(&u, &s)| (u, s))
			.collect();
		to_u16_weights(&scores)
	}
}

/// One line of the per-round table.
#[derive(Debug, Clone, PartialEq)]
pub struct TableRow {
	/// Miner uid.
	pub uid: u16,
	/// Its hotkey.
	pub hotkey: Hotkey,
	/// How its round went (`ok`, `timeout`, ...).
	pub outcome: String,
	/// Bits per byte this round.
	pub bpb: f64,
	/// Tokens scored at the floor this round.
	pub floored: usize,
	/// Paired-comparison score this round (None: not scored).
	pub score: Option<f64>,
	/// EMA after the round.
	pub ema: f64,
	/// Weight (u16, max-scaled) from the EMA.
	pub weight: u16,
}

/// The per-round table: uid, hotkey, outcome, BPB, floored tokens, round score, EMA,
/// weight.
pub fn table(rows: &[TableRow]) -> String {
	let mut out = format!(
		"{:>5}  {:<48}  {:<14}  {:>8}  {:>7}  {:>6}  {:>7}  {:>6}\n",
		"uid", "hotkey", "outcome", "bpb", "floored", "score", "ema", "weight"
	);
	for r in rows {
		let score = r.score.map_or_else(|| "-".to_string(), |s| format!("{s:.3}"));
		out.push_str(&format!(
			"{:>5}  {:<48}  {:<14}  {:>8.4}  {:>7}  {:>6}  {:>7.4}  {:>6}\n",
			r.uid,
			r.hotkey.to_ss58(),
			r.outcome,
			r.bpb,
			r.floored,
			score,
			r.ema,
			r.weight
		));
	}
	out
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn scores_follow_hotkeys_and_survive_a_round_trip() {
		let mut s = Scores::new(0.5).unwrap();
		s.update(&[(1, [1; 32], 1.0), (2, [2; 32], 0.0), (0, [9; 32], 1.0)]).unwrap();
		assert_eq!(s.get(1), Some(0.5));
		assert_eq!(s.weights(Some(0), &BTreeSet::new()), (vec![1], vec![u16::MAX]));
		assert_eq!(s.weights(Some(0), &BTreeSet::from([1])), (vec![], vec![]));
		let restored = Scores::from_entries(0.5, &s.entries()).unwrap();
		assert_eq!(restored.all(), s.all());
		// uid 2 changes hands, uid 0 leaves.
		s.sync(&BTreeMap::from([(1, [1; 32]), (2, [7; 32])]));
		assert_eq!(s.all().keys().copied().collect::<Vec<_>>(), vec![1]);
		// A new hotkey on a scored uid starts from zero.
		s.update(&[(1, [8; 32], 0.0)]).unwrap();
		assert_eq!(s.get(1), Some(0.0));
		assert!(table(&[TableRow {
			uid: 1,
			hotkey: Hotkey([1; 32]),
			outcome: "ok".into(),
			bpb: 1.25,
			floored: 0,
			score: Some(1.0),
			ema: 0.5,
			weight: 65535
		}])
		.contains("1.2500"));
	}
}
