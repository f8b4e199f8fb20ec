//! Native timing of the Yuma epoch (`run_epoch`) on the mock runtime: prints a table of
//! uids x validators x weight entries -> time, time per entry and charged weight (also as a
//! share of the block), and the largest subnet whose epoch fits in a quarter of a block
//! (0.5 s of the runtime's 2 s ref-time budget).
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
fn time_epoch(n: u16, validators: u16, per_validator: u16, repeats: usize) -> (u128, u32) {
	let mut best = u128::MAX;
	let mut entries = 0;
	for _ in 0..repeats {
		new_test_ext().execute_with(|| {
			entries = populate_subnet::<Test>(BENCH_NETUID, n, validators, per_validator);
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

/// `(uids, validators with permits, weights per validator)`: 64 validators over every
/// size, then the 4096-uid subnet with 256 validators, 32 weights each and dense weights.
fn cases() -> Vec<(u16, u16, u16)> {
	let mut cases = Vec::new();
	for &n in &[64u16, 256, 1024, 2048, 4096] {
		for &per_validator in &[8u16, 64, 256] {
			cases.push((n, 64.min(n), per_validator));
		}
	}
	cases.extend([(4096, 256, 32), (4096, 256, 256), (4096, 256, 4096)]);
	cases
}

fn main() {
	let block: u64 = 2_000_000_000_000;
	let quarter_block = block / 4;
	println!("Yuma epoch, mock runtime, native release build, best of 3.");
	println!("charged = weights_info::epoch (fitted compute + storage at ParityDbWeight); block = 2 s ref time, quarter block = 0.5 s.");
	println!(
		"{:>6} {:>6} {:>9} {:>8} {:>10} {:>9} {:>15} {:>15} {:>15} {:>8} {:>9}",
		"uids", "valid.", "w/valid.", "entries", "time ms", "ns/entry", "measured ps", "charged cpu ps", "charged ps", "% block", "<=1/4 blk"
	);
	let mut largest_fit = 0u16;
	for (n, validators, per_validator) in cases() {
		let repeats = if u32::from(validators) * u32::from(per_validator) > 100_000 { 1 } else { 3 };
		let (ns, entries) = time_epoch(n, validators, per_validator, repeats);
		let measured = (ns as u64).saturating_mul(1_000);
		let cpu = epoch_compute(n as u32, entries).ref_time();
		let charged = SubstrateWeight::epoch(n as u32, entries, validators as u32).ref_time();
		let fits = charged <= quarter_block;
		if fits && validators == 64 {
			largest_fit = largest_fit.max(n);
		}
		println!(
			"{:>6} {:>6} {:>9} {:>8} {:>10.3} {:>9.1} {:>15} {:>15} {:>15} {:>8.2} {:>9}{}",
			n,
			validators,
			per_validator,
			entries,
			ns as f64 / 1e6,
			ns as f64 / f64::from(entries.max(1)),
			measured,
			cpu,
			charged,
			charged as f64 * 100.0 / block as f64,
			if fits { "yes" } else { "no" },
			if cpu < measured { "  <- compute under-charged: refit epoch_compute" } else { "" }
		);
	}
	// Largest n whose charged epoch fits, by bisection on the formula (256 w/validator).
	let (mut lo, mut hi) = (1u32, 4096u32);
	while lo < hi {
		let mid = (lo + hi + 1) / 2;
		if SubstrateWeight::epoch(mid, 64 * 256, 64).ref_time() <= quarter_block { lo = mid } else { hi = mid - 1 }
	}
	println!("largest measured size (64 validators) that fits a quarter block: {largest_fit} uids; by the charged formula: {lo} uids");
	metagraph_size();
}

/// `metagraph(netuid)` of a 4096-uid subnet (256 validators, 32 weights each, after an
/// epoch): SCALE-encoded size and native build time. The mock's account ids are 8 bytes;
/// the chain's are 32, so the size is also given with 2 x 24 bytes more per neuron.
fn metagraph_size() {
	use codec::Encode;
	new_test_ext().execute_with(|| {
		populate_subnet::<Test>(BENCH_NETUID, 4096, 256, 32);
		let params = Hyperparams::<Test>::get(BENCH_NETUID).unwrap();
		Pallet::<Test>::run_epoch(BENCH_NETUID, &params, Pallet::<Test>::current_block());
		let start = Instant::now();
		let m = Pallet::<Test>::metagraph(BENCH_NETUID).unwrap();
		let built = start.elapsed();
		let bytes = m.encode().len();
		let chain_bytes = bytes + m.neurons.len() * 2 * 24;
		println!(
			"metagraph(4096 uids, 256 x 32 weights): {} neurons, {} bytes encoded here, {} bytes with 32-byte account ids, built in {:.2} ms",
			m.neurons.len(),
			bytes,
			chain_bytes,
			built.as_secs_f64() * 1e3
		);
	});
}
