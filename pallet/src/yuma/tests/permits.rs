//! Validator permits rank the normalised stake, as subtensor's epoch does (issue 19,
//! attack 11: dust stake bought a permit here and not there).
//!
//! subtensor (`run_epoch.rs`): `inplace_normalize_64(&mut total_stake)`, then
//! `vec_fixed64_to_fixed32`, then `is_topk_nonzero(&stake, max_allowed_validators)`.
//! A stake below `2⁻³²` of the total is a zero `I32F32` proportion there, so no permit.

use super::Net;
use crate::yuma::{epoch, EpochInput, EpochParams};
use proptest::prelude::*;
use substrate_fixed::types::{I32F32, I64F64};

/// subtensor's stake vector: `I64F64` stakes normalised, then converted to `I32F32`.
fn subtensor_stake(stake: &[u128]) -> Vec<I32F32> {
	let values: Vec<I64F64> = stake.iter().map(|s| I64F64::from_num(*s)).collect();
	let total = values.iter().fold(I64F64::from_num(0), |a, v| a + *v);
	if total == I64F64::from_num(0) {
		return vec![I32F32::from_num(0); stake.len()];
	}
	values
		.iter()
		.map(|v| I32F32::saturating_from_num(v.checked_div(total).unwrap_or(I64F64::from_num(0))))
		.collect()
}

/// subtensor's `is_topk_nonzero`, verbatim (ascending stable sort: ties go to the higher
/// index).
fn is_topk_nonzero(vector: &[I32F32], k: usize) -> Vec<bool> {
	let n = vector.len();
	let mut result: Vec<bool> = vector.iter().map(|&elem| elem != I32F32::from_num(0)).collect();
	if n < k {
		return result;
	}
	let mut idxs: Vec<usize> = (0..n).collect();
	idxs.sort_by_key(|&idx| vector[idx]);
	for &idx in idxs.iter().take(n.saturating_sub(k)) {
		result[idx] = false;
	}
	result
}

/// subtensor's rule with this pallet's tie rule (ties to the lower uid): the same
/// function on the reversed vector.
fn reference_permits(stake: &[u128], k: usize) -> Vec<bool> {
	let mut reversed = subtensor_stake(stake);
	reversed.reverse();
	let mut permits = is_topk_nonzero(&reversed, k);
	permits.reverse();
	permits
}

fn permits_of(stake: &[u128], max_allowed_validators: u16) -> Vec<bool> {
	let n = stake.len();
	let input = EpochInput {
		params: EpochParams { max_allowed_validators, current_block: 10, ..Default::default() },
		stake,
		last_update: &vec![9; n],
		block_at_registration: &vec![0; n],
		weights: &vec![vec![]; n],
		bonds: &vec![vec![]; n],
	};
	epoch(&input).validator_permit
}

#[test]
fn attack_11_dust_stake_permit() {
	// Room for every uid: subtensor still gives the dust uid no permit.
	let whale = 1_000_000_000_000_000_000u128;
	assert_eq!(permits_of(&[whale, whale, 1], 64), vec![true, true, false]);
	// At the edge: floor(s · 2³² / total) = 0 gets nothing, = 1 gets a permit.
	let total_without = 1u128 << 40;
	let edge = total_without / ((1 << 32) - 1) + 1; // the least stake with a non-zero proportion
	assert_eq!(permits_of(&[total_without, edge], 8), vec![true, true]);
	assert_eq!(permits_of(&[total_without, edge - 1], 8), vec![true, false]);
	assert_eq!(permits_of(&[total_without, edge - 1], 8), reference_permits(&[total_without, edge - 1], 8));
}

/// Two validators, a dust hotkey and two miners, on Yuma3 (bonds follow weights): the
/// dust hotkey votes only for miner 3.
fn yuma3_net(dust_stake: u128) -> Net {
	let mut net = Net::new(&[1_000_000_000_000_000_000, 700_000_000_000_000_000, dust_stake, 0, 0], 0);
	net.params.yuma3_enabled = true;
	net.set_weights(0, &[3, 4], &[60_000, 5_000], 1);
	net.set_weights(1, &[3, 4], &[10_000, 60_000], 1);
	net.set_weights(2, &[3], &[u16::MAX], 1);
	net
}

#[test]
fn dust_uid_takes_no_dividends_and_moves_none_between_validators() {
	let mut with_dust = yuma3_net(1);
	let mut without = yuma3_net(0);
	for block in (10..=80).step_by(10) {
		let a = with_dust.epoch(block);
		let b = without.epoch(block);
		assert!(!a.validator_permit[2], "epoch {block}: dust holds a permit");
		assert!(a.bonds[2].is_empty());
		assert_eq!(a.dividends[2], 0);
		assert_eq!(a.dividend_share, b.dividend_share, "epoch {block}: dividends moved");
		assert_eq!(a.incentive, b.incentive);
		assert_eq!(a.emission_share, b.emission_share);
	}
}

/// A stake of `mantissa · 10^exponent · 10^5`: 12 orders of magnitude from 10^5 to 9·10^16
/// (64 of the largest still fit subtensor's `I64F64`), or zero.
fn stake_value() -> impl Strategy<Value = u128> {
	prop_oneof![
		1 => Just(0u128),
		6 => (1u128..10, 0u32..=11).prop_map(|(m, e)| m * 10u128.pow(e) * 100_000),
		1 => 1u128..=u16::MAX as u128,
	]
}

proptest! {
	#![proptest_config(ProptestConfig::with_cases(2_000))]

	#[test]
	fn permits_rank_the_normalised_stake_as_subtensor(
		stake in prop::collection::vec(stake_value(), 0..=64),
		k in 0u16..80,
	) {
		let permits = permits_of(&stake, k);
		prop_assert_eq!(&permits, &reference_permits(&stake, k as usize));
		let proportions = subtensor_stake(&stake);
		// Without ties among the non-zero proportions, subtensor's own tie rule agrees.
		let mut nonzero: Vec<I32F32> = proportions.iter().copied().filter(|p| *p != I32F32::from_num(0)).collect();
		nonzero.sort();
		nonzero.dedup();
		if nonzero.len() == proportions.iter().filter(|p| **p != I32F32::from_num(0)).count() {
			prop_assert_eq!(&permits, &is_topk_nonzero(&proportions, k as usize));
		}
		// Dust (a zero proportion of a non-zero stake) never holds a permit.
		for (i, p) in proportions.iter().enumerate() {
			if *p == I32F32::from_num(0) {
				prop_assert!(!permits[i], "uid {} with stake {} of {:?}", i, stake[i], stake);
			}
		}
		prop_assert!(permits.iter().filter(|p| **p).count() <= k as usize);
	}
}
