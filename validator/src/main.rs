//! `tessera-validator`: score a Tessera subnet's miners and set weights. See
//! `tessera-validator --help`.

use std::io::IsTerminal;

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
	tracing_subscriber::fmt()
		.with_env_filter(
			tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
		)
		.with_ansi(std::io::stdout().is_terminal())
		.init();
	tessera_validator::run::main(tessera_validator::run::Cli::parse()).await
}
