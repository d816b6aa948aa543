//! Where to connect: the address forms every network tool accepts.
//!
//! `HOST PORT` (like `nc`), `HOST:PORT`, `[v6]:PORT`, a bare IPv6 address, and the
//! server's own `--host`/`--port` flags. Anything else is one clear error.

use std::fmt;

/// The host used when none is given, as the server's default.
pub const DEFAULT_HOST: &str = "127.0.0.1";
/// The port used when none is given, as the server's default.
pub const DEFAULT_PORT: u16 = 9999;

/// A host (name, IPv4 or IPv6 without brackets) and a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub host: String,
    pub port: u16,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// What is wrong with the address given, in words for the user (Chinese first).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct AddressError(String);

/// Builds the target from up to two positional arguments and the `--host`/`--port`
/// flags.
pub fn parse(
    positional: &[String],
    host_flag: Option<&str>,
    port_flag: Option<&str>,
) -> Result<Target, AddressError> {
    let err = |s: String| Err(AddressError(s));
    let (mut host, mut port) = (None::<String>, None::<u16>);
    match positional {
        [] => {}
        [one] => {
            let (h, p) = split(one)?;
            host = Some(h);
            port = p;
        }
        [first, second] => {
            let (h, p) = split(first)?;
            if p.is_some() {
                return err(format!(
                    "地址 {first} 已经带了端口,又给了端口 {second} · the address already has a port"
                ));
            }
            host = Some(h);
            port = Some(parse_port(second)?);
        }
        more => {
            return err(format!(
                "参数太多:{} · expected HOST PORT, HOST:PORT or [IPv6]:PORT",
                more.join(" ")
            ));
        }
    }
    if let Some(flag) = host_flag {
        if host.is_some() {
            return err(format!(
                "主机给了两次:--host {flag} 和 {} · the host is given twice",
                positional[0]
            ));
        }
        let (h, p) = split(flag)?;
        if p.is_some() {
            return err(format!(
                "--host 只接受主机,端口请用 --port:{flag} · --host takes no port"
            ));
        }
        host = Some(h);
    }
    if let Some(flag) = port_flag {
        if port.is_some() {
            return err(format!(
                "端口给了两次:--port {flag} 和 {} · the port is given twice",
                positional.join(" ")
            ));
        }
        port = Some(parse_port(flag)?);
    }
    Ok(Target {
        host: host.unwrap_or_else(|| DEFAULT_HOST.to_string()),
        port: port.unwrap_or(DEFAULT_PORT),
    })
}

/// Splits `HOST`, `HOST:PORT`, `[V6]`, `[V6]:PORT` or a bare IPv6 address.
fn split(arg: &str) -> Result<(String, Option<u16>), AddressError> {
    let bad = || {
        AddressError(format!(
            "看不懂的地址:{arg} · expected HOST, HOST:PORT, [IPv6] or [IPv6]:PORT"
        ))
    };
    if let Some(rest) = arg.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(bad)?;
        if host.is_empty() || !host.contains(':') {
            return Err(bad());
        }
        return match after {
            "" => Ok((host.to_string(), None)),
            _ => {
                let port = after.strip_prefix(':').ok_or_else(bad)?;
                Ok((host.to_string(), Some(parse_port(port)?)))
            }
        };
    }
    if arg.is_empty() || arg.contains(['[', ']', '/', ' ']) {
        return Err(bad());
    }
    match arg.matches(':').count() {
        0 => Ok((arg.to_string(), None)),
        1 => {
            let (host, port) = arg.split_once(':').ok_or_else(bad)?;
            if host.is_empty() {
                return Err(bad());
            }
            Ok((host.to_string(), Some(parse_port(port)?)))
        }
        // A bare IPv6 address such as ::1; its port comes separately.
        _ if arg.parse::<std::net::Ipv6Addr>().is_ok() => Ok((arg.to_string(), None)),
        _ => Err(bad()),
    }
}

fn parse_port(text: &str) -> Result<u16, AddressError> {
    match text.parse::<u16>() {
        Ok(port) if port > 0 => Ok(port),
        _ => Err(AddressError(format!(
            "端口必须是 1 到 65535 之间的数字,收到 {text:?} · the port must be 1-65535"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(host: &str, port: u16) -> Option<Target> {
        Some(Target {
            host: host.into(),
            port,
        })
    }

    #[test]
    #[allow(clippy::type_complexity)] // a table of cases spells out its tuple type
    fn address_table() {
        let cases: &[(&[&str], Option<&str>, Option<&str>, Option<Target>)] = &[
            (&[], None, None, t("127.0.0.1", 9999)),
            (&["10.0.0.5"], None, None, t("10.0.0.5", 9999)),
            (&["10.0.0.5", "8888"], None, None, t("10.0.0.5", 8888)),
            (&["127.0.0.1:9999"], None, None, t("127.0.0.1", 9999)),
            (&["localhost:80"], None, None, t("localhost", 80)),
            (&["[::1]:9999"], None, None, t("::1", 9999)),
            (&["[::1]"], None, None, t("::1", 9999)),
            (&["[::1]", "7"], None, None, t("::1", 7)),
            (&["::1", "7"], None, None, t("::1", 7)),
            (&["::1"], None, None, t("::1", 9999)),
            (&[], Some("10.1.1.1"), Some("1234"), t("10.1.1.1", 1234)),
            (&[], None, Some("1234"), t("127.0.0.1", 1234)),
            (&["host"], None, Some("1234"), t("host", 1234)),
            (&[], Some("::1"), None, t("::1", 9999)),
            // Errors.
            (&["127.0.0.1:9999", "9999"], None, None, None),
            (&["127.0.0.1:99999"], None, None, None),
            (&["127.0.0.1:"], None, None, None),
            (&[":80"], None, None, None),
            (&["a", "0"], None, None, None),
            (&["a", "port"], None, None, None),
            (&["a", "1", "2"], None, None, None),
            (&["[::1"], None, None, None),
            (&["[::1]9"], None, None, None),
            (&["[host]:9"], None, None, None),
            (&["a:b:c"], None, None, None),
            (&["h"], Some("g"), None, None),
            (&["h:1"], None, Some("2"), None),
            (&[], Some("h:1"), None, None),
            (&[""], None, None, None),
        ];
        for (pos, host, port, want) in cases {
            let pos: Vec<String> = pos.iter().map(|s| s.to_string()).collect();
            let got = parse(&pos, *host, *port);
            assert_eq!(
                got.clone().ok(),
                *want,
                "{pos:?} {host:?} {port:?}: {got:?}"
            );
        }
    }

    #[test]
    fn display_brackets_v6() {
        assert_eq!(t("::1", 9).unwrap().to_string(), "[::1]:9");
        assert_eq!(t("a", 9).unwrap().to_string(), "a:9");
    }
}
