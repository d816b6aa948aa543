//! Which `Host` headers the live view answers: only names of this server.
//!
//! Against DNS rebinding: a web page the teacher visits (`http://evil.test:8080/`) can
//! make its own name point at 127.0.0.1, and its script then reads the loopback view,
//! which needs no token, as if it were its own site. The browser still sends `Host:
//! evil.test:8080`, so the view answers only requests whose Host is an IP literal of
//! this server (loopback, the address it listens on, the addresses it lists for
//! students) or `localhost`, with any port, as Jupyter and development servers do.
//! A request without a Host header (HTTP/1.0, `nc`) comes from no browser and is
//! answered.

use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use log::warn;

use super::hub::lock;

/// How often a refused Host is logged at most: a page retrying in a loop must not
/// fill the log.
const LOG_EVERY: Duration = Duration::from_secs(60);

/// The names this server answers to.
pub(super) struct Hosts {
    /// IP literals besides loopback: the listening address, the machine's addresses.
    ips: Vec<IpAddr>,
    /// When a refusal was last logged, and the refusals since.
    logged: Mutex<(Option<Instant>, u64)>,
}

impl Hosts {
    /// The names of a view listening on `listen`, reachable at `reachable`.
    pub(super) fn new(listen: SocketAddr, reachable: impl IntoIterator<Item = IpAddr>) -> Hosts {
        let mut ips: Vec<IpAddr> = reachable.into_iter().collect();
        ips.push(listen.ip());
        Hosts {
            ips,
            logged: Mutex::new((None, 0)),
        }
    }

    /// True if `host` (a Host header's value, `None` if there was none) names this
    /// server; else logs it (at most once a minute) and returns false.
    pub(super) fn allow(&self, host: Option<&str>) -> bool {
        let Some(host) = host else {
            return true;
        };
        if self.names_us(host) {
            return true;
        }
        let mut logged = lock(&self.logged);
        logged.1 += 1;
        if logged.0.is_none_or(|at| at.elapsed() >= LOG_EVERY) {
            warn!(
                "live view: refused {} request(s) for Host {host:?}: not a name of this \
                 server (a web page using DNS rebinding?); open the view by its address \
                 or localhost. Logged at most once a minute.",
                logged.1
            );
            *logged = (Some(Instant::now()), 0);
        }
        false
    }

    fn names_us(&self, host: &str) -> bool {
        let Some(name) = without_port(host) else {
            return false;
        };
        if name.eq_ignore_ascii_case("localhost") {
            return true;
        }
        match name.trim_start_matches('[').trim_end_matches(']').parse() {
            Ok(ip) => {
                let ip: IpAddr = ip;
                ip.is_loopback() || self.ips.contains(&ip)
            }
            Err(_) => false,
        }
    }
}

/// `host` without its `:port`, if the port is well formed: `127.0.0.1:8080` and
/// `[::1]:8080` give `127.0.0.1` and `[::1]`. A bracket-less IPv6 literal is not a
/// valid Host.
fn without_port(host: &str) -> Option<&str> {
    let (name, port) = match host.rfind(':') {
        Some(at) if !host[at..].contains(']') => (&host[..at], &host[at + 1..]),
        _ => (host, ""),
    };
    let brackets_ok = name.starts_with('[') == name.ends_with(']');
    let port_ok = port.bytes().all(|b| b.is_ascii_digit()) && port.len() <= 5;
    (brackets_ok
        && !name.is_empty()
        && !name.trim_matches(['[', ']']).is_empty()
        && port_ok
        && (name.starts_with('[') || !name.contains(':')))
    .then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_this_server_with_or_without_a_port() {
        let hosts = Hosts::new(
            "0.0.0.0:8080".parse().unwrap(),
            [IpAddr::from([192, 168, 1, 23])],
        );
        for good in [
            "127.0.0.1",
            "127.0.0.1:8080",
            "localhost",
            "LOCALHOST:80",
            "[::1]:8080",
            "[::1]",
            "192.168.1.23:8080",
            "0.0.0.0:8080",
        ] {
            assert!(hosts.allow(Some(good)), "{good}");
        }
        for bad in [
            "evil.test",
            "evil.test:8080",
            "localhost.evil.test",
            "127.0.0.1.evil.test",
            "192.168.1.24:8080",
            "::1",
            "127.0.0.1:80x",
            "[::1",
            "",
            ":8080",
        ] {
            assert!(!hosts.allow(Some(bad)), "{bad}");
        }
        assert!(hosts.allow(None), "no Host: not a browser");
        let logged = lock(&hosts.logged);
        assert!(logged.0.is_some(), "the first refusal was logged");
        assert_eq!(
            logged.1, 9,
            "the others only counted, until a minute has passed"
        );
    }
}
