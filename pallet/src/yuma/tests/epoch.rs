//! Ports of subtensor's epoch scenarios (`tests/epoch.rs`, `tests/epoch_logs.rs`): same
//! stakes, stored weights and blocks, same expected outputs.

use super::{emission_of, u16_f64, Net};
use crate::yuma::{epoch, EpochInput, EpochOutput, EpochParams};
use substrate_fixed::types::I64F64;

const EMISSION: u64 = 1_000_000_000;

fn share(values: &[I64F64]) -> Vec<f64> {
	values.iter().map(|v| v.to_num::<f64>()).collect()
}

fn assert_close(actual: &[f64], expected: &[f64], epsilon: f64) {
	assert_eq!(actual.len(), expected.len(), "{actual:?} vs {expected:?}");
	for (a, e) in actual.iter().zip(expected.iter()) {
		assert!((a - e).abs() <= epsilon, "{actual:?} vs {expected:?}");
	}
}

fn emissions(out: &EpochOutput) -> Vec<u64> {
	out.emission_share.iter().map(|s| emission_of(*s, EMISSION)).collect()
}

// subtensor: tests/epoch.rs `test_1_graph`: one neuron with only a self-weight gets no
// rank, trust, consensus, incentive or dividends.
#[test]
fn one_neuron_self_weight_gives_nothing() {
	let mut net = Net::new(&[1_000_000_000], 0);
	net.set_weights(0, &[0], &[u16::MAX], 1);
	let out = net.epoch(1);
	assert_eq!(out.rank, vec![0]);
	assert_eq!(out.trust, vec![0]);
	assert_eq!(out.consensus, vec![0]);
	assert_eq!(out.incentive, vec![0]);
	assert_eq!(out.dividends, vec![0]);
	// No consensus at all: emission falls back to (active) stake.
	assert_eq!(emissions(&out), vec![EMISSION]);
}

// subtensor: tests/epoch.rs `test_10_graph`: ten neurons of stake 1, self-weights only.
#[test]
fn ten_neurons_self_weights_fall_back_to_stake() {
	let mut net = Net::new(&[1; 10], 0);
	for uid in 0..10u16 {
		net.set_weights(uid, &[uid], &[u16::MAX], 1);
	}
	let out = net.epoch(1);
	for uid in 0..10 {
		assert_eq!(out.rank[uid], 0);
		assert_eq!(out.trust[uid], 0);
		assert_eq!(out.consensus[uid], 0);
		assert_eq!(out.incentive[uid], 0);
		assert_eq!(out.dividends[uid], 0);
		assert_eq!(emissions(&out)[uid], 99_999_999);
	}
}

/// subtensor's `distribute_nodes` for interleave 0 (blockwise) and 1 (regular).
fn distribute_nodes(validators_n: usize, network_n: usize, interleave: usize) -> (Vec<u16>, Vec<u16>) {
	let all: Vec<u16> = (0..network_n as u16).collect();
	if interleave == 0 {
		(all[..validators_n].to_vec(), all[validators_n..].to_vec())
	} else {
		all.iter().partition(|&&i| (i as usize).rem_euclid(network_n / validators_n) == 0)
	}
}

// subtensor: tests/epoch.rs `test_512_graph` (interleaves 0 and 1, server self-weights
// off and on, 3 epochs), including the rank and trust checks it had before subtensor
// dropped rank and trust from storage.
#[test]
fn graph_512_with_64_validators() {
	let network_n = 512usize;
	let validators_n = 64usize;
	let stake_per_validator: u128 = 328_125_000_000_000;
	for interleave in 0..2 {
		for server_self in [false, true] {
			let (validators, servers) = distribute_nodes(validators_n, network_n, interleave);
			let stake: Vec<u128> =
				(0..network_n as u16).map(|u| if validators.contains(&u) { stake_per_validator } else { 0 }).collect();
			let mut net = Net::new(&stake, 0);
			net.params.max_allowed_validators = validators_n as u16;
			net.epoch(0); // subtensor's first epoch, which hands out permits
			let weight = u16::MAX / network_n as u16;
			for v in &validators {
				net.set_weights(*v, &servers, &vec![weight; servers.len()], 1);
			}
			if server_self {
				for s in &servers {
					net.set_weights(*s, &[*s], &[u16::MAX], 1);
				}
			}
			let mut out = net.epoch(1);
			for _ in 1..3 {
				out = net.epoch(1);
			}
			let server = servers[0];
			let validator = validators[0];
			let emission = emissions(&out);
			for v in &validators {
				let v = *v as usize;
				assert_eq!(out.rank[v], 0);
				assert_eq!(out.trust[v], 0);
				assert_eq!(out.consensus[v], 0);
				assert_eq!(out.incentive[v], 0);
				assert_eq!(out.dividends[v], 1023); // floor(1 / 64 * 65_535)
				assert_eq!(emission[v], 7_812_500); // 0.5 / 64 * 1_000_000_000
				assert_eq!(net.bond(v, validator), 0);
				assert_eq!(net.bond(v, server), 65_535);
			}
			for s in &servers {
				let s = *s as usize;
				assert_eq!(out.rank[s], 146); // floor(1 / (512 - 64) * 65_535)
				assert_eq!(out.trust[s], 65_535);
				assert_eq!(out.consensus[s], 146);
				assert_eq!(out.incentive[s], 146);
				assert_eq!(out.dividends[s], 0);
				assert_eq!(emission[s], 1_116_071); // floor(0.5 / (512 - 64) * 1_000_000_000)
				assert_eq!(net.bond(s, validator), 0);
				assert_eq!(net.bond(s, server), 0);
			}
		}
	}
}

/// subtensor's `test_bonds` weights `[u16::MAX/4, u16::MAX/2, (u16::MAX/4)*3, u16::MAX]`
/// on servers 4..8.
const TEST_BONDS_WEIGHTS: [u16; 4] = [u16::MAX / 4, u16::MAX / 2, (u16::MAX / 4) * 3, u16::MAX];

fn column(net: &Net, j: u16) -> [u16; 4] {
	[net.bond(0, j), net.bond(1, j), net.bond(2, j), net.bond(3, j)]
}

// subtensor: tests/epoch.rs `test_bonds`: original Yuma bonds over 7 epochs while the
// validators one by one switch to self-weights, then one returns to a single server.
// Also checks the intermediate values subtensor logs for the first epochs.
#[test]
fn bonds_evolve_over_epochs() {
	let mut net = Net::new(&[1, 2, 3, 4, 0, 0, 0, 0], 1);
	net.epoch(1); // permits
	let servers = [4u16, 5, 6, 7];
	for uid in 0..4 {
		net.set_weights(uid, &servers, &TEST_BONDS_WEIGHTS, 2);
	}
	assert_eq!(net.weights[0], vec![(4, 16383), (5, 32767), (6, 49149), (7, 65535)]);
	let out = net.epoch(2);
	assert_eq!(column(&net, 4), [16383, 32767, 49151, 65535]);
	// Logged by subtensor: I = [.., 0.0999975582, 0.2000012207, 0.2999926752, 0.4000085455],
	// D = [0.0999999978, 0.1999999983, 0.3000000012, 0.4000000022], T = 1, Tv = 0.9999999995.
	assert_close(&share(&out.incentive_share[4..]), &[0.0999975582, 0.2000012207, 0.2999926752, 0.4000085455], 1e-9);
	assert_close(&share(&out.dividend_share[..4]), &[0.0999999978, 0.1999999983, 0.3000000012, 0.4000000022], 1e-9);
	assert_eq!(out.trust[4..], [65535; 4]);
	assert_eq!(out.validator_trust[..4], [65534; 4]); // floor(0.9999999995 * 65535)
	assert_eq!(emissions(&out), vec![49999998, 99999999, 150000000, 200000001, 49998779, 100000610, 149996337, 200004272]);

	net.set_weights(0, &[0], &[u16::MAX], 2); // val1 self-weight only
	let out = net.epoch(3);
	assert_eq!(column(&net, 4), [14582, 32767, 49151, 65535]);
	assert_close(&share(&out.dividend_share[..4]), &[0.0899967032, 0.2022211233, 0.303334432, 0.404447741], 1e-9);
	assert_eq!(emissions(&out), vec![44998351, 101110561, 151667215, 202223870, 49998779, 100000610, 149996337, 200004272]);

	net.set_weights(1, &[1], &[u16::MAX], 3); // val2 self-weight only
	let out = net.epoch(4);
	assert_eq!(column(&net, 4), [12603, 28321, 49151, 65535]);
	assert_close(&share(&out.dividend_share[..4]), &[0.0809936118, 0.1819995677, 0.3158592721, 0.421147548], 1e-9);

	net.set_weights(2, &[2], &[u16::MAX], 4); // val3 self-weight only
	let out = net.epoch(5);
	assert_eq!(column(&net, 7), [12602, 28320, 49150, 65535]);
	assert_eq!(out.consensus, vec![0; 8]);
	assert_eq!(out.incentive, vec![0; 8]);
	assert_eq!(out.dividends, vec![0; 8]);

	net.set_weights(2, &[7], &[u16::MAX], 5); // val3 -> srv4
	let out = net.epoch(6);
	assert_eq!(column(&net, 7), [10951, 24609, 49150, 65535]);
	// Logged: C[7] = 0.400008545, T[7] = 0.6087041323, I = [.., 1], D as below.
	assert_eq!(out.consensus[7], 26214); // floor(0.400008545 * 65535)
	assert_eq!(out.trust[7], 39891); // floor(0.6087041323 * 65535)
	assert_eq!(out.incentive[7], 65535);
	assert_close(&share(&out.dividend_share[..4]), &[0.0728874663, 0.1637972582, 0.3271309866, 0.4361842885], 1e-9);
	assert_eq!(emissions(&out), vec![36443733, 81898628, 163565493, 218092144, 0, 0, 0, 500000000]);

	net.epoch(7);
	assert_eq!(column(&net, 7), [9559, 21482, 49150, 65535]);
	net.epoch(8);
	assert_eq!(column(&net, 7), [8376, 18824, 49150, 65535]);
	let out = net.epoch(9);
	// Logged for the last epoch: D = [0.053130352, 0.1194037423, 0.3546237142, 0.472842191].
	assert_close(&share(&out.dividend_share[..4]), &[0.053130352, 0.1194037423, 0.3546237142, 0.472842191], 1e-9);
}

// subtensor: tests/epoch.rs `test_active_stake`: stake of validators whose weights are
// older than the activity cutoff is masked out of consensus and bonds.
#[test]
fn inactive_validator_stake_is_masked() {
	let mut net = Net::new(&[1, 1, 1, 1], 0);
	net.epoch(0);
	let servers = [2u16, 3];
	for uid in 0..2 {
		net.set_weights(uid, &servers, &[u16::MAX / 2; 2], 1);
	}
	let out = net.epoch(1);
	assert_eq!(out.dividends[..2], [32767, 32767]); // floor(0.5 * 65_535)
	assert_eq!(emissions(&out), vec![250_000_000; 4]);
	for v in 0..2 {
		assert_eq!(net.bond(v, 0), 0);
		assert_eq!(net.bond(v, 1), 0);
		assert_eq!(net.bond(v, 2), 65_535);
		assert_eq!(net.bond(v, 3), 65_535);
	}

	// Block 5002: uid 1's weights (block 1) are past the 5000-block cutoff; uid 0 updates.
	net.set_weights(0, &servers, &[u16::MAX / 2; 2], 5002);
	let out = net.epoch(5002);
	assert_eq!(out.active, vec![true, false, false, false]);
	assert_eq!(out.dividends[0], 36044); // floor((0.5 * 0.9 + 0.1) * 65_535)
	assert_eq!(emissions(&out)[0], 274_999_999);
	assert_eq!(out.dividends[1], 29490); // floor(0.5 * 0.9 * 65_535)
	assert_eq!(emissions(&out)[1], 224_999_999);
	assert_eq!([net.bond(0, 2), net.bond(0, 3)], [65_535, 65_535]);
	assert_eq!([net.bond(1, 2), net.bond(1, 3)], [53_619, 53_619]);
	// subtensor's log comment has P (u16) = [65535, 53619, 59577, 59577], written before
	// `vec_max_upscale_to_u16` rounded to nearest; with rounding 0.225 / 0.275 → 53620.
	assert_eq!(out.pruning_scores, vec![65535, 53620, 59577, 59577]);

	// Block 5003: uid 1 updated at 5002 too.
	net.set_weights(1, &servers, &[u16::MAX / 2; 2], 5002);
	let out = net.epoch(5003);
	assert_eq!(out.dividends[0], 35716); // floor((0.55 * 0.9 + 0.5 * 0.1) * 65_535)
	assert_eq!(emissions(&out)[0], 272_501_132);
	assert_eq!(out.dividends[1], 29818); // floor((0.45 * 0.9 + 0.5 * 0.1) * 65_535)
	assert_eq!(emissions(&out)[1], 227_498_866);
	assert_eq!([net.bond(0, 2), net.bond(0, 3)], [65_535, 65_535]);
	assert_eq!([net.bond(1, 2), net.bond(1, 3)], [54_712, 54_712]);
	assert_eq!(out.pruning_scores[0], 65535);
	assert!(out.pruning_scores[1].abs_diff(54711) <= 1); // logged (rounded down then)
	assert!(out.pruning_scores[2].abs_diff(60123) <= 1);
}

// subtensor: tests/epoch.rs `test_outdated_weights`: weights set before a uid was
// re-registered no longer count for the new neuron.
#[test]
fn outdated_weights_are_masked() {
	let mut net = Net::new(&[1, 1, 1, 1], 0);
	net.epoch(0);
	for uid in 0..2 {
		net.set_weights(uid, &[2, 3], &[2 * (u16::MAX / 3), u16::MAX / 3], 1);
	}
	for uid in 2..4 {
		net.set_weights(uid, &[uid], &[u16::MAX], 1);
	}
	assert_eq!(net.weights[0], vec![(2, 65535), (3, 32768)]);
	let out = net.epoch(1);
	// Logged: C = [0, 0, 0.6666632756, 0.3333367242], D = [0.5, 0.5, 0, 0],
	// E = [250000000, 250000000, 333331637, 166668361], P (u16) = [49151, 49151, 65535, 32767]
	// (P logged before `vec_max_upscale_to_u16` rounded to nearest: now 49152 and 32768).
	assert_close(&share(&out.incentive_share), &[0., 0., 0.6666632756, 0.3333367242], 1e-9);
	assert_close(&share(&out.dividend_share), &[0.5, 0.5, 0., 0.], 1e-9);
	assert_eq!(emissions(&out), vec![250000000, 250000000, 333331637, 166668361]);
	assert_eq!(out.pruning_scores, vec![49152, 49152, 65535, 32768]);

	// uid 3 is deregistered and replaced at block 1 by a new neuron without stake.
	net.stake[3] = 0;
	net.registered[3] = 1;
	net.weights[3] = vec![];
	net.last_update[3] = 1;
	net.set_weights(0, &[2, 3], &[2 * (u16::MAX / 3), u16::MAX / 3], 2);
	let out = net.epoch(2);
	// uid 1's weight on uid 3 (set at block 1, not after the registration) is dropped.
	assert_eq!(out.dividends[0], 32767); // floor(0.5 * 65_535)
	assert_eq!(emissions(&out)[0], 250_000_000);
	assert_eq!(out.incentive, vec![0, 0, 65535, 0]);
	assert_eq!(net.bond(0, 2), 65_535);
	assert_eq!(net.bond(0, 3), 65_535);
}

// subtensor: tests/epoch.rs `test_zero_weights`: no weights, self-weights only and
// outdated weights all fall back to stake; fresh weights restore incentive.
#[test]
fn zero_weights_fall_back_to_stake() {
	let mut net = Net::new(&[1, 0], 1);
	let out = net.epoch(1);
	assert_eq!(emissions(&out), vec![1_000_000_000, 0]);

	net.set_weights(1, &[1], &[u16::MAX], 1); // server self-weight
	let out = net.epoch(1);
	assert_eq!(emissions(&out), vec![1_000_000_000, 0]);

	net.set_weights(0, &[1], &[u16::MAX], 2);
	net.registered[1] = 2; // server re-registered in the same block
	net.weights[1] = vec![];
	let out = net.epoch(2);
	assert_eq!(emissions(&out), vec![1_000_000_000, 0]);

	net.set_weights(0, &[1], &[u16::MAX], 3);
	let out = net.epoch(3);
	assert_eq!(emissions(&out), vec![500_000_000, 500_000_000]);
}

// subtensor: tests/epoch.rs `test_deregistered_miner_bonds`: bonds towards a uid
// registered since the last epoch are cleared before the EMA.
#[test]
fn deregistered_miner_bonds_are_reset() {
	let mut net = Net::new(&[1, 1, 1, 1], 1);
	net.epoch(1);
	for uid in 0..2 {
		net.set_weights(uid, &[2, 3], &[2 * (u16::MAX / 3), u16::MAX / 3], 2);
	}
	net.options.bonds_reset_from_block = Some(4 - 2); // tempo 2 at block 4
	net.epoch(4);
	let (bond_0_2, bond_0_3) = (net.bond(0, 2), net.bond(0, 3));
	assert!(bond_0_2 > 0 && bond_0_3 > 0);

	// uid 3 replaced at block 5 by a neuron without stake; validators set weights again.
	net.stake[3] = 0;
	net.registered[3] = 5;
	net.weights[3] = vec![];
	for uid in 0..2 {
		net.set_weights(uid, &[2, 3], &[2 * (u16::MAX / 3), u16::MAX / 3], 5);
	}
	net.options.bonds_reset_from_block = Some(6 - 2); // tempo 2 at block 6
	let before = net.bonds.clone();
	net.epoch(6);
	assert!(net.bond(0, 2) >= bond_0_2);
	assert!(net.bond(0, 3) <= bond_0_3);
	assert_eq!(net.bond(0, 3), 0);
	// Without the reset the old bond towards uid 3 would have survived the EMA.
	let mut kept = net.clone();
	kept.bonds = before;
	kept.options.bonds_reset_from_block = None;
	kept.epoch(6);
	assert!(kept.bond(0, 3) > 0);
}

// subtensor: tests/epoch.rs `test_validator_permits` (without subtensor's minimum-stake
// threshold, which this pallet does not apply): permits go to the highest stakes, and
// move to the servers once their stake exceeds the validators'.
#[test]
fn validator_permits_follow_stake() {
	for interleave in 0..2 {
		for (network_n, validators_n) in [(2usize, 1usize), (4, 2), (8, 4)] {
			for assignment in 0..=1u128 {
				let (validators, servers) = distribute_nodes(validators_n, network_n, interleave);
				let mut stake = vec![0u128; network_n];
				for v in &validators {
					stake[*v as usize] = if assignment == 1 { *v as u128 + network_n as u128 } else { 1 };
				}
				for s in &servers {
					stake[*s as usize] = if assignment == 1 { *s as u128 } else { 0 };
				}
				let mut net = Net::new(&stake, 0);
				net.params.max_allowed_validators = validators_n as u16;
				let out = net.epoch(0);
				for v in &validators {
					assert!(out.validator_permit[*v as usize]);
				}
				for s in &servers {
					assert!(!out.validator_permit[*s as usize]);
				}
				for s in &servers {
					net.stake[*s as usize] += 2 * network_n as u128;
				}
				let out = net.epoch(1);
				for v in &validators {
					assert!(!out.validator_permit[*v as usize]);
				}
				for s in &servers {
					assert!(out.validator_permit[*s as usize]);
				}
			}
		}
	}
}

/// subtensor's `epoch_logs.rs` setup: two or more neurons, given stake, registration 0,
/// last update 1, activity cutoff 10, at `block`.
fn logs_net(stake: &[u128], last_update: &[u64]) -> Net {
	let mut net = Net::new(stake, 0);
	net.params.activity_cutoff = 10;
	net.last_update = last_update.to_vec();
	net
}

// subtensor: tests/epoch_logs.rs `test_simple`.
#[test]
fn logs_simple() {
	let mut net = logs_net(&[1_000_000_000, 1_000_000_000], &[1, 1]);
	let out = net.epoch(1);
	assert_eq!(out.active, vec![true, true]);
	assert_eq!(out.validator_permit, vec![true, true]);
	assert_eq!(out.stake_weight, vec![32767, 32767]); // Normalised Stake: [0.5, 0.5]
	assert_eq!(out.consensus, vec![0, 0]);
	assert_close(&share(&out.emission_share), &[0.5, 0.5], 0.);
	assert_eq!(emissions(&out), vec![500_000_000, 500_000_000]);
}

// subtensor: tests/epoch_logs.rs `test_inactive_mask_zeroes_active_stake` and
// `yuma_emergency_mode`: everyone inactive, emission falls back to plain stake.
#[test]
fn logs_everyone_inactive() {
	let mut net = logs_net(&[1_000_000_000, 1_000_000_000], &[0, 0]);
	let out = net.epoch(1_000_000);
	assert_eq!(out.active, vec![false, false]);
	assert_close(&share(&out.emission_share), &[0.5, 0.5], 0.);
}

// subtensor: tests/epoch_logs.rs `epoch_uses_active_stake_when_nonzero_active`.
#[test]
fn logs_fallback_uses_active_stake() {
	let mut net = logs_net(&[1_000_000_000, 1_000_000_000], &[999, 1]);
	let out = net.epoch(1000);
	assert_eq!(out.active, vec![true, false]);
	assert_close(&share(&out.emission_share), &[1., 0.], 0.);
}

// subtensor: tests/epoch_logs.rs `epoch_topk_validator_permits`, and
// `test_validator_permit_masks_active_stake` (there the permit is forced off in storage;
// here it is lost to an equal-stake uid with a lower uid, k = 1).
#[test]
fn logs_topk_permits_mask_active_stake() {
	let mut net = logs_net(&[2_000_000_000, 1_000_000_000], &[1, 1]);
	net.params.max_allowed_validators = 1;
	let out = net.epoch(1);
	assert_eq!(out.validator_permit, vec![true, false]);
	assert!((u16_f64(out.stake_weight[0]) - 0.666).abs() < 0.001);

	let mut net = logs_net(&[1_000_000_000, 1_000_000_000], &[1, 1]);
	net.params.max_allowed_validators = 1;
	let out = net.epoch(1);
	assert_eq!(out.validator_permit, vec![true, false]);
	assert_close(&share(&out.emission_share), &[1., 0.], 0.); // Active Stake: [1, 0]
}

fn three_validators_two_servers() -> Net {
	let b = 1_000_000_000;
	logs_net(&[b, b, b, 0, 0], &[1; 5])
}

// subtensor: tests/epoch_logs.rs `test_validators_weight_two_distinct_servers`.
#[test]
fn logs_validators_weight_two_distinct_servers() {
	let mut net = three_validators_two_servers();
	let rows: [[u16; 2]; 3] = [[u16::MAX, 0], [0, u16::MAX], [u16::MAX, 0]];
	for (uid, row) in rows.iter().enumerate() {
		net.set_weights(uid as u16, &[3, 4], row, 1);
	}
	assert_eq!(net.weights[0], vec![(3, 65535), (4, 0)]);
	let out = net.epoch(1);
	assert_eq!(out.validator_permit, vec![true, true, true, false, false]);
	assert_eq!(out.consensus, vec![0, 0, 0, 65535, 0]); // Consensus: [0, 0, 0, 1, 0]
	assert_eq!(out.validator_trust, vec![65535, 0, 65535, 0, 0]); // [1, 0, 1, 0, 0]
	assert_close(&share(&out.dividend_share), &[0.5, 0., 0.5, 0., 0.], 0.);
	assert_close(&share(&out.emission_share), &[0.25, 0., 0.25, 0.5, 0.], 0.);
}

// subtensor: tests/epoch_logs.rs `test_validator_splits_weight_across_two_servers`.
#[test]
fn logs_validator_splits_weight_across_two_servers() {
	let mut net = three_validators_two_servers();
	let rows: [[u16; 2]; 3] = [[u16::MAX, 0], [0, u16::MAX], [u16::MAX, u16::MAX]];
	for (uid, row) in rows.iter().enumerate() {
		net.set_weights(uid as u16, &[3, 4], row, 1);
	}
	let out = net.epoch(1);
	assert_close(&share(&out.dividend_share), &[0.25, 0.25, 0.5, 0., 0.], 1e-9);
	assert_close(&share(&out.emission_share), &[0.125, 0.125, 0.25, 0.25, 0.25], 1e-9);
}

// subtensor: tests/epoch_logs.rs `epoch_mechanism_reads_weights_per_mechanism`: two
// weight sets over the same neurons give mirrored emissions.
#[test]
fn logs_two_weight_sets() {
	for (routes, expected) in [
		([3u16, 4, 3], [0.25, 0., 0.25, 0.5, 0.]),
		([4u16, 3, 4], [0.25, 0., 0.25, 0., 0.5]),
	] {
		let mut net = three_validators_two_servers();
		for (uid, target) in routes.iter().enumerate() {
			net.weights[uid] = vec![(*target, u16::MAX)];
		}
		let out = net.epoch(1);
		assert_close(&share(&out.emission_share), &expected, 1e-9);
	}
}

// subtensor: tests/epoch_logs.rs `epoch_mechanism_three_mechanisms_separate_state`.
#[test]
fn logs_three_weight_sets() {
	let b = 1_000_000_000;
	type Case = (Vec<(u16, u16)>, [f64; 4]);
	let cases: [Case; 3] = [
		(vec![(2, u16::MAX)], [0.25, 0.25, 0.5, 0.]),
		(vec![(2, u16::MAX), (3, u16::MAX)], [0.25, 0.25, 0.25, 0.25]),
		(vec![(3, u16::MAX)], [0.25, 0.25, 0., 0.5]),
	];
	for (row, expected) in cases {
		let mut net = logs_net(&[b, b, 0, 0], &[1; 4]);
		net.weights[0] = row.clone();
		net.weights[1] = row;
		let out = net.epoch(1);
		assert_close(&share(&out.emission_share), &expected, 1e-9);
	}
}

// Weights from a uid that lost its permit are ignored, rows naming uids >= n and
// duplicate uids are tolerated (last value wins).
#[test]
fn robust_to_odd_rows_and_lengths() {
	let weights = vec![vec![(1u16, 100u16), (9, 5), (1, u16::MAX)], vec![], vec![(1, u16::MAX)]];
	let bonds = vec![vec![(1u16, 7u16), (40, 1)]];
	let input = EpochInput {
		params: EpochParams { max_allowed_validators: 1, current_block: 10, ..Default::default() },
		stake: &[10, 0, 5],
		last_update: &[5, 5],
		block_at_registration: &[],
		weights: &weights,
		bonds: &bonds,
	};
	let out = epoch(&input);
	assert_eq!(out.validator_permit, vec![true, false, false]);
	assert_eq!(out.incentive, vec![0, 65535, 0]);
	assert_eq!(out.dividends, vec![65535, 0, 0]);
	assert_eq!(out.bonds, vec![vec![(1, 65535)], vec![], vec![]]);
	// uid 2 has no last_update (0): still within the 5000-block cutoff at block 10.
	assert_eq!(out.active, vec![true, true, true]);
}

// Cost is sparse: a subnet of 40_000 uids with a few hundred weights runs at once.
#[test]
fn large_sparse_subnet_is_cheap() {
	let n = 40_000usize;
	let mut stake = vec![0u128; n];
	let mut weights = vec![vec![]; n];
	for v in 0..64usize {
		stake[v * 600] = 1_000 + v as u128;
		// Eight targets shared by every validator plus one of its own.
		let mut row: Vec<(u16, u16)> = (0..8u16).map(|k| (1 + k * 4_999, 1_000 + k)).collect();
		row.push((v as u16 * 600 + 1, 500));
		weights[v * 600] = row;
	}
	let last_update = vec![10u64; n];
	let registered = vec![0u64; n];
	let input = EpochInput {
		params: EpochParams { current_block: 10, ..Default::default() },
		stake: &stake,
		last_update: &last_update,
		block_at_registration: &registered,
		weights: &weights,
		bonds: &[],
	};
	let started = std::time::Instant::now();
	let out = epoch(&input);
	assert!(started.elapsed().as_secs() < 20, "took {:?}", started.elapsed());
	assert_eq!(out.incentive.len(), n);
	assert!(out.incentive.iter().map(|v| *v as u64).sum::<u64>() > 60_000);
}

// subtensor: tests/epoch.rs `test_can_set_self_weight_as_subnet_owner`: the subnet
// owner's self-weight survives the diagonal mask; both uids get equal incentive.
#[test]
fn owner_keeps_self_weight() {
	let mut net = Net::new(&[5_000_000_000_000, 0], 1);
	net.options.owner_uid = Some(0);
	net.weights[0] = vec![(0, u16::MAX / 2), (1, u16::MAX / 2)];
	net.last_update = vec![2, 0];
	let out = net.epoch(2);
	let (miners, _) = crate::yuma::split_emission(&out, &net.stake, 1_000_000_000);
	assert!(miners[0] > 0 && miners[1] > 0);
	assert_eq!(miners[0], miners[1]);
	assert_eq!(out.incentive[0], out.incentive[1]);

	// Without an owner every self-weight is dropped.
	net.options.owner_uid = None;
	net.bonds = vec![vec![]; 2];
	let out = net.epoch(2);
	assert_eq!(out.incentive, vec![0, 65535]);
}
