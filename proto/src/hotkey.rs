//! Hotkeys: the sr25519 public keys that identify neurons on the wire.
//!
//! Text form is SS58 with prefix 42 (the chain's `ss58Format`), exactly what
//! `subxt::utils::AccountId32`'s `Display` prints; parsing also accepts any other SS58
//! prefix and a 32-byte hex public key (with or without `0x`).

use std::{fmt, str::FromStr};

use subxt_signer::sr25519;
use subxt_utils_accountid32::AccountId32;

/// An sr25519 public key (32 bytes) identifying a hotkey.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hotkey(pub [u8; 32]);

/// A string that is neither an SS58 address nor a 32-byte hex public key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an SS58 address or 32-byte hex public key: {0:?}")]
pub struct HotkeyError(pub String);

impl Hotkey {
	/// The public key of `keypair`.
	pub fn of(keypair: &sr25519::Keypair) -> Self {
		Self(keypair.public_key().0)
	}

	/// The raw public key.
	pub fn as_bytes(&self) -> &[u8; 32] {
		&self.0
	}

	/// The key as a `subxt_signer` public key, for signature verification.
	pub fn public_key(&self) -> sr25519::PublicKey {
		sr25519::PublicKey(self.0)
	}

	/// SS58 text form, prefix 42.
	pub fn to_ss58(&self) -> String {
		AccountId32(self.0).to_string()
	}

	/// Parses an SS58 address (any prefix) or a hex public key (64 hex digits, optional
	/// `0x`).
	pub fn parse(s: &str) -> Result<Self, HotkeyError> {
		let t = s.trim();
		let hex_digits = t.strip_prefix("0x").unwrap_or(t);
		if hex_digits.len() == 64 {
			let mut key = [0u8; 32];
			if hex::decode_to_slice(hex_digits, &mut key).is_ok() {
				return Ok(Self(key));
			}
		}
		AccountId32::from_str(t).map(|a| Self(a.0)).map_err(|_| HotkeyError(s.chars().take(80).collect()))
	}
}

impl FromStr for Hotkey {
	type Err = HotkeyError;
	fn from_str(s: &str) -> Result<Self, Self::Err> {
		Self::parse(s)
	}
}

impl fmt::Display for Hotkey {
	fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
		f.write_str(&self.to_ss58())
	}
}

impl fmt::Debug for Hotkey {
	fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
		write!(f, "Hotkey({})", self.to_ss58())
	}
}

impl From<[u8; 32]> for Hotkey {
	fn from(key: [u8; 32]) -> Self {
		Self(key)
	}
}

impl From<sr25519::PublicKey> for Hotkey {
	fn from(key: sr25519::PublicKey) -> Self {
		Self(key.0)
	}
}

impl From<&sr25519::Keypair> for Hotkey {
	fn from(keypair: &sr25519::Keypair) -> Self {
		Self::of(keypair)
	}
}

impl From<Hotkey> for [u8; 32] {
	fn from(key: Hotkey) -> Self {
		key.0
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use subxt_signer::sr25519::dev;

	const ALICE: &str = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";
	const ALICE_HEX: &str = "d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d";

	#[test]
	fn ss58_matches_substrate() {
		let alice = Hotkey::of(&dev::alice());
		assert_eq!(alice.to_ss58(), ALICE);
		assert_eq!(alice.to_string(), ALICE);
		assert_eq!(hex::encode(alice.0), ALICE_HEX);
	}

	#[test]
	fn parses_ss58_and_hex() {
		let alice = Hotkey::of(&dev::alice());
		assert_eq!(Hotkey::parse(ALICE).unwrap(), alice);
		assert_eq!(Hotkey::parse(ALICE_HEX).unwrap(), alice);
		assert_eq!(Hotkey::parse(&format!("0x{ALICE_HEX}")).unwrap(), alice);
		// Polkadot (prefix 0) form of Alice.
		assert_eq!(Hotkey::parse("15oF4uVJwmo4TdGW7VfQxNLavjCXviqxT9S1MgbjMNHr6Sp5").unwrap(), alice);
	}

	#[test]
	fn rejects_garbage() {
		for bad in ["", "0x", "0x1234", "not a key", &ALICE[..ALICE.len() - 1], &format!("0x{}", &ALICE_HEX[2..])] {
			assert!(Hotkey::parse(bad).is_err(), "{bad:?} parsed");
		}
		// Checksum broken by changing one character.
		let mut s = ALICE.to_string();
		let c = if &s[10..11] == "Y" { "Z" } else { "Y" };
		s.replace_range(10..11, c);
		assert_ne!(s, ALICE);
		assert!(Hotkey::parse(&s).is_err());
	}
}
