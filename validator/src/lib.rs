//! # tessera-validator
//!
//! A Tessera validator: measures how well each miner predicts text it has never seen,
//! and writes weights on-chain.
//!
//! - [`tokenizer`]: the subnet tokenizer, built from the default model's GGUF metadata;
//! - [`corpus`]: the hidden evaluation corpus and the windows each round draws from it;
//! - [`round`]: one round, every miner in lockstep, with per-step deadlines, keeping
//!   signed answers at secret positions;
//! - [`audit`]: re-running those answers with the miner's committed model, in the
//!   background (bounded fetches, hostile model files checked before loading);
//! - [`enforce`]: no pay before a passed audit; weight 0, evidence and `report_fraud`
//!   for miners that fail one (or cannot deliver their model);
//! - [`refusals`]: which miners a round scores, and what refusing costs;
//! - [`scores`]: EMA scores per uid, weights, the per-round table;
//! - [`weights`]: `set_weights`, or commit-reveal, within the rate limits;
//! - [`store`]: the embedded database (redb) the validator resumes from;
//! - [`metrics`]: Prometheus metrics;
//! - [`run`]: the `tessera-validator` command line and the scoring loop.

#![warn(missing_docs)]

pub mod audit;
pub mod corpus;
pub mod enforce;
pub mod metrics;
pub mod refusals;
pub mod round;
pub mod run;
pub mod scores;
pub mod store;
pub mod tokenizer;
pub mod weights;

pub use round::{run_round, MinerTarget, Outcome, RoundConfig, RoundResult};
pub use tokenizer::SubnetTokenizer;
