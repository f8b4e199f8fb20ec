//! Turning epoch shares into token amounts.

use super::EpochOutput;
use alloc::{vec, vec::Vec};
use sp_core::U256;
use substrate_fixed::types::I64F64;

/// Splits `amount` over `weights` in proportion, exactly (largest-remainder method).
///
/// Every index first gets `floor(amount · wᵢ / Σw)`; the few tokens left by rounding
/// (fewer than the number of positive weights) go one each to the indices with the
/// largest remainders, ties to the lower index. The result sums to `amount` whenever
/// some weight is positive, and is all zero otherwise.
pub fn apportion(amount: u128, weights: &[U256]) -> Vec<u128> {
	let total = weights.iter().fold(U256::zero(), |acc, w| acc.saturating_add(*w));
	if total.is_zero() || amount == 0 {
		return vec![0; weights.len()];
	}
	let amount_wide = U256::from(amount);
	let mut shares = Vec::with_capacity(weights.len());
	let mut remainders = Vec::with_capacity(weights.len());
	for w in weights {
		// amount < 2¹²⁸ and w ≤ Σw < 2²⁵⁶ / 2¹²⁸ for every weight produced in this module.
		let product = amount_wide.saturating_mul(*w);
		let (quotient, remainder) = product.div_mod(total);
		shares.push(u128::try_from(quotient).unwrap_or(u128::MAX));
		remainders.push(remainder);
	}
	let given = shares.iter().fold(0u128, |acc, s| acc.saturating_add(*s));
	let leftover = amount.saturating_sub(given);
	let mut order: Vec<usize> = (0..weights.len()).collect();
	order.sort_by(|a, b| {
		let ra = remainders.get(*a).copied().unwrap_or_default();
		let rb = remainders.get(*b).copied().unwrap_or_default();
		rb.cmp(&ra).then(a.cmp(b))
	});
	let extra = usize::try_from(leftover).unwrap_or(usize::MAX);
	for index in order.into_iter().take(extra) {
		if let Some(share) = shares.get_mut(index) {
			*share = share.saturating_add(1);
		}
	}
	shares
}

/// A non-negative share as an integer weight (its raw fixed-point bits).
fn share_weight(share: &I64F64) -> U256 {
	U256::from(u128::try_from(share.to_bits()).unwrap_or(0))
}

/// Split `emission` tokens between miners and validators.
///
/// Rule (documented so it can be audited):
/// - When both incentive and dividends have weight, miners get `emission / 2` (rounded
///   down) in proportion to `incentive_share`, validators get the rest in proportion to
///   `dividend_share`.
/// - When only one side has weight it gets everything, as subtensor's normalisation by
///   `Σ incentive + Σ dividends` does.
/// - When neither has weight, validators get everything in proportion to the stake of
///   uids that are active and hold a validator permit; if that stake is zero, in
///   proportion to all stake (subtensor's emission fallback); if all stake is zero, in
///   equal parts.
/// - Inside each pool, amounts are exact proportions rounded down, and the leftover
///   tokens go one each to the largest remainders, ties to the lower uid ([`apportion`]).
///
/// Returns `(miner_emission, validator_emission)`, one entry per uid of `out`; together
/// they sum to `emission` exactly, except for an empty subnet, which gets nothing.
/// `stake` entries beyond the subnet are ignored and missing ones count as zero.
pub fn split_emission(out: &EpochOutput, stake: &[u128], emission: u128) -> (Vec<u128>, Vec<u128>) {
	let n = out.active.len();
	let incentive: Vec<U256> = (0..n).map(|i| out.incentive_share.get(i).map(share_weight).unwrap_or_default()).collect();
	let dividends: Vec<U256> = (0..n).map(|i| out.dividend_share.get(i).map(share_weight).unwrap_or_default()).collect();
	let has_incentive = incentive.iter().any(|w| !w.is_zero());
	let has_dividends = dividends.iter().any(|w| !w.is_zero());

	match (has_incentive, has_dividends) {
		(true, true) => {
			let miner_pool = emission / 2;
			let validator_pool = emission.saturating_sub(miner_pool);
			(apportion(miner_pool, &incentive), apportion(validator_pool, &dividends))
		},
		(true, false) => (apportion(emission, &incentive), vec![0; n]),
		(false, true) => (vec![0; n], apportion(emission, &dividends)),
		(false, false) => (vec![0; n], apportion(emission, &fallback_weights(out, stake, n))),
	}
}

/// Stake weights for the no-consensus fallback: active permitted stake, else all stake,
/// else equal weights.
fn fallback_weights(out: &EpochOutput, stake: &[u128], n: usize) -> Vec<U256> {
	let stake_of = |i: usize| U256::from(stake.get(i).copied().unwrap_or(0));
	let active_permitted: Vec<U256> = (0..n)
		.map(|i| {
			let counts = out.active.get(i).copied().unwrap_or(false) &&
				out.validator_permit.get(i).copied().unwrap_or(false);
			if counts { stake_of(i) } else { U256::zero() }
		})
		.collect();
	if active_permitted.iter().any(|w| !w.is_zero()) {
		return active_permitted;
	}
	let all: Vec<U256> = (0..n).map(stake_of).collect();
	if all.iter().any(|w| !w.is_zero()) {
		return all;
	}
	vec![U256::one(); n]
}
