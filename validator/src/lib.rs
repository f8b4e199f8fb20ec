//! # tessera-validator
//!
//! A Tessera validator: measures how well each miner predicts text it has never seen,
//! and writes weights on-chain.
//!
//! - [`tokenizer`]: the subnet tokenizer, built from the default model's GGUF metadata;
//! - [`corpus`]: the hidden evaluation corpus and the windows each round draws from it;
//! - [`round`]: one round, every miner in lockstep, with per-step deadlines;
//! - [`scores`]: EMA scores per uid, weights, the per-round table;
//! - [`weights`]: `set_weights`, or commit-reveal, within the rate limits;
//! - [`store`]: the embedded database (redb) the validator resumes from;
//! - [`metrics`]: Prometheus metrics;
//! - [`run`]: the `tessera-validator` command line and the scoring loop.

#![warn(missing_docs)]

pub mod corpus;
pub mod metrics;
pub mod round;
pub mod run;
pub mod scores;
pub mod store;
pub mod tokenizer;
pub mod weights;

pub use round::{run_round, MinerTarget, Outcome, RoundConfig, RoundResult};
pub use tokenizer::SubnetTokenizer;
