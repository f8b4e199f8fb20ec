//! Start and stop a real `tessera-node --dev` on 127.0.0.1, for end-to-end tests of every
//! crate (node, miner, validator, CLI) and for scripts.
//!
//! The binary is `$TESSERA_NODE_BIN` if set, else `tessera-node` next to the running
//! executable or one directory up (a test binary lives in `target/<profile>/deps/`).

use std::{
	net::TcpListener,
	path::{Path, PathBuf},
	process::{Child, Command, Stdio},
	time::{Duration, Instant},
};
use crate::TesseraClient;

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
	TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Where `name` (a workspace binary) is: `$<VAR>` if set, else next to the running
/// executable or in its parent directory.
pub fn workspace_binary(name: &str, var: &str) -> anyhow::Result<PathBuf> {
	if let Some(p) = std::env::var_os(var) {
		return Ok(PathBuf::from(p));
	}
	let exe = std::env::current_exe()?;
	let mut dir = exe.parent();
	for _ in 0..2 {
		let Some(d) = dir else { break };
		let candidate = d.join(name);
		if candidate.is_file() {
			return Ok(candidate);
		}
		dir = d.parent();
	}
	anyhow::bail!("{name} not found next to {} (build the workspace first, or set {var})", exe.display())
}

/// The `tessera-node` binary ([`workspace_binary`] with `TESSERA_NODE_BIN`).
pub fn node_binary() -> anyhow::Result<PathBuf> {
	workspace_binary("tessera-node", "TESSERA_NODE_BIN")
}

/// A running dev node; killed when dropped.
pub struct DevNode {
	child: Option<Child>,
	/// WebSocket RPC URL.
	pub url: String,
	/// Where its log goes.
	pub log: PathBuf,
}

impl DevNode {
	/// Start `tessera-node --dev` (see [`node_binary`]) on `base_path` with RPC on a free
	/// 127.0.0.1 port and wait until it answers RPC (at most 120 s).
	pub async fn start(base_path: &Path) -> anyhow::Result<Self> {
		Self::start_with(&node_binary()?, base_path).await
	}

	/// Like [`DevNode::start`] with an explicit binary.
	pub async fn start_with(binary: &Path, base_path: &Path) -> anyhow::Result<Self> {
		let rpc = free_port();
		let p2p = free_port();
		let log = base_path.with_extension(format!("{rpc}.log"));
		let out = std::fs::File::create(&log)?;
		let child = Command::new(binary)
			.args(["--dev", "--base-path"])
			.arg(base_path)
			.args(["--rpc-port", &rpc.to_string()])
			.args(["--listen-addr", &format!("/ip4/127.0.0.1/tcp/{p2p}")])
			.args(["--no-prometheus", "--no-telemetry", "--no-mdns", "--dev-block-time", "500"])
			.stdout(Stdio::null())
			.stderr(out)
			.spawn()?;
		let mut node = Self { child: Some(child), url: format!("ws://127.0.0.1:{rpc}"), log };
		let deadline = Instant::now() + Duration::from_secs(120);
		loop {
			if let Ok(client) = TesseraClient::connect(&node.url).await {
				// Ready once the first block is finalized.
				if client.finalized_number().await.unwrap_or(0) >= 1 {
					return Ok(node);
				}
			}
			if let Some(status) = node.child.as_mut().unwrap().try_wait()? {
				anyhow::bail!("tessera-node exited with {status}; log:\n{}", node.log_tail());
			}
			if Instant::now() > deadline {
				anyhow::bail!("tessera-node did not become ready; log:\n{}", node.log_tail());
			}
			tokio::time::sleep(Duration::from_millis(250)).await;
		}
	}

	/// A connected client.
	pub async fn client(&self) -> TesseraClient {
		TesseraClient::connect(&self.url).await.expect("connect to dev node")
	}

	/// The last lines of the node's log.
	pub fn log_tail(&self) -> String {
		let text = std::fs::read_to_string(&self.log).unwrap_or_default();
		let lines: Vec<&str> = text.lines().collect();
		lines[lines.len().saturating_sub(40)..].join("\n")
	}

	/// Kill the node at once (SIGKILL: no shutdown, no flush), as a crash or `kill -9`.
	pub fn kill(&mut self) {
		if let Some(mut child) = self.child.take() {
			let _ = child.kill();
			let _ = child.wait();
		}
	}

	/// Stop gracefully (SIGINT), waiting at most 30 s before killing.
	pub fn stop(&mut self) {
		let Some(mut child) = self.child.take() else { return };
		let _ = Command::new("kill").args(["-INT", &child.id().to_string()]).status();
		let deadline = Instant::now() + Duration::from_secs(30);
		while Instant::now() < deadline {
			if let Ok(Some(_)) = child.try_wait() {
				return;
			}
			std::thread::sleep(Duration::from_millis(100));
		}
		let _ = child.kill();
		let _ = child.wait();
	}
}

impl Drop for DevNode {
	fn drop(&mut self) {
		self.kill();
	}
}

/// Poll `check` every 250 ms until it returns `Some`, at most `timeout`.
pub async fn wait_for<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
	F: FnMut() -> Fut,
	Fut: std::future::Future<Output = Option<T>>,
{
	let deadline = Instant::now() + timeout;
	loop {
		if let Some(v) = check().await {
			return v;
		}
		assert!(Instant::now() < deadline, "timed out waiting for {what}");
		tokio::time::sleep(Duration::from_millis(250)).await;
	}
}
