//! Native timing of the Yuma epoch (`run_epoch`) on the mock runtime: prints a table of
//! uids x weight entries -> time and weight, and the largest subnet whose epoch fits in
//! a quarter of a block (0.5 s of the runtime's 2 s ref-time budget).
//!
//! `cargo bench -p pallet-tessera --features runtime-benchmarks --bench epoch`

use frame_support::weights::constants::RocksDbWeight;
use pallet_tessera::{
	benchmarking::{populate_subnet, BENCH_NETUID},
	mock::{new_test_ext, Test},
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
	let quarter_block_ps: u64 = 2_000_000_000_000 / 4;
	println!("Yuma epoch on the mock runtime (native, best of 3); weight = measured compute + DB at RocksDbWeight");
	println!(
		"{:>6} {:>10} {:>9} {:>12} {:>16} {:>16} {:>8}",
		"uids", "w/valid.", "entries", "time (ms)", "compute (ps)", "charged (ps)", "<=1/4blk"
	);
	let db = RocksDbWeight::get();
	let mut largest_fit = 0u16;
	for &n in &[64u16, 256, 1024, 2048, 4096] {
		for &per_validator in &[8u16, 64, 256] {
			let (ns, entries) = time_epoch(n, per_validator, 3);
			let compute_ps = (ns as u64).saturating_mul(1_000);
			let charged = pallet_tessera::weights_info::SubstrateWeight::epoch(n as u32, entries).ref_time();
			// Reads/writes a real node performs per uid, at RocksDbWeight (see weights_info).
			let db_ps = db.reads_writes(12 + 6 * n as u64, 12 + 3 * n as u64).ref_time();
			let total = compute_ps.saturating_add(db_ps);
			let fits = total <= quarter_block_ps;
			if fits && per_validator == 256 {
				largest_fit = largest_fit.max(n);
			}
			println!(
				"{:>6} {:>10} {:>9} {:>12.3} {:>16} {:>16} {:>8}",
				n,
				per_validator,
				entries,
				ns as f64 / 1e6,
				compute_ps,
				charged,
				if fits { "yes" } else { "no" }
			);
			assert!(charged >= total, "charged weight {charged} below measured {total} for n={n}");
		}
	}
	println!("largest measured subnet whose epoch (256 weights per validator) fits a quarter block: {largest_fit} uids");
}
