//! Stateless checks of Evaluate messages and `Info` answers.
//!
//! Every check returns `Status::invalid_argument` with a message that names the field
//! and the index at fault. A miner runs [`validate_request`] on every message it reads
//! (the [`crate::session::EvaluateSession`] does, and adds the stateful rules); a
//! validator runs [`validate_distribution`] on every answer before scoring it: an answer
//! that fails scores the floor.

use tonic::Status;

use crate::{
	limits::{Limits, MASS_EPSILON, MAX_OPEN_TOKENS, MAX_PREFIX_TOKENS},
	v1::{
		evaluate_request, evaluate_response, Close, EvaluateRequest, EvaluateResponse, InfoResponse, Open, Reveal,
		TokenDistribution,
	},
	Hotkey,
};

fn invalid(msg: String) -> Status {
	Status::invalid_argument(msg)
}

/// The first id that occurs twice in `ids`, if any.
pub fn first_duplicate(ids: impl IntoIterator<Item = u32>) -> Option<u32> {
	let mut sorted: Vec<u32> = ids.into_iter().collect();
	sorted.sort_unstable();
	sorted.windows(2).find(|w| w[0] == w[1]).map(|w| w[0])
}

fn check_count(what: &str, n: usize, max: u32) -> Result<(), Status> {
	if n == 0 {
		return Err(invalid(format!("{what}: empty")));
	}
	if n > max as usize {
		return Err(invalid(format!("{what}: {n} entries, more than the limit of {max}")));
	}
	Ok(())
}

fn check_token(what: &str, token: u32, vocab_size: u32) -> Result<(), Status> {
	if vocab_size != 0 && token >= vocab_size {
		return Err(invalid(format!("{what}: token id {token} is not below the vocab size {vocab_size}")));
	}
	Ok(())
}

/// Checks one client message on its own: exactly one variant set, counts within
/// `limits`, distinct doc ids, token ids below the vocab size, `top_k` in range.
pub fn validate_request(req: &EvaluateRequest, limits: &Limits) -> Result<(), Status> {
	match &req.msg {
		Some(evaluate_request::Msg::Open(open)) => validate_open(open, limits),
		Some(evaluate_request::Msg::Reveal(reveal)) => validate_reveal(reveal, limits),
		Some(evaluate_request::Msg::Close(close)) => validate_close(close, limits),
		None => Err(invalid("EvaluateRequest: no message set (expected open, reveal or close)".into())),
	}
}

/// Checks an `Open` (see [`validate_request`]); each prefix must hold 1 to
/// [`MAX_PREFIX_TOKENS`] tokens (and at most `limits.max_context`), all prefixes
/// together at most [`MAX_OPEN_TOKENS`].
pub fn validate_open(open: &Open, limits: &Limits) -> Result<(), Status> {
	check_count("open.documents", open.documents.len(), limits.max_documents)?;
	if open.top_k == 0 || open.top_k > limits.max_top_k {
		return Err(invalid(format!("open.top_k: {} is not in 1..={}", open.top_k, limits.max_top_k)));
	}
	if let Some(id) = first_duplicate(open.documents.iter().map(|d| d.doc_id)) {
		return Err(invalid(format!("open.documents: doc id {id} appears twice")));
	}
	let max_prefix =
		if limits.max_context == 0 { MAX_PREFIX_TOKENS } else { MAX_PREFIX_TOKENS.min(limits.max_context as usize) };
	let mut total = 0usize;
	for (i, doc) in open.documents.iter().enumerate() {
		let n = doc.prefix.len();
		if n == 0 {
			return Err(invalid(format!("open.documents[{i}] (doc {}): empty prefix", doc.doc_id)));
		}
		if n > max_prefix {
			return Err(invalid(format!(
				"open.documents[{i}] (doc {}): prefix of {n} tokens, more than the limit of {max_prefix}",
				doc.doc_id
			)));
		}
		total += n;
		if total > MAX_OPEN_TOKENS {
			return Err(invalid(format!("open: more than {MAX_OPEN_TOKENS} prefix tokens in all")));
		}
		for (j, &t) in doc.prefix.iter().enumerate() {
			check_token(&format!("open.documents[{i}].prefix[{j}] (doc {})", doc.doc_id), t, limits.vocab_size)?;
		}
	}
	Ok(())
}

/// Checks a `Reveal` (see [`validate_request`]).
pub fn validate_reveal(reveal: &Reveal, limits: &Limits) -> Result<(), Status> {
	check_count("reveal.tokens", reveal.tokens.len(), limits.max_documents)?;
	if let Some(id) = first_duplicate(reveal.tokens.iter().map(|t| t.doc_id)) {
		return Err(invalid(format!("reveal.tokens: doc id {id} appears twice")));
	}
	for (i, t) in reveal.tokens.iter().enumerate() {
		check_token(&format!("reveal.tokens[{i}] (doc {})", t.doc_id), t.token_id, limits.vocab_size)?;
	}
	Ok(())
}

/// Checks a `Close` (see [`validate_request`]).
pub fn validate_close(close: &Close, limits: &Limits) -> Result<(), Status> {
	check_count("close.doc_ids", close.doc_ids.len(), limits.max_documents)?;
	if let Some(id) = first_duplicate(close.doc_ids.iter().copied()) {
		return Err(invalid(format!("close.doc_ids: doc id {id} appears twice")));
	}
	Ok(())
}

/// Checks that `d` is a distribution: `token_ids` and `logprobs` of equal length, at most
/// `top_k` entries, distinct token ids below `vocab_size` (0: not checked), logprobs
/// finite, <= 0 and sorted descending, `tail_mass` in [0, 1], and total mass
/// `sum(exp(logprobs)) + tail_mass <= 1 +` [`MASS_EPSILON`].
pub fn validate_distribution(d: &TokenDistribution, top_k: u32, vocab_size: u32) -> Result<(), Status> {
	let doc = d.doc_id;
	let n = d.token_ids.len();
	if n != d.logprobs.len() {
		return Err(invalid(format!("distribution (doc {doc}): {n} token ids but {} logprobs", d.logprobs.len())));
	}
	if n > top_k as usize {
		return Err(invalid(format!("distribution (doc {doc}): {n} entries, more than top_k = {top_k}")));
	}
	for (i, &t) in d.token_ids.iter().enumerate() {
		check_token(&format!("distribution (doc {doc}) token_ids[{i}]"), t, vocab_size)?;
	}
	let mut mass = 0f64;
	for (i, &lp) in d.logprobs.iter().enumerate() {
		if lp.is_nan() {
			return Err(invalid(format!("distribution (doc {doc}) logprobs[{i}]: NaN")));
		}
		if lp.is_infinite() {
			return Err(invalid(format!("distribution (doc {doc}) logprobs[{i}]: {lp} is not finite")));
		}
		if lp > 0.0 {
			return Err(invalid(format!(
				"distribution (doc {doc}) logprobs[{i}]: {lp} is positive (a probability above 1)"
			)));
		}
		if i > 0 && lp > d.logprobs[i - 1] {
			return Err(invalid(format!(
				"distribution (doc {doc}) logprobs[{i}]: {lp} is above logprobs[{}] = {}; entries must be sorted by logprob descending",
				i - 1,
				d.logprobs[i - 1]
			)));
		}
		mass += f64::from(lp).exp();
	}
	if let Some(t) = first_duplicate(d.token_ids.iter().copied()) {
		return Err(invalid(format!("distribution (doc {doc}): token id {t} listed twice")));
	}
	let tail = d.tail_mass;
	if !tail.is_finite() || !(0.0..=1.0).contains(&tail) {
		return Err(invalid(format!("distribution (doc {doc}): tail_mass {tail} is not in [0, 1]")));
	}
	mass += f64::from(tail);
	if mass > 1.0 + MASS_EPSILON {
		return Err(invalid(format!(
			"distribution (doc {doc}): total mass {mass:.6} (listed + tail) exceeds 1 + {MASS_EPSILON}"
		)));
	}
	Ok(())
}

/// Checks one miner message on its own: exactly one variant set; a `Step` has 1 to
/// `limits.max_documents` distributions for distinct documents, each valid for
/// `limits.max_top_k` (see [`validate_distribution`]); an error names distinct documents.
/// Whether it answers the right documents at the right positions is the
/// [`crate::session::EvaluateSession`]'s job.
pub fn validate_response(resp: &EvaluateResponse, limits: &Limits) -> Result<(), Status> {
	match &resp.msg {
		Some(evaluate_response::Msg::Step(step)) => {
			check_count("step.distributions", step.distributions.len(), limits.max_documents)?;
			if let Some(id) = first_duplicate(step.distributions.iter().map(|d| d.doc_id)) {
				return Err(invalid(format!("step.distributions: doc id {id} appears twice")));
			}
			for d in &step.distributions {
				validate_distribution(d, limits.max_top_k, limits.vocab_size)?;
			}
			Ok(())
		},
		Some(evaluate_response::Msg::Error(err)) => {
			if err.doc_ids.len() > limits.max_documents as usize {
				return Err(invalid(format!("error.doc_ids: more than {} entries", limits.max_documents)));
			}
			if let Some(id) = first_duplicate(err.doc_ids.iter().copied()) {
				return Err(invalid(format!("error.doc_ids: doc id {id} appears twice")));
			}
			Ok(())
		},
		None => Err(invalid("EvaluateResponse: no message set (expected step or error)".into())),
	}
}

/// Checks an `Info` answer: 32-byte model and tokenizer hashes, a vocab size and context
/// length, a parseable hotkey; returns that hotkey (the caller compares it with the
/// hotkey it expected from the chain).
pub fn validate_info(info: &InfoResponse) -> Result<Hotkey, Status> {
	if info.model_hash.len() != 32 {
		return Err(invalid(format!("info.model_hash: {} bytes, expected 32", info.model_hash.len())));
	}
	if info.tokenizer_hash.len() != 32 {
		return Err(invalid(format!("info.tokenizer_hash: {} bytes, expected 32", info.tokenizer_hash.len())));
	}
	if info.vocab_size == 0 {
		return Err(invalid("info.vocab_size: 0".into()));
	}
	if info.max_context == 0 {
		return Err(invalid("info.max_context: 0".into()));
	}
	Hotkey::parse(&info.hotkey).map_err(|e| invalid(format!("info.hotkey: {e}")))
}

#[cfg(test)]
mod tests {
	use super::*;
	use crate::v1::{Document, EvaluateError, RevealedToken, Step};
	use tonic::Code;

	fn limits() -> Limits {
		Limits::default().with_model(100, 64)
	}

	fn open(docs: Vec<(u32, Vec<u32>)>, top_k: u32) -> EvaluateRequest {
		EvaluateRequest {
			msg: Some(evaluate_request::Msg::Open(Open {
				documents: docs.into_iter().map(|(doc_id, prefix)| Document { doc_id, prefix }).collect(),
				top_k,
			})),
		}
	}

	fn reveal(tokens: Vec<(u32, u32)>) -> EvaluateRequest {
		EvaluateRequest {
			msg: Some(evaluate_request::Msg::Reveal(Reveal {
				tokens: tokens.into_iter().map(|(doc_id, token_id)| RevealedToken { doc_id, token_id }).collect(),
			})),
		}
	}

	fn close(ids: Vec<u32>) -> EvaluateRequest {
		EvaluateRequest { msg: Some(evaluate_request::Msg::Close(Close { doc_ids: ids })) }
	}

	fn dist(ids: Vec<u32>, lps: Vec<f32>, tail: f32) -> TokenDistribution {
		TokenDistribution { doc_id: 7, position: 3, token_ids: ids, logprobs: lps, tail_mass: tail }
	}

	/// A valid distribution: 0.5, 0.25, 0.125 listed, 0.125 tail.
	fn good() -> TokenDistribution {
		dist(vec![5, 9, 1], vec![0.5f32.ln(), 0.25f32.ln(), 0.125f32.ln()], 0.125)
	}

	#[track_caller]
	fn rejects(r: Result<(), Status>, needle: &str) {
		let e = r.expect_err("accepted");
		assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
		assert!(e.message().contains(needle), "message {:?} lacks {needle:?}", e.message());
	}

	#[test]
	fn accepts_well_formed_requests() {
		let l = limits();
		validate_request(&open(vec![(1, vec![1, 2, 3]), (2, vec![99])], 8), &l).unwrap();
		validate_request(&reveal(vec![(1, 4), (2, 0)]), &l).unwrap();
		validate_request(&close(vec![1, 2]), &l).unwrap();
	}

	#[test]
	fn rejects_malformed_requests() {
		let l = limits();
		rejects(validate_request(&EvaluateRequest { msg: None }, &l), "no message set");
		rejects(validate_request(&open(vec![], 8), &l), "open.documents: empty");
		rejects(validate_request(&open(vec![(1, vec![1])], 0), &l), "open.top_k");
		rejects(validate_request(&open(vec![(1, vec![1])], crate::limits::MAX_TOP_K + 1), &l), "open.top_k");
		rejects(validate_request(&open(vec![(1, vec![1]), (1, vec![2])], 8), &l), "doc id 1 appears twice");
		rejects(validate_request(&open(vec![(1, vec![])], 8), &l), "empty prefix");
		rejects(validate_request(&open(vec![(1, vec![1; 65])], 8), &l), "more than the limit of 64");
		rejects(validate_request(&open(vec![(1, vec![1, 100])], 8), &l), "prefix[1] (doc 1): token id 100");
		let too_many: Vec<_> = (0..=crate::limits::MAX_DOCUMENTS).map(|i| (i, vec![1])).collect();
		rejects(validate_request(&open(too_many, 8), &l), "more than the limit of 256");
		rejects(validate_request(&reveal(vec![]), &l), "reveal.tokens: empty");
		rejects(validate_request(&reveal(vec![(1, 2), (1, 3)]), &l), "appears twice");
		rejects(validate_request(&reveal(vec![(1, 100)]), &l), "not below the vocab size 100");
		rejects(validate_request(&close(vec![]), &l), "close.doc_ids: empty");
		rejects(validate_request(&close(vec![3, 3]), &l), "appears twice");
	}

	#[test]
	fn open_token_total_is_bounded() {
		let l = Limits::default();
		let docs: Vec<_> = (0..17).map(|i| (i, vec![0u32; MAX_PREFIX_TOKENS])).collect();
		rejects(
			validate_open(
				&Open {
					documents: docs.into_iter().map(|(doc_id, prefix)| Document { doc_id, prefix }).collect(),
					top_k: 1,
				},
				&l,
			),
			"prefix tokens in all",
		);
	}

	#[test]
	fn accepts_distributions() {
		validate_distribution(&good(), 3, 100).unwrap();
		// Fewer than top_k entries, ties, zero tail, no vocab check.
		validate_distribution(&dist(vec![1, 2], vec![0.5f32.ln(), 0.5f32.ln()], 0.0), 8, 0).unwrap();
		// Nothing listed: all mass in the tail.
		validate_distribution(&dist(vec![], vec![], 1.0), 8, 100).unwrap();
		// Rounding slack.
		validate_distribution(&dist(vec![1], vec![0.0], 0.0005), 8, 100).unwrap();
		// A logprob of exactly 0 (certainty) is allowed.
		validate_distribution(&dist(vec![1], vec![-0.0], 0.0), 8, 100).unwrap();
	}

	#[test]
	fn rejects_bad_distributions() {
		let d = good();
		rejects(validate_distribution(&d, 2, 100), "more than top_k = 2");
		rejects(validate_distribution(&d, 3, 9), "token id 9 is not below the vocab size 9");
		let mut x = d.clone();
		x.logprobs.pop();
		rejects(validate_distribution(&x, 3, 100), "3 token ids but 2 logprobs");
		let mut x = d.clone();
		x.logprobs[1] = f32::NAN;
		rejects(validate_distribution(&x, 3, 100), "logprobs[1]: NaN");
		let mut x = d.clone();
		x.logprobs[2] = f32::NEG_INFINITY;
		rejects(validate_distribution(&x, 3, 100), "not finite");
		let mut x = d.clone();
		x.logprobs[0] = 0.01;
		rejects(validate_distribution(&x, 3, 100), "positive");
		let mut x = d.clone();
		x.logprobs.swap(0, 1);
		rejects(validate_distribution(&x, 3, 100), "sorted by logprob descending");
		let mut x = d.clone();
		x.token_ids[2] = 5;
		rejects(validate_distribution(&x, 3, 100), "token id 5 listed twice");
		for tail in [-0.1, 1.5, f32::NAN, f32::INFINITY] {
			let mut x = d.clone();
			x.tail_mass = tail;
			rejects(validate_distribution(&x, 3, 100), "tail_mass");
		}
		let mut x = d.clone();
		x.tail_mass = 0.2;
		rejects(validate_distribution(&x, 3, 100), "exceeds 1");
		// Many listed tokens each claiming a lot.
		rejects(validate_distribution(&dist(vec![1, 2, 3], vec![-0.1, -0.1, -0.1], 0.0), 3, 100), "exceeds 1");
	}

	#[test]
	fn checks_responses() {
		let l = limits();
		let step = |ds: Vec<TokenDistribution>| EvaluateResponse {
			msg: Some(evaluate_response::Msg::Step(Step { step: 0, distributions: ds, signature: vec![], contexts: vec![] })),
		};
		validate_response(&step(vec![good()]), &l).unwrap();
		rejects(validate_response(&EvaluateResponse { msg: None }, &l), "no message set");
		rejects(validate_response(&step(vec![]), &l), "step.distributions: empty");
		rejects(validate_response(&step(vec![good(), good()]), &l), "doc id 7 appears twice");
		let mut bad = good();
		bad.tail_mass = 0.9;
		rejects(validate_response(&step(vec![bad]), &l), "exceeds 1");
		let err = |ids: Vec<u32>| EvaluateResponse {
			msg: Some(evaluate_response::Msg::Error(EvaluateError { code: 8, message: "busy".into(), doc_ids: ids })),
		};
		validate_response(&err(vec![1, 2]), &l).unwrap();
		rejects(validate_response(&err(vec![2, 2]), &l), "appears twice");
	}

	#[test]
	fn checks_info() {
		let alice = Hotkey::of(&subxt_signer::sr25519::dev::alice());
		let info = InfoResponse {
			model_hash: vec![1; 32],
			tokenizer_hash: vec![2; 32],
			vocab_size: 49_152,
			max_context: 2048,
			hotkey: alice.to_ss58(),
			..Default::default()
		};
		assert_eq!(validate_info(&info).unwrap(), alice);
		let mut x = info.clone();
		x.model_hash.pop();
		assert!(validate_info(&x).unwrap_err().message().contains("model_hash"));
		let mut x = info.clone();
		x.hotkey = "nope".into();
		assert!(validate_info(&x).unwrap_err().message().contains("info.hotkey"));
		let mut x = info;
		x.vocab_size = 0;
		assert!(validate_info(&x).is_err());
	}
}
