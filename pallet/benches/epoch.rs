//! Native timing of the Yuma epoch (`run_epoch`) on the mock runtime: prints a table of
//! uids x weight entries -> time and weight, and the largest subnet whose epoch fits in
//! a quarter of a block (0.5 s of the runtime's 2 s ref-time budget).
//!
//! `cargo bench -p pallet-tessera --features runtime-benchmarks --bench epoch`

use pallet_tessera::{
	benchmarking::{populate_subnet, BENCH_NETUID},
	mock::{new_test_ext, Test},
	weights_info::{epoch_compute, SubstrateWeight},
	Hyperparams, Pallet, PendingEmission, WeightInfo,
};
use std::time::Instant;

/// Best of `repeats` runs, in nanoseconds.
fn time_epoch(n: u16, per_validator: u16, repeats: usize) -> (u128, u32) {
	let mut best = u128::MAX;
	let mut entries = 0;
	for _ in 0..repeats {
		new_test_ext().execute_with(|| {
			entries = populate_subnet::<Test>(BENCH_NETUID, n, 64.min(n), per_validator);
			PendingEmission::<Test>::insert(BENCH_NETUID, 1_000_000_000_000);
			let params = Hyperparams::<Test>::get(BENCH_NETUID).unwrap();
			let now = Pallet::<Test>::current_block();
			let start = Instant::now();
			Pallet::<Test>::run_epoch(BENCH_NETUID, &params, now);
			best = best.min(start.elapsed().as_nanos());
		});
	}
	(best, entries)
}

fn main() {
	let quarter_block: u64 = 2_000_000_000_000 / 4;
	println!("Yuma epoch, 64 validators, mock runtime, native release build, best of 3.");
	println!("charged = weights_info::epoch (fitted compute + storage at RocksDbWeight); quarter block = 0.5 s ref time.");
	println!(
		"{:>6} {:>9} {:>8} {:>10} {:>15} {:>15} {:>15} {:>9}",
		"uids", "w/valid.", "entries", "time ms", "measured ps", "charged cpu ps", "charged ps", "<=1/4 blk"
	);
	let mut largest_fit = 0u16;
	for &n in &[64u16, 256, 1024, 2048, 4096] {
		for &per_validator in &[8u16, 64, 256] {
			let (ns, entries) = time_epoch(n, per_validator, 3);
			let measured = (ns as u64).saturating_mul(1_000);
			let validators = 64u32.min(n as u32);
			let cpu = epoch_compute(n as u32, entries).ref_time();
			let charged = SubstrateWeight::epoch(n as u32, entries, validators).ref_time();
			let fits = charged <= quarter_block;
			if fits {
				largest_fit = largest_fit.max(n);
			}
			println!(
				"{:>6} {:>9} {:>8} {:>10.3} {:>15} {:>15} {:>15} {:>9}{}",
				n,
				per_validator,
				entries,
				ns as f64 / 1e6,
				measured,
				cpu,
				charged,
				if fits { "yes" } else { "no" },
				if cpu < measured { "  <- compute under-charged: refit epoch_compute" } else { "" }
			);
		}
	}
	// Largest n whose charged epoch fits, by bisection on the formula (256 w/validator).
	let (mut lo, mut hi) = (1u32, 4096u32);
	while lo < hi {
		let mid = (lo + hi + 1) / 2;
		if SubstrateWeight::epoch(mid, 64 * 256, 64).ref_time() <= quarter_block { lo = mid } else { hi = mid - 1 }
	}
	println!("largest measured size that fits a quarter block: {largest_fit} uids; by the charged formula: {lo} uids");
}
