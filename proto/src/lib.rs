//! # tessera-proto
//!
//! The Tessera wire format: the `tessera.v1.Miner` gRPC service that miners serve and
//! validators call, and everything both sides must agree on byte for byte.
//!
//! - [`v1`]: prost messages and tonic client ([`v1::miner_client::MinerClient`]) and server
//!   ([`v1::miner_server::MinerServer`], trait [`v1::miner_server::Miner`]) generated from
//!   `proto/tessera/v1/miner.proto`, whose comments are the protocol's specification;
//! - [`FILE_DESCRIPTOR_SET`]: the encoded descriptors, for `tonic-reflection`;
//! - [`auth`]: the signing envelope every request carries in gRPC metadata, and the
//!   miner-side [`auth::Verifier`];
//! - [`limits`]: message size and count limits;
//! - [`validate`]: stateless checks of Evaluate messages (malformed input becomes
//!   `Status::invalid_argument`, never a panic);
//! - [`session`]: the Evaluate lockstep state machine, usable by both ends of a stream;
//! - [`receipt`]: the miner's step signatures and the audit/fraud [`receipt::Evidence`];
//! - [`model`]: model hashing, `FetchModel` chunking (miner) and checking (validator);
//! - [`hotkey`]: sr25519 public keys and their SS58 form.
//!
//! Construct clients and servers with [`client`] and [`server`], which apply the message
//! size limits.

#![warn(missing_docs)]

pub mod auth;
pub mod hotkey;
pub mod limits;
pub mod model;
pub mod receipt;
pub mod session;
pub mod transport;
pub mod validate;

pub use auth::{sign_request, AuthError, Envelope, Verified, Verifier};
pub use hotkey::Hotkey;

/// Generated code for the protobuf package `tessera.v1`.
#[allow(missing_docs, clippy::all)]
pub mod v1 {
	tonic::include_proto!("tessera.v1");
}

/// Encoded `google.protobuf.FileDescriptorSet` of `tessera/v1/miner.proto` (with source
/// comments), for `tonic_reflection::server::Builder::register_encoded_file_descriptor_set`.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/tessera_descriptor.bin"));

/// Full gRPC method paths, as signed in the envelope (see [`auth`]).
pub mod method {
	/// `Miner.Info`.
	pub const INFO: &str = "/tessera.v1.Miner/Info";
	/// `Miner.Evaluate`.
	pub const EVALUATE: &str = "/tessera.v1.Miner/Evaluate";
	/// `Miner.FetchModel`.
	pub const FETCH_MODEL: &str = "/tessera.v1.Miner/FetchModel";
}

/// BLAKE2b with a 32-byte output and no key (Substrate's `blake2_256`).
pub fn blake2_256(data: &[u8]) -> [u8; 32] {
	let hash = blake2b_simd::Params::new().hash_length(32).hash(data);
	let mut out = [0u8; 32];
	out.copy_from_slice(hash.as_bytes());
	out
}

/// A [`v1::miner_client::MinerClient`] over `channel` with the protocol's message size
/// limits ([`limits::MAX_MESSAGE_BYTES`]) for both directions.
pub fn client<T>(channel: T) -> v1::miner_client::MinerClient<T>
where
	T: tonic::client::GrpcService<tonic::body::Body>,
	T::Error: Into<tonic::codegen::StdError>,
	T::ResponseBody: tonic::codegen::Body<Data = tonic::codegen::Bytes> + Send + 'static,
	<T::ResponseBody as tonic::codegen::Body>::Error: Into<tonic::codegen::StdError> + Send,
{
	v1::miner_client::MinerClient::new(channel)
		.max_decoding_message_size(limits::MAX_MESSAGE_BYTES)
		.max_encoding_message_size(limits::MAX_MESSAGE_BYTES)
}

/// A [`v1::miner_server::MinerServer`] around `miner` with the protocol's message size
/// limits ([`limits::MAX_MESSAGE_BYTES`]) for both directions.
pub fn server<T: v1::miner_server::Miner>(miner: T) -> v1::miner_server::MinerServer<T> {
	v1::miner_server::MinerServer::new(miner)
		.max_decoding_message_size(limits::MAX_MESSAGE_BYTES)
		.max_encoding_message_size(limits::MAX_MESSAGE_BYTES)
}

#[cfg(test)]
mod tests {
	use super::*;
	use prost::Message;

	#[test]
	fn blake2_256_known_vector() {
		// BLAKE2b-256("") from the reference implementation.
		assert_eq!(hex::encode(blake2_256(b"")), "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8");
	}

	#[test]
	fn descriptor_set_describes_the_service() {
		let fds = prost_types::FileDescriptorSet::decode(FILE_DESCRIPTOR_SET).expect("decodes");
		let file = fds.file.iter().find(|f| f.package() == "tessera.v1").expect("tessera.v1 file");
		let service = file.service.iter().find(|s| s.name() == "Miner").expect("Miner service");
		let methods: Vec<_> = service.method.iter().map(|m| m.name()).collect();
		assert_eq!(methods, ["Info", "Evaluate", "FetchModel"]);
		assert_eq!(v1::miner_server::SERVICE_NAME, "tessera.v1.Miner");
		for m in [method::INFO, method::EVALUATE, method::FETCH_MODEL] {
			assert!(m.starts_with("/tessera.v1.Miner/"));
		}
	}

	#[test]
	fn descriptor_set_registers_with_reflection() {
		tonic_reflection::server::Builder::configure()
			.register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
			.build_v1()
			.expect("reflection accepts the descriptor set");
	}
}
