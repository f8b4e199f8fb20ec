//! The `tessera-node` binary.
//!
//! A thin entry point: argument parsing, logging and dispatch to the
//! sub-commands live in [`command`], the node services in [`service`].

#![warn(missing_docs)]
// `sc_cli::Error` is large, and `sc_cli::Result` is what the sc-cli commands return.
#![allow(clippy::result_large_err)]

mod chain_spec;
mod cli;
mod command;
mod rpc;
mod service;

fn main() -> sc_cli::Result<()> {
	command::run()
}
