//! Who holds the KV cache, and who gives way when it is full.
//!
//! The KV cache is the miner's scarce memory: documents hold it from their `Open` to
//! their `Close`. First come, first served would let one validator (however little
//! stake it has) open enough long documents to lock every other validator out. So each
//! caller has a *share* of the budget in proportion to its stake among the callers the
//! miner serves, with a floor ([`share_of`]), and may use free memory beyond it; when
//! the cache is full, a request may take memory back from callers above their share —
//! from the lowest-stake one first, and from a caller with more stake than the requester
//! only when the requester stays within its own share ([`KvShares::plan`]). Memory a
//! caller holds within its share is never taken. Evicted documents answer their next
//! request with `RESOURCE_EXHAUSTED`.

use std::collections::{HashMap, HashSet};

use crate::engine::SeqId;

/// Identifies a caller (its hotkey's public key).
pub type CallerId = [u8; 32];

/// `budget`'s share for a caller with `stake` of `total` (the callers served), at least
/// `floor`, at most `budget`.
pub fn share_of(budget: usize, stake: u128, total: u128, floor: usize) -> usize {
	let proportional = if total == 0 {
		budget
	} else {
		// Off-chain, so a float ratio: stakes are u128 and their product would overflow.
		(budget as f64 * (stake.min(total) as f64 / total as f64)) as usize
	};
	proportional.max(floor).min(budget)
}

#[derive(Debug, Clone, Copy, Default)]
struct Holder {
	priority: u64,
	share: usize,
	used: usize,
}

/// The cache's bookkeeping by caller: what each document holds and whose it is.
#[derive(Debug, Default)]
pub struct KvShares {
	holders: HashMap<CallerId, Holder>,
	seqs: HashMap<SeqId, (CallerId, usize)>,
}

impl KvShares {
	/// Records the priority (stake) and share `caller` has now.
	pub fn note(&mut self, caller: CallerId, priority: u64, share: usize) {
		let h = self.holders.entry(caller).or_default();
		h.priority = priority;
		h.share = share;
	}

	/// Tokens `caller` holds.
	pub fn used(&self, caller: &CallerId) -> usize {
		self.holders.get(caller).map_or(0, |h| h.used)
	}

	/// The caller holding `seq`, if it holds cache.
	pub fn owner(&self, seq: SeqId) -> Option<CallerId> {
		self.seqs.get(&seq).map(|(c, _)| *c)
	}

	/// Records that `seq` of `caller` now holds `capacity` tokens.
	pub fn set(&mut self, seq: SeqId, caller: CallerId, capacity: usize) {
		let old = self.seqs.insert(seq, (caller, capacity));
		if let Some((prev, cap)) = old {
			if let Some(h) = self.holders.get_mut(&prev) {
				h.used = h.used.saturating_sub(cap);
			}
		}
		self.holders.entry(caller).or_default().used += capacity;
	}

	/// Forgets `seq`; returns the tokens it held.
	pub fn remove(&mut self, seq: SeqId) -> usize {
		let Some((caller, cap)) = self.seqs.remove(&seq) else { return 0 };
		if let Some(h) = self.holders.get_mut(&caller) {
			h.used = h.used.saturating_sub(cap);
			if h.used == 0 && !self.seqs.values().any(|(c, _)| *c == caller) {
				self.holders.remove(&caller);
			}
		}
		cap
	}

	/// Documents to evict so that `caller` can take `need` more tokens than are free
	/// (its own usage after the request would be `used + growth`), never touching
	/// `protected` (documents of the batch being run). `None` when not enough can be
	/// taken back: the request is refused and nothing is evicted.
	pub fn plan(
		&self,
		caller: &CallerId,
		priority: u64,
		growth: usize,
		need: usize,
		protected: &HashSet<SeqId>,
	) -> Option<Vec<SeqId>> {
		if need == 0 {
			return Some(Vec::new());
		}
		let me = self.holders.get(caller).copied().unwrap_or_default();
		let within_share = me.used + growth <= me.share;
		let mut victims: Vec<(&CallerId, &Holder)> = self
			.holders
			.iter()
			.filter(|(c, h)| *c != caller && h.used > h.share && (h.priority < priority || within_share))
			.collect();
		victims.sort_by_key(|(c, h)| (h.priority, **c));
		let mut plan = Vec::new();
		let mut freed = 0usize;
		for (victim, h) in victims {
			let mut docs: Vec<(usize, SeqId)> = self
				.seqs
				.iter()
				.filter(|(s, (c, _))| c == victim && !protected.contains(s))
				.map(|(s, (_, cap))| (*cap, *s))
				.collect();
			// Largest documents first: fewest evictions.
			docs.sort_by(|a, b| b.cmp(a));
			let mut over = h.used - h.share;
			for (cap, seq) in docs {
				if freed >= need || over == 0 {
					break;
				}
				plan.push(seq);
				freed += cap;
				over = over.saturating_sub(cap);
			}
			if freed >= need {
				return Some(plan);
			}
		}
		None
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn shares_follow_stake_with_a_floor() {
		assert_eq!(share_of(1000, 1, 1, 10), 1000, "a single caller gets everything");
		assert_eq!(share_of(1000, 250, 1000, 10), 250);
		assert_eq!(share_of(1000, 1, 1000, 10), 10, "the floor");
		assert_eq!(share_of(1000, 0, 1000, 10), 10, "zero stake gets the floor");
		assert_eq!(share_of(1000, 0, 0, 10), 1000, "no stake known at all: no split");
		assert_eq!(share_of(1000, u128::MAX, u128::MAX, 10), 1000);
		assert_eq!(share_of(1000, 5, 1, 10), 1000, "stake above the total is capped");
		assert_eq!(share_of(1000, 333, 1000, 2000), 1000, "the floor is capped by the budget");
	}

	fn holding(entries: &[(u8, u64, usize, &[(u64, usize)])]) -> KvShares {
		let mut k = KvShares::default();
		for &(c, priority, share, docs) in entries {
			k.note([c; 32], priority, share);
			for &(seq, cap) in docs {
				k.set(seq, [c; 32], cap);
			}
		}
		k
	}

	#[test]
	fn the_lowest_stake_holder_above_its_share_gives_way() {
		// Budget 1000, full: A (stake 10, share 100) holds 800; B (stake 5, share 50)
		// holds 200; C (stake 1000, share 850) holds nothing.
		let k = holding(&[(1, 10, 100, &[(1, 400), (2, 400)]), (2, 5, 50, &[(3, 200)]), (3, 1000, 850, &[])]);
		let none = HashSet::new();
		// C needs 300: B (lowest stake, over its share) goes first, then A's largest.
		let plan = k.plan(&[3; 32], 1000, 300, 300, &none).unwrap();
		assert_eq!(plan.len(), 2);
		assert_eq!(plan[0], 3);
		assert!(plan[1] == 1 || plan[1] == 2);
		// Nobody gives way to a caller with less stake that is over its own share.
		assert!(k.plan(&[2; 32], 5, 300, 300, &none).is_none());
		// Documents of the running batch are never evicted.
		let protected = HashSet::from([1, 2, 3]);
		assert!(k.plan(&[3; 32], 1000, 300, 300, &protected).is_none());
	}

	#[test]
	fn memory_within_a_share_is_never_taken() {
		// A holds exactly its share; B with more stake cannot take it.
		let k = holding(&[(1, 10, 500, &[(1, 500)]), (2, 100, 500, &[(2, 500)])]);
		assert!(k.plan(&[2; 32], 100, 100, 100, &HashSet::new()).is_none());
		// But a caller within its share takes back what a richer one holds above its own.
		let k = holding(&[(1, 10, 300, &[]), (2, 100, 700, &[(2, 500), (3, 500)])]);
		assert_eq!(k.plan(&[1; 32], 10, 200, 200, &HashSet::new()).unwrap().len(), 1);
	}

	#[test]
	fn bookkeeping_follows_growth_and_removal() {
		let mut k = KvShares::default();
		k.set(1, [1; 32], 64);
		k.set(1, [1; 32], 128);
		k.set(2, [1; 32], 64);
		assert_eq!(k.used(&[1; 32]), 192);
		assert_eq!(k.remove(1), 128);
		assert_eq!(k.used(&[1; 32]), 64);
		assert_eq!(k.owner(2), Some([1; 32]));
		assert_eq!(k.remove(2), 64);
		assert_eq!(k.remove(2), 0);
		assert_eq!(k.used(&[1; 32]), 0);
	}
}
