//! The README's localnet, end to end (`deploy/localnet.sh` with this build's binaries and
//! small rounds): a dev chain, wallets created and funded with the `tessera` CLI, a strong
//! and a weak miner, a staked validator; the script exits once the metagraph shows the
//! strong miner's incentive above the weak one's, which the test checks again itself.

use std::{path::Path, process::Command};

use tessera_client::devnode::free_port;

#[test]
fn the_localnet_shows_the_strong_miner_earning_more() {
	let dir = tempfile::tempdir().unwrap();
	let bin_dir = Path::new(env!("CARGO_BIN_EXE_tessera-validator")).parent().unwrap();
	let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/localnet.sh");
	let out = Command::new("bash")
		.arg(script)
		.env("TESSERA_BIN_DIR", bin_dir)
		.env("TESSERA_LOG_DIR", dir.path())
		.env("TESSERA_RPC_PORT", free_port().to_string())
		.env("TESSERA_LOCALNET_ONESHOT", "1")
		.env("TESSERA_LOCALNET_TIMEOUT", "420")
		.env("TESSERA_DEV_BLOCK_TIME", "500")
		// Small rounds: the test machine runs everything on two cores.
		.env("TESSERA_DOCS_PER_ROUND", "4")
		.env("TESSERA_PREFIX_TOKENS", "16")
		.env("TESSERA_SCORED_TOKENS", "32")
		.env("TESSERA_TOP_K", "16")
		.output()
		.expect("bash runs");
	let stdout = String::from_utf8_lossy(&out.stdout);
	let logs = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap_or_default();
	assert!(
		out.status.success(),
		"localnet failed ({})\n{stdout}\n{}\n--- validator.log (tail)\n{}",
		out.status,
		String::from_utf8_lossy(&out.stderr),
		logs("validator.log").lines().rev().take(40).collect::<Vec<_>>().join("\n")
	);
	assert!(stdout.contains("the strong miner earns more"), "{stdout}");
	// The printed table and the script's own check agree: strong incentive > weak.
	let line = stdout.lines().find(|l| l.contains("the strong miner earns more")).unwrap();
	let nums: Vec<u64> = line
		.split(|c: char| !c.is_ascii_digit())
		.filter(|s| !s.is_empty())
		.map(|s| s.parse().unwrap())
		.collect();
	let (strong, weak) = (nums[nums.len() - 2], nums[nums.len() - 1]);
	assert!(strong > weak, "{line}");
	assert!(stdout.contains("subnet 1 at block"), "the metagraph table is printed:\n{stdout}");
	assert!(logs("validator.log").contains("weights set"), "the validator set weights");
}
