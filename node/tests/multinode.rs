//! Three nodes of the `local` chain (Aura + GRANDPA) on 127.0.0.1 finalize the same
//! blocks, and a node stopped and restarted catches up: `deploy/multinode.sh --check`
//! with this build's node binary.

use std::process::Command;

#[test]
fn three_local_nodes_finalize_together_and_a_restarted_node_catches_up() {
	let logs = tempfile::tempdir().unwrap();
	let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/multinode.sh");
	let out = Command::new("bash")
		.arg(script)
		.arg("--check")
		.env("TESSERA_NODE_BIN", env!("CARGO_BIN_EXE_tessera-node"))
		.env("TESSERA_LOG_DIR", logs.path())
		.output()
		.expect("bash runs");
	let stdout = String::from_utf8_lossy(&out.stdout);
	let stderr = String::from_utf8_lossy(&out.stderr);
	assert!(out.status.success(), "multinode check failed ({})\n{stdout}\n{stderr}", out.status);
	for step in ["they agree on finalized block 3", "finalize 5 more blocks without charlie", "charlie caught up", "multinode check passed"] {
		assert!(stdout.contains(step), "missing `{step}`:\n{stdout}");
	}
}
