//! Fixed-point building blocks of Yuma consensus.
//!
//! Every value is an [`I32F32`], as in subtensor's `epoch/math.rs`, and every operation
//! reproduces subtensor's rounding (saturating multiply/add, division that yields zero on
//! a zero divisor or on overflow). Matrices are sparse: one [`SparseRow`] per uid, each
//! row sorted by column with unique columns, so that every function costs
//! `O(rows + non-zero entries)` (plus `O(columns)` for column-wise vectors), never
//! `O(n²)`.
//!
//! Nothing here indexes a slice directly or divides without a check: no input can make
//! these functions panic.

use alloc::{vec, vec::Vec};
use core::cmp::Ordering;
use substrate_fixed::{
	transcendental::exp,
	types::{I32F32, I64F64},
};

/// One row of a sparse matrix: `(column uid, value)`, sorted by column, columns unique.
pub type SparseRow = Vec<(u16, I32F32)>;

/// `0` as [`I32F32`].
pub fn zero() -> I32F32 {
	I32F32::from_bits(0)
}

/// `1` as [`I32F32`].
pub fn one() -> I32F32 {
	I32F32::from_num(1)
}

/// `0.5` as [`I32F32`] (built from bits: no float in runtime code).
fn one_half() -> I32F32 {
	I32F32::from_bits(1 << 31)
}

/// `u16::MAX` as [`I32F32`].
fn u16_max() -> I32F32 {
	I32F32::from_num(u16::MAX)
}

/// `a / b`, or `0` when `b` is zero or the quotient overflows (subtensor's `safe_div`).
pub fn safe_div(a: I32F32, b: I32F32) -> I32F32 {
	a.checked_div(b).unwrap_or_else(zero)
}

/// A `u16` read as a proportion of `u16::MAX` (`65535 → 1`).
pub fn u16_to_proportion(value: u16) -> I32F32 {
	safe_div(I32F32::from_num(value), u16_max())
}

/// A proportion written as `u16` parts of `u16::MAX`, rounding down and saturating.
pub fn proportion_to_u16(value: I32F32) -> u16 {
	value.saturating_mul(u16_max()).saturating_to_num::<u16>()
}

/// `value` bounded to `[low, high]` (`low` wins when `low > high`; never panics, unlike
/// `Ord::clamp`).
pub fn clamp_value(value: I32F32, low: I32F32, high: I32F32) -> I32F32 {
	value.min(high).max(low)
}

/// Saturating sum.
pub fn sum(values: &[I32F32]) -> I32F32 {
	values.iter().fold(zero(), |acc, v| acc.saturating_add(*v))
}

/// Divides every value by `total`; leaves the values untouched when `total` is zero.
pub fn normalize_by(values: &mut [I32F32], total: I32F32) {
	if total == zero() {
		return;
	}
	values.iter_mut().for_each(|v| *v = safe_div(*v, total));
}

/// Scales `values` to sum to one (left untouched when they sum to zero).
pub fn normalize(values: &mut [I32F32]) {
	let total = sum(values);
	normalize_by(values, total);
}

/// Each stake as a proportion of the total stake, rounded down to `I32F32`.
///
/// Equals subtensor's `I64F64` normalisation followed by the conversion to `I32F32`
/// (`floor(s · 2³² / Σs)`) for any stake that fits `I64F64`; larger stakes are first
/// shifted right by a common number of bits so the total fits in 96 bits, which only
/// changes results below `2⁻⁷⁸`. All-zero stake gives all zeros.
pub fn stake_proportions(stake: &[u128]) -> Vec<I32F32> {
	let largest = stake.iter().copied().max().unwrap_or(0);
	if largest == 0 {
		return vec![zero(); stake.len()];
	}
	let value_bits = u128::BITS.saturating_sub(largest.leading_zeros());
	let count_bits = usize::BITS.saturating_sub(stake.len().leading_zeros());
	let shift = value_bits.saturating_add(count_bits).saturating_sub(96);
	let scaled: Vec<u128> = stake.iter().map(|s| s.checked_shr(shift).unwrap_or(0)).collect();
	let total = scaled.iter().fold(0u128, |acc, s| acc.saturating_add(*s));
	scaled
		.iter()
		.map(|s| {
			let bits = s.checked_shl(32).and_then(|v| v.checked_div(total)).unwrap_or(0);
			I32F32::from_bits(i64::try_from(bits).unwrap_or(i64::MAX))
		})
		.collect()
}

/// `true` for the `k` largest non-zero values (ties go to the lower index).
pub fn top_k_nonzero<V: Ord + Copy + Default>(values: &[V], k: usize) -> Vec<bool> {
	let mut order: Vec<usize> = (0..values.len()).collect();
	let value_at = |i: &usize| values.get(*i).copied().unwrap_or_default();
	order.sort_by(|a, b| value_at(b).cmp(&value_at(a)).then(a.cmp(b)));
	let mut mask = vec![false; values.len()];
	for index in order.into_iter().take(k) {
		if value_at(&index) > V::default() {
			if let Some(slot) = mask.get_mut(index) {
				*slot = true;
			}
		}
	}
	mask
}

/// Sorted, in-range (`column < columns`), de-duplicated copy of a stored `(uid, value)`
/// row. A uid listed twice keeps its last value, as a dense write-back would.
pub fn canonical_row<V: Copy>(row: &[(u16, V)], columns: usize) -> Vec<(u16, V)> {
	let mut in_range: Vec<(u16, V)> =
		row.iter().copied().filter(|(column, _)| (*column as usize) < columns).collect();
	in_range.sort_by_key(|(column, _)| *column); // stable: repeated uids keep input order
	let mut unique: Vec<(u16, V)> = Vec::with_capacity(in_range.len());
	for (column, value) in in_range {
		match unique.last_mut() {
			Some(last) if last.0 == column => last.1 = value,
			_ => unique.push((column, value)),
		}
	}
	unique
}

/// Divides every row by its sum (rows summing to zero are left untouched).
///
/// The sum is taken in `I64F64`, so it cannot overflow, and each quotient is rounded
/// down exactly as `I32F32` division rounds; values are expected to be non-negative.
pub fn row_normalize(matrix: &mut [SparseRow]) {
	for row in matrix.iter_mut() {
		let total: i128 = row
			.iter()
			.fold(I64F64::from_bits(0), |acc, (_, v)| {
				acc.saturating_add(I64F64::saturating_from_num(*v))
			})
			.to_bits() >> 32; // back to I32F32 scale: exact, the sum has no extra bits
		if total <= 0 {
			continue;
		}
		for (_, value) in row.iter_mut() {
			let quotient = (i128::from(value.to_bits()) << 32).checked_div(total).unwrap_or(0);
			*value = I32F32::from_bits(i64::try_from(quotient).unwrap_or(i64::MAX));
		}
	}
}

/// Sum of each row.
pub fn row_sums(matrix: &[SparseRow]) -> Vec<I32F32> {
	matrix
		.iter()
		.map(|row| row.iter().fold(zero(), |acc, (_, v)| acc.saturating_add(*v)))
		.collect()
}

/// Sum of each of the first `columns` columns.
pub fn col_sums(matrix: &[SparseRow], columns: usize) -> Vec<I32F32> {
	let mut sums = vec![zero(); columns];
	for (column, value) in matrix.iter().flatten() {
		if let Some(total) = sums.get_mut(*column as usize) {
			*total = total.saturating_add(*value);
		}
	}
	sums
}

/// Divides every entry by its column sum (zero-sum columns are left untouched).
pub fn col_normalize(matrix: &mut [SparseRow], columns: usize) {
	let sums = col_sums(matrix, columns);
	for (column, value) in matrix.iter_mut().flatten() {
		let total = sums.get(*column as usize).copied().unwrap_or_else(zero);
		if total != zero() {
			*value = safe_div(*value, total);
		}
	}
}

/// Divides every entry by its column maximum, so each non-zero column peaks at one.
pub fn col_max_upscale(matrix: &mut [SparseRow], columns: usize) {
	let mut maxima = vec![zero(); columns];
	for (column, value) in matrix.iter().flatten() {
		if let Some(max) = maxima.get_mut(*column as usize) {
			if *max < *value {
				*max = *value;
			}
		}
	}
	for (column, value) in matrix.iter_mut().flatten() {
		let max = maxima.get(*column as usize).copied().unwrap_or_else(zero);
		if max != zero() {
			*value = safe_div(*value, max);
		}
	}
}

/// Entries above their column's threshold are lowered to it; an entry whose threshold is
/// not positive is dropped instead (subtensor's `col_clip_sparse`).
pub fn col_clip(matrix: &[SparseRow], thresholds: &[I32F32]) -> Vec<SparseRow> {
	matrix
		.iter()
		.map(|row| {
			row.iter()
				.filter_map(|&(column, value)| {
					let threshold = thresholds.get(column as usize).copied().unwrap_or_else(zero);
					if threshold < value {
						(threshold > zero()).then_some((column, threshold))
					} else {
						Some((column, value))
					}
				})
				.collect()
		})
		.collect()
}

/// `result_j = Σ_i row_weight_i · m_ij` over the first `columns` columns (ranks are the
/// stake-weighted column sums of the weights).
pub fn weighted_col_sums(
	matrix: &[SparseRow],
	row_weight: &[I32F32],
	columns: usize,
) -> Vec<I32F32> {
	let mut result = vec![zero(); columns];
	for (row, weight) in matrix.iter().zip(row_weight.iter()) {
		for (column, value) in row {
			if let Some(total) = result.get_mut(*column as usize) {
				*total = total.saturating_add(weight.saturating_mul(*value));
			}
		}
	}
	result
}

/// `result_i = Σ_j m_ij · vector_j` (one value per row; columns beyond `vector` count as
/// zero).
pub fn row_dot(matrix: &[SparseRow], vector: &[I32F32]) -> Vec<I32F32> {
	matrix
		.iter()
		.map(|row| {
			row.iter().fold(zero(), |acc, (column, value)| {
				let factor = vector.get(*column as usize).copied().unwrap_or_else(zero);
				acc.saturating_add(factor.saturating_mul(*value))
			})
		})
		.collect()
}

/// Row `i` multiplied by `factor_i` (rows without a factor are dropped, as subtensor's
/// `row_hadamard_sparse` does).
pub fn scale_rows(matrix: &[SparseRow], factor: &[I32F32]) -> Vec<SparseRow> {
	matrix
		.iter()
		.zip(factor.iter())
		.map(|(row, f)| row.iter().map(|&(column, value)| (column, value.saturating_mul(*f))).collect())
		.collect()
}

/// Element-wise `x / y` (zero where `y` is zero or missing).
pub fn elementwise_div(x: &[I32F32], y: &[I32F32]) -> Vec<I32F32> {
	x.iter()
		.enumerate()
		.map(|(i, xi)| safe_div(*xi, y.get(i).copied().unwrap_or_else(zero)))
		.collect()
}

/// Element-wise `a · b` over the common length (zero on overflow).
pub fn elementwise_mul(a: &[I32F32], b: &[I32F32]) -> Vec<I32F32> {
	a.iter().zip(b.iter()).map(|(x, y)| x.checked_mul(*y).unwrap_or_else(zero)).collect()
}

/// Walks two sorted sparse rows in column order, calling `visit(column, a, b)` once per
/// column present in either.
fn merge_rows(a: &[(u16, I32F32)], b: &[(u16, I32F32)], mut visit: impl FnMut(u16, Option<I32F32>, Option<I32F32>)) {
	let mut a_iter = a.iter().peekable();
	let mut b_iter = b.iter().peekable();
	loop {
		match (a_iter.peek().copied(), b_iter.peek().copied()) {
			(None, None) => break,
			(Some(&(ca, va)), None) => {
				visit(ca, Some(va), None);
				a_iter.next();
			},
			(None, Some(&(cb, vb))) => {
				visit(cb, None, Some(vb));
				b_iter.next();
			},
			(Some(&(ca, va)), Some(&(cb, vb))) => match ca.cmp(&cb) {
				Ordering::Less => {
					visit(ca, Some(va), None);
					a_iter.next();
				},
				Ordering::Greater => {
					visit(cb, None, Some(vb));
					b_iter.next();
				},
				Ordering::Equal => {
					visit(ca, Some(va), Some(vb));
					a_iter.next();
					b_iter.next();
				},
			},
		}
	}
}

/// `first + ratio · (second − first)` entry by entry, keeping positive results
/// (`ratio = 0` returns `first` and `ratio = 1` returns `second` unchanged, zero entries
/// included, as subtensor's `interpolate_sparse` does).
pub fn interpolate(first: &[SparseRow], second: &[SparseRow], ratio: I32F32) -> Vec<SparseRow> {
	if ratio == zero() {
		return first.to_vec();
	}
	if ratio == one() || first.len() != second.len() {
		return second.to_vec();
	}
	first
		.iter()
		.zip(second.iter())
		.map(|(row_a, row_b)| {
			let mut out = SparseRow::new();
			merge_rows(row_a, row_b, |column, a, b| {
				let a = a.unwrap_or_else(zero);
				let b = b.unwrap_or_else(zero);
				let value = a.saturating_add(ratio.saturating_mul(b.saturating_sub(a)));
				if value > zero() {
					out.push((column, value));
				}
			});
			out
		})
		.collect()
}

/// Exponential moving average with one `alpha` for every entry:
/// `alpha · new + (1 − alpha) · old` over the union of both supports, keeping positive
/// results (subtensor's `mat_ema_sparse`). The result has one row per row of `new`.
pub fn ema_fixed_alpha(new: &[SparseRow], old: &[SparseRow], alpha: I32F32) -> Vec<SparseRow> {
	let keep_old = one().saturating_sub(alpha);
	let empty = SparseRow::new();
	new.iter()
		.enumerate()
		.map(|(i, new_row)| {
			let old_row = old.get(i).unwrap_or(&empty);
			let mut out = SparseRow::new();
			merge_rows(new_row, old_row, |column, fresh, previous| {
				let mut value = zero();
				if let Some(fresh) = fresh {
					value = value.saturating_add(alpha.saturating_mul(fresh));
				}
				if let Some(previous) = previous {
					value = value.saturating_add(keep_old.saturating_mul(previous));
				}
				if value > zero() {
					out.push((column, value));
				}
			});
			out
		})
		.collect()
}

/// Exponential moving average with a per-entry alpha, clamped to `[0, 1]`, over the
/// support of `new` only (subtensor's `mat_ema_alpha_sparse`): for each `(i, j)` in
/// `new`, `a = alpha(i, j, new_ij, old_ij)` and the result is
/// `min(1, (1 − a) · old_ij + max(0, a · new_ij))`, kept when positive. An old entry
/// without a new entry in its row is dropped. Mismatched row counts return `new`.
pub fn ema_entrywise_alpha(
	new: &[SparseRow],
	old: &[SparseRow],
	alpha: impl Fn(usize, u16, I32F32, I32F32) -> I32F32,
) -> Vec<SparseRow> {
	if new.len() != old.len() {
		return new.to_vec();
	}
	new.iter()
		.zip(old.iter())
		.enumerate()
		.map(|(row, (new_row, old_row))| {
			let mut out = SparseRow::new();
			merge_rows(new_row, old_row, |column, fresh, previous| {
				let Some(fresh) = fresh else { return };
				let previous = previous.unwrap_or_else(zero);
				let a = alpha(row, column, fresh, previous);
				let decayed = one().saturating_sub(a).saturating_mul(previous);
				let increment = a.saturating_mul(fresh).max(zero());
				let value = decayed.saturating_add(increment).min(one());
				if value > zero() {
					out.push((column, value));
				}
			});
			out
		})
		.collect()
}

/// Smallest score whose cumulative stake (over scores up to and including it) exceeds
/// `minority`; the largest score when none does; zero for no entries.
///
/// `entries` are `(score, stake)`. This is the value subtensor's pivot search
/// (`weighted_median`) converges to: fixed-point additions are exact, so the order in
/// which stake is summed does not matter.
fn median_of_entries(mut entries: Vec<(I32F32, I32F32)>, minority: I32F32) -> I32F32 {
	entries.sort_by_key(|(score, _)| *score);
	let mut cumulative = zero();
	let mut last = zero();
	let mut iter = entries.iter().peekable();
	while let Some(&(score, stake)) = iter.next() {
		cumulative = cumulative.saturating_add(stake);
		last = score;
		let group_ends = iter.peek().is_none_or(|(next, _)| *next != score);
		if group_ends && cumulative > minority {
			return score;
		}
	}
	last
}

/// Stake-weighted median of `score` with `minority = total − majority`: subtensor's
/// `weighted_median` over the whole vector. Mismatched lengths give zero. (The epoch uses
/// [`weighted_median_by_column`]; this form is kept for subtensor's median tests.)
#[cfg(test)]
pub fn weighted_median(stake: &[I32F32], score: &[I32F32], minority: I32F32) -> I32F32 {
	if stake.len() != score.len() {
		return zero();
	}
	median_of_entries(score.iter().copied().zip(stake.iter().copied()).collect(), minority)
}

/// Stake-weighted median of every column (subtensor's `weighted_median_col_sparse`).
///
/// Only rows with positive stake vote; their stakes are re-normalised and a voter with
/// no entry in a column counts as scoring zero there. `majority` is kappa.
pub fn weighted_median_by_column(
	stake: &[I32F32],
	matrix: &[SparseRow],
	columns: usize,
	majority: I32F32,
) -> Vec<I32F32> {
	let mut voter_stake: Vec<I32F32> = stake.iter().copied().filter(|s| *s > zero()).collect();
	normalize(&mut voter_stake);
	let total = sum(&voter_stake);
	let minority = total.saturating_sub(majority);
	let voters = voter_stake.len();

	let mut per_column: Vec<Vec<(I32F32, I32F32)>> = vec![Vec::new(); columns];
	let empty = SparseRow::new();
	let mut voter = 0usize;
	for (i, s) in stake.iter().enumerate() {
		if *s <= zero() {
			continue;
		}
		let weight = voter_stake.get(voter).copied().unwrap_or_else(zero);
		for (column, value) in matrix.get(i).unwrap_or(&empty) {
			if let Some(entries) = per_column.get_mut(*column as usize) {
				entries.push((*value, weight));
			}
		}
		voter = voter.saturating_add(1);
	}

	per_column
		.into_iter()
		.map(|mut entries| {
			if voters == 0 {
				return zero();
			}
			if entries.len() < voters {
				let scored = entries.iter().fold(zero(), |acc, (_, s)| acc.saturating_add(*s));
				entries.push((zero(), total.saturating_sub(scored)));
			}
			median_of_entries(entries, minority)
		})
		.collect()
}

/// `exp(x)` with `x` bounded to `[−20, 20]` (subtensor's `exp_safe`).
pub fn exp_safe(x: I32F32) -> I32F32 {
	let bounded = clamp_value(x, I32F32::from_num(-20), I32F32::from_num(20));
	match exp::<I32F32, I32F32>(bounded) {
		Ok(value) => value,
		Err(()) if bounded <= zero() => zero(),
		Err(()) => I32F32::max_value(),
	}
}

/// Liquid alpha of one bond (subtensor's `alpha_sigmoid`): a sigmoid of how far the
/// validator's weight runs ahead of consensus (when buying, `weight ≥ bond`) or how far
/// its bond exceeds its weight (when selling), mapped onto `[alpha_low, alpha_high]`.
pub fn liquid_alpha(
	consensus: I32F32,
	weight: I32F32,
	bond: I32F32,
	alpha_low: I32F32,
	alpha_high: I32F32,
	steepness: I32F32,
) -> I32F32 {
	let diff_buy = clamp_value(weight.saturating_sub(consensus), zero(), one());
	let diff_sell = clamp_value(bond.saturating_sub(weight), zero(), one());
	let combined = if weight >= bond { diff_buy } else { diff_sell };
	let slope = steepness.checked_div(I32F32::from_num(-100)).unwrap_or_else(zero);
	let exponent = slope.saturating_mul(combined.saturating_sub(one_half()));
	let sigmoid = safe_div(one(), one().saturating_add(exp_safe(exponent)));
	let alpha = alpha_low.saturating_add(sigmoid.saturating_mul(alpha_high.saturating_sub(alpha_low)));
	clamp_value(alpha, alpha_low, alpha_high)
}

/// Scales non-negative values so the largest becomes `u16::MAX`, rounding to nearest
/// (subtensor's `vec_max_upscale_to_u16`, used for pruning scores).
pub fn max_upscale_to_u16(values: &[I32F32]) -> Vec<u16> {
	let scale = u16_max();
	let Some(max) = values.iter().copied().max() else { return Vec::new() };
	if max == zero() {
		return values.iter().map(|v| v.saturating_mul(scale).saturating_to_num::<u16>()).collect();
	}
	if max > I32F32::from_num(32768) {
		let ratio = safe_div(scale, max);
		return values
			.iter()
			.map(|v| v.saturating_mul(ratio).saturating_round().saturating_to_num::<u16>())
			.collect();
	}
	values
		.iter()
		.map(|v| safe_div(v.saturating_mul(scale), max).saturating_round().saturating_to_num::<u16>())
		.collect()
}
