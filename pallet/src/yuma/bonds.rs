//! Bonds and dividends: subtensor's original Yuma bonds (column-normalised EMA of
//! stake-weighted weights) and Yuma3 bonds (per-bond EMA towards the weights, optionally
//! with liquid alpha).

use super::math::{
	col_max_upscale, col_normalize, elementwise_mul, ema_entrywise_alpha, ema_fixed_alpha,
	liquid_alpha, normalize, one, row_dot, scale_rows, u16_to_proportion, zero, SparseRow,
};
use alloc::vec::Vec;
use substrate_fixed::types::{I32F32, I64F64};

/// What the bonds step hands back to the epoch.
pub struct BondsOutcome {
	/// Normalised dividends (sum to one, or all zero).
	pub dividends: Vec<I32F32>,
	/// Bond rows to store, as proportions (converted to `u16` by the caller).
	pub bonds: Vec<SparseRow>,
}

/// Everything the two bonds variants read.
pub struct BondsInputs<'a> {
	/// Subnet size (number of columns).
	pub n: usize,
	/// Weights used for bonds (interpolated between raw and clipped by the bonds penalty).
	pub weights_for_bonds: &'a [SparseRow],
	/// Stored bond rows, canonical, with recently registered columns already removed.
	pub stored_bonds: &'a [Vec<(u16, u16)>],
	/// Normalised active validator stake.
	pub active_stake: &'a [I32F32],
	/// Normalised incentive.
	pub incentive: &'a [I32F32],
	/// Per-column consensus.
	pub consensus: &'a [I32F32],
	/// `bonds_moving_average` in millionths (1_000_000 = keep old bonds entirely).
	pub bonds_moving_average: u64,
}

/// Liquid-alpha settings for Yuma3.
pub struct LiquidAlpha {
	/// Lower alpha bound, `u16` proportion.
	pub alpha_low: u16,
	/// Upper alpha bound, `u16` proportion.
	pub alpha_high: u16,
	/// Sigmoid steepness (subtensor's `AlphaSigmoidSteepness`).
	pub steepness: i16,
}

/// EMA alpha from `bonds_moving_average`: `1 − bma / 1_000_000`, with `bma` capped at
/// 1_000_000 so that alpha stays in `[0, 1]`.
pub fn fixed_alpha(bonds_moving_average: u64) -> I32F32 {
	let capped = bonds_moving_average.min(1_000_000);
	let kept = I64F64::saturating_from_num(capped)
		.checked_div(I64F64::saturating_from_num(1_000_000u32))
		.unwrap_or_else(|| I64F64::from_bits(0));
	one().saturating_sub(I32F32::saturating_from_num(kept))
}

/// Stored bonds as fixed point, each `u16` mapped through `to_fixed`.
fn stored_to_fixed(stored: &[Vec<(u16, u16)>], to_fixed: impl Fn(u16) -> I32F32) -> Vec<SparseRow> {
	stored.iter().map(|row| row.iter().map(|&(j, b)| (j, to_fixed(b))).collect()).collect()
}

/// Original Yuma bonds (subtensor's non-Yuma3 branch).
///
/// Stored bonds (column max-upscaled `u16`) are column-normalised; the bonds delta is
/// `W ∘ S` column-normalised; the EMA with alpha `1 − bma/1e6` is column-normalised again;
/// dividends are `Σ_j B_ij · I_j`, normalised; the bonds are column max-upscaled for
/// storage.
pub fn original_yuma(inputs: &BondsInputs) -> BondsOutcome {
	let n = inputs.n;
	let mut previous = stored_to_fixed(inputs.stored_bonds, I32F32::from_num);
	col_normalize(&mut previous, n);

	let mut delta = scale_rows(inputs.weights_for_bonds, inputs.active_stake);
	col_normalize(&mut delta, n);

	let mut bonds = ema_fixed_alpha(&delta, &previous, fixed_alpha(inputs.bonds_moving_average));
	col_normalize(&mut bonds, n);

	let mut dividends = row_dot(&bonds, inputs.incentive);
	normalize(&mut dividends);

	col_max_upscale(&mut bonds, n);
	BondsOutcome { dividends, bonds }
}

/// Yuma3 bonds (subtensor's Yuma3 branch).
///
/// Stored bonds are `u16` proportions. With liquid alpha on (and any consensus non-zero)
/// each bond moves towards its weight with its own sigmoid alpha and bonds without a
/// current weight entry are dropped; otherwise every bond uses alpha `1 − bma/1e6`.
/// Dividends are `S_i · Σ_j B̂_ij · I_j` with `B̂` the column-normalised bonds, normalised.
pub fn yuma3(inputs: &BondsInputs, liquid: Option<&LiquidAlpha>) -> BondsOutcome {
	let previous = stored_to_fixed(inputs.stored_bonds, u16_to_proportion);
	let any_consensus = inputs.consensus.iter().any(|c| *c != zero());
	let bonds = match liquid {
		Some(settings) if any_consensus => {
			let low = u16_to_proportion(settings.alpha_low);
			let high = u16_to_proportion(settings.alpha_high);
			let steepness = I32F32::from_num(settings.steepness);
			ema_entrywise_alpha(inputs.weights_for_bonds, &previous, |_, column, weight, bond| {
				let consensus = inputs.consensus.get(column as usize).copied().unwrap_or_else(zero);
				liquid_alpha(consensus, weight, bond, low, high, steepness)
			})
		},
		_ => ema_fixed_alpha(
			inputs.weights_for_bonds,
			&previous,
			fixed_alpha(inputs.bonds_moving_average),
		),
	};

	let mut normalized = bonds.clone();
	col_normalize(&mut normalized, inputs.n);
	let bonded_incentive = row_dot(&normalized, inputs.incentive);
	let mut dividends = elementwise_mul(&bonded_incentive, inputs.active_stake);
	normalize(&mut dividends);
	BondsOutcome { dividends, bonds }
}
