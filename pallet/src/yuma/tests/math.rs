//! Ports of subtensor's `pallets/subtensor/src/tests/math.rs` for the helpers the sparse
//! epoch uses (same inputs, expected values and tolerances).

use super::{assert_sparse_mat_compare, assert_vec_compare, fixed, vec_to_fixed, vec_to_sparse_mat_fixed};
use crate::yuma::math::*;
use substrate_fixed::types::I32F32;

/// Deterministic xorshift generator (subtensor's randomized tests use `rand::rng()`).
struct Rng(u64);
impl Rng {
	fn next(&mut self) -> u64 {
		self.0 ^= self.0 << 13;
		self.0 ^= self.0 >> 7;
		self.0 ^= self.0 << 17;
		self.0
	}
	fn below(&mut self, bound: usize) -> usize {
		(self.next() % bound as u64) as usize
	}
	fn shuffle<T>(&mut self, items: &mut [T]) {
		for i in (1..items.len()).rev() {
			let j = self.below(i + 1);
			items.swap(i, j);
		}
	}
}

/// subtensor's call shape: `weighted_median(stake, score, idx, 1 - majority, 0, Σstake)`.
fn median(stake: &[I32F32], score: &[I32F32], majority: I32F32) -> I32F32 {
	weighted_median(stake, score, fixed(1.) - majority)
}

// subtensor: tests/math.rs `test_math_weighted_median` (fixed cases and the randomized
// check against the brute-force median set).
#[test]
fn weighted_median_cases() {
	let zero = fixed(0.);
	let one = fixed(1.);
	let majority = I32F32::from_num(0.51f32);
	assert_eq!(zero, median(&[], &[], majority));

	let mut stake = vec_to_fixed(&[0.51]);
	normalize(&mut stake);
	assert_eq!(one, median(&stake, &vec_to_fixed(&[1.]), majority));
	assert_eq!(one, median(&vec_to_fixed(&[0.49, 0.51]), &vec_to_fixed(&[0.5, 1.]), majority));
	assert_eq!(I32F32::from_num(0.5f32), median(&vec_to_fixed(&[0.51, 0.49]), &vec_to_fixed(&[0.5, 1.]), majority));
	assert_eq!(one, median(&vec_to_fixed(&[0.49, 0., 0.51]), &vec_to_fixed(&[0.5, 0.7, 1.]), majority));
	assert_eq!(
		I32F32::from_num(0.7f32),
		median(&vec_to_fixed(&[0.49, 0.01, 0.5]), &vec_to_fixed(&[0.5, 0.7, 1.]), majority)
	);
	assert_eq!(
		I32F32::from_num(0.7f32),
		median(&vec_to_fixed(&[0.49, 0.51, 0.0]), &vec_to_fixed(&[0.5, 0.7, 1.]), majority)
	);
	assert_eq!(one, median(&vec_to_fixed(&[0.0, 0.49, 0.51]), &vec_to_fixed(&[0.5, 0.7, 1.]), majority));
	assert_eq!(one, median(&vec_to_fixed(&[0.0, 0.49, 0.0, 0.51]), &vec_to_fixed(&[0.5, 0.5, 1., 1.]), majority));
	assert_eq!(
		one,
		median(&vec_to_fixed(&[0.0, 0.49, 0.0, 0.51, 0.0]), &vec_to_fixed(&[0.5, 0.5, 1., 1., 0.5]), majority)
	);
	assert_eq!(
		I32F32::from_num(0.6f32),
		median(&vec_to_fixed(&[0.2, 0.2, 0.2, 0.2, 0.2]), &vec_to_fixed(&[0.8, 0.2, 1., 0.6, 0.4]), majority)
	);
	assert_eq!(
		I32F32::from_num(0.6f32),
		median(
			&vec_to_fixed(&[0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1]),
			&vec_to_fixed(&[0.8, 0.8, 0.2, 0.2, 1.0, 1.0, 0.6, 0.6, 0.4, 0.4]),
			majority
		)
	);
}

#[test]
fn weighted_median_matches_brute_force_median_set() {
	let zero = fixed(0.);
	let one = fixed(1.);
	let n = 100;
	let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
	for _ in 0..20 {
		for majority in vec_to_fixed(&[0., 0.0000001, 0.25, 0.49, 0.49, 0.49, 0.5, 0.51, 0.51, 0.51, 0.9999999, 1.]) {
			for allow_equal in [false, true] {
				let mut stake: Vec<I32F32> = vec![];
				let mut score: Vec<I32F32> = vec![];
				let mut last_score = zero;
				for i in 0..n {
					if allow_equal {
						stake.push(if rng.below(2) == 1 { one } else { zero });
						if rng.below(2) == 1 {
							last_score += one;
						}
						score.push(last_score);
					} else {
						stake.push(one);
						score.push(I32F32::from_num(i));
					}
				}
				normalize(&mut stake);
				let total: I32F32 = stake.iter().sum();
				let minority = (total - majority).max(zero);
				// Brute-force set of acceptable medians, exactly as subtensor's test builds it.
				let mut medians: Vec<I32F32> = vec![];
				let mut median_stake = zero;
				let mut median_set = false;
				let mut stake_sum = zero;
				for i in 0..n {
					stake_sum += stake[i];
					if !median_set && stake_sum >= minority {
						median_stake = stake_sum;
						median_set = true;
					}
					if median_set {
						if median_stake < stake_sum {
							if median_stake == minority && !medians.contains(&score[i]) {
								medians.push(score[i]);
							}
							break;
						}
						if !medians.contains(&score[i]) {
							medians.push(score[i]);
						}
					}
				}
				if medians.is_empty() {
					medians.push(zero);
				}
				assert!(medians.contains(&weighted_median(&stake, &score, minority)));
				for _ in 0..10 {
					let mut order: Vec<usize> = (0..n).collect();
					rng.shuffle(&mut order);
					stake = order.iter().map(|&i| stake[i]).collect();
					score = order.iter().map(|&i| score[i]).collect();
					assert!(medians.contains(&weighted_median(&stake, &score, minority)));
				}
			}
		}
	}
}

// subtensor: tests/math.rs `test_math_weighted_median_col_sparse` (and the same cases of
// `test_math_weighted_median_col`).
#[test]
fn weighted_median_by_column_cases() {
	let half = I32F32::from_num(0.5f32);
	assert_eq!(Vec::<I32F32>::new(), weighted_median_by_column(&[], &[vec![]], 0, half));

	let stake = vec_to_fixed(&[0., 0.]);
	let weights = vec_to_sparse_mat_fixed(&[0., 0., 0., 0.], 2, false);
	assert_eq!(vec_to_fixed(&[0., 0.]), weighted_median_by_column(&stake, &weights, 2, half));

	let stake = vec_to_fixed(&[0., 0.75, 0.25, 0.]);
	let weights = vec_to_sparse_mat_fixed(&[0., 0.1, 0., 0., 0.2, 0.4, 0., 0.3, 0.1, 0., 0.4, 0.5], 4, false);
	assert_eq!(vec_to_fixed(&[0., 0.3, 0.4]), weighted_median_by_column(&stake, &weights, 3, I32F32::from_num(0.24f32)));
	assert_eq!(vec_to_fixed(&[0., 0.2, 0.4]), weighted_median_by_column(&stake, &weights, 3, I32F32::from_num(0.26f32)));
	assert_eq!(vec_to_fixed(&[0., 0.2, 0.1]), weighted_median_by_column(&stake, &weights, 3, I32F32::from_num(0.76f32)));

	let stake = vec_to_fixed(&[0., 0.3, 0.2, 0.5]);
	let weights = vec_to_sparse_mat_fixed(&[0., 0.1, 0., 0., 0.2, 0.4, 0., 0.3, 0.1, 0., 0., 0.5], 4, false);
	assert_eq!(vec_to_fixed(&[0., 0., 0.4]), weighted_median_by_column(&stake, &weights, 3, I32F32::from_num(0.51f32)));
}

// subtensor: tests/math.rs `test_math_col_clip_sparse`.
#[test]
fn col_clip_cases() {
	let thresholds = vec_to_fixed(&[0., 5., 12.]);
	let matrix = vec_to_sparse_mat_fixed(&[0., 2., 3., 4., 5., 6., 7., 8., 9., 10., 11., 12.], 4, false);
	let target = vec_to_sparse_mat_fixed(&[0., 2., 3., 0., 5., 6., 0., 5., 9., 0., 5., 12.], 4, false);
	assert_sparse_mat_compare(&col_clip(&matrix, &thresholds), &target, fixed(0.));
	let matrix = vec_to_sparse_mat_fixed(&[0., 2., 3., 4., 5., 6., 0., 0., 0., 10., 11., 12.], 4, false);
	let target = vec_to_sparse_mat_fixed(&[0., 2., 3., 0., 5., 6., 0., 0., 0., 0., 5., 12.], 4, false);
	assert_sparse_mat_compare(&col_clip(&matrix, &thresholds), &target, fixed(0.));
	let matrix = vec_to_sparse_mat_fixed(&[0.; 12], 4, false);
	assert_sparse_mat_compare(&col_clip(&matrix, &thresholds), &matrix, fixed(0.));
}

const SPARSE_6X7: [f32; 42] = [
	0., 1., 0., 2., 0., 3., 4., 0., 1., 0., 2., 0., 3., 0., 1., 0., 0., 2., 0., 3., 4., 0., 10., 0., 100., 1000., 0.,
	10000., 0., 0., 0., 0., 0., 0., 0., 1., 1., 1., 1., 1., 1., 1.,
];
const SPARSE_6X7_NORMALIZED: [f32; 42] = [
	0., 0.1, 0., 0.2, 0., 0.3, 0.4, 0., 0.166666, 0., 0.333333, 0., 0.5, 0., 0.1, 0., 0., 0.2, 0., 0.3, 0.4, 0.,
	0.0009, 0., 0.009, 0.09, 0., 0.9, 0., 0., 0., 0., 0., 0., 0., 0.142857, 0.142857, 0.142857, 0.142857, 0.142857,
	0.142857, 0.142857,
];

// subtensor: tests/math.rs `test_math_inplace_row_normalize_sparse`.
#[test]
fn row_normalize_cases() {
	let mut matrix = vec_to_sparse_mat_fixed(&SPARSE_6X7, 6, false);
	row_normalize(&mut matrix);
	assert_sparse_mat_compare(&matrix, &vec_to_sparse_mat_fixed(&SPARSE_6X7_NORMALIZED, 6, false), fixed(0.0001));
	let mut matrix = vec_to_sparse_mat_fixed(&[0.; 12], 3, false);
	row_normalize(&mut matrix);
	assert_sparse_mat_compare(&matrix, &vec_to_sparse_mat_fixed(&[0.; 12], 3, false), fixed(0.));
	// Exactness: a row of u16 weights normalizes to floor(w·2³²/Σw), like I32F32 division.
	let mut row = vec![vec![(0u16, I32F32::from_num(16383)), (1, I32F32::from_num(65535))]];
	row_normalize(&mut row);
	assert_eq!(row[0][0].1, I32F32::from_num(16383) / I32F32::from_num(16383 + 65535));
}

// subtensor: tests/math.rs `test_math_inplace_col_normalize_sparse`.
#[test]
fn col_normalize_cases() {
	let mut matrix = vec_to_sparse_mat_fixed(&SPARSE_6X7, 6, true);
	col_normalize(&mut matrix, 6);
	assert_sparse_mat_compare(&matrix, &vec_to_sparse_mat_fixed(&SPARSE_6X7_NORMALIZED, 6, true), fixed(0.0001));
	let mut matrix = vec_to_sparse_mat_fixed(&[0.; 12], 3, false);
	col_normalize(&mut matrix, 6);
	assert_sparse_mat_compare(&matrix, &vec_to_sparse_mat_fixed(&[0.; 12], 3, false), fixed(0.));
	let mut matrix: Vec<SparseRow> = vec![];
	col_normalize(&mut matrix, 0);
	assert!(matrix.is_empty());
}

// subtensor: tests/math.rs `test_math_inplace_col_max_upscale_sparse`.
#[test]
fn col_max_upscale_cases() {
	let mut matrix: Vec<SparseRow> = vec![vec![]];
	col_max_upscale(&mut matrix, 0);
	assert_eq!(matrix, vec![vec![]]);
	let mut matrix = vec![vec![(0u16, fixed(0.))]];
	col_max_upscale(&mut matrix, 1);
	assert_eq!(matrix, vec![vec![(0u16, fixed(0.))]]);
	let mut matrix = vec_to_sparse_mat_fixed(&SPARSE_6X7, 6, true);
	col_max_upscale(&mut matrix, 6);
	let target: [f32; 42] = [
		0., 0.25, 0., 0.5, 0., 0.75, 1., 0., 0.333333, 0., 0.666666, 0., 1., 0., 0.25, 0., 0., 0.5, 0., 0.75, 1., 0.,
		0.001, 0., 0.01, 0.1, 0., 1., 0., 0., 0., 0., 0., 0., 0., 1., 1., 1., 1., 1., 1., 1.,
	];
	assert_sparse_mat_compare(&matrix, &vec_to_sparse_mat_fixed(&target, 6, true), fixed(0.0001));
	let mut matrix = vec_to_sparse_mat_fixed(&[0.; 12], 3, false);
	col_max_upscale(&mut matrix, 6);
	assert_sparse_mat_compare(&matrix, &vec_to_sparse_mat_fixed(&[0.; 12], 3, false), fixed(0.));
}

// subtensor: tests/math.rs `test_math_sparse_matmul`.
#[test]
fn weighted_col_sums_cases() {
	let vector = vec_to_fixed(&[1., 2., 3., 4.]);
	let matrix = vec_to_sparse_mat_fixed(&[1., 2., 3., 4., 5., 6., 7., 8., 9., 10., 11., 12.], 4, false);
	assert_vec_compare(&weighted_col_sums(&matrix, &vector, 3), &vec_to_fixed(&[70., 80., 90.]), fixed(0.));
	let matrix = vec_to_sparse_mat_fixed(&[0., 2., 3., 4., 0., 6., 7., 8., 0., 10., 11., 12.], 4, false);
	assert_vec_compare(&weighted_col_sums(&matrix, &vector, 3), &vec_to_fixed(&[69., 70., 63.]), fixed(0.));
	let matrix = vec_to_sparse_mat_fixed(&[0.; 12], 4, false);
	assert_vec_compare(&weighted_col_sums(&matrix, &vector, 3), &vec_to_fixed(&[0., 0., 0.]), fixed(0.));
}

// subtensor: tests/math.rs `test_math_sparse_matmul_transpose`.
#[test]
fn row_dot_cases() {
	let vector = vec_to_fixed(&[1., 2., 3.]);
	let matrix = vec_to_sparse_mat_fixed(&[1., 2., 3., 4., 5., 6., 7., 8., 9., 10., 11., 12.], 4, false);
	assert_vec_compare(&row_dot(&matrix, &vector), &vec_to_fixed(&[14., 32., 50., 68.]), fixed(0.));
	let matrix = vec_to_sparse_mat_fixed(&[0., 2., 3., 4., 0., 6., 7., 8., 0., 10., 11., 12.], 4, false);
	assert_vec_compare(&row_dot(&matrix, &vector), &vec_to_fixed(&[13., 22., 23., 68.]), fixed(0.));
	let matrix = vec_to_sparse_mat_fixed(&[0.; 12], 4, false);
	assert_vec_compare(&row_dot(&matrix, &vector), &vec_to_fixed(&[0., 0., 0., 0.]), fixed(0.));
}

// subtensor: tests/math.rs `test_math_vecdiv`.
#[test]
fn elementwise_div_cases() {
	assert_eq!(elementwise_div(&[], &[]), Vec::<I32F32>::new());
	assert_eq!(
		elementwise_div(&vec_to_fixed(&[0., 1., 0., 1.]), &vec_to_fixed(&[0., 1., 1., 0.])),
		vec_to_fixed(&[0., 1., 0., 0.])
	);
	assert_eq!(
		elementwise_div(&vec_to_fixed(&[1., 1., 10.]), &vec_to_fixed(&[2., 3., 2.])),
		vec![fixed(1.) / fixed(2.), fixed(1.) / fixed(3.), fixed(5.)]
	);
}

// subtensor: tests/math.rs `test_math_interpolate_sparse`.
#[test]
fn interpolate_cases() {
	let exact = fixed(0.);
	assert_sparse_mat_compare(&interpolate(&[vec![]], &[vec![]], fixed(0.)), &[vec![]], exact);

	let mat1 = vec_to_sparse_mat_fixed(&[0.], 1, false);
	let mat2 = vec_to_sparse_mat_fixed(&[1.], 1, false);
	assert_sparse_mat_compare(&interpolate(&mat1, &mat2, fixed(0.)), &vec_to_sparse_mat_fixed(&[0.], 1, false), exact);
	assert_sparse_mat_compare(&interpolate(&mat1, &mat2, fixed(0.5)), &vec_to_sparse_mat_fixed(&[0.5], 1, false), exact);
	assert_sparse_mat_compare(&interpolate(&mat1, &mat2, fixed(1.)), &vec_to_sparse_mat_fixed(&[1.], 1, false), exact);

	let zeros = vec_to_sparse_mat_fixed(&[0.; 12], 4, false);
	assert_sparse_mat_compare(&interpolate(&zeros, &zeros, fixed(0.)), &zeros, exact);
	assert_sparse_mat_compare(&interpolate(&zeros, &zeros, fixed(1.)), &zeros, exact);

	let mat1 = vec_to_sparse_mat_fixed(&[1., 0., 100., 1000., 10000., 100000.], 3, false);
	let mat2 = vec_to_sparse_mat_fixed(&[10., 100., 1000., 10000., 100000., 0.], 3, false);
	assert_sparse_mat_compare(&interpolate(&mat1, &mat2, fixed(0.)), &mat1, exact);
	let target = vec_to_sparse_mat_fixed(&[9.1, 90., 910., 9100., 91000., 10000.], 3, false);
	assert_sparse_mat_compare(&interpolate(&mat1, &mat2, fixed(0.9)), &target, fixed(0.0001));

	let ones = vec_to_sparse_mat_fixed(&[1.; 12], 4, false);
	assert_sparse_mat_compare(&interpolate(&zeros, &ones, fixed(0.)), &zeros, exact);
	let tiny = fixed(0.000000001);
	assert_sparse_mat_compare(
		&interpolate(&zeros, &ones, tiny),
		&vec_to_sparse_mat_fixed(&[0.000000001; 12], 4, false),
		exact,
	);
	assert_sparse_mat_compare(
		&interpolate(&zeros, &ones, fixed(0.5)),
		&vec_to_sparse_mat_fixed(&[0.5; 12], 4, false),
		exact,
	);
	assert_sparse_mat_compare(
		&interpolate(&zeros, &ones, fixed(0.9999998808)),
		&vec_to_sparse_mat_fixed(&[0.999_999_9; 12], 4, false),
		exact,
	);
	assert_sparse_mat_compare(&interpolate(&zeros, &ones, fixed(1.)), &ones, exact);
}

/// subtensor's `mat_ema_alpha_sparse(new, old, alpha)` with a dense alpha matrix.
fn ema_alpha_matrix(new: &[SparseRow], old: &[SparseRow], alphas: &[Vec<I32F32>]) -> Vec<SparseRow> {
	ema_entrywise_alpha(new, old, |row, column, _, _| alphas[row][column as usize])
}

// subtensor: tests/math.rs `test_math_sparse_mat_ema_alpha`.
#[test]
fn ema_entrywise_alpha_cases() {
	let alphas = vec![vec![fixed(0.1); 3]; 4];
	let eps = fixed(1e-4);
	let old = vec_to_sparse_mat_fixed(&[0.1, 0.2, 3., 0.04, 0.05, 0.06, 0.07, 0.08, 0.09, 0.10, 0.11, 0.12], 4, false);
	let new = vec_to_sparse_mat_fixed(&[1., 2., 3., 4., 5., 6., 7., 8., 9., 10., 11., 12.], 4, false);
	let target =
		vec_to_sparse_mat_fixed(&[0.19, 0.38, 1., 0.43599, 0.545, 0.65399, 0.763, 0.87199, 0.981, 1., 1., 1.], 4, false);
	assert_sparse_mat_compare(&ema_alpha_matrix(&new, &old, &alphas), &target, eps);

	let old = vec_to_sparse_mat_fixed(
		&[0.001, 0.002, 0.003, 0.004, 0.05, 0.006, 0.007, 0.008, 0.009, 0.010, 0.011, 0.012],
		4,
		false,
	);
	let new = vec_to_sparse_mat_fixed(&[0.1, 0.2, 3., 0.04, 0.05, 0.06, 0.07, 0.08, 0.09, 0.10, 0.11, 0.12], 4, false);
	let target = vec_to_sparse_mat_fixed(
		&[0.0109, 0.0218, 0.30270, 0.007599, 0.05, 0.01139, 0.0133, 0.01519, 0.017, 0.01899, 0.02089, 0.0227],
		4,
		false,
	);
	assert_sparse_mat_compare(&ema_alpha_matrix(&new, &old, &alphas), &target, eps);

	let zeros = vec_to_sparse_mat_fixed(&[0.; 12], 4, false);
	let target = vec_to_sparse_mat_fixed(
		&[0.01, 0.02, 0.3, 0.00399, 0.005, 0.00599, 0.007, 0.00799, 0.009, 0.01, 0.011, 0.01199],
		4,
		false,
	);
	assert_sparse_mat_compare(&ema_alpha_matrix(&new, &zeros, &alphas), &target, eps);
	assert_sparse_mat_compare(&ema_alpha_matrix(&zeros, &zeros, &alphas), &zeros, eps);

	// An old bond without a new weight in its row is dropped (sparse semantics).
	let old = vec_to_sparse_mat_fixed(&[1., 0., 0., 0., 0., 0., 0., 0., 0., 0., 0., 0.], 4, false);
	let new = vec_to_sparse_mat_fixed(&[0., 0., 0., 0., 2., 0., 0., 0., 0., 0., 0., 0.], 4, false);
	let target = vec_to_sparse_mat_fixed(&[0.0, 0., 0., 0., 0.2, 0., 0., 0., 0., 0., 0., 0.], 4, false);
	assert_sparse_mat_compare(&ema_alpha_matrix(&new, &old, &alphas), &target, fixed(1e-1));
}

// subtensor: tests/math.rs `test_mat_ema_alpha_sparse_empty`, `_single_element`,
// `_multiple_elements`, `_zero_alpha`, `_one_alpha`, `_mixed_alpha`, `_sparse_matrix`,
// `_varying_alpha`.
#[test]
fn ema_entrywise_alpha_small_cases() {
	assert!(ema_alpha_matrix(&[], &[], &[]).is_empty());

	let one_entry = |v: f64| vec![vec![(0u16, fixed(v))]];
	assert_eq!(ema_alpha_matrix(&one_entry(1.), &one_entry(2.), &[vec![fixed(0.5)]]), one_entry(1.));
	assert_eq!(ema_alpha_matrix(&one_entry(1.), &one_entry(2.), &[vec![fixed(0.1), fixed(0.)]]), one_entry(1.));
	assert_eq!(ema_alpha_matrix(&one_entry(1.), &one_entry(2.), &[vec![fixed(1.), fixed(0.)]]), one_entry(1.));

	let new = vec![vec![(0u16, fixed(1.)), (1, fixed(2.))], vec![(0, fixed(3.)), (1, fixed(4.))]];
	let old = vec![vec![(0u16, fixed(5.)), (1, fixed(6.))], vec![(0, fixed(7.)), (1, fixed(8.))]];
	let ones = vec![vec![(0u16, fixed(1.)), (1, fixed(1.))]; 2];
	assert_sparse_mat_compare(&ema_alpha_matrix(&new, &old, &vec![vec![fixed(0.1), fixed(0.2)]; 2]), &ones, fixed(1e-6));
	assert_sparse_mat_compare(&ema_alpha_matrix(&new, &old, &vec![vec![fixed(0.3), fixed(0.7)]; 2]), &ones, fixed(1e-6));

	let new = vec![vec![(0u16, fixed(1.))], vec![(1, fixed(4.))]];
	let old = vec![vec![(0u16, fixed(5.))], vec![(1, fixed(8.))]];
	assert_eq!(
		ema_alpha_matrix(&new, &old, &vec![vec![fixed(0.5), fixed(0.5)]; 2]),
		vec![vec![(0u16, fixed(1.))], vec![(1, fixed(1.))]]
	);

	let weights = vec![vec![(0u16, fixed(0.1)), (1, fixed(0.2))], vec![(0, fixed(0.3)), (1, fixed(0.4))]];
	let bonds = vec![vec![(0u16, fixed(0.5)), (1, fixed(0.6))], vec![(0, fixed(0.7)), (1, fixed(0.8))]];
	let alphas = vec![vec![fixed(0.9), fixed(0.8)], vec![fixed(0.5), fixed(0.7)]];
	let expected = vec![vec![(0u16, fixed(0.14)), (1, fixed(0.28))], vec![(0, fixed(0.499999)), (1, fixed(0.519999))]];
	assert_sparse_mat_compare(&ema_alpha_matrix(&weights, &bonds, &alphas), &expected, fixed(1e-6));
}

// The fixed-alpha EMA (subtensor's `mat_ema_sparse`, exercised there through the epoch
// tests): the union of both supports, positive values kept.
#[test]
fn ema_fixed_alpha_keeps_union() {
	let new = vec![vec![(1u16, fixed(1.))], vec![]];
	let old = vec![vec![(0u16, fixed(0.5))], vec![(2, fixed(1.))]];
	let result = ema_fixed_alpha(&new, &old, fixed(0.1));
	assert_sparse_mat_compare(
		&result,
		&[vec![(0, fixed(0.45)), (1, fixed(0.1))], vec![(2, fixed(0.9))]],
		fixed(1e-9),
	);
}

// subtensor: tests/epoch.rs `test_liquid_alpha_equal_values_against_itself`: with
// alpha_low == alpha_high == 0.1, liquid alpha gives the fixed-alpha EMA (bma 900_000).
// Compared on the weights' support: the sparse liquid EMA drops bonds without a weight.
#[test]
fn liquid_alpha_with_equal_bounds_is_fixed_alpha() {
	let weights = vec_to_sparse_mat_fixed(&[0., 0.1, 0., 0., 0.2, 0.4, 0., 0.3, 0.1, 0., 0.4, 0.5], 4, false);
	let bonds = vec_to_sparse_mat_fixed(&[0.1, 0.1, 0.5, 0., 0., 0.4, 0.5, 0.1, 0.1, 0., 0.4, 0.2], 4, false);
	let consensus = vec_to_fixed(&[0.3, 0.2, 0.1, 0.4]);
	let alpha = u16_to_proportion(u16::MAX / 10);
	let liquid = ema_entrywise_alpha(&weights, &bonds, |_, j, w, b| {
		liquid_alpha(consensus[j as usize], w, b, alpha, alpha, fixed(1000.))
	});
	let plain = ema_fixed_alpha(&weights, &bonds, crate::yuma::bonds::fixed_alpha(900_000));
	for (liquid_row, plain_row) in liquid.iter().zip(plain.iter()) {
		for (j, value) in liquid_row {
			let other = plain_row.iter().find(|(c, _)| c == j).unwrap().1;
			assert!((*value - other).abs() <= fixed(1e-3), "{value} vs {other}");
		}
	}
}

// subtensor: tests/math.rs `test_vec_max_upscale_to_u16`.
#[test]
fn max_upscale_to_u16_cases() {
	let check = |values: Vec<I32F32>, target: Vec<u16>| assert_eq!(max_upscale_to_u16(&values), target);
	check(vec![], vec![]);
	check(vec_to_fixed(&[0.]), vec![0]);
	check(vec_to_fixed(&[0., 0.]), vec![0, 0]);
	check(vec_to_fixed(&[0., 1.]), vec![0, 65535]);
	check(vec_to_fixed(&[0., 0.000000001]), vec![0, 65535]);
	check(vec_to_fixed(&[0., 0.000016, 1.]), vec![0, 1, 65535]);
	check(vec_to_fixed(&[0.000000001, 0.000000001]), vec![65535, 65535]);
	check(
		vec_to_fixed(&[0.000001, 0.000006, 0.000007, 0.0001, 0.001, 0.01, 0.1, 0.2, 0.3, 0.4]),
		vec![0, 1, 1, 16, 164, 1638, 16384, 32768, 49151, 65535],
	);
	check(vec![I32F32::from_num(16384)], vec![65535]);
	check(vec![I32F32::from_num(32768)], vec![65535]);
	check(vec![I32F32::from_num(32769)], vec![65535]);
	check(vec![I32F32::from_num(65535)], vec![65535]);
	check(vec![I32F32::max_value()], vec![65535]);
	check(vec_to_fixed(&[0., 1., 65535.]), vec![0, 1, 65535]);
	check(vec_to_fixed(&[0., 0.5, 1., 1.5, 2., 32768.]), vec![0, 1, 2, 3, 4, 65535]);
	check(vec_to_fixed(&[0., 0.5, 1., 1.5, 2., 32768., 32769.]), vec![0, 1, 2, 3, 4, 65533, 65535]);
	check(
		vec![
			I32F32::from_num(0),
			I32F32::from_num(1),
			I32F32::from_num(32768),
			I32F32::from_num(32769),
			I32F32::max_value(),
		],
		vec![0, 0, 1, 1, 65535],
	);
}

// subtensor: tests/math.rs `test_math_is_topk` (its `is_topk_nonzero` variant), with the
// tie rule of this pallet: equal stakes go to the lower uid.
#[test]
fn top_k_nonzero_cases() {
	assert_eq!(top_k_nonzero::<u128>(&[], 5), Vec::<bool>::new());
	let ascending: Vec<u128> = (0..10).collect();
	assert_eq!(top_k_nonzero(&ascending, 0), vec![false; 10]);
	assert_eq!(top_k_nonzero(&ascending, 5), [vec![false; 5], vec![true; 5]].concat());
	// 10 slots but uid 0 has no stake: zero stake never gets a permit.
	assert_eq!(top_k_nonzero(&ascending, 10), [vec![false], vec![true; 9]].concat());
	assert_eq!(top_k_nonzero(&ascending, 100), [vec![false], vec![true; 9]].concat());
	let descending: Vec<u128> = (0..10).rev().collect();
	assert_eq!(top_k_nonzero(&descending, 5), [vec![true; 5], vec![false; 5]].concat());
	let interleaved: Vec<u128> = vec![9, 0, 8, 1, 7, 2, 6, 3, 5, 4];
	assert_eq!(
		top_k_nonzero(&interleaved, 5),
		vec![true, false, true, false, true, false, true, false, true, false]
	);
	// Ties: [0,1,2,3,4,5,5,5,5,6] keeps 6 and the four 5s; with k = 3, the lower 5s win.
	let ties: Vec<u128> = vec![0, 1, 2, 3, 4, 5, 5, 5, 5, 6];
	assert_eq!(top_k_nonzero(&ties, 5), [vec![false; 5], vec![true; 5]].concat());
	assert_eq!(
		top_k_nonzero(&ties, 3),
		vec![false, false, false, false, false, true, true, false, false, true]
	);
}

// subtensor: tests/math.rs `test_math_exp_safe` (bounds) and the proportion conversions
// (`test_math_u16_proportion_to_fixed`, `test_fixed_proportion_to_u16`,
// `test_fixed_proportion_to_u16_saturates`).
#[test]
fn conversions_and_exp() {
	let twenty = exp_safe(fixed(20.));
	assert_eq!(exp_safe(fixed(21.)), twenty);
	assert_eq!(exp_safe(I32F32::max_value()), twenty);
	let minus_twenty = exp_safe(fixed(-20.));
	assert_eq!(exp_safe(I32F32::min_value()), minus_twenty);
	assert_eq!(exp_safe(fixed(0.)), fixed(1.));
	assert!((to_f64(exp_safe(fixed(1.))) - std::f64::consts::E).abs() < 1e-6);

	assert_eq!(u16_to_proportion(0), fixed(0.));
	assert_eq!(u16_to_proportion(u16::MAX), fixed(1.));
	assert_eq!(proportion_to_u16(fixed(0.)), 0);
	assert_eq!(proportion_to_u16(I32F32::from_num(u16::MAX)), u16::MAX);
	assert_eq!(proportion_to_u16(fixed(1.)), u16::MAX);
	assert_eq!(proportion_to_u16(fixed(-1.)), 0);
}

use super::to_f64;

// Stake normalisation matches subtensor's I64F64 → I32F32 path on small stakes and stays
// sane on stakes that do not fit I64F64.
#[test]
fn stake_proportions_cases() {
	let s = stake_proportions(&[1, 2, 3, 4, 0]);
	assert_eq!(s[0], I32F32::from_num(1) / I32F32::from_num(10));
	assert_eq!(s[3], I32F32::from_num(4) / I32F32::from_num(10));
	assert_eq!(s[4], fixed(0.));
	assert_eq!(stake_proportions(&[0, 0]), vec![fixed(0.); 2]);
	let huge = stake_proportions(&[u128::MAX, u128::MAX, 0, 1]);
	assert_eq!(huge[0], fixed(0.5));
	assert_eq!(huge[1], fixed(0.5));
	assert_eq!(huge[3], fixed(0.));
}
