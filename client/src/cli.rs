//! Rendering of chain data for people (tables) and scripts (JSON).

use crate::{Metagraph, TOKEN};
use std::fmt::Write;

/// Tokens with 9 decimals as `123.456789000`.
pub fn format_tokens(amount: u128) -> String {
	format!("{}.{:09}", amount / TOKEN, amount % TOKEN)
}

/// `u16` fixed point (`u16::MAX` = 1.0) as a decimal.
pub fn format_unit(v: u16) -> String {
	format!("{:.4}", v as f64 / u16::MAX as f64)
}

/// Axon as `ip:port`.
pub fn format_axon(axon: &crate::AxonInfo) -> String {
	match axon.ip_type {
		4 => format!("{}:{}", std::net::Ipv4Addr::from(axon.ip as u32), axon.port),
		_ => format!("[{}]:{}", std::net::Ipv6Addr::from(axon.ip), axon.port),
	}
}

/// A readable metagraph table.
pub fn metagraph_table(m: &Metagraph) -> String {
	let mut out = String::new();
	let _ = writeln!(out, "subnet {} at block {} ({} neurons)", m.netuid, m.block, m.neurons.len());
	let _ = writeln!(
		out,
		"{:>4} {:<12} {:>18} {:>7} {:>7} {:>7} {:>7} {:>7} {:>16} {:>2} {:<21} {:<12}",
		"uid", "hotkey", "stake", "rank", "trust", "consens", "incent", "divs", "emission", "vp", "axon", "model"
	);
	for n in &m.neurons {
		let hotkey = n.hotkey.to_string();
		let model = n.model.as_ref().map(|c| format!("{:?}", c.model_hash)).unwrap_or_default();
		let _ = writeln!(
			out,
			"{:>4} {:<12} {:>18} {:>7} {:>7} {:>7} {:>7} {:>7} {:>16} {:>2} {:<21} {:<12}",
			n.uid,
			&hotkey[..hotkey.len().min(12)],
			format_tokens(n.stake),
			format_unit(n.rank),
			format_unit(n.trust),
			format_unit(n.consensus),
			format_unit(n.incentive),
			format_unit(n.dividends),
			format_tokens(n.emission),
			if n.validator_permit { "*" } else { "" },
			n.axon.as_ref().map(format_axon).unwrap_or_else(|| "-".into()),
			&model[..model.len().min(12)],
		);
	}
	out
}

/// The metagraph as JSON for scripts.
pub fn metagraph_json(m: &Metagraph) -> serde_json::Value {
	let neurons: Vec<_> = m
		.neurons
		.iter()
		.map(|n| {
			serde_json::json!({
				"uid": n.uid,
				"hotkey": n.hotkey.to_string(),
				"coldkey": n.coldkey.to_string(),
				"stake": n.stake.to_string(),
				"rank": n.rank,
				"trust": n.trust,
				"consensus": n.consensus,
				"incentive": n.incentive,
				"dividends": n.dividends,
				"emission": n.emission.to_string(),
				"validatorPermit": n.validator_permit,
				"lastUpdate": n.last_update,
				"axon": n.axon.as_ref().map(format_axon),
				"model": n.model.as_ref().map(|c| format!("{:?}", c.model_hash)),
				"weights": n.weights,
			})
		})
		.collect();
	serde_json::json!({ "netuid": m.netuid, "block": m.block, "neurons": neurons })
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn tokens_and_units_format() {
		assert_eq!(format_tokens(1_500_000_000), "1.500000000");
		assert_eq!(format_tokens(7), "0.000000007");
		assert_eq!(format_unit(u16::MAX), "1.0000");
		assert_eq!(format_unit(0), "0.0000");
	}
}
