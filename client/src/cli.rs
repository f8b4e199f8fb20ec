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

/// The metadata the client was generated from, decoded once (event and error decoding).
pub fn static_metadata() -> &'static subxt::Metadata {
	static METADATA: std::sync::OnceLock<subxt::Metadata> = std::sync::OnceLock::new();
	METADATA.get_or_init(|| {
		use codec::Decode;
		subxt::Metadata::decode(&mut &crate::METADATA[..]).expect("client/metadata.scale decodes")
	})
}

/// The documentation of pallet error `pallet::error` (its first paragraph), from the metadata.
pub fn pallet_error_docs(pallet: &str, error: &str) -> Option<String> {
	let md = static_metadata();
	let variant = md.pallet_by_name(pallet)?.error_variants()?.iter().find(|v| v.name == error)?;
	let docs: Vec<&str> = variant.docs.iter().map(|l| l.trim()).take_while(|l| !l.is_empty()).collect();
	(!docs.is_empty()).then(|| docs.join(" "))
}

/// One event of a transaction, decoded for people and scripts.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct EventSummary {
	/// Pallet, e.g. `Tessera`.
	pub pallet: String,
	/// Event, e.g. `StakeAdded`.
	pub event: String,
	/// Its fields: accounts as SS58, hashes as hex, `u128` amounts as decimal strings.
	pub fields: serde_json::Map<String, serde_json::Value>,
	/// One line for people (amounts of `Balance` fields in TSR).
	#[serde(skip)]
	pub text: String,
}

/// Events that every transaction emits (fees, success); left out of the text summary.
pub fn is_routine_event(pallet: &str, event: &str) -> bool {
	matches!(
		(pallet, event),
		("System", "ExtrinsicSuccess") |
			("TransactionPayment", "TransactionFeePaid") |
			("Balances", "Withdraw") |
			("Balances", "Deposit") |
			("Balances", "BurnedDebt")
	)
}

/// Decode the events of a transaction. Returns them and the fee paid, if reported.
pub fn summarize_events(events: &crate::chain::Events) -> (Vec<EventSummary>, Option<u128>) {
	let md = static_metadata();
	let mut out = Vec::new();
	let mut fee = None;
	for ev in events.iter().flatten() {
		let (pallet, event) = (ev.pallet_name().to_string(), ev.event_name().to_string());
		let mut summary = EventSummary {
			text: format!("{pallet}.{event}"),
			pallet,
			event,
			fields: Default::default(),
		};
		let variant = md
			.pallet_by_name(&summary.pallet)
			.and_then(|p| p.event_variants())
			.and_then(|vs| vs.iter().find(|v| v.name == summary.event));
		if let Some(variant) = variant {
			let mut fields = variant
				.fields
				.iter()
				.map(|f| subxt::ext::scale_decode::Field::new(f.ty.id, f.name.as_deref()));
			let mut bytes = ev.field_bytes();
			if let Ok(decoded) = subxt::ext::scale_value::scale::decode_as_fields(&mut bytes, &mut fields, md.types()) {
				let values: Vec<_> = decoded.into_values().collect();
				for (i, (f, v)) in variant.fields.iter().zip(values.iter()).enumerate() {
					let name = f.name.clone().unwrap_or_else(|| i.to_string());
					let json = value_json(v, md.types());
					let is_balance = f.type_name.as_deref().is_some_and(|t| t.contains("Balance"));
					let shown = match (&json, is_balance) {
						(serde_json::Value::String(s), true) => s.parse::<u128>().map(|a| format!("{} TSR", format_tokens(a))).unwrap_or_else(|_| s.clone()),
						(serde_json::Value::String(s), false) => s.clone(),
						(other, _) => other.to_string(),
					};
					summary.text.push_str(&format!(" {name}={shown}"));
					if summary.pallet == "TransactionPayment" && name == "actual_fee" {
						fee = json.as_str().and_then(|s| s.parse().ok());
					}
					summary.fields.insert(name, json);
				}
			}
		}
		out.push(summary);
	}
	(out, fee)
}

/// A decoded SCALE value as JSON: accounts as SS58, byte arrays as `0x` hex, `u128`/`i128`
/// as decimal strings, `Option` as null or its value, unit enum variants as their name.
pub fn value_json(v: &subxt::ext::scale_value::Value<u32>, types: &scale_info::PortableRegistry) -> serde_json::Value {
	use scale_info::{TypeDef, TypeDefPrimitive};
	use serde_json::Value as J;
	use subxt::ext::scale_value::{Composite, Primitive, ValueDef};
	let ty = types.resolve(v.context);
	let byte_of = |x: &subxt::ext::scale_value::Value<u32>| match (&x.value, types.resolve(x.context).map(|t| &t.type_def)) {
		(ValueDef::Primitive(Primitive::U128(b)), Some(TypeDef::Primitive(TypeDefPrimitive::U8))) => Some(*b as u8),
		_ => None,
	};
	let bytes_of = |c: &Composite<u32>| -> Option<Vec<u8>> {
		let vals: Vec<_> = c.values().collect();
		if vals.is_empty() {
			return None;
		}
		vals.into_iter().map(byte_of).collect()
	};
	// All bytes of a (possibly nested newtype) composite.
	fn flat<'a>(v: &'a subxt::ext::scale_value::Value<u32>) -> &'a subxt::ext::scale_value::Value<u32> {
		match &v.value {
			ValueDef::Composite(c) if c.len() == 1 => match c.values().next() {
				Some(inner) if matches!(inner.value, ValueDef::Composite(_)) => flat(inner),
				_ => v,
			},
			_ => v,
		}
	}
	if ty.is_some_and(|t| t.path.segments.last().is_some_and(|s| s == "AccountId32")) {
		if let ValueDef::Composite(c) = &flat(v).value {
			if let Some(b) = bytes_of(c) {
				if let Ok(raw) = <[u8; 32]>::try_from(b.as_slice()) {
					return J::String(crate::AccountId::from(raw).to_string());
				}
			}
		}
	}
	match &v.value {
		ValueDef::Primitive(p) => match p {
			Primitive::Bool(b) => J::Bool(*b),
			Primitive::Char(c) => J::String(c.to_string()),
			Primitive::String(s) => J::String(s.clone()),
			Primitive::U128(n) => match ty.map(|t| &t.type_def) {
				Some(TypeDef::Primitive(TypeDefPrimitive::U128)) => J::String(n.to_string()),
				_ => u64::try_from(*n).map(J::from).unwrap_or_else(|_| J::String(n.to_string())),
			},
			Primitive::I128(n) => match ty.map(|t| &t.type_def) {
				Some(TypeDef::Primitive(TypeDefPrimitive::I128)) => J::String(n.to_string()),
				_ => i64::try_from(*n).map(J::from).unwrap_or_else(|_| J::String(n.to_string())),
			},
			Primitive::U256(b) | Primitive::I256(b) => J::String(format!("0x{}", hex::encode(b))),
		},
		ValueDef::Composite(c) => {
			if let ValueDef::Composite(inner) = &flat(v).value {
				if let Some(b) = bytes_of(inner) {
					return J::String(format!("0x{}", hex::encode(b)));
				}
			}
			match c {
				Composite::Named(fields) => J::Object(fields.iter().map(|(k, x)| (k.clone(), value_json(x, types))).collect()),
				Composite::Unnamed(vals) if vals.len() == 1 => value_json(&vals[0], types),
				Composite::Unnamed(vals) => J::Array(vals.iter().map(|x| value_json(x, types)).collect()),
			}
		},
		ValueDef::Variant(var) => {
			let is_option = ty.is_some_and(|t| t.path.segments.last().is_some_and(|s| s == "Option"));
			match (is_option, var.name.as_str(), var.values.len()) {
				(true, "None", _) => J::Null,
				(true, "Some", 1) => value_json(var.values.values().next().expect("one value"), types),
				(_, name, 0) => J::String(name.to_string()),
				(_, name, _) => {
					let inner = value_json(&subxt::ext::scale_value::Value { value: ValueDef::Composite(var.values.clone()), context: u32::MAX }, types);
					serde_json::json!({ name: inner })
				},
			}
		},
		ValueDef::BitSequence(bits) => J::String(format!("{bits:?}")),
	}
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
