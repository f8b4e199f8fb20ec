//! The node service: client, database, import queue, network, RPC and consensus tasks.
//!
//! Two consensus set-ups share the same client and networking code:
//! - **development chains** (`--dev`, chain type `Development`): blocks are authored by
//!   `sc-consensus-manual-seal`, driven by a timer that seals *and finalizes* a block every
//!   `--dev-block-time` milliseconds. No GRANDPA voter runs. See [`start_dev_authoring`].
//! - **every other chain** (`--chain local`, JSON specs): Aura block production and GRANDPA
//!   finality, as in the Substrate solochain template. See [`start_aura_authoring`] and
//!   [`start_grandpa_voter`].

use codec::Decode;
use futures::{channel::mpsc, FutureExt, SinkExt};
use sc_client_api::{Backend, BlockBackend, StorageProvider};
use sc_consensus_aura::{ImportQueueParams, SlotProportion, StartAuraParams};
use sc_consensus_grandpa::SharedVoterState;
use sc_consensus_manual_seal::{
	consensus::aura::AuraConsensusDataProvider, EngineCommand, ManualSealParams,
};
use sc_executor::WasmExecutor;
use sc_network::NetworkBackend;
use sc_network_sync::SyncingService;
use sc_service::{
	error::Error as ServiceError, Configuration, PartialComponents, TaskManager, WarpSyncConfig,
};
use sc_telemetry::{Telemetry, TelemetryHandle, TelemetryWorker};
use sc_transaction_pool_api::OffchainTransactionPoolFactory;
use sp_consensus_aura::sr25519::AuthorityPair as AuraPair;
use sp_core::storage::StorageKey;
use sp_runtime::traits::Block as BlockT;
use std::{sync::Arc, time::Duration};
use tessera_runtime::{opaque::Block, RuntimeApi};

/// Host functions available to the runtime.
type HostFunctions = sp_io::SubstrateHostFunctions;

/// The full client type.
pub type FullClient = sc_service::TFullClient<Block, RuntimeApi, WasmExecutor<HostFunctions>>;
/// The full backend type (ParityDB unless overridden on the command line).
pub type FullBackend = sc_service::TFullBackend<Block>;
/// The fork-choice rule: longest chain.
pub type FullSelectChain = sc_consensus::LongestChain<FullBackend, Block>;
/// The transaction pool type.
pub type FullPool = sc_transaction_pool::TransactionPoolHandle<Block, FullClient>;
/// GRANDPA's block import wrapper around the client.
pub type FullGrandpaBlockImport =
	sc_consensus_grandpa::GrandpaBlockImport<FullBackend, Block, FullClient, FullSelectChain>;
/// Parameters of the GRANDPA voter, generic over the voting rule.
type FullGrandpaParams<VR> = sc_consensus_grandpa::GrandpaParams<
	Block,
	FullClient,
	Arc<dyn sc_network::service::traits::NetworkService>,
	Arc<SyncingService<Block>>,
	FullSelectChain,
	VR,
>;
/// The hash type of [`Block`].
type BlockHash = <Block as BlockT>::Hash;

/// The minimum period of blocks on which GRANDPA justifications are imported and generated.
const GRANDPA_JUSTIFICATION_PERIOD: u32 = 512;

/// Consensus-specific parts of [`new_partial`], which depend on the kind of chain.
// Built once per process: the size difference between the variants does not matter.
#[allow(clippy::large_enum_variant)]
pub enum ConsensusParts {
	/// Development chain: manual seal, blocks are imported straight into the client.
	ManualSeal,
	/// Aura + GRANDPA: the GRANDPA block import used for authoring, and the link to the voter.
	AuraGrandpa {
		/// GRANDPA block import (wrapping the client) that Aura authors through.
		block_import: FullGrandpaBlockImport,
		/// Link half handed to the GRANDPA voter.
		link: sc_consensus_grandpa::LinkHalf<Block, FullClient, FullSelectChain>,
	},
}

/// Reverts consensus data kept in the aux store (GRANDPA's) when blocks are reverted.
pub type AuxRevert = Box<
	dyn FnOnce(
		Arc<FullClient>,
		Arc<FullBackend>,
		sp_runtime::traits::NumberFor<Block>,
	) -> sc_cli::Result<()>,
>;

/// The partial node components: enough for the chain-ops sub-commands
/// (`check-block`, `import-blocks`, `revert`...), and the base of [`new_full`].
pub type Service = PartialComponents<
	FullClient,
	FullBackend,
	FullSelectChain,
	sc_consensus::DefaultImportQueue<Block>,
	FullPool,
	(ConsensusParts, Option<Telemetry>),
>;

/// Builds the client, backend, transaction pool and the import queue that fits the chain:
/// manual seal for development chains, Aura + GRANDPA otherwise.
pub fn new_partial(config: &Configuration) -> Result<Service, ServiceError> {
	let telemetry = config
		.telemetry_endpoints
		.clone()
		.filter(|endpoints| !endpoints.is_empty())
		.map(|endpoints| -> Result<_, sc_telemetry::Error> {
			let worker = TelemetryWorker::new(16)?;
			let telemetry = worker.handle().new_telemetry(endpoints);
			Ok((worker, telemetry))
		})
		.transpose()?;

	let executor = sc_service::new_wasm_executor::<HostFunctions>(&config.executor);
	let (client, backend, keystore_container, task_manager) =
		sc_service::new_full_parts::<Block, RuntimeApi, _>(
			config,
			telemetry.as_ref().map(|(_, telemetry)| telemetry.handle()),
			executor,
			Vec::new(),
		)?;
	let client = Arc::new(client);

	let telemetry = telemetry.map(|(worker, telemetry)| {
		task_manager.spawn_handle().spawn("telemetry", None, worker.run());
		telemetry
	});

	let select_chain = sc_consensus::LongestChain::new(backend.clone());

	let transaction_pool = Arc::from(
		sc_transaction_pool::Builder::new(
			task_manager.spawn_essential_handle(),
			client.clone(),
			config.role.is_authority().into(),
		)
		.with_options(config.transaction_pool.clone())
		.with_prometheus(config.prometheus_registry())
		.build(),
	);

	let (import_queue, consensus) = if crate::chain_spec::is_dev(&*config.chain_spec) {
		let import_queue = sc_consensus_manual_seal::import_queue(
			Box::new(client.clone()),
			&task_manager.spawn_essential_handle(),
			config.prometheus_registry(),
		);
		(import_queue, ConsensusParts::ManualSeal)
	} else {
		aura_grandpa_import_queue(
			config,
			&client,
			&select_chain,
			&task_manager,
			telemetry.as_ref().map(|t| t.handle()),
		)?
	};

	Ok(PartialComponents {
		client,
		backend,
		task_manager,
		import_queue,
		keystore_container,
		select_chain,
		transaction_pool,
		other: (consensus, telemetry),
	})
}

/// The Aura import queue, importing through GRANDPA's block import (which also imports
/// GRANDPA justifications).
fn aura_grandpa_import_queue(
	config: &Configuration,
	client: &Arc<FullClient>,
	select_chain: &FullSelectChain,
	task_manager: &TaskManager,
	telemetry: Option<TelemetryHandle>,
) -> Result<(sc_consensus::DefaultImportQueue<Block>, ConsensusParts), ServiceError> {
	let (block_import, link) = sc_consensus_grandpa::block_import(
		client.clone(),
		GRANDPA_JUSTIFICATION_PERIOD,
		client,
		select_chain.clone(),
		telemetry.clone(),
	)?;

	let cidp_client = client.clone();
	let import_queue = sc_consensus_aura::import_queue::<AuraPair, _, _, _, _, _>(
		ImportQueueParams {
			block_import: block_import.clone(),
			justification_import: Some(Box::new(block_import.clone())),
			client: client.clone(),
			create_inherent_data_providers: move |parent_hash, ()| {
				let client = cidp_client.clone();
				async move {
					let slot_duration =
						sc_consensus_aura::standalone::slot_duration_at(&*client, parent_hash)?;
					let timestamp = sp_timestamp::InherentDataProvider::from_system_time();
					let slot = sp_consensus_aura::inherents::InherentDataProvider::from_timestamp_and_slot_duration(
						*timestamp,
						slot_duration,
					);
					Ok((slot, timestamp))
				}
			},
			spawner: &task_manager.spawn_essential_handle(),
			registry: config.prometheus_registry(),
			check_for_equivocation: Default::default(),
			telemetry,
			compatibility_mode: Default::default(),
		},
	)?;

	Ok((import_queue, ConsensusParts::AuraGrandpa { block_import, link }))
}

/// GRANDPA's networking pieces, created before the network is built.
struct GrandpaNetworking {
	protocol_name: sc_network::ProtocolName,
	notification_service: Box<dyn sc_network::NotificationService>,
}

/// Builds and starts a full node: networking, RPC, offchain workers and consensus.
///
/// `dev_block_time` is the interval of the manual-seal timer; it only matters for
/// development chains.
pub fn new_full<N: NetworkBackend<Block, BlockHash>>(
	config: Configuration,
	dev_block_time: Duration,
) -> Result<TaskManager, ServiceError> {
	let PartialComponents {
		client,
		backend,
		mut task_manager,
		import_queue,
		keystore_container,
		select_chain,
		transaction_pool,
		other: (consensus, mut telemetry),
	} = new_partial(&config)?;

	let mut net_config = sc_network::config::FullNetworkConfiguration::<Block, BlockHash, N>::new(
		&config.network,
		config.prometheus_registry().cloned(),
	);
	let metrics = N::register_notification_metrics(config.prometheus_registry());

	// GRANDPA needs its gossip protocol registered and serves warp-sync proofs.
	let (grandpa_networking, warp_sync_config) = match &consensus {
		ConsensusParts::ManualSeal => (None, None),
		ConsensusParts::AuraGrandpa { link, .. } => {
			let genesis_hash =
				client.block_hash(0).ok().flatten().expect("Genesis block exists; qed");
			let protocol_name =
				sc_consensus_grandpa::protocol_standard_name(&genesis_hash, &config.chain_spec);
			let (protocol_config, notification_service) =
				sc_consensus_grandpa::grandpa_peers_set_config::<_, N>(
					protocol_name.clone(),
					metrics.clone(),
					net_config.peer_store_handle(),
				);
			net_config.add_notification_protocol(protocol_config);

			let warp_sync = Arc::new(sc_consensus_grandpa::warp_proof::NetworkProvider::new(
				backend.clone(),
				link.shared_authority_set().clone(),
				Vec::new(),
			));
			(
				Some(GrandpaNetworking { protocol_name, notification_service }),
				Some(WarpSyncConfig::WithProvider(warp_sync)),
			)
		},
	};

	let (network, system_rpc_tx, tx_handler_controller, sync_service, _bitswap) =
		sc_service::build_network(sc_service::BuildNetworkParams {
			config: &config,
			net_config,
			client: client.clone(),
			transaction_pool: transaction_pool.clone(),
			spawn_handle: task_manager.spawn_handle(),
			spawn_essential_handle: task_manager.spawn_essential_handle(),
			import_queue,
			block_announce_validator_builder: None,
			warp_sync_config,
			block_relay: None,
			metrics,
			gap_sync_body_policy: None,
		})?;

	if config.offchain_worker.enabled {
		let offchain_workers =
			sc_offchain::OffchainWorkers::new(sc_offchain::OffchainWorkerOptions {
				runtime_api_provider: client.clone(),
				is_validator: config.role.is_authority(),
				keystore: Some(keystore_container.keystore()),
				offchain_db: backend.offchain_storage(),
				transaction_pool: Some(OffchainTransactionPoolFactory::new(
					transaction_pool.clone(),
				)),
				network_provider: Arc::new(network.clone()),
				enable_http_requests: true,
				custom_extensions: |_| vec![],
			})?;
		task_manager.spawn_handle().spawn(
			"offchain-workers-runner",
			"offchain-worker",
			offchain_workers.run(client.clone(), task_manager.spawn_handle()).boxed(),
		);
	}

	let role = config.role;
	let force_authoring = config.force_authoring;
	let enable_grandpa = !config.disable_grandpa;
	let node_name = config.network.node_name.clone();
	let prometheus_registry = config.prometheus_registry().cloned();

	let rpc_builder = {
		let client = client.clone();
		let pool = transaction_pool.clone();
		Box::new(move |_| {
			let deps = crate::rpc::FullDeps { client: client.clone(), pool: pool.clone() };
			crate::rpc::create_full(deps).map_err(Into::into)
		})
	};

	sc_service::spawn_tasks(sc_service::SpawnTasksParams {
		network: network.clone(),
		client: client.clone(),
		keystore: keystore_container.keystore(),
		task_manager: &mut task_manager,
		transaction_pool: transaction_pool.clone(),
		rpc_builder,
		backend,
		system_rpc_tx,
		tx_handler_controller,
		sync_service: sync_service.clone(),
		config,
		telemetry: telemetry.as_mut(),
		tracing_execute_block: None,
	})?;

	let proposer_factory = sc_basic_authorship::ProposerFactory::new(
		task_manager.spawn_handle(),
		client.clone(),
		transaction_pool.clone(),
		prometheus_registry.as_ref(),
		telemetry.as_ref().map(|t| t.handle()),
	);

	match consensus {
		ConsensusParts::ManualSeal => {
			if role.is_authority() {
				start_dev_authoring(
					&task_manager,
					client,
					transaction_pool,
					select_chain,
					proposer_factory,
					dev_block_time,
				)?;
			} else {
				log::info!(
					"Development chain without an authority role: following the chain, not sealing"
				);
			}
		},
		ConsensusParts::AuraGrandpa { block_import, link } => {
			if role.is_authority() {
				start_aura_authoring(
					&task_manager,
					client,
					select_chain,
					block_import,
					proposer_factory,
					keystore_container.keystore(),
					sync_service.clone(),
					force_authoring,
					telemetry.as_ref().map(|t| t.handle()),
				)?;
			}

			if enable_grandpa {
				let GrandpaNetworking { protocol_name, notification_service } =
					grandpa_networking.expect("set up for every Aura + GRANDPA chain above; qed");
				let config = sc_consensus_grandpa::Config {
					gossip_duration: Duration::from_millis(333),
					justification_generation_period: GRANDPA_JUSTIFICATION_PERIOD,
					name: Some(node_name),
					observer_enabled: false,
					// Only authorities vote; others follow without a keystore.
					keystore: role.is_authority().then(|| keystore_container.keystore()),
					local_role: role,
					telemetry: telemetry.as_ref().map(|t| t.handle()),
					protocol_name,
				};
				start_grandpa_voter(
					&task_manager,
					sc_consensus_grandpa::GrandpaParams {
						config,
						link,
						network,
						sync: sync_service,
						notification_service,
						voting_rule: sc_consensus_grandpa::VotingRulesBuilder::default().build(),
						prometheus_registry,
						shared_voter_state: SharedVoterState::empty(),
						telemetry: telemetry.as_ref().map(|t| t.handle()),
						offchain_tx_pool_factory: OffchainTransactionPoolFactory::new(
							transaction_pool,
						),
					},
				)?;
			}
		},
	}

	Ok(task_manager)
}

/// Storage key of `pallet_timestamp::Now`: `twox128("Timestamp") ++ twox128("Now")`.
fn timestamp_now_key() -> StorageKey {
	let mut key = sp_io::hashing::twox_128(b"Timestamp").to_vec();
	key.extend_from_slice(&sp_io::hashing::twox_128(b"Now"));
	StorageKey(key)
}

/// Reads `Timestamp::Now` (milliseconds) from the state of block `at`; 0 when unset (genesis).
fn parent_timestamp(client: &FullClient, at: BlockHash) -> Result<u64, sp_blockchain::Error> {
	match client.storage(at, &timestamp_now_key())? {
		Some(data) => u64::decode(&mut &data.0[..]).map_err(|e| {
			sp_blockchain::Error::Backend(format!("Cannot decode Timestamp::Now: {e}"))
		}),
		None => Ok(0),
	}
}

/// Timestamp of the next dev block: the wall clock, but at least one slot after the parent.
///
/// Manual seal derives the Aura slot from the timestamp (`slot = timestamp / slot_duration`,
/// see `AuraConsensusDataProvider`), and `pallet_aura` requires strictly increasing slots, so
/// blocks sealed faster than the slot duration push the chain's clock ahead of the wall clock.
fn next_dev_timestamp(now: u64, parent: u64, slot_duration: u64) -> u64 {
	now.max(parent.saturating_add(slot_duration))
}

/// Starts dev-mode authoring: manual seal, fed by a timer that seals and finalizes a block
/// every `block_time`.
///
/// Each block carries an Aura pre-digest ([`AuraConsensusDataProvider`]) and a timestamp from
/// [`next_dev_timestamp`], so the runtime's Aura and Timestamp pallets accept it even when a
/// restarted node resumes an existing dev chain.
fn start_dev_authoring(
	task_manager: &TaskManager,
	client: Arc<FullClient>,
	transaction_pool: Arc<FullPool>,
	select_chain: FullSelectChain,
	proposer_factory: sc_basic_authorship::ProposerFactory<FullPool, FullClient>,
	block_time: Duration,
) -> Result<(), ServiceError> {
	let slot_duration = sc_consensus_aura::slot_duration(&*client)?;
	let slot_duration_ms = slot_duration.as_millis();

	let (command_sink, commands_stream) = mpsc::channel(16);
	task_manager.spawn_essential_handle().spawn(
		"dev-block-timer",
		Some("block-authoring"),
		dev_block_timer(command_sink, block_time),
	);

	let cidp_client = client.clone();
	let create_inherent_data_providers = move |parent_hash: BlockHash, ()| {
		let client = cidp_client.clone();
		async move {
			let parent = parent_timestamp(&client, parent_hash)?;
			let now = sp_timestamp::Timestamp::current().as_millis();
			let timestamp = next_dev_timestamp(now, parent, slot_duration_ms);
			Ok::<_, Box<dyn std::error::Error + Send + Sync>>(
				sp_timestamp::InherentDataProvider::new(sp_timestamp::Timestamp::new(timestamp)),
			)
		}
	};

	let manual_seal = sc_consensus_manual_seal::run_manual_seal(ManualSealParams {
		block_import: client.clone(),
		env: proposer_factory,
		client,
		pool: transaction_pool,
		commands_stream,
		select_chain,
		consensus_data_provider: Some(Box::new(AuraConsensusDataProvider::new_with_slot_duration(
			slot_duration,
		))),
		create_inherent_data_providers,
	});
	task_manager.spawn_essential_handle().spawn_blocking(
		"manual-seal",
		Some("block-authoring"),
		manual_seal,
	);

	log::info!(
		"🔨 Development chain: sealing and finalizing a block every {} ms (manual seal)",
		block_time.as_millis()
	);
	Ok(())
}

/// Sends `SealNewBlock { create_empty: true, finalize: true }` every `block_time`, waiting
/// for each block to be sealed before asking for the next one.
async fn dev_block_timer(
	mut command_sink: mpsc::Sender<EngineCommand<BlockHash>>,
	block_time: Duration,
) {
	let mut interval = tokio::time::interval(block_time);
	interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
	// The first tick completes immediately; let the node settle for one period first.
	interval.tick().await;

	loop {
		interval.tick().await;
		let (sender, receiver) = futures::channel::oneshot::channel();
		let command = EngineCommand::SealNewBlock {
			create_empty: true,
			finalize: true,
			parent_hash: None,
			sender: Some(sender),
		};
		if command_sink.send(command).await.is_err() {
			log::info!("Manual-seal task stopped; dev block timer exits");
			return;
		}
		match receiver.await {
			Ok(Ok(_created)) => {},
			Ok(Err(e)) => log::warn!("Failed to seal a dev block: {e}"),
			Err(_) => {
				log::info!("Manual-seal task stopped; dev block timer exits");
				return;
			},
		}
	}
}

/// Starts Aura block authoring (authorities only).
#[allow(clippy::too_many_arguments)]
fn start_aura_authoring(
	task_manager: &TaskManager,
	client: Arc<FullClient>,
	select_chain: FullSelectChain,
	block_import: FullGrandpaBlockImport,
	proposer_factory: sc_basic_authorship::ProposerFactory<FullPool, FullClient>,
	keystore: sp_keystore::KeystorePtr,
	sync_service: Arc<SyncingService<Block>>,
	force_authoring: bool,
	telemetry: Option<TelemetryHandle>,
) -> Result<(), ServiceError> {
	let slot_duration = sc_consensus_aura::slot_duration(&*client)?;

	let aura =
		sc_consensus_aura::start_aura::<AuraPair, _, _, _, _, _, _, _, _, _, _>(StartAuraParams {
			slot_duration,
			client,
			select_chain,
			block_import,
			proposer_factory,
			create_inherent_data_providers: move |_, ()| async move {
				let timestamp = sp_timestamp::InherentDataProvider::from_system_time();
				let slot = sp_consensus_aura::inherents::InherentDataProvider::from_timestamp_and_slot_duration(
					*timestamp,
					slot_duration,
				);
				Ok((slot, timestamp))
			},
			force_authoring,
			backoff_authoring_blocks: Option::<()>::None,
			keystore,
			sync_oracle: sync_service.clone(),
			justification_sync_link: sync_service,
			block_proposal_slot_portion: SlotProportion::new(2f32 / 3f32),
			max_block_proposal_slot_portion: None,
			telemetry,
			compatibility_mode: Default::default(),
		})?;

	// Essential: if authoring fails, the whole service goes down with it.
	task_manager.spawn_essential_handle().spawn_blocking("aura", Some("block-authoring"), aura);
	Ok(())
}

/// Starts the GRANDPA voter (the full voter also for non-authorities, as in the solochain
/// template: it gives better block and vote availability than the observer).
fn start_grandpa_voter<VR>(
	task_manager: &TaskManager,
	params: FullGrandpaParams<VR>,
) -> Result<(), ServiceError>
where
	VR: sc_consensus_grandpa::VotingRule<Block, FullClient> + Clone + 'static,
{
	let voter = sc_consensus_grandpa::run_grandpa_voter(params)?;
	// Essential: if the voter fails, the whole service goes down with it.
	task_manager.spawn_essential_handle().spawn_blocking("grandpa-voter", None, voter);
	Ok(())
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn timestamp_now_key_is_the_pallet_storage_key() {
		assert_eq!(
			timestamp_now_key().0,
			hex_literal("f0c365c3cf59d671eb72da0e7a4113c49f1f0515f462cdcf84e0f1d6045dfcbb")
		);
	}

	#[test]
	fn dev_timestamp_is_wall_clock_but_at_least_one_slot_after_parent() {
		// Genesis (no timestamp yet): the wall clock.
		assert_eq!(next_dev_timestamp(1_000_000, 0, 6000), 1_000_000);
		// Parent well in the past: the wall clock.
		assert_eq!(next_dev_timestamp(1_000_000, 900_000, 6000), 1_000_000);
		// Parent recent or ahead of the wall clock (fast blocks, restart): one slot later.
		assert_eq!(next_dev_timestamp(1_000_000, 999_000, 6000), 1_005_000);
		assert_eq!(next_dev_timestamp(1_000_000, 2_000_000, 6000), 2_006_000);
	}

	fn hex_literal(s: &str) -> Vec<u8> {
		(0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
	}
}
