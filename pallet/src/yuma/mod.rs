//! Yuma consensus: the pure math of one subnet epoch, with no storage access.
//!
//! [`epoch`] ports the semantics of subtensor's sparse epoch (`epoch_mechanism` in
//! `pallets/subtensor/src/epoch/run_epoch.rs`), in the same `I32F32` fixed point and with
//! the same rounding, so that subtensor's test scenarios give the same numbers:
//!
//! 1. **Stake**: each uid's stake as a proportion of the total.
//! 2. **Activity**: a uid is inactive when `last_update + activity_cutoff < current_block`.
//! 3. **Validator permits**: the `max_allowed_validators` uids with the largest non-zero
//!    stake *proportion* (step 1's `I32F32`, as subtensor's `is_topk_nonzero` ranks it;
//!    ties to the lower uid). A stake below `2⁻³²` of the total is a zero proportion and
//!    gets no permit however few validators there are, so dust stake cannot put a bonds
//!    row into the column normalisation.
//! 4. **Active stake**: stake of active, permitted uids, normalised.
//! 5. **Weights**: rows of non-permitted uids dropped, self-weights dropped (except the
//!    subnet owner's, see [`EpochOptions::owner_uid`]), weights set no later than the
//!    target's registration (`last_update[i] <= block_at_registration[j]`) dropped, rows
//!    normalised.
//! 6. **Consensus**: per column, the stake-weighted median at `kappa`.
//! 7. **Clipping**: weights above consensus lowered to it; validator trust is the row sum
//!    of clipped weights; rank is `S · W_clipped` normalised (= incentive); trust is
//!    rank / pre-clip rank (subtensor before rank and trust were dropped from storage).
//! 8. **Bonds and dividends**: original Yuma (EMA with `1 − bma/1e6`) or Yuma3 (per-bond
//!    EMA, liquid alpha optional); see [`bonds`].
//! 9. **Emission shares**: incentive + dividends, normalised; when both are zero, the
//!    active stake (or all stake) instead. Pruning scores are these shares max-upscaled.
//!
//! Everything is sparse: cost grows with `n` plus the number of weight and bond entries,
//! never with `n²`. No input can make it panic: arithmetic saturates, divisions are
//! checked, lengths may disagree (missing values count as zero), and weight or bond
//! entries naming a uid `>= n` are ignored.
//!
//! Differences from subtensor, by design of this pallet:
//! - permits are computed from this epoch's stake and used at once (subtensor masks with
//!   the permits stored by the previous epoch and stores the new ones); ties go to the
//!   lower uid (subtensor's `is_topk` gives them to the higher one);
//! - there is no minimum-stake threshold and no commit-reveal column mask (the caller
//!   applies both before building the input if it wants them);
//! - the `bonds_moving_average` is capped at 1_000_000 (alpha never leaves `[0, 1]`);
//! - the activity cutoff is given in blocks (subtensor now derives it from the tempo).

pub(crate) mod bonds;
pub mod emission;
pub(crate) mod math;

#[cfg(test)]
mod tests;

use alloc::{vec, vec::Vec};
use bonds::{BondsInputs, BondsOutcome, LiquidAlpha};
use math::{
	canonical_row, col_clip, elementwise_div, interpolate, max_upscale_to_u16, normalize, proportion_to_u16,
	row_normalize, row_sums, stake_proportions, sum, top_k_nonzero, u16_to_proportion,
	weighted_col_sums, weighted_median_by_column, zero, SparseRow,
};
use substrate_fixed::types::{I32F32, I64F64};

pub use emission::split_emission;

/// Largest possible subnet: uids are `u16`.
const MAX_UIDS: usize = u16::MAX as usize + 1;

/// Subnet hyperparameters and the current block, as the epoch reads them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EpochParams {
	/// Consensus majority as a `u16` proportion (32767 ≈ 0.5).
	pub kappa: u16,
	/// Bonds moving average in millionths: alpha = `1 − bma / 1_000_000`.
	pub bonds_moving_average: u64,
	/// Use Yuma3 bonds instead of the original Yuma bonds.
	pub yuma3_enabled: bool,
	/// With Yuma3, give every bond its own sigmoid alpha in `[alpha_low, alpha_high]`.
	pub liquid_alpha_enabled: bool,
	/// Lower liquid alpha, `u16` proportion.
	pub alpha_low: u16,
	/// Upper liquid alpha, `u16` proportion.
	pub alpha_high: u16,
	/// Number of validator permits.
	pub max_allowed_validators: u16,
	/// Blocks after its last weight update during which a uid stays active.
	pub activity_cutoff: u16,
	/// The block this epoch runs in.
	pub current_block: u64,
}

impl EpochParams {
	/// The epoch parameters of a subnet with hyperparameters `p` at block `current_block`.
	pub fn from_hyperparams(p: &crate::SubnetHyperparams, current_block: u64) -> Self {
		Self {
			kappa: p.kappa,
			bonds_moving_average: p.bonds_moving_average,
			yuma3_enabled: p.yuma3_enabled,
			liquid_alpha_enabled: p.liquid_alpha_enabled,
			alpha_low: p.alpha_low,
			alpha_high: p.alpha_high,
			max_allowed_validators: p.max_allowed_validators,
			activity_cutoff: p.activity_cutoff,
			current_block,
		}
	}
}

impl Default for EpochParams {
	/// The default subnet's hyperparameters (subtensor's defaults: kappa 0.5, bma 900_000,
	/// alpha 0.7..0.9, 64 validators, activity cutoff 5000, original Yuma) at block 0.
	fn default() -> Self {
		Self::from_hyperparams(&crate::SubnetHyperparams::default(), 0)
	}
}

/// Settings subtensor also reads but [`EpochParams`] leaves out; [`epoch`] uses
/// [`EpochOptions::default`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EpochOptions {
	/// The subnet owner's uid, if it holds one: it always gets a validator permit and its
	/// self-weight is kept (subtensor). Default `None`: every self-weight is dropped.
	pub owner_uid: Option<u16>,
	/// How much bonds follow clipped rather than raw weights, `u16` proportion
	/// (subtensor's `BondsPenalty`; default `u16::MAX`, fully clipped).
	pub bonds_penalty: u16,
	/// Steepness of the liquid-alpha sigmoid (subtensor's `AlphaSigmoidSteepness`; default
	/// 1000).
	pub alpha_sigmoid_steepness: i16,
	/// subtensor's `last_tempo`, the first block after the previous epoch: bonds towards a
	/// uid registered at or after it are dropped before the EMA, so a new neuron does not
	/// inherit its slot's bonds. Default `None`: no bond is dropped.
	pub bonds_reset_from_block: Option<u64>,
}

impl Default for EpochOptions {
	fn default() -> Self {
		Self { owner_uid: None, bonds_penalty: u16::MAX, alpha_sigmoid_steepness: 1_000, bonds_reset_from_block: None }
	}
}

/// Everything one epoch reads, indexed by uid (`0..n`, `n` = the longest of the slices).
#[derive(Clone, Debug)]
pub struct EpochInput<'a> {
	/// Hyperparameters and the current block.
	pub params: EpochParams,
	/// Total stake behind each uid's hotkey.
	pub stake: &'a [u128],
	/// Block of each uid's last weights update.
	pub last_update: &'a [u64],
	/// Block at which each uid was (last) registered.
	pub block_at_registration: &'a [u64],
	/// Each uid's weights row as stored: `(target uid, u16 weight)`, any order.
	pub weights: &'a [Vec<(u16, u16)>],
	/// Each uid's bonds row as stored by the previous epoch: `(target uid, u16 bond)`.
	pub bonds: &'a [Vec<(u16, u16)>],
}

/// Everything one epoch produces, one entry per uid.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EpochOutput {
	/// Updated weights within the activity cutoff.
	pub active: Vec<bool>,
	/// Holds a validator permit (for this epoch and until the next).
	pub validator_permit: Vec<bool>,
	/// Normalised rank, `u16` proportion (equal to incentive, as in subtensor).
	pub rank: Vec<u16>,
	/// Rank after clipping over rank before, `u16` proportion.
	pub trust: Vec<u16>,
	/// Stake-weighted median weight received, `u16` proportion.
	pub consensus: Vec<u16>,
	/// Miner incentive, `u16` proportion (sums to about `u16::MAX`, or zero).
	pub incentive: Vec<u16>,
	/// Validator dividends, `u16` proportion (sums to about `u16::MAX`, or zero).
	pub dividends: Vec<u16>,
	/// Sum of the validator's clipped weights, `u16` proportion.
	pub validator_trust: Vec<u16>,
	/// Emission share max-upscaled to `u16::MAX` (the lowest is pruned first).
	pub pruning_scores: Vec<u16>,
	/// Stake as a `u16` proportion of total stake.
	pub stake_weight: Vec<u16>,
	/// New bonds rows to store (empty for uids without a validator permit).
	pub bonds: Vec<Vec<(u16, u16)>>,
	/// Normalised incentive (sums to one, or all zero).
	pub incentive_share: Vec<I64F64>,
	/// Normalised dividends (sums to one, or all zero).
	pub dividend_share: Vec<I64F64>,
	/// Normalised incentive + dividends, or the stake fallback when both are zero
	/// (subtensor's combined emission; sums to one unless all stake is zero).
	pub emission_share: Vec<I64F64>,
}

/// Runs one epoch with [`EpochOptions::default`].
pub fn epoch(input: &EpochInput) -> EpochOutput {
	epoch_with_options(input, &EpochOptions::default())
}

/// Runs one epoch (see the module documentation for the steps).
pub fn epoch_with_options(input: &EpochInput, options: &EpochOptions) -> EpochOutput {
	let params = &input.params;
	let n = subnet_size(input);
	let raw_stake = padded(input.stake, n);
	let last_update = padded(input.last_update, n);
	let registered = padded(input.block_at_registration, n);

	let stake = stake_proportions(&raw_stake);
	let active = activity(&last_update, params.activity_cutoff, params.current_block);
	let validator_permit = validator_permits(&stake, params.max_allowed_validators, options.owner_uid);
	let active_stake = active_validator_stake(&stake, &active, &validator_permit);

	let weights = prepare_weights(input.weights, n, &validator_permit, &last_update, &registered, options.owner_uid);
	let consensus = weighted_median_by_column(&active_stake, &weights, n, u16_to_proportion(params.kappa));
	let clipped = col_clip(&weights, &consensus);
	let validator_trust = row_sums(&clipped);

	let preranks = weighted_col_sums(&weights, &active_stake, n);
	let mut ranks = weighted_col_sums(&clipped, &active_stake, n);
	let trust = elementwise_div(&ranks, &preranks);
	normalize(&mut ranks);
	let incentive = ranks;

	let weights_for_bonds = interpolate(&weights, &clipped, u16_to_proportion(options.bonds_penalty));
	let stored_bonds = prepare_bonds(input.bonds, n, &registered, options.bonds_reset_from_block);
	let bonds_inputs = BondsInputs {
		n,
		weights_for_bonds: &weights_for_bonds,
		stored_bonds: &stored_bonds,
		active_stake: &active_stake,
		incentive: &incentive,
		consensus: &consensus,
		bonds_moving_average: params.bonds_moving_average,
	};
	let BondsOutcome { dividends, bonds } = if params.yuma3_enabled {
		let liquid = LiquidAlpha {
			alpha_low: params.alpha_low,
			alpha_high: params.alpha_high,
			steepness: options.alpha_sigmoid_steepness,
		};
		bonds::yuma3(&bonds_inputs, params.liquid_alpha_enabled.then_some(&liquid))
	} else {
		bonds::original_yuma(&bonds_inputs)
	};

	let emission_share = emission_shares(&incentive, &dividends, &active_stake, &stake);

	EpochOutput {
		rank: to_u16(&incentive),
		trust: to_u16(&trust),
		consensus: to_u16(&consensus),
		incentive: to_u16(&incentive),
		dividends: to_u16(&dividends),
		validator_trust: to_u16(&validator_trust),
		pruning_scores: max_upscale_to_u16(&emission_share),
		stake_weight: to_u16(&stake),
		bonds: bonds_to_store(bonds, &validator_permit, n),
		incentive_share: to_i64f64(&incentive),
		dividend_share: to_i64f64(&dividends),
		emission_share: to_i64f64(&emission_share),
		active,
		validator_permit,
	}
}

/// `n`: the longest input slice, at most 65536 (uids are `u16`).
fn subnet_size(input: &EpochInput) -> usize {
	[
		input.stake.len(),
		input.last_update.len(),
		input.block_at_registration.len(),
		input.weights.len(),
		input.bonds.len(),
	]
	.into_iter()
	.max()
	.unwrap_or(0)
	.min(MAX_UIDS)
}

/// `values` cut or zero-padded to length `n`.
fn padded<T: Copy + Default>(values: &[T], n: usize) -> Vec<T> {
	(0..n).map(|i| values.get(i).copied().unwrap_or_default()).collect()
}

/// `true` unless `last_update + activity_cutoff < current_block`.
fn activity(last_update: &[u64], activity_cutoff: u16, current_block: u64) -> Vec<bool> {
	last_update
		.iter()
		.map(|updated| updated.saturating_add(u64::from(activity_cutoff)) >= current_block)
		.collect()
}

/// Top `max_allowed_validators` non-zero stake proportions (ties to the lower uid), plus
/// the owner.
fn validator_permits(stake: &[I32F32], max_allowed_validators: u16, owner_uid: Option<u16>) -> Vec<bool> {
	let mut permits = top_k_nonzero(stake, usize::from(max_allowed_validators));
	if let Some(permit) = owner_uid.and_then(|owner| permits.get_mut(usize::from(owner))) {
		*permit = true;
	}
	permits
}

/// Stake of active, permitted uids, normalised.
fn active_validator_stake(stake: &[I32F32], active: &[bool], permit: &[bool]) -> Vec<I32F32> {
	let mut active_stake: Vec<I32F32> = stake
		.iter()
		.zip(active.iter().zip(permit.iter()))
		.map(|(s, (is_active, has_permit))| if *is_active && *has_permit { *s } else { zero() })
		.collect();
	normalize(&mut active_stake);
	active_stake
}

/// Canonical weight rows of permitted uids without self-weights (the owner's excepted)
/// and without weights set no later than the target's registration, row-normalised.
/// Explicit zero weights are kept, as subtensor keeps them.
fn prepare_weights(
	stored: &[Vec<(u16, u16)>],
	n: usize,
	permit: &[bool],
	last_update: &[u64],
	registered: &[u64],
	owner_uid: Option<u16>,
) -> Vec<SparseRow> {
	let empty = Vec::new();
	let mut weights: Vec<SparseRow> = (0..n)
		.map(|i| {
			if !permit.get(i).copied().unwrap_or(false) {
				return SparseRow::new();
			}
			let updated = last_update.get(i).copied().unwrap_or(0);
			let keeps_self = owner_uid.map(usize::from) == Some(i);
			canonical_row(stored.get(i).unwrap_or(&empty), n)
				.into_iter()
				.filter(|(j, _)| usize::from(*j) != i || keeps_self)
				.filter(|(j, _)| updated > registered.get(usize::from(*j)).copied().unwrap_or(0))
				.map(|(j, w)| (j, I32F32::from_num(w)))
				.collect()
		})
		.collect();
	row_normalize(&mut weights);
	weights
}

/// Canonical stored bond rows, without bonds towards uids registered at or after
/// `reset_from` (when given).
fn prepare_bonds(stored: &[Vec<(u16, u16)>], n: usize, registered: &[u64], reset_from: Option<u64>) -> Vec<Vec<(u16, u16)>> {
	let empty = Vec::new();
	(0..n)
		.map(|i| {
			canonical_row(stored.get(i).unwrap_or(&empty), n)
				.into_iter()
				.filter(|(j, _)| match reset_from {
					Some(block) => block > registered.get(usize::from(*j)).copied().unwrap_or(0),
					None => true,
				})
				.collect()
		})
		.collect()
}

/// Incentive + dividends normalised; when they are all zero, the active stake, or the
/// stake when no stake is active (subtensor's emission fallback).
fn emission_shares(incentive: &[I32F32], dividends: &[I32F32], active_stake: &[I32F32], stake: &[I32F32]) -> Vec<I32F32> {
	let mut combined: Vec<I32F32> =
		incentive.iter().zip(dividends.iter()).map(|(i, d)| i.saturating_add(*d)).collect();
	if sum(&combined) != zero() {
		normalize(&mut combined);
		return combined;
	}
	if sum(active_stake) == zero() {
		stake.to_vec()
	} else {
		active_stake.to_vec()
	}
}

/// Bond rows as `u16` proportions for permitted uids; empty rows for the others.
fn bonds_to_store(bonds: Vec<SparseRow>, permit: &[bool], n: usize) -> Vec<Vec<(u16, u16)>> {
	let mut rows = bonds.into_iter();
	(0..n)
		.map(|i| {
			let row = rows.next().unwrap_or_default();
			if permit.get(i).copied().unwrap_or(false) {
				row.into_iter().map(|(j, b)| (j, proportion_to_u16(b))).collect()
			} else {
				vec![]
			}
		})
		.collect()
}

/// Proportions as `u16` parts of `u16::MAX` (rounded down).
fn to_u16(values: &[I32F32]) -> Vec<u16> {
	values.iter().copied().map(proportion_to_u16).collect()
}

/// Lossless widening to the output share type.
fn to_i64f64(values: &[I32F32]) -> Vec<I64F64> {
	values.iter().map(|v| I64F64::saturating_from_num(*v)).collect()
}
