//! Dispatch of the command line: the node itself and its sub-commands.

use crate::{
	chain_spec,
	cli::{Cli, ExportMetadataCmd, Subcommand},
	service,
};
use sc_cli::SubstrateCli;
use sc_network::config::NetworkBackendType;
use sc_service::PartialComponents;
use std::{io::Write, time::Duration};
use tessera_runtime::opaque::Block;

/// The metadata version written by `export-metadata` (what subxt consumes).
const METADATA_VERSION: u32 = 15;

impl SubstrateCli for Cli {
	fn impl_name() -> String {
		"Tessera Node".into()
	}

	fn impl_version() -> String {
		env!("SUBSTRATE_CLI_IMPL_VERSION").into()
	}

	fn description() -> String {
		env!("CARGO_PKG_DESCRIPTION").into()
	}

	fn author() -> String {
		env!("CARGO_PKG_AUTHORS").into()
	}

	fn support_url() -> String {
		env!("CARGO_PKG_REPOSITORY").into()
	}

	fn copyright_start_year() -> i32 {
		2025
	}

	fn executable_name() -> String {
		env!("CARGO_BIN_NAME").into()
	}

	fn load_spec(&self, id: &str) -> Result<Box<dyn sc_service::ChainSpec>, String> {
		Ok(match id {
			"dev" => Box::new(chain_spec::development_chain_spec()?),
			"" | "local" | "local_testnet" => Box::new(chain_spec::local_chain_spec()?),
			path => Box::new(chain_spec::chain_spec_from_json_file(path.into())?),
		})
	}
}

impl ExportMetadataCmd {
	/// Writes `Runtime::metadata_at_version(15)` (a SCALE-encoded `RuntimeMetadataPrefixed`,
	/// i.e. the content of a subxt `metadata.scale` file) to the output file or stdout.
	pub fn run(&self) -> sc_cli::Result<()> {
		let metadata = tessera_runtime::Runtime::metadata_at_version(METADATA_VERSION)
			.ok_or_else(|| format!("The runtime does not provide metadata V{METADATA_VERSION}"))?;
		let bytes: &[u8] = &metadata;
		match &self.out {
			Some(path) => {
				std::fs::write(path, bytes)?;
				eprintln!(
					"Wrote {} bytes of V{METADATA_VERSION} metadata to {}",
					bytes.len(),
					path.display()
				);
			},
			None => {
				let mut stdout = std::io::stdout().lock();
				stdout.write_all(bytes)?;
				stdout.flush()?;
			},
		}
		Ok(())
	}
}

/// Parses the command line and runs the node or the requested sub-command.
pub fn run() -> sc_cli::Result<()> {
	let cli = Cli::from_args();

	match &cli.subcommand {
		Some(Subcommand::Key(cmd)) => cmd.run(&cli),
		Some(Subcommand::BuildSpec(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.sync_run(|config| cmd.run(config.chain_spec, config.network))
		},
		Some(Subcommand::ExportChainSpec(cmd)) => {
			let spec = cli.load_spec(&cmd.chain)?;
			cmd.run(spec)
		},
		Some(Subcommand::CheckBlock(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.async_run(|config| {
				let PartialComponents { client, task_manager, import_queue, .. } =
					service::new_partial(&config)?;
				Ok((cmd.run(client, import_queue), task_manager))
			})
		},
		Some(Subcommand::ExportBlocks(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.async_run(|config| {
				let PartialComponents { client, task_manager, .. } = service::new_partial(&config)?;
				Ok((cmd.run(client, config.database), task_manager))
			})
		},
		Some(Subcommand::ExportState(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.async_run(|config| {
				let PartialComponents { client, task_manager, .. } = service::new_partial(&config)?;
				Ok((cmd.run(client, config.chain_spec), task_manager))
			})
		},
		Some(Subcommand::ImportBlocks(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.async_run(|config| {
				let PartialComponents { client, task_manager, import_queue, .. } =
					service::new_partial(&config)?;
				Ok((cmd.run(client, import_queue), task_manager))
			})
		},
		Some(Subcommand::PurgeChain(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.sync_run(|config| cmd.run(config.database))
		},
		Some(Subcommand::Revert(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.async_run(|config| {
				let PartialComponents { client, task_manager, backend, other, .. } =
					service::new_partial(&config)?;
				// Only Aura + GRANDPA chains keep GRANDPA state in the aux store.
				let aux_revert = match other.0 {
					service::ConsensusParts::ManualSeal => None,
					service::ConsensusParts::AuraGrandpa { .. } => {
						let revert: service::AuxRevert = Box::new(|client, _, blocks| {
							sc_consensus_grandpa::revert(client, blocks)?;
							Ok(())
						});
						Some(revert)
					},
				};
				Ok((cmd.run(client, backend, aux_revert), task_manager))
			})
		},
		Some(Subcommand::ChainInfo(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.sync_run(|config| cmd.run::<Block>(&config))
		},
		Some(Subcommand::ExportMetadata(cmd)) => cmd.run(),
		None => {
			let runner = cli.create_runner(&cli.run)?;
			let dev_block_time = Duration::from_millis(cli.dev_block_time);
			runner.run_node_until_exit(|config| async move {
				match config.network.network_backend {
					NetworkBackendType::Libp2p => service::new_full::<
						sc_network::NetworkWorker<
							Block,
							<Block as sp_runtime::traits::Block>::Hash,
						>,
					>(config, dev_block_time),
					NetworkBackendType::Litep2p => service::new_full::<
						sc_network::Litep2pNetworkBackend,
					>(config, dev_block_time),
				}
				.map_err(sc_cli::Error::Service)
			})
		},
	}
}
