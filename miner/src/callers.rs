//! Who may call this miner, and in which order under load: a snapshot of the subnet's
//! validators, refreshed from the metagraph and read on every request (never the chain).

use std::{collections::HashMap, sync::Arc};

use parking_lot::RwLock;
use tessera_proto::Hotkey;

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
#[derive(Debug, Default)]
pub struct Callers {
	table: RwLock<HashMap<Hotkey, Caller>>,
	policy: Policy,
	netuid: u16,
}

impl Callers {
	/// An empty table (everyone is refused until the first sync) for subnet `netuid`.
	pub fn new(netuid: u16, policy: Policy) -> Arc<Self> {
		Arc::new(Self { table: RwLock::new(HashMap::new()), policy, netuid })
	}

	/// Replaces the snapshot.
	pub fn replace(&self, table: HashMap<Hotkey, Caller>) {
		*self.table.write() = table;
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
		assert_eq!(callers.priority(&d), 0);
		let auth = callers.authorizer();
		assert!(auth(&a).is_ok() && auth(&d).is_err());
	}
}
