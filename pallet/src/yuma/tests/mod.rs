//! Tests of the Yuma consensus math.
//!
//! Most tests port a subtensor test (opentensor/subtensor, `pallets/subtensor/src/tests/`)
//! at the math level: subtensor runs them through storage, here the same stakes, stored
//! weights, blocks and hyperparameters are given to [`super::epoch`] directly, and the
//! same expected numbers and tolerances are checked. Each test names its source.

#![allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::arithmetic_side_effects)]

mod emission;
mod epoch;
mod math;
mod permits;
mod props;
mod yuma3;

use super::{math::SparseRow, EpochInput, EpochOptions, EpochOutput, EpochParams};
use substrate_fixed::types::{I32F32, I64F64, I96F32};

/// `f64` to fixed point (tests only).
pub fn fixed(value: f64) -> I32F32 {
	I32F32::from_num(value)
}

/// Fixed point to `f64` (tests only).
pub fn to_f64(value: I32F32) -> f64 {
	value.to_num::<f64>()
}

/// subtensor's `vec_to_fixed`: values go through `f32`, as there.
pub fn vec_to_fixed(values: &[f32]) -> Vec<I32F32> {
	values.iter().map(|v| I32F32::from_num(*v)).collect()
}

/// subtensor's `vec_to_sparse_mat_fixed`: a dense row-major `rows × cols` matrix (or its
/// transpose) as sparse rows of its positive entries.
pub fn vec_to_sparse_mat_fixed(values: &[f32], rows: usize, transpose: bool) -> Vec<SparseRow> {
	assert_eq!(values.len() % rows, 0);
	let cols = values.len() / rows;
	let at = |r: usize, c: usize| values[r * cols + c];
	if transpose {
		(0..cols)
			.map(|c| (0..rows).filter(|r| at(*r, c) > 0.).map(|r| (r as u16, I32F32::from_num(at(r, c)))).collect())
			.collect()
	} else {
		(0..rows)
			.map(|r| (0..cols).filter(|c| at(r, *c) > 0.).map(|c| (c as u16, I32F32::from_num(at(r, c)))).collect())
			.collect()
	}
}

/// subtensor's `assert_sparse_mat_compare`.
pub fn assert_sparse_mat_compare(a: &[SparseRow], b: &[SparseRow], epsilon: I32F32) {
	assert_eq!(a.len(), b.len(), "rows: {a:?} vs {b:?}");
	for (row_a, row_b) in a.iter().zip(b.iter()) {
		assert_eq!(row_a.len(), row_b.len(), "row {row_a:?} vs {row_b:?}");
		for ((ja, va), (jb, vb)) in row_a.iter().zip(row_b.iter()) {
			assert_eq!(ja, jb);
			assert!((*va - *vb).abs() <= epsilon, "{va} vs {vb} (row {row_a:?} vs {row_b:?})");
		}
	}
}

/// subtensor's `assert_vec_compare`.
pub fn assert_vec_compare(a: &[I32F32], b: &[I32F32], epsilon: I32F32) {
	assert_eq!(a.len(), b.len());
	for (x, y) in a.iter().zip(b.iter()) {
		assert!((*x - *y).abs() <= epsilon, "{x} vs {y} in {a:?} vs {b:?}");
	}
}

/// `u16` proportion as `f64`.
pub fn u16_f64(value: u16) -> f64 {
	value as f64 / u16::MAX as f64
}

/// subtensor's stored emission for a share: `floor(I96F32(share) · amount)`.
pub fn emission_of(share: I64F64, amount: u64) -> u64 {
	(I96F32::from_num(share) * I96F32::from_num(amount)).to_num::<u64>()
}

/// What subtensor's `set_weights` stores: the values max-upscaled to `u16::MAX`
/// (`vec_u16_max_upscale_to_u16`), zipped with the uids, zeros kept.
pub fn stored_weights(uids: &[u16], values: &[u16]) -> Vec<(u16, u16)> {
	let as_fixed: Vec<I32F32> = values.iter().map(|v| I32F32::from_num(*v)).collect();
	uids.iter().copied().zip(super::math::max_upscale_to_u16(&as_fixed)).collect()
}

/// A subnet's storage, as far as the epoch reads and writes it.
#[derive(Clone, Debug)]
pub struct Net {
	pub params: EpochParams,
	pub options: EpochOptions,
	pub stake: Vec<u128>,
	pub last_update: Vec<u64>,
	pub registered: Vec<u64>,
	pub weights: Vec<Vec<(u16, u16)>>,
	pub bonds: Vec<Vec<(u16, u16)>>,
}

impl Net {
	/// `n` uids registered at block `registered_at`, with the given stakes.
	pub fn new(stake: &[u128], registered_at: u64) -> Self {
		let n = stake.len();
		Net {
			params: EpochParams { max_allowed_validators: n as u16, ..Default::default() },
			options: EpochOptions::default(),
			stake: stake.to_vec(),
			last_update: vec![registered_at; n],
			registered: vec![registered_at; n],
			weights: vec![vec![]; n],
			bonds: vec![vec![]; n],
		}
	}

	/// subtensor's `set_weights(uid, uids, values)` at `block`.
	pub fn set_weights(&mut self, uid: u16, uids: &[u16], values: &[u16], block: u64) {
		self.weights[uid as usize] = stored_weights(uids, values);
		self.last_update[uid as usize] = block;
	}

	/// Runs an epoch at `block` and stores its bonds, as subtensor's `epoch` does.
	pub fn epoch(&mut self, block: u64) -> EpochOutput {
		self.params.current_block = block;
		let input = EpochInput {
			params: self.params.clone(),
			stake: &self.stake,
			last_update: &self.last_update,
			block_at_registration: &self.registered,
			weights: &self.weights,
			bonds: &self.bonds,
		};
		let out = super::epoch_with_options(&input, &self.options);
		self.bonds = out.bonds.clone();
		out
	}

	/// Stored bond `(i, j)` as subtensor's `get_bonds` reads it (0 when absent).
	pub fn bond(&self, i: usize, j: u16) -> u16 {
		self.bonds[i].iter().find(|(c, _)| *c == j).map(|(_, b)| *b).unwrap_or(0)
	}
}
