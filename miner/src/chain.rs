//! The miner's side of the chain: announce the axon and the model commitment, and keep
//! the table of permitted callers fresh from the metagraph.

use std::{collections::HashMap, net::IpAddr, sync::Arc, time::Duration};

use tessera_client::{chain::account_of, ClientError, Keypair, Metagraph, TesseraClient, H256};
use tessera_proto::Hotkey;

use crate::callers::{Caller, Callers};

/// Errors of the chain integration.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
	/// A chain call failed.
	#[error(transparent)]
	Client(#[from] ClientError),
	/// The miner's hotkey has no uid on the subnet.
	#[error("hotkey {hotkey} is not registered on subnet {netuid}; register it first (`tessera register`)")]
	NotRegistered {
		/// The hotkey, SS58.
		hotkey: String,
		/// The subnet.
		netuid: u16,
	},
}

/// What the miner announces on-chain.
#[derive(Debug, Clone, Copy)]
pub struct Announcement {
	/// Subnet.
	pub netuid: u16,
	/// Address validators should dial.
	pub ip: IpAddr,
	/// Port validators should dial.
	pub port: u16,
	/// Software version number (`serve_axon`'s `version`).
	pub version: u32,
	/// Axon protocol (`tessera_proto::transport`: 0 gRPC, 1 gRPC over TLS).
	pub protocol: u8,
	/// BLAKE2b-256 of the model file.
	pub model_hash: [u8; 32],
	/// The tokenizer hash.
	pub tokenizer_hash: [u8; 32],
}

/// What [`announce`] had to change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Announced {
	/// The miner's uid.
	pub uid: u16,
	/// Whether `serve_axon` was submitted.
	pub served_axon: bool,
	/// Whether `commit_model` was submitted.
	pub committed_model: bool,
}

fn ip_to_chain(ip: IpAddr) -> (u128, u8) {
	match ip {
		IpAddr::V4(v4) => (u32::from(v4) as u128, 4),
		IpAddr::V6(v6) => (u128::from(v6), 6),
	}
}

/// Makes the chain say what this miner serves: submits `serve_axon` if the metagraph's
/// axon differs from `a`, and `commit_model` if the committed model or tokenizer hash
/// differs (an unchanged commitment keeps its block, and with it priority over copies).
pub async fn announce(client: &TesseraClient, hotkey: &Keypair, a: &Announcement) -> Result<Announced, ChainError> {
	let me = account_of(hotkey);
	let mg = client.metagraph(a.netuid).await?;
	let neuron = mg
		.neurons
		.iter()
		.find(|n| n.hotkey == me)
		.ok_or_else(|| ChainError::NotRegistered { hotkey: me.to_string(), netuid: a.netuid })?;
	let (ip, ip_type) = ip_to_chain(a.ip);
	let axon_current = neuron.axon.as_ref().is_some_and(|ax| {
		ax.ip == ip && ax.ip_type == ip_type && ax.port == a.port && ax.protocol == a.protocol && ax.version == a.version
	});
	let model_current = neuron
		.model
		.as_ref()
		.is_some_and(|m| m.model_hash.0 == a.model_hash && m.tokenizer_hash.0 == a.tokenizer_hash);
	let uid = neuron.uid;
	if !axon_current {
		client.serve_axon_with(hotkey, a.netuid, a.ip, a.port, a.version, a.protocol).await?;
		tracing::info!(uid, ip = %a.ip, port = a.port, "served axon on-chain");
	}
	if !model_current {
		client.commit_model(hotkey, a.netuid, H256(a.model_hash), H256(a.tokenizer_hash)).await?;
		tracing::info!(uid, model = %hex::encode(a.model_hash), "committed model on-chain");
	}
	Ok(Announced { uid, served_axon: !axon_current, committed_model: !model_current })
}

/// The caller table of a metagraph.
pub fn callers_of(mg: &Metagraph) -> HashMap<Hotkey, Caller> {
	mg.neurons
		.iter()
		.map(|n| {
			let hk = Hotkey(n.hotkey.0);
			(hk, Caller { uid: n.uid, stake: n.stake, validator_permit: n.validator_permit })
		})
		.collect()
}

/// Reads the metagraph into `callers` now, then every `every` until the task is dropped.
/// Failed reads keep the last snapshot (logged), so a chain hiccup does not lock out
/// validators.
pub async fn refresh_callers(client: TesseraClient, netuid: u16, callers: Arc<Callers>, every: Duration) {
	let mut tick = tokio::time::interval(every);
	tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
	loop {
		tick.tick().await;
		match client.metagraph(netuid).await {
			Ok(mg) => {
				callers.replace(callers_of(&mg));
				tracing::debug!(block = mg.block, neurons = mg.neurons.len(), "metagraph refreshed");
			}
			Err(e) => tracing::warn!(error = %e, "metagraph refresh failed; keeping the last snapshot"),
		}
	}
}
