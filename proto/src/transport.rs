//! Connecting to a miner: plaintext gRPC (axon protocol [`PROTOCOL_GRPC`]) or gRPC over
//! TLS ([`PROTOCOL_GRPC_TLS`]), with the certificate bound to the miner's hotkey.
//!
//! Miners run self-signed certificates: no CA vouches for them. Instead a TLS miner's
//! `Info` carries a [`TlsBinding`]: the SHA-256 of its leaf certificate, signed by its
//! hotkey. [`connect`] accepts any certificate during the handshake (the handshake's own
//! signatures are still verified, so the peer holds the certificate's key) and records
//! its hash; [`verify_tls_binding`] then checks that the certificate of this connection
//! is the one the registered hotkey signed. A man in the middle cannot present the
//! miner's certificate without its key, nor sign another one with the miner's hotkey.

use std::{
	net::SocketAddr,
	sync::Arc,
	time::Duration,
};

use codec::Encode;
use parking_lot::Mutex;
use sha2::{Digest, Sha256};
use subxt_signer::sr25519::{self, Keypair};
use thiserror::Error;
use tokio_rustls::rustls::{
	self,
	client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier},
	crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider},
	pki_types::{CertificateDer, ServerName, UnixTime},
	DigitallySignedStruct, SignatureScheme,
};
use tonic::transport::{Channel, Endpoint};

use crate::{v1::TlsBinding, Hotkey};

/// Axon protocol: plaintext gRPC `tessera.v1.Miner`.
pub const PROTOCOL_GRPC: u8 = 0;
/// Axon protocol: gRPC `tessera.v1.Miner` over TLS, the certificate bound to the hotkey.
pub const PROTOCOL_GRPC_TLS: u8 = 1;
/// Domain tag of TLS bindings.
pub const TLS_TAG: [u8; 14] = *b"tessera/v1/tls";

/// Why a connection could not be made or trusted.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum TransportError {
	/// Connecting failed.
	#[error("connect: {0}")]
	Connect(String),
	/// The miner serves TLS but its `Info` binds no certificate to its hotkey.
	#[error("the miner's Info binds no TLS certificate to its hotkey")]
	Unbound,
	/// The certificate of this connection is not the one the hotkey signed.
	#[error("the TLS certificate presented is not the one the miner's hotkey signed")]
	WrongCertificate,
	/// The binding's signature is not the miner's.
	#[error("the TLS binding is not signed by the miner's hotkey")]
	BadSignature,
}

/// SHA-256 of a DER certificate.
pub fn cert_sha256(der: &[u8]) -> [u8; 32] {
	Sha256::digest(der).into()
}

fn binding_payload(cert_sha256: &[u8; 32]) -> Vec<u8> {
	(TLS_TAG, *cert_sha256).encode()
}

/// The binding a miner announces for its DER leaf certificate `cert_der`.
pub fn sign_tls_binding(key: &Keypair, cert_der: &[u8]) -> TlsBinding {
	let hash = cert_sha256(cert_der);
	TlsBinding { cert_sha256: hash.to_vec(), signature: key.sign(&binding_payload(&hash)).0.to_vec() }
}

/// Checks that `peer` (the certificate hash this connection saw) is the certificate
/// `miner` bound in `binding`.
pub fn verify_tls_binding(binding: Option<&TlsBinding>, peer: Option<[u8; 32]>, miner: &Hotkey) -> Result<(), TransportError> {
	let binding = binding.ok_or(TransportError::Unbound)?;
	let hash = <[u8; 32]>::try_from(binding.cert_sha256.as_slice()).map_err(|_| TransportError::Unbound)?;
	if peer != Some(hash) {
		return Err(TransportError::WrongCertificate);
	}
	let sig = <[u8; 64]>::try_from(binding.signature.as_slice()).map_err(|_| TransportError::BadSignature)?;
	if !sr25519::verify(&sr25519::Signature(sig), binding_payload(&hash), &miner.public_key()) {
		return Err(TransportError::BadSignature);
	}
	Ok(())
}

/// The certificate hash a TLS connection saw (the latest, if the channel reconnected).
#[derive(Debug, Clone, Default)]
pub struct PeerCert(Arc<Mutex<Option<[u8; 32]>>>);

impl PeerCert {
	/// The hash, once a handshake completed.
	pub fn get(&self) -> Option<[u8; 32]> {
		*self.0.lock()
	}
}

/// Accepts any server certificate, verifying only the handshake signatures (the peer
/// holds the certificate's key); trust comes from [`verify_tls_binding`].
#[derive(Debug)]
struct BoundLater(Arc<CryptoProvider>);

impl ServerCertVerifier for BoundLater {
	fn verify_server_cert(
		&self,
		_end_entity: &CertificateDer<'_>,
		_intermediates: &[CertificateDer<'_>],
		_server_name: &ServerName<'_>,
		_ocsp: &[u8],
		_now: UnixTime,
	) -> Result<ServerCertVerified, rustls::Error> {
		Ok(ServerCertVerified::assertion())
	}

	fn verify_tls12_signature(&self, message: &[u8], cert: &CertificateDer<'_>, dss: &DigitallySignedStruct) -> Result<HandshakeSignatureValid, rustls::Error> {
		verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
	}

	fn verify_tls13_signature(&self, message: &[u8], cert: &CertificateDer<'_>, dss: &DigitallySignedStruct) -> Result<HandshakeSignatureValid, rustls::Error> {
		verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
	}

	fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
		self.0.signature_verification_algorithms.supported_schemes()
	}
}

fn client_config() -> rustls::ClientConfig {
	let provider = Arc::new(rustls::crypto::ring::default_provider());
	let mut config = rustls::ClientConfig::builder_with_provider(provider.clone())
		.with_safe_default_protocol_versions()
		.expect("ring supports the default protocol versions")
		.dangerous()
		.with_custom_certificate_verifier(Arc::new(BoundLater(provider)))
		.with_no_client_auth();
	config.alpn_protocols = vec![b"h2".to_vec()];
	config
}

/// A gRPC channel to the miner at `addr`, over TLS when `tls`, within `timeout`; with
/// TLS, the certificate hash it saw (check it with [`verify_tls_binding`]).
pub async fn connect(addr: SocketAddr, tls: bool, timeout: Duration) -> Result<(Channel, PeerCert), TransportError> {
	let fail = |e: &dyn std::fmt::Display| TransportError::Connect(e.to_string());
	let endpoint = Endpoint::from_shared(format!("http://{addr}")).map_err(|e| fail(&e))?.connect_timeout(timeout).tcp_nodelay(true);
	let peer = PeerCert::default();
	let channel = if tls {
		let connector = tokio_rustls::TlsConnector::from(Arc::new(client_config()));
		let seen = peer.clone();
		let connect = tower::service_fn(move |_: tonic::codegen::http::Uri| {
			let (connector, seen) = (connector.clone(), seen.clone());
			async move {
				let tcp = tokio::net::TcpStream::connect(addr).await?;
				tcp.set_nodelay(true)?;
				let stream = connector.connect(ServerName::IpAddress(addr.ip().into()), tcp).await?;
				*seen.0.lock() = stream.get_ref().1.peer_certificates().and_then(|c| c.first()).map(|c| cert_sha256(c));
				Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(stream))
			}
		});
		tokio::time::timeout(timeout, endpoint.connect_with_connector(connect)).await
	} else {
		tokio::time::timeout(timeout, endpoint.connect()).await
	};
	let channel = channel.map_err(|_| TransportError::Connect("timed out".into()))?.map_err(|e| fail(&e))?;
	Ok((channel, peer))
}

#[cfg(test)]
mod tests {
	use super::*;
	use subxt_signer::SecretUri;

	fn key(uri: &str) -> Keypair {
		Keypair::from_uri(&uri.parse::<SecretUri>().expect("uri")).expect("key")
	}

	#[test]
	fn a_binding_holds_only_for_its_certificate_and_hotkey() {
		let (miner, other) = (key("//Bob"), key("//Eve"));
		let cert = b"a certificate";
		let binding = sign_tls_binding(&miner, cert);
		let hotkey = Hotkey::of(&miner);
		assert_eq!(verify_tls_binding(Some(&binding), Some(cert_sha256(cert)), &hotkey), Ok(()));
		assert_eq!(verify_tls_binding(Some(&binding), Some(cert_sha256(b"another")), &hotkey), Err(TransportError::WrongCertificate));
		assert_eq!(verify_tls_binding(Some(&binding), None, &hotkey), Err(TransportError::WrongCertificate));
		assert_eq!(verify_tls_binding(None, Some(cert_sha256(cert)), &hotkey), Err(TransportError::Unbound));
		assert_eq!(verify_tls_binding(Some(&binding), Some(cert_sha256(cert)), &Hotkey::of(&other)), Err(TransportError::BadSignature));
		let by_other = sign_tls_binding(&other, cert);
		assert_eq!(verify_tls_binding(Some(&by_other), Some(cert_sha256(cert)), &hotkey), Err(TransportError::BadSignature));
	}
}
