//! The evaluation corpus: loading `.txt`/`.jsonl`, drawing windows from distinct
//! documents, retiring what was revealed until the corpus is spent.

mod common;

use rand::{rngs::StdRng, SeedableRng};
use tessera_validator::{
	corpus::{draw_windows, remaining, Corpus, CorpusError, Retired, WindowSpec},
	store::Store,
};

#[test]
fn loads_txt_and_jsonl_recursively() {
	let dir = tempfile::tempdir().unwrap();
	let d = dir.path();
	std::fs::write(d.join("a.txt"), "First document.").unwrap();
	std::fs::create_dir_all(d.join("sub")).unwrap();
	std::fs::write(d.join("sub/b.txt"), "Second document.").unwrap();
	std::fs::write(d.join("sub/dup.txt"), "First document.").unwrap();
	std::fs::write(d.join("empty.txt"), "  \n").unwrap();
	std::fs::write(d.join("ignored.md"), "not evaluation text").unwrap();
	std::fs::write(d.join("c.jsonl"), "{\"text\": \"Third.\", \"year\": 1}\n\n\"Fourth.\"\n").unwrap();
	let c = Corpus::load(d).unwrap();
	let texts: Vec<&str> = c.docs.iter().map(|d| d.text.as_str()).collect();
	assert_eq!(texts, ["First document.", "Third.", "Fourth.", "Second document."]);
	assert_eq!(c.docs[1].name, "c.jsonl:1");
	std::fs::write(d.join("bad.jsonl"), "{\"title\": 1}\n").unwrap();
	assert!(matches!(Corpus::load(d), Err(CorpusError::BadLine { line: 1, .. })));
}

#[test]
fn windows_are_fresh_distinct_and_exact_until_the_corpus_is_spent() {
	let (tok, _) = common::tokenizer();
	let mut corpus = common::corpus(6, 2500, 9);
	// A character the vocabulary cannot represent is replaced, not dropped.
	corpus.docs[0].text.insert(10, '\u{4}');
	assert_eq!(corpus.sanitize(&tok), 1);
	assert!(corpus.docs.iter().all(|d| tok.representable(&d.text)));
	let spec = WindowSpec { docs: 4, prefix: 8, scored: 24 };
	let dir = tempfile::tempdir().unwrap();
	let store = Store::open(&dir.path().join("db.redb")).unwrap();
	let mut retired = Retired::new();
	let mut rng = StdRng::from_entropy();
	let mut rounds = 0;
	let mut all = Vec::new();
	let before = remaining(&corpus, &retired, &spec);
	assert!(before.rounds > 2 && before.docs == 6);
	loop {
		let windows = draw_windows(&corpus, &retired, &tok, &spec, &mut rng).unwrap();
		if windows.is_empty() {
			break;
		}
		rounds += 1;
		assert!(rounds < 100);
		let mut docs: Vec<usize> = windows.iter().map(|w| w.doc).collect();
		docs.sort_unstable();
		docs.dedup();
		assert_eq!(docs.len(), windows.len(), "no document twice in a round");
		for w in &windows {
			assert_eq!((w.tokens.len(), w.prefix, w.scored().len()), (32, 8, 24));
			let text = &corpus.docs[w.doc].text[w.start as usize..w.end as usize];
			assert_eq!(tok.decode(&w.tokens).unwrap(), text, "the window is exactly its text");
			assert_eq!(w.bytes.iter().map(|&b| u64::from(b)).sum::<u64>(), w.end - w.start);
		}
		store.retire(&mut retired, &windows).unwrap();
		all.extend(windows);
	}
	assert!(rounds >= 2, "{rounds} rounds");
	// No text was revealed twice.
	for (i, a) in all.iter().enumerate() {
		for b in &all[i + 1..] {
			assert!(a.doc_hash != b.doc_hash || a.end <= b.start || b.end <= a.start, "{a:?} overlaps {b:?}");
		}
	}
	assert_eq!(remaining(&corpus, &retired, &spec).rounds, 0);
	// The database remembers it all.
	drop(store);
	let store = Store::open(&dir.path().join("db.redb")).unwrap();
	assert_eq!(store.load_retired().unwrap(), retired);
	assert!(draw_windows(&corpus, &store.load_retired().unwrap(), &tok, &spec, &mut rng).unwrap().is_empty());
}
