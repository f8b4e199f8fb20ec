//! Prometheus metrics of a miner (served at `/metrics` by `--prometheus-port`).

use substrate_prometheus_endpoint::{
	prometheus::{self, exponential_buckets, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts},
	register, Registry,
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
	/// Documents whose KV cache was taken back for a caller with a better claim.
	pub evictions: IntCounter,
	/// Evaluate streams ended by the miner, by reason (`idle`, `lifetime`,
	/// `permit_revoked`, `evicted`).
	pub streams_ended: IntCounterVec,
}

impl Metrics {
	/// Creates and registers the metrics (prefix `tessera_miner_`).
	pub fn new() -> Self {
		let registry = Registry::new_custom(Some("tessera_miner".into()), None).expect("static prefix is valid");
		let r = &registry;
		let gauge = |n: &str, h: &str| register(IntGauge::new(n, h).expect("static metric"), r).expect("registered once");
		let counter = |n: &str, h: &str| register(IntCounter::new(n, h).expect("static metric"), r).expect("registered once");
		let counter_vec = |n: &str, h: &str, l: &[&str]| {
			register(IntCounterVec::new(Opts::new(n, h), l).expect("static metric"), r).expect("registered once")
		};
		let hist = |name: &str, help: &str, start: f64, factor: f64, n: usize| {
			let opts = HistogramOpts::new(name, help).buckets(exponential_buckets(start, factor, n).expect("valid buckets"));
			register(Histogram::with_opts(opts).expect("static metric"), r).expect("registered once")
		};
		Self {
			requests: counter_vec("requests_total", "gRPC calls by method and outcome", &["method", "outcome"]),
			rejections: counter_vec("rejections_total", "requests refused before any model work, by reason", &["reason"]),
			tokens_scored: counter("tokens_scored_total", "next-token distributions answered"),
			tokens_processed: counter("tokens_processed_total", "tokens run through the model"),
			batch_sequences: hist("batch_sequences", "sequences per forward pass", 1.0, 2.0, 10),
			batch_tokens: hist("batch_tokens", "tokens per forward pass", 1.0, 2.0, 14),
			batch_seconds: hist("batch_seconds", "seconds per forward pass", 0.001, 2.0, 14),
			queue_depth: gauge("queue_depth", "requests waiting for the model"),
			open_documents: gauge("open_documents", "documents holding a KV cache"),
			cached_tokens: gauge("cached_tokens", "tokens of KV cache allocated"),
			active_streams: gauge("active_streams", "Evaluate streams being served"),
			evictions: counter("kv_evictions_total", "documents whose KV cache was taken back for a caller with a better claim"),
			streams_ended: counter_vec("streams_ended_total", "Evaluate streams ended by the miner, by reason", &["reason"]),
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

/// Peak resident memory of this process (`VmHWM` in `/proc/self/status`), MiB; 0 where
/// the kernel does not say (not Linux).
pub fn peak_rss_mib() -> f64 {
	let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
	status
		.lines()
		.find_map(|l| l.strip_prefix("VmHWM:"))
		.and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
		.map_or(0.0, |kb| kb / 1024.0)
}
