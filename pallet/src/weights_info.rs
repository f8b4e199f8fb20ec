//! Weights of the pallet's calls.
//!
//! These are conservative estimates from the storage each call touches (database reads
//! and writes at ParityDB's cost, the node's only database, plus a per-item compute term for the calls
//! that loop over uids). They are replaced by frame-benchmarking measurements together
//! with the Yuma epoch benchmarks.

use frame_support::weights::{constants::ParityDbWeight, Weight};

/// Weight functions needed by the pallet.
pub trait WeightInfo {
	fn burned_register(n: u32) -> Weight;
	fn serve_axon() -> Weight;
	fn commit_model() -> Weight;
	fn add_stake() -> Weight;
	fn remove_stake() -> Weight;
	fn set_delegate_take() -> Weight;
	fn set_weights(n: u32) -> Weight;
	fn commit_weights() -> Weight;
	fn reveal_weights(n: u32) -> Weight;
	fn sudo_register_network() -> Weight;
	fn sudo_set_hyperparam() -> Weight;
	/// A fraud report on a subnet with `v` validator permits and evidence of `d` digests,
	/// in the worst case: it crosses the threshold and pays the slashed bond to every
	/// permitted reporter.
	fn report_fraud(v: u32, d: u32) -> Weight;
	fn deregister() -> Weight;
	/// `release_escrow` of an escrow with `r` reports.
	fn release_escrow(r: u32) -> Weight;
	/// The per-block escrow sweep visiting `k` escrows (each returned).
	fn sweep_escrows(k: u32) -> Weight;
	/// One epoch of a subnet with `n` uids, `entries` weight + bond entries and
	/// `validators` validator permits.
	fn epoch(n: u32, entries: u32, validators: u32) -> Weight;
}

/// Per-item compute allowance for loops over uids (generous: 2 µs).
const PER_ITEM: u64 = 2_000_000;
/// Fixed compute allowance per call (25 µs).
const BASE: u64 = 25_000_000;
/// One sr25519 signature verification (generous: 100 µs).
const SR25519_VERIFY: u64 = 100_000_000;
/// Encoding and hashing one answer digest (68 bytes) into a signed payload (1 µs).
const PER_DIGEST: u64 = 1_000_000;

fn db(reads: u64, writes: u64) -> Weight {
	ParityDbWeight::get().reads_writes(reads, writes)
}

fn compute(items: u32) -> Weight {
	Weight::from_parts(BASE.saturating_add(PER_ITEM.saturating_mul(items as u64)), 4_096)
}

/// Compute part of an epoch, fitted to `benches/epoch.rs` (native, 2-core machine: about
/// 1.3 ms fixed, 8.4-11.5 µs per uid and under 0.1 µs per weight entry, with the other
/// core busy) with margin.
pub fn epoch_compute(n: u32, entries: u32) -> Weight {
	Weight::from_parts(
		1_500_000_000u64
			.saturating_add(12_000_000u64.saturating_mul(n as u64))
			.saturating_add(100_000u64.saturating_mul(entries as u64)),
		0,
	)
}

/// Storage part of an epoch: per uid its key, stake, registration block, weights and
/// bonds rows, owner and account are read and one mint written; per validator its pool
/// (value, shares, position, pot) and bonds row are written; plus the per-subnet vectors.
pub fn epoch_db(n: u32, validators: u32) -> Weight {
	let (n, v) = (n as u64, validators as u64);
	db(12 + 7 * n + 4 * v, 13 + n + 6 * v)
}

/// Estimates for any runtime (and the unit tests).
pub struct SubstrateWeight;

impl WeightInfo for SubstrateWeight {
	fn burned_register(n: u32) -> Weight {
		// Pruning reads every uid's registration block when the subnet is full; with
		// audits the bond is held and a pruned neuron's bond released or escrowed
		// (vacancies, escrow, bond, owner, accounts, reports, permits, commitment), and
		// the new and the pruned hotkey's sufficient references (`System::Account`).
		compute(n).saturating_add(db(23 + n as u64, 34))
	}
	fn serve_axon() -> Weight {
		compute(0).saturating_add(db(3, 1))
	}
	fn commit_model() -> Weight {
		compute(0).saturating_add(db(5, 2))
	}
	fn add_stake() -> Weight {
		// ... and the `StakingHotkeys` index entry of a new position, and the pot's account
		// (rounding dust moved from the hold, `settle_principal`).
		compute(0).saturating_add(db(7, 8))
	}
	fn remove_stake() -> Weight {
		// ... and the index entry of a position withdrawn to zero.
		compute(0).saturating_add(db(7, 8))
	}
	fn set_delegate_take() -> Weight {
		compute(0).saturating_add(db(1, 1))
	}
	fn set_weights(n: u32) -> Weight {
		compute(n).saturating_add(db(7, 2))
	}
	fn commit_weights() -> Weight {
		compute(0).saturating_add(db(4, 2))
	}
	fn reveal_weights(n: u32) -> Weight {
		compute(n).saturating_add(db(9, 3))
	}
	fn sudo_register_network() -> Weight {
		compute(0).saturating_add(db(2, 3))
	}
	fn sudo_set_hyperparam() -> Weight {
		compute(0).saturating_add(db(2, 1))
	}
	fn report_fraud(v: u32, d: u32) -> Weight {
		// Per reporter (at most v): its uid for the permit check and again for its epoch
		// stake, its owner and coldkey account for the payout (written). Fixed: params,
		// permits, epoch stakes, keys, reports, bond, owner, miner account, commitment
		// (or escrow), bar, and vacating the uid (per-hotkey maps and the per-uid
		// vectors). Per digest: hashing it into the signed payload; plus one sr25519
		// verification (~100 µs, generous).
		let v64 = v as u64;
		compute(v)
			.saturating_add(Weight::from_parts(SR25519_VERIFY.saturating_add(PER_DIGEST.saturating_mul(d as u64)), 0))
			.saturating_add(db(26 + 5 * v64, 31 + v64))
	}
	fn deregister() -> Weight {
		// Params, uid, owner, reports, permits, bond and account (or the escrow, its count
		// and the commitment), then vacating the uid: per-hotkey maps, weights/bonds rows
		// and twelve per-uid vectors (read and written), and the hotkey's sufficient
		// reference when it leaves its last subnet.
		compute(0).saturating_add(db(27, 35))
	}
	fn release_escrow(r: u32) -> Weight {
		// Params, escrow, reports (r of them, decoded), count, account hold.
		compute(r).saturating_add(db(5, 5))
	}
	fn sweep_escrows(k: u32) -> Weight {
		// Count, cursor; per escrow: the entry, its subnet's params, its reports (up to
		// 4096 decoded), then returning it (escrow, reports, count, account hold).
		let k64 = k as u64;
		compute(k.saturating_mul(64)).saturating_add(db(2 + 4 * k64, 1 + 5 * k64))
	}
	fn epoch(n: u32, entries: u32, validators: u32) -> Weight {
		epoch_compute(n, entries).saturating_add(epoch_db(n, validators))
	}
}

impl WeightInfo for () {
	fn burned_register(n: u32) -> Weight {
		SubstrateWeight::burned_register(n)
	}
	fn serve_axon() -> Weight {
		SubstrateWeight::serve_axon()
	}
	fn commit_model() -> Weight {
		SubstrateWeight::commit_model()
	}
	fn add_stake() -> Weight {
		SubstrateWeight::add_stake()
	}
	fn remove_stake() -> Weight {
		SubstrateWeight::remove_stake()
	}
	fn set_delegate_take() -> Weight {
		SubstrateWeight::set_delegate_take()
	}
	fn set_weights(n: u32) -> Weight {
		SubstrateWeight::set_weights(n)
	}
	fn commit_weights() -> Weight {
		SubstrateWeight::commit_weights()
	}
	fn reveal_weights(n: u32) -> Weight {
		SubstrateWeight::reveal_weights(n)
	}
	fn sudo_register_network() -> Weight {
		SubstrateWeight::sudo_register_network()
	}
	fn sudo_set_hyperparam() -> Weight {
		SubstrateWeight::sudo_set_hyperparam()
	}
	fn report_fraud(v: u32, d: u32) -> Weight {
		SubstrateWeight::report_fraud(v, d)
	}
	fn deregister() -> Weight {
		SubstrateWeight::deregister()
	}
	fn release_escrow(r: u32) -> Weight {
		SubstrateWeight::release_escrow(r)
	}
	fn sweep_escrows(k: u32) -> Weight {
		SubstrateWeight::sweep_escrows(k)
	}
	fn epoch(n: u32, entries: u32, validators: u32) -> Weight {
		SubstrateWeight::epoch(n, entries, validators)
	}
}
