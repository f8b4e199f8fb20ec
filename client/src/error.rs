//! Errors of the chain client.

/// What can go wrong talking to the chain.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
	/// The extrinsic was included but its dispatch failed with a pallet error.
	#[error("{pallet}::{error}")]
	Dispatch {
		/// Pallet that returned the error, e.g. `Tessera`.
		pallet: String,
		/// Error variant, e.g. `InvalidUid`.
		error: String,
	},
	/// The extrinsic failed with a non-pallet dispatch error (bad origin, token error...).
	#[error("dispatch failed: {0}")]
	DispatchOther(String),
	/// The transaction pool refused the transaction (bad nonce, cannot pay fees...).
	#[error("transaction rejected: {0}")]
	Rejected(String),
	/// A runtime API returned nothing for this subnet or uid.
	#[error("not found: {0}")]
	NotFound(String),
	/// Key material could not be read or parsed.
	#[error("key error: {0}")]
	Key(String),
	/// I/O on key files.
	#[error(transparent)]
	Io(#[from] std::io::Error),
	/// Anything else subxt reports (connection, decoding, RPC).
	#[error(transparent)]
	Subxt(#[from] subxt::Error),
}

impl ClientError {
	/// `Some(("Tessera", "InvalidUid"))` for a pallet error.
	pub fn pallet_error(&self) -> Option<(&str, &str)> {
		match self {
			ClientError::Dispatch { pallet, error } => Some((pallet.as_str(), error.as_str())),
			_ => None,
		}
	}

	/// Whether this is the pallet error `pallet::error`.
	pub fn is(&self, pallet: &str, error: &str) -> bool {
		self.pallet_error() == Some((pallet, error))
	}
}

impl From<subxt::error::DispatchError> for ClientError {
	fn from(e: subxt::error::DispatchError) -> Self {
		match &e {
			subxt::error::DispatchError::Module(m) => match m.details() {
				Ok(d) => ClientError::Dispatch {
					pallet: d.pallet.name().to_string(),
					error: d.variant.name.clone(),
				},
				Err(_) => ClientError::DispatchOther(m.details_string()),
			},
			other => ClientError::DispatchOther(other.to_string()),
		}
	}
}
