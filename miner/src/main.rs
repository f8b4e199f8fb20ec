//! `tessera-miner`: serve a language model to a Tessera subnet. See `tessera-miner --help`.

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
	tracing_subscriber::fmt()
		.with_env_filter(
			tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
		)
		.with_writer(std::io::stderr)
		.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
		.init();
	tessera_miner::run::main(tessera_miner::run::Cli::parse()).await
}
