//! The dev-node harness lives in `tessera_client::devnode`; the node's own tests use the
//! binary cargo built for them.
#![allow(unused_imports)]

pub use tessera_client::devnode::{free_port, wait_for, DevNode};

/// Starts the `tessera-node` this test was built with.
pub async fn start_dev_node(base_path: &std::path::Path) -> anyhow::Result<DevNode> {
	DevNode::start_with(std::path::Path::new(env!("CARGO_BIN_EXE_tessera-node")), base_path).await
}
