//! CPU matrix kernels for the GGML block types of the default model: Q4_1 (every
//! projection of SmolLM2 Q4_1) and Q8_0 (its tied embedding / output layer).
//!
//! candle 0.11 runs Q4_1 with a scalar loop, and its AVX2 kernels are inlined only when
//! the whole build enables AVX2 (`-C target-cpu=native`), which a portable binary does
//! not. These kernels are compiled with `#[target_feature(enable = "avx2,fma")]` and chosen
//! at run time, so one binary is fast on AVX2 machines and correct everywhere. The math
//! is GGML's: activations are quantized per 32-value block to Q8_1 (for Q4_1 weights) or
//! Q8_0 (for Q8_0 weights) exactly as candle does, and each block contributes
//! `d_w * d_x * sum(q_w * q_x)` (+ `m_w * s_x` for Q4_1). Results match candle's within
//! float summation order.
//!
//! At load, each matrix is repacked: block `b` of four consecutive rows is stored
//! together (scales and minimums as vectors, then the four rows' quants), so a kernel reads
//! one stream per four rows and loads their scales with one instruction (llama.cpp's
//! "repacked" layouts follow the same idea). The last `n % 4` rows stay plain.
//!
//! Work is split over output rows with rayon; each weight row is read once per call and
//! dotted with every activation row while it is in cache; pairs of activation rows share
//! each unpacked Q4_1 block. [`matmul_many`] multiplies one
//! input by several matrices in one parallel call (the query, key and value projections;
//! the gate and up projections), quantizing the input once, and writes each result in its
//! final `[m, n]` layout.
//!
//! Every output value is one dot product over the blocks in a fixed order, whatever the
//! number of rows in the call, so results do not depend on how documents are batched.

use candle_core::{
	quantized::{GgmlDType, QTensor},
	Tensor,
};
use half::f16;
use rayon::prelude::*;

const BLOCK: usize = 32;

/// Weights of one block type, repacked for fast access: groups of four rows, then the
/// rows that do not fill a group.
#[derive(Debug, Clone)]
enum Blocks {
	/// Q4_1: `groups[g * nb + b]` is block `b` of rows `4g..4g + 4`; `tail` row after row.
	Q4_1 { groups: Vec<Q41x4>, tail: Vec<Q41> },
	/// Q8_0, laid out the same way.
	Q8_0 { groups: Vec<Q80x4>, tail: Vec<Q80> },
}

/// One Q4_1 block with its f16 scale and minimum widened to f32: 16 bytes of nibbles
/// (element j in the low nibble of byte j, element j + 16 in its high nibble).
#[derive(Debug, Clone, Copy)]
#[repr(C)]
pub struct Q41 {
	d: f32,
	m: f32,
	qs: [u8; 16],
}

/// Block `b` of four consecutive Q4_1 rows.
#[derive(Debug, Clone, Copy)]
#[repr(C)]
pub struct Q41x4 {
	d: [f32; 4],
	m: [f32; 4],
	qs: [[u8; 16]; 4],
}

/// One Q8_0 block: scale widened to f32, 32 signed quants.
#[derive(Debug, Clone, Copy)]
#[repr(C)]
pub struct Q80 {
	d: f32,
	qs: [i8; 32],
}

/// Block `b` of four consecutive Q8_0 rows.
#[derive(Debug, Clone, Copy)]
#[repr(C)]
pub struct Q80x4 {
	d: [f32; 4],
	qs: [[i8; 32]; 4],
}

/// Splits `rows` rows of `nb` blocks each (`block(i)` decodes block `i`, row-major) into
/// groups of four rows (block-interleaved) and the remaining rows, decoding each block
/// once and holding no other copy.
fn repack<T: Copy, G>(rows: usize, nb: usize, block: impl Fn(usize) -> T, group: impl Fn([T; 4]) -> G) -> (Vec<G>, Vec<T>) {
	let grouped = rows / 4 * 4;
	let mut groups = Vec::with_capacity(grouped / 4 * nb);
	for g in 0..grouped / 4 {
		for b in 0..nb {
			groups.push(group([0, 1, 2, 3].map(|t| block((4 * g + t) * nb + b))));
		}
	}
	(groups, (grouped * nb..rows * nb).map(block).collect())
}

fn check_len(data: &[u8], want: usize) -> candle_core::Result<()> {
	if data.len() < want {
		candle_core::bail!("quantized tensor holds {} bytes, its shape needs {want}", data.len());
	}
	Ok(())
}

/// A quantized `[n, k]` weight matrix (`y = x W^T`) for [`QMatrix::forward`].
#[derive(Debug, Clone)]
pub struct QMatrix {
	n: usize,
	k: usize,
	blocks: Blocks,
}

/// One 32-value block of quantized activations (Q8_1 when `s` is used, else Q8_0).
#[derive(Clone, Copy)]
struct ActBlock {
	d: f32,
	/// `d * sum(qs)` (Q8_1 only).
	s: f32,
	qs: [i8; 32],
}

fn f16_at(b: &[u8]) -> f32 {
	f16::from_le_bytes([b[0], b[1]]).to_f32()
}

/// Quantizes one row of activations to 32-value blocks the way candle's `BlockQ8_1` /
/// `BlockQ8_0::from_float` do (scales rounded through f16).
fn quantize_row(x: &[f32], out: &mut [ActBlock]) {
	for (chunk, out) in x.chunks_exact(BLOCK).zip(out) {
		let amax = chunk.iter().fold(0f32, |a, &v| a.max(v.abs()));
		let d = amax / 127.0;
		let id = if d != 0.0 { 1.0 / d } else { 0.0 };
		let mut qs = [0i8; 32];
		let mut sum = 0i32;
		for (q, &v) in qs.iter_mut().zip(chunk) {
			*q = (v * id).round() as i8;
			sum += i32::from(*q);
		}
		let d16 = f16::from_f32(d);
		let s = (f16::from_f32(sum as f32) * d16).to_f32();
		*out = ActBlock { d: d16.to_f32(), s, qs };
	}
}

impl QMatrix {
	/// The matrix of `t` if its type has a kernel here (Q4_1, Q8_0) and its rows are
	/// whole blocks; `None` otherwise (use candle's `QMatMul`).
	pub fn from_qtensor(t: &QTensor) -> candle_core::Result<Option<Self>> {
		let (n, k) = t.shape().dims2()?;
		if k % BLOCK != 0 {
			return Ok(None);
		}
		let nb = k / BLOCK;
		let data = t.data()?;
		let blocks = match t.dtype() {
			GgmlDType::Q4_1 => {
				check_len(&data, n * nb * 20)?;
				let block = |i: usize| {
					let b = &data[i * 20..(i + 1) * 20];
					let mut qs = [0u8; 16];
					qs.copy_from_slice(&b[4..20]);
					Q41 { d: f16_at(&b[0..2]), m: f16_at(&b[2..4]), qs }
				};
				let (groups, tail) =
					repack(n, nb, block, |r: [Q41; 4]| Q41x4 { d: r.map(|b| b.d), m: r.map(|b| b.m), qs: r.map(|b| b.qs) });
				Blocks::Q4_1 { groups, tail }
			}
			GgmlDType::Q8_0 => {
				check_len(&data, n * nb * 34)?;
				let block = |i: usize| {
					let b = &data[i * 34..(i + 1) * 34];
					let mut qs = [0i8; 32];
					for (dst, &src) in qs.iter_mut().zip(&b[2..34]) {
						*dst = src as i8;
					}
					Q80 { d: f16_at(&b[0..2]), qs }
				};
				let (groups, tail) = repack(n, nb, block, |r: [Q80; 4]| Q80x4 { d: r.map(|b| b.d), qs: r.map(|b| b.qs) });
				Blocks::Q8_0 { groups, tail }
			}
			_ => return Ok(None),
		};
		Ok(Some(Self { n, k, blocks }))
	}

	/// Output features.
	pub fn rows(&self) -> usize {
		self.n
	}

	/// `x W^T` for `x` of shape `[..., k]` (f32, CPU): shape `[..., n]`.
	pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
		let dims = x.dims().to_vec();
		let k = *dims.last().unwrap_or(&0);
		if k != self.k {
			candle_core::bail!("QMatrix: input has {k} features, the matrix {}", self.k);
		}
		let m = x.elem_count() / k.max(1);
		let xs = x.flatten_all()?.to_vec1::<f32>()?;
		let out = self.matmul(&xs, m);
		let mut out_dims = dims;
		*out_dims.last_mut().expect("at least one dim") = self.n;
		Tensor::from_vec(out, out_dims, x.device())
	}

	/// Rows in groups of four (the rest are the tail).
	fn grouped_rows(&self) -> usize {
		self.n / 4 * 4
	}

	/// Block `b` of Q4_1 row `j` (any row).
	fn q41(groups: &[Q41x4], tail: &[Q41], grouped: usize, nb: usize, j: usize, b: usize) -> Q41 {
		if j < grouped {
			let g = &groups[(j / 4) * nb + b];
			let t = j % 4;
			Q41 { d: g.d[t], m: g.m[t], qs: g.qs[t] }
		} else {
			tail[(j - grouped) * nb + b]
		}
	}

	/// Block `b` of Q8_0 row `j` (any row).
	fn q80(groups: &[Q80x4], tail: &[Q80], grouped: usize, nb: usize, j: usize, b: usize) -> Q80 {
		if j < grouped {
			let g = &groups[(j / 4) * nb + b];
			Q80 { d: g.d[j % 4], qs: g.qs[j % 4] }
		} else {
			tail[(j - grouped) * nb + b]
		}
	}

	/// Weight row `j` against one quantized activation row: the AVX2 kernel for a tail
	/// row, the portable one for any row.
	fn dot_row(&self, j: usize, nb: usize, a: &[ActBlock], avx2: bool) -> f32 {
		let grouped = self.grouped_rows();
		match &self.blocks {
			Blocks::Q4_1 { groups, tail } => {
				if avx2 && j >= grouped {
					// SAFETY: AVX2 and FMA were detected at run time.
					return unsafe { avx2::dot_q4_1(&tail[(j - grouped) * nb..(j - grouped + 1) * nb], a) };
				}
				dot_q4_1((0..nb).map(|b| Self::q41(groups, tail, grouped, nb, j, b)), a)
			}
			Blocks::Q8_0 { groups, tail } => {
				if avx2 && j >= grouped {
					// SAFETY: AVX2 and FMA were detected at run time.
					return unsafe { avx2::dot_q8_0(&tail[(j - grouped) * nb..(j - grouped + 1) * nb], a) };
				}
				dot_q8_0((0..nb).map(|b| Self::q80(groups, tail, grouped, nb, j, b)), a)
			}
		}
	}

	/// `[m, k] x [n, k]^T -> [m, n]`, row-major slices.
	pub fn matmul(&self, x: &[f32], m: usize) -> Vec<f32> {
		matmul_many(&[self], x, m).pop().unwrap_or_default()
	}

	/// Input features.
	pub fn cols(&self) -> usize {
		self.k
	}

	/// Row `j` dequantized into `out` (`k` values), exactly as candle's `dequantize`
	/// computes it; `None` if there is no row `j` or `out` is not `k` long.
	pub fn dequantize_row(&self, j: usize, out: &mut [f32]) -> Option<()> {
		let nb = self.k / BLOCK;
		if j >= self.n || out.len() != self.k {
			return None;
		}
		let grouped = self.grouped_rows();
		for (b, dst) in out.chunks_exact_mut(BLOCK).enumerate() {
			match &self.blocks {
				Blocks::Q4_1 { groups, tail } => {
					let q = Self::q41(groups, tail, grouped, nb, j, b);
					for (i, &v) in q.qs.iter().enumerate() {
						dst[i] = f32::from(v & 0x0F) * q.d + q.m;
						dst[i + 16] = f32::from(v >> 4) * q.d + q.m;
					}
				}
				Blocks::Q8_0 { groups, tail } => {
					let q = Self::q80(groups, tail, grouped, nb, j, b);
					for (v, &x) in dst.iter_mut().zip(&q.qs) {
						*v = f32::from(x) * q.d;
					}
				}
			}
		}
		Some(())
	}

	/// Rows `first..first + rows` against every activation row, into `out` (the `[m, n]`
	/// result of this matrix). `first` is a multiple of four, so groups are never split.
	fn rows_into(&self, first: usize, rows: usize, acts: &[ActBlock], m: usize, out: &OutRows, avx2: bool) {
		let nb = self.k / BLOCK;
		let grouped = self.grouped_rows();
		// Tiles of activation rows, so a long prefill streams each tile through the cache
		// once per weight chunk instead of the whole activation matrix per weight row (16
		// rows: 11 KB of activations beside the weights in L1).
		const TILE: usize = 16;
		for tile in (0..m).step_by(TILE) {
			let tile = tile..(tile + TILE).min(m);
			let mut j = first;
			while avx2 && j + 4 <= (first + rows).min(grouped) {
				// SAFETY: AVX2 and FMA were detected at run time.
				unsafe { self.group_avx2(j / 4, nb, acts, tile.clone(), out) };
				j += 4;
			}
			for j in j..first + rows {
				for i in tile.clone() {
					out.put(i, j, self.dot_row(j, nb, &acts[i * nb..(i + 1) * nb], avx2));
				}
			}
		}
	}

	/// Group `g` (rows `4g..4g + 4`) against activation rows `tile` (AVX2).
	#[cfg(target_arch = "x86_64")]
	#[target_feature(enable = "avx2,fma")]
	unsafe fn group_avx2(&self, g: usize, nb: usize, acts: &[ActBlock], tile: std::ops::Range<usize>, out: &OutRows) {
		let act = |i: usize| &acts[i * nb..(i + 1) * nb];
		let mut i = tile.start;
		match &self.blocks {
			Blocks::Q4_1 { groups, .. } => {
				let w = &groups[g * nb..(g + 1) * nb];
				// Pairs of activation rows share each unpacked weight block.
				while i + 2 <= tile.end {
					let d = avx2::dot4x2_q4_1(w, [act(i), act(i + 1)]);
					out.put4(i, 4 * g, d[0]);
					out.put4(i + 1, 4 * g, d[1]);
					i += 2;
				}
				for i in i..tile.end {
					out.put4(i, 4 * g, avx2::dot4_q4_1(w, act(i)));
				}
			}
			Blocks::Q8_0 { groups, .. } => {
				let w = &groups[g * nb..(g + 1) * nb];
				for i in tile {
					out.put4(i, 4 * g, avx2::dot4_q8_0(w, act(i)));
				}
			}
		}
	}

	#[cfg(not(target_arch = "x86_64"))]
	unsafe fn group_avx2(&self, _g: usize, _nb: usize, _acts: &[ActBlock], _tile: std::ops::Range<usize>, _out: &OutRows) {
		unreachable!("AVX2 is never detected off x86_64")
	}
}

/// The `[m, n]` output of one matrix, written by many tasks at once: each task owns a
/// range of columns `j`, so no two tasks write the same element.
struct OutRows {
	ptr: *mut f32,
	m: usize,
	n: usize,
}

// SAFETY: tasks write disjoint elements (their own column ranges) of a buffer that
// outlives the parallel call; nothing reads it until the call returns.
unsafe impl Sync for OutRows {}

impl OutRows {
	fn put(&self, i: usize, j: usize, v: f32) {
		assert!(i < self.m && j < self.n, "output index in bounds");
		// SAFETY: in bounds (checked) and owned by the calling task (see `OutRows`).
		unsafe { *self.ptr.add(i * self.n + j) = v };
	}

	fn put4(&self, i: usize, j: usize, v: [f32; 4]) {
		assert!(i < self.m && j + 4 <= self.n, "output index in bounds");
		for (t, v) in v.into_iter().enumerate() {
			// SAFETY: as in `put`.
			unsafe { *self.ptr.add(i * self.n + j + t) = v };
		}
	}
}

/// Quantizes `m` rows of `k` activations (in parallel for long inputs).
fn quantize_rows(x: &[f32], k: usize, m: usize) -> Vec<ActBlock> {
	let nb = k / BLOCK;
	let zero = ActBlock { d: 0.0, s: 0.0, qs: [0; 32] };
	let mut acts = vec![zero; m * nb];
	if nb == 0 {
		return acts;
	}
	if m >= 64 {
		x.par_chunks_exact(k).zip(acts.par_chunks_exact_mut(nb)).for_each(|(row, out)| quantize_row(row, out));
	} else {
		x.chunks_exact(k).zip(acts.chunks_exact_mut(nb)).for_each(|(row, out)| quantize_row(row, out));
	}
	acts
}

/// `x W_i^T` for every matrix `W_i` of `mats` (all with the same `k`), in one parallel
/// call: `x` is `[m, k]` row-major; result `i` is `[m, n_i]` row-major.
///
/// # Panics
/// If the matrices differ in `k` or `x` is not `m * k` long (a caller bug).
pub fn matmul_many(mats: &[&QMatrix], x: &[f32], m: usize) -> Vec<Vec<f32>> {
	let Some(k) = mats.first().map(|q| q.k) else { return Vec::new() };
	assert!(mats.iter().all(|q| q.k == k) && x.len() == m * k, "matmul_many: shapes disagree");
	let acts = quantize_rows(x, k, m);
	let avx2 = has_avx2();
	let mut outs: Vec<Vec<f32>> = mats.iter().map(|q| vec![0f32; m * q.n]).collect();
	let sinks: Vec<OutRows> = outs.iter_mut().zip(mats).map(|(o, q)| OutRows { ptr: o.as_mut_ptr(), m, n: q.n }).collect();
	// A few tasks per thread: small tasks drown in scheduling, one task per thread
	// balances badly.
	let total: usize = mats.iter().map(|q| q.n).sum();
	let rows_per_task = (total / (4 * rayon::current_num_threads())).max(16).next_multiple_of(4);
	let tasks: Vec<(usize, usize, usize)> = mats
		.iter()
		.enumerate()
		.flat_map(|(i, q)| (0..q.n).step_by(rows_per_task).map(move |first| (i, first, rows_per_task.min(q.n - first))))
		.collect();
	tasks.par_iter().for_each(|&(i, first, rows)| mats[i].rows_into(first, rows, &acts, m, &sinks[i], avx2));
	drop(sinks);
	outs
}

/// Whether this CPU has AVX2 and FMA (the SIMD paths of this crate need both).
pub(crate) fn has_avx2() -> bool {
	#[cfg(target_arch = "x86_64")]
	{
		std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
	}
	#[cfg(not(target_arch = "x86_64"))]
	{
		false
	}
}

/// Portable Q4_1 x Q8_1 dot product (the reference the AVX2 kernels are tested against).
fn dot_q4_1(w: impl Iterator<Item = Q41>, a: &[ActBlock]) -> f32 {
	let mut sum = 0f32;
	for (w, a) in w.zip(a) {
		let mut sumi = 0i32;
		for j in 0..16 {
			sumi += i32::from(w.qs[j] & 0x0F) * i32::from(a.qs[j]) + i32::from(w.qs[j] >> 4) * i32::from(a.qs[j + 16]);
		}
		sum += w.d * a.d * sumi as f32 + w.m * a.s;
	}
	sum
}

/// Portable Q8_0 x Q8_0 dot product.
fn dot_q8_0(w: impl Iterator<Item = Q80>, a: &[ActBlock]) -> f32 {
	let mut sum = 0f32;
	for (w, a) in w.zip(a) {
		let sumi: i32 = w.qs.iter().zip(&a.qs).map(|(&q, &x)| i32::from(q) * i32::from(x)).sum();
		sum += w.d * a.d * sumi as f32;
	}
	sum
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
	use super::{ActBlock, Q41x4, Q80x4, Q41, Q80};
	use std::arch::x86_64::*;

	#[target_feature(enable = "avx2,fma")]
	unsafe fn hsum(v: __m256) -> f32 {
		let lo = _mm256_castps256_ps128(v);
		let hi = _mm256_extractf128_ps(v, 1);
		let s = _mm_add_ps(lo, hi);
		let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
		let s = _mm_add_ss(s, _mm_movehdup_ps(s));
		_mm_cvtss_f32(s)
	}

	/// The 32 quants of a Q4_1 block as bytes (low nibbles are elements 0..16).
	#[target_feature(enable = "avx2,fma")]
	unsafe fn unpack_q4(qs: &[u8; 16]) -> __m256i {
		let packed = _mm_loadu_si128(qs.as_ptr() as *const __m128i);
		_mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(packed, 4), packed), _mm256_set1_epi8(0x0F))
	}

	/// `sum(qw * qx)` in eight i32 lanes, as f32 (`qw` unsigned, `qx` signed).
	#[target_feature(enable = "avx2,fma")]
	unsafe fn dot_bytes(qw: __m256i, qx: __m256i) -> __m256 {
		_mm256_cvtepi32_ps(_mm256_madd_epi16(_mm256_maddubs_epi16(qw, qx), _mm256_set1_epi16(1)))
	}

	/// `sum(qw * qx)` of two signed byte vectors, as f32 (`|w| * (x * sign(w))`).
	#[target_feature(enable = "avx2,fma")]
	unsafe fn dot_signed_bytes(qw: __m256i, qx: __m256i) -> __m256 {
		dot_bytes(_mm256_sign_epi8(qw, qw), _mm256_sign_epi8(qx, qw))
	}

	#[target_feature(enable = "avx2,fma")]
	unsafe fn load(qs: &[i8; 32]) -> __m256i {
		_mm256_loadu_si256(qs.as_ptr() as *const __m256i)
	}

	/// One Q4_1 row against one Q8_1 row (GGML's `ggml_vec_dot_q4_1_q8_1`, AVX2 path).
	#[target_feature(enable = "avx2,fma")]
	pub unsafe fn dot_q4_1(w: &[Q41], a: &[ActBlock]) -> f32 {
		let mut acc = _mm256_setzero_ps();
		let mut summs = 0f32;
		for (w, a) in w.iter().zip(a) {
			summs = w.m.mul_add(a.s, summs);
			acc = _mm256_fmadd_ps(_mm256_set1_ps(w.d * a.d), dot_bytes(unpack_q4(&w.qs), load(&a.qs)), acc);
		}
		hsum(acc) + summs
	}

	/// A group of four Q4_1 rows against one Q8_1 row: one stream of weights, the scales
	/// and minimums of the four rows loaded as vectors.
	#[target_feature(enable = "avx2,fma")]
	pub unsafe fn dot4_q4_1(w: &[Q41x4], a: &[ActBlock]) -> [f32; 4] {
		let mut acc = [_mm256_setzero_ps(); 4];
		let mut summs = _mm_setzero_ps();
		for (w, a) in w.iter().zip(a) {
			let qx = load(&a.qs);
			let ad = _mm256_set1_ps(a.d);
			summs = _mm_fmadd_ps(_mm_loadu_ps(w.m.as_ptr()), _mm_set1_ps(a.s), summs);
			for r in 0..4 {
				let scale = _mm256_mul_ps(_mm256_set1_ps(w.d[r]), ad);
				acc[r] = _mm256_fmadd_ps(scale, dot_bytes(unpack_q4(&w.qs[r]), qx), acc[r]);
			}
		}
		let mut m = [0f32; 4];
		_mm_storeu_ps(m.as_mut_ptr(), summs);
		[0, 1, 2, 3].map(|r| hsum(acc[r]) + m[r])
	}

	/// A group of four Q4_1 rows against two Q8_1 rows: each weight block is unpacked once
	/// for both. Every (row, activation) pair goes through the same operations in the same
	/// order as in [`dot4_q4_1`], so the two give the same bits (answers do not depend on
	/// how documents pair up in a batch).
	#[target_feature(enable = "avx2,fma")]
	pub unsafe fn dot4x2_q4_1(w: &[Q41x4], a: [&[ActBlock]; 2]) -> [[f32; 4]; 2] {
		let mut acc = [[_mm256_setzero_ps(); 4]; 2];
		let mut summs = [_mm_setzero_ps(); 2];
		for ((w, a0), a1) in w.iter().zip(a[0]).zip(a[1]) {
			let qx = [load(&a0.qs), load(&a1.qs)];
			let ad = [_mm256_set1_ps(a0.d), _mm256_set1_ps(a1.d)];
			let mins = _mm_loadu_ps(w.m.as_ptr());
			summs[0] = _mm_fmadd_ps(mins, _mm_set1_ps(a0.s), summs[0]);
			summs[1] = _mm_fmadd_ps(mins, _mm_set1_ps(a1.s), summs[1]);
			for r in 0..4 {
				let qw = unpack_q4(&w.qs[r]);
				let wd = _mm256_set1_ps(w.d[r]);
				for i in 0..2 {
					acc[i][r] = _mm256_fmadd_ps(_mm256_mul_ps(wd, ad[i]), dot_bytes(qw, qx[i]), acc[i][r]);
				}
			}
		}
		[0, 1].map(|i| {
			let mut m = [0f32; 4];
			_mm_storeu_ps(m.as_mut_ptr(), summs[i]);
			[0, 1, 2, 3].map(|r| hsum(acc[i][r]) + m[r])
		})
	}

	/// One Q8_0 row against one Q8_0 row (GGML's `ggml_vec_dot_q8_0_q8_0`, AVX2 path).
	#[target_feature(enable = "avx2,fma")]
	pub unsafe fn dot_q8_0(w: &[Q80], a: &[ActBlock]) -> f32 {
		let mut acc = _mm256_setzero_ps();
		for (w, a) in w.iter().zip(a) {
			acc = _mm256_fmadd_ps(_mm256_set1_ps(w.d * a.d), dot_signed_bytes(load(&w.qs), load(&a.qs)), acc);
		}
		hsum(acc)
	}

	/// A group of four Q8_0 rows against one Q8_0 row.
	#[target_feature(enable = "avx2,fma")]
	pub unsafe fn dot4_q8_0(w: &[Q80x4], a: &[ActBlock]) -> [f32; 4] {
		let mut acc = [_mm256_setzero_ps(); 4];
		for (w, a) in w.iter().zip(a) {
			let qx = load(&a.qs);
			let ad = _mm256_set1_ps(a.d);
			for r in 0..4 {
				let scale = _mm256_mul_ps(_mm256_set1_ps(w.d[r]), ad);
				acc[r] = _mm256_fmadd_ps(scale, dot_signed_bytes(load(&w.qs[r]), qx), acc[r]);
			}
		}
		[0, 1, 2, 3].map(|r| hsum(acc[r]))
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use candle_core::{quantized::QMatMul, Device, Module};

	fn sample(n: usize, seed: u32) -> Vec<f32> {
		(0..n).map(|i| (((i as u32).wrapping_mul(2_654_435_761) ^ seed) % 2001) as f32 / 1000.0 - 1.0).collect()
	}

	#[test]
	fn matches_candle_for_q4_1_and_q8_0() {
		for dtype in [GgmlDType::Q4_1, GgmlDType::Q8_0] {
			let (n, k, m) = (70, 128, 5);
			let w = Tensor::from_vec(sample(n * k, 7), (n, k), &Device::Cpu).unwrap();
			let q = QTensor::quantize(&w, dtype).unwrap();
			let x = Tensor::from_vec(sample(m * k, 99), (m, k), &Device::Cpu).unwrap();
			let ours = QMatrix::from_qtensor(&q).unwrap().expect("supported").forward(&x).unwrap();
			let theirs = QMatMul::from_qtensor(q).unwrap().forward(&x).unwrap();
			let (a, b) = (ours.to_vec2::<f32>().unwrap(), theirs.to_vec2::<f32>().unwrap());
			for (ra, rb) in a.iter().zip(&b) {
				for (va, vb) in ra.iter().zip(rb) {
					assert!((va - vb).abs() <= 1e-4 * (1.0 + vb.abs()), "{dtype:?}: {va} vs {vb}");
				}
			}
		}
	}

	#[test]
	fn simd_and_portable_paths_agree() {
		if !has_avx2() {
			return;
		}
		// 7 blocks per row (an odd count), 10 rows: two groups of four and two tail rows.
		let (n, k) = (10, 7 * BLOCK);
		let nb = k / BLOCK;
		let acts = quantize_rows(&sample(2 * k, 3), k, 2);
		let (a0, a1) = (&acts[..nb], &acts[nb..]);
		let w = Tensor::from_vec(sample(n * k, 5), (n, k), &Device::Cpu).unwrap();
		for dtype in [GgmlDType::Q4_1, GgmlDType::Q8_0] {
			let m = QMatrix::from_qtensor(&QTensor::quantize(&w, dtype).unwrap()).unwrap().unwrap();
			assert_eq!(m.grouped_rows(), 8);
			for g in 0..2 {
				// SAFETY: AVX2 detected above.
				let four = unsafe {
					match &m.blocks {
						Blocks::Q4_1 { groups, .. } => {
							let w = &groups[g * nb..(g + 1) * nb];
							let pair = avx2::dot4x2_q4_1(w, [a0, a1]);
							let (first, second) = (avx2::dot4_q4_1(w, a0), avx2::dot4_q4_1(w, a1));
							assert_eq!(pair[0].map(f32::to_bits), first.map(f32::to_bits), "4x2 kernel differs from 4x1");
							assert_eq!(pair[1].map(f32::to_bits), second.map(f32::to_bits), "4x2 kernel differs from 4x1");
							first
						}
						Blocks::Q8_0 { groups, .. } => avx2::dot4_q8_0(&groups[g * nb..(g + 1) * nb], a0),
					}
				};
				for (t, v) in four.into_iter().enumerate() {
					let portable = m.dot_row(4 * g + t, nb, a0, false);
					assert!((v - portable).abs() <= 1e-4 * (1.0 + portable.abs()), "{dtype:?} row {}: {v} vs {portable}", 4 * g + t);
				}
			}
			for j in 8..10 {
				let (fast, portable) = (m.dot_row(j, nb, a0, true), m.dot_row(j, nb, a0, false));
				assert!((fast - portable).abs() <= 1e-4 * (1.0 + portable.abs()), "{dtype:?} tail row {j}: {fast} vs {portable}");
			}
		}
	}

	#[test]
	fn many_matrices_in_one_call_match_each_alone() {
		let k = 3 * BLOCK;
		let x = sample(9 * k, 11);
		let mats: Vec<QMatrix> = [(70, GgmlDType::Q4_1), (13, GgmlDType::Q8_0), (4, GgmlDType::Q4_1)]
			.into_iter()
			.enumerate()
			.map(|(i, (n, dtype))| {
				let w = Tensor::from_vec(sample(n * k, i as u32), (n, k), &Device::Cpu).unwrap();
				QMatrix::from_qtensor(&QTensor::quantize(&w, dtype).unwrap()).unwrap().unwrap()
			})
			.collect();
		let refs: Vec<&QMatrix> = mats.iter().collect();
		let together = matmul_many(&refs, &x, 9);
		for (q, out) in mats.iter().zip(&together) {
			assert_eq!(out, &q.matmul(&x, 9));
			// Batch invariance: each row alone gives the same bits as in the batch.
			for (i, row) in x.chunks_exact(k).enumerate() {
				assert_eq!(&out[i * q.rows()..(i + 1) * q.rows()], q.matmul(row, 1).as_slice(), "row {i}");
			}
		}
	}

	#[test]
	fn rows_dequantize_as_candle_does() {
		let (n, k) = (5, 2 * BLOCK);
		let w = Tensor::from_vec(sample(n * k, 21), (n, k), &Device::Cpu).unwrap();
		for dtype in [GgmlDType::Q4_1, GgmlDType::Q8_0] {
			let q = QTensor::quantize(&w, dtype).unwrap();
			let want = q.dequantize(&Device::Cpu).unwrap().to_vec2::<f32>().unwrap();
			let m = QMatrix::from_qtensor(&q).unwrap().unwrap();
			let mut row = vec![0f32; k];
			for (j, want) in want.iter().enumerate() {
				m.dequantize_row(j, &mut row).expect("row exists");
				assert_eq!(&row, want, "{dtype:?} row {j}");
			}
			assert!(m.dequantize_row(n, &mut row).is_none());
			assert!(m.dequantize_row(0, &mut row[..k - 1]).is_none());
		}
	}

	#[test]
	fn unsupported_types_and_shapes_fall_back() {
		let w = Tensor::from_vec(sample(64 * 32, 1), (64, 32), &Device::Cpu).unwrap();
		assert!(QMatrix::from_qtensor(&QTensor::quantize(&w, GgmlDType::F32).unwrap()).unwrap().is_none());
		let odd = Tensor::from_vec(sample(4 * 40, 1), (4, 40), &Device::Cpu).unwrap();
		assert!(QMatrix::from_qtensor(&QTensor::quantize(&odd, GgmlDType::F32).unwrap()).unwrap().is_none());
	}
}
