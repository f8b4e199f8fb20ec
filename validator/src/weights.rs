//! Putting weights on-chain: `set_weights` when the rate limit allows, or, when the subnet
//! has commit-reveal on, `commit_weights` now and `reveal_weights` in the reveal window.
//!
//! The [`WeightSetter`] is the only sender of the validator's transactions (one signer
//! must not submit concurrently). It runs on its own, every block or so, independently of
//! the rounds, so a reveal window is never missed because a round is running. Pending
//! commits and their salts are written to the database before the commit is submitted,
//! and a restarted validator reveals what an earlier run committed.

use std::sync::Arc;

use parking_lot::Mutex;
use rand::Rng;
use subxt_signer::sr25519::Keypair;
use tessera_client::{
	chain::{account_of, weights_commit_hash},
	runtime, ClientError, Metagraph, TesseraClient,
};

use crate::{
	metrics::Metrics,
	store::{PendingCommit, Store, StoreError},
};

/// Errors of a weights tick (the setter logs them and tries again next tick).
#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
	/// A chain call failed.
	#[error(transparent)]
	Client(#[from] ClientError),
	/// The database failed.
	#[error(transparent)]
	Store(#[from] StoreError),
}

/// Weights the validator wants on-chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeightTarget {
	/// Destination uids, ascending.
	pub uids: Vec<u16>,
	/// Their weights (max-scaled u16).
	pub values: Vec<u16>,
	/// The round that produced them (increasing).
	pub round: u64,
}

/// What a tick did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
	/// Nothing to do, or not allowed yet.
	Idle,
	/// The validator's hotkey is not registered on the subnet.
	NotRegistered,
	/// Weights wait because the validator has no validator permit.
	NoPermit,
	/// `set_weights` succeeded.
	Set,
	/// `commit_weights` succeeded.
	Committed {
		/// Epoch of the reveal window.
		reveal_epoch: u64,
	},
	/// `reveal_weights` succeeded.
	Revealed,
}

/// The epoch index of `block` (as the pallet counts them).
pub fn epoch_index(netuid: u16, tempo: u16, block: u64) -> u64 {
	block.saturating_add(u64::from(netuid)).saturating_add(1) / u64::from(tempo).saturating_add(1)
}

/// A fresh secret salt.
pub fn fresh_salt() -> Vec<u16> {
	let mut rng = rand::rngs::OsRng;
	(0..8).map(|_| rng.gen()).collect()
}

/// The weights state machine of one validator hotkey on one subnet.
pub struct WeightSetter {
	client: TesseraClient,
	key: Keypair,
	netuid: u16,
	store: Arc<Store>,
	metrics: Metrics,
	target: Arc<Mutex<Option<WeightTarget>>>,
	/// Round of the last weights submitted (set or committed).
	done_round: Option<u64>,
	/// Block of our last commit (rate limit).
	last_commit_block: Option<u64>,
}

impl WeightSetter {
	/// A setter that takes its targets from `target` (the scoring loop writes it).
	pub fn new(
		client: TesseraClient,
		key: Keypair,
		netuid: u16,
		store: Arc<Store>,
		metrics: Metrics,
		target: Arc<Mutex<Option<WeightTarget>>>,
	) -> Self {
		Self { client, key, netuid, store, metrics, target, done_round: None, last_commit_block: None }
	}

	fn count(&self, kind: &str, result: &Result<impl Sized, ClientError>) {
		let outcome = match result {
			Ok(_) => "ok".to_string(),
			Err(e) => e.pallet_error().map_or_else(|| "error".to_string(), |(_, err)| err.to_string()),
		};
		self.metrics.weight_submissions.with_label_values(&[kind, &outcome]).inc();
	}

	/// One step: reveal what is due, then commit or set new weights if allowed.
	pub async fn tick(&mut self) -> Result<Action, WeightsError> {
		let mg: Metagraph = self.client.metagraph(self.netuid).await?;
		let me = account_of(&self.key);
		let Some(neuron) = mg.neurons.iter().find(|n| n.hotkey == me) else { return Ok(Action::NotRegistered) };
		let hp = &mg.hyperparams;
		let block = mg.block;
		let epoch = epoch_index(self.netuid, hp.tempo, block);
		let permit = neuron.validator_permit;

		// Reveals first: they have a deadline.
		for c in self.store.pending_commits()? {
			if c.netuid != self.netuid {
				continue;
			}
			if !hp.commit_reveal_enabled {
				tracing::warn!(hash = %hex::encode(c.hash), "commit-reveal was turned off; dropping the unrevealed commit");
				self.store.remove_commit(&c.hash)?;
				continue;
			}
			let due = match c.reveal_epoch {
				Some(e) if epoch > e => {
					tracing::warn!(hash = %hex::encode(c.hash), reveal_epoch = e, epoch, "reveal window missed; dropping the commit");
					self.store.remove_commit(&c.hash)?;
					continue;
				},
				Some(e) => epoch == e,
				// Submitted by a run that stopped before it saw the result: try to reveal;
				// the chain says whether it exists and when.
				None => true,
			};
			if !due {
				continue;
			}
			let result = self
				.client
				.reveal_weights(&self.key, self.netuid, c.uids.clone(), c.values.clone(), c.salt.clone(), c.version_key)
				.await;
			self.count("reveal", &result);
			match result {
				Ok(_) => {
					self.store.remove_commit(&c.hash)?;
					tracing::info!(hash = %hex::encode(c.hash), uids = ?c.uids, weights = ?c.values, "weights revealed");
					return Ok(Action::Revealed);
				},
				Err(e) if e.is("Tessera", "RevealTooEarly") => {},
				Err(e) if e.is("Tessera", "NoMatchingCommit") || e.is("Tessera", "RevealTooLate") => {
					tracing::warn!(hash = %hex::encode(c.hash), error = %e, "commit cannot be revealed; dropping it");
					self.store.remove_commit(&c.hash)?;
				},
				Err(e) => return Err(e.into()),
			}
		}

		let Some(target) = self.target.lock().clone() else { return Ok(Action::Idle) };
		if self.done_round.is_some_and(|r| r >= target.round) || target.uids.is_empty() {
			return Ok(Action::Idle);
		}
		if !permit {
			return Ok(Action::NoPermit);
		}
		let version_key = hp.weights_version_key;
		if hp.commit_reveal_enabled {
			if self.store.pending_commits()?.iter().any(|c| c.netuid == self.netuid) {
				return Ok(Action::Idle);
			}
			if self.last_commit_block.is_some_and(|b| block.saturating_sub(b) < hp.weights_rate_limit) {
				return Ok(Action::Idle);
			}
			let salt = fresh_salt();
			let hash = weights_commit_hash(&me, self.netuid, &target.uids, &target.values, &salt, version_key);
			let mut pending = PendingCommit {
				hash: hash.0,
				netuid: self.netuid,
				uids: target.uids.clone(),
				values: target.values.clone(),
				salt,
				version_key,
				commit_block: None,
				reveal_epoch: None,
			};
			self.store.put_commit(&pending)?;
			let result = self.client.commit_weights(&self.key, self.netuid, hash).await;
			self.count("commit", &result);
			match result {
				Ok(outcome) => {
					let event = outcome.events.find_first::<runtime::tessera::events::WeightsCommitted>().and_then(|e| e.ok());
					let reveal_epoch = event.map_or(epoch + hp.commit_reveal_period, |e| e.reveal_epoch);
					pending.commit_block = Some(block);
					pending.reveal_epoch = Some(reveal_epoch);
					self.store.put_commit(&pending)?;
					self.last_commit_block = Some(block);
					self.done_round = Some(target.round);
					tracing::info!(hash = %hex::encode(hash.0), reveal_epoch, round = target.round, "weights committed");
					Ok(Action::Committed { reveal_epoch })
				},
				Err(e) => {
					self.store.remove_commit(&hash.0)?;
					if e.is("Tessera", "CommittingWeightsTooFast") {
						self.last_commit_block = Some(block);
						return Ok(Action::Idle);
					}
					self.done_round = Some(target.round);
					Err(e.into())
				},
			}
		} else {
			let last = neuron.last_update;
			if last != 0 && block.saturating_sub(last) < hp.weights_rate_limit {
				return Ok(Action::Idle);
			}
			let result =
				self.client.set_weights(&self.key, self.netuid, target.uids.clone(), target.values.clone(), version_key).await;
			self.count("set", &result);
			match result {
				Ok(_) => {
					self.done_round = Some(target.round);
					tracing::info!(uids = ?target.uids, weights = ?target.values, round = target.round, "weights set");
					Ok(Action::Set)
				},
				Err(e) if e.is("Tessera", "SettingWeightsTooFast") => Ok(Action::Idle),
				Err(e) => {
					// Do not retry the same weights; the next round brings new ones.
					self.done_round = Some(target.round);
					Err(e.into())
				},
			}
		}
	}

	/// Ticks every `every` until `shutdown` resolves.
	pub async fn run(mut self, every: std::time::Duration, shutdown: impl std::future::Future<Output = ()>) {
		tokio::pin!(shutdown);
		let mut warned_permit = false;
		loop {
			match self.tick().await {
				Ok(Action::NoPermit) if !warned_permit => {
					warned_permit = true;
					tracing::warn!("weights are waiting: this hotkey has no validator permit");
				},
				Ok(Action::NotRegistered) => {},
				Ok(_) => warned_permit = false,
				Err(e) => tracing::warn!(error = %e, "weights"),
			}
			tokio::select! {
				_ = &mut shutdown => return,
				_ = tokio::time::sleep(every) => {},
			}
		}
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn epochs_match_the_pallet() {
		// Subnet 1, tempo 10: the epoch runs when (block + 2) % 11 == 0.
		assert_eq!(epoch_index(1, 10, 0), 0);
		assert_eq!(epoch_index(1, 10, 8), 0);
		assert_eq!(epoch_index(1, 10, 9), 1);
		assert_eq!(epoch_index(1, 10, 19), 1);
		assert_eq!(epoch_index(1, 10, 20), 2);
	}

	#[test]
	fn salts_are_fresh() {
		assert_ne!(fresh_salt(), fresh_salt());
		assert_eq!(fresh_salt().len(), 8);
	}
}
