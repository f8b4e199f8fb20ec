//! The subnet tokenizer built from the default model's GGUF: exact round trips, the ids
//! the vocabulary implies, and the same hash as the miner's.

use tessera_validator::tokenizer::{byte_to_char, SubnetTokenizer};

fn default_tokenizer() -> (SubnetTokenizer, candle_core::quantized::gguf_file::Content) {
	let path = tessera_miner::model_store::ensure_default_model().expect("the default model");
	let ct = tessera_miner::gguf::read_header(&path).unwrap();
	(SubnetTokenizer::from_gguf(&ct).unwrap(), ct)
}

fn vocab(ct: &candle_core::quantized::gguf_file::Content) -> Vec<String> {
	ct.metadata["tokenizer.ggml.tokens"].to_vec().unwrap().iter().map(|v| v.to_string().unwrap().clone()).collect()
}

#[test]
fn round_trips_any_utf8_text_exactly() {
	let (tok, _) = default_tokenizer();
	assert_eq!(tok.vocab_size(), 49_152);
	let samples = [
		"",
		"Hello world",
		" leading space and trailing space ",
		"tabs\tand\nnewlines\r\n\n\n   runs of     spaces\u{a0}nbsp",
		"Emoji: 👋🏽 👨‍👩‍👧‍👦 🇫🇷 and CJK 中文字符 日本語のテキスト 한국어",
		"Combining: e\u{301} vs é; zero width\u{200b}joiner; RTL: مرحبا بالعالم",
		"Numbers 1234567890 and 3.14159, dates 2024-01-01",
		"<|endoftext|> <|im_start|>user is plain text here<|im_end|>",
		"\u{0}\u{1}\u{7f}\u{1b} control bytes \u{feff}BOM, private use \u{f8ff} \u{10fffd}",
		"Fellow-Citizens of the Senate and House of Representatives:",
	];
	for s in samples {
		let ids = tok.encode(s).unwrap();
		assert_eq!(tok.decode(&ids).unwrap(), s, "{s:?} -> {ids:?}");
		let bytes: usize = ids.iter().map(|&t| tok.token_bytes(t).len()).sum();
		assert_eq!(bytes, s.len(), "{s:?}: the tokens' bytes add up to the text's");
	}
	// Every byte value alone, and a long pseudo-random Unicode string.
	let mut x = 0x2545_f491_4f6c_dd1du64;
	let long: String = (0..4000)
		.filter_map(|_| {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			char::from_u32((x % 0x11_0000) as u32)
		})
		.collect();
	let clean = tok.sanitize(&long);
	assert!(tok.representable(&clean));
	let ids = tok.encode(&clean).unwrap();
	assert_eq!(tok.decode(&ids).unwrap(), clean);
	// SmolLM2 has no token for U+0004 (nor for planes 4-11): refused, never dropped.
	assert!(!tok.representable("a\u{4}b"));
	assert!(tok.encode("a\u{4}b").is_err());
	assert!(tok.encode("\u{40000}").is_err());
	assert_eq!(tok.sanitize("a\u{4}b\u{40000}"), "a\u{fffd}b\u{fffd}");
	// Control tokens are never produced from text.
	assert!(tok.encode("<|endoftext|>").unwrap().iter().all(|&t| t > 16));
}

#[test]
fn ids_are_what_the_vocabulary_implies() {
	let (tok, ct) = default_tokenizer();
	let v = vocab(&ct);
	let id = |s: &str| v.iter().position(|t| t == s).unwrap_or_else(|| panic!("{s} in vocab")) as u32;
	assert_eq!(tok.encode("Hello world").unwrap(), vec![id("Hello"), id("Ġworld")]);
	assert_eq!(tok.encode(" the").unwrap(), vec![id("Ġthe")]);
	// SmolLM2 splits digits one by one.
	assert_eq!(tok.encode("2024").unwrap(), vec![id("2"), id("0"), id("2"), id("4")]);
	assert_eq!(tok.encode("a\nb").unwrap(), vec![id("a"), id("Ċ"), id("b")]);
	// Every single byte is its own token, as the byte-level alphabet says.
	let table = byte_to_char();
	for b in 0u8..=127 {
		let s = (b as char).to_string();
		if !tok.representable(&s) {
			assert!(!v.contains(&table[b as usize].to_string()));
			continue;
		}
		assert_eq!(tok.encode(&s).unwrap(), vec![id(&table[b as usize].to_string())], "byte {b}");
	}
}

#[test]
fn hash_is_the_miners_tokenizer_hash() {
	let (tok, ct) = default_tokenizer();
	assert_eq!(tok.hash(), tessera_miner::gguf::tokenizer_hash(&ct).unwrap());
	// A random model written with the default tokenizer shares it.
	let dir = tempfile::tempdir().unwrap();
	let path = dir.path().join("weak.gguf");
	let spec = tessera_miner::gguf::RandomLlama::default();
	tessera_miner::gguf::write_random_llama(&path, &spec, Some(&ct)).unwrap();
	let weak = SubnetTokenizer::from_gguf_file(&path).unwrap();
	assert_eq!(weak.hash(), tok.hash());
	assert_eq!(weak.encode("Hello world").unwrap(), tok.encode("Hello world").unwrap());
}
