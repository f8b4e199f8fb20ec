//! The model file on the wire: its hash, `FetchModel` chunking (miner side) and
//! checking (validator side).
//!
//! A model hash is BLAKE2b-256 (32-byte output, no key) of the model file's bytes: the
//! `H256` a miner commits on-chain with `commit_model`, `InfoResponse.model_hash`, and
//! the hash in the last `ModelChunk`.

use prost::bytes::Bytes;
use tonic::Status;

use crate::{
	limits::{DEFAULT_CHUNK_BYTES, MAX_CHUNK_BYTES},
	v1::{FetchModelRequest, ModelChunk},
};

/// BLAKE2b-256 of a whole model file held in memory.
pub fn model_hash(file: &[u8]) -> [u8; 32] {
	crate::blake2_256(file)
}

/// Incremental BLAKE2b-256, for files read or received in pieces.
#[derive(Clone)]
pub struct ModelHasher(blake2b_simd::State);

impl Default for ModelHasher {
	fn default() -> Self {
		Self::new()
	}
}

impl ModelHasher {
	/// An empty hasher.
	pub fn new() -> Self {
		Self(blake2b_simd::Params::new().hash_length(32).to_state())
	}

	/// Feeds the next bytes of the file.
	pub fn update(&mut self, data: &[u8]) {
		self.0.update(data);
	}

	/// The hash of everything fed so far.
	pub fn finalize(&self) -> [u8; 32] {
		let mut out = [0u8; 32];
		out.copy_from_slice(self.0.finalize().as_bytes());
		out
	}
}

/// Miner side: the chunks answering `req` for the model `file` whose hash is
/// `model_hash`. `Err` is the status to answer with: `FAILED_PRECONDITION` if the
/// request expects another model hash, `INVALID_ARGUMENT` if that hash is not 32 bytes,
/// `OUT_OF_RANGE` if the offset lies past the end. Chunks slice `file` without copying.
///
/// ```
/// # use tessera_proto::{model::{model_chunks, model_hash}, v1::FetchModelRequest};
/// let file = prost::bytes::Bytes::from(vec![7u8; 1000]);
/// let req = FetchModelRequest { chunk_size: 400, ..Default::default() };
/// let chunks: Vec<_> = model_chunks(file.clone(), model_hash(&file), &req).unwrap().collect();
/// assert_eq!(chunks.iter().map(|c| c.data.len()).collect::<Vec<_>>(), [400, 400, 200]);
/// assert_eq!(chunks[2].model_hash, model_hash(&file));
/// ```
pub fn model_chunks(file: Bytes, model_hash: [u8; 32], req: &FetchModelRequest) -> Result<ModelChunks, Status> {
	if !req.model_hash.is_empty() {
		if req.model_hash.len() != 32 {
			return Err(Status::invalid_argument(format!(
				"fetch_model.model_hash: {} bytes, expected 32 (or none)",
				req.model_hash.len()
			)));
		}
		if req.model_hash[..] != model_hash[..] {
			return Err(Status::failed_precondition(format!(
				"this miner serves model 0x{}, not 0x{}",
				hex::encode(model_hash),
				hex::encode(&req.model_hash)
			)));
		}
	}
	let total = file.len() as u64;
	if req.offset > total {
		return Err(Status::out_of_range(format!(
			"fetch_model.offset {} is past the end of the {total}-byte file",
			req.offset
		)));
	}
	let chunk = match req.chunk_size as usize {
		0 => DEFAULT_CHUNK_BYTES,
		n => n.min(MAX_CHUNK_BYTES),
	};
	Ok(ModelChunks { file, model_hash, offset: req.offset as usize, chunk, done: false })
}

/// Iterator over the chunks of one `FetchModel` answer (see [`model_chunks`]).
#[derive(Debug, Clone)]
pub struct ModelChunks {
	file: Bytes,
	model_hash: [u8; 32],
	offset: usize,
	chunk: usize,
	done: bool,
}

impl Iterator for ModelChunks {
	type Item = ModelChunk;

	fn next(&mut self) -> Option<ModelChunk> {
		if self.done {
			return None;
		}
		let end = (self.offset + self.chunk).min(self.file.len());
		let last = end == self.file.len();
		let chunk = ModelChunk {
			offset: self.offset as u64,
			data: self.file.slice(self.offset..end),
			total_size: self.file.len() as u64,
			model_hash: if last { self.model_hash.to_vec() } else { Vec::new() },
		};
		self.offset = end;
		self.done = last;
		Some(chunk)
	}
}

/// Why a received model stream is not the committed file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
	/// A chunk does not start where the previous one ended.
	#[error("chunk at offset {got}, expected offset {expected}")]
	OutOfOrder {
		/// Where the next chunk must start.
		expected: u64,
		/// Where it started.
		got: u64,
	},
	/// `total_size` changed between chunks.
	#[error("total size changed from {first} to {now}")]
	SizeChanged {
		/// The size announced first.
		first: u64,
		/// The size announced now.
		now: u64,
	},
	/// The file is larger than the caller accepts.
	#[error("model of {size} bytes exceeds the limit of {limit}")]
	TooLarge {
		/// Announced size.
		size: u64,
		/// The caller's limit.
		limit: u64,
	},
	/// A chunk reaches past `total_size`.
	#[error("chunk ends at {end}, past the total size {total}")]
	PastEnd {
		/// Where the chunk ends.
		end: u64,
		/// The announced size.
		total: u64,
	},
	/// An empty chunk that is not the last one.
	#[error("empty chunk at offset {0}")]
	Empty(u64),
	/// A hash where none belongs, or a last chunk without a 32-byte hash.
	#[error("misplaced or malformed model hash in chunk at offset {0}")]
	BadHashField(u64),
	/// A chunk after the last one.
	#[error("chunk after the end of the file")]
	AfterEnd,
	/// The bytes received do not hash to the hash the miner announced.
	#[error("received bytes hash to 0x{}, the miner announced 0x{}", hex::encode(computed), hex::encode(announced))]
	HashMismatch {
		/// Hash in the last chunk.
		announced: [u8; 32],
		/// Hash of the bytes received.
		computed: [u8; 32],
	},
	/// The file is complete and consistent but is not the model the caller expected
	/// (the on-chain commitment).
	#[error("model hash 0x{}, expected 0x{}", hex::encode(got), hex::encode(expected))]
	NotCommitted {
		/// The hash the caller expected.
		expected: [u8; 32],
		/// The file's hash.
		got: [u8; 32],
	},
	/// The stream ended before the last chunk.
	#[error("stream ended at offset {0} before the last chunk")]
	Incomplete(u64),
}

/// Validator side: checks a `FetchModel` stream chunk by chunk (order, sizes, running
/// hash) without storing it; the caller writes `chunk.data` wherever it likes after
/// [`ModelDownload::push`] accepted it.
#[derive(Clone)]
pub struct ModelDownload {
	hasher: ModelHasher,
	next_offset: u64,
	total: Option<u64>,
	max_size: u64,
	expected: Option<[u8; 32]>,
	finished: Option<[u8; 32]>,
}

impl ModelDownload {
	/// A download from offset 0 of a file of at most `max_size` bytes, which must hash to
	/// `expected` (the on-chain commitment) if given.
	pub fn new(expected: Option<[u8; 32]>, max_size: u64) -> Self {
		Self { hasher: ModelHasher::new(), next_offset: 0, total: None, max_size, expected, finished: None }
	}

	/// A download resumed after `prefix`, the bytes already held (request
	/// `offset = prefix.len()`).
	pub fn resume(prefix: &[u8], expected: Option<[u8; 32]>, max_size: u64) -> Self {
		let mut d = Self::new(expected, max_size);
		d.hasher.update(prefix);
		d.next_offset = prefix.len() as u64;
		d
	}

	/// The offset the next chunk must start at (the bytes accepted so far).
	pub fn next_offset(&self) -> u64 {
		self.next_offset
	}

	/// Total size announced by the miner, once a chunk arrived.
	pub fn total_size(&self) -> Option<u64> {
		self.total
	}

	/// Checks the next chunk. Returns the file's hash when `chunk` was the last one and
	/// everything matched, `None` while more must come.
	pub fn push(&mut self, chunk: &ModelChunk) -> Result<Option<[u8; 32]>, ModelError> {
		if self.finished.is_some() {
			return Err(ModelError::AfterEnd);
		}
		if chunk.offset != self.next_offset {
			return Err(ModelError::OutOfOrder { expected: self.next_offset, got: chunk.offset });
		}
		let total = *self.total.get_or_insert(chunk.total_size);
		if chunk.total_size != total {
			return Err(ModelError::SizeChanged { first: total, now: chunk.total_size });
		}
		if total > self.max_size {
			return Err(ModelError::TooLarge { size: total, limit: self.max_size });
		}
		let end = chunk.offset.saturating_add(chunk.data.len() as u64);
		if end > total {
			return Err(ModelError::PastEnd { end, total });
		}
		let last = end == total;
		if chunk.data.is_empty() && !last {
			return Err(ModelError::Empty(chunk.offset));
		}
		if last != (chunk.model_hash.len() == 32) || (!last && !chunk.model_hash.is_empty()) {
			return Err(ModelError::BadHashField(chunk.offset));
		}
		self.hasher.update(&chunk.data);
		self.next_offset = end;
		if !last {
			return Ok(None);
		}
		let mut announced = [0u8; 32];
		announced.copy_from_slice(&chunk.model_hash);
		let computed = self.hasher.finalize();
		if computed != announced {
			return Err(ModelError::HashMismatch { announced, computed });
		}
		if let Some(expected) = self.expected {
			if expected != computed {
				return Err(ModelError::NotCommitted { expected, got: computed });
			}
		}
		self.finished = Some(computed);
		Ok(Some(computed))
	}

	/// The verified hash after the last chunk; `Incomplete` before.
	pub fn finish(&self) -> Result<[u8; 32], ModelError> {
		self.finished.ok_or(ModelError::Incomplete(self.next_offset))
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use tonic::Code;

	fn file(n: usize) -> Bytes {
		Bytes::from((0..n).map(|i| (i * 31 % 251) as u8).collect::<Vec<_>>())
	}

	fn req(offset: u64, chunk_size: u32) -> FetchModelRequest {
		FetchModelRequest { offset, chunk_size, model_hash: Vec::new() }
	}

	#[test]
	fn incremental_hash_matches_one_shot() {
		let f = file(10_000);
		let mut h = ModelHasher::new();
		for piece in f.chunks(777) {
			h.update(piece);
		}
		assert_eq!(h.finalize(), model_hash(&f));
	}

	#[test]
	fn chunks_round_trip() {
		for (size, chunk_size) in [(1_100_000, 0), (1_100_000, 65_536), (1_100_000, u32::MAX), (50, 1), (4096, 4096)] {
			let f = file(size);
			let hash = model_hash(&f);
			let chunks: Vec<_> = model_chunks(f.clone(), hash, &req(0, chunk_size)).unwrap().collect();
			assert!(chunks.iter().all(|c| !c.data.is_empty() && c.data.len() <= MAX_CHUNK_BYTES));
			assert_eq!(
				chunks.len(),
				size.div_ceil(if chunk_size == 0 {
					DEFAULT_CHUNK_BYTES
				} else {
					(chunk_size as usize).min(MAX_CHUNK_BYTES)
				})
			);
			let mut dl = ModelDownload::new(Some(hash), 2_000_000);
			let mut out = Vec::new();
			let mut done = None;
			for c in &chunks {
				done = dl.push(c).unwrap();
				out.extend_from_slice(&c.data);
			}
			assert_eq!(done, Some(hash));
			assert_eq!(dl.finish().unwrap(), hash);
			assert_eq!(out, f);
			assert_eq!(dl.push(&chunks[0]), Err(ModelError::AfterEnd));
		}
	}

	#[test]
	fn resumes_and_handles_edges() {
		let f = file(5000);
		let hash = model_hash(&f);
		let chunks: Vec<_> = model_chunks(f.clone(), hash, &req(3000, 1000)).unwrap().collect();
		assert_eq!(chunks.len(), 2);
		let mut dl = ModelDownload::resume(&f[..3000], Some(hash), 5000);
		assert_eq!(dl.push(&chunks[0]).unwrap(), None);
		assert_eq!(dl.push(&chunks[1]).unwrap(), Some(hash));
		// Offset == size: one empty last chunk carrying the hash.
		let chunks: Vec<_> = model_chunks(f.clone(), hash, &req(5000, 0)).unwrap().collect();
		assert_eq!(chunks.len(), 1);
		assert!(chunks[0].data.is_empty());
		assert_eq!(ModelDownload::resume(&f, None, 5000).push(&chunks[0]).unwrap(), Some(hash));
		// Empty file.
		let empty = Bytes::new();
		let chunks: Vec<_> = model_chunks(empty.clone(), model_hash(&empty), &req(0, 0)).unwrap().collect();
		assert_eq!(chunks.len(), 1);
		assert_eq!(ModelDownload::new(None, 0).push(&chunks[0]).unwrap(), Some(model_hash(&[])));
	}

	#[test]
	fn miner_refuses_bad_requests() {
		let f = file(100);
		let hash = model_hash(&f);
		assert_eq!(model_chunks(f.clone(), hash, &req(101, 0)).unwrap_err().code(), Code::OutOfRange);
		let other = FetchModelRequest { model_hash: vec![0; 32], ..req(0, 0) };
		assert_eq!(model_chunks(f.clone(), hash, &other).unwrap_err().code(), Code::FailedPrecondition);
		let short = FetchModelRequest { model_hash: vec![0; 31], ..req(0, 0) };
		assert_eq!(model_chunks(f.clone(), hash, &short).unwrap_err().code(), Code::InvalidArgument);
		let same = FetchModelRequest { model_hash: hash.to_vec(), ..req(0, 0) };
		assert_eq!(model_chunks(f, hash, &same).unwrap().count(), 1);
	}

	#[test]
	fn download_refuses_bad_streams() {
		let f = file(3000);
		let hash = model_hash(&f);
		let chunks: Vec<_> = model_chunks(f.clone(), hash, &req(0, 1000)).unwrap().collect();
		let fresh = || ModelDownload::new(Some(hash), 3000);
		assert_eq!(fresh().push(&chunks[1]), Err(ModelError::OutOfOrder { expected: 0, got: 1000 }));
		let mut d = fresh();
		d.push(&chunks[0]).unwrap();
		let mut c = chunks[1].clone();
		c.total_size = 4000;
		assert_eq!(d.push(&c), Err(ModelError::SizeChanged { first: 3000, now: 4000 }));
		assert_eq!(
			ModelDownload::new(None, 2999).push(&chunks[0]),
			Err(ModelError::TooLarge { size: 3000, limit: 2999 })
		);
		let mut c = chunks[2].clone();
		c.data = Bytes::from(vec![0u8; 1001]);
		let mut d = fresh();
		d.push(&chunks[0]).unwrap();
		d.push(&chunks[1]).unwrap();
		assert_eq!(d.clone().push(&c), Err(ModelError::PastEnd { end: 3001, total: 3000 }));
		// Tampered bytes in the last chunk.
		let mut c = chunks[2].clone();
		let mut data = c.data.to_vec();
		data[0] ^= 1;
		c.data = Bytes::from(data);
		assert!(matches!(d.clone().push(&c), Err(ModelError::HashMismatch { .. })));
		// Last chunk without a hash; a hash in a middle chunk.
		let mut c = chunks[2].clone();
		c.model_hash.clear();
		assert_eq!(d.clone().push(&c), Err(ModelError::BadHashField(2000)));
		let mut c = chunks[0].clone();
		c.model_hash = hash.to_vec();
		assert_eq!(fresh().push(&c), Err(ModelError::BadHashField(0)));
		let mut c = chunks[0].clone();
		c.data = Bytes::new();
		assert_eq!(fresh().push(&c), Err(ModelError::Empty(0)));
		// Consistent stream of another model than the commitment.
		let mut d = ModelDownload::new(Some([9; 32]), 3000);
		d.push(&chunks[0]).unwrap();
		d.push(&chunks[1]).unwrap();
		assert_eq!(d.finish(), Err(ModelError::Incomplete(2000)));
		assert_eq!(d.push(&chunks[2]), Err(ModelError::NotCommitted { expected: [9; 32], got: hash }));
	}
}
