//! Protocol limits. A miner may accept less (it says so in `InfoResponse`); no party
//! accepts more.

use crate::v1::InfoResponse;

/// Largest encoded message either side decodes or encodes: 4 MiB (tonic's default).
/// Apply it to every client and server (see [`crate::client`] and [`crate::server`]).
pub const MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;

/// Most documents open at once on one Evaluate stream (so also per `Open`, `Reveal`,
/// `Close` and `Step`).
pub const MAX_DOCUMENTS: u32 = 256;

/// Largest `top_k` an `Open` may request. A full `Step` (256 documents x 256 entries,
/// about 7 bytes per entry) stays near 0.5 MiB, well under [`MAX_MESSAGE_BYTES`].
pub const MAX_TOP_K: u32 = 256;

/// Longest prefix of one document in an `Open`, in tokens.
pub const MAX_PREFIX_TOKENS: usize = 32_768;

/// Most prefix tokens in one `Open`, over all its documents.
pub const MAX_OPEN_TOKENS: usize = 1 << 19;

/// Largest `ModelChunk.data` a miner sends.
pub const MAX_CHUNK_BYTES: usize = 1024 * 1024;

/// Chunk size a miner uses when the request leaves it to the miner.
pub const DEFAULT_CHUNK_BYTES: usize = 256 * 1024;

/// How far above 1 a distribution's total mass (`sum(exp(logprobs)) + tail_mass`) may
/// be, for f32 rounding. Claiming more mass than this is not a distribution. The most
/// a miner can gain from it is log2(1 + 1e-3), about 0.0014 bits per token.
pub const MASS_EPSILON: f64 = 1e-3;

/// The limits one Evaluate stream is checked against.
///
/// `vocab_size` and `max_context` are the model's: 0 means "unknown, not checked".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
	/// Most documents open at once on a stream; at most [`MAX_DOCUMENTS`].
	pub max_documents: u32,
	/// Largest `top_k`; at most [`MAX_TOP_K`].
	pub max_top_k: u32,
	/// Every token id must be below this (0: not checked).
	pub vocab_size: u32,
	/// Most tokens (prefix plus revealed) a document may hold before a prediction
	/// (0: not checked, beyond [`MAX_PREFIX_TOKENS`] for prefixes).
	pub max_context: u32,
}

impl Default for Limits {
	/// The protocol limits, with vocab size and context unchecked.
	fn default() -> Self {
		Self { max_documents: MAX_DOCUMENTS, max_top_k: MAX_TOP_K, vocab_size: 0, max_context: 0 }
	}
}

impl Limits {
	/// The limits a miner announced in `Info` (zero fields fall back to the protocol
	/// limits; values above the protocol limits are capped).
	pub fn from_info(info: &InfoResponse) -> Self {
		let cap = |v: u32, max: u32| if v == 0 { max } else { v.min(max) };
		Self {
			max_documents: cap(info.max_documents, MAX_DOCUMENTS),
			max_top_k: cap(info.max_top_k, MAX_TOP_K),
			vocab_size: info.vocab_size,
			max_context: info.max_context,
		}
	}

	/// These limits with the model's vocab size and context length.
	pub fn with_model(mut self, vocab_size: u32, max_context: u32) -> Self {
		self.vocab_size = vocab_size;
		self.max_context = max_context;
		self
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn from_info_caps_and_defaults() {
		let info = InfoResponse {
			max_documents: 0,
			max_top_k: 10_000,
			vocab_size: 49_152,
			max_context: 2048,
			..Default::default()
		};
		let l = Limits::from_info(&info);
		assert_eq!(
			l,
			Limits { max_documents: MAX_DOCUMENTS, max_top_k: MAX_TOP_K, vocab_size: 49_152, max_context: 2048 }
		);
		let info = InfoResponse { max_documents: 8, max_top_k: 16, ..Default::default() };
		assert_eq!(Limits::from_info(&info).max_documents, 8);
		assert_eq!(Limits::from_info(&info).max_top_k, 16);
	}

	#[test]
	fn worst_case_step_fits_in_a_message() {
		// 5 bytes of packed varint token id (worst case) + 4 bytes float per entry,
		// plus per-distribution overhead well under 64 bytes.
		let worst = MAX_DOCUMENTS as usize * (MAX_TOP_K as usize * 9 + 64);
		assert!(worst < MAX_MESSAGE_BYTES);
	}
}
