//! Which miners of a round are scored, and what a refusal costs.
//!
//! A miner that refuses a validator holding a permit is scored at the floor for that
//! round, like a miner that failed every token: refusing a fraction r of the rounds
//! costs about r of its smoothed score, the same as failing them, so refusing is never
//! cheaper than answering. Two cases are excused, because the refusal is then right or
//! not the miner's fault: this validator holds no permit (miners must refuse it), or it
//! got its permit less than `grace` ago (a miner's view of the chain lags by a few
//! seconds). Excused refusals are left out of the round's scores, and so is a miner whose
//! plaintext stream was rewritten in transit: a TLS axon rules that out.

use std::time::{Duration, Instant};

use crate::round::{Outcome, RoundResult};

/// Since when this validator holds its permit, as far as refusals are concerned.
#[derive(Debug, Clone)]
pub struct PermitClock {
	since: Option<Instant>,
	grace: Duration,
}

impl PermitClock {
	/// No permit seen yet; refusals count once a permit has been held for `grace`.
	pub fn new(grace: Duration) -> Self {
		Self { since: None, grace }
	}

	/// Records whether this validator holds a permit now.
	pub fn observe(&mut self, permit: bool) {
		match (permit, self.since) {
			(true, None) => self.since = Some(Instant::now()),
			(false, _) => self.since = None,
			(true, Some(_)) => {},
		}
	}

	/// Whether a refusal now is the miner's fault (a permit held for at least `grace`).
	pub fn refusals_count(&self) -> bool {
		self.since.is_some_and(|t| t.elapsed() >= self.grace)
	}
}

/// The rows of `result` to score: every miner, except those that refused while
/// refusals are excused (`refusals_count` false), and those whose plaintext stream was
/// rewritten in transit (not their fault; over TLS it cannot happen, and is a protocol
/// error).
pub fn scored_rows(result: &RoundResult, refusals_count: bool) -> Vec<usize> {
	result
		.miners
		.iter()
		.enumerate()
		.filter(|(_, m)| match m.outcome {
			Outcome::Refused(_) => refusals_count,
			Outcome::Tampered { .. } => false,
			_ => true,
		})
		.map(|(i, _)| i)
		.collect()
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn refusals_count_only_once_the_permit_is_older_than_the_grace() {
		let mut clock = PermitClock::new(Duration::from_millis(50));
		assert!(!clock.refusals_count(), "no permit");
		clock.observe(true);
		assert!(!clock.refusals_count(), "a new permit: miners may not know yet");
		std::thread::sleep(Duration::from_millis(60));
		clock.observe(true);
		assert!(clock.refusals_count());
		clock.observe(false);
		assert!(!clock.refusals_count(), "permit lost");
		let mut at_once = PermitClock::new(Duration::ZERO);
		at_once.observe(true);
		assert!(at_once.refusals_count());
	}
}
