//! Command line interface of `tessera-node`.

use std::path::PathBuf;

/// Default interval between two dev-mode blocks, in milliseconds.
pub const DEFAULT_DEV_BLOCK_TIME_MS: u64 = 1000;

/// The `tessera-node` command line.
#[derive(Debug, clap::Parser)]
pub struct Cli {
	/// A sub-command; without one the node runs.
	#[command(subcommand)]
	pub subcommand: Option<Subcommand>,

	/// The standard Substrate node options (`--dev`, `--chain`, `--base-path`, RPC, network...).
	#[clap(flatten)]
	pub run: sc_cli::RunCmd,

	/// Interval in milliseconds at which the development chain seals (and finalizes) a block.
	///
	/// Only used by development chains (`--dev`), which are authored with manual seal.
	#[arg(
		long,
		value_name = "MILLISECONDS",
		env = "TESSERA_DEV_BLOCK_TIME",
		default_value_t = DEFAULT_DEV_BLOCK_TIME_MS,
		value_parser = clap::value_parser!(u64).range(1..)
	)]
	pub dev_block_time: u64,
}

/// The sub-commands of `tessera-node`.
#[derive(Debug, clap::Subcommand)]
#[allow(clippy::large_enum_variant)]
pub enum Subcommand {
	/// Key management CLI utilities.
	#[command(subcommand)]
	Key(sc_cli::KeySubcommand),

	/// Build a chain specification.
	///
	/// Prefer `export-chain-spec`; this command is kept for compatibility.
	BuildSpec(sc_cli::BuildSpecCmd),

	/// Export a built-in chain specification (`dev`, `local`) or one from a file.
	ExportChainSpec(sc_cli::ExportChainSpecCmd),

	/// Validate blocks.
	CheckBlock(sc_cli::CheckBlockCmd),

	/// Export blocks.
	ExportBlocks(sc_cli::ExportBlocksCmd),

	/// Export the state of a given block into a chain spec.
	ExportState(sc_cli::ExportStateCmd),

	/// Import blocks.
	ImportBlocks(sc_cli::ImportBlocksCmd),

	/// Remove the whole chain.
	PurgeChain(sc_cli::PurgeChainCmd),

	/// Revert the chain to a previous state.
	Revert(sc_cli::RevertCmd),

	/// Database meta columns information.
	ChainInfo(sc_cli::ChainInfoCmd),

	/// Write the SCALE-encoded runtime metadata (V15, as used by subxt's `metadata.scale`).
	ExportMetadata(ExportMetadataCmd),
}

/// Options of the `export-metadata` sub-command.
#[derive(Debug, Clone, clap::Parser)]
pub struct ExportMetadataCmd {
	/// File to write the metadata to; standard output when omitted.
	#[arg(long, short, value_name = "FILE")]
	pub out: Option<PathBuf>,
}
