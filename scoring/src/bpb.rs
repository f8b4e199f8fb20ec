//! Bits per byte (BPB): a miner's bits over the revealed tokens divided by their UTF-8
//! length. Lower is better; unlike bits per token it does not depend on the tokenizer.

use thiserror::Error;

/// Why a BPB could not be computed.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum BpbError {
	/// `bits` and `bytes` differ in length.
	#[error("{bits} token scores but {bytes} byte lengths")]
	LengthMismatch {
		/// Number of token scores.
		bits: usize,
		/// Number of byte lengths.
		bytes: usize,
	},
	/// The tokens hold no bytes (none revealed, or all empty): BPB is undefined.
	#[error("no bytes revealed")]
	NoBytes,
	/// A token score is NaN, infinite or negative.
	#[error("token {index}: bits {bits} is not a finite non-negative number")]
	BadBits {
		/// Index of the token.
		index: usize,
		/// Its score.
		bits: f64,
	},
}

/// Running totals of bits and bytes over the tokens of a round.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Tally {
	/// Sum of per-token bits.
	pub bits: f64,
	/// Sum of per-token UTF-8 byte lengths.
	pub bytes: u64,
	/// Number of tokens added.
	pub tokens: u64,
}

impl Tally {
	/// Adds one token's bits and byte length. Bits that are not finite and
	/// non-negative are rejected and the tally left unchanged.
	pub fn add(&mut self, bits: f64, bytes: u32) -> Result<(), BpbError> {
		if !bits.is_finite() || bits < 0.0 {
			return Err(BpbError::BadBits { index: self.tokens as usize, bits });
		}
		self.bits += bits;
		self.bytes += u64::from(bytes);
		self.tokens += 1;
		Ok(())
	}

	/// Bits per byte so far, or [`BpbError::NoBytes`].
	pub fn bpb(&self) -> Result<f64, BpbError> {
		if self.bytes == 0 {
			return Err(BpbError::NoBytes);
		}
		Ok(self.bits / self.bytes as f64)
	}
}

/// Bits per byte of per-token `bits` over tokens of `bytes` UTF-8 bytes each.
pub fn bits_per_byte(bits: &[f64], bytes: &[u32]) -> Result<f64, BpbError> {
	if bits.len() != bytes.len() {
		return Err(BpbError::LengthMismatch { bits: bits.len(), bytes: bytes.len() });
	}
	let mut tally = Tally::default();
	for (&b, &n) in bits.iter().zip(bytes) {
		tally.add(b, n)?;
	}
	tally.bpb()
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn bpb() {
		assert_eq!(bits_per_byte(&[2.0, 4.0, 0.0], &[1, 3, 2]), Ok(1.0));
		assert_eq!(bits_per_byte(&[], &[]), Err(BpbError::NoBytes));
		assert_eq!(bits_per_byte(&[3.0], &[0]), Err(BpbError::NoBytes));
		assert_eq!(bits_per_byte(&[1.0], &[1, 2]), Err(BpbError::LengthMismatch { bits: 1, bytes: 2 }));
		assert!(matches!(bits_per_byte(&[1.0, f64::NAN], &[1, 1]), Err(BpbError::BadBits { index: 1, .. })));
		assert!(bits_per_byte(&[-1.0], &[1]).is_err());
	}
}
