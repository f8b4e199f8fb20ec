//! Property tests of the axon address rule against a reference written with
//! `std::net` (attack 9 of issue 19).

use super::attacks::{global_axons, non_global_axons};
use crate::address::{check_axon_address, is_global_v4, is_global_v6, AddressError};
use proptest::prelude::*;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Whether `ip` is in the CIDR block `cidr` ("a.b.c.d/len").
fn in_cidr(ip: Ipv4Addr, cidr: &str) -> bool {
	let (net, len) = cidr.split_once('/').unwrap();
	let (net, len): (Ipv4Addr, u32) = (net.parse().unwrap(), len.parse().unwrap());
	let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
	u32::from(ip) & mask == u32::from(net) & mask
}

/// The reference: std's classifications plus the IANA special-purpose blocks std has no
/// stable method for.
fn reference_v4(ip: Ipv4Addr) -> bool {
	let special = ["0.0.0.0/8", "100.64.0.0/10", "192.0.0.0/24", "192.88.99.0/24", "198.18.0.0/15", "240.0.0.0/4"];
	!(ip.is_private() ||
		ip.is_loopback() ||
		ip.is_link_local() ||
		ip.is_broadcast() ||
		ip.is_documentation() ||
		ip.is_unspecified() ||
		ip.is_multicast() ||
		special.iter().any(|c| in_cidr(ip, c)))
}

fn reference_v6(ip: Ipv6Addr) -> bool {
	let s = ip.segments();
	if let Some(v4) = ip.to_ipv4_mapped() {
		return reference_v4(v4);
	}
	let embedded = |hi: u16, lo: u16| Ipv4Addr::from(((hi as u32) << 16) | lo as u32);
	if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
		return reference_v4(embedded(s[6], s[7]));
	}
	if ip.is_unspecified() || ip.is_loopback() || ip.is_multicast() || ip.is_unique_local() || ip.is_unicast_link_local() {
		return false;
	}
	let global_unicast = s[0] & 0xe000 == 0x2000;
	let ietf = s[0] == 0x2001 && s[1] < 0x200;
	let documentation = (s[0] == 0x2001 && s[1] == 0x0db8) || (s[0] == 0x3fff && s[1] < 0x1000);
	if !global_unicast || ietf || documentation {
		return false;
	}
	if s[0] == 0x2002 {
		return reference_v4(embedded(s[1], s[2]));
	}
	true
}

/// IPv4 addresses: uniform, and inside each special block.
fn any_v4() -> impl Strategy<Value = u32> {
	let blocks: Vec<(u32, u32)> = [
		("0.0.0.0", 8), ("10.0.0.0", 8), ("100.64.0.0", 10), ("127.0.0.0", 8), ("169.254.0.0", 16),
		("172.16.0.0", 12), ("192.0.0.0", 24), ("192.0.2.0", 24), ("192.88.99.0", 24), ("192.168.0.0", 16),
		("198.18.0.0", 15), ("198.51.100.0", 24), ("203.0.113.0", 24), ("224.0.0.0", 4), ("240.0.0.0", 4),
		// Neighbours of the blocks, which are global.
		("100.128.0.0", 10), ("172.32.0.0", 12), ("198.20.0.0", 15), ("11.0.0.0", 8), ("192.169.0.0", 16),
	]
	.iter()
	.map(|(n, len)| (u32::from(n.parse::<Ipv4Addr>().unwrap()), *len))
	.collect();
	prop_oneof![
		any::<u32>(),
		(prop::sample::select(blocks), any::<u32>()).prop_map(|((net, len), host)| net | (host & (u32::MAX >> len))),
	]
}

/// IPv6 addresses: uniform, in interesting /16../96 prefixes, and IPv4 in IPv6 forms.
fn any_v6() -> impl Strategy<Value = u128> {
	let prefixes: Vec<(u128, u32)> = [
		("::", 96), ("::ffff:0:0", 96), ("64:ff9b::", 96), ("64:ff9b:1::", 48), ("2002::", 16), ("2001::", 23),
		("2001:db8::", 32), ("3fff::", 20), ("fc00::", 7), ("fe80::", 10), ("fec0::", 10), ("ff00::", 8),
		("2000::", 3), ("2400::", 6), ("2a00::", 8), ("100::", 64), ("4000::", 2), ("2001:200::", 23),
	]
	.iter()
	.map(|(n, len)| (u128::from(n.parse::<Ipv6Addr>().unwrap()), *len))
	.collect();
	prop_oneof![
		any::<u128>(),
		(prop::sample::select(prefixes), any::<u128>()).prop_map(|((net, len), host)| net | (host & (u128::MAX >> len))),
		(prop::sample::select(vec![0xffffu128 << 32, 0x64_ff9bu128 << 96, 0]), any_v4()).prop_map(|(p, v4)| p | v4 as u128),
		any_v4().prop_map(|v4| (0x2002u128 << 112) | ((v4 as u128) << 80) | 1),
	]
}

proptest! {
	#![proptest_config(ProptestConfig::with_cases(20_000))]

	#[test]
	fn v4_rule_matches_the_reference(ip in any_v4()) {
		prop_assert_eq!(is_global_v4(ip), reference_v4(Ipv4Addr::from(ip)), "{}", Ipv4Addr::from(ip));
		// Its mapped and NAT64 forms are judged the same.
		prop_assert_eq!(is_global_v6((0xffffu128 << 32) | ip as u128), is_global_v4(ip));
		prop_assert_eq!(is_global_v6((0x64_ff9bu128 << 96) | ip as u128), is_global_v4(ip));
	}

	#[test]
	fn v6_rule_matches_the_reference(ip in any_v6()) {
		prop_assert_eq!(is_global_v6(ip), reference_v6(Ipv6Addr::from(ip)), "{}", Ipv6Addr::from(ip));
	}

	#[test]
	fn off_a_dev_subnet_only_global_addresses_pass(ip in any_v4(), ip6 in any_v6()) {
		let expected4 = match ip {
			0 | u32::MAX => Err(AddressError::Invalid),
			_ if reference_v4(Ipv4Addr::from(ip)) => Ok(()),
			_ => Err(AddressError::NotGlobal),
		};
		prop_assert_eq!(check_axon_address(4, ip as u128, false), expected4);
		let expected6 = match ip6 {
			0 | u128::MAX => Err(AddressError::Invalid),
			_ if reference_v6(Ipv6Addr::from(ip6)) => Ok(()),
			_ => Err(AddressError::NotGlobal),
		};
		prop_assert_eq!(check_axon_address(6, ip6, false), expected6);
		// A development subnet takes every well-formed address.
		prop_assert_eq!(check_axon_address(4, ip as u128, true).is_ok(), expected4 != Err(AddressError::Invalid));
		prop_assert_eq!(check_axon_address(6, ip6, true).is_ok(), expected6 != Err(AddressError::Invalid));
	}

	#[test]
	fn ipv4_values_above_32_bits_are_invalid(high in 1u128..=u128::MAX >> 32, low in any::<u32>()) {
		prop_assert_eq!(check_axon_address(4, (high << 32) | low as u128, true), Err(AddressError::Invalid));
	}
}

#[test]
fn listed_kinds_agree_with_the_reference() {
	let reference = |(ip, ip_type): (u128, u8)| match ip_type {
		4 => reference_v4(Ipv4Addr::from(ip as u32)),
		_ => reference_v6(Ipv6Addr::from(ip)),
	};
	for axon in non_global_axons() {
		assert!(!reference(axon), "{axon:x?}");
		assert_eq!(check_axon_address(axon.1, axon.0, false), Err(AddressError::NotGlobal), "{axon:x?}");
	}
	for axon in global_axons() {
		assert!(reference(axon), "{axon:x?}");
		assert_eq!(check_axon_address(axon.1, axon.0, false), Ok(()), "{axon:x?}");
	}
	assert_eq!(check_axon_address(5, 1, true), Err(AddressError::Invalid));
}
