//! Property tests: random stakes (zeros and huge values included), random sparse weight
//! and bond rows (out-of-range uids, duplicates and zeros included), random parameters.

use crate::yuma::{epoch_with_options, split_emission, EpochInput, EpochOptions, EpochOutput, EpochParams};
use proptest::prelude::*;
use substrate_fixed::types::I64F64;

fn stake_value() -> impl Strategy<Value = u128> {
	prop_oneof![
		3 => Just(0u128),
		3 => 0u128..1_000,
		2 => 0u128..=u64::MAX as u128,
		2 => any::<u128>(),
		1 => (u128::MAX - 1_000)..=u128::MAX,
	]
}

fn sparse_rows(max_len: usize, uid_bound: u16) -> impl Strategy<Value = Vec<Vec<(u16, u16)>>> {
	prop::collection::vec(prop::collection::vec((0..uid_bound, any::<u16>()), 0..8), 0..=max_len)
}

fn params() -> impl Strategy<Value = EpochParams> {
	(
		any::<u16>(),
		prop_oneof![Just(900_000u64), Just(975_000u64), 0u64..=2_000_000, Just(u64::MAX)],
		any::<bool>(),
		any::<bool>(),
		any::<u16>(),
		any::<u16>(),
		0u16..80,
		any::<u16>(),
		0u64..20_000,
	)
		.prop_map(
			|(kappa, bma, yuma3, liquid, alpha_low, alpha_high, max_validators, cutoff, block)| EpochParams {
				kappa,
				bonds_moving_average: bma,
				yuma3_enabled: yuma3,
				liquid_alpha_enabled: liquid,
				alpha_low,
				alpha_high,
				max_allowed_validators: max_validators,
				activity_cutoff: cutoff,
				current_block: block,
			},
		)
}

fn options() -> impl Strategy<Value = EpochOptions> {
	(prop::option::of(0u16..70), any::<u16>(), any::<i16>(), prop::option::of(0u64..20_000)).prop_map(
		|(owner_uid, bonds_penalty, alpha_sigmoid_steepness, bonds_reset_from_block)| EpochOptions {
			owner_uid,
			bonds_penalty,
			alpha_sigmoid_steepness,
			bonds_reset_from_block,
		},
	)
}

#[derive(Debug, Clone)]
struct Case {
	params: EpochParams,
	options: EpochOptions,
	stake: Vec<u128>,
	last_update: Vec<u64>,
	registered: Vec<u64>,
	weights: Vec<Vec<(u16, u16)>>,
	bonds: Vec<Vec<(u16, u16)>>,
}

/// Mostly consistent lengths (as the pallet passes them), sometimes mismatched ones.
fn case() -> impl Strategy<Value = Case> {
	(0usize..=64, any::<bool>()).prop_flat_map(|(n, ragged)| {
		let len = move |extra: usize| if ragged { 0..=n + extra } else { n..=n };
		(
			params(),
			options(),
			prop::collection::vec(stake_value(), len(2)),
			prop::collection::vec(0u64..20_000, len(2)),
			prop::collection::vec(0u64..20_000, len(2)),
			sparse_rows(if ragged { n + 2 } else { n }, (n as u16).saturating_add(4).max(1)),
			sparse_rows(if ragged { n + 2 } else { n }, (n as u16).saturating_add(4).max(1)),
		)
			.prop_map(|(params, options, stake, last_update, registered, weights, bonds)| Case {
				params,
				options,
				stake,
				last_update,
				registered,
				weights,
				bonds,
			})
	})
}

fn run(case: &Case) -> EpochOutput {
	let input = EpochInput {
		params: case.params.clone(),
		stake: &case.stake,
		last_update: &case.last_update,
		block_at_registration: &case.registered,
		weights: &case.weights,
		bonds: &case.bonds,
	};
	epoch_with_options(&input, &case.options)
}

/// A normalised `u16` vector sums to about `u16::MAX` (each entry rounds down), or is zero.
fn assert_u16_normalized(values: &[u16]) -> Result<(), TestCaseError> {
	let total: u64 = values.iter().map(|v| u64::from(*v)).sum();
	let slack = values.len() as u64 + 2;
	prop_assert!(total == 0 || (total <= 65_535 && total + slack >= 65_535), "sum {} of {:?}", total, values);
	Ok(())
}

/// A share vector sums to one (within rounding) or to zero.
fn assert_shares_normalized(values: &[I64F64]) -> Result<(), TestCaseError> {
	let total: f64 = values.iter().map(|v| v.to_num::<f64>()).sum();
	let slack = (values.len() as f64 + 2.) * 2f64.powi(-31);
	prop_assert!(total == 0. || (total - 1.).abs() <= slack, "sum {} of {:?}", total, values);
	Ok(())
}

proptest! {
	#![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

	#[test]
	fn epoch_is_total_normalized_and_deterministic(case in case(), emission in prop_oneof![
		Just(0u128), 0u128..10_000, any::<u64>().prop_map(u128::from), any::<u128>()
	]) {
		let out = run(&case);
		let n = [case.stake.len(), case.last_update.len(), case.registered.len(), case.weights.len(), case.bonds.len()]
			.into_iter().max().unwrap();
		for len in [
			out.active.len(), out.validator_permit.len(), out.rank.len(), out.trust.len(), out.consensus.len(),
			out.incentive.len(), out.dividends.len(), out.validator_trust.len(), out.pruning_scores.len(),
			out.stake_weight.len(), out.bonds.len(), out.incentive_share.len(), out.dividend_share.len(),
			out.emission_share.len(),
		] {
			prop_assert_eq!(len, n);
		}
		assert_u16_normalized(&out.incentive)?;
		assert_u16_normalized(&out.dividends)?;
		assert_shares_normalized(&out.incentive_share)?;
		assert_shares_normalized(&out.dividend_share)?;
		assert_shares_normalized(&out.emission_share)?;
		prop_assert!(out.validator_permit.iter().filter(|p| **p).count()
			<= case.params.max_allowed_validators as usize + usize::from(case.options.owner_uid.is_some()));
		for (uid, row) in out.bonds.iter().enumerate() {
			prop_assert!(row.is_empty() || out.validator_permit[uid]);
			prop_assert!(row.windows(2).all(|w| w[0].0 < w[1].0), "unsorted bonds row {:?}", row);
			prop_assert!(row.iter().all(|(j, _)| (*j as usize) < n));
		}

		let (miners, validators) = split_emission(&out, &case.stake, emission);
		prop_assert_eq!(miners.len(), n);
		prop_assert_eq!(validators.len(), n);
		let paid = miners.iter().chain(validators.iter()).fold(0u128, |acc, v| acc.checked_add(*v).unwrap());
		if n > 0 {
			prop_assert_eq!(paid, emission);
		}

		prop_assert_eq!(&run(&case), &out);
	}

	/// Feeding an epoch's bonds into the next keeps everything normalised.
	#[test]
	fn repeated_epochs_stay_normalized(case in case()) {
		let mut case = case;
		for _ in 0..3 {
			let out = run(&case);
			assert_u16_normalized(&out.incentive)?;
			assert_u16_normalized(&out.dividends)?;
			case.bonds = out.bonds;
			case.params.current_block = case.params.current_block.saturating_add(1);
		}
	}
}
