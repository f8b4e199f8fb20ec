//! Wallets on disk, laid out like btcli's:
//!
//! ```text
//! <dir>/<name>/coldkey          encrypted coldkey (JSON, mode 0600), see [`EncryptedKey`]
//! <dir>/<name>/coldkeypub.txt   {"accountId", "publicKey", "ss58Address"} (no secret)
//! <dir>/<name>/hotkeys/<hname>  plain [`KeyFile`] JSON (mode 0600), loadable by
//!                               `tessera-miner` / `tessera-validator --hotkey-file`
//! ```
//!
//! The coldkey's secret (its BIP-39 phrase) is encrypted with XChaCha20-Poly1305 under a
//! key derived from the password with scrypt (random salt; the parameters are stored in the
//! file). The SS58 address is authenticated as associated data, so swapping it is detected.

use crate::{
	keys::{self, KeyFile, KeyKind, Keypair},
	AccountId,
};
use chacha20poly1305::{
	aead::{Aead, KeyInit, Payload},
	XChaCha20Poly1305, XNonce,
};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use std::{
	io::Write,
	path::{Path, PathBuf},
	str::FromStr,
};
use zeroize::Zeroizing;

/// Version of the coldkey file format this code writes and reads.
pub const COLDKEY_VERSION: u32 = 1;

/// What can go wrong with wallets.
#[derive(Debug, thiserror::Error)]
pub enum WalletError {
	/// No wallet of this name in the wallet directory.
	#[error("wallet '{name}' not found in {dir}")]
	NotFound {
		/// Wallet name.
		name: String,
		/// Wallet directory searched.
		dir: String,
	},
	/// No hotkey of this name in the wallet.
	#[error("wallet '{wallet}' has no hotkey '{hotkey}'")]
	HotkeyNotFound {
		/// Wallet name.
		wallet: String,
		/// Hotkey name.
		hotkey: String,
	},
	/// Refusing to overwrite an existing wallet or hotkey.
	#[error("{0} already exists (refusing to overwrite it)")]
	AlreadyExists(String),
	/// Names are plain file names: letters, digits, `-`, `_`, `.`.
	#[error("invalid name '{0}': use 1-64 letters, digits, '-', '_' or '.', not starting with '.'")]
	InvalidName(String),
	/// The password does not open the coldkey (or its file was altered).
	#[error("wrong password for the coldkey of wallet '{0}' (or its coldkey file was altered)")]
	WrongPassword(String),
	/// The coldkey file is not a coldkey file this version understands.
	#[error("{path}: {reason}")]
	Corrupt {
		/// File.
		path: String,
		/// What is wrong.
		reason: String,
	},
	/// A password is needed and none was given.
	#[error("{0}")]
	NoPassword(String),
	/// Bad key material (phrase, URI).
	#[error(transparent)]
	Key(#[from] crate::ClientError),
	/// File system errors.
	#[error("{path}: {source}")]
	Io {
		/// File or directory.
		path: String,
		/// The error.
		source: std::io::Error,
	},
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> WalletError + '_ {
	move |source| WalletError::Io { path: path.display().to_string(), source }
}

/// scrypt parameters of a coldkey file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScryptParams {
	/// log2 of the CPU/memory cost N.
	pub log_n: u8,
	/// Block size.
	pub r: u32,
	/// Parallelism.
	pub p: u32,
}

impl Default for ScryptParams {
	/// N = 2^15, r = 8, p = 1: 32 MiB and about 0.1 s per unlock.
	fn default() -> Self {
		Self { log_n: 15, r: 8, p: 1 }
	}
}

/// Key derivation section of a coldkey file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Kdf {
	/// Always `scrypt`.
	pub name: String,
	/// Its parameters.
	#[serde(flatten)]
	pub params: ScryptParams,
	/// Random salt, hex.
	pub salt: String,
}

/// An encrypted coldkey as stored in `<wallet>/coldkey`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EncryptedKey {
	/// [`COLDKEY_VERSION`].
	pub version: u32,
	/// SS58 address of the key (authenticated, not secret).
	pub ss58_address: String,
	/// How the encryption key is derived from the password.
	pub kdf: Kdf,
	/// Always `xchacha20poly1305`.
	pub cipher: String,
	/// 24-byte nonce, hex.
	pub nonce: String,
	/// Encrypted secret URI plus the 16-byte tag, hex.
	pub ciphertext: String,
}

fn aad(ss58: &str) -> Vec<u8> {
	format!("tessera-coldkey-v{COLDKEY_VERSION}:{ss58}").into_bytes()
}

fn derive_key(password: &str, salt: &[u8], params: ScryptParams) -> Result<Zeroizing<[u8; 32]>, String> {
	let p = scrypt::Params::new(params.log_n, params.r, params.p, 32).map_err(|e| format!("bad scrypt parameters: {e}"))?;
	let mut key = Zeroizing::new([0u8; 32]);
	scrypt::scrypt(password.as_bytes(), salt, &p, key.as_mut()).map_err(|e| format!("scrypt: {e}"))?;
	Ok(key)
}

impl EncryptedKey {
	/// Encrypt `secret_uri` (whose public key has address `ss58`) under `password`.
	pub fn encrypt(secret_uri: &str, ss58: &str, password: &str, params: ScryptParams) -> Result<Self, WalletError> {
		let mut salt = [0u8; 32];
		let mut nonce = [0u8; 24];
		rand::rngs::OsRng.fill_bytes(&mut salt);
		rand::rngs::OsRng.fill_bytes(&mut nonce);
		let key = derive_key(password, &salt, params).map_err(|reason| WalletError::Corrupt { path: "<new coldkey>".into(), reason })?;
		let cipher = XChaCha20Poly1305::new(key.as_ref().into());
		let ciphertext = cipher
			.encrypt(XNonce::from_slice(&nonce), Payload { msg: secret_uri.as_bytes(), aad: &aad(ss58) })
			.expect("XChaCha20-Poly1305 encryption of a short message cannot fail");
		Ok(Self {
			version: COLDKEY_VERSION,
			ss58_address: ss58.into(),
			kdf: Kdf { name: "scrypt".into(), params, salt: hex::encode(salt) },
			cipher: "xchacha20poly1305".into(),
			nonce: hex::encode(nonce),
			ciphertext: hex::encode(ciphertext),
		})
	}

	/// The secret URI, if `password` is right and nothing was altered. `wallet` and `path`
	/// name the key in errors.
	pub fn decrypt(&self, password: &str, wallet: &str, path: &Path) -> Result<Zeroizing<String>, WalletError> {
		let corrupt = |reason: String| WalletError::Corrupt { path: path.display().to_string(), reason };
		if self.version != COLDKEY_VERSION {
			return Err(corrupt(format!("unsupported coldkey file version {} (this tessera reads {COLDKEY_VERSION})", self.version)));
		}
		if self.kdf.name != "scrypt" || self.cipher != "xchacha20poly1305" {
			return Err(corrupt(format!("unsupported kdf/cipher {}/{}", self.kdf.name, self.cipher)));
		}
		if self.kdf.params.log_n > 24 || self.kdf.params.r > 64 || self.kdf.params.p > 16 {
			return Err(corrupt("scrypt parameters out of range".into()));
		}
		let salt = hex::decode(&self.kdf.salt).map_err(|e| corrupt(format!("salt: {e}")))?;
		let nonce = hex::decode(&self.nonce).map_err(|e| corrupt(format!("nonce: {e}")))?;
		if nonce.len() != 24 {
			return Err(corrupt("nonce must be 24 bytes".into()));
		}
		let ciphertext = hex::decode(&self.ciphertext).map_err(|e| corrupt(format!("ciphertext: {e}")))?;
		let key = derive_key(password, &salt, self.kdf.params).map_err(corrupt)?;
		let cipher = XChaCha20Poly1305::new(key.as_ref().into());
		let plain = Zeroizing::new(
			cipher
				.decrypt(XNonce::from_slice(&nonce), Payload { msg: &ciphertext, aad: &aad(&self.ss58_address) })
				.map_err(|_| WalletError::WrongPassword(wallet.into()))?,
		);
		let secret = Zeroizing::new(String::from_utf8(plain.to_vec()).map_err(|_| corrupt("secret is not UTF-8".into()))?);
		let pair = keys::from_uri(&secret)?;
		if keys::ss58(&pair) != self.ss58_address {
			return Err(corrupt("the decrypted key does not match the recorded address".into()));
		}
		Ok(secret)
	}
}

/// The public part of a coldkey (`coldkeypub.txt`), as btcli writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ColdkeyPub {
	/// `0x` + hex of the account id.
	pub account_id: String,
	/// `0x` + hex of the public key (same bytes for sr25519).
	pub public_key: String,
	/// SS58 address.
	pub ss58_address: String,
}

/// A wallet's public view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WalletInfo {
	/// Wallet name.
	pub name: String,
	/// Its directory.
	pub path: PathBuf,
	/// Coldkey SS58 address.
	pub coldkey: String,
	/// Hotkeys: name and SS58 address, sorted by name.
	pub hotkeys: Vec<HotkeyInfo>,
}

/// A hotkey's public view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HotkeyInfo {
	/// Hotkey name.
	pub name: String,
	/// SS58 address.
	pub ss58_address: String,
	/// Its key file.
	pub path: PathBuf,
}

/// A freshly made key and the phrase to back it up (shown once).
#[derive(Debug, Clone)]
pub struct NewKey {
	/// SS58 address.
	pub ss58_address: String,
	/// BIP-39 phrase.
	pub mnemonic: Zeroizing<String>,
}

/// The wallets under one directory.
#[derive(Debug, Clone)]
pub struct Wallets {
	root: PathBuf,
	params: ScryptParams,
}

/// `~/.tessera/wallets`.
pub fn default_dir() -> PathBuf {
	let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."));
	home.join(".tessera").join("wallets")
}

fn check_name(name: &str) -> Result<(), WalletError> {
	let ok = !name.is_empty()
		&& name.len() <= 64
		&& !name.starts_with('.')
		&& name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
	if ok { Ok(()) } else { Err(WalletError::InvalidName(name.into())) }
}

/// Write `bytes` to a new file `path` with mode 0600 (refusing to overwrite).
fn write_new_private(path: &Path, bytes: &[u8]) -> Result<(), WalletError> {
	let mut options = std::fs::OpenOptions::new();
	options.write(true).create_new(true);
	#[cfg(unix)]
	{
		use std::os::unix::fs::OpenOptionsExt;
		options.mode(0o600);
	}
	let mut file = options.open(path).map_err(|e| {
		if e.kind() == std::io::ErrorKind::AlreadyExists {
			WalletError::AlreadyExists(path.display().to_string())
		} else {
			WalletError::Io { path: path.display().to_string(), source: e }
		}
	})?;
	file.write_all(bytes).map_err(io_err(path))?;
	file.sync_all().map_err(io_err(path))
}

fn create_private_dir(path: &Path) -> Result<(), WalletError> {
	let mut builder = std::fs::DirBuilder::new();
	builder.recursive(true);
	#[cfg(unix)]
	{
		use std::os::unix::fs::DirBuilderExt;
		builder.mode(0o700);
	}
	builder.create(path).map_err(io_err(path))
}

impl Wallets {
	/// Wallets under `root` (created on first write), coldkeys encrypted with the default
	/// [`ScryptParams`].
	pub fn new(root: impl Into<PathBuf>) -> Self {
		Self { root: root.into(), params: ScryptParams::default() }
	}

	/// Use other scrypt parameters for new coldkeys (tests use cheap ones).
	pub fn with_scrypt_params(mut self, params: ScryptParams) -> Self {
		self.params = params;
		self
	}

	/// The wallet directory.
	pub fn root(&self) -> &Path {
		&self.root
	}

	/// Directory of wallet `name`.
	pub fn dir(&self, name: &str) -> PathBuf {
		self.root.join(name)
	}

	/// Encrypted coldkey file of wallet `name`.
	pub fn coldkey_path(&self, name: &str) -> PathBuf {
		self.dir(name).join("coldkey")
	}

	/// Key file of hotkey `hotkey` of wallet `name`.
	pub fn hotkey_path(&self, name: &str, hotkey: &str) -> PathBuf {
		self.dir(name).join("hotkeys").join(hotkey)
	}

	fn existing(&self, name: &str) -> Result<PathBuf, WalletError> {
		check_name(name)?;
		let dir = self.dir(name);
		if !dir.join("coldkeypub.txt").is_file() {
			return Err(WalletError::NotFound { name: name.into(), dir: self.root.display().to_string() });
		}
		Ok(dir)
	}

	/// Create wallet `name` with a fresh coldkey encrypted under `password` and, if given,
	/// a hotkey. Returns the coldkey and hotkey with their phrases.
	pub fn create(&self, name: &str, password: &str, hotkey: Option<&str>) -> Result<(NewKey, Option<NewKey>), WalletError> {
		if let Some(h) = hotkey {
			check_name(h)?;
		}
		let phrase = Zeroizing::new(keys::generate_phrase());
		let cold = self.import(name, &phrase, password)?;
		let hot = match hotkey {
			Some(h) => Some(self.new_hotkey(name, h)?),
			None => None,
		};
		Ok((NewKey { ss58_address: cold.coldkey, mnemonic: phrase }, hot))
	}

	/// Create wallet `name` whose coldkey is `secret` (a BIP-39 phrase or any secret URI),
	/// encrypted under `password`.
	pub fn import(&self, name: &str, secret: &str, password: &str) -> Result<WalletInfo, WalletError> {
		check_name(name)?;
		if password.is_empty() {
			return Err(WalletError::NoPassword("the coldkey password must not be empty".into()));
		}
		let secret = secret.trim();
		let pair = keys::from_uri(secret)?;
		let dir = self.dir(name);
		if dir.join("coldkey").exists() || dir.join("coldkeypub.txt").exists() {
			return Err(WalletError::AlreadyExists(format!("wallet '{name}' ({})", dir.display())));
		}
		create_private_dir(&dir)?;
		let ss58 = keys::ss58(&pair);
		let encrypted = EncryptedKey::encrypt(secret, &ss58, password, self.params)?;
		write_new_private(&dir.join("coldkey"), serde_json::to_string_pretty(&encrypted).expect("serializes").as_bytes())?;
		let public = format!("0x{}", hex::encode(pair.public_key().0));
		let pubfile = ColdkeyPub { account_id: public.clone(), public_key: public, ss58_address: ss58 };
		write_new_private(&dir.join("coldkeypub.txt"), serde_json::to_string(&pubfile).expect("serializes").as_bytes())?;
		self.show(name)
	}

	/// Add hotkey `hotkey` (fresh phrase, plain key file) to wallet `name`.
	pub fn new_hotkey(&self, name: &str, hotkey: &str) -> Result<NewKey, WalletError> {
		let dir = self.existing(name)?;
		check_name(hotkey)?;
		let path = dir.join("hotkeys").join(hotkey);
		if path.exists() {
			return Err(WalletError::AlreadyExists(format!("hotkey '{hotkey}' of wallet '{name}' ({})", path.display())));
		}
		create_private_dir(&dir.join("hotkeys"))?;
		let phrase = Zeroizing::new(keys::generate_phrase());
		let file = KeyFile::new(hotkey, KeyKind::Hotkey, &phrase)?;
		write_new_private(&path, serde_json::to_string_pretty(&file).expect("serializes").as_bytes())?;
		Ok(NewKey { ss58_address: file.ss58_address, mnemonic: phrase })
	}

	/// Public view of wallet `name`.
	pub fn show(&self, name: &str) -> Result<WalletInfo, WalletError> {
		let dir = self.existing(name)?;
		let coldkey = self.coldkey_address(name)?.to_string();
		let mut hotkeys = Vec::new();
		let hot_dir = dir.join("hotkeys");
		if hot_dir.is_dir() {
			for entry in std::fs::read_dir(&hot_dir).map_err(io_err(&hot_dir))? {
				let path = entry.map_err(io_err(&hot_dir))?.path();
				let Some(hname) = path.file_name().and_then(|n| n.to_str()).map(str::to_string) else { continue };
				if check_name(&hname).is_err() || !path.is_file() {
					continue;
				}
				let file = KeyFile::load(&path)?;
				hotkeys.push(HotkeyInfo { name: hname, ss58_address: file.ss58_address, path });
			}
		}
		hotkeys.sort_by(|a, b| a.name.cmp(&b.name));
		Ok(WalletInfo { name: name.into(), path: dir, coldkey, hotkeys })
	}

	/// Every wallet, sorted by name.
	pub fn list(&self) -> Result<Vec<WalletInfo>, WalletError> {
		if !self.root.is_dir() {
			return Ok(Vec::new());
		}
		let mut names = Vec::new();
		for entry in std::fs::read_dir(&self.root).map_err(io_err(&self.root))? {
			let path = entry.map_err(io_err(&self.root))?.path();
			if let Some(name) = path.file_name().and_then(|n| n.to_str()) {
				if check_name(name).is_ok() && path.join("coldkeypub.txt").is_file() {
					names.push(name.to_string());
				}
			}
		}
		names.sort();
		names.iter().map(|n| self.show(n)).collect()
	}

	/// Coldkey address of wallet `name` (from `coldkeypub.txt`; no password needed).
	pub fn coldkey_address(&self, name: &str) -> Result<AccountId, WalletError> {
		let path = self.existing(name)?.join("coldkeypub.txt");
		let text = std::fs::read_to_string(&path).map_err(io_err(&path))?;
		let corrupt = |reason: String| WalletError::Corrupt { path: path.display().to_string(), reason };
		let ss58 = match serde_json::from_str::<ColdkeyPub>(&text) {
			Ok(p) => p.ss58_address,
			Err(_) => text.trim().to_string(),
		};
		AccountId::from_str(&ss58).map_err(|e| corrupt(format!("bad address '{ss58}': {e}")))
	}

	/// Decrypt wallet `name`'s coldkey with `password`.
	pub fn unlock_coldkey(&self, name: &str, password: &str) -> Result<Keypair, WalletError> {
		let path = self.existing(name)?.join("coldkey");
		let text = std::fs::read_to_string(&path).map_err(io_err(&path))?;
		let encrypted: EncryptedKey = serde_json::from_str(&text)
			.map_err(|e| WalletError::Corrupt { path: path.display().to_string(), reason: format!("not a coldkey file: {e}") })?;
		let secret = encrypted.decrypt(password, name, &path)?;
		Ok(keys::from_uri(&secret)?)
	}

	/// Hotkey `hotkey` of wallet `name`.
	pub fn hotkey(&self, name: &str, hotkey: &str) -> Result<KeyFile, WalletError> {
		self.existing(name)?;
		check_name(hotkey)?;
		let path = self.hotkey_path(name, hotkey);
		if !path.is_file() {
			return Err(WalletError::HotkeyNotFound { wallet: name.into(), hotkey: hotkey.into() });
		}
		Ok(KeyFile::load(&path)?)
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	const CHEAP: ScryptParams = ScryptParams { log_n: 10, r: 8, p: 1 };

	fn mode(path: &Path) -> u32 {
		use std::os::unix::fs::PermissionsExt;
		std::fs::metadata(path).unwrap().permissions().mode() & 0o777
	}

	#[test]
	fn wallet_keystore_round_trip() {
		let dir = tempfile::tempdir().unwrap();
		// The real parameters, once.
		let wallets = Wallets::new(dir.path());
		let (cold, hot) = wallets.create("alice", "pw", Some("default")).unwrap();
		let hot = hot.unwrap();
		assert_eq!(keys::ss58(&wallets.unlock_coldkey("alice", "pw").unwrap()), cold.ss58_address);
		assert_eq!(keys::ss58(&keys::from_uri(&cold.mnemonic).unwrap()), cold.ss58_address);
		let info = wallets.show("alice").unwrap();
		assert_eq!(info.coldkey, cold.ss58_address);
		assert_eq!(info.hotkeys.len(), 1);
		assert_eq!(info.hotkeys[0].ss58_address, hot.ss58_address);
		// The hotkey file is a plain KeyFile (what miners and validators load).
		let file = KeyFile::load(&wallets.hotkey_path("alice", "default")).unwrap();
		assert_eq!(keys::ss58(&file.keypair().unwrap()), hot.ss58_address);
		// Importing the phrase elsewhere gives the same address.
		let other = Wallets::new(dir.path().join("other")).with_scrypt_params(CHEAP);
		assert_eq!(other.import("copy", &cold.mnemonic, "other").unwrap().coldkey, cold.ss58_address);
		assert_eq!(wallets.list().unwrap().len(), 1);
		// No overwrites.
		assert!(matches!(wallets.create("alice", "pw", None), Err(WalletError::AlreadyExists(_))));
		assert!(matches!(wallets.new_hotkey("alice", "default"), Err(WalletError::AlreadyExists(_))));
		assert!(matches!(wallets.create("../x", "pw", None), Err(WalletError::InvalidName(_))));
		assert!(matches!(wallets.show("nobody"), Err(WalletError::NotFound { .. })));
	}

	#[test]
	fn wallet_wrong_password_is_refused() {
		let dir = tempfile::tempdir().unwrap();
		let wallets = Wallets::new(dir.path()).with_scrypt_params(CHEAP);
		wallets.create("w", "right", None).unwrap();
		let err = wallets.unlock_coldkey("w", "wrong").unwrap_err();
		assert!(matches!(err, WalletError::WrongPassword(ref n) if n == "w"), "{err}");
		assert!(err.to_string().contains("wrong password"));
		assert!(matches!(wallets.create("empty", "", None), Err(WalletError::NoPassword(_))));
	}

	#[test]
	fn wallet_tampered_coldkey_is_refused() {
		let dir = tempfile::tempdir().unwrap();
		let wallets = Wallets::new(dir.path()).with_scrypt_params(CHEAP);
		wallets.create("w", "pw", None).unwrap();
		let path = wallets.coldkey_path("w");
		let original: EncryptedKey = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
		let rewrite = |key: &EncryptedKey| {
			std::fs::remove_file(&path).unwrap();
			write_new_private(&path, serde_json::to_string(key).unwrap().as_bytes()).unwrap();
		};
		// One flipped ciphertext bit.
		let mut bad = original.clone();
		let mut bytes = hex::decode(&bad.ciphertext).unwrap();
		bytes[0] ^= 1;
		bad.ciphertext = hex::encode(bytes);
		rewrite(&bad);
		assert!(matches!(wallets.unlock_coldkey("w", "pw"), Err(WalletError::WrongPassword(_))));
		// A swapped address (authenticated data).
		let mut bad = original.clone();
		bad.ss58_address = keys::ss58(&keys::dev("bob").unwrap());
		rewrite(&bad);
		assert!(matches!(wallets.unlock_coldkey("w", "pw"), Err(WalletError::WrongPassword(_))));
		// Another version, garbage.
		let mut bad = original.clone();
		bad.version = 99;
		rewrite(&bad);
		assert!(matches!(wallets.unlock_coldkey("w", "pw"), Err(WalletError::Corrupt { .. })));
		std::fs::remove_file(&path).unwrap();
		std::fs::write(&path, "{}").unwrap();
		assert!(matches!(wallets.unlock_coldkey("w", "pw"), Err(WalletError::Corrupt { .. })));
		rewrite(&original);
		assert!(wallets.unlock_coldkey("w", "pw").is_ok());
	}

	#[test]
	fn wallet_files_are_private() {
		let dir = tempfile::tempdir().unwrap();
		let wallets = Wallets::new(dir.path().join("nested")).with_scrypt_params(CHEAP);
		let (cold, _) = wallets.create("w", "pw", Some("h")).unwrap();
		assert_eq!(mode(&wallets.coldkey_path("w")), 0o600);
		assert_eq!(mode(&wallets.hotkey_path("w", "h")), 0o600);
		assert_eq!(mode(&wallets.dir("w").join("coldkeypub.txt")), 0o600);
		assert_eq!(mode(&wallets.dir("w")), 0o700);
		// The coldkey file holds no plaintext secret.
		let text = std::fs::read_to_string(wallets.coldkey_path("w")).unwrap();
		assert!(cold.mnemonic.split_whitespace().all(|word| !text.contains(word) || word.len() < 4 || "scrypt xchacha20poly1305 version ciphertext nonce salt".contains(word)), "{text}");
		assert!(!text.contains(cold.mnemonic.as_str()));
		assert!(text.contains("\"version\": 1") && text.contains("scrypt") && text.contains("xchacha20poly1305"));
	}
}
