//! Emission split: exact sums, the remainder rule, and subtensor's stake fallback.

use super::Net;
use crate::yuma::{emission::apportion, split_emission};
use sp_core::U256;

fn total(parts: &(Vec<u128>, Vec<u128>)) -> u128 {
	parts.0.iter().chain(parts.1.iter()).sum()
}

#[test]
fn apportion_is_exact_and_gives_leftovers_to_largest_remainders() {
	let w = |v: &[u64]| v.iter().map(|x| U256::from(*x)).collect::<Vec<_>>();
	assert_eq!(apportion(10, &w(&[1, 1, 1])), vec![4, 3, 3]); // ties to the lower index
	assert_eq!(apportion(10, &w(&[1, 2, 2])), vec![2, 4, 4]);
	assert_eq!(apportion(7, &w(&[0, 5, 0])), vec![0, 7, 0]);
	assert_eq!(apportion(100, &w(&[1, 3])), vec![25, 75]);
	assert_eq!(apportion(5, &w(&[0, 0])), vec![0, 0]);
	assert_eq!(apportion(0, &w(&[1, 2])), vec![0, 0]);
	// 11 · 1/3 = 3.67, 11 · 2/3 = 7.33: the larger remainder (0.67) takes the leftover token.
	assert_eq!(apportion(11, &w(&[1, 2])), vec![4, 7]);
	let huge = apportion(u128::MAX, &[U256::from(u128::MAX), U256::from(u128::MAX), U256::one()]);
	assert_eq!(huge.iter().fold(0u128, |a, b| a.wrapping_add(*b)), u128::MAX);
}

// subtensor: tests/epoch.rs `test_epoch_outputs_single_staker_registered_no_weights`:
// a single staker and no weights still distributes the whole emission (subtensor allows
// an error of 1_000; here it is exact).
#[test]
fn single_staker_without_weights_gets_everything() {
	let mut net = Net::new(&[1], 0);
	let out = net.epoch(0);
	let parts = split_emission(&out, &net.stake, 1_000_000_000);
	assert_eq!(total(&parts), 1_000_000_000);
	assert_eq!(parts, (vec![0], vec![1_000_000_000]));
}

// subtensor: tests/epoch_logs.rs `test_validators_weight_two_distinct_servers`
// (Validator/Server Emission): half to miners by incentive, half to validators by
// dividends.
#[test]
fn half_to_miners_half_to_validators() {
	let b = 1_000_000_000;
	let mut net = Net::new(&[b, b, b, 0, 0], 0);
	for (uid, target) in [3u16, 4, 3].iter().enumerate() {
		net.set_weights(uid as u16, &[3, 4], &if *target == 3 { [u16::MAX, 0] } else { [0, u16::MAX] }, 1);
	}
	let out = net.epoch(1);
	let (miners, validators) = split_emission(&out, &net.stake, 1_000_000_001);
	assert_eq!(miners, vec![0, 0, 0, 500_000_000, 0]);
	assert_eq!(validators, vec![250_000_001, 0, 250_000_000, 0, 0]);
}

// subtensor: tests/epoch_logs.rs `epoch_uses_active_stake_when_nonzero_active` and
// `yuma_emergency_mode`: no consensus, emission by active permitted stake, or by all
// stake when nobody is active.
#[test]
fn fallback_to_stake() {
	let mut net = Net::new(&[3, 1, 6], 0);
	net.params.activity_cutoff = 10;
	net.last_update = vec![99, 99, 1];
	let out = net.epoch(100);
	assert_eq!(split_emission(&out, &net.stake, 1000), (vec![0; 3], vec![750, 250, 0]));

	net.last_update = vec![0, 0, 0];
	let out = net.epoch(100);
	assert_eq!(split_emission(&out, &net.stake, 1000), (vec![0; 3], vec![300, 100, 600]));

	let mut empty = Net::new(&[0, 0, 0], 0);
	let out = empty.epoch(0);
	assert_eq!(split_emission(&out, &empty.stake, 10), (vec![0; 3], vec![4, 3, 3]));
}
