//! `tessera`: the command-line client of the Tessera chain.

use clap::{Parser, Subcommand};
use tessera_client::{cli, TesseraClient};

#[derive(Parser)]
#[command(name = "tessera", version, about = "Tessera chain client")]
struct Args {
	/// WebSocket RPC endpoint of a Tessera node.
	#[arg(long, env = "TESSERA_URL", default_value = "ws://127.0.0.1:9944", global = true)]
	url: String,
	/// Print JSON instead of tables.
	#[arg(long, global = true)]
	json: bool,
	#[command(subcommand)]
	command: Command,
}

#[derive(Subcommand)]
enum Command {
	/// Show every neuron of a subnet.
	Metagraph {
		#[arg(long, default_value_t = 1)]
		netuid: u16,
	},
	/// Show a subnet's hyperparameters.
	Hyperparams {
		#[arg(long, default_value_t = 1)]
		netuid: u16,
	},
	/// List subnets.
	Subnets,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
	let args = Args::parse();
	let client = TesseraClient::connect(&args.url).await?;
	let out = match args.command {
		Command::Metagraph { netuid } => {
			let m = client.metagraph(netuid).await?;
			if args.json { cli::metagraph_json(&m).to_string() } else { cli::metagraph_table(&m) }
		},
		Command::Hyperparams { netuid } => format!("{:#?}", client.hyperparams(netuid).await?),
		Command::Subnets => {
			let ids = client.subnets().await?;
			if args.json { serde_json::to_string(&ids)? } else { format!("{ids:?}") }
		},
	};
	println!("{out}");
	Ok(())
}
