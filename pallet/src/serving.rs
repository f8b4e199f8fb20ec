//! Axon serving and model commitments.
//!
//! `serve_axon` accepts only global addresses (see [`crate::address`]) unless the subnet
//! sets `allow_local_axons` (development and local test networks): a loopback, private,
//! link-local, shared, documentation, multicast or reserved address, also in an IPv6
//! form (mapped, NAT64, 6to4), fails with `AxonAddressNotGlobal`.

use crate::*;
use frame_support::{ensure, pallet_prelude::*};
use sp_core::H256;

/// Protocols an axon may announce: 0 = gRPC `tessera.v1.Miner`, 1 = the same over TLS
/// with the certificate bound to the hotkey (`tessera_proto::transport`).
pub const MAX_AXON_PROTOCOL: u8 = 1;

impl<T: Config> Pallet<T> {
	#[allow(clippy::too_many_arguments)]
	pub(crate) fn do_serve_axon(
		hotkey: T::AccountId,
		netuid: NetUid,
		version: u32,
		ip: u128,
		port: u16,
		ip_type: u8,
		protocol: u8,
	) -> DispatchResult {
		let params = Self::hyperparams_of(netuid)?;
		ensure!(Self::is_registered(netuid, &hotkey), Error::<T>::HotkeyNotRegistered);
		ensure!(ip_type == 4 || ip_type == 6, Error::<T>::InvalidIpType);
		address::check_axon_address(ip_type, ip, params.allow_local_axons).map_err(|e| match e {
			address::AddressError::Invalid => Error::<T>::InvalidIpAddress,
			address::AddressError::NotGlobal => Error::<T>::AxonAddressNotGlobal,
		})?;
		ensure!(port != 0, Error::<T>::InvalidPort);
		ensure!(protocol <= MAX_AXON_PROTOCOL, Error::<T>::InvalidProtocol);
		let now = Self::current_block();
		if let Some(prev) = Axons::<T>::get(netuid, &hotkey) {
			ensure!(
				now.saturating_sub(prev.block) >= params.serving_rate_limit,
				Error::<T>::ServingRateLimitExceeded
			);
		}
		let axon = AxonInfo { block: now, version, ip, port, ip_type, protocol };
		Axons::<T>::insert(netuid, &hotkey, &axon);
		Self::deposit_event(Event::AxonServed { netuid, hotkey, axon });
		Ok(())
	}

	pub(crate) fn do_commit_model(
		hotkey: T::AccountId,
		netuid: NetUid,
		model_hash: H256,
		tokenizer_hash: H256,
	) -> DispatchResult {
		let params = Self::hyperparams_of(netuid)?;
		ensure!(Self::is_registered(netuid, &hotkey), Error::<T>::HotkeyNotRegistered);
		ensure!(
			params.tokenizer_hash == H256::zero() || params.tokenizer_hash == tokenizer_hash,
			Error::<T>::TokenizerMismatch
		);
		if let Some(owner) = Owner::<T>::get(&hotkey) {
			ensure!(!BarredModels::<T>::contains_key(netuid, (owner, model_hash)), Error::<T>::ModelBarred);
		}
		if let Some(prev) = ModelCommitments::<T>::get(netuid, &hotkey) {
			ensure!(
				prev.model_hash != model_hash || prev.tokenizer_hash != tokenizer_hash,
				Error::<T>::ModelAlreadyCommitted
			);
		}
		let now = Self::current_block();
		let first_committed_at = match FirstModelCommit::<T>::get(netuid, model_hash) {
			Some((block, _)) => block,
			None => {
				FirstModelCommit::<T>::insert(netuid, model_hash, (now, hotkey.clone()));
				now
			},
		};
		ModelCommitments::<T>::insert(
			netuid,
			&hotkey,
			ModelCommitment { model_hash, tokenizer_hash, block: now },
		);
		Self::deposit_event(Event::ModelCommitted {
			netuid,
			hotkey,
			model_hash,
			tokenizer_hash,
			first_committed_at,
		});
		Ok(())
	}
}

/// Whether `ip` may be an axon address (see [`crate::address`]): never unspecified,
/// broadcast or out of range; only global addresses unless `allow_local`.
pub fn is_valid_ip(ip_type: u8, ip: u128, allow_local: bool) -> bool {
	address::check_axon_address(ip_type, ip, allow_local).is_ok()
}
