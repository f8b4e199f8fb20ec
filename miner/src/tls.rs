//! TLS for the miner's gRPC server: a PEM certificate and key (self-signed is the norm,
//! `tessera-miner tls-cert` writes one), and the binding of that certificate to the
//! hotkey that validators check instead of a CA (`tessera_proto::transport`).

use std::path::Path;

use rustls_pki_types::{pem::PemObject, CertificateDer};
use subxt_signer::sr25519::Keypair;
use tessera_proto::{transport::sign_tls_binding, v1::TlsBinding};
use tonic::transport::{Identity, ServerTlsConfig};

/// Why the TLS files could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
	/// Reading a file failed.
	#[error("{path}: {source}")]
	Io {
		/// The file.
		path: String,
		/// The error.
		source: std::io::Error,
	},
	/// The certificate file holds no PEM certificate.
	#[error("{0}: no PEM certificate in the file")]
	NoCertificate(String),
	/// Generating a certificate failed.
	#[error("generating a certificate: {0}")]
	Generate(String),
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
	std::fs::read(path).map_err(|source| TlsError::Io { path: path.display().to_string(), source })
}

/// The server's TLS configuration from `cert` and `key` (PEM), and the binding of the
/// leaf certificate to `hotkey`, for `Info`.
pub fn load(cert: &Path, key: &Path, hotkey: &Keypair) -> Result<(ServerTlsConfig, TlsBinding), TlsError> {
	let (cert_pem, key_pem) = (read(cert)?, read(key)?);
	let leaf = CertificateDer::from_pem_slice(&cert_pem).map_err(|_| TlsError::NoCertificate(cert.display().to_string()))?;
	let binding = sign_tls_binding(hotkey, leaf.as_ref());
	Ok((ServerTlsConfig::new().identity(Identity::from_pem(cert_pem, key_pem)), binding))
}

/// A self-signed certificate and its key, PEM.
pub fn self_signed() -> Result<(String, String), TlsError> {
	let cert = rcgen::generate_simple_self_signed(vec!["tessera-miner".to_string()]).map_err(|e| TlsError::Generate(e.to_string()))?;
	let pem = cert.serialize_pem().map_err(|e| TlsError::Generate(e.to_string()))?;
	Ok((pem, cert.serialize_private_key_pem()))
}
