//! Subnet creation, hyperparameter validation and setters, per-block bookkeeping.

use crate::*;
use frame_support::{ensure, pallet_prelude::*};

impl<T: Config> Pallet<T> {
	/// Check that a full set of hyperparameters is internally consistent.
	pub fn validate_hyperparams(p: &SubnetHyperparams) -> Result<(), Error<T>> {
		let ok = p.tempo > 0 &&
			p.max_allowed_uids > 0 &&
			p.max_allowed_uids <= T::MaxAllowedUidsLimit::get() &&
			p.min_allowed_weights <= p.max_allowed_uids &&
			p.bonds_moving_average <= 1_000_000 &&
			p.alpha_low <= p.alpha_high &&
			p.alpha_low > 0 &&
			p.min_burn <= p.max_burn &&
			p.burn >= p.min_burn &&
			p.burn <= p.max_burn &&
			p.adjustment_interval > 0 &&
			p.commit_reveal_period > 0 &&
			p.fraud_window > 0 &&
			p.max_model_bytes > 0;
		ensure!(ok, Error::<T>::InvalidHyperparameter);
		Ok(())
	}

	/// Insert a new subnet (no checks: callers validate).
	pub(crate) fn create_subnet(netuid: NetUid, params: SubnetHyperparams) {
		Hyperparams::<T>::insert(netuid, params);
		TotalNetworks::<T>::mutate(|n| *n = n.saturating_add(1));
		LastAdjustmentBlock::<T>::insert(netuid, Self::current_block());
		Self::deposit_event(Event::NetworkAdded { netuid });
	}

	/// Hyperparameters of `netuid`, or `SubnetNotFound`.
	pub fn hyperparams_of(netuid: NetUid) -> Result<SubnetHyperparams, Error<T>> {
		Hyperparams::<T>::get(netuid).ok_or(Error::<T>::SubnetNotFound)
	}

	pub(crate) fn do_register_network(netuid: NetUid, params: SubnetHyperparams) -> DispatchResult {
		ensure!(!Hyperparams::<T>::contains_key(netuid), Error::<T>::SubnetAlreadyExists);
		Self::validate_hyperparams(&params)?;
		Self::create_subnet(netuid, params);
		Ok(())
	}

	pub(crate) fn do_set_hyperparam(netuid: NetUid, param: Hyperparam) -> DispatchResult {
		let mut p = Self::hyperparams_of(netuid)?;
		match param.clone() {
			Hyperparam::Tempo(v) => p.tempo = v,
			Hyperparam::Kappa(v) => p.kappa = v,
			Hyperparam::BondsMovingAverage(v) => p.bonds_moving_average = v,
			Hyperparam::Yuma3Enabled(v) => p.yuma3_enabled = v,
			Hyperparam::LiquidAlphaEnabled(v) => p.liquid_alpha_enabled = v,
			Hyperparam::AlphaValues { low, high } => {
				p.alpha_low = low;
				p.alpha_high = high;
			},
			Hyperparam::MaxAllowedUids(v) => {
				// Shrinking below the current population would orphan uids.
				ensure!(v >= SubnetN::<T>::get(netuid), Error::<T>::InvalidHyperparameter);
				p.max_allowed_uids = v
			},
			Hyperparam::MaxAllowedValidators(v) => p.max_allowed_validators = v,
			Hyperparam::MinAllowedWeights(v) => p.min_allowed_weights = v,
			Hyperparam::MaxWeightLimit(v) => p.max_weight_limit = v,
			Hyperparam::ImmunityPeriod(v) => p.immunity_period = v,
			Hyperparam::ActivityCutoff(v) => p.activity_cutoff = v,
			Hyperparam::WeightsRateLimit(v) => p.weights_rate_limit = v,
			Hyperparam::ServingRateLimit(v) => p.serving_rate_limit = v,
			Hyperparam::WeightsVersionKey(v) => p.weights_version_key = v,
			Hyperparam::CommitRevealEnabled(v) => p.commit_reveal_enabled = v,
			Hyperparam::CommitRevealPeriod(v) => p.commit_reveal_period = v,
			Hyperparam::Burn(v) => p.burn = v,
			Hyperparam::BurnBounds { min, max } => {
				p.min_burn = min;
				p.max_burn = max;
				p.burn = p.burn.clamp(min, max.max(min));
			},
			Hyperparam::TargetRegistrationsPerInterval(v) => p.target_registrations_per_interval = v,
			Hyperparam::AdjustmentInterval(v) => p.adjustment_interval = v,
			Hyperparam::MaxRegistrationsPerBlock(v) => p.max_registrations_per_block = v,
			Hyperparam::RegistrationAllowed(v) => p.registration_allowed = v,
			Hyperparam::WeightsMinStake(v) => p.weights_min_stake = v,
			Hyperparam::TokenizerHash(v) => p.tokenizer_hash = v,
			Hyperparam::AllowLocalAxons(v) => p.allow_local_axons = v,
			Hyperparam::AuditsEnabled(v) => p.audits_enabled = v,
			Hyperparam::MinerBond(v) => p.miner_bond = v,
			Hyperparam::FraudThreshold(v) => p.fraud_threshold = v,
			Hyperparam::FraudWindow(v) => p.fraud_window = v,
			Hyperparam::SlashToReporters(v) => p.slash_to_reporters = v,
			Hyperparam::MaxModelBytes(v) => p.max_model_bytes = v,
		}
		Self::validate_hyperparams(&p)?;
		Hyperparams::<T>::insert(netuid, p);
		Self::deposit_event(Event::HyperparamSet { netuid, param });
		Ok(())
	}

	/// Index of the epoch `block` falls in for `netuid` (subtensor's schedule: the epoch
	/// runs when `(block + netuid + 1) % (tempo + 1) == 0`).
	pub fn epoch_index(netuid: NetUid, tempo: u16, block: BlockHeight) -> u64 {
		block.saturating_add(netuid as u64).saturating_add(1) / (tempo as u64).saturating_add(1)
	}

	/// Per-block bookkeeping: reset per-block registration counters and adjust each
	/// subnet's burn at the end of its adjustment interval. Loops over subnets only.
	pub(crate) fn on_new_block() -> Weight {
		let now = Self::current_block();
		let mut subnets: u64 = 0;
		let mut writes: u64 = 0;
		for (netuid, mut p) in Hyperparams::<T>::iter() {
			subnets += 1;
			if RegistrationsThisBlock::<T>::contains_key(netuid) {
				RegistrationsThisBlock::<T>::remove(netuid);
				writes += 1;
			}
			let last = LastAdjustmentBlock::<T>::get(netuid);
			if now.saturating_sub(last) >= p.adjustment_interval as u64 {
				let regs = RegistrationsThisInterval::<T>::get(netuid);
				let new_burn = Self::adjusted_burn(&p, regs);
				if new_burn != p.burn {
					p.burn = new_burn;
					Hyperparams::<T>::insert(netuid, &p);
					Self::deposit_event(Event::BurnAdjusted { netuid, burn: new_burn });
				}
				RegistrationsThisInterval::<T>::insert(netuid, 0);
				LastAdjustmentBlock::<T>::insert(netuid, now);
				writes += 3;
			}
		}
		T::DbWeight::get().reads_writes(subnets * 4 + 1, writes)
	}

	/// subtensor's burn adjustment: `burn * (regs + target) / (2 * target)`, clamped.
	pub fn adjusted_burn(p: &SubnetHyperparams, regs: u16) -> Balance {
		let target = p.target_registrations_per_interval as u128;
		if target == 0 {
			return p.burn.clamp(p.min_burn, p.max_burn);
		}
		let adjusted = sp_arithmetic::helpers_128bit::multiply_by_rational_with_rounding(
			p.burn,
			regs as u128 + target,
			2 * target,
			sp_arithmetic::Rounding::Down,
		)
		.unwrap_or(p.max_burn);
		adjusted.clamp(p.min_burn, p.max_burn)
	}
}
