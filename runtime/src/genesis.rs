//! Genesis presets: `development` (one authority, short tempo) and `local_testnet`
//! (Alice and Bob author with Aura and finalize with GRANDPA).

use crate::{
	AccountId, BalancesConfig, RuntimeGenesisConfig, SudoConfig, TesseraConfig, TOKEN,
};
use alloc::{vec, vec::Vec};
use frame_support::build_struct_json_patch;
use pallet_tessera::SubnetHyperparams;
use serde_json::Value;
use sp_consensus_aura::sr25519::AuthorityId as AuraId;
use sp_consensus_grandpa::AuthorityId as GrandpaId;
use sp_genesis_builder::{self, PresetId};
use sp_keyring::{Ed25519Keyring, Sr25519Keyring};

/// Balance of every endowed development account: one million TSR.
pub const ENDOWMENT: u128 = 1_000_000 * TOKEN;

/// Hyperparameters of subnet 1 on the development chain: a short tempo and small rate
/// limits so that tests and the localnet see epochs within seconds, loopback axons allowed,
/// audits on with a small miner bond (1 TSR) so the localnet exercises fraud reports, and
/// models up to 1 GiB.
pub fn dev_subnet() -> SubnetHyperparams {
	SubnetHyperparams {
		tempo: 10,
		weights_rate_limit: 2,
		serving_rate_limit: 2,
		immunity_period: 20,
		activity_cutoff: 1_000,
		max_registrations_per_block: 16,
		target_registrations_per_interval: 32,
		adjustment_interval: 360,
		allow_local_axons: true,
		audits_enabled: true,
		miner_bond: TOKEN,
		fraud_window: 1_000,
		max_model_bytes: 1 << 30,
		..Default::default()
	}
}

/// Hyperparameters of subnet 1 on the local multi-node testnet (audits on, default bond).
pub fn local_subnet() -> SubnetHyperparams {
	SubnetHyperparams { tempo: 100, allow_local_axons: true, audits_enabled: true, ..Default::default() }
}

fn genesis(
	authorities: Vec<(AuraId, GrandpaId)>,
	endowed: Vec<AccountId>,
	root: AccountId,
	subnet: SubnetHyperparams,
) -> Value {
	build_struct_json_patch!(RuntimeGenesisConfig {
		balances: BalancesConfig {
			balances: endowed.iter().cloned().map(|k| (k, ENDOWMENT)).collect::<Vec<_>>(),
		},
		aura: pallet_aura::GenesisConfig {
			authorities: authorities.iter().map(|x| x.0.clone()).collect::<Vec<_>>(),
		},
		grandpa: pallet_grandpa::GenesisConfig {
			authorities: authorities.iter().map(|x| (x.1.clone(), 1)).collect::<Vec<_>>(),
		},
		sudo: SudoConfig { key: Some(root) },
		tessera: TesseraConfig { subnets: vec![(1, subnet)] },
	})
}

fn authority(key: Sr25519Keyring, grandpa: Ed25519Keyring) -> (AuraId, GrandpaId) {
	(key.public().into(), grandpa.public().into())
}

/// The development preset: Alice authors, is sudo; all well-known dev accounts funded.
pub fn development() -> Value {
	genesis(
		vec![authority(Sr25519Keyring::Alice, Ed25519Keyring::Alice)],
		Sr25519Keyring::well_known().map(|k| k.to_account_id()).collect(),
		Sr25519Keyring::Alice.to_account_id(),
		dev_subnet(),
	)
}

/// The local testnet preset: Alice and Bob author and vote; Alice is sudo.
pub fn local_testnet() -> Value {
	genesis(
		vec![
			authority(Sr25519Keyring::Alice, Ed25519Keyring::Alice),
			authority(Sr25519Keyring::Bob, Ed25519Keyring::Bob),
		],
		Sr25519Keyring::well_known().map(|k| k.to_account_id()).collect(),
		Sr25519Keyring::Alice.to_account_id(),
		local_subnet(),
	)
}

/// The JSON patch of preset `id`, if it exists.
pub fn get_preset(id: &PresetId) -> Option<Vec<u8>> {
	let patch = match id.as_ref() {
		sp_genesis_builder::DEV_RUNTIME_PRESET => development(),
		sp_genesis_builder::LOCAL_TESTNET_RUNTIME_PRESET => local_testnet(),
		_ => return None,
	};
	Some(serde_json::to_string(&patch).expect("serializing a JSON value cannot fail").into_bytes())
}

/// Names of the presets.
pub fn preset_names() -> Vec<PresetId> {
	vec![
		PresetId::from(sp_genesis_builder::DEV_RUNTIME_PRESET),
		PresetId::from(sp_genesis_builder::LOCAL_TESTNET_RUNTIME_PRESET),
	]
}
