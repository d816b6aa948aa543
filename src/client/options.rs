//! How the client talks: the options the binary fills in, their defaults and bounds,
//! and the parsers for the values a user types.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::wire::Charset;

/// Default for how long to wait for an answer before sending the next line anyway.
pub const DEFAULT_REPLY_WAIT: Duration = Duration::from_secs(3);
/// The longest `--reply-wait` accepted: an hour is already far more than any answer.
pub const MAX_REPLY_WAIT: Duration = Duration::from_secs(3600);
/// Default for how long one write to the server may block before the client gives up:
/// a server that never reads must not hang the client.
pub const DEFAULT_SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// After the user's input ends, how long to keep showing what the server still sends
/// when it goes quiet without closing. (The wait for the last answer comes first.)
pub const QUIET_BEFORE_CLOSE: Duration = Duration::from_secs(1);
/// Lines typed ahead on a terminal while an answer is awaited; more are refused.
pub const MAX_TYPED_AHEAD: usize = 64;
/// On a terminal, how long after the user left (Ctrl-D, Ctrl-C) the client still shows
/// what the server sends. Without it a server that never goes quiet for
/// `QUIET_BEFORE_CLOSE` (a flood, or a notice every half second) would keep a user
/// who asked to leave.
pub const LEAVE_WITHIN: Duration = Duration::from_secs(2);

/// What ends each line sent to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Eol {
    /// `\n`, which every line server understands.
    #[default]
    Lf,
    /// `\r\n`, as telnet and Windows tools send.
    Crlf,
    /// Nothing: for unframed servers such as the tutorial's reference answer.
    None,
}

impl Eol {
    pub(super) fn bytes(self) -> &'static [u8] {
        match self {
            Eol::Lf => b"\n",
            Eol::Crlf => b"\r\n",
            Eol::None => b"",
        }
    }
}

impl FromStr for Eol {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "lf" => Ok(Eol::Lf),
            "crlf" => Ok(Eol::Crlf),
            "none" => Ok(Eol::None),
            other => Err(format!(
                "未知的行尾 `{other}`,只能是 lf、crlf 或 none (unknown line ending, expected lf, crlf or none)"
            )),
        }
    }
}

impl fmt::Display for Eol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Eol::Lf => "lf",
            Eol::Crlf => "crlf",
            Eol::None => "none",
        })
    }
}

/// Parses `--reply-wait`: seconds from 0 to [`MAX_REPLY_WAIT`].
pub fn parse_reply_wait(text: &str) -> Result<Duration, String> {
    parse_seconds(text, MAX_REPLY_WAIT)
}

/// Parses a number of seconds between 0 and `max`, with a Chinese-first error.
pub fn parse_seconds(text: &str, max: Duration) -> Result<Duration, String> {
    let bad = || {
        format!(
            "必须是 0 到 {} 之间的秒数,收到 {text:?} · expected seconds from 0 to {}",
            max.as_secs(),
            max.as_secs()
        )
    };
    let secs: f64 = text.trim().parse().map_err(|_| bad())?;
    if !secs.is_finite() || secs < 0.0 || secs > max.as_secs_f64() {
        return Err(bad());
    }
    Duration::try_from_secs_f64(secs).map_err(|_| bad())
}

/// How the client talks.
#[derive(Debug, Clone)]
pub struct Options {
    /// The wire encoding (the terminal is always UTF-8).
    pub charset: Charset,
    /// Line ending of sent messages.
    pub eol: Eol,
    /// How long to wait for an answer before sending the next line anyway.
    pub reply_wait: Duration,
    /// How long one write to the server may block.
    pub send_timeout: Duration,
    /// Print each line sent as `【客户端】…` (piped input, so the output reads like the
    /// tutorial's transcript).
    pub transcript: bool,
    /// After the input ended, stop showing what the server sends after this long at the
    /// latest ([`LEAVE_WITHIN`] on a terminal). `None`: until it closes or goes quiet,
    /// so that piped input with `--reply-wait 0` still sees every reply.
    pub leave_within: Option<Duration>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            charset: Charset::Gbk,
            eol: Eol::Lf,
            reply_wait: DEFAULT_REPLY_WAIT,
            send_timeout: DEFAULT_SEND_TIMEOUT,
            transcript: false,
            leave_within: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eol_table() {
        for (s, want) in [
            ("lf", Some(Eol::Lf)),
            ("CRLF", Some(Eol::Crlf)),
            ("none", Some(Eol::None)),
            ("cr", None),
        ] {
            assert_eq!(s.parse::<Eol>().ok(), want, "{s}");
        }
    }

    #[test]
    fn reply_wait_table() {
        for (s, want) in [
            ("0", Some(Duration::ZERO)),
            ("0.5", Some(Duration::from_millis(500))),
            ("3600", Some(Duration::from_secs(3600))),
            ("3601", None),
            ("1e19", None),
            ("-1", None),
            ("NaN", None),
            ("inf", None),
            ("abc", None),
        ] {
            assert_eq!(parse_reply_wait(s).ok(), want, "{s}");
        }
    }
}
