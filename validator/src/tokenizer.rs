//! The subnet tokenizer, built from a GGUF model's metadata (byte-level BPE vocabulary
//! and merges) with the `tokenizers` crate.
//!
//! Its hash ([`tessera_miner::gguf::tokenizer_hash`]) is the subnet's tokenizer hash, the
//! same one miners commit. Encoding adds no special tokens and never treats text as a
//! control token, so text round-trips exactly: [`SubnetTokenizer::decode`] of
//! [`SubnetTokenizer::encode`] is the input, byte for byte.
//!
//! A vocabulary need not hold a token for every byte: SmolLM2's lacks 21 of them (six C0
//! controls such as U+0004, bytes that never occur in UTF-8, and the lead bytes 0xF1 and
//! 0xF2 of planes 4-11, where nothing is assigned). No token sequence can stand for such
//! a character, so [`SubnetTokenizer::encode`] refuses it rather than silently drop it
//! (as `tokenizers`' BPE would), and [`SubnetTokenizer::sanitize`] replaces it with
//! U+FFFD; every other UTF-8 text round-trips. Each token's bytes come from
//! the vocabulary through the GPT-2 byte-to-unicode table, so the bytes of the revealed
//! tokens add up to the byte length of the revealed text (what bits per byte divides by).

use std::{collections::HashMap, path::Path};

use candle_core::quantized::gguf_file;
use tokenizers::{
	models::bpe::{Vocab, BPE},
	pre_tokenizers::{byte_level::ByteLevel, digits::Digits, sequence::Sequence, PreTokenizerWrapper},
	Tokenizer,
};

/// Errors building or using the tokenizer.
#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
	/// The model file could not be read.
	#[error("{0}")]
	Model(#[from] tessera_miner::ModelError),
	/// The GGUF metadata does not describe a byte-level BPE tokenizer this crate supports.
	#[error("unsupported tokenizer: {0}")]
	Unsupported(String),
	/// The `tokenizers` crate failed.
	#[error("tokenizer: {0}")]
	Tokenizers(String),
	/// Token ids that are not in the vocabulary, or whose bytes are not UTF-8 text.
	#[error("cannot decode: {0}")]
	Decode(String),
	/// Text holding a byte no token stands for (see [`SubnetTokenizer::sanitize`]).
	#[error("byte 0x{byte:02x} at offset {offset} has no token in this vocabulary")]
	Unrepresentable {
		/// The byte.
		byte: u8,
		/// Where it is in the text.
		offset: usize,
	},
}

fn tk_err(e: impl std::fmt::Display) -> TokenizerError {
	TokenizerError::Tokenizers(e.to_string())
}

/// GPT-2's byte-to-unicode table: the printable character standing for each byte in a
/// byte-level BPE vocabulary.
pub fn byte_to_char() -> [char; 256] {
	let mut table = ['\0'; 256];
	let printable = |b: u32| (0x21..=0x7e).contains(&b) || (0xa1..=0xac).contains(&b) || (0xae..=0xff).contains(&b);
	let mut next = 0u32;
	for b in 0..256u32 {
		let c = if printable(b) {
			b
		} else {
			next += 1;
			255 + next
		};
		table[b as usize] = char::from_u32(c).expect("below 0x200 is a valid char");
	}
	table
}

/// The subnet tokenizer.
#[derive(Clone)]
pub struct SubnetTokenizer {
	inner: Tokenizer,
	token_bytes: Vec<Vec<u8>>,
	byte_ok: [bool; 256],
	hash: [u8; 32],
}

impl std::fmt::Debug for SubnetTokenizer {
	fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
		f.debug_struct("SubnetTokenizer")
			.field("vocab_size", &self.vocab_size())
			.field("hash", &hex::encode(self.hash))
			.finish()
	}
}

fn string_array(ct: &gguf_file::Content, key: &str) -> Result<Vec<String>, TokenizerError> {
	let v = ct.metadata.get(key).ok_or_else(|| TokenizerError::Unsupported(format!("GGUF metadata has no `{key}`")))?;
	let items = v.to_vec().map_err(|_| TokenizerError::Unsupported(format!("`{key}` is not an array")))?;
	items
		.iter()
		.map(|i| i.to_string().cloned().map_err(|_| TokenizerError::Unsupported(format!("`{key}` holds a non-string"))))
		.collect()
}

impl SubnetTokenizer {
	/// Builds the tokenizer of the GGUF model at `path` (only its header is read).
	pub fn from_gguf_file(path: &Path) -> Result<Self, TokenizerError> {
		Self::from_gguf(&tessera_miner::gguf::read_header(path)?)
	}

	/// Builds the tokenizer from GGUF metadata: `tokenizer.ggml.model` must be `gpt2`
	/// (byte-level BPE). The pre-tokenizer follows `tokenizer.ggml.pre` (`smollm`: digits
	/// split one by one, then GPT-2's byte-level split, as SmolLM2's `tokenizer.json`;
	/// `gpt2` or absent: the byte-level split alone); never a prefix space.
	pub fn from_gguf(ct: &gguf_file::Content) -> Result<Self, TokenizerError> {
		let hash = tessera_miner::gguf::tokenizer_hash(ct)?;
		let kind = ct.metadata.get("tokenizer.ggml.model").and_then(|v| v.to_string().ok()).cloned().unwrap_or_default();
		if kind != "gpt2" {
			return Err(TokenizerError::Unsupported(format!("tokenizer.ggml.model is `{kind}`, not byte-level BPE (`gpt2`)")));
		}
		let tokens = string_array(ct, "tokenizer.ggml.tokens")?;
		let merges: Vec<(String, String)> = string_array(ct, "tokenizer.ggml.merges")?
			.into_iter()
			.map(|m| {
				m.split_once(' ')
					.map(|(a, b)| (a.to_string(), b.to_string()))
					.ok_or_else(|| TokenizerError::Unsupported(format!("merge `{m}` is not two tokens")))
			})
			.collect::<Result<_, _>>()?;
		let pre = ct.metadata.get("tokenizer.ggml.pre").and_then(|v| v.to_string().ok()).cloned();
		let byte_level = ByteLevel::new(false, true, true);
		let pre_tokenizer: PreTokenizerWrapper = match pre.as_deref() {
			Some("smollm") => Sequence::new(vec![Digits::new(true).into(), byte_level.into()]).into(),
			None | Some("gpt2") | Some("default") => byte_level.into(),
			Some(other) => return Err(TokenizerError::Unsupported(format!("pre-tokenizer `{other}`"))),
		};
		let vocab: Vocab = tokens.iter().enumerate().map(|(i, t)| (t.clone(), i as u32)).collect();
		if vocab.len() != tokens.len() {
			return Err(TokenizerError::Unsupported("the vocabulary lists a token twice".into()));
		}
		let to_char = byte_to_char();
		let mut byte_ok = [false; 256];
		for (b, ok) in byte_ok.iter_mut().enumerate() {
			*ok = vocab.contains_key(&to_char[b].to_string());
		}
		if !byte_ok[b' ' as usize] || !byte_ok[0xef] || !byte_ok[0xbf] || !byte_ok[0xbd] {
			return Err(TokenizerError::Unsupported("the vocabulary lacks the space or U+FFFD bytes".into()));
		}
		let bpe = BPE::builder().vocab_and_merges(vocab, merges).build().map_err(tk_err)?;
		let mut inner = Tokenizer::new(bpe);
		inner.with_pre_tokenizer(Some(pre_tokenizer));
		inner.with_decoder(Some(tokenizers::decoders::byte_level::ByteLevel::default()));
		let from_char: HashMap<char, u8> = to_char.iter().enumerate().map(|(b, &c)| (c, b as u8)).collect();
		let token_bytes = tokens
			.iter()
			.map(|t| {
				t.chars()
					.map(|c| from_char.get(&c).copied())
					.collect::<Option<Vec<u8>>>()
					// A token outside the byte alphabet (a control token) stands for its text.
					.unwrap_or_else(|| t.as_bytes().to_vec())
			})
			.collect();
		Ok(Self { inner, token_bytes, byte_ok, hash })
	}

	/// The tokenizer hash (the subnet's `tokenizer_hash` hyperparameter).
	pub fn hash(&self) -> [u8; 32] {
		self.hash
	}

	/// Number of token ids.
	pub fn vocab_size(&self) -> u32 {
		self.token_bytes.len() as u32
	}

	/// Token ids of `text` (no special tokens added). Fails on a byte no token stands for.
	pub fn encode(&self, text: &str) -> Result<Vec<u32>, TokenizerError> {
		if let Some(offset) = text.bytes().position(|b| !self.byte_ok[b as usize]) {
			return Err(TokenizerError::Unrepresentable { byte: text.as_bytes()[offset], offset });
		}
		Ok(self.inner.encode_fast(text, false).map_err(tk_err)?.get_ids().to_vec())
	}

	/// Whether every byte of `text` has a token (so it round-trips).
	pub fn representable(&self, text: &str) -> bool {
		text.bytes().all(|b| self.byte_ok[b as usize])
	}

	/// `text` with every character that has no token sequence replaced by U+FFFD.
	pub fn sanitize<'a>(&self, text: &'a str) -> std::borrow::Cow<'a, str> {
		if self.representable(text) {
			return text.into();
		}
		let mut buf = [0u8; 4];
		text.chars()
			.map(|c| if self.representable(c.encode_utf8(&mut buf)) { c } else { char::REPLACEMENT_CHARACTER })
			.collect::<String>()
			.into()
	}

	/// The bytes token `id` stands for (empty for an id outside the vocabulary).
	pub fn token_bytes(&self, id: u32) -> &[u8] {
		self.token_bytes.get(id as usize).map_or(&[], |b| b.as_slice())
	}

	/// The text of `ids`: their bytes concatenated, which must be UTF-8.
	pub fn decode(&self, ids: &[u32]) -> Result<String, TokenizerError> {
		let mut out = Vec::new();
		for &id in ids {
			let b = self
				.token_bytes
				.get(id as usize)
				.ok_or_else(|| TokenizerError::Decode(format!("token id {id} is not below {}", self.vocab_size())))?;
			out.extend_from_slice(b);
		}
		String::from_utf8(out).map_err(|e| TokenizerError::Decode(e.to_string()))
	}

	/// The underlying `tokenizers` tokenizer.
	pub fn inner(&self) -> &Tokenizer {
		&self.inner
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn byte_table_is_gpt2s() {
		let t = byte_to_char();
		assert_eq!(t[b'!' as usize], '!');
		assert_eq!(t[b' ' as usize], 'Ġ');
		assert_eq!(t[b'\n' as usize], 'Ċ');
		assert_eq!(t[0], 'Ā');
		let distinct: std::collections::HashSet<char> = t.iter().copied().collect();
		assert_eq!(distinct.len(), 256);
	}
}
