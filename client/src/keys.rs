//! sr25519 keys: dev keys, secret URIs and mnemonics, key files on disk.
//!
//! A key file is JSON `{ "name", "kind", "secretUri", "ss58Address" }`. The secret URI is
//! anything `subxt_signer::SecretUri` parses: a BIP-39 phrase with optional `//hard` and
//! `/soft` junctions and `///password`, or a `0x` hex seed. Files are written with mode
//! 0600 on Unix.

use crate::error::ClientError;
use serde::{Deserialize, Serialize};
use std::{path::Path, str::FromStr};
use subxt::utils::AccountId32;
pub use subxt_signer::sr25519::Keypair;
use subxt_signer::{bip39, SecretUri};

/// Role of a key, as in Bittensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyKind {
	/// Holds funds, registers hotkeys, stakes.
	Coldkey,
	/// Signs as a neuron: serves axons, sets weights, signs requests.
	Hotkey,
}

/// A key as stored on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KeyFile {
	/// Human name of the key.
	pub name: String,
	/// Coldkey or hotkey.
	pub kind: KeyKind,
	/// Secret URI (phrase or hex seed, with optional derivation).
	pub secret_uri: String,
	/// SS58 address (prefix 42) of the public key, for humans; checked on load.
	pub ss58_address: String,
}

/// Key pair from a secret URI such as `//Alice` or `<phrase>//tessera//0`.
pub fn from_uri(uri: &str) -> Result<Keypair, ClientError> {
	let uri = SecretUri::from_str(uri).map_err(|e| ClientError::Key(format!("bad secret URI: {e}")))?;
	Keypair::from_uri(&uri).map_err(|e| ClientError::Key(format!("cannot derive key: {e}")))
}

/// A well-known development key (`alice`, `bob`, ...) by name, case-insensitive.
pub fn dev(name: &str) -> Result<Keypair, ClientError> {
	let mut chars = name.chars();
	let capitalized = match chars.next() {
		Some(c) => c.to_uppercase().collect::<String>() + &chars.as_str().to_lowercase(),
		None => return Err(ClientError::Key("empty dev key name".into())),
	};
	from_uri(&format!("//{capitalized}"))
}

/// A fresh random 12-word BIP-39 phrase.
pub fn generate_phrase() -> String {
	let entropy: [u8; 16] = rand::random();
	bip39::Mnemonic::from_entropy(&entropy).expect("16 bytes is a valid entropy length").to_string()
}

/// Account id of a key pair.
pub fn account_id(key: &Keypair) -> AccountId32 {
	key.public_key().to_account_id()
}

/// SS58 (prefix 42) address of a key pair.
pub fn ss58(key: &Keypair) -> String {
	account_id(key).to_string()
}

impl KeyFile {
	/// A key file for `secret_uri`.
	pub fn new(name: &str, kind: KeyKind, secret_uri: &str) -> Result<Self, ClientError> {
		let key = from_uri(secret_uri)?;
		Ok(Self { name: name.into(), kind, secret_uri: secret_uri.into(), ss58_address: ss58(&key) })
	}

	/// The key pair, checking it matches the recorded address.
	pub fn keypair(&self) -> Result<Keypair, ClientError> {
		let key = from_uri(&self.secret_uri)?;
		if ss58(&key) != self.ss58_address {
			return Err(ClientError::Key(format!(
				"key file '{}' is inconsistent: its secret gives {} but it records {}",
				self.name,
				ss58(&key),
				self.ss58_address
			)));
		}
		Ok(key)
	}

	/// Read a key file.
	pub fn load(path: &Path) -> Result<Self, ClientError> {
		let text = std::fs::read_to_string(path)?;
		serde_json::from_str(&text)
			.map_err(|e| ClientError::Key(format!("{}: invalid key file: {e}", path.display())))
	}

	/// Write the key file (mode 0600), refusing to overwrite an existing one.
	pub fn save(&self, path: &Path) -> Result<(), ClientError> {
		use std::io::Write;
		if let Some(dir) = path.parent() {
			std::fs::create_dir_all(dir)?;
		}
		let mut options = std::fs::OpenOptions::new();
		options.write(true).create_new(true);
		#[cfg(unix)]
		{
			use std::os::unix::fs::OpenOptionsExt;
			options.mode(0o600);
		}
		let mut file = options.open(path)?;
		file.write_all(serde_json::to_string_pretty(self).expect("key file serializes").as_bytes())?;
		Ok(())
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn dev_keys_match_well_known_addresses() {
		assert_eq!(ss58(&dev("alice").unwrap()), "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY");
		assert_eq!(ss58(&dev("Bob").unwrap()), "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty");
		assert!(dev("").is_err());
	}

	#[test]
	fn key_file_round_trip_and_tamper_detection() {
		let dir = tempfile::tempdir().unwrap();
		let path = dir.path().join("hot.json");
		let phrase = generate_phrase();
		let file = KeyFile::new("miner", KeyKind::Hotkey, &format!("{phrase}//tessera")).unwrap();
		file.save(&path).unwrap();
		assert!(file.save(&path).is_err(), "must not overwrite");
		let loaded = KeyFile::load(&path).unwrap();
		assert_eq!(loaded, file);
		assert_eq!(ss58(&loaded.keypair().unwrap()), file.ss58_address);
		let mut bad = loaded.clone();
		bad.ss58_address = ss58(&dev("alice").unwrap());
		assert!(matches!(bad.keypair(), Err(ClientError::Key(_))));
		std::fs::write(&path, "{\"name\": 1}").unwrap();
		assert!(matches!(KeyFile::load(&path), Err(ClientError::Key(_))));
	}

	#[test]
	fn bad_uri_is_a_key_error() {
		assert!(matches!(from_uri("not a phrase"), Err(ClientError::Key(_))));
	}
}
