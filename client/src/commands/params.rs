//! Parsing of command-line values: token amounts, percentages, hyperparameters.

use crate::{cli::format_tokens, Hyperparam, SubnetHyperparams, H256, TOKEN};
use serde_json::{json, Value};

/// `1.5` TSR as planck (9 decimals). Refuses negative numbers, more than 9 decimals and
/// overflow.
pub fn parse_tokens(s: &str) -> Result<u128, String> {
	let t = s.trim();
	let bad = || format!("invalid amount '{s}': expected TSR like 10 or 0.5 (at most 9 decimals)");
	let (int, frac) = t.split_once('.').unwrap_or((t, ""));
	if (int.is_empty() && frac.is_empty()) || !int.chars().all(|c| c.is_ascii_digit()) || !frac.chars().all(|c| c.is_ascii_digit()) {
		return Err(bad());
	}
	if frac.len() > 9 {
		return Err(format!("invalid amount '{s}': TSR has at most 9 decimals"));
	}
	let whole: u128 = if int.is_empty() { 0 } else { int.parse().map_err(|_| bad())? };
	let frac_val: u128 = if frac.is_empty() { 0 } else { format!("{frac:0<9}").parse().map_err(|_| bad())? };
	whole.checked_mul(TOKEN).and_then(|w| w.checked_add(frac_val)).ok_or_else(|| format!("amount '{s}' is too large"))
}

/// A percentage (`0`..=`100`, decimals allowed) as `u16` fixed point (`u16::MAX` = 100%).
pub fn parse_percent(s: &str) -> Result<u16, String> {
	let p: f64 = s.trim().trim_end_matches('%').parse().map_err(|_| format!("invalid percentage '{s}'"))?;
	if !(0.0..=100.0).contains(&p) {
		return Err(format!("percentage {s} is outside 0..100"));
	}
	Ok((p / 100.0 * u16::MAX as f64).round() as u16)
}

/// `u16` fixed point as a percentage.
pub fn percent_of(v: u16) -> f64 {
	v as f64 * 100.0 / u16::MAX as f64
}

/// Names `subnet set --param` accepts: the `Hyperparam` variants in snake_case.
pub const HYPERPARAM_NAMES: &[&str] = &[
	"tempo",
	"kappa",
	"bonds_moving_average",
	"yuma3_enabled",
	"liquid_alpha_enabled",
	"alpha_values",
	"max_allowed_uids",
	"max_allowed_validators",
	"min_allowed_weights",
	"max_weight_limit",
	"immunity_period",
	"activity_cutoff",
	"weights_rate_limit",
	"serving_rate_limit",
	"weights_version_key",
	"commit_reveal_enabled",
	"commit_reveal_period",
	"burn",
	"burn_bounds",
	"target_registrations_per_interval",
	"adjustment_interval",
	"max_registrations_per_block",
	"registration_allowed",
	"weights_min_stake",
	"tokenizer_hash",
	"allow_local_axons",
	"audits_enabled",
	"miner_bond",
	"fraud_threshold",
	"fraud_window",
	"slash_to_reporters",
	"max_model_bytes",
];

fn int<T: std::str::FromStr>(name: &str, v: &str) -> Result<T, String> {
	v.trim()
		.replace('_', "")
		.parse()
		.map_err(|_| format!("{name}: '{v}' is not a valid {}", std::any::type_name::<T>()))
}

fn boolean(name: &str, v: &str) -> Result<bool, String> {
	match v.trim().to_ascii_lowercase().as_str() {
		"true" | "1" | "yes" | "on" => Ok(true),
		"false" | "0" | "no" | "off" => Ok(false),
		_ => Err(format!("{name}: '{v}' is not true or false")),
	}
}

fn tokens(name: &str, v: &str) -> Result<u128, String> {
	parse_tokens(v).map_err(|e| format!("{name}: {e}"))
}

fn pair<'a>(name: &str, v: &'a str) -> Result<(&'a str, &'a str), String> {
	v.split_once(',').ok_or_else(|| format!("{name}: expected two values separated by a comma, got '{v}'"))
}

/// `name=value` as a [`Hyperparam`]. Balances (`burn`, `burn_bounds`, `weights_min_stake`,
/// `miner_bond`) are in TSR; `alpha_values=LOW,HIGH`, `burn_bounds=MIN,MAX`;
/// `tokenizer_hash=0x…` (32 bytes).
pub fn parse_hyperparam(s: &str) -> Result<Hyperparam, String> {
	use Hyperparam as H;
	let (name, v) = s.split_once('=').ok_or_else(|| format!("expected NAME=VALUE, got '{s}'"))?;
	let name = name.trim();
	Ok(match name {
		"tempo" => H::Tempo(int(name, v)?),
		"kappa" => H::Kappa(int(name, v)?),
		"bonds_moving_average" => H::BondsMovingAverage(int(name, v)?),
		"yuma3_enabled" => H::Yuma3Enabled(boolean(name, v)?),
		"liquid_alpha_enabled" => H::LiquidAlphaEnabled(boolean(name, v)?),
		"alpha_values" => {
			let (low, high) = pair(name, v)?;
			H::AlphaValues { low: int(name, low)?, high: int(name, high)? }
		},
		"max_allowed_uids" => H::MaxAllowedUids(int(name, v)?),
		"max_allowed_validators" => H::MaxAllowedValidators(int(name, v)?),
		"min_allowed_weights" => H::MinAllowedWeights(int(name, v)?),
		"max_weight_limit" => H::MaxWeightLimit(int(name, v)?),
		"immunity_period" => H::ImmunityPeriod(int(name, v)?),
		"activity_cutoff" => H::ActivityCutoff(int(name, v)?),
		"weights_rate_limit" => H::WeightsRateLimit(int(name, v)?),
		"serving_rate_limit" => H::ServingRateLimit(int(name, v)?),
		"weights_version_key" => H::WeightsVersionKey(int(name, v)?),
		"commit_reveal_enabled" => H::CommitRevealEnabled(boolean(name, v)?),
		"commit_reveal_period" => H::CommitRevealPeriod(int(name, v)?),
		"burn" => H::Burn(tokens(name, v)?),
		"burn_bounds" => {
			let (min, max) = pair(name, v)?;
			H::BurnBounds { min: tokens(name, min)?, max: tokens(name, max)? }
		},
		"target_registrations_per_interval" => H::TargetRegistrationsPerInterval(int(name, v)?),
		"adjustment_interval" => H::AdjustmentInterval(int(name, v)?),
		"max_registrations_per_block" => H::MaxRegistrationsPerBlock(int(name, v)?),
		"registration_allowed" => H::RegistrationAllowed(boolean(name, v)?),
		"weights_min_stake" => H::WeightsMinStake(tokens(name, v)?),
		"tokenizer_hash" => {
			let hex_str = v.trim().trim_start_matches("0x");
			let bytes = hex::decode(hex_str).map_err(|e| format!("{name}: {e}"))?;
			let raw: [u8; 32] = bytes.try_into().map_err(|_| format!("{name}: expected 32 bytes of hex"))?;
			H::TokenizerHash(H256(raw))
		},
		"allow_local_axons" => H::AllowLocalAxons(boolean(name, v)?),
		"audits_enabled" => H::AuditsEnabled(boolean(name, v)?),
		"miner_bond" => H::MinerBond(tokens(name, v)?),
		"fraud_threshold" => H::FraudThreshold(int(name, v)?),
		"fraud_window" => H::FraudWindow(int(name, v)?),
		"slash_to_reporters" => H::SlashToReporters(boolean(name, v)?),
		"max_model_bytes" => H::MaxModelBytes(int(name, v)?),
		other => {
			return Err(format!("unknown hyperparameter '{other}'; valid names: {}", HYPERPARAM_NAMES.join(", ")))
		},
	})
}

/// Every hyperparameter of a subnet: name, text for people, JSON value (balances as
/// planck strings).
pub fn hyperparam_rows(p: &SubnetHyperparams) -> Vec<(&'static str, String, Value)> {
	let n = |v: u64| (v.to_string(), json!(v));
	let b = |v: bool| (v.to_string(), json!(v));
	let t = |v: u128| (format!("{} TSR", format_tokens(v)), json!(v.to_string()));
	let u = |v: u16| (format!("{v} ({:.4})", v as f64 / u16::MAX as f64), json!(v));
	let rows = vec![
		("tempo", n(p.tempo.into())),
		("kappa", u(p.kappa)),
		("bonds_moving_average", n(p.bonds_moving_average)),
		("yuma3_enabled", b(p.yuma3_enabled)),
		("liquid_alpha_enabled", b(p.liquid_alpha_enabled)),
		("alpha_low", u(p.alpha_low)),
		("alpha_high", u(p.alpha_high)),
		("max_allowed_uids", n(p.max_allowed_uids.into())),
		("max_allowed_validators", n(p.max_allowed_validators.into())),
		("min_allowed_weights", n(p.min_allowed_weights.into())),
		("max_weight_limit", u(p.max_weight_limit)),
		("immunity_period", n(p.immunity_period.into())),
		("activity_cutoff", n(p.activity_cutoff.into())),
		("weights_rate_limit", n(p.weights_rate_limit)),
		("serving_rate_limit", n(p.serving_rate_limit)),
		("weights_version_key", n(p.weights_version_key)),
		("commit_reveal_enabled", b(p.commit_reveal_enabled)),
		("commit_reveal_period", n(p.commit_reveal_period)),
		("burn", t(p.burn)),
		("min_burn", t(p.min_burn)),
		("max_burn", t(p.max_burn)),
		("target_registrations_per_interval", n(p.target_registrations_per_interval.into())),
		("adjustment_interval", n(p.adjustment_interval.into())),
		("max_registrations_per_block", n(p.max_registrations_per_block.into())),
		("registration_allowed", b(p.registration_allowed)),
		("weights_min_stake", t(p.weights_min_stake)),
		("tokenizer_hash", (format!("{:?}", p.tokenizer_hash), json!(format!("{:?}", p.tokenizer_hash)))),
		("allow_local_axons", b(p.allow_local_axons)),
		("audits_enabled", b(p.audits_enabled)),
		("miner_bond", t(p.miner_bond)),
		("fraud_threshold", u(p.fraud_threshold)),
		("fraud_window", n(p.fraud_window)),
		("slash_to_reporters", b(p.slash_to_reporters)),
		("max_model_bytes", n(p.max_model_bytes)),
	];
	rows.into_iter().map(|(k, (text, j))| (k, text, j)).collect()
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn tokens_parse() {
		assert_eq!(parse_tokens("1").unwrap(), TOKEN);
		assert_eq!(parse_tokens("0.5").unwrap(), TOKEN / 2);
		assert_eq!(parse_tokens(".000000001").unwrap(), 1);
		assert_eq!(parse_tokens("2000").unwrap(), 2000 * TOKEN);
		for bad in ["", ".", "-1", "1.0000000001", "1e3", "abc", "1.2.3"] {
			assert!(parse_tokens(bad).is_err(), "{bad}");
		}
	}

	/// `CamelCase` as `snake_case`.
	fn snake(name: &str) -> String {
		let mut out = String::new();
		for (i, c) in name.chars().enumerate() {
			if c.is_ascii_uppercase() && i > 0 {
				out.push('_');
			}
			out.push(c.to_ascii_lowercase());
		}
		out
	}

	#[test]
	fn names_are_the_runtime_hyperparam_variants() {
		let types = crate::cli::static_metadata().types();
		let hyperparam = types
			.types
			.iter()
			.find(|t| t.ty.path.segments.iter().map(String::as_str).eq(["pallet_tessera", "types", "Hyperparam"]))
			.expect("Hyperparam in the metadata");
		let scale_info::TypeDef::Variant(def) = &hyperparam.ty.type_def else { panic!("Hyperparam is an enum") };
		let names: Vec<String> = def.variants.iter().map(|v| snake(&v.name)).collect();
		assert_eq!(names, HYPERPARAM_NAMES);
	}

	#[test]
	fn percent_and_hyperparams_parse() {
		assert_eq!(parse_percent("100").unwrap(), u16::MAX);
		assert_eq!(parse_percent("0").unwrap(), 0);
		assert!(parse_percent("101").is_err());
		assert_eq!(parse_hyperparam("tempo=20").unwrap(), Hyperparam::Tempo(20));
		assert_eq!(parse_hyperparam("miner_bond=1.5").unwrap(), Hyperparam::MinerBond(1_500_000_000));
		assert_eq!(parse_hyperparam("alpha_values=1,2").unwrap(), Hyperparam::AlphaValues { low: 1, high: 2 });
		assert_eq!(parse_hyperparam("audits_enabled=false").unwrap(), Hyperparam::AuditsEnabled(false));
		assert_eq!(parse_hyperparam("max_model_bytes=1_073_741_824").unwrap(), Hyperparam::MaxModelBytes(1 << 30));
		let err = parse_hyperparam("nope=1").unwrap_err();
		assert!(err.contains("unknown hyperparameter 'nope'") && err.contains("tempo"), "{err}");
		assert!(parse_hyperparam("tempo=x").is_err());
		assert!(parse_hyperparam("tempo").is_err());
		for name in HYPERPARAM_NAMES {
			let value = match *name {
				"alpha_values" | "burn_bounds" => "1,2",
				"tokenizer_hash" => "0x0000000000000000000000000000000000000000000000000000000000000000",
				n if n.ends_with("_enabled") || n.ends_with("_allowed") || n.starts_with("allow") || n.starts_with("slash") => "true",
				_ => "1",
			};
			assert!(parse_hyperparam(&format!("{name}={value}")).is_ok(), "{name}");
		}
	}
}
