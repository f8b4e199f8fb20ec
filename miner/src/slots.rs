//! Evaluate stream slots, shared by stake.
//!
//! A miner serves at most `max` streams at once. Each caller may hold its share of them
//! ([`share_of`] of the slots by stake among the callers served, at least `floor`), and
//! when every slot is taken, a new stream from a caller with more stake ends the newest
//! stream of the lowest-stake caller below it, which is told why. So a validator with
//! little stake cannot keep the ones with more out by opening streams first.

use std::sync::{
	atomic::{AtomicU64, Ordering},
	Arc,
};

use parking_lot::Mutex;
use tessera_proto::Hotkey;
use tokio::sync::watch;
use tonic::Status;

use crate::kv_share::share_of;

struct Slot {
	id: u64,
	caller: Hotkey,
	priority: u64,
	evict: watch::Sender<bool>,
}

/// The slots (see the module docs).
pub struct StreamSlots {
	max: usize,
	floor: usize,
	open: Mutex<Vec<Slot>>,
	next: AtomicU64,
}

/// A held slot; freed when dropped. `evicted` turns true when a caller with more stake
/// took the slot: the stream must end.
pub struct SlotGuard {
	slots: Arc<StreamSlots>,
	id: u64,
	/// Whether the slot was taken back.
	pub evicted: watch::Receiver<bool>,
}

impl Drop for SlotGuard {
	fn drop(&mut self) {
		self.slots.open.lock().retain(|s| s.id != self.id);
	}
}

impl StreamSlots {
	/// `max` slots, at least `floor` per caller.
	pub fn new(max: usize, floor: usize) -> Arc<Self> {
		Arc::new(Self { max, floor, open: Mutex::new(Vec::new()), next: AtomicU64::new(0) })
	}

	/// Streams open now.
	pub fn len(&self) -> usize {
		self.open.lock().len()
	}

	/// Whether no stream is open.
	pub fn is_empty(&self) -> bool {
		self.len() == 0
	}

	/// A slot for `caller` (scheduling priority `priority`, `stake` of the `total` stake
	/// served), or `RESOURCE_EXHAUSTED` saying why not.
	pub fn acquire(self: &Arc<Self>, caller: Hotkey, priority: u64, stake: u128, total: u128) -> Result<SlotGuard, Status> {
		let cap = share_of(self.max, stake, total, self.floor);
		let mut open = self.open.lock();
		let held = open.iter().filter(|s| s.caller == caller).count();
		if held >= cap {
			return Err(Status::resource_exhausted(format!(
				"this validator holds {held} Evaluate streams, its share of this miner's {}; close one first",
				self.max
			)));
		}
		if open.len() >= self.max {
			let victim = open
				.iter()
				.filter(|s| s.priority < priority)
				.min_by_key(|s| (s.priority, std::cmp::Reverse(s.id)))
				.map(|s| s.id);
			let Some(victim) = victim else {
				return Err(Status::resource_exhausted("every Evaluate stream of this miner is in use; retry later"));
			};
			if let Some(pos) = open.iter().position(|s| s.id == victim) {
				let slot = open.swap_remove(pos);
				let _ = slot.evict.send(true);
			}
		}
		let id = self.next.fetch_add(1, Ordering::Relaxed);
		let (evict, evicted) = watch::channel(false);
		open.push(Slot { id, caller, priority, evict });
		Ok(SlotGuard { slots: self.clone(), id, evicted })
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn each_caller_holds_its_share_and_the_lowest_stake_gives_way() {
		let slots = StreamSlots::new(4, 1);
		let (low, mid, high) = (Hotkey([1; 32]), Hotkey([2; 32]), Hotkey([3; 32]));
		// Stakes 1, 1, 8 of 10: shares 1, 1 (floor), 3.
		let l = slots.acquire(low, 1, 1, 10).unwrap();
		assert!(slots.acquire(low, 1, 1, 10).is_err(), "over its share");
		let m = slots.acquire(mid, 1, 1, 10).unwrap();
		let h1 = slots.acquire(high, 8, 8, 10).unwrap();
		let _h2 = slots.acquire(high, 8, 8, 10).unwrap();
		assert_eq!(slots.len(), 4);
		// Full: the high-stake caller's third stream takes the newest low-stake slot.
		let _h3 = slots.acquire(high, 8, 8, 10).unwrap();
		assert!(*m.evicted.borrow() || *l.evicted.borrow());
		assert_eq!(*m.evicted.borrow(), true, "the newest of the lowest stake goes first");
		assert!(!*l.evicted.borrow() && !*h1.evicted.borrow());
		// Nobody gives way to a caller with less stake, or the same.
		let err = slots.acquire(mid, 1, 1, 10).err().unwrap();
		assert!(err.message().contains("in use"), "{err:?}");
		drop(l);
		assert_eq!(slots.len(), 3);
		assert!(slots.acquire(mid, 1, 1, 10).is_ok(), "a freed slot is free again");
	}
}
