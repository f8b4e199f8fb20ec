//! End-to-end tests of the `tessera` binary against a real `tessera-node --dev`: every
//! command with `--json`, its failures, and the chain state read back with the client.
//! The dev chain: Alice is sudo, subnet 1 has tempo 10 and audits with a 1 TSR bond.

use serde_json::Value;
use std::{path::PathBuf, process::Command};
use tessera_client::{
	chain::account_of,
	devnode::DevNode,
	keys::{self, KeyFile},
	AccountId, TesseraClient, TOKEN,
};

const NET: &str = "1";

/// Runs the real binary with a node URL and a wallet directory.
struct Tessera {
	url: String,
	wallets: PathBuf,
}

/// One run: exit success, the JSON document on stdout, stderr.
struct Run {
	success: bool,
	code: Option<i32>,
	json: Value,
	stderr: String,
}

impl Tessera {
	fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
		let mut cmd = Command::new(env!("CARGO_BIN_EXE_tessera"));
		cmd.arg("--json").arg("--url").arg(&self.url).arg("--wallet-dir").arg(&self.wallets).args(args);
		for var in ["TESSERA_URL", "TESSERA_WALLET_DIR", "TESSERA_PASSWORD"] {
			cmd.env_remove(var);
		}
		for (k, v) in env {
			cmd.env(k, v);
		}
		let out = cmd.output().expect("run tessera");
		let stdout = String::from_utf8_lossy(&out.stdout).to_string();
		let stderr = String::from_utf8_lossy(&out.stderr).to_string();
		let json = serde_json::from_str(stdout.trim())
			.unwrap_or_else(|e| panic!("tessera {args:?}: stdout is not one JSON document ({e}):\n{stdout}\nstderr:\n{stderr}"));
		Run { success: out.status.success(), code: out.status.code(), json, stderr }
	}

	/// Runs and asserts success; returns the JSON.
	fn ok_env(&self, args: &[&str], env: &[(&str, &str)]) -> Value {
		let r = self.run_env(args, env);
		assert!(r.success, "tessera {args:?} failed: {}\n{}", r.json, r.stderr);
		assert_eq!(r.json["ok"], true, "{}", r.json);
		r.json
	}

	fn ok(&self, args: &[&str]) -> Value {
		self.ok_env(args, &[])
	}

	/// Runs and asserts failure with exit code 1; returns the `error` object.
	fn fail_env(&self, args: &[&str], env: &[(&str, &str)]) -> Value {
		let r = self.run_env(args, env);
		assert!(!r.success, "tessera {args:?} should fail: {}", r.json);
		assert_eq!(r.code, Some(1), "{}", r.stderr);
		assert_eq!(r.json["ok"], false, "{}", r.json);
		assert!(r.stderr.contains("error:"), "{}", r.stderr);
		r.json["error"].clone()
	}

	fn fail(&self, args: &[&str]) -> Value {
		self.fail_env(args, &[])
	}
}

/// Asserts a pallet error: `{"kind": "dispatch", "pallet", "name"}` with its words.
fn assert_pallet_error(e: &Value, pallet: &str, name: &str) {
	assert_eq!(e["kind"], "dispatch", "{e}");
	assert_eq!(e["pallet"], pallet, "{e}");
	assert_eq!(e["name"], name, "{e}");
	let msg = e["message"].as_str().unwrap();
	// The message names the error and explains it (the pallet's documentation).
	assert!(msg.starts_with(&format!("{pallet}::{name}: ")) && msg.len() > pallet.len() + name.len() + 10, "{msg}");
}

fn planck(v: &Value) -> u128 {
	v["planck"].as_str().unwrap_or_else(|| panic!("no planck in {v}")).parse().unwrap()
}

fn event<'a>(tx: &'a Value, pallet: &str, name: &str) -> &'a Value {
	tx["events"]
		.as_array()
		.unwrap()
		.iter()
		.find(|e| e["pallet"] == pallet && e["event"] == name)
		.unwrap_or_else(|| panic!("no {pallet}.{name} in {tx}"))
}

async fn start() -> (tempfile::TempDir, DevNode, TesseraClient, Tessera) {
	let dir = tempfile::tempdir().unwrap();
	let node = DevNode::start(&dir.path().join("chain")).await.unwrap();
	let client = node.client().await;
	let cli = Tessera { url: node.url.clone(), wallets: dir.path().join("wallets") };
	(dir, node, client, cli)
}

fn fresh() -> (String, AccountId) {
	let uri = keys::generate_phrase();
	let id = account_of(&keys::from_uri(&uri).unwrap());
	(uri, id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_and_queries() {
	let (_dir, _node, client, t) = start().await;
	let bond = TOKEN; // the dev chain's subnet-1 miner bond

	// Subnets: the alias and the subcommand, and hyperparameters.
	let list = t.ok(&["subnets"]);
	assert_eq!(list, t.ok(&["subnet", "list"]));
	assert!(list["subnets"].as_array().unwrap().iter().any(|s| s["netuid"] == 1), "{list}");
	let hp = t.ok(&["subnet", "hyperparams", "--netuid", NET]);
	assert_eq!(hp["hyperparams"]["tempo"], 10);
	assert_eq!(hp["hyperparams"]["audits_enabled"], true);
	assert_eq!(hp["hyperparams"]["miner_bond"], bond.to_string());
	assert_eq!(t.fail(&["subnet", "hyperparams", "--netuid", "77"])["kind"], "not_found");

	// Transfer from Alice to a fresh coldkey.
	let (cold_uri, cold) = fresh();
	let cold_s = cold.to_string();
	let tx = t.ok(&["transfer", "--to", &cold_s, "--amount", "1000", "--coldkey-uri", "//Alice"]);
	let ev = event(&tx, "Balances", "Transfer");
	assert_eq!(ev["fields"]["to"], cold_s);
	assert_eq!(ev["fields"]["amount"], (1000 * TOKEN).to_string());
	assert!(tx["block"].as_str().unwrap().starts_with("0x"));
	assert!(tx["fee"].as_str().unwrap().parse::<u128>().unwrap() > 0);
	assert_eq!(client.free_balance(&cold).await.unwrap(), 1000 * TOKEN);
	let bal = t.ok(&["balance", "--address", &cold_s]);
	assert_eq!(planck(&bal["free"]), 1000 * TOKEN);
	assert_eq!(planck(&bal["reserved"]), 0);
	let bal_uri = t.ok(&["balance", "--coldkey-uri", &cold_uri]);
	assert_eq!(bal_uri["address"], cold_s);

	// Insufficient balance: more than the account has; nothing at all to pay the fee.
	let e = t.fail(&["transfer", "--to", &account_of(&keys::dev("bob").unwrap()).to_string(), "--amount", "5000", "--coldkey-uri", &cold_uri]);
	assert_eq!(e["kind"], "dispatch", "{e}");
	assert!(e["message"].as_str().unwrap().contains("insufficient balance"), "{e}");
	let (empty_uri, _) = fresh();
	let e = t.fail(&["transfer", "--to", &cold_s, "--amount", "1", "--coldkey-uri", &empty_uri]);
	assert_eq!(e["kind"], "rejected", "{e}");
	assert!(e["message"].as_str().unwrap().contains("insufficient balance"), "{e}");
	// The failed transfer cost its fee only.
	let free = client.free_balance(&cold).await.unwrap();
	assert!(free < 1000 * TOKEN && free > 999 * TOKEN, "{free}");
	// Bad arguments fail before anything is sent.
	assert_eq!(t.fail(&["transfer", "--to", "nobody", "--amount", "1", "--coldkey-uri", "//Alice"])["kind"], "usage");
	assert_eq!(t.fail(&["transfer", "--to", &cold_s, "--amount", "1.0000000001", "--coldkey-uri", "//Alice"])["kind"], "usage");
	assert_eq!(t.fail(&["transfer", "--to", &cold_s, "--amount", "1"])["kind"], "usage");

	// Register a fresh hotkey: the coldkey pays the burn and holds the bond.
	let (hot_uri, hot) = fresh();
	let hot_s = hot.to_string();
	let reg = t.ok(&["register", "--netuid", NET, "--hotkey", &hot_s, "--coldkey-uri", &cold_uri]);
	// Charged at subtensor's rate and refunded down to its actual weight (no pruning
	// scan): about 0.001 TSR; the worst-case weight (4096 uids) would cost 0.02 TSR, and
	// cost about 115 TSR before.
	let reg_fee: u128 = reg["fee"].as_str().unwrap().parse().unwrap();
	eprintln!("registration fee: {reg_fee} planck");
	assert!(reg_fee > 0 && reg_fee < TOKEN / 100, "registration fee {reg_fee} planck");
	let uid = reg["uid"].as_u64().unwrap() as u16;
	assert_eq!(event(&reg, "Tessera", "NeuronRegistered")["fields"]["uid"], uid);
	assert_eq!(event(&reg, "Tessera", "MinerBonded")["fields"]["amount"], bond.to_string());
	let n = client.neuron(1, uid).await.unwrap();
	assert_eq!((n.hotkey.clone(), n.coldkey.clone()), (hot.clone(), cold.clone()));
	assert_eq!(client.account(&cold).await.unwrap().reserved, bond);
	let e = t.fail(&["register", "--netuid", NET, "--hotkey", &hot_s, "--coldkey-uri", &cold_uri]);
	assert_pallet_error(&e, "Tessera", "HotkeyAlreadyRegistered");

	// Not registered.
	let (_, stranger) = fresh();
	let stranger_s = stranger.to_string();
	assert_pallet_error(&t.fail(&["deregister", "--netuid", NET, "--hotkey", &stranger_s, "--coldkey-uri", &cold_uri]), "Tessera", "HotkeyNotRegistered");
	assert_pallet_error(&t.fail(&["stake", "add", "--hotkey", &stranger_s, "--amount", "1", "--coldkey-uri", &cold_uri]), "Tessera", "HotkeyNotFound");

	// Stake: add, show, remove some, remove all; too much fails.
	let add = t.ok(&["stake", "add", "--hotkey", &hot_s, "--amount", "10", "--coldkey-uri", &cold_uri]);
	assert_eq!(event(&add, "Tessera", "StakeAdded")["fields"]["amount"], (10 * TOKEN).to_string());
	assert!(planck(&add["stake"]) >= 10 * TOKEN - 1, "{add}");
	assert!(client.stake_of(&hot, &cold).await.unwrap() >= 10 * TOKEN - 1);
	let show = t.ok(&["stake", "show", "--hotkey", &hot_s, "--address", &cold_s]);
	assert!(planck(&show["stake"]) >= 10 * TOKEN - 1);
	let bal = t.ok(&["balance", "--address", &cold_s]);
	assert_eq!(planck(&bal["reserved"]), bond + 10 * TOKEN);
	// One runtime API call (`coldkey_info`): balances and every position.
	assert_eq!(bal["stakes"][0]["hotkey"], hot_s);
	assert_eq!(planck(&bal["stakes"][0]["principal"]), 10 * TOKEN);
	assert!(planck(&bal["transferable"]) < planck(&bal["free"]), "{bal}");
	let info = client.coldkey_info(&cold).await.unwrap();
	assert_eq!((info.free, info.held), (planck(&bal["free"]), bond + 10 * TOKEN));
	assert_eq!(info.positions.len(), 1);
	assert!(planck(&bal["staked"]) >= 10 * TOKEN - 1);
	assert_pallet_error(&t.fail(&["stake", "add", "--hotkey", &hot_s, "--amount", "5000", "--coldkey-uri", &cold_uri]), "Tessera", "NotEnoughBalanceToStake");
	// The pool earns emission (it is the subnet's only neuron), so check the held principal.
	let rm = t.ok(&["stake", "remove", "--hotkey", &hot_s, "--amount", "4", "--coldkey-uri", &cold_uri]);
	assert_eq!(event(&rm, "Tessera", "StakeRemoved")["fields"]["amount"], (4 * TOKEN).to_string());
	assert_eq!(client.account(&cold).await.unwrap().reserved, bond + 6 * TOKEN);
	assert_pallet_error(&t.fail(&["stake", "remove", "--hotkey", &hot_s, "--amount", "100000", "--coldkey-uri", &cold_uri]), "Tessera", "NotEnoughStakeToWithdraw");

	// Delegate take: within the runtime maximum (18%), above it, not the owner.
	let take = t.ok(&["delegate", "take", "--hotkey", &hot_s, "--take", "10", "--coldkey-uri", &cold_uri]);
	assert_eq!(take["take"], 6554);
	assert_eq!(event(&take, "Tessera", "DelegateTakeSet")["fields"]["take"], 6554);
	assert_eq!(client.neuron(1, uid).await.unwrap().take, 6554);
	assert_pallet_error(&t.fail(&["delegate", "take", "--hotkey", &hot_s, "--take", "50", "--coldkey-uri", &cold_uri]), "Tessera", "DelegateTakeTooHigh");
	assert_pallet_error(&t.fail(&["delegate", "take", "--hotkey", &hot_s, "--take", "5", "--coldkey-uri", "//Bob"]), "Tessera", "NotHotkeyOwner");
	assert_eq!(t.fail(&["delegate", "take", "--hotkey", &hot_s, "--take", "150", "--coldkey-uri", &cold_uri])["kind"], "usage");

	// Metagraph and weights: a neuron without a permit may set its self-weight.
	let m = t.ok(&["metagraph", "--netuid", NET]);
	let row = m["neurons"].as_array().unwrap().iter().find(|n| n["uid"] == uid).unwrap().clone();
	assert_eq!(row["hotkey"], hot_s);
	let uid_s = uid.to_string();
	// The registered hotkey has no balance: its weights are free when they succeed.
	assert_eq!(client.free_balance(&hot).await.unwrap(), 0);
	let set = t.ok(&["weights", "set", "--netuid", NET, "--uids", &uid_s, "--values", "65535", "--hotkey-uri", &hot_uri]);
	assert_eq!(event(&set, "Tessera", "WeightsSet")["fields"]["uid"], uid);
	assert!(set["fee"].is_null(), "{set}");
	event(&set, "SkipFeelessPayment", "FeeSkipped");
	assert_eq!(client.free_balance(&hot).await.unwrap(), 0);
	// A stranger (not registered) pays, and its call fails.
	let (stranger_hot_uri, stranger_hot) = fresh();
	t.ok(&["transfer", "--to", &stranger_hot.to_string(), "--amount", "10", "--coldkey-uri", "//Alice"]);
	assert_eq!(client.neuron(1, uid).await.unwrap().weights, vec![(uid, u16::MAX)]);
	let show = t.ok(&["weights", "show", "--netuid", NET, "--uid", &uid_s]);
	assert_eq!(show["neurons"][0]["weights"], serde_json::json!([[uid, 65535]]));
	assert_eq!(t.ok(&["weights", "show", "--netuid", NET])["neurons"].as_array().unwrap().len(), m["neurons"].as_array().unwrap().len());
	assert_pallet_error(
		&t.fail(&["weights", "set", "--netuid", NET, "--uids", "0", "--values", "1", "--hotkey-uri", &stranger_hot_uri]),
		"Tessera",
		"HotkeyNotRegistered",
	);
	assert_eq!(t.fail(&["weights", "set", "--netuid", NET, "--uids", "0,1", "--values", "1", "--hotkey-uri", &hot_uri])["kind"], "usage");

	// Root: set a hyperparameter (sudo), refused for others, unknown names listed.
	let set = t.ok(&["subnet", "set", "--netuid", NET, "--param", "weights_rate_limit=1000", "--coldkey-uri", "//Alice"]);
	assert_eq!(set["hyperparams"]["weights_rate_limit"], 1000);
	assert_eq!(client.hyperparams(1).await.unwrap().weights_rate_limit, 1000);
	assert!(event(&set, "Tessera", "HyperparamSet")["fields"]["param"].is_object(), "{set}");
	assert_pallet_error(&t.fail(&["subnet", "set", "--netuid", NET, "--param", "tempo=3", "--coldkey-uri", "//Bob"]), "Sudo", "RequireSudo");
	assert_eq!(client.hyperparams(1).await.unwrap().tempo, 10);
	let e = t.fail(&["subnet", "set", "--netuid", NET, "--param", "tempoo=3", "--coldkey-uri", "//Alice"]);
	assert_eq!(e["kind"], "usage");
	let msg = e["message"].as_str().unwrap();
	assert!(msg.contains("unknown hyperparameter 'tempoo'") && msg.contains("tempo,") && msg.contains("miner_bond"), "{msg}");
	let e = t.fail(&["subnet", "set", "--netuid", NET, "--param", "tempo=0", "--coldkey-uri", "//Alice"]);
	assert_pallet_error(&e, "Tessera", "InvalidHyperparameter");

	// Rate limited: weights again within weights_rate_limit blocks. That call would fail,
	// so it is not free: the unfunded hotkey cannot pay for it, a funded one pays.
	let e = t.fail(&["weights", "set", "--netuid", NET, "--uids", &uid_s, "--values", "1", "--hotkey-uri", &hot_uri]);
	assert_eq!(e["kind"], "rejected", "{e}");
	t.ok(&["transfer", "--to", &hot_s, "--amount", "10", "--coldkey-uri", "//Alice"]);
	let e = t.fail(&["weights", "set", "--netuid", NET, "--uids", &uid_s, "--values", "1", "--hotkey-uri", &hot_uri]);
	assert_pallet_error(&e, "Tessera", "SettingWeightsTooFast");
	assert!(client.free_balance(&hot).await.unwrap() < 10 * TOKEN, "the failed call paid its fee");

	// Deregister (the bond comes back; the pool stops earning), then remove all stake.
	let dereg = t.ok(&["deregister", "--netuid", NET, "--hotkey", &hot_s, "--coldkey-uri", &cold_uri]);
	assert_eq!(event(&dereg, "Tessera", "BondReturned")["fields"]["amount"], bond.to_string());
	assert_eq!(event(&dereg, "Tessera", "MinerDeregistered")["fields"]["reason"], "Voluntary");
	assert_eq!(client.account(&cold).await.unwrap().reserved, 6 * TOKEN);
	let m = client.metagraph(1).await.unwrap();
	assert!(m.neurons.iter().all(|n| n.hotkey != hot), "still registered");
	let rm = t.ok(&["stake", "remove", "--hotkey", &hot_s, "--amount", "all", "--coldkey-uri", &cold_uri]);
	assert_eq!(planck(&rm["stake"]), 0, "{rm}");
	assert!(planck(&rm["amount"]) >= 6 * TOKEN, "{rm}");
	assert_eq!(client.stake_of(&hot, &cold).await.unwrap(), 0);
	assert_eq!(client.account(&cold).await.unwrap().reserved, 0);
	assert_eq!(t.fail(&["stake", "remove", "--hotkey", &hot_s, "--amount", "all", "--coldkey-uri", &cold_uri])["kind"], "usage");

	// Text output (what people see) for a query and a transaction.
	let text = Command::new(env!("CARGO_BIN_EXE_tessera"))
		.args(["--url", &t.url, "metagraph", "--netuid", NET])
		.output()
		.unwrap();
	assert!(text.status.success());
	let text = String::from_utf8(text.stdout).unwrap();
	assert!(text.contains("uid") && text.contains("stake") && text.contains("incent"), "{text}");
	let text = Command::new(env!("CARGO_BIN_EXE_tessera"))
		.args(["--url", &t.url, "transfer", "--to", &cold_s, "--amount", "1", "--coldkey-uri", "//Alice"])
		.output()
		.unwrap();
	assert!(text.status.success());
	let text = String::from_utf8(text.stdout).unwrap();
	assert!(text.contains("finalized in block 0x") && text.contains("Balances.Transfer") && text.contains("amount=1.000000000 TSR"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wallets_sign_transactions() {
	let (_dir, _node, client, t) = start().await;
	let pw = [("TESSERA_PASSWORD", "correct horse")];

	// Create with a hotkey: the phrase is printed once, files are laid out like btcli's.
	let created = t.ok_env(&["wallet", "create", "--name", "alice", "--hotkey", "default"], &pw);
	let phrase = created["mnemonic"].as_str().unwrap().to_string();
	assert_eq!(phrase.split_whitespace().count(), 12);
	let cold = created["coldkey"].as_str().unwrap().to_string();
	let hot = created["hotkeys"][0]["ss58Address"].as_str().unwrap().to_string();
	assert_eq!(created["hotkeys"][0]["name"], "default");
	let dir = t.wallets.join("alice");
	assert!(dir.join("coldkey").is_file());
	let pubfile: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("coldkeypub.txt")).unwrap()).unwrap();
	assert_eq!(pubfile["ss58Address"], cold);
	let hotfile = KeyFile::load(&dir.join("hotkeys/default")).unwrap();
	assert_eq!(keys::ss58(&hotfile.keypair().unwrap()), hot);
	{
		use std::os::unix::fs::PermissionsExt;
		for f in ["coldkey", "hotkeys/default"] {
			assert_eq!(std::fs::metadata(dir.join(f)).unwrap().permissions().mode() & 0o777, 0o600, "{f}");
		}
	}
	assert!(!std::fs::read_to_string(dir.join("coldkey")).unwrap().contains(&phrase));
	assert_eq!(t.fail_env(&["wallet", "create", "--name", "alice"], &pw)["kind"], "wallet");
	// Without a password and without a terminal: a clear error.
	let e = t.fail(&["wallet", "create", "--name", "nopw"]);
	assert!(e["message"].as_str().unwrap().contains("TESSERA_PASSWORD"), "{e}");

	// Import the phrase under another name (password from --password-env): same address.
	let imported = t.ok_env(
		&["wallet", "import", "--name", "copy", "--mnemonic-env", "PHRASE", "--password-env", "PW2"],
		&[("PHRASE", phrase.as_str()), ("PW2", "other")],
	);
	assert_eq!(imported["coldkey"], cold);
	assert_eq!(t.fail_env(&["wallet", "import", "--name", "bad", "--mnemonic-env", "PHRASE"], &[("PHRASE", "not a phrase"), pw[0]])["kind"], "key");

	// New hotkey, list, show.
	let nh = t.ok(&["wallet", "new-hotkey", "--name", "alice", "--hotkey", "second"]);
	let second = nh["ss58Address"].as_str().unwrap().to_string();
	let shown = t.ok(&["wallet", "show", "--name", "alice"]);
	let names: Vec<_> = shown["hotkeys"].as_array().unwrap().iter().map(|h| h["name"].as_str().unwrap().to_string()).collect();
	assert_eq!(names, ["default", "second"]);
	let list = t.ok(&["wallet", "list"]);
	let wallets: Vec<_> = list["wallets"].as_array().unwrap().iter().map(|w| w["name"].as_str().unwrap().to_string()).collect();
	assert_eq!(wallets, ["alice", "copy"]);
	assert_eq!(t.fail(&["wallet", "show", "--name", "nobody"])["kind"], "wallet");

	// Fund the wallet; a wallet-signed transfer works, a wrong password fails before sending.
	t.ok(&["transfer", "--to", &cold, "--amount", "500", "--coldkey-uri", "//Alice"]);
	let bal = t.ok(&["balance", "--wallet", "alice"]);
	assert_eq!(planck(&bal["free"]), 500 * TOKEN);
	let e = t.fail_env(&["transfer", "--to", &second, "--amount", "5", "--wallet", "alice"], &[("TESSERA_PASSWORD", "wrong")]);
	assert_eq!(e["kind"], "wrong_password", "{e}");
	assert!(e["message"].as_str().unwrap().contains("wrong password"), "{e}");
	let e = t.fail(&["transfer", "--to", &second, "--amount", "5", "--wallet", "alice", "--password-env", "UNSET_VAR"]);
	assert_eq!(e["kind"], "usage");
	let tx = t.ok_env(&["transfer", "--to", &second, "--amount", "5", "--wallet", "alice"], &pw);
	assert_eq!(event(&tx, "Balances", "Transfer")["fields"]["from"], cold);
	assert_eq!(client.free_balance(&second.parse().unwrap()).await.unwrap(), 5 * TOKEN);
	// The imported copy signs for the same account.
	t.ok_env(&["transfer", "--to", &second, "--amount", "1", "--wallet", "copy", "--password-env", "PW2"], &[("PW2", "other")]);
	assert_eq!(client.free_balance(&second.parse().unwrap()).await.unwrap(), 6 * TOKEN);

	// Wallet hotkey names as accounts: register and stake by name; the hotkey signs weights.
	let reg = t.ok_env(&["register", "--netuid", NET, "--hotkey", "default", "--wallet", "alice"], &pw);
	assert_eq!(reg["hotkey"], hot);
	let uid = reg["uid"].as_u64().unwrap() as u16;
	t.ok_env(&["stake", "add", "--hotkey", "default", "--amount", "2", "--wallet", "alice"], &pw);
	let show = t.ok(&["stake", "show", "--hotkey", "default", "--wallet", "alice"]);
	assert!(planck(&show["stake"]) >= 2 * TOKEN - 1);
	let uid_s = uid.to_string();
	t.ok(&["transfer", "--to", &hot, "--amount", "10", "--coldkey-uri", "//Alice"]);
	// LastUpdate starts at registration: wait out the dev chain's 2-block weights rate limit.
	tessera_client::devnode::wait_for(std::time::Duration::from_secs(30), "2 blocks", || async {
		let m = client.metagraph(1).await.ok()?;
		(m.block >= m.neurons.iter().find(|n| n.uid == uid)?.last_update + 2).then_some(())
	})
	.await;
	t.ok(&["weights", "set", "--netuid", NET, "--uids", &uid_s, "--values", "7", "--wallet", "alice", "--hotkey", "default"]);
	assert_eq!(client.neuron(1, uid).await.unwrap().weights, vec![(uid, u16::MAX)]);
	assert_eq!(t.fail(&["weights", "set", "--netuid", NET, "--uids", &uid_s, "--values", "7", "--wallet", "alice", "--hotkey", "nope"])["kind"], "wallet");
}
