//! Compiles `proto/tessera/v1/*.proto` with protox (pure Rust, no system `protoc`) and
//! generates prost messages plus tonic client and server code with tonic-prost-build.
//! Also writes the encoded `FileDescriptorSet` to `$OUT_DIR/tessera_descriptor.bin`
//! for gRPC reflection.

use std::{path::PathBuf, process::ExitCode};

use protox::prost::Message as _;

/// Proto files compiled, relative to the crate root.
const PROTOS: &[&str] = &["proto/tessera/v1/miner.proto"];
/// Include directory for imports.
const INCLUDE: &str = "proto";

fn main() -> ExitCode {
	for p in PROTOS {
		println!("cargo:rerun-if-changed={p}");
	}
	println!("cargo:rerun-if-changed=build.rs");
	match run() {
		Ok(()) => ExitCode::SUCCESS,
		Err(e) => {
			eprintln!("tessera-proto build: {e}");
			ExitCode::FAILURE
		},
	}
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
	let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
	// Source info (comments) is kept: prost turns it into doc comments, and reflection
	// clients show it.
	let fds = protox::compile(PROTOS, [INCLUDE])?;
	std::fs::write(out_dir.join("tessera_descriptor.bin"), fds.encode_to_vec())?;
	tonic_prost_build::configure()
		.build_client(true)
		.build_server(true)
		.build_transport(true)
		// Model chunks are slices of one in-memory file: `Bytes`, so serving copies nothing.
		.bytes(".tessera.v1.ModelChunk.data")
		.compile_fds(fds)?;
	Ok(())
}
