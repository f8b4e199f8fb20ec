//! `tessera`: the command-line client of the Tessera chain (see `tessera_client::commands`).

use clap::Parser;
use std::process::ExitCode;
use tessera_client::commands::{self, Cli, Ui};

#[tokio::main]
async fn main() -> ExitCode {
	let cli = Cli::parse();
	let ui = Ui::detect(cli.json);
	match commands::run(&cli, ui).await {
		Ok(out) => {
			if cli.json {
				println!("{}", out.json);
			} else {
				println!("{}", out.text);
			}
			ExitCode::SUCCESS
		},
		Err(e) => {
			if cli.json {
				println!("{}", e.to_json());
			}
			eprintln!("error: {e}");
			ExitCode::FAILURE
		},
	}
}
