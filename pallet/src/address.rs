//! Which axon addresses are global, i.e. reachable on the public internet.
//!
//! Validators dial every axon they find on-chain, so an axon that points at a loopback,
//! private or otherwise special-purpose address makes them connect into their own
//! networks. Off a development subnet (`allow_local_axons` false) only global unicast
//! addresses are accepted:
//!
//! - IPv4: everything except `0.0.0.0/8` (this network), `10.0.0.0/8`, `100.64.0.0/10`
//!   (shared/CGNAT), `127.0.0.0/8`, `169.254.0.0/16` (link-local), `172.16.0.0/12`,
//!   `192.0.0.0/24` (IETF protocol assignments), `192.0.2.0/24`, `198.51.100.0/24`,
//!   `203.0.113.0/24` (documentation), `192.88.99.0/24` (6to4 relay anycast),
//!   `192.168.0.0/16`, `198.18.0.0/15` (benchmarking), `224.0.0.0/4` (multicast) and
//!   `240.0.0.0/4` (reserved, with the broadcast address `255.255.255.255`).
//! - IPv6: only global unicast `2000::/3`, without `2001::/23` (IETF protocol
//!   assignments: Teredo, benchmarking, ORCHID, ...), `2001:db8::/32` and `3fff::/20`
//!   (documentation), and with `2002::/16` (6to4) only when the IPv4 address it embeds is
//!   global. An IPv4 address in IPv6 form (`::ffff:a.b.c.d` mapped, `64:ff9b::a.b.c.d`
//!   NAT64) is judged as that IPv4 address; the deprecated compatible form `::a.b.c.d`,
//!   `::`, `::1`, `fc00::/7` (unique local), `fe80::/10` (link-local), `fec0::/10`
//!   (site-local), `ff00::/8` (multicast), `64:ff9b:1::/48` (local NAT64) and every other
//!   range outside `2000::/3` are refused.
//!
//! Whatever the subnet allows, the unspecified addresses, the IPv4 broadcast address,
//! all-ones IPv6 and IPv4 values above 32 bits are invalid (subtensor's rule).

/// Why an address cannot be an axon.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum AddressError {
	/// Not an address of its type at all (unspecified, broadcast, out of range, unknown
	/// type).
	Invalid,
	/// A well-formed address that is not global, on a subnet that wants global ones.
	NotGlobal,
}

/// Check an axon address (`ip_type` 4 or 6; IPv4 in the low 32 bits of `ip`).
pub fn check_axon_address(ip_type: u8, ip: u128, allow_local: bool) -> Result<(), AddressError> {
	let global = match ip_type {
		4 => {
			let v4 = u32::try_from(ip).map_err(|_| AddressError::Invalid)?;
			if v4 == 0 || v4 == u32::MAX {
				return Err(AddressError::Invalid);
			}
			is_global_v4(v4)
		},
		6 => {
			if ip == 0 || ip == u128::MAX {
				return Err(AddressError::Invalid);
			}
			is_global_v6(ip)
		},
		_ => return Err(AddressError::Invalid),
	};
	if global || allow_local {
		Ok(())
	} else {
		Err(AddressError::NotGlobal)
	}
}

/// Non-global IPv4 ranges as `(network, prefix length)`.
const NON_GLOBAL_V4: [(u32, u32); 15] = [
	(0x0000_0000, 8),  // 0.0.0.0/8 this network
	(0x0a00_0000, 8),  // 10.0.0.0/8 private
	(0x6440_0000, 10), // 100.64.0.0/10 shared (CGNAT)
	(0x7f00_0000, 8),  // 127.0.0.0/8 loopback
	(0xa9fe_0000, 16), // 169.254.0.0/16 link-local
	(0xac10_0000, 12), // 172.16.0.0/12 private
	(0xc000_0000, 24), // 192.0.0.0/24 IETF protocol assignments
	(0xc000_0200, 24), // 192.0.2.0/24 documentation (TEST-NET-1)
	(0xc058_6300, 24), // 192.88.99.0/24 6to4 relay anycast (deprecated)
	(0xc0a8_0000, 16), // 192.168.0.0/16 private
	(0xc612_0000, 15), // 198.18.0.0/15 benchmarking
	(0xc633_6400, 24), // 198.51.100.0/24 documentation (TEST-NET-2)
	(0xcb00_7100, 24), // 203.0.113.0/24 documentation (TEST-NET-3)
	(0xe000_0000, 4),  // 224.0.0.0/4 multicast
	(0xf000_0000, 4),  // 240.0.0.0/4 reserved, broadcast
];

/// Whether `ip` lies in `network/len` (`len` in 1..=32).
fn in_v4(ip: u32, network: u32, len: u32) -> bool {
	let mask = u32::MAX.checked_shl(32u32.saturating_sub(len)).unwrap_or(0);
	ip & mask == network & mask
}

/// Whether `ip` lies in `network/len` (`len` in 1..=128).
fn in_v6(ip: u128, network: u128, len: u32) -> bool {
	let mask = u128::MAX.checked_shl(128u32.saturating_sub(len)).unwrap_or(0);
	ip & mask == network & mask
}

/// Whether an IPv4 address is global (see the module docs).
pub fn is_global_v4(ip: u32) -> bool {
	!NON_GLOBAL_V4.iter().any(|(network, len)| in_v4(ip, *network, *len))
}

/// Non-global ranges inside `2000::/3`, as `(network, prefix length)`.
const NON_GLOBAL_V6: [(u128, u32); 3] = [
	(0x2001_0000 << 96, 23),      // 2001::/23 IETF protocol assignments
	(0x2001_0db8 << 96, 32),      // 2001:db8::/32 documentation
	(0x3fff_0000 << 96, 20),      // 3fff::/20 documentation
];

/// Whether an IPv6 address is global (see the module docs).
pub fn is_global_v6(ip: u128) -> bool {
	let low32 = (ip & u32::MAX as u128) as u32;
	if in_v6(ip, 0xffff << 32, 96) || in_v6(ip, 0x0064_ff9b << 96, 96) {
		// IPv4-mapped `::ffff:0:0/96` and NAT64 `64:ff9b::/96`: the embedded address.
		return is_global_v4(low32);
	}
	if !in_v6(ip, 0x2 << 124, 3) || NON_GLOBAL_V6.iter().any(|(network, len)| in_v6(ip, *network, *len)) {
		return false;
	}
	if in_v6(ip, 0x2002 << 112, 16) {
		// 6to4: the IPv4 address in bits 16..48.
		return is_global_v4(((ip >> 80) & u32::MAX as u128) as u32);
	}
	true
}
