//! Chain specifications of the Tessera chain.
//!
//! The built-in specs are assembled from the genesis presets of the runtime
//! (`sp_genesis_builder`), so the node never duplicates genesis logic.

use sc_service::ChainType;
use std::path::PathBuf;
use tessera_runtime::WASM_BINARY;

/// The chain spec type of Tessera: a generic spec without extensions.
pub type ChainSpec = sc_service::GenericChainSpec;

/// Symbol of the native token.
pub const TOKEN_SYMBOL: &str = "TSR";
/// Number of decimals of the native token.
pub const TOKEN_DECIMALS: u32 = 9;
/// SS58 address format (42 = generic Substrate).
pub const SS58_FORMAT: u16 = 42;

/// The chain properties shared by every Tessera chain spec.
pub fn chain_properties() -> sc_chain_spec::Properties {
	let mut properties = sc_chain_spec::Properties::new();
	properties.insert("tokenSymbol".into(), TOKEN_SYMBOL.into());
	properties.insert("tokenDecimals".into(), TOKEN_DECIMALS.into());
	properties.insert("ss58Format".into(), SS58_FORMAT.into());
	properties
}

fn wasm_binary() -> Result<&'static [u8], String> {
	WASM_BINARY.ok_or_else(|| {
		"The runtime WASM binary is not available; build the node without SKIP_WASM_BUILD"
			.to_string()
	})
}

/// The single-node development chain (`--dev`), sealed by the node's manual-seal timer.
pub fn development_chain_spec() -> Result<ChainSpec, String> {
	Ok(ChainSpec::builder(wasm_binary()?, Default::default())
		.with_name("Tessera Development")
		.with_id("dev")
		.with_chain_type(ChainType::Development)
		.with_genesis_config_preset_name(sp_genesis_builder::DEV_RUNTIME_PRESET)
		.with_properties(chain_properties())
		.build())
}

/// The local multi-validator testnet (`--chain local`): Aura + GRANDPA, Alice and Bob.
pub fn local_chain_spec() -> Result<ChainSpec, String> {
	Ok(ChainSpec::builder(wasm_binary()?, Default::default())
		.with_name("Tessera Local Testnet")
		.with_id("local_testnet")
		.with_chain_type(ChainType::Local)
		.with_genesis_config_preset_name(sp_genesis_builder::LOCAL_TESTNET_RUNTIME_PRESET)
		.with_properties(chain_properties())
		.build())
}

/// Loads a chain spec from a JSON file.
///
/// When the file carries no `properties`, the Tessera defaults ([`chain_properties`]) are
/// filled in, so wallets always see the right token symbol, decimals and address format.
pub fn chain_spec_from_json_file(path: PathBuf) -> Result<ChainSpec, String> {
	let bytes = std::fs::read(&path)
		.map_err(|e| format!("Error opening spec file `{}`: {e}", path.display()))?;
	let mut json: serde_json::Value = serde_json::from_slice(&bytes)
		.map_err(|e| format!("Error parsing spec file `{}`: {e}", path.display()))?;

	let has_properties = json
		.get("properties")
		.map(|p| p.as_object().is_some_and(|o| !o.is_empty()))
		.unwrap_or(false);
	if has_properties {
		return ChainSpec::from_json_bytes(bytes);
	}

	let object = json
		.as_object_mut()
		.ok_or_else(|| format!("Spec file `{}` is not a JSON object", path.display()))?;
	object.insert("properties".into(), serde_json::Value::Object(chain_properties()));
	let patched = serde_json::to_vec(&json).map_err(|e| e.to_string())?;
	ChainSpec::from_json_bytes(patched)
}

/// Whether `spec` describes a development chain, which the node authors with manual seal
/// instead of Aura + GRANDPA.
pub fn is_dev(spec: &dyn sc_service::ChainSpec) -> bool {
	matches!(spec.chain_type(), ChainType::Development)
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn properties_carry_token_and_address_format() {
		let properties = chain_properties();
		assert_eq!(properties["tokenSymbol"], "TSR");
		assert_eq!(properties["tokenDecimals"], 9);
		assert_eq!(properties["ss58Format"], 42);
	}
}
