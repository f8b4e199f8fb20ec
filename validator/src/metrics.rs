//! Prometheus metrics of a validator (served at `/metrics` by `--prometheus-port`).

use substrate_prometheus_endpoint::{
	prometheus::{
		self, exponential_buckets, Gauge, GaugeVec, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts,
	},
	register, Registry,
};

/// Every metric the validator exports, registered in one [`Registry`] (prefix
/// `tessera_validator_`).
#[derive(Clone)]
pub struct Metrics {
	/// The registry holding them.
	pub registry: Registry,
	/// 1 if the hotkey holds a validator permit, 0 if not (it keeps scoring, but its
	/// weights cannot be set).
	pub validator_permit: IntGauge,
	/// 1 if the hotkey is registered on the subnet.
	pub registered: IntGauge,
	/// Rounds completed.
	pub rounds: IntCounter,
	/// Rounds skipped, by reason.
	pub rounds_skipped: IntCounterVec,
	/// Seconds per round.
	pub round_seconds: Histogram,
	/// Miners evaluated in the last round.
	pub miners_evaluated: IntGauge,
	/// Miner round outcomes, by outcome.
	pub miner_outcomes: IntCounterVec,
	/// Tokens scored at the floor.
	pub floored_tokens: IntCounter,
	/// Tokens scored (miners x tokens).
	pub scored_tokens: IntCounter,
	/// Bits per byte of each miner in the last round, by uid.
	pub miner_bpb: GaugeVec,
	/// EMA score by uid.
	pub miner_ema: GaugeVec,
	/// Weight (u16) by uid, from the latest scores.
	pub miner_weight: GaugeVec,
	/// Weight transactions by kind (set, commit, reveal) and outcome.
	pub weight_submissions: IntCounterVec,
	/// Unrevealed bytes of the evaluation corpus in runs long enough for a window.
	pub corpus_free_bytes: IntGauge,
	/// Rounds the corpus has left, roughly.
	pub corpus_rounds_left: IntGauge,
	/// Best-chain block of the last metagraph sync.
	pub block: IntGauge,
	/// Bits per byte of the best miner in the last round.
	pub best_bpb: Gauge,
	/// Audits by outcome (pass, fail, unauditable, error).
	pub audits: IntCounterVec,
	/// Seconds per audit of one miner (fetching the model the first time included).
	pub audit_seconds: Histogram,
	/// `report_fraud` submissions by outcome.
	pub fraud_reports: IntCounterVec,
}

impl Metrics {
	/// Creates and registers the metrics.
	pub fn new() -> Self {
		let registry = Registry::new_custom(Some("tessera_validator".into()), None).expect("static prefix is valid");
		let r = &registry;
		let gauge = |n: &str, h: &str| register(IntGauge::new(n, h).expect("static metric"), r).expect("registered once");
		let counter = |n: &str, h: &str| register(IntCounter::new(n, h).expect("static metric"), r).expect("registered once");
		let counter_vec = |n: &str, h: &str, l: &[&str]| {
			register(IntCounterVec::new(Opts::new(n, h), l).expect("static metric"), r).expect("registered once")
		};
		let gauge_vec =
			|n: &str, h: &str| register(GaugeVec::new(Opts::new(n, h), &["uid"]).expect("static metric"), r).expect("registered once");
		let round_seconds = Histogram::with_opts(
			HistogramOpts::new("round_seconds", "seconds per round").buckets(exponential_buckets(0.25, 2.0, 12).expect("valid buckets")),
		)
		.expect("static metric");
		Self {
			validator_permit: gauge("validator_permit", "1 if this hotkey holds a validator permit"),
			registered: gauge("registered", "1 if this hotkey is registered on the subnet"),
			rounds: counter("rounds_total", "rounds completed"),
			rounds_skipped: counter_vec("rounds_skipped_total", "rounds skipped, by reason", &["reason"]),
			round_seconds: register(round_seconds, r).expect("registered once"),
			miners_evaluated: gauge("miners_evaluated", "miners evaluated in the last round"),
			miner_outcomes: counter_vec("miner_outcomes_total", "miner round outcomes", &["outcome"]),
			floored_tokens: counter("floored_tokens_total", "tokens scored at the floor"),
			scored_tokens: counter("scored_tokens_total", "tokens scored (miners x tokens)"),
			miner_bpb: gauge_vec("miner_bpb", "bits per byte in the last round"),
			miner_ema: gauge_vec("miner_ema", "EMA score"),
			miner_weight: gauge_vec("miner_weight", "weight (u16) from the latest scores"),
			weight_submissions: counter_vec("weight_submissions_total", "weight transactions", &["kind", "outcome"]),
			corpus_free_bytes: gauge("corpus_free_bytes", "unrevealed corpus bytes usable for windows"),
			corpus_rounds_left: gauge("corpus_rounds_left", "rounds the corpus has left, roughly"),
			block: gauge("block", "block of the last metagraph sync"),
			audits: counter_vec("audits_total", "audits by outcome", &["outcome"]),
			audit_seconds: register(
				Histogram::with_opts(
					HistogramOpts::new("audit_seconds", "seconds per audit of one miner")
						.buckets(exponential_buckets(0.05, 2.0, 14).expect("valid buckets")),
				)
				.expect("static metric"),
				r,
			)
			.expect("registered once"),
			fraud_reports: counter_vec("fraud_reports_total", "report_fraud submissions by outcome", &["outcome"]),
			best_bpb: register(Gauge::new("best_bpb", "bits per byte of the best miner in the last round").expect("static metric"), r)
				.expect("registered once"),
			registry,
		}
	}

	/// The metrics in Prometheus text format.
	pub fn render(&self) -> String {
		let mut buf = Vec::new();
		let encoder = prometheus::TextEncoder::new();
		prometheus::Encoder::encode(&encoder, &self.registry.gather(), &mut buf).expect("text encoding cannot fail");
		String::from_utf8(buf).unwrap_or_default()
	}
}

impl Default for Metrics {
	fn default() -> Self {
		Self::new()
	}
}
