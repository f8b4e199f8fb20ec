//! The `tessera-node` binary.
//!
//! A thin entry point: argument parsing, logging and dispatch to the
//! sub-commands live in [`command`], the node services in [`service`].

#![warn(missing_docs)]

mod chain_spec;
mod cli;
mod command;
mod rpc;
mod service;

fn main() -> sc_cli::Result<()> {
	command::run()
}
