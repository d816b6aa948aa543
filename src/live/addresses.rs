//! Where students connect: every address the shop can be reached at.
//!
//! A shop listening on `0.0.0.0` is reachable at each IPv4 address of the machine, and a
//! teacher needs those, not `0.0.0.0`, to write on the board. We list the interfaces
//! with the `if-addrs` crate rather than the trick of "connecting" a UDP socket to a
//! public address and reading its local address: that trick needs a default route,
//! which an offline classroom LAN often lacks, and finds only one address where a
//! laptop on Wi-Fi and cable has two.

use std::net::{IpAddr, SocketAddr};

/// One address students can connect to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reachable {
    /// The address with the shop's port.
    pub addr: SocketAddr,
    /// The network interface it belongs to (`eth0`, `WLAN`), empty when not looked up.
    pub interface: String,
}

impl std::fmt::Display for Reachable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.interface.is_empty() {
            write!(f, "{}", self.addr)
        } else {
            write!(f, "{} ({})", self.addr, self.interface)
        }
    }
}

/// Every address the shop listening on `listen` can be reached at from other machines:
/// for a wildcard address the machine's non-loopback addresses (IPv4 first; IPv6 only
/// for `[::]`, without link-local ones, which need a zone to be usable), else `listen`
/// itself. Falls back to loopback if the machine has no other address.
pub fn reachable(listen: SocketAddr) -> Vec<Reachable> {
    if !listen.ip().is_unspecified() {
        return vec![Reachable {
            addr: listen,
            interface: String::new(),
        }];
    }
    let interfaces = if_addrs::get_if_addrs().unwrap_or_else(|e| {
        log::warn!("cannot list network interfaces: {e}");
        Vec::new()
    });
    let mut found = pick(
        listen,
        interfaces.into_iter().map(|i| (i.name.clone(), i.ip())),
    );
    if found.is_empty() {
        let loopback = match listen.ip() {
            IpAddr::V4(_) => IpAddr::from([127, 0, 0, 1]),
            IpAddr::V6(_) => IpAddr::from([0, 0, 0, 0, 0, 0, 0, 1]),
        };
        found.push(Reachable {
            addr: SocketAddr::new(loopback, listen.port()),
            interface: "lo".into(),
        });
    }
    found
}

/// The pure part of [`reachable`]: which of the interface addresses to show.
fn pick(listen: SocketAddr, interfaces: impl Iterator<Item = (String, IpAddr)>) -> Vec<Reachable> {
    let mut found: Vec<Reachable> = interfaces
        .filter(|(_, ip)| !ip.is_loopback() && !ip.is_unspecified())
        .filter(|(_, ip)| match ip {
            IpAddr::V4(_) => true,
            // A `[::]` listener is dual-stack by default on Linux and Windows.
            IpAddr::V6(v6) => listen.is_ipv6() && (v6.segments()[0] & 0xffc0) != 0xfe80,
        })
        .map(|(interface, ip)| Reachable {
            addr: SocketAddr::new(ip, listen.port()),
            interface,
        })
        .collect();
    found.sort_by_key(|r| (r.addr.is_ipv6(), r.addr));
    found.dedup();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(listen: &str, ifs: &[(&str, &str)]) -> Vec<String> {
        pick(
            listen.parse().unwrap(),
            ifs.iter()
                .map(|(name, ip)| (name.to_string(), ip.parse().unwrap())),
        )
        .into_iter()
        .map(|r| format!("{} {}", r.interface, r.addr))
        .collect()
    }

    #[test]
    fn wildcard_listeners_list_lan_addresses() {
        let ifs = [
            ("lo", "127.0.0.1"),
            ("wlan0", "192.168.1.23"),
            ("eth0", "10.0.0.5"),
            ("lo", "::1"),
            ("eth0", "fe80::1"),
            ("eth0", "2001:db8::5"),
        ];
        assert_eq!(
            addrs("0.0.0.0:9999", &ifs),
            ["eth0 10.0.0.5:9999", "wlan0 192.168.1.23:9999"]
        );
        assert_eq!(
            addrs("[::]:9999", &ifs),
            [
                "eth0 10.0.0.5:9999",
                "wlan0 192.168.1.23:9999",
                "eth0 [2001:db8::5]:9999"
            ]
        );
    }

    #[test]
    fn specific_addresses_are_themselves() {
        let got = reachable("192.0.2.7:9999".parse().unwrap());
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].addr.to_string(), "192.0.2.7:9999");
    }

    #[test]
    fn this_machine_has_some_address() {
        let got = reachable("0.0.0.0:1".parse().unwrap());
        assert!(!got.is_empty());
        assert!(got.iter().all(|r| r.addr.port() == 1 && r.addr.is_ipv4()));
    }
}
