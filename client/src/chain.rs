//! [`TesseraClient`]: typed calls and runtime-API reads against a Tessera node.

use crate::{
	error::ClientError,
	keys::{self, Keypair},
	runtime, AccountId, EscrowedBond, Hyperparam, Metagraph, NeuronInfo, SubnetHyperparams, H256,
};
use subxt::{
	error::TransactionEventsError,
	tx::Payload,
	OnlineClient, SubstrateConfig,
};

/// Fraud evidence as `report_fraud` takes it: one step the accused miner signed for the
/// reporting validator (see `tessera_proto::receipt`). Plain bytes, so callers need not
/// touch the generated runtime types.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FraudEvidenceArgs {
	/// The model the miner said it ran (its on-chain commitment).
	pub model_hash: [u8; 32],
	/// Every digest of the signed step: `(position, context hash, distribution hash)`.
	pub digests: Vec<(u32, [u8; 32], [u8; 32])>,
	/// Which digest is disputed.
	pub index: u32,
	/// The miner's sr25519 signature of the step.
	pub signature: [u8; 64],
	/// Hash of the full evidence the validator keeps.
	pub evidence_hash: [u8; 32],
}

impl FraudEvidenceArgs {
	/// The runtime's `FraudEvidence`.
	pub fn to_runtime(&self) -> runtime::runtime_types::pallet_tessera::types::FraudEvidence {
		use runtime::runtime_types::{bounded_collections::bounded_vec::BoundedVec, pallet_tessera::types as t};
		let digests = self
			.digests
			.iter()
			.map(|(position, context, distribution)| t::AnswerDigest {
				position: *position,
				context: *context,
				distribution: *distribution,
			})
			.collect();
		t::FraudEvidence {
			model_hash: H256(self.model_hash),
			digests: BoundedVec(digests),
			index: self.index,
			signature: self.signature,
			evidence_hash: H256(self.evidence_hash),
		}
	}
}

/// Events of a finalized, successful extrinsic.
pub type Events = subxt::extrinsics::ExtrinsicEvents<SubstrateConfig>;

/// Result of a finalized, successful extrinsic.
pub struct TxOutcome {
	/// Block that includes the extrinsic.
	pub block_hash: H256,
	/// Its events.
	pub events: Events,
}

impl std::fmt::Debug for TxOutcome {
	fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
		f.debug_struct("TxOutcome").field("block_hash", &self.block_hash).finish_non_exhaustive()
	}
}

/// A connection to a Tessera node. Clones share the connection and the per-signer
/// submission locks.
#[derive(Clone)]
pub struct TesseraClient {
	api: OnlineClient<SubstrateConfig>,
	/// One lock per signer: its transactions go one at a time (see [`TesseraClient::submit`]).
	signers: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<[u8; 32], std::sync::Arc<tokio::sync::Mutex<()>>>>>,
}

impl TesseraClient {
	/// Connect to a node's WebSocket RPC endpoint, e.g. `ws://127.0.0.1:9944`.
	pub async fn connect(url: &str) -> Result<Self, ClientError> {
		let api = OnlineClient::<SubstrateConfig>::from_url(url).await.map_err(subxt::Error::from)?;
		Ok(Self { api, signers: Default::default() })
	}

	/// The underlying subxt client.
	pub fn api(&self) -> &OnlineClient<SubstrateConfig> {
		&self.api
	}

	/// Sign `call` with `signer`, submit it, wait until it is finalized and succeeded.
	/// Nonces are read from the chain's state, so transactions of one signer go one at a
	/// time: concurrent calls (from clones of this client too) wait for each other.
	pub async fn submit<Call: Payload>(&self, call: &Call, signer: &Keypair) -> Result<TxOutcome, ClientError> {
		let lock = {
			let mut signers = self.signers.lock().unwrap_or_else(|p| p.into_inner());
			signers.entry(signer.public_key().0).or_default().clone()
		};
		let _turn = lock.lock().await;
		let at = self.api.at_current_block().await.map_err(subxt::Error::from)?;
		let mut txs = at.transactions();
		let progress = txs
			.sign_and_submit_then_watch_default(call, signer)
			.await
			.map_err(|e| ClientError::Rejected(e.to_string()))?;
		let in_block = progress.wait_for_finalized().await.map_err(|e| match e {
			// Invalid (e.g. cannot pay the fee) or dropped by the pool.
			subxt::error::TransactionProgressError::TransactionStatusError(s) => ClientError::Rejected(s.to_string()),
			other => ClientError::Subxt(other.into()),
		})?;
		let block_hash = in_block.block_hash();
		match in_block.wait_for_success().await {
			Ok(events) => Ok(TxOutcome { block_hash, events }),
			Err(TransactionEventsError::ExtrinsicFailed(e)) => Err(e.into()),
			Err(e) => Err(ClientError::Subxt(e.into())),
		}
	}

	/// Submit `call` through `pallet-sudo` signed by the sudo key.
	pub async fn sudo(&self, call: runtime::runtime_types::tessera_runtime::RuntimeCall, sudo: &Keypair) -> Result<TxOutcome, ClientError> {
		let outcome = self.submit(&runtime::tx().sudo().sudo(call), sudo).await?;
		// Sudo succeeds even when the inner call fails; surface the inner error.
		if let Some(done) = outcome.events.find_first::<runtime::sudo::events::Sudid>() {
			let done = done.map_err(subxt::Error::from)?;
			if let Err(e) = done.sudo_result {
				let metadata = self.api.at_current_block().await.map_err(subxt::Error::from)?.metadata();
				return Err(sudo_error(&metadata, e));
			}
		}
		Ok(outcome)
	}

	// ------------------------------------------------------------------------------
	// pallet-tessera calls
	// ------------------------------------------------------------------------------

	/// Register `hotkey` on `netuid`, burning from `coldkey`. Returns the assigned uid.
	pub async fn burned_register(&self, coldkey: &Keypair, netuid: u16, hotkey: &AccountId) -> Result<u16, ClientError> {
		let call = runtime::tx().tessera().burned_register(netuid, hotkey.clone());
		let outcome = self.submit(&call, coldkey).await?;
		let registered = outcome
			.events
			.find_first::<runtime::tessera::events::NeuronRegistered>()
			.ok_or_else(|| ClientError::NotFound("NeuronRegistered event".into()))?
			.map_err(subxt::Error::from)?;
		Ok(registered.uid)
	}

	/// Announce the plaintext gRPC axon `hotkey` serves on `netuid` (protocol 0).
	pub async fn serve_axon(
		&self,
		hotkey: &Keypair,
		netuid: u16,
		ip: std::net::IpAddr,
		port: u16,
		version: u32,
	) -> Result<TxOutcome, ClientError> {
		self.serve_axon_with(hotkey, netuid, ip, port, version, 0).await
	}

	/// Announce the axon `hotkey` serves on `netuid` with `protocol` (0: gRPC, 1: gRPC
	/// over TLS with the certificate bound to the hotkey).
	pub async fn serve_axon_with(
		&self,
		hotkey: &Keypair,
		netuid: u16,
		ip: std::net::IpAddr,
		port: u16,
		version: u32,
		protocol: u8,
	) -> Result<TxOutcome, ClientError> {
		let (ip, ip_type) = match ip {
			std::net::IpAddr::V4(v4) => (u32::from(v4) as u128, 4u8),
			std::net::IpAddr::V6(v6) => (u128::from(v6), 6u8),
		};
		let call = runtime::tx().tessera().serve_axon(netuid, version, ip, port, ip_type, protocol);
		self.submit(&call, hotkey).await
	}

	/// Commit the model (and tokenizer) `hotkey` serves on `netuid`.
	pub async fn commit_model(&self, hotkey: &Keypair, netuid: u16, model_hash: H256, tokenizer_hash: H256) -> Result<TxOutcome, ClientError> {
		self.submit(&runtime::tx().tessera().commit_model(netuid, model_hash, tokenizer_hash), hotkey).await
	}

	/// Stake `amount` from `coldkey` into `hotkey`'s pool.
	pub async fn add_stake(&self, coldkey: &Keypair, hotkey: &AccountId, amount: u128) -> Result<TxOutcome, ClientError> {
		self.submit(&runtime::tx().tessera().add_stake(hotkey.clone(), amount), coldkey).await
	}

	/// Withdraw `amount` from `coldkey`'s position in `hotkey`'s pool.
	pub async fn remove_stake(&self, coldkey: &Keypair, hotkey: &AccountId, amount: u128) -> Result<TxOutcome, ClientError> {
		self.submit(&runtime::tx().tessera().remove_stake(hotkey.clone(), amount), coldkey).await
	}

	/// Set `hotkey`'s delegate take (`u16::MAX` = 100%), signed by its owner.
	pub async fn set_delegate_take(&self, coldkey: &Keypair, hotkey: &AccountId, take: u16) -> Result<TxOutcome, ClientError> {
		self.submit(&runtime::tx().tessera().set_delegate_take(hotkey.clone(), take), coldkey).await
	}

	/// Set weights directly (subnets without commit-reveal).
	pub async fn set_weights(&self, hotkey: &Keypair, netuid: u16, uids: Vec<u16>, weights: Vec<u16>, version_key: u64) -> Result<TxOutcome, ClientError> {
		self.submit(&runtime::tx().tessera().set_weights(netuid, uids, weights, version_key), hotkey).await
	}

	/// Commit to weights (commit-reveal subnets); see [`weights_commit_hash`].
	pub async fn commit_weights(&self, hotkey: &Keypair, netuid: u16, hash: H256) -> Result<TxOutcome, ClientError> {
		self.submit(&runtime::tx().tessera().commit_weights(netuid, hash), hotkey).await
	}

	/// Reveal weights committed earlier.
	pub async fn reveal_weights(
		&self,
		hotkey: &Keypair,
		netuid: u16,
		uids: Vec<u16>,
		values: Vec<u16>,
		salt: Vec<u16>,
		version_key: u64,
	) -> Result<TxOutcome, ClientError> {
		self.submit(&runtime::tx().tessera().reveal_weights(netuid, uids, values, salt, version_key), hotkey)
			.await
	}

	/// Report neuron `uid` of `netuid` for fraud, signed by a validator `hotkey` holding a
	/// permit. `evidence` is a step the miner signed for this validator (the runtime
	/// checks the signature and that its model hash is the miner's commitment). The
	/// returned events include `FraudReported` and, when this report crossed the subnet's
	/// threshold, `MinerSlashed`, `ModelBarred` and `MinerDeregistered`.
	pub async fn report_fraud(&self, hotkey: &Keypair, netuid: u16, uid: u16, evidence: &FraudEvidenceArgs) -> Result<TxOutcome, ClientError> {
		self.submit(&runtime::tx().tessera().report_fraud(netuid, uid, evidence.to_runtime()), hotkey).await
	}

	/// Report the escrowed `accused` hotkey of `netuid` (a reported miner that left with
	/// its bond in escrow) for fraud; `evidence` as for [`TesseraClient::report_fraud`],
	/// against the model it had committed.
	pub async fn report_escrowed(
		&self,
		hotkey: &Keypair,
		netuid: u16,
		accused: &AccountId,
		evidence: &FraudEvidenceArgs,
	) -> Result<TxOutcome, ClientError> {
		let call = runtime::tx().tessera().report_escrowed(netuid, accused.clone(), evidence.to_runtime());
		self.submit(&call, hotkey).await
	}

	/// Return the escrowed bond of `hotkey` on `netuid` to its owner once every report
	/// against it expired (anyone may sign).
	pub async fn release_escrow(&self, signer: &Keypair, netuid: u16, hotkey: &AccountId) -> Result<TxOutcome, ClientError> {
		self.submit(&runtime::tx().tessera().release_escrow(netuid, hotkey.clone()), signer).await
	}

	/// Take `hotkey` off `netuid` (signed by its owner `coldkey`); its bond is returned,
	/// or held in escrow while fraud reports against it still count.
	pub async fn deregister(&self, coldkey: &Keypair, netuid: u16, hotkey: &AccountId) -> Result<TxOutcome, ClientError> {
		self.submit(&runtime::tx().tessera().deregister(netuid, hotkey.clone()), coldkey).await
	}

	/// Root: change a hyperparameter through sudo.
	pub async fn sudo_set_hyperparam(&self, sudo: &Keypair, netuid: u16, param: Hyperparam) -> Result<TxOutcome, ClientError> {
		use runtime::runtime_types::{pallet_tessera::pallet::Call, tessera_runtime::RuntimeCall};
		self.sudo(RuntimeCall::Tessera(Call::sudo_set_hyperparam { netuid, param }), sudo).await
	}

	/// Root: create a subnet through sudo.
	pub async fn sudo_register_network(&self, sudo: &Keypair, netuid: u16, params: Option<SubnetHyperparams>) -> Result<TxOutcome, ClientError> {
		use runtime::runtime_types::{pallet_tessera::pallet::Call, tessera_runtime::RuntimeCall};
		self.sudo(RuntimeCall::Tessera(Call::sudo_register_network { netuid, params }), sudo).await
	}

	/// Root: set a subnet's relative share of block emission through sudo.
	pub async fn sudo_set_emission_share(&self, sudo: &Keypair, netuid: u16, share: u16) -> Result<TxOutcome, ClientError> {
		use runtime::runtime_types::{pallet_tessera::pallet::Call, tessera_runtime::RuntimeCall};
		self.sudo(RuntimeCall::Tessera(Call::sudo_set_emission_share { netuid, share }), sudo).await
	}

	/// Transfer `amount` from `from` to `to` (keeping `from` alive).
	pub async fn transfer(&self, from: &Keypair, to: &AccountId, amount: u128) -> Result<TxOutcome, ClientError> {
		let call = runtime::tx().balances().transfer_keep_alive(to.clone().into(), amount);
		self.submit(&call, from).await
	}

	// ------------------------------------------------------------------------------
	// Reads (finalized state)
	// ------------------------------------------------------------------------------

	/// Number of the latest finalized block.
	pub async fn finalized_number(&self) -> Result<u64, ClientError> {
		Ok(self.api.at_current_block().await.map_err(subxt::Error::from)?.block_number())
	}

	/// Free balance of `who`.
	pub async fn free_balance(&self, who: &AccountId) -> Result<u128, ClientError> {
		Ok(self.account(who).await?.free)
	}

	/// Balance data (free, reserved/held, frozen) of `who`; zero for unknown accounts.
	pub async fn account(&self, who: &AccountId) -> Result<runtime::runtime_types::pallet_balances::types::AccountData<u128>, ClientError> {
		let at = self.api.at_current_block().await.map_err(subxt::Error::from)?;
		let entry = at.storage().entry(runtime::storage().system().account()).map_err(subxt::Error::from)?;
		let info = entry.fetch((who.clone(),)).await.map_err(subxt::Error::from)?.decode().map_err(subxt::Error::from)?;
		Ok(info.data)
	}

	/// The whole metagraph of `netuid` in one runtime-API call.
	pub async fn metagraph(&self, netuid: u16) -> Result<Metagraph, ClientError> {
		let at = self.api.at_current_block().await.map_err(subxt::Error::from)?;
		at.runtime_apis()
			.call(runtime::runtime_apis().tessera_api().metagraph(netuid))
			.await
			.map_err(subxt::Error::from)?
			.ok_or_else(|| ClientError::NotFound(format!("subnet {netuid}")))
	}

	/// One neuron of `netuid`.
	pub async fn neuron(&self, netuid: u16, uid: u16) -> Result<NeuronInfo, ClientError> {
		let at = self.api.at_current_block().await.map_err(subxt::Error::from)?;
		at.runtime_apis()
			.call(runtime::runtime_apis().tessera_api().neuron(netuid, uid))
			.await
			.map_err(subxt::Error::from)?
			.ok_or_else(|| ClientError::NotFound(format!("uid {uid} on subnet {netuid}")))
	}

	/// Hyperparameters of `netuid`.
	pub async fn hyperparams(&self, netuid: u16) -> Result<SubnetHyperparams, ClientError> {
		let at = self.api.at_current_block().await.map_err(subxt::Error::from)?;
		at.runtime_apis()
			.call(runtime::runtime_apis().tessera_api().hyperparams(netuid))
			.await
			.map_err(subxt::Error::from)?
			.ok_or_else(|| ClientError::NotFound(format!("subnet {netuid}")))
	}

	/// Netuids of all subnets.
	pub async fn subnets(&self) -> Result<Vec<u16>, ClientError> {
		let at = self.api.at_current_block().await.map_err(subxt::Error::from)?;
		Ok(at.runtime_apis().call(runtime::runtime_apis().tessera_api().subnets()).await.map_err(subxt::Error::from)?)
	}

	/// The escrowed bond of `hotkey` on `netuid`, if its bond is in escrow.
	pub async fn escrow(&self, netuid: u16, hotkey: &AccountId) -> Result<Option<EscrowedBond>, ClientError> {
		let at = self.api.at_current_block().await.map_err(subxt::Error::from)?;
		let entry = at.storage().entry(runtime::storage().tessera().escrowed_bonds()).map_err(subxt::Error::from)?;
		let value = entry.try_fetch((netuid, hotkey.clone())).await.map_err(subxt::Error::from)?;
		match value {
			Some(v) => Ok(Some(v.decode().map_err(subxt::Error::from)?)),
			None => Ok(None),
		}
	}

	/// `coldkey`'s free, held and transferable balance and every stake position with its
	/// current value, in one runtime API call (`TesseraApi::coldkey_info`).
	pub async fn coldkey_info(&self, coldkey: &AccountId) -> Result<crate::ColdkeyInfo, ClientError> {
		let at = self.api.at_current_block().await.map_err(subxt::Error::from)?;
		Ok(at
			.runtime_apis()
			.call(runtime::runtime_apis().tessera_api().coldkey_info(coldkey.clone()))
			.await
			.map_err(subxt::Error::from)?)
	}

	/// Value of `coldkey`'s stake in `hotkey`'s pool (0 without a position).
	pub async fn stake_of(&self, hotkey: &AccountId, coldkey: &AccountId) -> Result<u128, ClientError> {
		let info = self.coldkey_info(coldkey).await?;
		Ok(info.positions.iter().find(|p| &p.hotkey == hotkey).map_or(0, |p| p.value))
	}

	/// Every stake position of `coldkey`: (hotkey, value).
	pub async fn stake_positions(&self, coldkey: &AccountId) -> Result<Vec<(AccountId, u128)>, ClientError> {
		let info = self.coldkey_info(coldkey).await?;
		Ok(info.positions.into_iter().map(|p| (p.hotkey, p.value)).collect())
	}
}

/// The commit-reveal hash the pallet expects:
/// BlakeTwo256(SCALE(hotkey, netuid, uids, values, salt, version_key)).
pub fn weights_commit_hash(hotkey: &AccountId, netuid: u16, uids: &[u16], values: &[u16], salt: &[u16], version_key: u64) -> H256 {
	use codec::Encode;
	let encoded = (hotkey.0, netuid, uids, values, salt, version_key).encode();
	H256(sp_crypto_hashing::blake2_256(&encoded))
}

fn sudo_error(metadata: &subxt::Metadata, e: runtime::runtime_types::sp_runtime::DispatchError) -> ClientError {
	use runtime::runtime_types::sp_runtime::DispatchError as D;
	match e {
		D::Module(m) => {
			let index = m.index;
			let error = m.error[0];
			match metadata.pallet_by_error_index(index).and_then(|p| {
				p.error_variant_by_index(error).map(|v| (p.name().to_string(), v.name.clone()))
			}) {
				Some((pallet, error)) => ClientError::Dispatch { pallet, error },
				None => ClientError::DispatchOther(format!("module error {index}/{error}")),
			}
		},
		other => ClientError::DispatchOther(format!("{other:?}")),
	}
}

/// Account id of a key pair (re-exported for convenience).
pub fn account_of(key: &Keypair) -> AccountId {
	keys::account_id(key)
}
