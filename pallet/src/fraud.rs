//! Verifiable work on-chain: miner bonds, fraud reports, slashing and deregistration.
//!
//! On a subnet with `audits_enabled`, `burned_register` holds `miner_bond` from the
//! registering coldkey (`HoldReason::MinerBond`) and records the amount actually held in
//! `MinerBonds`, so later changes of `miner_bond` never break the accounting. The bond is
//! released when the neuron leaves cleanly: `deregister` by its owner, or pruning by a
//! new registration.
//!
//! Validators that audit a miner (re-running its committed model on positions of past
//! rounds) and find signed answers that do not come from it call `report_fraud` with the
//! hash of their evidence. Reports are kept per `(netuid, uid)`; a report counts while it
//! is younger than `fraud_window` blocks and its validator still holds a permit, and a
//! validator cannot report the same neuron again while its report counts. When the stake
//! of the validators whose reports count exceeds `fraud_threshold` of the subnet's total
//! permit stake, the neuron is slashed: its bond is burned (total issuance falls by
//! exactly the bond) or, with `slash_to_reporters`, paid to the reporters' coldkeys pro
//! rata by stake (the rounding remainder to the largest stake, so exactly the bond moves);
//! its committed model hash is barred from the subnet and its uid is vacated. Reports are
//! cleared whenever a uid changes hands, so they never carry over to a new neuron.
//!
//! A neuron with reports that still count cannot `deregister` (it could otherwise take
//! its bond and leave before the reports reach the threshold).

use crate::*;
use alloc::vec::Vec;
use frame_support::{
	ensure,
	pallet_prelude::*,
	traits::{
		fungible::MutateHold,
		tokens::{Fortitude, Precision, Restriction},
	},
};
use sp_arithmetic::{helpers_128bit::multiply_by_rational_with_rounding, Rounding};
use sp_core::{H256, U256};

/// Bound of a neuron's fraud reports: only validators holding a permit report, and a
/// subnet has at most `MaxAllowedUidsLimit` neurons (and `max_allowed_validators` permits).
pub struct MaxReporters<T>(core::marker::PhantomData<T>);

impl<T: Config> Get<u32> for MaxReporters<T> {
	fn get() -> u32 {
		T::MaxAllowedUidsLimit::get() as u32
	}
}

/// Whether `reported` stake is more than `threshold` (`u16::MAX` = 1.0) of `permitted`.
pub fn exceeds_threshold(reported: Balance, permitted: Balance, threshold: u16) -> bool {
	U256::from(reported).saturating_mul(U256::from(U16_ONE)) >
		U256::from(permitted).saturating_mul(U256::from(threshold))
}

/// Split `amount` over `stakes` pro rata, each share rounded down; the remainder goes to
/// the largest stake (the first of equal ones), so the shares add up to exactly `amount`.
/// All-zero (or no) stakes get nothing: every share is zero.
pub fn pro_rata(amount: Balance, stakes: &[Balance]) -> Vec<Balance> {
	let total = stakes.iter().fold(0 as Balance, |a, s| a.saturating_add(*s));
	if total == 0 {
		return alloc::vec![0; stakes.len()];
	}
	let mut shares: Vec<Balance> = stakes
		.iter()
		.map(|s| multiply_by_rational_with_rounding(amount, *s, total, Rounding::Down).unwrap_or(0))
		.collect();
	let paid = shares.iter().fold(0 as Balance, |a, s| a.saturating_add(*s));
	let largest = stakes
		.iter()
		.enumerate()
		.max_by(|(i, a), (j, b)| a.cmp(b).then(j.cmp(i)))
		.map(|(i, _)| i)
		.unwrap_or(0);
	if let Some(share) = shares.get_mut(largest) {
		*share = share.saturating_add(amount.saturating_sub(paid));
	}
	shares
}

impl<T: Config> Pallet<T> {
	/// Tokens held as the bond of `hotkey` on `netuid` (zero when there is none).
	pub fn miner_bond_of(netuid: NetUid, hotkey: &T::AccountId) -> Balance {
		MinerBonds::<T>::get(netuid, hotkey).unwrap_or(0)
	}

	/// Whether report `r` against a neuron of `netuid` still counts at `now`: younger than
	/// `fraud_window` and from a hotkey that is registered with a permit.
	fn report_counts(
		netuid: NetUid,
		r: &FraudReport<T::AccountId>,
		params: &SubnetHyperparams,
		permits: &[bool],
		now: BlockHeight,
	) -> bool {
		now < r.block.saturating_add(params.fraud_window) &&
			Uids::<T>::get(netuid, &r.reporter)
				.is_some_and(|u| permits.get(u as usize).copied().unwrap_or(false))
	}

	/// Whether `uid` of `netuid` has fraud reports that still count (audits enabled only).
	pub fn has_pending_reports(netuid: NetUid, uid: Uid, params: &SubnetHyperparams, now: BlockHeight) -> bool {
		if !params.audits_enabled {
			return false;
		}
		let reports = FraudReports::<T>::get(netuid, uid);
		if reports.is_empty() {
			return false;
		}
		let permits = ValidatorPermit::<T>::get(netuid);
		reports.iter().any(|r| Self::report_counts(netuid, r, params, &permits, now))
	}

	/// Release the bond of `hotkey` on `netuid` to its owner. Returns the amount released.
	pub(crate) fn release_bond(netuid: NetUid, hotkey: &T::AccountId) -> Balance {
		let Some(amount) = MinerBonds::<T>::take(netuid, hotkey) else { return 0 };
		let Some(coldkey) = Owner::<T>::get(hotkey) else { return 0 };
		let released = T::Currency::release(&HoldReason::MinerBond.into(), &coldkey, amount, Precision::BestEffort)
			.unwrap_or(0);
		Self::deposit_event(Event::BondReturned { netuid, hotkey: hotkey.clone(), coldkey, amount: released });
		released
	}

	/// Number of validator permits on `netuid` (bounds every loop of `report_fraud`).
	pub fn validator_permit_count(netuid: NetUid) -> u32 {
		ValidatorPermit::<T>::get(netuid).iter().filter(|p| **p).count() as u32
	}

	/// `report_fraud`.
	pub(crate) fn do_report_fraud(
		reporter: T::AccountId,
		netuid: NetUid,
		uid: Uid,
		evidence_hash: H256,
	) -> DispatchResult {
		let params = Self::hyperparams_of(netuid)?;
		ensure!(params.audits_enabled, Error::<T>::AuditsDisabled);
		let reporter_uid = Uids::<T>::get(netuid, &reporter).ok_or(Error::<T>::HotkeyNotRegistered)?;
		let permits = ValidatorPermit::<T>::get(netuid);
		ensure!(
			permits.get(reporter_uid as usize).copied().unwrap_or(false),
			Error::<T>::NoValidatorPermit
		);
		let hotkey = Keys::<T>::get(netuid, uid).ok_or(Error::<T>::InvalidUid)?;
		ensure!(reporter_uid != uid, Error::<T>::CannotReportSelf);

		let now = Self::current_block();
		let mut reports = FraudReports::<T>::get(netuid, uid);
		reports.retain(|r| Self::report_counts(netuid, r, &params, &permits, now));
		ensure!(!reports.iter().any(|r| r.reporter == reporter), Error::<T>::AlreadyReported);
		ensure!(reports.len() < params.max_allowed_validators as usize, Error::<T>::TooManyFraudReports);
		reports
			.try_push(FraudReport { reporter: reporter.clone(), block: now, evidence_hash })
			.map_err(|_| Error::<T>::TooManyFraudReports)?;

		let permitted_stake = permits
			.iter()
			.enumerate()
			.filter(|(_, permit)| **permit)
			.filter_map(|(u, _)| Keys::<T>::get(netuid, u as Uid))
			.fold(0 as Balance, |a, h| a.saturating_add(TotalHotkeyStake::<T>::get(&h)));
		let stakes: Vec<Balance> = reports.iter().map(|r| TotalHotkeyStake::<T>::get(&r.reporter)).collect();
		let reported_stake = stakes.iter().fold(0 as Balance, |a, s| a.saturating_add(*s));
		Self::deposit_event(Event::FraudReported {
			netuid,
			uid,
			hotkey: hotkey.clone(),
			reporter,
			evidence_hash,
			reported_stake,
			permitted_stake,
		});

		if exceeds_threshold(reported_stake, permitted_stake, params.fraud_threshold) {
			Self::slash_and_deregister(netuid, uid, &hotkey, &params, &reports, &stakes, now);
		} else {
			FraudReports::<T>::insert(netuid, uid, reports);
		}
		Ok(())
	}

	/// Slash the bond of `hotkey` at `uid` (to the reporters of `reports`, whose stakes are
	/// `stakes`, or burned), bar its committed model and vacate its uid.
	fn slash_and_deregister(
		netuid: NetUid,
		uid: Uid,
		hotkey: &T::AccountId,
		params: &SubnetHyperparams,
		reports: &[FraudReport<T::AccountId>],
		stakes: &[Balance],
		now: BlockHeight,
	) {
		let bond = MinerBonds::<T>::take(netuid, hotkey).unwrap_or(0);
		if let Some(coldkey) = Owner::<T>::get(hotkey) {
			let reason: T::RuntimeHoldReason = HoldReason::MinerBond.into();
			let to_reporters = params.slash_to_reporters && stakes.iter().any(|s| *s > 0);
			// Shares that cannot be paid (e.g. below a new account's existential deposit)
			// are burned with the rest, so exactly the bond leaves the miner either way.
			let mut to_burn = bond;
			if to_reporters && bond > 0 {
				for (report, share) in reports.iter().zip(pro_rata(bond, stakes)) {
					if share == 0 {
						continue;
					}
					let Some(reporter_coldkey) = Owner::<T>::get(&report.reporter) else { continue };
					let paid = T::Currency::transfer_on_hold(
						&reason,
						&coldkey,
						&reporter_coldkey,
						share,
						Precision::Exact,
						Restriction::Free,
						Fortitude::Force,
					);
					if paid.is_ok() {
						to_burn = to_burn.saturating_sub(share);
						Self::deposit_event(Event::SlashRewardPaid {
							netuid,
							reporter: report.reporter.clone(),
							coldkey: reporter_coldkey,
							amount: share,
						});
					}
				}
			}
			let burned = if to_burn > 0 {
				T::Currency::burn_held(&reason, &coldkey, to_burn, Precision::BestEffort, Fortitude::Force)
					.unwrap_or(0)
			} else {
				0
			};
			Self::deposit_event(Event::MinerSlashed {
				netuid,
				uid,
				hotkey: hotkey.clone(),
				coldkey,
				amount: bond,
				destination: if to_reporters { SlashDestination::Reporters } else { SlashDestination::Burned },
				burned,
			});
		}
		if let (Some(commitment), Some(coldkey)) = (ModelCommitments::<T>::get(netuid, hotkey), Owner::<T>::get(hotkey)) {
			BarredModels::<T>::insert(netuid, (&coldkey, commitment.model_hash), now);
			Self::deposit_event(Event::ModelBarred { netuid, coldkey, model_hash: commitment.model_hash });
		}
		Self::vacate_neuron(netuid, uid, hotkey, now);
		Self::deposit_event(Event::MinerDeregistered {
			netuid,
			uid,
			hotkey: hotkey.clone(),
			reason: DeregisterReason::Fraud,
		});
	}

	/// `deregister`: the owner takes `hotkey` off `netuid`; the bond is returned.
	pub(crate) fn do_deregister(coldkey: T::AccountId, netuid: NetUid, hotkey: T::AccountId) -> DispatchResult {
		let params = Self::hyperparams_of(netuid)?;
		let uid = Uids::<T>::get(netuid, &hotkey).ok_or(Error::<T>::HotkeyNotRegistered)?;
		ensure!(Owner::<T>::get(&hotkey).as_ref() == Some(&coldkey), Error::<T>::NotHotkeyOwner);
		let now = Self::current_block();
		ensure!(!Self::has_pending_reports(netuid, uid, &params, now), Error::<T>::FraudReportsPending);
		Self::release_bond(netuid, &hotkey);
		Self::vacate_neuron(netuid, uid, &hotkey, now);
		Self::deposit_event(Event::MinerDeregistered { netuid, uid, hotkey, reason: DeregisterReason::Voluntary });
		Ok(())
	}
}
