//! Prometheus metrics of a miner (served at `/metrics` by `--prometheus-port`).

use substrate_prometheus_endpoint::prometheus::{self,
	exponential_buckets, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
};

/// Every metric the miner exports, registered in one [`Registry`].
#[derive(Clone)]
pub struct Metrics {
	/// The registry holding them.
	pub registry: Registry,
	/// Calls by method and outcome (`ok`, or the gRPC code name).
	pub requests: IntCounterVec,
	/// Requests refused before any model work, by reason.
	pub rejections: IntCounterVec,
	/// Next-token distributions answered (one per document per step).
	pub tokens_scored: IntCounter,
	/// Tokens run through the model (prefixes and revealed tokens).
	pub tokens_processed: IntCounter,
	/// Sequences per forward pass.
	pub batch_sequences: Histogram,
	/// Tokens per forward pass.
	pub batch_tokens: Histogram,
	/// Seconds per forward pass (model plus top-K).
	pub batch_seconds: Histogram,
	/// Requests waiting for the model.
	pub queue_depth: IntGauge,
	/// Documents holding a KV cache.
	pub open_documents: IntGauge,
	/// Tokens of KV cache allocated.
	pub cached_tokens: IntGauge,
	/// Evaluate streams being served.
	pub active_streams: IntGauge,
}

impl Metrics {
	/// Creates and registers the metrics (prefix `tessera_miner_`).
	pub fn new() -> Self {
		let registry = Registry::new_custom(Some("tessera_miner".into()), None).expect("static prefix is valid");
		let requests = IntCounterVec::new(Opts::new("requests_total", "gRPC calls by method and outcome"), &["method", "outcome"])
			.expect("static metric");
		let rejections = IntCounterVec::new(
			Opts::new("rejections_total", "requests refused before any model work, by reason"),
			&["reason"],
		)
		.expect("static metric");
		let tokens_scored = IntCounter::new("tokens_scored_total", "next-token distributions answered").expect("static metric");
		let tokens_processed =
			IntCounter::new("tokens_processed_total", "tokens run through the model").expect("static metric");
		let hist = |name: &str, help: &str, start: f64, factor: f64, n: usize| {
			Histogram::with_opts(HistogramOpts::new(name, help).buckets(exponential_buckets(start, factor, n).expect("valid buckets")))
				.expect("static metric")
		};
		let batch_sequences = hist("batch_sequences", "sequences per forward pass", 1.0, 2.0, 10);
		let batch_tokens = hist("batch_tokens", "tokens per forward pass", 1.0, 2.0, 14);
		let batch_seconds = hist("batch_seconds", "seconds per forward pass", 0.001, 2.0, 14);
		let queue_depth = IntGauge::new("queue_depth", "requests waiting for the model").expect("static metric");
		let open_documents = IntGauge::new("open_documents", "documents holding a KV cache").expect("static metric");
		let cached_tokens = IntGauge::new("cached_tokens", "tokens of KV cache allocated").expect("static metric");
		let active_streams = IntGauge::new("active_streams", "Evaluate streams being served").expect("static metric");
		let m = Self {
			registry,
			requests,
			rejections,
			tokens_scored,
			tokens_processed,
			batch_sequences,
			batch_tokens,
			batch_seconds,
			queue_depth,
			open_documents,
			cached_tokens,
			active_streams,
		};
		let collectors: [Box<dyn prometheus::core::Collector>; 11] = [
			Box::new(m.requests.clone()),
			Box::new(m.rejections.clone()),
			Box::new(m.tokens_scored.clone()),
			Box::new(m.tokens_processed.clone()),
			Box::new(m.batch_sequences.clone()),
			Box::new(m.batch_tokens.clone()),
			Box::new(m.batch_seconds.clone()),
			Box::new(m.queue_depth.clone()),
			Box::new(m.open_documents.clone()),
			Box::new(m.cached_tokens.clone()),
			Box::new(m.active_streams.clone()),
		];
		for c in collectors {
			m.registry.register(c).expect("each metric is registered once");
		}
		m
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
