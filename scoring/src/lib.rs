//! Tessera scoring math: pure, deterministic functions, no I/O.
//!
//! - [`bits`]: per-token bits of a miner's answer, floored at [`FLOOR_BITS`];
//! - [`bpb`]: bits per byte over a round;
//! - [`compare`]: paired significance comparison of miners on the same tokens, ties to
//!   the earlier model commitment, Copeland win rate as the round score;
//! - [`ema`]: moving average of round scores across rounds;
//! - [`weights`]: scores to the u16 weights subtensor takes.
//!
//! ```
//! use std::collections::BTreeMap;
//! use ndarray::array;
//! use tessera_scoring::{compare, to_u16_weights, CompareConfig, Ema};
//!
//! // Two miners (uids 4 and 9) on the same four tokens; uid 9 committed its model first.
//! let bits = array![[1.0, 2.0, 0.5, 3.0], [1.0, 2.0, 0.5, 3.0]];
//! let round = compare(&bits, &[3, 5, 1, 4], &[120, 80], &CompareConfig::default()).unwrap();
//! assert_eq!(round.scores, vec![0.0, 1.0]); // a copy does not beat its original
//! let mut ema = Ema::new(0.1).unwrap();
//! ema.update([4u16, 9].into_iter().zip(round.scores)).unwrap();
//! assert_eq!(to_u16_weights(ema.scores()), (vec![9], vec![65535]));
//! ```
#![warn(missing_docs)]

pub mod bits;
pub mod bpb;
pub mod compare;
pub mod ema;
pub mod weights;

pub use bits::{score_token, token_bits, FloorReason, Scored, FLOOR_BITS};
pub use bpb::{bits_per_byte, BpbError, Tally};
pub use compare::{compare, CompareConfig, CompareError, Comparison};
pub use ema::{Ema, EmaError};
pub use weights::{normalize, to_u16_weights};
