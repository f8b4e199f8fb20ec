//! The `tessera` command line (the btcli of this chain): its arguments ([`Cli`]) and what
//! each command does ([`run`]). The binary only parses, runs and prints.
//!
//! Every command returns an [`Output`]: a JSON document (printed with `--json`) and text
//! for people. Transactions wait for finalization behind a spinner on stderr and report
//! their events; failures are [`CommandError`]s naming the pallet error in words.

pub mod params;

use crate::{
	chain::{account_of, TxOutcome},
	cli::{self, format_tokens},
	keys::{self, Keypair},
	runtime,
	wallet::{self, WalletError, Wallets},
	AccountId, ClientError, TesseraClient,
};
use clap::{Args, Parser, Subcommand};
use serde_json::{json, Value};
use std::{fmt::Write as _, io::IsTerminal, path::PathBuf, str::FromStr, time::Duration};
use zeroize::Zeroizing;

/// `tessera`: wallets, transfers, registration, staking, weights and subnet administration.
#[derive(Debug, Parser)]
#[command(name = "tessera", version, about = "Tessera chain client: wallets, staking, registration, subnets")]
pub struct Cli {
	/// WebSocket RPC endpoint of a Tessera node.
	#[arg(long, env = "TESSERA_URL", default_value = "ws://127.0.0.1:9944", global = true)]
	pub url: String,
	/// Print one JSON document on stdout instead of text (errors too).
	#[arg(long, global = true)]
	pub json: bool,
	/// Directory of wallets (`<dir>/<name>/coldkey`, `coldkeypub.txt`, `hotkeys/<hotkey>`).
	#[arg(long, env = "TESSERA_WALLET_DIR", global = true)]
	pub wallet_dir: Option<PathBuf>,
	/// The command.
	#[command(subcommand)]
	pub command: Command,
}

/// The coldkey that signs (or, for read-only commands, whose account is shown).
#[derive(Debug, Clone, Default, Args)]
pub struct Coldkey {
	/// Wallet whose coldkey signs (password: --password-env, $TESSERA_PASSWORD or a prompt).
	#[arg(long, conflicts_with = "coldkey_uri")]
	pub wallet: Option<String>,
	/// Secret URI of the coldkey instead of a wallet, e.g. `//Alice` on a dev chain.
	#[arg(long)]
	pub coldkey_uri: Option<String>,
	/// Name of an environment variable holding the wallet password.
	#[arg(long)]
	pub password_env: Option<String>,
}

/// The hotkey that signs.
#[derive(Debug, Clone, Default, Args)]
pub struct Hotkey {
	/// Wallet holding the hotkey (with --hotkey).
	#[arg(long, requires = "hotkey", conflicts_with = "hotkey_uri")]
	pub wallet: Option<String>,
	/// Hotkey name in the wallet.
	#[arg(long, requires = "wallet")]
	pub hotkey: Option<String>,
	/// Secret URI of the hotkey instead of a wallet, e.g. `//Bob`.
	#[arg(long)]
	pub hotkey_uri: Option<String>,
}

/// Commands.
#[derive(Debug, Subcommand)]
pub enum Command {
	/// Send TSR to an account.
	Transfer {
		/// Recipient (SS58).
		#[arg(long)]
		to: String,
		/// Amount in TSR, e.g. 10 or 0.5.
		#[arg(long)]
		amount: String,
		#[command(flatten)]
		signer: Coldkey,
	},
	/// Free, held and staked balance of an account.
	Balance {
		/// Account (SS58); default: the wallet's or --coldkey-uri's coldkey.
		#[arg(long)]
		address: Option<String>,
		#[command(flatten)]
		owner: Coldkey,
	},
	/// Register a hotkey on a subnet, burning the registration cost from the coldkey.
	Register {
		/// Subnet.
		#[arg(long)]
		netuid: u16,
		/// Hotkey: SS58, or a hotkey name of --wallet.
		#[arg(long)]
		hotkey: String,
		#[command(flatten)]
		signer: Coldkey,
	},
	/// Take a hotkey off a subnet (its owner coldkey signs); its bond is returned.
	Deregister {
		/// Subnet.
		#[arg(long)]
		netuid: u16,
		/// Hotkey: SS58, or a hotkey name of --wallet.
		#[arg(long)]
		hotkey: String,
		#[command(flatten)]
		signer: Coldkey,
	},
	/// Stake to hotkeys, withdraw, show positions.
	#[command(subcommand)]
	Stake(StakeCommand),
	/// Delegate settings of an owned hotkey.
	#[command(subcommand)]
	Delegate(DelegateCommand),
	/// Subnets: list, hyperparameters, root changes.
	#[command(subcommand)]
	Subnet(SubnetCommand),
	/// List subnets (same as `subnet list`).
	Subnets,
	/// A subnet's hyperparameters (same as `subnet hyperparams`).
	#[command(hide = true)]
	Hyperparams {
		/// Subnet.
		#[arg(long, default_value_t = 1)]
		netuid: u16,
	},
	/// Every neuron of a subnet.
	Metagraph {
		/// Subnet.
		#[arg(long, default_value_t = 1)]
		netuid: u16,
	},
	/// Show or set weights.
	#[command(subcommand)]
	Weights(WeightsCommand),
	/// Create, import and list wallets.
	#[command(subcommand)]
	Wallet(WalletCommand),
}

/// `tessera stake ...`
#[derive(Debug, Subcommand)]
pub enum StakeCommand {
	/// Stake TSR from the coldkey to a hotkey's pool.
	Add {
		/// Hotkey: SS58, or a hotkey name of --wallet.
		#[arg(long)]
		hotkey: String,
		/// Amount in TSR.
		#[arg(long)]
		amount: String,
		#[command(flatten)]
		signer: Coldkey,
	},
	/// Withdraw from the coldkey's position in a hotkey's pool.
	Remove {
		/// Hotkey: SS58, or a hotkey name of --wallet.
		#[arg(long)]
		hotkey: String,
		/// Amount in TSR, or `all`.
		#[arg(long)]
		amount: String,
		#[command(flatten)]
		signer: Coldkey,
	},
	/// A coldkey's stake in a hotkey's pool.
	Show {
		/// Hotkey: SS58, or a hotkey name of --wallet.
		#[arg(long)]
		hotkey: String,
		/// Coldkey (SS58); default: the wallet's or --coldkey-uri's coldkey.
		#[arg(long)]
		address: Option<String>,
		#[command(flatten)]
		owner: Coldkey,
	},
}

/// `tessera delegate ...`
#[derive(Debug, Subcommand)]
pub enum DelegateCommand {
	/// Set the share of the pool's rewards the hotkey's owner keeps.
	Take {
		/// Hotkey: SS58, or a hotkey name of --wallet.
		#[arg(long)]
		hotkey: String,
		/// Take in percent (0-100; the runtime caps it).
		#[arg(long)]
		take: String,
		#[command(flatten)]
		signer: Coldkey,
	},
}

/// `tessera subnet ...`
#[derive(Debug, Subcommand)]
pub enum SubnetCommand {
	/// List subnets with their size and tempo.
	List,
	/// A subnet's hyperparameters.
	Hyperparams {
		/// Subnet.
		#[arg(long)]
		netuid: u16,
	},
	/// Root: change one hyperparameter (signed by the sudo key).
	Set {
		/// Subnet.
		#[arg(long)]
		netuid: u16,
		/// NAME=VALUE, NAME a `Hyperparam` in snake_case (e.g. tempo=20, miner_bond=1.5 in
		/// TSR, alpha_values=LOW,HIGH, burn_bounds=MIN,MAX).
		#[arg(long)]
		param: String,
		#[command(flatten)]
		signer: Coldkey,
	},
}

/// `tessera weights ...`
#[derive(Debug, Subcommand)]
pub enum WeightsCommand {
	/// Weights neurons have set.
	Show {
		/// Subnet.
		#[arg(long)]
		netuid: u16,
		/// Only this neuron's weights.
		#[arg(long)]
		uid: Option<u16>,
	},
	/// Set the signing hotkey's weights (subnets without commit-reveal).
	Set {
		/// Subnet.
		#[arg(long)]
		netuid: u16,
		/// Target uids, comma separated.
		#[arg(long, value_delimiter = ',', required = true)]
		uids: Vec<u16>,
		/// Their relative weights (u16), comma separated.
		#[arg(long, value_delimiter = ',', required = true)]
		values: Vec<u16>,
		/// Weights version key; default: the subnet's `weights_version_key`.
		#[arg(long)]
		version_key: Option<u64>,
		#[command(flatten)]
		signer: Hotkey,
	},
}

/// `tessera wallet ...`
#[derive(Debug, Subcommand)]
pub enum WalletCommand {
	/// Create a wallet: a new coldkey (encrypted) and optionally a hotkey. Prints the
	/// recovery phrases once.
	Create {
		/// Wallet name.
		#[arg(long)]
		name: String,
		/// Also create a hotkey of this name.
		#[arg(long)]
		hotkey: Option<String>,
		/// Environment variable holding the new password (else $TESSERA_PASSWORD or a prompt).
		#[arg(long)]
		password_env: Option<String>,
	},
	/// Add a hotkey to a wallet.
	NewHotkey {
		/// Wallet name.
		#[arg(long)]
		name: String,
		/// Hotkey name.
		#[arg(long)]
		hotkey: String,
	},
	/// Create a wallet from an existing coldkey phrase.
	Import {
		/// Wallet name.
		#[arg(long)]
		name: String,
		/// Environment variable holding the phrase (never pass secrets as arguments).
		#[arg(long)]
		mnemonic_env: String,
		/// Environment variable holding the new password (else $TESSERA_PASSWORD or a prompt).
		#[arg(long)]
		password_env: Option<String>,
	},
	/// List wallets with their keys' addresses.
	List,
	/// Show one wallet's addresses.
	Show {
		/// Wallet name.
		#[arg(long)]
		name: String,
	},
}

/// What a command produced.
#[derive(Debug, Clone)]
pub struct Output {
	/// The machine-readable result (printed with `--json`).
	pub json: Value,
	/// The result for people.
	pub text: String,
}

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
	/// Bad arguments.
	#[error("{0}")]
	Usage(String),
	/// Wallet files, passwords.
	#[error(transparent)]
	Wallet(#[from] WalletError),
	/// The chain refused or failed the transaction, or could not be reached.
	#[error("{}", explain(.0))]
	Chain(#[from] ClientError),
}

fn usage(e: impl std::fmt::Display) -> CommandError {
	CommandError::Usage(e.to_string())
}

/// A chain error in words: pallet errors with their documentation, fee and balance
/// failures named as such.
pub fn explain(e: &ClientError) -> String {
	match e {
		ClientError::Dispatch { pallet, error } => match cli::pallet_error_docs(pallet, error) {
			Some(docs) => format!("{pallet}::{error}: {docs}"),
			None => format!("{pallet}::{error}"),
		},
		ClientError::DispatchOther(m) if m.contains("Funds are unavailable") => {
			format!("insufficient balance: {m}")
		},
		ClientError::Rejected(m) if m.contains("pay some fees") || m.contains("balance too low") => {
			format!("insufficient balance to pay the transaction fee ({m})")
		},
		other => other.to_string(),
	}
}

impl CommandError {
	/// Kind of failure for scripts: `usage`, `wallet`, `dispatch`, `rejected`, `not_found`,
	/// `connection`.
	pub fn kind(&self) -> &'static str {
		match self {
			CommandError::Usage(_) => "usage",
			CommandError::Wallet(WalletError::WrongPassword(_)) => "wrong_password",
			CommandError::Wallet(_) => "wallet",
			CommandError::Chain(ClientError::Dispatch { .. } | ClientError::DispatchOther(_)) => "dispatch",
			CommandError::Chain(ClientError::Rejected(_)) => "rejected",
			CommandError::Chain(ClientError::NotFound(_)) => "not_found",
			CommandError::Chain(ClientError::Key(_)) => "key",
			CommandError::Chain(_) => "connection",
		}
	}

	/// `{"ok": false, "error": {"kind", "pallet", "name", "message"}}`.
	pub fn to_json(&self) -> Value {
		let (pallet, name) = match self {
			CommandError::Chain(ClientError::Dispatch { pallet, error }) => (Some(pallet.clone()), Some(error.clone())),
			CommandError::Chain(ClientError::DispatchOther(m)) if m.contains("Funds are unavailable") => {
				(None, Some("FundsUnavailable".to_string()))
			},
			CommandError::Chain(ClientError::Rejected(m)) if m.contains("pay some fees") => (None, Some("Payment".to_string())),
			_ => (None, None),
		};
		json!({ "ok": false, "error": { "kind": self.kind(), "pallet": pallet, "name": name, "message": self.to_string() } })
	}
}

/// How output is shown.
#[derive(Debug, Clone, Copy)]
pub struct Ui {
	/// Show spinners (stderr is a terminal and not `--json`).
	pub progress: bool,
	/// Prompts for passwords are allowed (stdin is a terminal).
	pub interactive: bool,
}

impl Ui {
	/// Spinners and prompts where the terminal allows them.
	pub fn detect(json: bool) -> Self {
		Self { progress: !json && std::io::stderr().is_terminal(), interactive: std::io::stdin().is_terminal() }
	}
}

struct Ctx<'a> {
	url: &'a str,
	wallets: Wallets,
	ui: Ui,
}

impl Ctx<'_> {
	async fn client(&self) -> Result<TesseraClient, CommandError> {
		TesseraClient::connect(self.url)
			.await
			.map_err(|e| usage(format!("cannot connect to {}: {e}", self.url)))
	}

	fn password(&self, wallet: &str, var: Option<&str>, confirm: bool) -> Result<Zeroizing<String>, CommandError> {
		if let Some(var) = var {
			return std::env::var(var)
				.map(Zeroizing::new)
				.map_err(|_| usage(format!("--password-env {var}: environment variable {var} is not set")));
		}
		if let Ok(p) = std::env::var("TESSERA_PASSWORD") {
			return Ok(Zeroizing::new(p));
		}
		if !self.ui.interactive {
			return Err(WalletError::NoPassword(format!(
				"no password for wallet '{wallet}': set TESSERA_PASSWORD, pass --password-env VAR, or run in a terminal"
			))
			.into());
		}
		let p = Zeroizing::new(rpassword::prompt_password(format!("Password for wallet '{wallet}': ")).map_err(usage)?);
		if confirm {
			let again = Zeroizing::new(rpassword::prompt_password("Repeat the password: ").map_err(usage)?);
			if *again != *p {
				return Err(usage("the passwords differ"));
			}
		}
		Ok(p)
	}

	/// The signing coldkey.
	fn coldkey(&self, c: &Coldkey) -> Result<Keypair, CommandError> {
		match (&c.wallet, &c.coldkey_uri) {
			(Some(w), _) => {
				// Check the wallet exists before asking for its password.
				self.wallets.coldkey_address(w)?;
				let pw = self.password(w, c.password_env.as_deref(), false)?;
				Ok(self.wallets.unlock_coldkey(w, &pw)?)
			},
			(None, Some(uri)) => Ok(keys::from_uri(uri)?),
			(None, None) => Err(usage("no signing key: pass --wallet NAME or --coldkey-uri URI")),
		}
	}

	/// The coldkey's account (no password needed).
	fn coldkey_account(&self, c: &Coldkey, address: Option<&str>) -> Result<AccountId, CommandError> {
		match (address, &c.wallet, &c.coldkey_uri) {
			(Some(a), _, _) => parse_account(a),
			(None, Some(w), _) => Ok(self.wallets.coldkey_address(w)?),
			(None, None, Some(uri)) => Ok(account_of(&keys::from_uri(uri)?)),
			(None, None, None) => Err(usage("which account? pass --address SS58, --wallet NAME or --coldkey-uri URI")),
		}
	}

	/// A hotkey argument: SS58, or a hotkey name of `wallet`.
	fn hotkey_account(&self, hotkey: &str, wallet: Option<&str>) -> Result<AccountId, CommandError> {
		if let Ok(a) = AccountId::from_str(hotkey) {
			return Ok(a);
		}
		match wallet {
			Some(w) => Ok(AccountId::from_str(&self.wallets.hotkey(w, hotkey)?.ss58_address)
				.map_err(|e| usage(format!("hotkey '{hotkey}': {e}")))?),
			None => Err(usage(format!("--hotkey '{hotkey}' is not an SS58 address (a hotkey name needs --wallet)"))),
		}
	}

	/// The signing hotkey.
	fn hotkey(&self, h: &Hotkey) -> Result<Keypair, CommandError> {
		match (&h.wallet, &h.hotkey, &h.hotkey_uri) {
			(Some(w), Some(name), _) => Ok(self.wallets.hotkey(w, name)?.keypair()?),
			(_, _, Some(uri)) => Ok(keys::from_uri(uri)?),
			_ => Err(usage("no signing hotkey: pass --wallet NAME --hotkey HOTKEY or --hotkey-uri URI")),
		}
	}

	/// Wait for `tx` behind a spinner; then the transaction's JSON (`ok`, `block`, `fee`,
	/// `events`) and text lines.
	async fn transact<F>(&self, what: &str, tx: F) -> Result<(TxOutcome, Value, String), CommandError>
	where
		F: std::future::Future<Output = Result<TxOutcome, ClientError>>,
	{
		let spinner = if self.ui.progress {
			let pb = indicatif::ProgressBar::new_spinner();
			pb.set_message(format!("{what}: waiting for finalization..."));
			pb.enable_steady_tick(Duration::from_millis(100));
			pb
		} else {
			indicatif::ProgressBar::hidden()
		};
		let result = tx.await;
		spinner.finish_and_clear();
		let outcome = result?;
		let (events, fee) = cli::summarize_events(&outcome.events);
		let mut text = format!("{what}: finalized in block {:?}", outcome.block_hash);
		if let Some(fee) = fee {
			let _ = write!(text, " (fee {} TSR)", format_tokens(fee));
		}
		for e in events.iter().filter(|e| !cli::is_routine_event(&e.pallet, &e.event)) {
			let _ = write!(text, "\n  {}", e.text);
		}
		let json = json!({
			"ok": true,
			"block": format!("{:?}", outcome.block_hash),
			"fee": fee.map(|f| f.to_string()),
			"events": events,
		});
		Ok((outcome, json, text))
	}
}

fn parse_account(s: &str) -> Result<AccountId, CommandError> {
	AccountId::from_str(s.trim()).map_err(|e| usage(format!("'{s}' is not an SS58 address: {e}")))
}

fn merge(mut base: Value, extra: Value) -> Value {
	if let (Some(b), Value::Object(e)) = (base.as_object_mut(), extra) {
		b.extend(e);
	}
	base
}

fn tokens_json(v: u128) -> Value {
	json!({ "planck": v.to_string(), "tsr": format_tokens(v) })
}

/// Run one command.
pub async fn run(cli: &Cli, ui: Ui) -> Result<Output, CommandError> {
	let ctx = Ctx {
		url: &cli.url,
		wallets: Wallets::new(cli.wallet_dir.clone().unwrap_or_else(wallet::default_dir)),
		ui,
	};
	match &cli.command {
		Command::Transfer { to, amount, signer } => {
			let to = parse_account(to)?;
			let amount = params::parse_tokens(amount).map_err(usage)?;
			let key = ctx.coldkey(signer)?;
			let client = ctx.client().await?;
			let (_, j, text) = ctx.transact("transfer", client.transfer(&key, &to, amount)).await?;
			Ok(Output {
				json: merge(j, json!({ "from": account_of(&key).to_string(), "to": to.to_string(), "amount": tokens_json(amount) })),
				text,
			})
		},
		Command::Balance { address, owner } => {
			let who = ctx.coldkey_account(owner, address.as_deref())?;
			let client = ctx.client().await?;
			// One runtime API call: balances and every position.
			let info = client.coldkey_info(&who).await?;
			let mut text = format!(
				"account {who}\n  free         {:>22} TSR\n  held         {:>22} TSR (stake principal and bonds)\n  transferable {:>22} TSR\n  staked       {:>22} TSR (value of {} stake position(s))",
				format_tokens(info.free),
				format_tokens(info.held),
				format_tokens(info.transferable),
				format_tokens(info.staked),
				info.positions.len()
			);
			for p in &info.positions {
				let _ = write!(text, "\n    {} {} TSR", p.hotkey, format_tokens(p.value));
			}
			let stakes: Vec<_> = info
				.positions
				.iter()
				.map(|p| {
					json!({
						"hotkey": p.hotkey.to_string(),
						"value": tokens_json(p.value),
						"principal": tokens_json(p.principal),
						"shares": p.shares.to_string(),
					})
				})
				.collect();
			Ok(Output {
				json: json!({
					"ok": true,
					"address": who.to_string(),
					"free": tokens_json(info.free),
					"reserved": tokens_json(info.held),
					"transferable": tokens_json(info.transferable),
					"staked": tokens_json(info.staked),
					"stakes": stakes,
				}),
				text,
			})
		},
		Command::Register { netuid, hotkey, signer } => {
			let hot = ctx.hotkey_account(hotkey, signer.wallet.as_deref())?;
			let key = ctx.coldkey(signer)?;
			let client = ctx.client().await?;
			let call = runtime::tx().tessera().burned_register(*netuid, hot.clone());
			let (outcome, j, text) = ctx.transact("register", client.submit(&call, &key)).await?;
			let registered = outcome
				.events
				.find_first::<runtime::tessera::events::NeuronRegistered>()
				.ok_or_else(|| ClientError::NotFound("NeuronRegistered event".into()))?
				.map_err(subxt::Error::from)
				.map_err(ClientError::from)?;
			let text = format!("registered {hot} on subnet {netuid} as uid {}\n{text}", registered.uid);
			Ok(Output {
				json: merge(j, json!({ "netuid": netuid, "hotkey": hot.to_string(), "uid": registered.uid, "burn": tokens_json(registered.burn) })),
				text,
			})
		},
		Command::Deregister { netuid, hotkey, signer } => {
			let hot = ctx.hotkey_account(hotkey, signer.wallet.as_deref())?;
			let key = ctx.coldkey(signer)?;
			let client = ctx.client().await?;
			let (_, j, text) = ctx.transact("deregister", client.deregister(&key, *netuid, &hot)).await?;
			Ok(Output { json: merge(j, json!({ "netuid": netuid, "hotkey": hot.to_string() })), text })
		},
		Command::Stake(StakeCommand::Add { hotkey, amount, signer }) => {
			let hot = ctx.hotkey_account(hotkey, signer.wallet.as_deref())?;
			let amount = params::parse_tokens(amount).map_err(usage)?;
			let key = ctx.coldkey(signer)?;
			let client = ctx.client().await?;
			let (_, j, text) = ctx.transact("stake add", client.add_stake(&key, &hot, amount)).await?;
			let stake = client.stake_of(&hot, &account_of(&key)).await?;
			Ok(Output {
				json: merge(j, json!({ "hotkey": hot.to_string(), "amount": tokens_json(amount), "stake": tokens_json(stake) })),
				text: format!("{text}\nstake of {} in {hot}: {} TSR", account_of(&key), format_tokens(stake)),
			})
		},
		Command::Stake(StakeCommand::Remove { hotkey, amount, signer }) => {
			let hot = ctx.hotkey_account(hotkey, signer.wallet.as_deref())?;
			let key = ctx.coldkey(signer)?;
			let client = ctx.client().await?;
			let who = account_of(&key);
			let (amount, j, text) = if amount.trim().eq_ignore_ascii_case("all") {
				// The pool may earn between reading the position and the transaction's
				// block, leaving a remainder: withdraw again (a few rounds at most).
				let mut total = 0u128;
				let mut last = None;
				for _ in 0..5 {
					let value = client.stake_of(&hot, &who).await?;
					if value == 0 {
						break;
					}
					last = Some(ctx.transact("stake remove", client.remove_stake(&key, &hot, value)).await?);
					total += value;
				}
				let Some((_, j, text)) = last else {
					return Err(usage(format!("{who} has no stake in {hot}")));
				};
				(total, j, text)
			} else {
				let amount = params::parse_tokens(amount).map_err(usage)?;
				let (_, j, text) = ctx.transact("stake remove", client.remove_stake(&key, &hot, amount)).await?;
				(amount, j, text)
			};
			let stake = client.stake_of(&hot, &who).await?;
			Ok(Output {
				json: merge(j, json!({ "hotkey": hot.to_string(), "amount": tokens_json(amount), "stake": tokens_json(stake) })),
				text: format!("{text}\nstake of {} in {hot}: {} TSR", account_of(&key), format_tokens(stake)),
			})
		},
		Command::Stake(StakeCommand::Show { hotkey, address, owner }) => {
			let hot = ctx.hotkey_account(hotkey, owner.wallet.as_deref())?;
			let who = ctx.coldkey_account(owner, address.as_deref())?;
			let client = ctx.client().await?;
			let stake = client.stake_of(&hot, &who).await?;
			Ok(Output {
				json: json!({ "ok": true, "hotkey": hot.to_string(), "coldkey": who.to_string(), "stake": tokens_json(stake) }),
				text: format!("stake of {who} in {hot}: {} TSR", format_tokens(stake)),
			})
		},
		Command::Delegate(DelegateCommand::Take { hotkey, take, signer }) => {
			let hot = ctx.hotkey_account(hotkey, signer.wallet.as_deref())?;
			let take = params::parse_percent(take).map_err(usage)?;
			let key = ctx.coldkey(signer)?;
			let client = ctx.client().await?;
			let (_, j, text) = ctx.transact("delegate take", client.set_delegate_take(&key, &hot, take)).await?;
			Ok(Output {
				json: merge(j, json!({ "hotkey": hot.to_string(), "take": take, "takePercent": params::percent_of(take) })),
				text: format!("{text}\ntake of {hot}: {:.2}%", params::percent_of(take)),
			})
		},
		Command::Subnet(SubnetCommand::List) | Command::Subnets => {
			let client = ctx.client().await?;
			let mut rows = Vec::new();
			let mut text = format!("{:>6} {:>8} {:>6} {:>18} {:>7}\n", "netuid", "neurons", "tempo", "burn (TSR)", "audits");
			for netuid in client.subnets().await? {
				let m = client.metagraph(netuid).await?;
				let p = &m.hyperparams;
				let _ = writeln!(
					text,
					"{netuid:>6} {:>8} {:>6} {:>18} {:>7}",
					format!("{}/{}", m.neurons.len(), p.max_allowed_uids),
					p.tempo,
					format_tokens(p.burn),
					p.audits_enabled
				);
				rows.push(json!({
					"netuid": netuid,
					"neurons": m.neurons.len(),
					"maxAllowedUids": p.max_allowed_uids,
					"tempo": p.tempo,
					"burn": p.burn.to_string(),
					"auditsEnabled": p.audits_enabled,
				}));
			}
			Ok(Output { json: json!({ "ok": true, "subnets": rows }), text: text.trim_end().to_string() })
		},
		Command::Subnet(SubnetCommand::Hyperparams { netuid }) | Command::Hyperparams { netuid } => {
			let client = ctx.client().await?;
			let p = client.hyperparams(*netuid).await?;
			let rows = params::hyperparam_rows(&p);
			let mut text = format!("subnet {netuid} hyperparameters:");
			for (k, t, _) in &rows {
				let _ = write!(text, "\n  {k:<34} {t}");
			}
			let map: serde_json::Map<String, Value> = rows.into_iter().map(|(k, _, j)| (k.to_string(), j)).collect();
			Ok(Output { json: json!({ "ok": true, "netuid": netuid, "hyperparams": map }), text })
		},
		Command::Subnet(SubnetCommand::Set { netuid, param, signer }) => {
			let hp = params::parse_hyperparam(param).map_err(usage)?;
			let key = ctx.coldkey(signer)?;
			let client = ctx.client().await?;
			let (_, j, text) = ctx.transact("subnet set", client.sudo_set_hyperparam(&key, *netuid, hp)).await?;
			let p = client.hyperparams(*netuid).await?;
			let map: serde_json::Map<String, Value> =
				params::hyperparam_rows(&p).into_iter().map(|(k, _, j)| (k.to_string(), j)).collect();
			Ok(Output { json: merge(j, json!({ "netuid": netuid, "param": param, "hyperparams": map })), text })
		},
		Command::Metagraph { netuid } => {
			let client = ctx.client().await?;
			let m = client.metagraph(*netuid).await?;
			Ok(Output { json: merge(json!({ "ok": true }), cli::metagraph_json(&m)), text: cli::metagraph_table(&m).trim_end().to_string() })
		},
		Command::Weights(WeightsCommand::Show { netuid, uid }) => {
			let client = ctx.client().await?;
			let m = client.metagraph(*netuid).await?;
			let neurons: Vec<_> = m.neurons.iter().filter(|n| uid.is_none_or(|u| n.uid == u)).collect();
			if let (Some(u), true) = (uid, neurons.is_empty()) {
				return Err(ClientError::NotFound(format!("uid {u} on subnet {netuid}")).into());
			}
			let mut text = format!("weights on subnet {netuid} at block {}:", m.block);
			let mut rows = Vec::new();
			for n in neurons {
				let list: Vec<String> = n.weights.iter().map(|(t, w)| format!("{t}:{w}")).collect();
				let _ = write!(text, "\n  uid {:>3} {} -> {}", n.uid, n.hotkey, if list.is_empty() { "-".into() } else { list.join(" ") });
				rows.push(json!({ "uid": n.uid, "hotkey": n.hotkey.to_string(), "lastUpdate": n.last_update, "weights": n.weights }));
			}
			Ok(Output { json: json!({ "ok": true, "netuid": netuid, "block": m.block, "neurons": rows }), text })
		},
		Command::Weights(WeightsCommand::Set { netuid, uids, values, version_key, signer }) => {
			if uids.len() != values.len() {
				return Err(usage(format!("--uids has {} entries but --values has {}", uids.len(), values.len())));
			}
			let key = ctx.hotkey(signer)?;
			let client = ctx.client().await?;
			let version = match version_key {
				Some(v) => *v,
				None => client.hyperparams(*netuid).await?.weights_version_key,
			};
			let (_, j, text) = ctx
				.transact("weights set", client.set_weights(&key, *netuid, uids.clone(), values.clone(), version))
				.await?;
			Ok(Output {
				json: merge(j, json!({ "netuid": netuid, "hotkey": account_of(&key).to_string(), "uids": uids, "values": values, "versionKey": version })),
				text,
			})
		},
		Command::Wallet(cmd) => wallet_command(&ctx, cmd),
	}
}

fn wallet_json(w: &wallet::WalletInfo) -> Value {
	json!({
		"name": w.name,
		"path": w.path,
		"coldkey": w.coldkey,
		"hotkeys": w.hotkeys.iter().map(|h| json!({ "name": h.name, "ss58Address": h.ss58_address, "path": h.path })).collect::<Vec<_>>(),
	})
}

fn wallet_text(w: &wallet::WalletInfo) -> String {
	let mut text = format!("wallet {} ({})\n  coldkey  {}", w.name, w.path.display(), w.coldkey);
	for h in &w.hotkeys {
		let _ = write!(text, "\n  hotkey   {} {}", h.ss58_address, h.name);
	}
	text
}

fn wallet_command(ctx: &Ctx<'_>, cmd: &WalletCommand) -> Result<Output, CommandError> {
	let w = &ctx.wallets;
	match cmd {
		WalletCommand::Create { name, hotkey, password_env } => {
			if w.dir(name).join("coldkeypub.txt").exists() {
				return Err(WalletError::AlreadyExists(format!("wallet '{name}' ({})", w.dir(name).display())).into());
			}
			let pw = ctx.password(name, password_env.as_deref(), true)?;
			let (cold, hot) = w.create(name, &pw, hotkey.as_deref())?;
			let info = w.show(name)?;
			let mut text = format!(
				"{}\n\nColdkey recovery phrase (shown only now; write it down, keep it offline):\n  {}",
				wallet_text(&info),
				cold.mnemonic.as_str()
			);
			if let (Some(h), Some(hn)) = (&hot, hotkey) {
				let _ = write!(text, "\nHotkey '{hn}' recovery phrase:\n  {}", h.mnemonic.as_str());
			}
			let mut j = merge(json!({ "ok": true }), wallet_json(&info));
			j["mnemonic"] = json!(cold.mnemonic.as_str());
			if let Some(h) = &hot {
				j["hotkeyMnemonic"] = json!(h.mnemonic.as_str());
			}
			Ok(Output { json: j, text })
		},
		WalletCommand::NewHotkey { name, hotkey } => {
			let hot = w.new_hotkey(name, hotkey)?;
			let info = w.show(name)?;
			Ok(Output {
				json: merge(json!({ "ok": true, "hotkey": hotkey, "ss58Address": hot.ss58_address, "mnemonic": hot.mnemonic.as_str() }), json!({ "wallet": wallet_json(&info) })),
				text: format!(
					"hotkey '{hotkey}' of wallet '{name}': {}\n  file {}\nRecovery phrase (shown only now):\n  {}",
					hot.ss58_address,
					w.hotkey_path(name, hotkey).display(),
					hot.mnemonic.as_str()
				),
			})
		},
		WalletCommand::Import { name, mnemonic_env, password_env } => {
			let phrase = Zeroizing::new(
				std::env::var(mnemonic_env).map_err(|_| usage(format!("--mnemonic-env {mnemonic_env}: environment variable {mnemonic_env} is not set")))?,
			);
			if w.dir(name).join("coldkeypub.txt").exists() {
				return Err(WalletError::AlreadyExists(format!("wallet '{name}' ({})", w.dir(name).display())).into());
			}
			// Check the phrase before asking for a password.
			keys::from_uri(phrase.trim())?;
			let pw = ctx.password(name, password_env.as_deref(), true)?;
			let info = w.import(name, &phrase, &pw)?;
			Ok(Output { json: merge(json!({ "ok": true }), wallet_json(&info)), text: format!("imported\n{}", wallet_text(&info)) })
		},
		WalletCommand::List => {
			let all = w.list()?;
			let text = if all.is_empty() {
				format!("no wallets in {}", w.root().display())
			} else {
				all.iter().map(wallet_text).collect::<Vec<_>>().join("\n")
			};
			Ok(Output { json: json!({ "ok": true, "dir": w.root(), "wallets": all.iter().map(wallet_json).collect::<Vec<_>>() }), text })
		},
		WalletCommand::Show { name } => {
			let info = w.show(name)?;
			Ok(Output { json: merge(json!({ "ok": true }), wallet_json(&info)), text: wallet_text(&info) })
		},
	}
}
