//! # tessera-client
//!
//! The Rust client of the Tessera chain: a typed [`TesseraClient`] over subxt (static
//! metadata checked in as `metadata.scale`), sr25519 key handling ([`keys`]) and the
//! errors a caller can act on ([`ClientError`]).
//!
//! Every extrinsic helper signs, submits, waits for finalization and returns the
//! finalized events; a failed dispatch comes back as [`ClientError::Dispatch`] naming
//! the pallet error (e.g. `Tessera::InvalidUid`).

pub mod chain;
pub mod commands;
pub mod devnode;
pub mod cli;
pub mod error;
pub mod keys;
pub mod wallet;

pub use chain::{FraudEvidenceArgs, TesseraClient, TxOutcome};
pub use error::ClientError;
pub use keys::{Keypair, KeyFile, KeyKind};

/// Types and calls generated from the runtime's metadata (`client/metadata.scale`).
///
/// Regenerate with `tessera-node export-metadata --out client/metadata.scale` after any
/// runtime change; the test `metadata_matches_runtime` in `tessera-node` fails until then.
#[subxt::subxt(
	runtime_metadata_path = "metadata.scale",
	derive_for_all_types = "Clone, PartialEq, Eq")]
pub mod runtime {}

/// Metadata bytes the client was generated from.
pub const METADATA: &[u8] = include_bytes!("../metadata.scale");

/// Generated pallet-tessera types.
pub use runtime::runtime_types::pallet_tessera::types::{
	AxonInfo, Hyperparam, ModelCommitment, SubnetHyperparams,
};
/// The metagraph of a subnet as `TesseraApi::metagraph` returns it.
pub type Metagraph = runtime::runtime_types::pallet_tessera::types::Metagraph<AccountId>;
/// A reported miner's bond held in escrow after it left its subnet.
pub type EscrowedBond = runtime::runtime_types::pallet_tessera::types::EscrowedBond<AccountId>;
/// A coldkey's balances and stake positions as `TesseraApi::coldkey_info` returns them.
pub type ColdkeyInfo = runtime::runtime_types::pallet_tessera::types::ColdkeyInfo<AccountId>;
/// One stake position of a coldkey (hotkey, shares, principal, value).
pub type StakeInfo = runtime::runtime_types::pallet_tessera::types::StakeInfo<AccountId>;
/// One neuron as `TesseraApi::neuron` returns it.
pub type NeuronInfo = runtime::runtime_types::pallet_tessera::types::NeuronInfo<AccountId>;
/// Account id type of the chain.
pub use subxt::utils::AccountId32 as AccountId;
/// 256-bit hash (model, tokenizer, commit hashes).
pub use subxt::utils::H256;

/// One token has 9 decimals.
pub const TOKEN: u128 = 1_000_000_000;
