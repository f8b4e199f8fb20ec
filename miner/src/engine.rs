//! The inference engine: one thread owns the model and every document's KV cache, and
//! runs the work of all streams in shared forward passes (dynamic batching).
//!
//! Streams submit [`Work`] (the sequences one `Open` or `Reveal` extends) and await the
//! answer. The engine thread waits for work, then up to [`EngineConfig::batch_wait`] for
//! more, takes queued work by priority (the caller's stake, then arrival) until the batch
//! is full ([`EngineConfig::max_batch_tokens`], [`EngineConfig::max_batch_sequences`]),
//! runs one [`Llama::forward`] for all of it, turns each logits row into a top-K
//! distribution and answers every request of the batch. What did not fit stays queued
//! for the next pass, so under load high-stake validators are served first. The KV cache
//! is shared by stake ([`crate::kv_share`]): when it is full, callers above their share
//! give way to the request, lowest stake first.

use std::{
	collections::{BinaryHeap, HashMap, HashSet},
	sync::{
		atomic::{AtomicU64, Ordering},
		mpsc, Arc,
	},
	thread,
	time::{Duration, Instant},
};

use rayon::prelude::*;
use tokio::sync::oneshot;

use crate::{
	kv_share::{CallerId, KvShares},
	llama::{Extend, Llama, ModelError, SeqCache},
	metrics::Metrics,
	topk::{top_k, TopK},
};

/// Identifies one document's sequence inside the engine (unique per engine).
pub type SeqId = u64;

/// Batching and memory limits.
#[derive(Debug, Clone, Copy)]
pub struct EngineConfig {
	/// Most tokens in one forward pass (a long prefix alone may exceed it: it then runs
	/// alone).
	pub max_batch_tokens: usize,
	/// Most sequences in one forward pass.
	pub max_batch_sequences: usize,
	/// How long the engine waits for more work once some has arrived.
	pub batch_wait: Duration,
	/// Most tokens of KV cache allocated over all documents; work that would exceed it
	/// takes memory back from callers above their share, or is refused with
	/// `RESOURCE_EXHAUSTED`.
	pub max_cached_tokens: usize,
	/// Least share of `max_cached_tokens` any caller gets, whatever its stake.
	pub min_share_tokens: usize,
}

impl Default for EngineConfig {
	fn default() -> Self {
		Self {
			max_batch_tokens: 4096,
			max_batch_sequences: 256,
			batch_wait: Duration::from_millis(2),
			max_cached_tokens: 1 << 17,
			min_share_tokens: 1 << 12,
		}
	}
}

/// One sequence of a request: a new document (its prefix) or one more token of an open one.
#[derive(Debug, Clone)]
pub struct WorkItem {
	/// The sequence; created on first use.
	pub seq: SeqId,
	/// Tokens to append (the prefix of a new document, or the revealed token).
	pub tokens: Vec<u32>,
	/// How many tokens to list in the answer.
	pub top_k: u32,
}

/// One request's work: answered all at once, or refused all at once.
#[derive(Debug, Clone)]
pub struct Work {
	/// Higher first under load (the caller's stake).
	pub priority: u64,
	/// Who asks (its documents' cache is counted against it).
	pub caller: CallerId,
	/// The caller's share of the KV cache, in tokens ([`crate::kv_share::share_of`]).
	pub share: usize,
	/// The sequences to extend, in answer order.
	pub items: Vec<WorkItem>,
}

/// Why the engine could not answer a request. The request's sequences are dropped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
	/// Not enough KV cache memory for the request.
	#[error("out of KV cache memory: {0}")]
	Exhausted(String),
	/// A document would exceed the model's context.
	#[error("{0}")]
	OutOfRange(String),
	/// The model failed or the engine stopped.
	#[error("inference failed: {0}")]
	Internal(String),
}

impl EngineError {
	/// The gRPC status code that describes it.
	pub fn code(&self) -> tonic::Code {
		match self {
			Self::Exhausted(_) => tonic::Code::ResourceExhausted,
			Self::OutOfRange(_) => tonic::Code::OutOfRange,
			Self::Internal(_) => tonic::Code::Internal,
		}
	}
}

/// The answer to one [`Work`]: one distribution per item, in order.
pub type Answer = Result<Vec<TopK>, EngineError>;

enum Msg {
	Run { work: Work, reply: oneshot::Sender<Answer> },
	Drop(Vec<SeqId>),
}

/// Handle to the engine thread. Cheap to share (`Arc`); the thread stops when the last
/// handle is dropped.
pub struct Engine {
	tx: parking_lot::Mutex<mpsc::Sender<Msg>>,
	next_seq: AtomicU64,
	max_context: usize,
	vocab_size: usize,
	device: String,
}

impl Engine {
	/// Starts the engine thread around `model`.
	pub fn start(model: Llama, config: EngineConfig, metrics: Metrics) -> Arc<Self> {
		let (tx, rx) = mpsc::channel();
		let max_context = model.config().context_length;
		let vocab_size = model.config().vocab_size;
		let device = match model.device() {
			candle_core::Device::Cpu => "cpu".to_string(),
			d => format!("{:?}", d.location()),
		};
		thread::Builder::new()
			.name("tessera-engine".into())
			.spawn(move || EngineThread::new(model, config, metrics).run(rx))
			.expect("spawning the engine thread");
		Arc::new(Self { tx: parking_lot::Mutex::new(tx), next_seq: AtomicU64::new(1), max_context, vocab_size, device })
	}

	/// A fresh sequence id.
	pub fn new_seq(&self) -> SeqId {
		self.next_seq.fetch_add(1, Ordering::Relaxed)
	}

	/// The model's context length.
	pub fn max_context(&self) -> usize {
		self.max_context
	}

	/// The model's vocab size.
	pub fn vocab_size(&self) -> usize {
		self.vocab_size
	}

	/// The device, for humans (`cpu`, `Cuda { gpu_id: 0 }`).
	pub fn device(&self) -> &str {
		&self.device
	}

	/// Runs `work` in the next batch it fits in.
	pub async fn run(&self, work: Work) -> Answer {
		let (reply, answer) = oneshot::channel();
		if self.tx.lock().send(Msg::Run { work, reply }).is_err() {
			return Err(EngineError::Internal("engine stopped".into()));
		}
		answer.await.unwrap_or_else(|_| Err(EngineError::Internal("engine stopped".into())))
	}

	/// Frees the KV caches of `seqs` (unknown ids are ignored).
	pub fn drop_seqs(&self, seqs: Vec<SeqId>) {
		if !seqs.is_empty() {
			let _ = self.tx.lock().send(Msg::Drop(seqs));
		}
	}
}

struct Queued {
	priority: u64,
	arrival: u64,
	work: Work,
	reply: oneshot::Sender<Answer>,
}

impl PartialEq for Queued {
	fn eq(&self, other: &Self) -> bool {
		self.cmp(other) == std::cmp::Ordering::Equal
	}
}
impl Eq for Queued {}
impl PartialOrd for Queued {
	fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
		Some(self.cmp(other))
	}
}
impl Ord for Queued {
	/// Max-heap order: higher priority first, then earlier arrival.
	fn cmp(&self, other: &Self) -> std::cmp::Ordering {
		self.priority.cmp(&other.priority).then(other.arrival.cmp(&self.arrival))
	}
}

struct EngineThread {
	model: Llama,
	config: EngineConfig,
	metrics: Metrics,
	caches: HashMap<SeqId, SeqCache>,
	/// Sum of the caches' capacities.
	cached_tokens: usize,
	/// Whose the caches are.
	shares: KvShares,
	/// Documents evicted for a caller with a better claim, until their stream drops them.
	evicted: HashSet<SeqId>,
}

impl EngineThread {
	fn new(model: Llama, config: EngineConfig, metrics: Metrics) -> Self {
		let (caches, shares, evicted) = (HashMap::new(), KvShares::default(), HashSet::new());
		Self { model, config, metrics, caches, cached_tokens: 0, shares, evicted }
	}

	fn run(mut self, rx: mpsc::Receiver<Msg>) {
		let mut queue = BinaryHeap::new();
		let mut arrivals = 0u64;
		let mut accept = |msg: Msg, queue: &mut BinaryHeap<Queued>, this: &mut Self| match msg {
			Msg::Run { work, reply } => {
				arrivals += 1;
				queue.push(Queued { priority: work.priority, arrival: arrivals, work, reply });
			}
			Msg::Drop(seqs) => this.drop_seqs(&seqs),
		};
		loop {
			if queue.is_empty() {
				match rx.recv() {
					Ok(msg) => accept(msg, &mut queue, &mut self),
					Err(_) => return,
				}
				continue;
			}
			// Some work is queued: gather more for a bounded time, then run a batch. No
			// wait when every open document already has its next token queued: nothing
			// more can come before this batch is answered.
			let deadline = Instant::now() + self.config.batch_wait;
			loop {
				let queued_tokens: usize = queue.iter().map(|q| work_tokens(&q.work)).sum();
				if queued_tokens >= self.config.max_batch_tokens || self.all_open_queued(&queue) {
					break;
				}
				let left = deadline.saturating_duration_since(Instant::now());
				match rx.recv_timeout(left) {
					Ok(msg) => accept(msg, &mut queue, &mut self),
					Err(mpsc::RecvTimeoutError::Timeout) => break,
					Err(mpsc::RecvTimeoutError::Disconnected) => break,
				}
			}
			while let Ok(msg) = rx.try_recv() {
				accept(msg, &mut queue, &mut self);
			}
			self.metrics.queue_depth.set(queue.len() as i64);
			let batch = self.take_batch(&mut queue);
			self.run_batch(batch);
			self.metrics.queue_depth.set(queue.len() as i64);
		}
	}

	/// Whether there are open documents and every one has work in `queue` (new documents
	/// still wait `batch_wait` for company: their prefixes batch well).
	fn all_open_queued(&self, queue: &BinaryHeap<Queued>) -> bool {
		let queued_open = queue.iter().flat_map(|q| q.work.items.iter()).filter(|i| self.caches.contains_key(&i.seq)).count();
		!self.caches.is_empty() && queued_open >= self.caches.len()
	}

	fn drop_seqs(&mut self, seqs: &[SeqId]) {
		for s in seqs {
			self.evicted.remove(s);
			self.shares.remove(*s);
			if let Some(c) = self.caches.remove(s) {
				self.cached_tokens -= c.capacity();
			}
		}
		self.publish_cache_gauges();
	}

	/// Frees `seq`'s cache for another caller; its next request is refused.
	fn evict(&mut self, seq: SeqId) {
		self.shares.remove(seq);
		if let Some(c) = self.caches.remove(&seq) {
			self.cached_tokens -= c.capacity();
		}
		self.evicted.insert(seq);
		self.metrics.evictions.inc();
	}

	fn publish_cache_gauges(&self) {
		self.metrics.open_documents.set(self.caches.len() as i64);
		self.metrics.cached_tokens.set(self.cached_tokens as i64);
	}

	/// The highest-priority work that fits one pass (always at least one request).
	fn take_batch(&mut self, queue: &mut BinaryHeap<Queued>) -> Vec<Queued> {
		let mut batch = Vec::new();
		let (mut tokens, mut seqs) = (0, 0);
		let mut skipped = Vec::new();
		while let Some(q) = queue.pop() {
			let (t, s) = (work_tokens(&q.work), q.work.items.len());
			let fits = tokens + t <= self.config.max_batch_tokens && seqs + s <= self.config.max_batch_sequences;
			if batch.is_empty() || fits {
				tokens += t;
				seqs += s;
				batch.push(q);
			} else {
				skipped.push(q);
				if skipped.len() > 64 {
					break;
				}
			}
		}
		queue.extend(skipped);
		batch
	}

	/// Checks one request against the context and the cache budget before it runs,
	/// taking memory back from callers above their share when the cache is full (never
	/// from `protected`, the documents of this batch), and reserves its cache growth in
	/// `reserved`. `Err` refuses the request alone.
	fn admit(&mut self, work: &Work, reserved: &mut usize, protected: &HashSet<SeqId>) -> Result<(), EngineError> {
		if work.items.iter().any(|i| self.evicted.contains(&i.seq)) {
			return Err(EngineError::Exhausted(
				"the document was evicted for a validator with a better claim to the KV cache; open it again".into(),
			));
		}
		let max_context = self.model.config().context_length;
		let mut growth = 0usize;
		for item in &work.items {
			let cached = self.caches.get(&item.seq);
			let len = cached.map_or(0, SeqCache::len) + item.tokens.len();
			if len > max_context {
				return Err(EngineError::OutOfRange(format!(
					"document would hold {len} tokens, more than the model's context of {max_context}"
				)));
			}
			let capacity = cached.map_or(0, SeqCache::capacity);
			if len > capacity {
				growth += len.next_power_of_two().max(64) - capacity;
			}
		}
		self.shares.note(work.caller, work.priority, work.share);
		let free = self.config.max_cached_tokens.saturating_sub(self.cached_tokens + *reserved);
		let need = growth.saturating_sub(free);
		let Some(victims) = self.shares.plan(&work.caller, work.priority, growth, need, protected) else {
			return Err(EngineError::Exhausted(format!(
				"{} of {} KV cache tokens in use ({} by this validator, whose share is {}), the request needs {growth} more; \
				 retry later or open fewer documents",
				self.cached_tokens + *reserved,
				self.config.max_cached_tokens,
				self.shares.used(&work.caller),
				work.share
			)));
		};
		if !victims.is_empty() {
			tracing::info!(documents = victims.len(), tokens = need, "KV cache taken back from callers above their share");
		}
		for seq in victims {
			self.evict(seq);
		}
		*reserved += growth;
		Ok(())
	}

	fn run_batch(&mut self, batch: Vec<Queued>) {
		let started = Instant::now();
		let mut admitted = Vec::with_capacity(batch.len());
		let mut protected: HashSet<SeqId> = HashSet::new();
		let mut reserved = 0usize;
		for q in batch {
			protected.extend(q.work.items.iter().map(|i| i.seq));
			match self.admit(&q.work, &mut reserved, &protected) {
				Ok(()) => admitted.push(q),
				Err(e) => {
					self.drop_seqs(&q.work.items.iter().map(|i| i.seq).collect::<Vec<_>>());
					let _ = q.reply.send(Err(e));
				}
			}
		}
		if admitted.is_empty() {
			return;
		}
		// Take the caches out of the map so the forward pass can borrow them all mutably.
		let mut caches: Vec<SeqCache> = admitted
			.iter()
			.flat_map(|q| q.work.items.iter())
			.map(|item| self.caches.remove(&item.seq).unwrap_or_else(|| self.model.new_cache()))
			.collect();
		let before: usize = caches.iter().map(SeqCache::capacity).sum();
		let seqs: Vec<SeqId> = admitted.iter().flat_map(|q| q.work.items.iter().map(|i| i.seq)).collect();
		let token_count: usize = admitted.iter().map(|q| work_tokens(&q.work)).sum();
		let result = {
			let mut extends: Vec<Extend<'_>> = admitted
				.iter()
				.flat_map(|q| q.work.items.iter())
				.zip(caches.iter_mut())
				.map(|(item, cache)| Extend { tokens: &item.tokens, cache })
				.collect();
			self.model.forward(&mut extends).and_then(|logits| Ok(logits.to_vec2::<f32>()?))
		};
		let after: usize = caches.iter().map(SeqCache::capacity).sum();
		self.cached_tokens = self.cached_tokens + after - before;

		// Replies go out after the metrics and gauges are updated, so a caller that has
		// its answer sees them count it.
		let replies: Vec<_> = match result {
			Ok(rows) => {
				let owners = admitted.iter().flat_map(|q| q.work.items.iter().map(|_| q.work.caller));
				for ((seq, cache), owner) in seqs.iter().zip(caches).zip(owners) {
					self.shares.set(*seq, owner, cache.capacity());
					self.caches.insert(*seq, cache);
				}
				// Every row's top-K at once, in parallel (each is a pass over the vocabulary).
				let ks: Vec<usize> = admitted.iter().flat_map(|q| q.work.items.iter().map(|i| i.top_k as usize)).collect();
				let answers: Vec<TopK> = rows.par_iter().zip(&ks).map(|(row, &k)| top_k(row, k)).collect();
				let mut answers = answers.into_iter();
				admitted
					.into_iter()
					.map(|q| {
						let answer: Vec<TopK> = answers.by_ref().take(q.work.items.len()).collect();
						self.metrics.tokens_scored.inc_by(answer.len() as u64);
						(q.reply, Ok(answer))
					})
					.collect()
			}
			Err(e) => {
				// The caches were not extended, but the requests are refused: drop them.
				self.cached_tokens -= caches.iter().map(SeqCache::capacity).sum::<usize>();
				for seq in &seqs {
					self.shares.remove(*seq);
				}
				tracing::error!(error = %e, "forward pass failed");
				let e = match e {
					ModelError::ContextExceeded { .. } | ModelError::TokenOutOfVocab { .. } => EngineError::OutOfRange(e.to_string()),
					e => EngineError::Internal(e.to_string()),
				};
				admitted.into_iter().map(|q| (q.reply, Err(e.clone()))).collect()
			}
		};
		self.metrics.tokens_processed.inc_by(token_count as u64);
		self.metrics.batch_sequences.observe(seqs.len() as f64);
		self.metrics.batch_tokens.observe(token_count as f64);
		self.metrics.batch_seconds.observe(started.elapsed().as_secs_f64());
		self.publish_cache_gauges();
		for (reply, answer) in replies {
			let _ = reply.send(answer);
		}
	}
}

fn work_tokens(work: &Work) -> usize {
	work.items.iter().map(|i| i.tokens.len()).sum()
}

#[cfg(test)]
mod tests {
	use super::*;
	use crate::gguf::{write_random_llama, RandomLlama};

	fn queued(priority: u64, arrival: u64, tokens: usize) -> Queued {
		let (reply, _) = oneshot::channel();
		let items = vec![WorkItem { seq: arrival, tokens: vec![1; tokens], top_k: 1 }];
		let work = Work { priority, caller: [0; 32], share: usize::MAX, items };
		Queued { priority, arrival, work, reply }
	}

	#[test]
	fn batches_take_the_highest_stake_first_then_the_oldest() {
		let dir = tempfile::tempdir().unwrap();
		let path = dir.path().join("m.gguf");
		write_random_llama(&path, &RandomLlama::default(), None).unwrap();
		let model = Llama::load_gguf(&path, &candle_core::Device::Cpu, crate::WeightFormat::Auto).unwrap();
		let config = EngineConfig { max_batch_sequences: 2, max_batch_tokens: 100, ..Default::default() };
		let mut engine = EngineThread::new(model, config, Metrics::new());
		let mut queue: BinaryHeap<Queued> =
			[queued(5, 1, 1), queued(50, 2, 1), queued(10, 3, 1), queued(10, 4, 1)].into_iter().collect();
		let order = |b: Vec<Queued>| b.iter().map(|q| (q.priority, q.arrival)).collect::<Vec<_>>();
		assert_eq!(order(engine.take_batch(&mut queue)), vec![(50, 2), (10, 3)]);
		assert_eq!(order(engine.take_batch(&mut queue)), vec![(10, 4), (5, 1)]);
		// A request larger than the token budget still runs, alone.
		let mut queue: BinaryHeap<Queued> = [queued(1, 1, 500), queued(0, 2, 1)].into_iter().collect();
		assert_eq!(order(engine.take_batch(&mut queue)), vec![(1, 1)]);
		assert_eq!(queue.len(), 1);
	}
}
