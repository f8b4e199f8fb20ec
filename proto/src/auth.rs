//! The signing envelope: who sent a request, to whom, when, and over which body.
//!
//! Every request carries five ASCII gRPC metadata entries ([`header`]):
//!
//! | key                 | value                                                         |
//! |---------------------|---------------------------------------------------------------|
//! | `tessera-caller`    | caller hotkey: SS58 (any prefix) or 32-byte hex public key    |
//! | `tessera-target`    | the miner's hotkey, same encodings                            |
//! | `tessera-nonce`     | decimal `u64`, unique per caller (unix time, ns)              |
//! | `tessera-body-hash` | `0x` + hex of the 32-byte BLAKE2b-256 body hash               |
//! | `tessera-signature` | `0x` + hex of the 64-byte sr25519 signature                   |
//!
//! The signature is sr25519 with signing context `b"substrate"` (what
//! `subxt_signer::sr25519::Keypair::sign`, `sp_core::sr25519::Pair::sign` and
//! polkadot.js `sign` use) over [`signing_payload`]: the SCALE encoding of the tuple
//! `(DOMAIN_TAG: [u8; 10], method: String, caller: [u8; 32], target: [u8; 32], nonce: u64,
//! body_hash: [u8; 32])`, i.e. the bytes `"tessera/v1"`, the compact length of the method
//! path and its UTF-8 bytes, the two public keys, the nonce little-endian, the hash.
//! `method` is the full gRPC path (see [`crate::method`]).
//!
//! The body hash is BLAKE2b-256 of:
//! - for unary requests (`Info`, `FetchModel`): the protobuf encoding of the request
//!   message ([`unary_body_hash`]). The miner re-encodes the message it decoded, so a
//!   client must not set fields the miner does not know (they would be dropped and the
//!   hash would differ);
//! - for the `Evaluate` stream, whose messages follow the headers: the UTF-8 method path
//!   ([`stream_body_hash`]). The envelope then authenticates who opened the stream; the
//!   messages on it belong to that HTTP/2 stream (use TLS where the path between the
//!   parties is not trusted).
//!
//! Binding the target stops a miner from replaying a validator's request to another
//! miner; the nonce and freshness window stop replays to the same miner. A caller's
//! concurrent requests may arrive out of order (a model download signed just before a
//! round's stream, on another connection), so the miner accepts any fresh nonce it has
//! not seen from that caller among its last [`REPLAY_WINDOW`] accepted ones and above
//! the oldest of them; a replay is refused whatever the order.

use std::{
	collections::HashMap,
	fmt,
	sync::{
		atomic::{AtomicU64, Ordering},
		Arc,
	},
	time::{Duration, SystemTime, UNIX_EPOCH},
};

use codec::Encode;
use parking_lot::Mutex;
use subxt_signer::sr25519::{self, Keypair};
use tonic::{
	metadata::{MetadataMap, MetadataValue},
	Code, Request, Status,
};

use crate::{blake2_256, Hotkey};

/// Domain separation tag, first in every signed payload.
pub const DOMAIN_TAG: [u8; 10] = *b"tessera/v1";

/// Metadata keys of the envelope.
pub mod header {
	/// Caller hotkey.
	pub const CALLER: &str = "tessera-caller";
	/// Target (miner) hotkey.
	pub const TARGET: &str = "tessera-target";
	/// Nonce, decimal u64.
	pub const NONCE: &str = "tessera-nonce";
	/// Body hash, 0x-hex.
	pub const BODY_HASH: &str = "tessera-body-hash";
	/// Signature, 0x-hex.
	pub const SIGNATURE: &str = "tessera-signature";
}

/// How old a nonce (as unix nanoseconds) may be against the miner's clock.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(60);
/// How far ahead of the miner's clock a nonce may be (clock skew).
pub const DEFAULT_MAX_FUTURE: Duration = Duration::from_secs(15);
/// How many callers' nonces a [`Verifier`] remembers.
pub const DEFAULT_MAX_CALLERS: usize = 65_536;
/// How many of a caller's most recent accepted nonces a [`Verifier`] keeps, so that up
/// to this many requests in flight at once may arrive in any order.
pub const REPLAY_WINDOW: usize = 16;

/// Current unix time in nanoseconds (0 before 1970).
pub fn unix_nanos() -> u64 {
	SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
}

/// A fresh nonce: the current unix time in nanoseconds, but always above every nonce this
/// process handed out before (so two requests signed in the same nanosecond, or after the
/// clock stepped back, still get increasing nonces).
pub fn next_nonce() -> u64 {
	static LAST: AtomicU64 = AtomicU64::new(0);
	let now = unix_nanos();
	let prev = LAST
		.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |last| Some(now.max(last.saturating_add(1))))
		.expect("closure always returns Some");
	now.max(prev.saturating_add(1))
}

/// The bytes that are signed (see the module docs).
pub fn signing_payload(method: &str, caller: &Hotkey, target: &Hotkey, nonce: u64, body_hash: &[u8; 32]) -> Vec<u8> {
	(DOMAIN_TAG, method, caller.0, target.0, nonce, *body_hash).encode()
}

/// Body hash of a unary request: BLAKE2b-256 of its protobuf encoding.
pub fn unary_body_hash<M: prost::Message>(msg: &M) -> [u8; 32] {
	blake2_256(&msg.encode_to_vec())
}

/// Body hash of a streaming request: BLAKE2b-256 of the method path.
pub fn stream_body_hash(method: &str) -> [u8; 32] {
	blake2_256(method.as_bytes())
}

/// A request's signed envelope.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Envelope {
	/// Who signed.
	pub caller: Hotkey,
	/// The miner the request is for.
	pub target: Hotkey,
	/// Strictly increasing per caller; unix time in nanoseconds.
	pub nonce: u64,
	/// BLAKE2b-256 of the body (see the module docs).
	pub body_hash: [u8; 32],
	/// sr25519 signature of [`signing_payload`] by `caller`.
	pub signature: [u8; 64],
}

impl fmt::Debug for Envelope {
	fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
		f.debug_struct("Envelope")
			.field("caller", &self.caller)
			.field("target", &self.target)
			.field("nonce", &self.nonce)
			.field("body_hash", &format_args!("0x{}", hex::encode(self.body_hash)))
			.field("signature", &format_args!("0x{}", hex::encode(self.signature)))
			.finish()
	}
}

/// Signs a request for `target`'s `method` with `body` (the bytes whose hash is signed:
/// the encoded message for unary calls, the method path for streams) and a fresh nonce
/// from [`next_nonce`].
pub fn sign_request(keypair: &Keypair, target: &Hotkey, method: &str, body: &[u8]) -> Envelope {
	sign_with_nonce(keypair, target, method, blake2_256(body), next_nonce())
}

/// Signs a request with a given body hash and nonce.
pub fn sign_with_nonce(keypair: &Keypair, target: &Hotkey, method: &str, body_hash: [u8; 32], nonce: u64) -> Envelope {
	let caller = Hotkey::of(keypair);
	let signature = keypair.sign(&signing_payload(method, &caller, target, nonce, &body_hash)).0;
	Envelope { caller, target: *target, nonce, body_hash, signature }
}

/// A unary request carrying `msg`, signed by `keypair` for `target`'s `method`.
pub fn signed_unary<M: prost::Message>(keypair: &Keypair, target: &Hotkey, method: &str, msg: M) -> Request<M> {
	let env = sign_with_nonce(keypair, target, method, unary_body_hash(&msg), next_nonce());
	let mut req = Request::new(msg);
	env.insert_into(req.metadata_mut());
	req
}

/// A streaming request over `stream`, signed by `keypair` for `target`'s `method`.
pub fn signed_stream<S>(keypair: &Keypair, target: &Hotkey, method: &str, stream: S) -> Request<S> {
	let env = sign_with_nonce(keypair, target, method, stream_body_hash(method), next_nonce());
	let mut req = Request::new(stream);
	env.insert_into(req.metadata_mut());
	req
}

fn ascii(s: String) -> MetadataValue<tonic::metadata::Ascii> {
	MetadataValue::try_from(s).expect("ss58, decimal and hex are visible ASCII")
}

fn one<'a>(md: &'a MetadataMap, key: &'static str) -> Result<&'a str, AuthError> {
	let mut values = md.get_all(key).iter();
	let value = values.next().ok_or(AuthError::Missing(key))?;
	if values.next().is_some() {
		return Err(AuthError::Malformed { key, reason: "given more than once".into() });
	}
	value.to_str().map_err(|_| AuthError::Malformed { key, reason: "not visible ASCII".into() })
}

fn hex_array<const N: usize>(key: &'static str, s: &str) -> Result<[u8; N], AuthError> {
	let digits = s.strip_prefix("0x").unwrap_or(s);
	let mut out = [0u8; N];
	hex::decode_to_slice(digits, &mut out)
		.map_err(|_| AuthError::Malformed { key, reason: format!("expected {N} bytes as hex") })?;
	Ok(out)
}

impl Envelope {
	/// Writes the envelope into request metadata (replacing earlier values).
	pub fn insert_into(&self, md: &mut MetadataMap) {
		md.insert(header::CALLER, ascii(self.caller.to_ss58()));
		md.insert(header::TARGET, ascii(self.target.to_ss58()));
		md.insert(header::NONCE, ascii(self.nonce.to_string()));
		md.insert(header::BODY_HASH, ascii(format!("0x{}", hex::encode(self.body_hash))));
		md.insert(header::SIGNATURE, ascii(format!("0x{}", hex::encode(self.signature))));
	}

	/// Reads the envelope from request metadata: every entry present once and well
	/// formed. Checks nothing else.
	pub fn from_metadata(md: &MetadataMap) -> Result<Self, AuthError> {
		let key = |k: &'static str| -> Result<Hotkey, AuthError> {
			Hotkey::parse(one(md, k)?).map_err(|e| AuthError::Malformed { key: k, reason: e.to_string() })
		};
		let caller = key(header::CALLER)?;
		let target = key(header::TARGET)?;
		let nonce = one(md, header::NONCE)?;
		if nonce.is_empty() || !nonce.bytes().all(|b| b.is_ascii_digit()) {
			return Err(AuthError::Malformed { key: header::NONCE, reason: "expected a decimal u64".into() });
		}
		let nonce = nonce
			.parse::<u64>()
			.map_err(|_| AuthError::Malformed { key: header::NONCE, reason: "expected a decimal u64".into() })?;
		let body_hash = hex_array::<32>(header::BODY_HASH, one(md, header::BODY_HASH)?)?;
		let signature = hex_array::<64>(header::SIGNATURE, one(md, header::SIGNATURE)?)?;
		Ok(Self { caller, target, nonce, body_hash, signature })
	}

	/// Whether `signature` is `caller`'s signature of this envelope for `method`.
	pub fn signature_valid(&self, method: &str) -> bool {
		let payload = signing_payload(method, &self.caller, &self.target, self.nonce, &self.body_hash);
		sr25519::verify(&sr25519::Signature(self.signature), payload, &self.caller.public_key())
	}
}

/// Why a request's envelope was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
	/// A metadata entry is absent (an unsigned request).
	#[error("unsigned request: metadata {0:?} missing")]
	Missing(&'static str),
	/// A metadata entry cannot be parsed.
	#[error("malformed metadata {key:?}: {reason}")]
	Malformed {
		/// The entry.
		key: &'static str,
		/// What is wrong with it.
		reason: String,
	},
	/// The request is signed for another miner.
	#[error("request addressed to {got}, this miner is {expected}")]
	WrongTarget {
		/// This miner.
		expected: Hotkey,
		/// The signed target.
		got: Hotkey,
	},
	/// The signed body hash is not the hash of the body received.
	#[error("body hash does not match the request body")]
	BodyHashMismatch,
	/// The nonce (unix ns) is older than the freshness window.
	#[error("stale request: nonce is {age_ms} ms old, more than {max_ms} ms")]
	Stale {
		/// Age against the miner's clock.
		age_ms: u64,
		/// The window.
		max_ms: u64,
	},
	/// The nonce (unix ns) lies too far ahead of the miner's clock.
	#[error("nonce is {ahead_ms} ms in the future, more than {max_ms} ms (clock skew?)")]
	FromFuture {
		/// How far ahead.
		ahead_ms: u64,
		/// The tolerance.
		max_ms: u64,
	},
	/// The signature does not verify.
	#[error("bad signature")]
	BadSignature,
	/// The nonce was accepted from this caller before, or is not above the oldest of its
	/// [`REPLAY_WINDOW`] most recent accepted nonces.
	#[error("replayed request: nonce {nonce} from {caller} was seen before or is not above {floor}, the oldest nonce still remembered")]
	Replayed {
		/// The caller.
		caller: Hotkey,
		/// The nonce received.
		nonce: u64,
		/// Nonces at or below this are refused.
		floor: u64,
	},
	/// The miner's authorizer refused the caller (not a validator with a permit, stake
	/// too low, ...).
	#[error("caller {caller} not permitted: {reason}")]
	NotPermitted {
		/// The caller.
		caller: Hotkey,
		/// The authorizer's reason.
		reason: String,
	},
	/// The verifier's nonce table is full of live entries.
	#[error("too many distinct callers in the last freshness window; retry later")]
	TooManyCallers,
}

impl AuthError {
	/// The gRPC code: `PERMISSION_DENIED` for a wrong target or a refused caller,
	/// `RESOURCE_EXHAUSTED` for a full nonce table, `UNAUTHENTICATED` otherwise.
	pub fn code(&self) -> Code {
		match self {
			Self::WrongTarget { .. } | Self::NotPermitted { .. } => Code::PermissionDenied,
			Self::TooManyCallers => Code::ResourceExhausted,
			_ => Code::Unauthenticated,
		}
	}
}

impl From<AuthError> for Status {
	fn from(e: AuthError) -> Self {
		Status::new(e.code(), e.to_string())
	}
}

/// What a verified envelope established.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
	/// The authenticated caller.
	pub caller: Hotkey,
	/// Its nonce (now recorded as seen).
	pub nonce: u64,
}

/// A caller check run after the signature verified and before the nonce is recorded:
/// `Err(reason)` refuses the request with `PERMISSION_DENIED`. It must be quick and must
/// not block (read a metagraph snapshot, never the chain).
pub type Authorizer = Arc<dyn Fn(&Hotkey) -> Result<(), String> + Send + Sync>;

/// Miner-side envelope checks (see [`Verifier::verify_at`] for the order). Thread-safe;
/// share one per miner.
pub struct Verifier {
	own: Hotkey,
	max_age_ns: u64,
	max_future_ns: u64,
	max_callers: usize,
	authorizer: Option<Authorizer>,
	seen: Mutex<HashMap<Hotkey, SeenNonces>>,
}

/// A caller's most recent accepted nonces (at most [`REPLAY_WINDOW`], ascending) and the
/// floor at or below which every nonce is refused (the largest one forgotten).
#[derive(Debug, Default)]
struct SeenNonces {
	recent: Vec<u64>,
	floor: u64,
}

impl SeenNonces {
	/// Whether `nonce` may be accepted: above the floor and not seen.
	fn admits(&self, nonce: u64) -> bool {
		nonce > self.floor && self.recent.binary_search(&nonce).is_err()
	}

	/// Records an admitted `nonce`, forgetting the oldest beyond the window.
	fn record(&mut self, nonce: u64) {
		if let Err(at) = self.recent.binary_search(&nonce) {
			self.recent.insert(at, nonce);
		}
		if self.recent.len() > REPLAY_WINDOW {
			self.floor = self.recent.remove(0);
		}
	}

	/// The newest accepted nonce.
	fn newest(&self) -> u64 {
		self.recent.last().copied().unwrap_or(self.floor)
	}
}

impl fmt::Debug for Verifier {
	fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
		f.debug_struct("Verifier")
			.field("own", &self.own)
			.field("max_age_ns", &self.max_age_ns)
			.field("max_future_ns", &self.max_future_ns)
			.field("max_callers", &self.max_callers)
			.field("authorizer", &self.authorizer.is_some())
			.field("tracked_callers", &self.tracked_callers())
			.finish()
	}
}

fn nanos(d: Duration) -> u64 {
	u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Verifier {
	/// A verifier for the miner whose hotkey is `own`, with the default windows
	/// ([`DEFAULT_MAX_AGE`], [`DEFAULT_MAX_FUTURE`], [`DEFAULT_MAX_CALLERS`]) and no
	/// authorizer (any correctly signed caller passes).
	pub fn new(own: Hotkey) -> Self {
		Self {
			own,
			max_age_ns: nanos(DEFAULT_MAX_AGE),
			max_future_ns: nanos(DEFAULT_MAX_FUTURE),
			max_callers: DEFAULT_MAX_CALLERS,
			authorizer: None,
			seen: Mutex::new(HashMap::new()),
		}
	}

	/// Sets how old a nonce may be.
	pub fn with_max_age(mut self, max_age: Duration) -> Self {
		self.max_age_ns = nanos(max_age);
		self
	}

	/// Sets how far in the future a nonce may be.
	pub fn with_max_future(mut self, max_future: Duration) -> Self {
		self.max_future_ns = nanos(max_future);
		self
	}

	/// Sets how many callers' nonces are remembered (at least 1).
	pub fn with_max_callers(mut self, max_callers: usize) -> Self {
		self.max_callers = max_callers.max(1);
		self
	}

	/// Installs the caller check (see [`Authorizer`]).
	pub fn with_authorizer(
		mut self,
		authorizer: impl Fn(&Hotkey) -> Result<(), String> + Send + Sync + 'static,
	) -> Self {
		self.authorizer = Some(Arc::new(authorizer));
		self
	}

	/// This miner's hotkey.
	pub fn hotkey(&self) -> Hotkey {
		self.own
	}

	/// Number of callers whose nonces are remembered.
	pub fn tracked_callers(&self) -> usize {
		self.seen.lock().len()
	}

	/// Verifies the envelope in `md` for `method` and the body hash of what was received,
	/// against the local clock.
	pub fn verify(&self, md: &MetadataMap, method: &str, body_hash: &[u8; 32]) -> Result<Verified, AuthError> {
		self.verify_at(md, method, body_hash, unix_nanos())
	}

	/// [`Verifier::verify`] with the clock reading `now_ns` (unix nanoseconds).
	pub fn verify_at(
		&self,
		md: &MetadataMap,
		method: &str,
		body_hash: &[u8; 32],
		now_ns: u64,
	) -> Result<Verified, AuthError> {
		self.verify_envelope_at(&Envelope::from_metadata(md)?, method, body_hash, now_ns)
	}

	/// Checks, in this order: target is this miner, body hash matches, nonce within the
	/// freshness window, signature, authorizer, nonce not seen from the caller (see
	/// [`REPLAY_WINDOW`]); then records the nonce. Only a request that passes everything changes state.
	pub fn verify_envelope_at(
		&self,
		env: &Envelope,
		method: &str,
		body_hash: &[u8; 32],
		now_ns: u64,
	) -> Result<Verified, AuthError> {
		if env.target != self.own {
			return Err(AuthError::WrongTarget { expected: self.own, got: env.target });
		}
		if env.body_hash != *body_hash {
			return Err(AuthError::BodyHashMismatch);
		}
		if env.nonce < now_ns.saturating_sub(self.max_age_ns) {
			return Err(AuthError::Stale {
				age_ms: (now_ns - env.nonce) / 1_000_000,
				max_ms: self.max_age_ns / 1_000_000,
			});
		}
		if env.nonce > now_ns.saturating_add(self.max_future_ns) {
			return Err(AuthError::FromFuture {
				ahead_ms: (env.nonce - now_ns) / 1_000_000,
				max_ms: self.max_future_ns / 1_000_000,
			});
		}
		if !env.signature_valid(method) {
			return Err(AuthError::BadSignature);
		}
		if let Some(authorize) = &self.authorizer {
			authorize(&env.caller).map_err(|reason| AuthError::NotPermitted { caller: env.caller, reason })?;
		}
		let mut table = self.seen.lock();
		if let Some(seen) = table.get(&env.caller) {
			if !seen.admits(env.nonce) {
				return Err(AuthError::Replayed { caller: env.caller, nonce: env.nonce, floor: seen.floor });
			}
		} else if table.len() >= self.max_callers {
			// An entry whose newest nonce is outside the freshness window guards nothing:
			// every nonce up to it is refused as stale anyway.
			let horizon = now_ns.saturating_sub(self.max_age_ns);
			table.retain(|_, seen| seen.newest() >= horizon);
			if table.len() >= self.max_callers {
				return Err(AuthError::TooManyCallers);
			}
		}
		table.entry(env.caller).or_default().record(env.nonce);
		Ok(Verified { caller: env.caller, nonce: env.nonce })
	}

	/// Verifies a unary request for `method` (body hash = hash of the re-encoded message).
	pub fn verify_unary<M: prost::Message>(&self, req: &Request<M>, method: &str) -> Result<Verified, Status> {
		Ok(self.verify(req.metadata(), method, &unary_body_hash(req.get_ref()))?)
	}

	/// Verifies the opening of a streaming request for `method` (body hash = hash of the
	/// method path).
	pub fn verify_stream<T>(&self, req: &Request<T>, method: &str) -> Result<Verified, Status> {
		Ok(self.verify(req.metadata(), method, &stream_body_hash(method))?)
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use crate::{method, v1::FetchModelRequest};
	use sr25519::dev;

	const SEC: u64 = 1_000_000_000;
	/// A fixed clock reading for deterministic tests (2025-01-01T00:00:00Z).
	const NOW: u64 = 1_735_689_600 * SEC;

	fn miner() -> Hotkey {
		Hotkey::of(&dev::bob())
	}

	fn body() -> FetchModelRequest {
		FetchModelRequest { offset: 5, chunk_size: 1024, model_hash: vec![3; 32] }
	}

	fn signed_md(nonce: u64) -> MetadataMap {
		let env = sign_with_nonce(&dev::alice(), &miner(), method::FETCH_MODEL, unary_body_hash(&body()), nonce);
		let mut md = MetadataMap::new();
		env.insert_into(&mut md);
		md
	}

	fn check(v: &Verifier, md: &MetadataMap, now: u64) -> Result<Verified, AuthError> {
		v.verify_at(md, method::FETCH_MODEL, &unary_body_hash(&body()), now)
	}

	#[test]
	fn payload_layout_is_scale_of_the_tuple() {
		let a = Hotkey([0xaa; 32]);
		let b = Hotkey([0xbb; 32]);
		let p = signing_payload("/x", &a, &b, 0x0102030405060708, &[0xcc; 32]);
		let mut want = b"tessera/v1".to_vec();
		want.push(2 << 2); // compact length of "/x"
		want.extend_from_slice(b"/x");
		want.extend_from_slice(&[0xaa; 32]);
		want.extend_from_slice(&[0xbb; 32]);
		want.extend_from_slice(&[8, 7, 6, 5, 4, 3, 2, 1]);
		want.extend_from_slice(&[0xcc; 32]);
		assert_eq!(p, want);
	}

	#[test]
	fn sign_verify_round_trip() {
		let v = Verifier::new(miner());
		let ok = check(&v, &signed_md(NOW), NOW).unwrap();
		assert_eq!(ok, Verified { caller: Hotkey::of(&dev::alice()), nonce: NOW });
		assert_eq!(v.tracked_callers(), 1);
		// A later nonce from the same caller passes.
		check(&v, &signed_md(NOW + 1), NOW).unwrap();
	}

	#[test]
	fn signature_is_plain_substrate_sr25519() {
		// Verify with schnorrkel directly under the "substrate" context, as sp-core and
		// polkadot.js do.
		let env = sign_request(&dev::alice(), &miner(), method::INFO, b"");
		let payload = signing_payload(method::INFO, &env.caller, &env.target, env.nonce, &env.body_hash);
		let pk = schnorrkel::PublicKey::from_bytes(&env.caller.0).unwrap();
		let sig = schnorrkel::Signature::from_bytes(&env.signature).unwrap();
		pk.verify_simple(b"substrate", &payload, &sig).unwrap();
		assert!(pk.verify_simple(b"other", &payload, &sig).is_err());
		assert_eq!(env.body_hash, blake2_256(b""));
		// And a signature made with schnorrkel passes the verifier's check.
		let secret = schnorrkel::MiniSecretKey::from_bytes(&[7; 32])
			.unwrap()
			.expand_to_keypair(schnorrkel::ExpansionMode::Ed25519);
		let caller = Hotkey(secret.public.to_bytes());
		let body_hash = blake2_256(b"x");
		let payload = signing_payload(method::INFO, &caller, &miner(), NOW, &body_hash);
		let signature = secret.sign_simple(b"substrate", &payload).to_bytes();
		let env = Envelope { caller, target: miner(), nonce: NOW, body_hash, signature };
		assert!(env.signature_valid(method::INFO));
		Verifier::new(miner()).verify_envelope_at(&env, method::INFO, &body_hash, NOW).unwrap();
	}

	#[test]
	fn metadata_round_trip() {
		let env = sign_request(&dev::alice(), &miner(), method::EVALUATE, method::EVALUATE.as_bytes());
		let mut md = MetadataMap::new();
		env.insert_into(&mut md);
		assert_eq!(
			md.get(header::CALLER).unwrap().to_str().unwrap(),
			"5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"
		);
		assert!(md.get(header::SIGNATURE).unwrap().to_str().unwrap().starts_with("0x"));
		assert_eq!(Envelope::from_metadata(&md).unwrap(), env);
		assert_eq!(env.body_hash, stream_body_hash(method::EVALUATE));
		// Hex public keys are accepted for the hotkeys too.
		md.insert(header::CALLER, ascii(hex::encode(env.caller.0)));
		md.insert(header::TARGET, ascii(format!("0x{}", hex::encode(env.target.0))));
		assert_eq!(Envelope::from_metadata(&md).unwrap(), env);
	}

	#[test]
	fn nonces_increase() {
		let a = next_nonce();
		let b = next_nonce();
		assert!(b > a);
		assert!(a >= unix_nanos() - 10 * SEC);
	}

	#[test]
	fn refuses_missing_and_malformed_metadata() {
		let v = Verifier::new(miner());
		let err = check(&v, &MetadataMap::new(), NOW).unwrap_err();
		assert_eq!(err, AuthError::Missing(header::CALLER));
		assert_eq!(Status::from(err).code(), Code::Unauthenticated);
		for key in [header::CALLER, header::TARGET, header::NONCE, header::BODY_HASH, header::SIGNATURE] {
			let mut md = signed_md(NOW);
			md.remove(key);
			assert_eq!(check(&v, &md, NOW).unwrap_err(), AuthError::Missing(key));
			let mut md = signed_md(NOW);
			md.insert(key, MetadataValue::from_static("0xzz"));
			let err = check(&v, &md, NOW).unwrap_err();
			assert!(matches!(err, AuthError::Malformed { key: k, .. } if k == key), "{key}: {err:?}");
			assert_eq!(Status::from(err).code(), Code::Unauthenticated);
			let mut md = signed_md(NOW);
			let dup = md.get(key).unwrap().clone();
			md.append(key, dup);
			assert!(matches!(check(&v, &md, NOW).unwrap_err(), AuthError::Malformed { .. }));
		}
		let mut md = signed_md(NOW);
		md.insert(header::NONCE, MetadataValue::from_static("+12"));
		assert!(matches!(check(&v, &md, NOW).unwrap_err(), AuthError::Malformed { .. }));
		md.insert(header::NONCE, MetadataValue::from_static("18446744073709551616"));
		assert!(matches!(check(&v, &md, NOW).unwrap_err(), AuthError::Malformed { .. }));
		assert_eq!(v.tracked_callers(), 0);
	}

	#[test]
	fn refuses_bad_signature() {
		let v = Verifier::new(miner());
		// Signed by Alice, claimed as Charlie.
		let mut md = signed_md(NOW);
		md.insert(header::CALLER, ascii(Hotkey::of(&dev::charlie()).to_ss58()));
		let err = check(&v, &md, NOW).unwrap_err();
		assert_eq!(err, AuthError::BadSignature);
		assert_eq!(Status::from(err).code(), Code::Unauthenticated);
		// A flipped signature bit.
		let mut env = Envelope::from_metadata(&signed_md(NOW)).unwrap();
		env.signature[5] ^= 1;
		let mut md = MetadataMap::new();
		env.insert_into(&mut md);
		assert_eq!(check(&v, &md, NOW).unwrap_err(), AuthError::BadSignature);
		// A changed nonce (same clock window) breaks the signature.
		let mut md = signed_md(NOW);
		md.insert(header::NONCE, ascii((NOW + 1).to_string()));
		assert_eq!(check(&v, &md, NOW).unwrap_err(), AuthError::BadSignature);
		// Signed for another method.
		assert_eq!(
			v.verify_at(&signed_md(NOW), method::INFO, &unary_body_hash(&body()), NOW).unwrap_err(),
			AuthError::BadSignature
		);
		assert_eq!(v.tracked_callers(), 0);
	}

	#[test]
	fn refuses_tampered_body_hash() {
		let v = Verifier::new(miner());
		// The body received differs from the one signed.
		let other = FetchModelRequest { offset: 6, ..body() };
		let err = v.verify_at(&signed_md(NOW), method::FETCH_MODEL, &unary_body_hash(&other), NOW).unwrap_err();
		assert_eq!(err, AuthError::BodyHashMismatch);
		assert_eq!(Status::from(err).code(), Code::Unauthenticated);
		// The header rewritten to match the new body: the signature no longer verifies.
		let mut md = signed_md(NOW);
		md.insert(header::BODY_HASH, ascii(format!("0x{}", hex::encode(unary_body_hash(&other)))));
		assert_eq!(
			v.verify_at(&md, method::FETCH_MODEL, &unary_body_hash(&other), NOW).unwrap_err(),
			AuthError::BadSignature
		);
	}

	#[test]
	fn refuses_wrong_target() {
		let v = Verifier::new(Hotkey::of(&dev::charlie()));
		let err = check(&v, &signed_md(NOW), NOW).unwrap_err();
		assert!(matches!(err, AuthError::WrongTarget { .. }));
		assert_eq!(Status::from(err).code(), Code::PermissionDenied);
	}

	#[test]
	fn refuses_replayed_nonce() {
		let v = Verifier::new(miner());
		let md = signed_md(NOW);
		check(&v, &md, NOW).unwrap();
		let err = check(&v, &md, NOW).unwrap_err();
		assert!(matches!(err, AuthError::Replayed { nonce: NOW, floor: 0, .. }));
		assert_eq!(Status::from(err).code(), Code::Unauthenticated);
		// A newer one passes, and so does an older fresh one not seen before (a request
		// signed earlier that arrived later), once.
		check(&v, &signed_md(NOW + 1), NOW).unwrap();
		check(&v, &signed_md(NOW - 1), NOW).unwrap();
		assert!(matches!(check(&v, &signed_md(NOW - 1), NOW).unwrap_err(), AuthError::Replayed { .. }));
		// Another caller has its own sequence.
		let env = sign_with_nonce(&dev::charlie(), &miner(), method::FETCH_MODEL, unary_body_hash(&body()), NOW - 5);
		let mut md = MetadataMap::new();
		env.insert_into(&mut md);
		check(&v, &md, NOW).unwrap();
	}

	#[test]
	fn out_of_order_nonces_within_the_window_pass_once() {
		let v = Verifier::new(miner());
		// Requests signed in order 0..2W arrive in reverse pairs: all pass.
		let nonces: Vec<u64> = (0..2 * REPLAY_WINDOW as u64).map(|i| NOW - 1_000 + i).collect();
		for pair in nonces.chunks(2) {
			check(&v, &signed_md(pair[1]), NOW).unwrap();
			check(&v, &signed_md(pair[0]), NOW).unwrap();
		}
		// Every one of them is refused the second time: those in the window as seen,
		// older ones as at or below the floor.
		for &nonce in &nonces {
			let err = check(&v, &signed_md(nonce), NOW).unwrap_err();
			assert!(matches!(err, AuthError::Replayed { .. }), "{nonce}: {err}");
		}
		// The floor is the newest nonce pushed out of the window: a never-seen nonce
		// below it is refused too (it could be a replay of a forgotten one).
		let floor = nonces[nonces.len() - REPLAY_WINDOW - 1];
		let err = check(&v, &signed_md(nonces[0] - 1), NOW).unwrap_err();
		assert_eq!(err, AuthError::Replayed { caller: Hotkey::of(&dev::alice()), nonce: nonces[0] - 1, floor });
	}

	#[test]
	fn refuses_stale_and_future_nonces() {
		let v = Verifier::new(miner()).with_max_age(Duration::from_secs(60)).with_max_future(Duration::from_secs(15));
		let err = check(&v, &signed_md(NOW - 61 * SEC), NOW).unwrap_err();
		assert_eq!(err, AuthError::Stale { age_ms: 61_000, max_ms: 60_000 });
		assert_eq!(Status::from(err).code(), Code::Unauthenticated);
		let err = check(&v, &signed_md(NOW + 16 * SEC), NOW).unwrap_err();
		assert_eq!(err, AuthError::FromFuture { ahead_ms: 16_000, max_ms: 15_000 });
		assert_eq!(Status::from(err).code(), Code::Unauthenticated);
		// The edges of the window pass.
		check(&v, &signed_md(NOW - 60 * SEC), NOW).unwrap();
		check(&v, &signed_md(NOW + 15 * SEC), NOW).unwrap();
	}

	#[test]
	fn authorizer_refuses_before_recording() {
		let alice = Hotkey::of(&dev::alice());
		let v = Verifier::new(miner()).with_authorizer(move |who| {
			if *who == alice {
				Err("no validator permit".into())
			} else {
				Ok(())
			}
		});
		let err = check(&v, &signed_md(NOW), NOW).unwrap_err();
		assert!(matches!(err, AuthError::NotPermitted { ref reason, .. } if reason == "no validator permit"));
		let status = Status::from(err);
		assert_eq!(status.code(), Code::PermissionDenied);
		assert!(status.message().contains("no validator permit"));
		assert_eq!(v.tracked_callers(), 0);
	}

	#[test]
	fn nonce_table_is_bounded() {
		let v = Verifier::new(miner()).with_max_callers(2);
		let signed_by = |kp: &Keypair, nonce: u64| {
			let mut md = MetadataMap::new();
			sign_with_nonce(kp, &miner(), method::FETCH_MODEL, unary_body_hash(&body()), nonce).insert_into(&mut md);
			md
		};
		check(&v, &signed_by(&dev::alice(), NOW), NOW).unwrap();
		check(&v, &signed_by(&dev::charlie(), NOW), NOW).unwrap();
		// Full of live entries: a third caller must wait.
		let err = check(&v, &signed_by(&dev::dave(), NOW), NOW).unwrap_err();
		assert_eq!(err, AuthError::TooManyCallers);
		assert_eq!(Status::from(err).code(), Code::ResourceExhausted);
		// Once the entries are out of the window they are evicted; their old nonces stay
		// refused as stale.
		let later = NOW + 61 * SEC;
		check(&v, &signed_by(&dev::dave(), later), later).unwrap();
		assert_eq!(v.tracked_callers(), 1);
		assert!(matches!(check(&v, &signed_by(&dev::alice(), NOW), later).unwrap_err(), AuthError::Stale { .. }));
	}

	#[test]
	fn verify_unary_and_stream_helpers() {
		let v = Verifier::new(miner());
		let req = signed_unary(&dev::alice(), &miner(), method::FETCH_MODEL, body());
		assert_eq!(v.verify_unary(&req, method::FETCH_MODEL).unwrap().caller, Hotkey::of(&dev::alice()));
		// The same request again: replay.
		assert_eq!(v.verify_unary(&req, method::FETCH_MODEL).unwrap_err().code(), Code::Unauthenticated);
		let req = signed_stream(&dev::alice(), &miner(), method::EVALUATE, ());
		v.verify_stream(&req, method::EVALUATE).unwrap();
		// A stream envelope does not open another method.
		let req = signed_stream(&dev::alice(), &miner(), method::EVALUATE, ());
		assert_eq!(v.verify_stream(&req, method::FETCH_MODEL).unwrap_err().code(), Code::Unauthenticated);
		// Unsigned.
		let status = v.verify_unary(&Request::new(body()), method::FETCH_MODEL).unwrap_err();
		assert_eq!(status.code(), Code::Unauthenticated);
		assert!(status.message().contains("unsigned"));
	}
}
