//! Who may call this miner, and in which order under load: a snapshot of the subnet's
//! validators, refreshed from the metagraph and read on every request (never the chain).

use std::{collections::HashMap, sync::Arc};

use parking_lot::RwLock;
use tessera_proto::Hotkey;
use tokio::sync::watch;

/// What the miner knows about one registered hotkey.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
	/// Its uid on the subnet.
	pub uid: u16,
	/// Its total stake (rao).
	pub stake: u128,
	/// Whether it holds a validator permit.
	pub validator_permit: bool,
}

/// The access policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
	/// Only validators with a permit may call.
	pub require_permit: bool,
	/// Least stake (rao) a caller must hold.
	pub min_stake: u128,
}

impl Default for Policy {
	fn default() -> Self {
		Self { require_permit: true, min_stake: 0 }
	}
}

/// The subnet's registered hotkeys, as of the last metagraph sync.
#[derive(Debug)]
pub struct Callers {
	table: RwLock<HashMap<Hotkey, Caller>>,
	/// Stake of the callers the policy admits (what shares divide).
	served_stake: RwLock<u128>,
	policy: Policy,
	netuid: u16,
	/// Bumped by every [`Callers::replace`]: open streams re-check their caller.
	generation: watch::Sender<u64>,
}

impl Callers {
	/// An empty table (everyone is refused until the first sync) for subnet `netuid`.
	pub fn new(netuid: u16, policy: Policy) -> Arc<Self> {
		let table = RwLock::new(HashMap::new());
		Arc::new(Self { table, served_stake: RwLock::new(0), policy, netuid, generation: watch::channel(0).0 })
	}

	/// Replaces the snapshot; open streams re-check their callers against it.
	pub fn replace(&self, table: HashMap<Hotkey, Caller>) {
		let served = table.values().filter(|c| self.admits(c)).fold(0u128, |a, c| a.saturating_add(c.stake));
		*self.table.write() = table;
		*self.served_stake.write() = served;
		self.generation.send_modify(|g| *g += 1);
	}

	/// A receiver that changes whenever the snapshot is replaced.
	pub fn subscribe(&self) -> watch::Receiver<u64> {
		self.generation.subscribe()
	}

	fn admits(&self, c: &Caller) -> bool {
		(!self.policy.require_permit || c.validator_permit) && c.stake >= self.policy.min_stake
	}

	/// `hotkey`'s stake and the stake of every caller the policy admits (0 and 0 when
	/// the snapshot says nothing).
	pub fn stake_share(&self, hotkey: &Hotkey) -> (u128, u128) {
		(self.get(hotkey).map_or(0, |c| c.stake), *self.served_stake.read())
	}

	/// Hotkeys in the snapshot.
	pub fn len(&self) -> usize {
		self.table.read().len()
	}

	/// Whether the snapshot is empty.
	pub fn is_empty(&self) -> bool {
		self.table.read().is_empty()
	}

	/// What the snapshot says about `hotkey`.
	pub fn get(&self, hotkey: &Hotkey) -> Option<Caller> {
		self.table.read().get(hotkey).copied()
	}

	/// `Ok` if `hotkey` may call under the policy, else the reason.
	pub fn authorize(&self, hotkey: &Hotkey) -> Result<(), String> {
		let netuid = self.netuid;
		let Some(c) = self.get(hotkey) else {
			return Err(format!("hotkey is not registered on subnet {netuid}"));
		};
		if self.policy.require_permit && !c.validator_permit {
			return Err(format!("uid {} on subnet {netuid} has no validator permit", c.uid));
		}
		if c.stake < self.policy.min_stake {
			return Err(format!(
				"uid {} on subnet {netuid} has stake {} below this miner's floor of {}",
				c.uid, c.stake, self.policy.min_stake
			));
		}
		Ok(())
	}

	/// The scheduling priority of `hotkey`: its stake in whole rao, saturated to u64.
	pub fn priority(&self, hotkey: &Hotkey) -> u64 {
		self.get(hotkey).map_or(0, |c| u64::try_from(c.stake).unwrap_or(u64::MAX))
	}

	/// An authorizer for [`tessera_proto::Verifier::with_authorizer`] that reads this table.
	pub fn authorizer(self: &Arc<Self>) -> impl Fn(&Hotkey) -> Result<(), String> + Send + Sync + 'static {
		let this = Arc::clone(self);
		move |hk: &Hotkey| this.authorize(hk)
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn policy_is_enforced_with_reasons() {
		let callers = Callers::new(1, Policy { require_permit: true, min_stake: 100 });
		let (a, b, c, d) = (Hotkey([1; 32]), Hotkey([2; 32]), Hotkey([3; 32]), Hotkey([4; 32]));
		callers.replace(HashMap::from([
			(a, Caller { uid: 0, stake: 1_000, validator_permit: true }),
			(b, Caller { uid: 1, stake: 1_000, validator_permit: false }),
			(c, Caller { uid: 2, stake: 10, validator_permit: true }),
		]));
		assert_eq!(callers.authorize(&a), Ok(()));
		assert!(callers.authorize(&b).unwrap_err().contains("no validator permit"));
		assert!(callers.authorize(&c).unwrap_err().contains("below this miner's floor"));
		assert!(callers.authorize(&d).unwrap_err().contains("not registered on subnet 1"));
		assert_eq!(callers.priority(&a), 1_000);
		// Only admitted callers count in the stake shares are divided by.
		assert_eq!(callers.stake_share(&a), (1_000, 1_000));
		assert_eq!(callers.priority(&d), 0);
		let auth = callers.authorizer();
		assert!(auth(&a).is_ok() && auth(&d).is_err());
		let rx = callers.subscribe();
		callers.replace(HashMap::new());
		assert!(rx.has_changed().unwrap(), "a new snapshot wakes open streams");
		assert!(auth(&a).is_err(), "and the new snapshot is what authorizes");
	}
}
