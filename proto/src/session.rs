//! The Evaluate protocol's state, for either end of one stream.
//!
//! Both ends feed every client message to [`EvaluateSession::apply`] and every miner
//! answer to [`EvaluateSession::answer`], in stream order:
//!
//! - a **miner** applies each message it reads (an `Err` is the `Status` that ends the
//!   stream), computes the distributions the returned [`Expectation`] asks for, passes
//!   its answer through `answer` (which must report nothing invalid) and sends it before
//!   reading the next message;
//! - a **validator** applies each message before sending it (so it never sends one the
//!   protocol forbids), then checks the miner's answer with `answer`: an `Err` means the
//!   miner broke the protocol (drop the stream, score the floor), and
//!   [`Answered::Step::invalid`] lists the documents whose distribution is not a
//!   distribution (score the floor for that token only).

use std::collections::HashMap;

use tonic::Status;

use crate::{
	limits::Limits,
	receipt::ContextHash,
	v1::{evaluate_request, evaluate_response, EvaluateRequest, EvaluateResponse},
	validate::{first_duplicate, validate_distribution, validate_request, validate_response},
};

/// One distribution an answer must contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpectedDoc {
	/// The document.
	pub doc_id: u32,
	/// Index of the token to predict (tokens known so far).
	pub position: u32,
	/// Most entries the distribution may list.
	pub top_k: u32,
	/// Hash of the document's tokens before `position` (what a step signature covers,
	/// see [`crate::receipt`]).
	pub context: ContextHash,
}

/// What the answer to an `Open` or `Reveal` must contain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expectation {
	/// The answer's `Step.step` index.
	pub step: u32,
	/// One entry per document, in the order the `Step` must list them.
	pub docs: Vec<ExpectedDoc>,
}

/// What applying a client message did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
	/// An `Open` or `Reveal`: the miner owes this answer now.
	Answer(Expectation),
	/// A `Close`: these documents were dropped; nothing is answered.
	Closed(Vec<u32>),
}

/// What a well-formed answer did.
#[derive(Debug, Clone)]
pub enum Answered {
	/// A `Step` for the expected documents at the expected positions.
	Step {
		/// Its index.
		step: u32,
		/// Documents whose distribution failed [`validate_distribution`], with the reason.
		/// Their positions still count as answered.
		invalid: Vec<(u32, Status)>,
	},
	/// An `EvaluateError`: these documents (those of the request) were dropped.
	Error {
		/// Its index.
		step: u32,
		/// The dropped documents.
		dropped: Vec<u32>,
	},
}

#[derive(Debug, Clone, Copy)]
struct Doc {
	/// Tokens known: the index of the next token to predict.
	position: u32,
	top_k: u32,
	/// Whether the miner has answered for `position`.
	answered: bool,
	/// Hash of the tokens before `position`.
	context: ContextHash,
}

/// Protocol state of one Evaluate stream (see the module docs).
#[derive(Debug, Clone)]
pub struct EvaluateSession {
	limits: Limits,
	docs: HashMap<u32, Doc>,
	next_step: u32,
	pending: Option<Expectation>,
}

fn invalid(msg: String) -> Status {
	Status::invalid_argument(msg)
}

impl EvaluateSession {
	/// A stream with no open documents, checked against `limits`.
	pub fn new(limits: Limits) -> Self {
		Self { limits, docs: HashMap::new(), next_step: 0, pending: None }
	}

	/// The limits in force.
	pub fn limits(&self) -> &Limits {
		&self.limits
	}

	/// Number of open documents.
	pub fn open_documents(&self) -> usize {
		self.docs.len()
	}

	/// Index of the next token to predict for `doc_id`, if it is open.
	pub fn position(&self, doc_id: u32) -> Option<u32> {
		self.docs.get(&doc_id).map(|d| d.position)
	}

	/// The answer owed, if a request is waiting for one.
	pub fn pending(&self) -> Option<&Expectation> {
		self.pending.as_ref()
	}

	/// Applies one client message: checks it ([`validate_request`] plus the stream rules:
	/// lockstep, ids open or not, reveal only answered positions, open count and
	/// context length) and updates the state. On `Err` nothing changed.
	pub fn apply(&mut self, req: &EvaluateRequest) -> Result<Effect, Status> {
		validate_request(req, &self.limits)?;
		if self.pending.is_some() {
			return Err(invalid(format!(
				"a request arrived before answer {} was given: wait for each answer (lockstep)",
				self.next_step
			)));
		}
		match &req.msg {
			Some(evaluate_request::Msg::Open(open)) => {
				for d in &open.documents {
					if self.docs.contains_key(&d.doc_id) {
						return Err(invalid(format!("open: doc id {} is already open", d.doc_id)));
					}
				}
				let total = self.docs.len() + open.documents.len();
				if total > self.limits.max_documents as usize {
					return Err(invalid(format!(
						"open: {total} documents would be open, more than the limit of {}",
						self.limits.max_documents
					)));
				}
				let mut docs = Vec::with_capacity(open.documents.len());
				for d in &open.documents {
					// Prefix length is at most MAX_PREFIX_TOKENS (validated), so fits u32.
					let position = d.prefix.len() as u32;
					let context = ContextHash::of(&d.prefix);
					self.docs.insert(d.doc_id, Doc { position, top_k: open.top_k, answered: false, context });
					docs.push(ExpectedDoc { doc_id: d.doc_id, position, top_k: open.top_k, context });
				}
				Ok(self.expect(docs))
			},
			Some(evaluate_request::Msg::Reveal(reveal)) => {
				for t in &reveal.tokens {
					let Some(doc) = self.docs.get(&t.doc_id) else {
						return Err(invalid(format!("reveal: doc id {} is not open", t.doc_id)));
					};
					if !doc.answered {
						return Err(invalid(format!(
							"reveal: doc {} position {} has not been answered yet",
							t.doc_id, doc.position
						)));
					}
					if self.limits.max_context != 0 && doc.position >= self.limits.max_context {
						return Err(invalid(format!(
							"reveal: doc {} would hold {} tokens, more than the max context of {}",
							t.doc_id,
							doc.position as u64 + 1,
							self.limits.max_context
						)));
					}
				}
				let mut docs = Vec::with_capacity(reveal.tokens.len());
				for t in &reveal.tokens {
					let doc = self.docs.get_mut(&t.doc_id).expect("checked above");
					doc.position += 1;
					doc.answered = false;
					doc.context.push(t.token_id);
					docs.push(ExpectedDoc { doc_id: t.doc_id, position: doc.position, top_k: doc.top_k, context: doc.context });
				}
				Ok(self.expect(docs))
			},
			Some(evaluate_request::Msg::Close(close)) => {
				if let Some(id) = close.doc_ids.iter().find(|id| !self.docs.contains_key(id)) {
					return Err(invalid(format!("close: doc id {id} is not open")));
				}
				for id in &close.doc_ids {
					self.docs.remove(id);
				}
				Ok(Effect::Closed(close.doc_ids.clone()))
			},
			None => unreachable!("validate_request rejects an empty message"),
		}
	}

	fn expect(&mut self, docs: Vec<ExpectedDoc>) -> Effect {
		let e = Expectation { step: self.next_step, docs };
		self.pending = Some(e.clone());
		Effect::Answer(e)
	}

	/// Records the miner's answer to the pending request. `Err` (the state is unchanged)
	/// when there is no pending request or the answer does not fit it: wrong step index,
	/// documents or positions, or an error naming other documents than the request.
	/// Invalid distributions are reported in [`Answered::Step::invalid`], not as `Err`.
	pub fn answer(&mut self, resp: &EvaluateResponse) -> Result<Answered, Status> {
		let Some(expected) = self.pending.as_ref() else {
			return Err(invalid("an answer arrived with no request waiting for one".into()));
		};
		match &resp.msg {
			Some(evaluate_response::Msg::Step(step)) => {
				if step.step != expected.step {
					return Err(invalid(format!("step: index {} where {} was expected", step.step, expected.step)));
				}
				if step.distributions.len() != expected.docs.len() {
					return Err(invalid(format!(
						"step {}: {} distributions for {} documents",
						step.step,
						step.distributions.len(),
						expected.docs.len()
					)));
				}
				let mut bad = Vec::new();
				for (i, (d, e)) in step.distributions.iter().zip(&expected.docs).enumerate() {
					if d.doc_id != e.doc_id || d.position != e.position {
						return Err(invalid(format!(
							"step {} distributions[{i}]: doc {} position {} where doc {} position {} was expected",
							step.step, d.doc_id, d.position, e.doc_id, e.position
						)));
					}
					if let Err(s) = validate_distribution(d, e.top_k, self.limits.vocab_size) {
						bad.push((d.doc_id, s));
					}
				}
				let step_index = expected.step;
				for e in &expected.docs {
					if let Some(doc) = self.docs.get_mut(&e.doc_id) {
						doc.answered = true;
					}
				}
				self.pending = None;
				self.next_step += 1;
				Ok(Answered::Step { step: step_index, invalid: bad })
			},
			Some(evaluate_response::Msg::Error(err)) => {
				validate_response(resp, &self.limits)?;
				let mut want: Vec<u32> = expected.docs.iter().map(|d| d.doc_id).collect();
				let mut got = err.doc_ids.clone();
				want.sort_unstable();
				got.sort_unstable();
				debug_assert!(first_duplicate(want.iter().copied()).is_none());
				if want != got {
					return Err(invalid(format!(
						"error answer names documents {:?}, the request named {:?}",
						err.doc_ids,
						expected.docs.iter().map(|d| d.doc_id).collect::<Vec<_>>()
					)));
				}
				for id in &got {
					self.docs.remove(id);
				}
				let step_index = expected.step;
				self.pending = None;
				self.next_step += 1;
				Ok(Answered::Error { step: step_index, dropped: err.doc_ids.clone() })
			},
			None => Err(invalid("EvaluateResponse: no message set (expected step or error)".into())),
		}
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use crate::v1::{Close, Document, EvaluateError, Open, Reveal, RevealedToken, Step, TokenDistribution};

	fn open(docs: &[(u32, usize)], top_k: u32) -> EvaluateRequest {
		EvaluateRequest {
			msg: Some(evaluate_request::Msg::Open(Open {
				documents: docs.iter().map(|&(doc_id, n)| Document { doc_id, prefix: vec![1; n] }).collect(),
				top_k,
			})),
		}
	}

	fn reveal(ids: &[u32]) -> EvaluateRequest {
		EvaluateRequest {
			msg: Some(evaluate_request::Msg::Reveal(Reveal {
				tokens: ids.iter().map(|&doc_id| RevealedToken { doc_id, token_id: 2 }).collect(),
			})),
		}
	}

	fn close(ids: &[u32]) -> EvaluateRequest {
		EvaluateRequest { msg: Some(evaluate_request::Msg::Close(Close { doc_ids: ids.to_vec() })) }
	}

	/// A valid answer for `e`: one entry, certainty.
	fn step_for(e: &Expectation) -> EvaluateResponse {
		EvaluateResponse {
			msg: Some(evaluate_response::Msg::Step(Step {
				step: e.step,
				distributions: e
					.docs
					.iter()
					.map(|d| TokenDistribution {
						doc_id: d.doc_id,
						position: d.position,
						token_ids: vec![3],
						logprobs: vec![0.0],
						tail_mass: 0.0,
					})
					.collect(),
				signature: vec![],
				contexts: vec![],
			})),
		}
	}

	fn expectation(effect: Effect) -> Expectation {
		match effect {
			Effect::Answer(e) => e,
			other => panic!("expected an answer to be owed, got {other:?}"),
		}
	}

	#[test]
	fn full_conversation() {
		let mut s = EvaluateSession::new(Limits::default().with_model(10, 6));
		let e = expectation(s.apply(&open(&[(1, 3), (2, 5)], 4)).unwrap());
		assert_eq!(e.step, 0);
		assert_eq!(
			e.docs,
			vec![
				ExpectedDoc { doc_id: 1, position: 3, top_k: 4, context: ContextHash::of(&[1; 3]) },
				ExpectedDoc { doc_id: 2, position: 5, top_k: 4, context: ContextHash::of(&[1; 5]) }
			]
		);
		assert!(
			matches!(s.answer(&step_for(&e)).unwrap(), Answered::Step { step: 0, ref invalid } if invalid.is_empty())
		);
		let e = expectation(s.apply(&reveal(&[2, 1])).unwrap());
		assert_eq!(e.step, 1);
		assert_eq!(e.docs.iter().map(|d| (d.doc_id, d.position)).collect::<Vec<_>>(), vec![(2, 6), (1, 4)]);
		// The context hash follows the revealed token.
		assert_eq!(e.docs[0].context, ContextHash::of(&[1, 1, 1, 1, 1, 2]));
		s.answer(&step_for(&e)).unwrap();
		// Doc 2 now holds 6 tokens = max context: it cannot take another.
		let err = s.apply(&reveal(&[2])).unwrap_err();
		assert!(err.message().contains("max context"), "{err:?}");
		assert_eq!(s.apply(&close(&[2])).unwrap(), Effect::Closed(vec![2]));
		assert_eq!(s.open_documents(), 1);
		// A closed id can be opened again; a reveal of doc 1 alone works.
		let e = expectation(s.apply(&open(&[(2, 1)], 2)).unwrap());
		s.answer(&step_for(&e)).unwrap();
		let e = expectation(s.apply(&reveal(&[1])).unwrap());
		assert_eq!(e.docs[0].position, 5);
		assert_eq!(e.step, 3);
	}

	#[test]
	fn enforces_lockstep_and_ids() {
		let mut s = EvaluateSession::new(Limits::default());
		let e = expectation(s.apply(&open(&[(1, 3)], 4)).unwrap());
		// Anything before the answer: a reveal of the position just asked for, a close.
		assert!(s.apply(&reveal(&[1])).unwrap_err().message().contains("lockstep"));
		assert!(s.apply(&close(&[1])).unwrap_err().message().contains("lockstep"));
		assert_eq!(s.pending(), Some(&e));
		s.answer(&step_for(&e)).unwrap();
		assert_eq!(s.pending(), None);
		// An answer with nothing pending.
		assert!(s.answer(&step_for(&e)).unwrap_err().message().contains("no request waiting"));
		assert!(s.apply(&open(&[(1, 3)], 4)).unwrap_err().message().contains("already open"));
		assert!(s.apply(&reveal(&[9])).unwrap_err().message().contains("not open"));
		assert!(s.apply(&close(&[9])).unwrap_err().message().contains("not open"));
		// A reveal naming an open and an unknown doc changes nothing.
		assert!(s.apply(&reveal(&[1, 9])).is_err());
		assert_eq!(s.position(1), Some(3));
		let e = expectation(s.apply(&reveal(&[1])).unwrap());
		assert_eq!(e.docs[0].position, 4);
	}

	#[test]
	fn reveals_any_answered_subset() {
		let mut s = EvaluateSession::new(Limits::default());
		let e = expectation(s.apply(&open(&[(1, 3), (2, 3)], 4)).unwrap());
		s.answer(&step_for(&e)).unwrap();
		let e = expectation(s.apply(&reveal(&[1])).unwrap());
		s.answer(&step_for(&e)).unwrap();
		// Doc 1 answered at position 4, doc 2 still at 3 (answered): both may be revealed.
		let e = expectation(s.apply(&reveal(&[1, 2])).unwrap());
		assert_eq!(e.docs.iter().map(|d| d.position).collect::<Vec<_>>(), vec![5, 4]);
	}

	#[test]
	fn open_count_is_bounded_across_messages() {
		let limits = Limits { max_documents: 3, ..Limits::default() };
		let mut s = EvaluateSession::new(limits);
		let e = expectation(s.apply(&open(&[(1, 1), (2, 1)], 1)).unwrap());
		s.answer(&step_for(&e)).unwrap();
		assert!(s.apply(&open(&[(3, 1), (4, 1)], 1)).unwrap_err().message().contains("more than the limit of 3"));
		// Refused messages change nothing.
		assert_eq!(s.open_documents(), 2);
		assert_eq!(s.position(3), None);
	}

	#[test]
	fn checks_answers() {
		let mut s = EvaluateSession::new(Limits::default().with_model(10, 0));
		let e = expectation(s.apply(&open(&[(1, 3), (2, 3)], 1)).unwrap());
		let good = step_for(&e);
		let with = |f: &dyn Fn(&mut Step)| {
			let mut r = good.clone();
			let Some(evaluate_response::Msg::Step(st)) = r.msg.as_mut() else { unreachable!() };
			f(st);
			r
		};
		assert!(s.answer(&with(&|st| st.step = 5)).unwrap_err().message().contains("index 5"));
		assert!(s
			.answer(&with(&|st| {
				st.distributions.pop();
			}))
			.unwrap_err()
			.message()
			.contains("1 distributions for 2"));
		assert!(s
			.answer(&with(&|st| st.distributions.swap(0, 1)))
			.unwrap_err()
			.message()
			.contains("doc 2 position 3 where doc 1"));
		assert!(s.answer(&with(&|st| st.distributions[0].position = 4)).is_err());
		assert!(s.answer(&EvaluateResponse { msg: None }).is_err());
		// Still pending after refused answers; a bad distribution is reported, not fatal.
		let answered = s.answer(&with(&|st| st.distributions[1].token_ids = vec![10])).unwrap();
		match answered {
			Answered::Step { invalid, .. } => {
				assert_eq!(invalid.len(), 1);
				assert_eq!(invalid[0].0, 2);
				assert!(invalid[0].1.message().contains("vocab size"));
			},
			other => panic!("{other:?}"),
		}
		// Too many entries for the document's top_k (1).
		let e = expectation(s.apply(&reveal(&[1])).unwrap());
		let mut r = step_for(&e);
		let Some(evaluate_response::Msg::Step(st)) = r.msg.as_mut() else { unreachable!() };
		st.distributions[0].token_ids = vec![3, 4];
		st.distributions[0].logprobs = vec![-1.0, -2.0];
		let Answered::Step { invalid, .. } = s.answer(&r).unwrap() else { panic!() };
		assert!(invalid[0].1.message().contains("top_k = 1"));
	}

	#[test]
	fn error_answers_drop_the_documents() {
		let mut s = EvaluateSession::new(Limits::default());
		let e = expectation(s.apply(&open(&[(1, 3), (2, 3)], 1)).unwrap());
		let err = |ids: Vec<u32>| EvaluateResponse {
			msg: Some(evaluate_response::Msg::Error(EvaluateError { code: 8, message: "busy".into(), doc_ids: ids })),
		};
		assert!(s.answer(&err(vec![1])).unwrap_err().message().contains("the request named"));
		let Answered::Error { step, dropped } = s.answer(&err(vec![2, 1])).unwrap() else { panic!() };
		assert_eq!((step, dropped), (0, vec![2, 1]));
		assert_eq!(s.open_documents(), 0);
		// The error consumed index 0.
		let e2 = expectation(s.apply(&open(&[(1, 3)], 1)).unwrap());
		assert_eq!(e2.step, 1);
		assert_eq!(e.step, 0);
	}
}
