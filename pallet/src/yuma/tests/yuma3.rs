//! Ports of subtensor's Yuma3 scenarios (`tests/epoch.rs`, `test_yuma_3_*`): three
//! validators, two or three servers, liquid alpha in `[0.1, 0.3]`, bonds moving average
//! 975_000, bonds penalty 0, kappa 0.5; dividends and bonds checked to 1e-3 after every
//! epoch, as there.
//!
//! subtensor's helper compares bonds with `target_bond.iter().skip(3)` on two- or
//! three-entry rows, so it never actually checks them; here they are checked.

use super::{fixed, u16_f64, Net};
use crate::yuma::{math::proportion_to_u16, EpochOutput};

const MAX: u16 = u16::MAX;

/// subtensor's `setup_yuma_3_scenario` followed by per-epoch `set_weights` + `run_epoch`.
struct Yuma3 {
	net: Net,
	block: u64,
}

impl Yuma3 {
	fn new(stakes: &[u128]) -> Self {
		let mut net = Net::new(stakes, 1);
		net.params.yuma3_enabled = true;
		net.params.liquid_alpha_enabled = true;
		net.params.kappa = u16::MAX / 2;
		net.params.bonds_moving_average = 975_000;
		// set_alpha_values_32(0.1, 0.3) stores floor(x · 65535).
		net.params.alpha_low = proportion_to_u16(fixed(0.1));
		net.params.alpha_high = proportion_to_u16(fixed(0.3));
		net.params.max_allowed_validators = 3;
		net.options.bonds_penalty = 0;
		net.options.alpha_sigmoid_steepness = 1000;
		let mut scenario = Yuma3 { net, block: 1 };
		scenario.run(); // the setup's first epoch, before any weights
		scenario
	}

	fn set_weights(&mut self, rows: &[Vec<u16>], servers: &[u16]) {
		for (uid, row) in rows.iter().enumerate() {
			self.net.set_weights(uid as u16, servers, row, self.block);
		}
	}

	fn run(&mut self) -> EpochOutput {
		self.block += 1;
		self.net.epoch(self.block)
	}

	/// subtensor's `run_epoch_and_check_bonds_dividends`; `first_column` is the uid of the
	/// first column of `target_bonds`.
	fn run_and_check(&mut self, epoch: usize, target_bonds: &[Vec<f64>], first_column: u16, target_dividends: &[f64]) {
		let out = self.run();
		for (uid, target) in target_dividends.iter().enumerate() {
			let actual = u16_f64(out.dividends[uid]);
			assert!((actual - target).abs() <= 1e-3, "epoch {epoch}: dividends {:?} vs {target_dividends:?}", out.dividends);
		}
		for (uid, row) in target_bonds.iter().enumerate() {
			for (k, target) in row.iter().enumerate() {
				let actual = u16_f64(self.net.bond(uid, first_column + k as u16));
				assert!(
					(actual - target).abs() <= 1e-3,
					"epoch {epoch}: bond ({uid}, {}) = {actual} vs {target}; bonds {:?}",
					first_column + k as u16,
					self.net.bonds
				);
			}
		}
	}
}

fn rows(v: &[[u16; 2]; 3]) -> Vec<Vec<u16>> {
	v.iter().map(|r| r.to_vec()).collect()
}

/// The three kappa scenarios share their shape: weights per epoch 0..=3, then unchanged.
fn run_kappa_scenario(weights: [[[u16; 2]; 3]; 4], bonds: [[[f64; 2]; 3]; 6], dividends: [[f64; 5]; 6]) {
	let mut s = Yuma3::new(&[8, 1, 1, 0, 0]);
	for epoch in 0..6 {
		if let Some(w) = weights.get(epoch) {
			s.set_weights(&rows(w), &[3, 4]);
		}
		let target: Vec<Vec<f64>> = bonds[epoch].iter().map(|r| r.to_vec()).collect();
		s.run_and_check(epoch, &target, 3, &dividends[epoch]);
	}
}

const ALL_TO_1: [[u16; 2]; 3] = [[MAX, 0], [MAX, 0], [MAX, 0]];
const ALL_TO_2: [[u16; 2]; 3] = [[0, MAX], [0, MAX], [0, MAX]];

// subtensor: tests/epoch.rs `test_yuma_3_kappa_moves_first`.
#[test]
fn yuma3_kappa_moves_first() {
	run_kappa_scenario(
		[ALL_TO_1, [[0, MAX], [MAX, 0], [MAX, 0]], [[0, MAX], [0, MAX], [MAX, 0]], ALL_TO_2],
		[
			[[0.1013, 0.0000], [0.1013, 0.0000], [0.1013, 0.0000]],
			[[0.0908, 0.1013], [0.3697, 0.0000], [0.3697, 0.0000]],
			[[0.0815, 0.1924], [0.3170, 0.1013], [0.5580, 0.0000]],
			[[0.0731, 0.2742], [0.2765, 0.1924], [0.4306, 0.1013]],
			[[0.0656, 0.3478], [0.2435, 0.2742], [0.3589, 0.1924]],
			[[0.0588, 0.4139], [0.2157, 0.3478], [0.3089, 0.2742]],
		],
		[
			[0.8000, 0.1000, 0.1000, 0.0000, 0.0000],
			[1.0000, 0.0000, 0.0000, 0.0000, 0.0000],
			[0.9382, 0.0618, 0.0000, 0.0000, 0.0000],
			[0.8819, 0.0773, 0.0407, 0.0000, 0.0000],
			[0.8564, 0.0844, 0.0592, 0.0000, 0.0000],
			[0.8418, 0.0884, 0.0697, 0.0000, 0.0000],
		],
	);
}

// subtensor: tests/epoch.rs `test_yuma_3_kappa_moves_second`.
#[test]
fn yuma3_kappa_moves_second() {
	run_kappa_scenario(
		[ALL_TO_1, [[MAX, 0], [0, MAX], [MAX, 0]], [[0, MAX], [0, MAX], [MAX, 0]], ALL_TO_2],
		[
			[[0.1013, 0.0000], [0.1013, 0.0000], [0.1013, 0.0000]],
			[[0.1924, 0.0000], [0.0908, 0.2987], [0.1924, 0.0000]],
			[[0.1715, 0.1013], [0.0815, 0.3697], [0.4336, 0.0000]],
			[[0.1531, 0.1924], [0.0731, 0.4336], [0.3608, 0.1013]],
			[[0.1369, 0.2742], [0.0656, 0.4910], [0.3103, 0.1924]],
			[[0.1225, 0.3478], [0.0588, 0.5426], [0.2712, 0.2742]],
		],
		[
			[0.8000, 0.1000, 0.1000, 0.0000, 0.0000],
			[0.8446, 0.0498, 0.1056, 0.0000, 0.0000],
			[0.6868, 0.3132, 0.0000, 0.0000, 0.0000],
			[0.7421, 0.2090, 0.0489, 0.0000, 0.0000],
			[0.7625, 0.1706, 0.0669, 0.0000, 0.0000],
			[0.7730, 0.1508, 0.0762, 0.0000, 0.0000],
		],
	);
}

// subtensor: tests/epoch.rs `test_yuma_3_kappa_moves_last`.
#[test]
fn yuma3_kappa_moves_last() {
	run_kappa_scenario(
		[ALL_TO_1, [[MAX, 0], [0, MAX], [MAX, 0]], [[MAX, 0], [0, MAX], [0, MAX]], ALL_TO_2],
		[
			[[0.1013, 0.0000], [0.1013, 0.0000], [0.1013, 0.0000]],
			[[0.1924, 0.0000], [0.0908, 0.2987], [0.1924, 0.0000]],
			[[0.2742, 0.0000], [0.0815, 0.5081], [0.1715, 0.2987]],
			[[0.2416, 0.1013], [0.0731, 0.5580], [0.1531, 0.3697]],
			[[0.2141, 0.1924], [0.0656, 0.6028], [0.1369, 0.4336]],
			[[0.1903, 0.2742], [0.0588, 0.6430], [0.1225, 0.4910]],
		],
		[
			[0.8000, 0.1000, 0.1000, 0.0000, 0.0000],
			[0.8446, 0.0498, 0.1056, 0.0000, 0.0000],
			[0.8966, 0.0333, 0.0701, 0.0000, 0.0000],
			[0.4663, 0.3210, 0.2127, 0.0000, 0.0000],
			[0.5976, 0.2340, 0.1683, 0.0000, 0.0000],
			[0.6592, 0.1932, 0.1475, 0.0000, 0.0000],
		],
	);
}

/// Equal-stake validators; validator C switches server in epoch 2 only.
fn run_one_epoch_switch(liquid_alpha: bool, bonds: [[[f64; 3]; 3]; 6], dividends: [[f64; 5]; 6], first_column: u16) {
	let mut s = Yuma3::new(&[33, 33, 34, 0, 0]);
	s.net.params.liquid_alpha_enabled = liquid_alpha;
	for epoch in 0..6 {
		if epoch == 2 {
			s.set_weights(&rows(&[[MAX, 0], [MAX, 0], [0, MAX]]), &[3, 4]);
		} else {
			s.set_weights(&rows(&ALL_TO_1), &[3, 4]);
		}
		let width = if first_column == 3 { 2 } else { 3 };
		let target: Vec<Vec<f64>> = bonds[epoch].iter().map(|r| r[..width].to_vec()).collect();
		s.run_and_check(epoch, &target, first_column, &dividends[epoch]);
	}
}

// subtensor: tests/epoch.rs `test_yuma_3_one_epoch_switch`.
#[test]
fn yuma3_one_epoch_switch() {
	run_one_epoch_switch(
		true,
		[
			[[0.1013, 0.0000, 0.], [0.1013, 0.0000, 0.], [0.1013, 0.0000, 0.]],
			[[0.1924, 0.0000, 0.], [0.1924, 0.0000, 0.], [0.1924, 0.0000, 0.]],
			[[0.2742, 0.0000, 0.], [0.2742, 0.0000, 0.], [0.1715, 0.2987, 0.]],
			[[0.3478, 0.0000, 0.], [0.3478, 0.0000, 0.], [0.2554, 0.2618, 0.]],
			[[0.4139, 0.0000, 0.], [0.4139, 0.0000, 0.], [0.3309, 0.2312, 0.]],
			[[0.4733, 0.0000, 0.], [0.4733, 0.0000, 0.], [0.3987, 0.2051, 0.]],
		],
		[
			[0.3300, 0.3300, 0.3400, 0.0000, 0.0000],
			[0.3300, 0.3300, 0.3400, 0.0000, 0.0000],
			[0.3782, 0.3782, 0.2436, 0.0000, 0.0000],
			[0.3628, 0.3628, 0.2745, 0.0000, 0.0000],
			[0.3541, 0.3541, 0.2917, 0.0000, 0.0000],
			[0.3487, 0.3487, 0.3026, 0.0000, 0.0000],
		],
		3,
	);
}

// subtensor: tests/epoch.rs `test_yuma_3_liquid_alpha_disabled` (its bond targets list
// uids 2, 3 and 4).
#[test]
fn yuma3_liquid_alpha_disabled() {
	run_one_epoch_switch(
		false,
		[
			[[0.0000, 0.0250, 0.0000], [0.0000, 0.0250, 0.0000], [0.0000, 0.0250, 0.0000]],
			[[0.0000, 0.0494, 0.0000], [0.0000, 0.0494, 0.0000], [0.0000, 0.0494, 0.0000]],
			[[0.0000, 0.0731, 0.0000], [0.0000, 0.0731, 0.0000], [0.0000, 0.0481, 0.0250]],
			[[0.0000, 0.0963, 0.0000], [0.0000, 0.0963, 0.0000], [0.0000, 0.0719, 0.0244]],
			[[0.0000, 0.1189, 0.0000], [0.0000, 0.1189, 0.0000], [0.0000, 0.0951, 0.0238]],
			[[0.0000, 0.1409, 0.0000], [0.0000, 0.1409, 0.0000], [0.0000, 0.1178, 0.0232]],
		],
		[
			[0.3300, 0.3300, 0.3400, 0.0000, 0.0000],
			[0.3300, 0.3300, 0.3400, 0.0000, 0.0000],
			[0.3734, 0.3734, 0.2532, 0.0000, 0.0000],
			[0.3611, 0.3611, 0.2779, 0.0000, 0.0000],
			[0.3541, 0.3541, 0.2919, 0.0000, 0.0000],
			[0.3495, 0.3495, 0.3009, 0.0000, 0.0000],
		],
		2,
	);
}

// subtensor: tests/epoch.rs `test_yuma_3_stable_miner`.
#[test]
fn yuma3_stable_miner() {
	let half = MAX / 2;
	let mut s = Yuma3::new(&[8, 1, 1, 0, 0, 0]);
	let a = vec![half, 0, half];
	let b = vec![0, half, half];
	let weights = [
		vec![a.clone(), a.clone(), a.clone()],
		vec![a.clone(), b.clone(), a.clone()],
		vec![b.clone(), b.clone(), a.clone()],
		vec![b.clone(), b.clone(), b.clone()],
	];
	let bonds = [
		[[0.0507, 0.0000, 0.0507], [0.0507, 0.0000, 0.0507], [0.0507, 0.0000, 0.0507]],
		[[0.0962, 0.0000, 0.0962], [0.0455, 0.1000, 0.0962], [0.0962, 0.0000, 0.0962]],
		[[0.0863, 0.0507, 0.1371], [0.0408, 0.1405, 0.1371], [0.1770, 0.0000, 0.1371]],
		[[0.0774, 0.0962, 0.1739], [0.0367, 0.1770, 0.1739], [0.1579, 0.0507, 0.1739]],
		[[0.0694, 0.1371, 0.2069], [0.0329, 0.2097, 0.2069], [0.1411, 0.0962, 0.2069]],
		[[0.0623, 0.1739, 0.2366], [0.0296, 0.2391, 0.2366], [0.1263, 0.1371, 0.2366]],
	];
	let dividends = [
		[0.8000, 0.1000, 0.1000, 0.0000, 0.0000, 0.0000],
		[0.8226, 0.0745, 0.1028, 0.0000, 0.0000, 0.0000],
		[0.7750, 0.1685, 0.0565, 0.0000, 0.0000, 0.0000],
		[0.7864, 0.1372, 0.0764, 0.0000, 0.0000, 0.0000],
		[0.7912, 0.1241, 0.0847, 0.0000, 0.0000, 0.0000],
		[0.7937, 0.1173, 0.0890, 0.0000, 0.0000, 0.0000],
	];
	for epoch in 0..6 {
		if let Some(w) = weights.get(epoch) {
			s.set_weights(w, &[3, 4, 5]);
		}
		let target: Vec<Vec<f64>> = bonds[epoch].iter().map(|r| r.to_vec()).collect();
		s.run_and_check(epoch, &target, 3, &dividends[epoch]);
	}
}

// subtensor: tests/epoch.rs `test_yuma_3_bonds_reset`: with bonds reset enabled, the
// bonds towards uid 3 are removed (subtensor's `do_reset_bonds`) just before epoch 20.
#[test]
fn yuma3_bonds_reset() {
	let mut s = Yuma3::new(&[8, 1, 1, 0, 0]);
	let checks: [(usize, [[f64; 2]; 3], [f64; 5]); 7] = [
		(0, [[0.1013, 0.0000], [0.1013, 0.0000], [0.1013, 0.0000]], [0.8000, 0.1000, 0.1000, 0.0000, 0.0000]),
		(1, [[0.1924, 0.0000], [0.0908, 0.2987], [0.0908, 0.2987]], [0.8944, 0.0528, 0.0528, 0.0000, 0.0000]),
		(2, [[0.1715, 0.1013], [0.0815, 0.3697], [0.0815, 0.3697]], [0.5230, 0.2385, 0.2385, 0.0000, 0.0000]),
		(19, [[0.0269, 0.8539], [0.0131, 0.8975], [0.0131, 0.8975]], [0.7919, 0.1040, 0.1040, 0.0000, 0.0000]),
		(20, [[0.0000, 0.8687], [0.0000, 0.9079], [0.0000, 0.9079]], [0.7928, 0.1036, 0.1036, 0.0000, 0.0000]),
		(21, [[0.0000, 0.8820], [0.2987, 0.6386], [0.2987, 0.6386]], [0.8467, 0.0766, 0.0766, 0.0000, 0.0000]),
		(40, [[0.8687, 0.0578], [0.9079, 0.0523], [0.9079, 0.0523]], [0.7928, 0.1036, 0.1036, 0.0000, 0.0000]),
	];
	for epoch in 0..=40 {
		let weights: [[u16; 2]; 3] = match epoch {
			0 => ALL_TO_1,
			1 => [[MAX, 0], [0, MAX], [0, MAX]],
			2..=20 => ALL_TO_2,
			21 => [[0, MAX], [MAX, 0], [MAX, 0]],
			_ => ALL_TO_1,
		};
		s.set_weights(&rows(&weights), &[3, 4]);
		if epoch == 20 {
			for row in s.net.bonds.iter_mut() {
				row.retain(|(j, _)| *j != 3);
			}
		}
		match checks.iter().find(|(e, _, _)| *e == epoch) {
			Some((_, bonds, dividends)) => {
				let target: Vec<Vec<f64>> = bonds.iter().map(|r| r.to_vec()).collect();
				s.run_and_check(epoch, &target, 3, dividends);
			},
			None => {
				s.run();
			},
		}
	}
}
