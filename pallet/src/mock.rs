//! Mock runtime for the pallet's unit tests: System, Balances (with holds) and Tessera.

use crate as pallet_tessera;
use crate::*;
use frame_support::{
	derive_impl, parameter_types,
	traits::{ConstU128, ConstU16, ConstU32, Hooks},
	PalletId,
};
use sp_runtime::BuildStorage;

type Block = frame_system::mocking::MockBlock<Test>;
pub type AccountId = u64;

frame_support::construct_runtime!(
	pub enum Test {
		System: frame_system,
		Balances: pallet_balances,
		Tessera: pallet_tessera,
	}
);

#[derive_impl(frame_system::config_preludes::TestDefaultConfig)]
impl frame_system::Config for Test {
	type Block = Block;
	type AccountData = pallet_balances::AccountData<u128>;
}

pub const ED: u128 = 10;

#[derive_impl(pallet_balances::config_preludes::TestDefaultConfig)]
impl pallet_balances::Config for Test {
	type Balance = u128;
	type ExistentialDeposit = ConstU128<ED>;
	type AccountStore = System;
	type RuntimeHoldReason = RuntimeHoldReason;
}

parameter_types! {
	pub const TesseraPalletId: PalletId = PalletId(*b"tessera/");
}

/// 18% of `u16::MAX`, subtensor's default and maximum take.
pub const TAKE_18: u16 = 11_796;

impl pallet_tessera::Config for Test {
	type RuntimeEvent = RuntimeEvent;
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type PalletId = TesseraPalletId;
	type MaxAllowedUidsLimit = ConstU16<4096>;
	type MaxDelegateTake = ConstU16<TAKE_18>;
	type DefaultDelegateTake = ConstU16<TAKE_18>;
	type MinStake = ConstU128<100>;
	type MaxWeightCommits = ConstU32<3>;
	type InitialBlockEmission = ConstU128<1_000_000_000>;
	type TotalSupplyCap = ConstU128<21_000_000_000_000_000>;
	type PublicKeyOf = MockKeys;
	type WeightInfo = ();
}

/// Test accounts are `u64`s: each has the sr25519 key pair derived from its number.
pub struct MockKeys;

impl MockKeys {
	/// The key pair of account `who`.
	pub fn pair(who: AccountId) -> sp_core::sr25519::Pair {
		use codec::Encode;
		use sp_core::Pair;
		sp_core::sr25519::Pair::from_seed(&sp_io::hashing::blake2_256(&(b"tessera-mock", who).encode()))
	}

	/// `who`'s sr25519 signature of `message`.
	pub fn sign(who: AccountId, message: &[u8]) -> [u8; 64] {
		use sp_core::Pair;
		Self::pair(who).sign(message).0
	}
}

impl PublicKeyOf<AccountId> for MockKeys {
	fn public_key(who: &AccountId) -> Option<[u8; 32]> {
		use sp_core::Pair;
		Some(Self::pair(*who).public().0)
	}

	#[cfg(feature = "runtime-benchmarks")]
	fn bench_account(seed: u32) -> AccountId {
		1_000_000 + seed as AccountId
	}

	#[cfg(feature = "runtime-benchmarks")]
	fn bench_sign(who: &AccountId, message: &[u8]) -> Option<[u8; 64]> {
		Some(Self::sign(*who, message))
	}
}

/// Coldkeys 1..=9 and 100..=109 start with this much.
pub const INITIAL: u128 = 1_000_000_000_000;

/// Hyperparameters of subnet 1 in tests: no rate limits, no immunity, tempo 10.
pub fn test_params() -> SubnetHyperparams {
	SubnetHyperparams {
		tempo: 10,
		weights_rate_limit: 0,
		serving_rate_limit: 0,
		immunity_period: 0,
		max_allowed_uids: 8,
		max_allowed_validators: 8,
		max_registrations_per_block: 100,
		target_registrations_per_interval: 100,
		burn: 1_000,
		min_burn: 100,
		max_burn: 1_000_000,
		..Default::default()
	}
}

pub fn new_test_ext() -> sp_io::TestExternalities {
	let mut t = frame_system::GenesisConfig::<Test>::default().build_storage().unwrap();
	let balances = (1..=9u64).chain(100..=109).map(|a| (a, INITIAL)).collect();
	pallet_balances::GenesisConfig::<Test> { balances, ..Default::default() }
		.assimilate_storage(&mut t)
		.unwrap();
	pallet_tessera::GenesisConfig::<Test> { subnets: vec![(1, test_params())], _config: Default::default() }
		.assimilate_storage(&mut t)
		.unwrap();
	let mut ext = sp_io::TestExternalities::new(t);
	ext.execute_with(|| System::set_block_number(1));
	ext
}

/// Advance to block `n`, running `on_initialize` of the pallet on every block.
pub fn run_to_block(n: u64) {
	while System::block_number() < n {
		let next = System::block_number() + 1;
		System::set_block_number(next);
		Tessera::on_initialize(next);
	}
}

/// Advance past the next epoch block of `netuid`.
pub fn run_epoch(netuid: NetUid) {
	let tempo = Hyperparams::<Test>::get(netuid).unwrap().tempo;
	let start = System::block_number() + 1;
	for b in start..start + tempo as u64 + 1 {
		run_to_block(b);
		if Tessera::is_epoch_block(netuid, tempo, b) {
			return;
		}
	}
}

pub fn last_event() -> RuntimeEvent {
	System::events().pop().expect("an event").event
}
