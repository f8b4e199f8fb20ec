//! Storage migrations, run from the pallet's `on_runtime_upgrade` hook.
//!
//! - v1 -> v2: `SubnetHyperparams` gained the audit fields (`audits_enabled`,
//!   `miner_bond`, `fraud_threshold`, `fraud_window`, `slash_to_reporters`). Existing
//!   subnets keep every value and get the defaults of the new fields (audits off).
//! - v2 -> v3: `SubnetHyperparams` gained `max_model_bytes` (existing subnets get the
//!   default, 4 GiB). `FraudReports` moved from `(netuid, uid)` to `(netuid, hotkey)` keys
//!   and carry the disputed digest: reports made before the runtime checked evidence are
//!   backed by nothing it can verify, so they are dropped (a bounded clear: at most one
//!   entry per uid of every subnet).
//! - v3 -> v4: a registered hotkey holds a sufficient reference on its account (so a
//!   hotkey with no balance can sign its free operations, see [`crate::feeless`]). Every
//!   hotkey registered on some subnet gets one; empty `HotkeyNetworks` entries are
//!   removed. `StakingHotkeys` (the coldkey index of `Stake`) is built from `Stake`.
//!   Bounded by the number of registered neurons and stake positions.

use crate::*;
use alloc::vec::Vec;
use codec::Decode;
use frame_support::{pallet_prelude::*, traits::StorageVersion};
use sp_core::H256;

/// `SubnetHyperparams` as storage version 1 encoded it.
#[derive(Decode)]
struct SubnetHyperparamsV1 {
	tempo: u16,
	kappa: u16,
	bonds_moving_average: u64,
	yuma3_enabled: bool,
	liquid_alpha_enabled: bool,
	alpha_low: u16,
	alpha_high: u16,
	max_allowed_uids: u16,
	max_allowed_validators: u16,
	min_allowed_weights: u16,
	max_weight_limit: u16,
	immunity_period: u16,
	activity_cutoff: u16,
	weights_rate_limit: u64,
	serving_rate_limit: u64,
	weights_version_key: u64,
	commit_reveal_enabled: bool,
	commit_reveal_period: u64,
	burn: Balance,
	min_burn: Balance,
	max_burn: Balance,
	target_registrations_per_interval: u16,
	adjustment_interval: u16,
	max_registrations_per_block: u16,
	registration_allowed: bool,
	weights_min_stake: Balance,
	tokenizer_hash: H256,
	allow_local_axons: bool,
}

/// `SubnetHyperparams` as storage version 2 encoded it: version 1 plus the audit fields.
#[derive(Decode)]
struct SubnetHyperparamsV2 {
	v1: SubnetHyperparamsV1,
	audits_enabled: bool,
	miner_bond: Balance,
	fraud_threshold: u16,
	fraud_window: u64,
	slash_to_reporters: bool,
}

impl From<SubnetHyperparamsV2> for SubnetHyperparams {
	fn from(o: SubnetHyperparamsV2) -> Self {
		Self {
			audits_enabled: o.audits_enabled,
			miner_bond: o.miner_bond,
			fraud_threshold: o.fraud_threshold,
			fraud_window: o.fraud_window,
			slash_to_reporters: o.slash_to_reporters,
			..o.v1.into()
		}
	}
}

impl From<SubnetHyperparamsV1> for SubnetHyperparams {
	fn from(o: SubnetHyperparamsV1) -> Self {
		Self {
			tempo: o.tempo,
			kappa: o.kappa,
			bonds_moving_average: o.bonds_moving_average,
			yuma3_enabled: o.yuma3_enabled,
			liquid_alpha_enabled: o.liquid_alpha_enabled,
			alpha_low: o.alpha_low,
			alpha_high: o.alpha_high,
			max_allowed_uids: o.max_allowed_uids,
			max_allowed_validators: o.max_allowed_validators,
			min_allowed_weights: o.min_allowed_weights,
			max_weight_limit: o.max_weight_limit,
			immunity_period: o.immunity_period,
			activity_cutoff: o.activity_cutoff,
			weights_rate_limit: o.weights_rate_limit,
			serving_rate_limit: o.serving_rate_limit,
			weights_version_key: o.weights_version_key,
			commit_reveal_enabled: o.commit_reveal_enabled,
			commit_reveal_period: o.commit_reveal_period,
			burn: o.burn,
			min_burn: o.min_burn,
			max_burn: o.max_burn,
			target_registrations_per_interval: o.target_registrations_per_interval,
			adjustment_interval: o.adjustment_interval,
			max_registrations_per_block: o.max_registrations_per_block,
			registration_allowed: o.registration_allowed,
			weights_min_stake: o.weights_min_stake,
			tokenizer_hash: o.tokenizer_hash,
			allow_local_axons: o.allow_local_axons,
			..Default::default()
		}
	}
}

/// Bring the pallet's storage from its on-chain version to the in-code version.
pub fn migrate<T: Config>() -> Weight {
	let on_chain = Pallet::<T>::on_chain_storage_version();
	let mut weight = T::DbWeight::get().reads(1);
	if on_chain < 3 {
		let subnets = if on_chain < 2 {
			translate_hyperparams::<T, SubnetHyperparamsV1>()
		} else {
			translate_hyperparams::<T, SubnetHyperparamsV2>()
		};
		let limit = (subnets as u32).saturating_mul(T::MaxAllowedUidsLimit::get() as u32).max(1);
		let cleared = FraudReports::<T>::clear(limit, None);
		StorageVersion::new(3).put::<Pallet<T>>();
		let reports = cleared.loops as u64;
		weight = weight.saturating_add(T::DbWeight::get().reads_writes(subnets + reports, subnets + reports + 1));
	}
	if on_chain < 4 {
		let hotkeys = give_hotkeys_sufficients::<T>();
		let positions = index_stake_by_coldkey::<T>();
		StorageVersion::new(4).put::<Pallet<T>>();
		weight = weight
			.saturating_add(T::DbWeight::get().reads_writes(2 * hotkeys + positions, hotkeys + positions + 1));
	}
	weight
}

/// v3 -> v4: a `StakingHotkeys` entry for every `Stake` position; returns how many.
fn index_stake_by_coldkey<T: Config>() -> u64 {
	let mut positions: u64 = 0;
	for (hotkey, coldkey) in Stake::<T>::iter_keys() {
		StakingHotkeys::<T>::insert(&coldkey, &hotkey, ());
		positions += 1;
	}
	positions
}

/// v3 -> v4: one sufficient reference per hotkey registered on some subnet; returns the
/// number of `HotkeyNetworks` entries visited.
fn give_hotkeys_sufficients<T: Config>() -> u64 {
	let mut visited: u64 = 0;
	HotkeyNetworks::<T>::translate::<Vec<NetUid>, _>(|hotkey, nets| {
		visited += 1;
		if nets.is_empty() {
			return None;
		}
		frame_system::Pallet::<T>::inc_sufficients(&hotkey);
		Some(nets)
	});
	visited
}

/// Re-encode every subnet's hyperparameters from the old layout `Old`. Returns the number
/// of subnets.
fn translate_hyperparams<T: Config, Old: Decode + Into<SubnetHyperparams>>() -> u64 {
	let mut subnets: u64 = 0;
	Hyperparams::<T>::translate::<Old, _>(|_, old| {
		subnets += 1;
		Some(old.into())
	});
	subnets
}
