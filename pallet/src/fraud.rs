//! Verifiable work on-chain: miner bonds, fraud reports, slashing and deregistration.
//!
//! On a subnet with `audits_enabled`, `burned_register` holds `miner_bond` from the
//! registering coldkey (`HoldReason::MinerBond`) and records the amount actually held in
//! `MinerBonds`, so later changes of `miner_bond` never break the accounting.
//!
//! Validators that audit a miner (re-running its committed model on positions of past
//! rounds) and find signed answers that do not come from it call `report_fraud` with
//! [`FraudEvidence`]: the step the miner signed for them, checked by the runtime (see
//! [`crate::evidence`]). Reports are kept per `(netuid, hotkey)`; a report counts while
//! it is younger than `fraud_window` blocks and its validator still holds a permit, and a
//! validator cannot report the same neuron again while its report counts.
//!
//! Reports are weighed by the stake the last epoch recorded for each uid
//! ([`EpochStake`]), against the recorded stake of all permits, never by the stake at
//! the time of the report: stake added in the block of a report (or any time after the
//! epoch) cannot buy the vote. When the reporters' stake exceeds `fraud_threshold` of
//! the permit stake, the neuron is slashed: its bond is burned (total issuance falls by
//! exactly the bond) or, with `slash_to_reporters`, paid to the reporters' coldkeys pro
//! rata by stake (the rounding remainder to the largest stake, so exactly the bond moves);
//! its committed model hash is barred for its owner on the subnet and its uid is vacated.
//!
//! **Escrow.** However a neuron leaves (pruned or replaced by a registration, or
//! `deregister` by its owner), its bond is returned only when no report against it
//! counts. Otherwise the bond moves to [`EscrowedBonds`] (with the model it had
//! committed), see [`crate::escrow`]: its reports stay and keep counting,
//! `report_escrowed` adds more, and crossing the threshold slashes the escrow and bars
//! the model as for a registered neuron. Once every report is older than `fraud_window`,
//! `release_escrow` (anyone may call it) or the per-block sweep returns the bond. Reports
//! are keyed by hotkey, so they never carry over to another neuron taking the uid.

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


/// Whom `report_fraud` accuses.
pub enum Target<AccountId> {
	/// The neuron registered at this uid.
	Uid(Uid),
	/// A hotkey whose bond is in escrow.
	Escrowed(AccountId),
}

/// The accused, resolved.
enum Accused<AccountId> {
	/// A registered neuron.
	Neuron { uid: Uid, hotkey: AccountId },
	/// A neuron that left with its bond in escrow.
	Escrow { hotkey: AccountId, escrow: EscrowedBond<AccountId> },
}

impl<AccountId> Accused<AccountId> {
	fn hotkey(&self) -> &AccountId {
		match self {
			Accused::Neuron { hotkey, .. } | Accused::Escrow { hotkey, .. } => hotkey,
		}
	}

	/// The uid it has (or had).
	fn uid(&self) -> Uid {
		match self {
			Accused::Neuron { uid, .. } => *uid,
			Accused::Escrow { escrow, .. } => escrow.uid,
		}
	}
}

/// Sum of `snapshot` over the permitted uids.
fn permitted_stake(permits: &[bool], snapshot: &[Balance]) -> Balance {
	permits
		.iter()
		.zip(snapshot.iter())
		.filter(|(permit, _)| **permit)
		.fold(0 as Balance, |a, (_, s)| a.saturating_add(*s))
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

	/// Whether `hotkey` on `netuid` has fraud reports that still count (audits enabled only).
	pub fn has_pending_reports(
		netuid: NetUid,
		hotkey: &T::AccountId,
		params: &SubnetHyperparams,
		now: BlockHeight,
	) -> bool {
		if !params.audits_enabled {
			return false;
		}
		let reports = FraudReports::<T>::get(netuid, hotkey);
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
		Self::return_held_bond(netuid, hotkey, coldkey, amount)
	}

	/// Release `amount` of `coldkey`'s bond hold and emit `BondReturned`.
	pub(crate) fn return_held_bond(
		netuid: NetUid,
		hotkey: &T::AccountId,
		coldkey: T::AccountId,
		amount: Balance,
	) -> Balance {
		let released = T::Currency::release(&HoldReason::MinerBond.into(), &coldkey, amount, Precision::BestEffort)
			.unwrap_or(0);
		Self::deposit_event(Event::BondReturned { netuid, hotkey: hotkey.clone(), coldkey, amount: released });
		released
	}

	/// Number of validator permits on `netuid` (bounds every loop of `report_fraud`).
	pub fn validator_permit_count(netuid: NetUid) -> u32 {
		ValidatorPermit::<T>::get(netuid).iter().filter(|p| **p).count() as u32
	}

	/// Most reports one hotkey can have on `netuid` (its `max_allowed_validators`).
	pub fn max_reports(netuid: NetUid) -> u32 {
		Hyperparams::<T>::get(netuid).map(|p| p.max_allowed_validators as u32).unwrap_or(0)
	}

	/// Stake the last epoch recorded for `hotkey`'s uid on `netuid` (zero if unregistered).
	fn snapshot_stake_of(netuid: NetUid, hotkey: &T::AccountId, snapshot: &[Balance]) -> Balance {
		Uids::<T>::get(netuid, hotkey).and_then(|u| snapshot.get(u as usize).copied()).unwrap_or(0)
	}

	/// `reporter`'s uid, if it is registered on `netuid` with a permit; and the permits.
	fn permitted_reporter(netuid: NetUid, reporter: &T::AccountId) -> Result<(Uid, Vec<bool>), DispatchError> {
		let uid = Uids::<T>::get(netuid, reporter).ok_or(Error::<T>::HotkeyNotRegistered)?;
		let permits = ValidatorPermit::<T>::get(netuid);
		ensure!(permits.get(uid as usize).copied().unwrap_or(false), Error::<T>::NoValidatorPermit);
		Ok((uid, permits))
	}

	/// The accused of `target` on `netuid`.
	fn resolve(netuid: NetUid, target: Target<T::AccountId>) -> Result<Accused<T::AccountId>, Error<T>> {
		match target {
			Target::Uid(uid) => {
				let hotkey = Keys::<T>::get(netuid, uid).ok_or(Error::<T>::InvalidUid)?;
				Ok(Accused::Neuron { uid, hotkey })
			},
			Target::Escrowed(hotkey) => {
				let escrow = EscrowedBonds::<T>::get(netuid, &hotkey).ok_or(Error::<T>::NoEscrow)?;
				Ok(Accused::Escrow { hotkey, escrow })
			},
		}
	}

	/// Check `evidence` against the accused's committed model and hotkey, for `reporter`.
	fn check_accused_evidence(
		netuid: NetUid,
		accused: &Accused<T::AccountId>,
		reporter: &T::AccountId,
		evidence: &FraudEvidence,
	) -> Result<AnswerDigest, Error<T>> {
		let committed = match accused {
			Accused::Neuron { hotkey, .. } => ModelCommitments::<T>::get(netuid, hotkey).map(|c| c.model_hash),
			Accused::Escrow { escrow, .. } => escrow.model_hash,
		};
		let reporter_key = T::PublicKeyOf::public_key(reporter);
		let accused_key = T::PublicKeyOf::public_key(accused.hotkey());
		Ok(evidence::check_evidence(evidence, committed, reporter_key, accused_key)?)
	}

	/// `report_fraud` and `report_escrowed`.
	pub(crate) fn do_report_fraud(
		reporter: T::AccountId,
		netuid: NetUid,
		target: Target<T::AccountId>,
		evidence: FraudEvidence,
	) -> DispatchResult {
		let params = Self::hyperparams_of(netuid)?;
		ensure!(params.audits_enabled, Error::<T>::AuditsDisabled);
		let (reporter_uid, permits) = Self::permitted_reporter(netuid, &reporter)?;
		let accused = Self::resolve(netuid, target)?;
		let is_self = match &accused {
			Accused::Neuron { uid, .. } => *uid == reporter_uid,
			Accused::Escrow { hotkey, .. } => *hotkey == reporter,
		};
		ensure!(!is_self, Error::<T>::CannotReportSelf);

		let now = Self::current_block();
		let mut reports = FraudReports::<T>::get(netuid, accused.hotkey());
		reports.retain(|r| Self::report_counts(netuid, r, &params, &permits, now));
		ensure!(!reports.iter().any(|r| r.reporter == reporter), Error::<T>::AlreadyReported);
		ensure!(reports.len() < params.max_allowed_validators as usize, Error::<T>::TooManyFraudReports);
		let disputed = Self::check_accused_evidence(netuid, &accused, &reporter, &evidence)?;
		let evidence_hash = evidence.evidence_hash;
		reports
			.try_push(FraudReport { reporter: reporter.clone(), block: now, evidence_hash, disputed })
			.map_err(|_| Error::<T>::TooManyFraudReports)?;

		let snapshot = EpochStake::<T>::get(netuid);
		let permitted_stake = permitted_stake(&permits, &snapshot);
		let stakes: Vec<Balance> =
			reports.iter().map(|r| Self::snapshot_stake_of(netuid, &r.reporter, &snapshot)).collect();
		let reported_stake = stakes.iter().fold(0 as Balance, |a, s| a.saturating_add(*s));
		Self::deposit_event(Event::FraudReported {
			netuid,
			uid: accused.uid(),
			hotkey: accused.hotkey().clone(),
			reporter,
			evidence_hash,
			reported_stake,
			permitted_stake,
		});

		if exceeds_threshold(reported_stake, permitted_stake, params.fraud_threshold) {
			Self::punish(netuid, accused, &params, &reports, &stakes, now);
		} else {
			FraudReports::<T>::insert(netuid, accused.hotkey(), reports);
		}
		Ok(())
	}

	/// The reports crossed the threshold: slash the accused's bond (or escrow), bar its
	/// model and, for a registered neuron, vacate its uid.
	fn punish(
		netuid: NetUid,
		accused: Accused<T::AccountId>,
		params: &SubnetHyperparams,
		reports: &[FraudReport<T::AccountId>],
		stakes: &[Balance],
		now: BlockHeight,
	) {
		match accused {
			Accused::Neuron { uid, hotkey } => {
				let bond = MinerBonds::<T>::take(netuid, &hotkey).unwrap_or(0);
				let model = ModelCommitments::<T>::get(netuid, &hotkey).map(|c| c.model_hash);
				if let Some(coldkey) = Owner::<T>::get(&hotkey) {
					Self::slash_bond(netuid, uid, &hotkey, &coldkey, bond, params, reports, stakes);
					Self::bar_model(netuid, coldkey, model, now);
				}
				FraudReports::<T>::remove(netuid, &hotkey);
				Self::vacate_neuron(netuid, uid, &hotkey, now);
				Self::deposit_event(Event::MinerDeregistered { netuid, uid, hotkey, reason: DeregisterReason::Fraud });
			},
			Accused::Escrow { hotkey, escrow } => {
				Self::remove_escrow(netuid, &hotkey);
				Self::slash_bond(netuid, escrow.uid, &hotkey, &escrow.coldkey, escrow.amount, params, reports, stakes);
				Self::bar_model(netuid, escrow.coldkey, escrow.model_hash, now);
			},
		}
	}

	/// Bar `model` for `coldkey` on `netuid` (after a slash).
	fn bar_model(netuid: NetUid, coldkey: T::AccountId, model: Option<H256>, now: BlockHeight) {
		if let Some(model_hash) = model {
			BarredModels::<T>::insert(netuid, (&coldkey, model_hash), now);
			Self::deposit_event(Event::ModelBarred { netuid, coldkey, model_hash });
		}
	}

	/// Slash `bond` held from `coldkey` for `hotkey` (formerly) at `uid`: to the reporters
	/// of `reports`, whose stakes are `stakes`, or burned. Emits `MinerSlashed`.
	#[allow(clippy::too_many_arguments)]
	fn slash_bond(
		netuid: NetUid,
		uid: Uid,
		hotkey: &T::AccountId,
		coldkey: &T::AccountId,
		bond: Balance,
		params: &SubnetHyperparams,
		reports: &[FraudReport<T::AccountId>],
		stakes: &[Balance],
	) {
		let to_reporters = params.slash_to_reporters && stakes.iter().any(|s| *s > 0);
		// Shares that cannot be paid (e.g. below a new account's existential deposit)
		// are burned with the rest, so exactly the bond leaves the miner either way.
		let paid = if to_reporters && bond > 0 { Self::pay_reporters(netuid, coldkey, bond, reports, stakes) } else { 0 };
		let to_burn = bond.saturating_sub(paid);
		let burned = if to_burn > 0 {
			T::Currency::burn_held(&HoldReason::MinerBond.into(), coldkey, to_burn, Precision::BestEffort, Fortitude::Force)
				.unwrap_or(0)
		} else {
			0
		};
		Self::deposit_event(Event::MinerSlashed {
			netuid,
			uid,
			hotkey: hotkey.clone(),
			coldkey: coldkey.clone(),
			amount: bond,
			destination: if to_reporters { SlashDestination::Reporters } else { SlashDestination::Burned },
			burned,
		});
	}

	/// Pay `bond` (held from `coldkey`) to the reporters' coldkeys pro rata by `stakes`.
	/// Returns the amount paid.
	fn pay_reporters(
		netuid: NetUid,
		coldkey: &T::AccountId,
		bond: Balance,
		reports: &[FraudReport<T::AccountId>],
		stakes: &[Balance],
	) -> Balance {
		let reason: T::RuntimeHoldReason = HoldReason::MinerBond.into();
		let mut paid: Balance = 0;
		for (report, share) in reports.iter().zip(pro_rata(bond, stakes)) {
			if share == 0 {
				continue;
			}
			let Some(reporter_coldkey) = Owner::<T>::get(&report.reporter) else { continue };
			let moved = T::Currency::transfer_on_hold(
				&reason,
				coldkey,
				&reporter_coldkey,
				share,
				Precision::Exact,
				Restriction::Free,
				Fortitude::Force,
			);
			if moved.is_ok() {
				paid = paid.saturating_add(share);
				Self::deposit_event(Event::SlashRewardPaid {
					netuid,
					reporter: report.reporter.clone(),
					coldkey: reporter_coldkey,
					amount: share,
				});
			}
		}
		paid
	}

	/// `deregister`: the owner takes `hotkey` off `netuid`; the bond is returned, or held
	/// in escrow while reports against it count.
	pub(crate) fn do_deregister(coldkey: T::AccountId, netuid: NetUid, hotkey: T::AccountId) -> DispatchResult {
		let params = Self::hyperparams_of(netuid)?;
		let uid = Uids::<T>::get(netuid, &hotkey).ok_or(Error::<T>::HotkeyNotRegistered)?;
		ensure!(Owner::<T>::get(&hotkey).as_ref() == Some(&coldkey), Error::<T>::NotHotkeyOwner);
		let now = Self::current_block();
		Self::settle_bond(netuid, uid, &hotkey, &params, now);
		Self::vacate_neuron(netuid, uid, &hotkey, now);
		Self::deposit_event(Event::MinerDeregistered { netuid, uid, hotkey, reason: DeregisterReason::Voluntary });
		Ok(())
	}
}
