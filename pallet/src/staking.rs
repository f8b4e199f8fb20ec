//! Nominator stake pools.
//!
//! Each hotkey has one pool: a value `V` (`TotalHotkeyStake`) and outstanding shares `S`
//! (`TotalHotkeyShares`). A coldkey's position is worth `shares * V / S`. Staking holds
//! the coldkey's tokens in place (`HoldReason::Staked`) and mints shares at the current
//! price; rewards are minted into the pallet's pot and raise `V`, so every nominator's
//! position grows pro rata in O(1). Withdrawals release held principal first and pay the
//! rest from the pot. Rounding always favours the pool (shares minted down, burned up,
//! values rounded down); the dust a staker loses that way raises the other positions'
//! value, so it moves from the staker's hold to the pot ([`Pallet::settle_principal`]):
//! no position's principal is above its value, and the pot holds every reward any
//! nominator can withdraw, in any order (checked by `invariants` and the fuzz tests).

use crate::*;
use alloc::vec::Vec;
use frame_support::{
	ensure,
	pallet_prelude::*,
	traits::{
		fungible::{Inspect, InspectHold, Mutate, MutateHold},
		tokens::{Fortitude, Precision, Preservation, Restriction},
	},
};
use sp_arithmetic::{helpers_128bit::multiply_by_rational_with_rounding, Rounding};

/// `a * b / c` with 256-bit intermediate precision.
fn mul_div(a: u128, b: u128, c: u128, rounding: Rounding) -> Option<u128> {
	multiply_by_rational_with_rounding(a, b, c, rounding)
}

/// Value of `shares` in a pool worth `value` with `total_shares` shares, rounded down.
fn value_of_shares(shares: u128, value: Balance, total_shares: u128) -> Balance {
	if total_shares == 0 {
		return 0;
	}
	mul_div(shares, value, total_shares, Rounding::Down).unwrap_or(0)
}

impl<T: Config> Pallet<T> {
	/// Delegate take of `hotkey`, `u16::MAX` = 100%.
	pub fn delegate_take(hotkey: &T::AccountId) -> u16 {
		DelegateTake::<T>::get(hotkey).unwrap_or_else(T::DefaultDelegateTake::get)
	}

	/// Current value of `coldkey`'s position in `hotkey`'s pool.
	pub fn stake_value(hotkey: &T::AccountId, coldkey: &T::AccountId) -> Balance {
		let position = Stake::<T>::get(hotkey, coldkey).unwrap_or_default();
		Self::shares_to_value(hotkey, position.shares)
	}

	/// Value of `shares` of `hotkey`'s pool, rounded down.
	pub fn shares_to_value(hotkey: &T::AccountId, shares: u128) -> Balance {
		value_of_shares(shares, TotalHotkeyStake::<T>::get(hotkey), TotalHotkeyShares::<T>::get(hotkey))
	}

	/// Shares that `amount` buys in a pool of value `value` with `total_shares` shares.
	/// An empty pool prices shares 1:1; a pool whose value was wiped out prices them so
	/// the old, worthless shares keep (almost) nothing.
	fn shares_for(amount: Balance, value: Balance, total_shares: u128) -> Option<u128> {
		if total_shares == 0 {
			Some(amount)
		} else if value == 0 {
			amount.checked_mul(total_shares)
		} else {
			mul_div(amount, total_shares, value, Rounding::Down)
		}
	}

	pub(crate) fn do_add_stake(coldkey: T::AccountId, hotkey: T::AccountId, amount: Balance) -> DispatchResult {
		ensure!(Owner::<T>::contains_key(&hotkey), Error::<T>::HotkeyNotFound);
		ensure!(amount >= T::MinStake::get().max(1), Error::<T>::StakeTooLow);
		ensure!(
			T::Currency::reducible_balance(&coldkey, Preservation::Preserve, Fortitude::Polite) >= amount,
			Error::<T>::NotEnoughBalanceToStake
		);
		let value = TotalHotkeyStake::<T>::get(&hotkey);
		let total_shares = TotalHotkeyShares::<T>::get(&hotkey);
		let shares = Self::shares_for(amount, value, total_shares).ok_or(Error::<T>::StakeOverflow)?;
		ensure!(shares > 0, Error::<T>::StakeTooLow);
		let new_value = value.checked_add(amount).ok_or(Error::<T>::StakeOverflow)?;
		let new_total_shares = total_shares.checked_add(shares).ok_or(Error::<T>::StakeOverflow)?;

		T::Currency::hold(&HoldReason::Staked.into(), &coldkey, amount)
			.map_err(|_| Error::<T>::NotEnoughBalanceToStake)?;

		let mut position = Stake::<T>::get(&hotkey, &coldkey).unwrap_or_else(|| {
			StakingHotkeys::<T>::insert(&coldkey, &hotkey, ());
			Default::default()
		});
		position.shares = position.shares.saturating_add(shares);
		position.principal = position.principal.saturating_add(amount);
		Self::settle_principal(&coldkey, &mut position, new_value, new_total_shares)?;
		Stake::<T>::insert(&hotkey, &coldkey, position);
		TotalHotkeyStake::<T>::insert(&hotkey, new_value);
		TotalHotkeyShares::<T>::insert(&hotkey, new_total_shares);
		TotalStake::<T>::mutate(|t| *t = t.saturating_add(amount));
		Self::deposit_event(Event::StakeAdded { coldkey, hotkey, amount, shares });
		Ok(())
	}

	pub(crate) fn do_remove_stake(
		coldkey: T::AccountId,
		hotkey: T::AccountId,
		amount: Balance,
	) -> DispatchResult {
		ensure!(amount > 0, Error::<T>::StakeTooLow);
		let mut position = Stake::<T>::get(&hotkey, &coldkey).ok_or(Error::<T>::NotEnoughStakeToWithdraw)?;
		let value = TotalHotkeyStake::<T>::get(&hotkey);
		let total_shares = TotalHotkeyShares::<T>::get(&hotkey);
		let position_value = value_of_shares(position.shares, value, total_shares);
		ensure!(amount <= position_value, Error::<T>::NotEnoughStakeToWithdraw);

		let shares = if amount == position_value {
			position.shares
		} else {
			mul_div(amount, total_shares, value, Rounding::Up)
				.ok_or(Error::<T>::StakeOverflow)?
				.min(position.shares)
		};

		// Principal first, rewards from the pot for the rest.
		let release = amount.min(position.principal);
		let reward = amount - release;
		if reward > 0 {
			ensure!(
				T::Currency::reducible_balance(&Self::pot_account(), Preservation::Preserve, Fortitude::Polite) >=
					reward,
				Error::<T>::RewardPotInsufficient
			);
		}
		let reason: T::RuntimeHoldReason = HoldReason::Staked.into();
		if release > 0 {
			T::Currency::release(&reason, &coldkey, release, Precision::Exact)?;
		}
		if reward > 0 {
			T::Currency::transfer(&Self::pot_account(), &coldkey, reward, Preservation::Preserve)?;
		}
		position.principal -= release;
		position.shares -= shares;
		let (new_value, new_total_shares) = (value.saturating_sub(amount), total_shares.saturating_sub(shares));
		Self::settle_principal(&coldkey, &mut position, new_value, new_total_shares)?;

		if position.shares == 0 {
			Stake::<T>::remove(&hotkey, &coldkey);
			StakingHotkeys::<T>::remove(&coldkey, &hotkey);
		} else {
			Stake::<T>::insert(&hotkey, &coldkey, position);
		}
		TotalHotkeyStake::<T>::insert(&hotkey, new_value);
		TotalHotkeyShares::<T>::insert(&hotkey, new_total_shares);
		TotalStake::<T>::mutate(|t| *t = t.saturating_sub(amount));
		Self::deposit_event(Event::StakeRemoved { coldkey, hotkey, amount, shares });
		Ok(())
	}

	/// Keeps `position`'s principal at most its value in a pool worth `value` with
	/// `total_shares` shares: the excess (rounding dust, or everything held for a closed
	/// position) is the other positions' value now, so it moves from `coldkey`'s hold to
	/// the pot that pays their rewards.
	fn settle_principal(
		coldkey: &T::AccountId,
		position: &mut StakePosition,
		value: Balance,
		total_shares: u128,
	) -> DispatchResult {
		let worth = value_of_shares(position.shares, value, total_shares);
		let excess = position.principal.saturating_sub(worth);
		if excess > 0 {
			T::Currency::transfer_on_hold(
				&HoldReason::Staked.into(),
				coldkey,
				&Self::pot_account(),
				excess,
				Precision::Exact,
				Restriction::Free,
				Fortitude::Force,
			)?;
			position.principal = worth;
		}
		Ok(())
	}

	pub(crate) fn do_set_delegate_take(coldkey: T::AccountId, hotkey: T::AccountId, take: u16) -> DispatchResult {
		let owner = Owner::<T>::get(&hotkey).ok_or(Error::<T>::HotkeyNotFound)?;
		ensure!(owner == coldkey, Error::<T>::NotHotkeyOwner);
		ensure!(take <= T::MaxDelegateTake::get(), Error::<T>::DelegateTakeTooHigh);
		DelegateTake::<T>::insert(&hotkey, take);
		Self::deposit_event(Event::DelegateTakeSet { hotkey, take });
		Ok(())
	}

	/// Pay `amount` of newly minted tokens to `hotkey`'s pool: the delegate take goes to
	/// the owner's position, the rest raises the pool's value for every nominator.
	/// Total issuance rises by exactly `amount`. Returns the take paid to the owner.
	pub fn reward_pool(hotkey: &T::AccountId, amount: Balance) -> Result<Balance, DispatchError> {
		if amount == 0 {
			return Ok(0);
		}
		let owner = Owner::<T>::get(hotkey).ok_or(Error::<T>::HotkeyNotFound)?;
		T::Currency::mint_into(&Self::pot_account(), amount)?;
		let mut value = TotalHotkeyStake::<T>::get(hotkey);
		let mut total_shares = TotalHotkeyShares::<T>::get(hotkey);

		// With no nominators the whole reward belongs to the owner.
		let take = if total_shares == 0 {
			amount
		} else {
			mul_div(amount, Self::delegate_take(hotkey) as u128, u16::MAX as u128, Rounding::Down)
				.unwrap_or(0)
		};
		value = value.checked_add(amount - take).ok_or(Error::<T>::StakeOverflow)?;
		let owner_shares = Self::shares_for(take, value, total_shares).ok_or(Error::<T>::StakeOverflow)?;
		value = value.checked_add(take).ok_or(Error::<T>::StakeOverflow)?;
		total_shares = total_shares.checked_add(owner_shares).ok_or(Error::<T>::StakeOverflow)?;
		if owner_shares > 0 {
			Stake::<T>::mutate(hotkey, &owner, |p| {
				if p.is_none() {
					StakingHotkeys::<T>::insert(&owner, hotkey, ());
				}
				let p = p.get_or_insert_with(Default::default);
				p.shares = p.shares.saturating_add(owner_shares);
			});
		}
		TotalHotkeyStake::<T>::insert(hotkey, value);
		TotalHotkeyShares::<T>::insert(hotkey, total_shares);
		TotalStake::<T>::mutate(|t| *t = t.saturating_add(amount));
		Ok(take)
	}

	/// `coldkey`'s balances and every stake position with its current value (runtime API
	/// `coldkey_info`): one prefix read of `StakingHotkeys`, three reads per position.
	pub fn coldkey_info(coldkey: T::AccountId) -> ColdkeyInfo<T::AccountId> {
		use frame_support::traits::tokens::{Fortitude, Preservation};
		let positions: Vec<StakeInfo<T::AccountId>> = StakingHotkeys::<T>::iter_key_prefix(&coldkey)
			.filter_map(|hotkey| {
				let p = Stake::<T>::get(&hotkey, &coldkey)?;
				let value = Self::shares_to_value(&hotkey, p.shares);
				Some(StakeInfo { hotkey, shares: p.shares, principal: p.principal, value })
			})
			.collect();
		ColdkeyInfo {
			free: T::Currency::balance(&coldkey),
			held: T::Currency::total_balance_on_hold(&coldkey),
			transferable: T::Currency::reducible_balance(&coldkey, Preservation::Preserve, Fortitude::Polite),
			staked: positions.iter().fold(0, |sum: Balance, p| sum.saturating_add(p.value)),
			positions,
			coldkey,
		}
	}

	/// Tokens of `coldkey` held for staking (all pools together).
	pub fn staked_balance_on_hold(coldkey: &T::AccountId) -> Balance {
		T::Currency::balance_on_hold(&HoldReason::Staked.into(), coldkey)
	}
}

