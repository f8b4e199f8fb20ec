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
//! Work is split over output rows with rayon; each weight row is read once per call and
//! dotted with every activation row while it is in cache.

use candle_core::{
	quantized::{GgmlDType, QTensor},
	Tensor,
};
use half::f16;
use rayon::prelude::*;

const BLOCK: usize = 32;

/// Weights of one block type, decoded for fast access.
#[derive(Debug, Clone)]
enum Blocks {
	/// Q4_1 blocks, row after row.
	Q4_1(Vec<Q41>),
	/// Q8_0: per block scale `d`, 32 signed bytes.
	Q8_0 { d: Vec<f32>, qs: Vec<[i8; 32]> },
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
fn quantize_row(x: &[f32], out: &mut Vec<ActBlock>) {
	for chunk in x.chunks_exact(BLOCK) {
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
		out.push(ActBlock { d: d16.to_f32(), s, qs });
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
		let data = t.data()?;
		let blocks = match t.dtype() {
			GgmlDType::Q4_1 => Blocks::Q4_1(
				data.chunks_exact(20)
					.map(|b| {
						let mut qs = [0u8; 16];
						qs.copy_from_slice(&b[4..20]);
						Q41 { d: f16_at(&b[0..2]), m: f16_at(&b[2..4]), qs }
					})
					.collect(),
			),
			GgmlDType::Q8_0 => {
				let (d, qs) = data
					.chunks_exact(34)
					.map(|b| {
						let mut q = [0i8; 32];
						for (dst, &src) in q.iter_mut().zip(&b[2..34]) {
							*dst = src as i8;
						}
						(f16_at(&b[0..2]), q)
					})
					.unzip();
				Blocks::Q8_0 { d, qs }
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

	/// Weight row `j` against one quantized activation row.
	fn dot_row(&self, j: usize, nb: usize, a: &[ActBlock], avx2: bool) -> f32 {
		match &self.blocks {
			Blocks::Q4_1(w) => {
				let w = &w[j * nb..(j + 1) * nb];
				if avx2 {
					// SAFETY: AVX2 and FMA were detected at run time.
					unsafe { avx2::dot_q4_1(w, a) }
				} else {
					dot_q4_1(w, a)
				}
			}
			Blocks::Q8_0 { d, qs } => {
				let (d, qs) = (&d[j * nb..(j + 1) * nb], &qs[j * nb..(j + 1) * nb]);
				if avx2 {
					// SAFETY: AVX2 and FMA were detected at run time.
					unsafe { avx2::dot_q8_0(d, qs, a) }
				} else {
					dot_q8_0(d, qs, a)
				}
			}
		}
	}

	/// `[m, k] x [n, k]^T -> [m, n]`, row-major slices.
	pub fn matmul(&self, x: &[f32], m: usize) -> Vec<f32> {
		let nb = self.k / BLOCK;
		let mut acts = Vec::with_capacity(m * nb);
		for row in x.chunks_exact(self.k) {
			quantize_row(row, &mut acts);
		}
		let avx2 = has_avx2();
		// Transposed result: row j of `out_t` holds column j for every activation row.
		let mut out_t = vec![0f32; self.n * m];
		// A few tasks per thread: small tasks drown in scheduling, one task per thread
		// balances badly.
		let rows_per_task = (self.n / (4 * rayon::current_num_threads())).max(16).next_multiple_of(4);
		out_t.par_chunks_mut(rows_per_task * m).enumerate().for_each(|(chunk, dst)| {
			let first = chunk * rows_per_task;
			let rows = dst.len() / m;
			// Tiles of activation rows, so a long prefill streams each tile through the cache
			// once per weight chunk instead of the whole activation matrix per weight row.
			const TILE: usize = 64;
			for tile in (0..m).step_by(TILE) {
				let tile = tile..(tile + TILE).min(m);
				let mut r = 0;
				// Groups of four Q4_1 rows on the AVX2 path.
				if let (true, Blocks::Q4_1(w)) = (avx2, &self.blocks) {
					while r + 4 <= rows {
						let j = first + r;
						let row = |t: usize| &w[(j + t) * nb..(j + t + 1) * nb];
						let rs = [row(0), row(1), row(2), row(3)];
						for i in tile.clone() {
							let a = &acts[i * nb..(i + 1) * nb];
							// SAFETY: AVX2 and FMA were detected at run time.
							let d = unsafe { avx2::dot4_q4_1(rs, a) };
							for (t, v) in d.into_iter().enumerate() {
								dst[(r + t) * m + i] = v;
							}
						}
						r += 4;
					}
				}
				for r in r..rows {
					let j = first + r;
					for i in tile.clone() {
						let a = &acts[i * nb..(i + 1) * nb];
						dst[r * m + i] = self.dot_row(j, nb, a, avx2);
					}
				}
			}
		});
		if m == 1 {
			return out_t;
		}
		let mut out = vec![0f32; m * self.n];
		for (j, col) in out_t.chunks_exact(m).enumerate() {
			for (i, &v) in col.iter().enumerate() {
				out[i * self.n + j] = v;
			}
		}
		out
	}
}

fn has_avx2() -> bool {
	#[cfg(target_arch = "x86_64")]
	{
		std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
	}
	#[cfg(not(target_arch = "x86_64"))]
	{
		false
	}
}

/// Portable Q4_1 x Q8_1 dot product (the reference the AVX2 version is tested against).
fn dot_q4_1(w: &[Q41], a: &[ActBlock]) -> f32 {
	let mut sum = 0f32;
	for (w, a) in w.iter().zip(a) {
		let mut sumi = 0i32;
		for j in 0..16 {
			sumi += i32::from(w.qs[j] & 0x0F) * i32::from(a.qs[j]) + i32::from(w.qs[j] >> 4) * i32::from(a.qs[j + 16]);
		}
		sum += w.d * a.d * sumi as f32 + w.m * a.s;
	}
	sum
}

/// Portable Q8_0 x Q8_0 dot product.
fn dot_q8_0(d: &[f32], qs: &[[i8; 32]], a: &[ActBlock]) -> f32 {
	let mut sum = 0f32;
	for ((d, q), a) in d.iter().zip(qs).zip(a) {
		let sumi: i32 = q.iter().zip(&a.qs).map(|(&w, &x)| i32::from(w) * i32::from(x)).sum();
		sum += d * a.d * sumi as f32;
	}
	sum
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
	use super::{ActBlock, Q41};
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

	/// Q4_1 x Q8_1 (GGML's `ggml_vec_dot_q4_1_q8_1`, AVX2 path).
	#[target_feature(enable = "avx2,fma")]
	pub unsafe fn dot_q4_1(w: &[Q41], a: &[ActBlock]) -> f32 {
		let mut acc = _mm256_setzero_ps();
		let mut summs = 0f32;
		let low = _mm256_set1_epi8(0x0F);
		let ones = _mm256_set1_epi16(1);
		for (w, a) in w.iter().zip(a) {
			summs += w.m * a.s;
			let packed = _mm_loadu_si128(w.qs.as_ptr() as *const __m128i);
			// Low nibbles are elements 0..16, high nibbles 16..32.
			let bytes = _mm256_set_m128i(_mm_srli_epi16(packed, 4), packed);
			let qw = _mm256_and_si256(bytes, low);
			let qx = _mm256_loadu_si256(a.qs.as_ptr() as *const __m256i);
			let pairs = _mm256_maddubs_epi16(qw, qx);
			let sums = _mm256_cvtepi32_ps(_mm256_madd_epi16(pairs, ones));
			acc = _mm256_fmadd_ps(_mm256_set1_ps(w.d * a.d), sums, acc);
		}
		hsum(acc) + summs
	}

	/// Four Q4_1 rows against one Q8_1 row at once: the activation block is loaded once
	/// and four independent accumulators keep the FMA pipeline busy.
	#[target_feature(enable = "avx2,fma")]
	pub unsafe fn dot4_q4_1(w: [&[Q41]; 4], a: &[ActBlock]) -> [f32; 4] {
		let mut acc = [_mm256_setzero_ps(); 4];
		let mut summs = _mm_setzero_ps();
		let low = _mm256_set1_epi8(0x0F);
		let ones = _mm256_set1_epi16(1);
		let blocks = w[0].iter().zip(w[1]).zip(w[2]).zip(w[3]).zip(a);
		for ((((w0, w1), w2), w3), a) in blocks {
			let qx = _mm256_loadu_si256(a.qs.as_ptr() as *const __m256i);
			let ad = _mm_set1_ps(a.d);
			summs = _mm_fmadd_ps(_mm_set_ps(w3.m, w2.m, w1.m, w0.m), _mm_set1_ps(a.s), summs);
			let mut scales = [0f32; 4];
			_mm_storeu_ps(scales.as_mut_ptr(), _mm_mul_ps(_mm_set_ps(w3.d, w2.d, w1.d, w0.d), ad));
			for (r, w) in [w0, w1, w2, w3].into_iter().enumerate() {
				let packed = _mm_loadu_si128(w.qs.as_ptr() as *const __m128i);
				let qw = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(packed, 4), packed), low);
				let sums = _mm256_cvtepi32_ps(_mm256_madd_epi16(_mm256_maddubs_epi16(qw, qx), ones));
				acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(scales[r]), sums, acc[r]);
			}
		}
		let mut m = [0f32; 4];
		_mm_storeu_ps(m.as_mut_ptr(), summs);
		[hsum(acc[0]) + m[0], hsum(acc[1]) + m[1], hsum(acc[2]) + m[2], hsum(acc[3]) + m[3]]
	}

	/// Q8_0 x Q8_0 (GGML's `ggml_vec_dot_q8_0_q8_0`, AVX2 path).
	#[target_feature(enable = "avx2,fma")]
	pub unsafe fn dot_q8_0(d: &[f32], qs: &[[i8; 32]], a: &[ActBlock]) -> f32 {
		let mut acc = _mm256_setzero_ps();
		let ones = _mm256_set1_epi16(1);
		for ((d, q), a) in d.iter().zip(qs).zip(a) {
			let qw = _mm256_loadu_si256(q.as_ptr() as *const __m256i);
			let qx = _mm256_loadu_si256(a.qs.as_ptr() as *const __m256i);
			// |w| * (x * sign(w)): unsigned x signed pairs, as maddubs needs.
			let pairs = _mm256_maddubs_epi16(_mm256_sign_epi8(qw, qw), _mm256_sign_epi8(qx, qw));
			let sums = _mm256_cvtepi32_ps(_mm256_madd_epi16(pairs, ones));
			acc = _mm256_fmadd_ps(_mm256_set1_ps(d * a.d), sums, acc);
		}
		hsum(acc)
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
		let mut acts = Vec::new();
		quantize_row(&sample(256, 3), &mut acts);
		let w = Tensor::from_vec(sample(256, 5), (1, 256), &Device::Cpu).unwrap();
		for dtype in [GgmlDType::Q4_1, GgmlDType::Q8_0] {
			let m = QMatrix::from_qtensor(&QTensor::quantize(&w, dtype).unwrap()).unwrap().unwrap();
			let (fast, slow) = match &m.blocks {
				// SAFETY: AVX2 detected above.
				Blocks::Q4_1(w) => {
					// SAFETY: AVX2 detected above.
					let four = unsafe { avx2::dot4_q4_1([w, w, w, w], &acts) };
					let slow = dot_q4_1(w, &acts);
					for v in four {
						assert!((v - slow).abs() <= 1e-4 * (1.0 + slow.abs()), "4-row kernel: {v} vs {slow}");
					}
					(unsafe { avx2::dot_q4_1(w, &acts) }, slow)
				}
				Blocks::Q8_0 { d, qs } => (unsafe { avx2::dot_q8_0(d, qs, &acts) }, dot_q8_0(d, qs, &acts)),
			};
			assert!((fast - slow).abs() <= 1e-4 * (1.0 + slow.abs()), "{dtype:?}: {fast} vs {slow}");
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
