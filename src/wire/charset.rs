//! The two charsets on the wire (GBK and UTF-8) and the server's `--encoding` setting.
//!
//! Only names and choices live here: turning text into bytes and back is in
//! [`codec`](super::codec), and how `auto` picks a charset per message in
//! [`auto`](super::auto).

use std::fmt;
use std::str::FromStr;

/// A concrete character set that bytes can be decoded from and encoded to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Charset {
    /// GBK, as spoken by the Windows 网络调试助手 and the tutorial's reference answer.
    Gbk,
    /// UTF-8, as typed into `nc` or `telnet` on a modern terminal.
    Utf8,
}

impl Charset {
    pub(crate) fn encoding(self) -> &'static encoding_rs::Encoding {
        match self {
            Charset::Gbk => encoding_rs::GBK,
            Charset::Utf8 => encoding_rs::UTF_8,
        }
    }

    /// The name users see in `--help`, logs and replies.
    pub fn name(self) -> &'static str {
        match self {
            Charset::Gbk => "GBK",
            Charset::Utf8 => "UTF-8",
        }
    }
}

impl fmt::Display for Charset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Charset {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "gbk" => Ok(Charset::Gbk),
            "utf-8" | "utf8" => Ok(Charset::Utf8),
            other => Err(format!(
                "未知的编码 `{other}`,只能是 gbk 或 utf-8 (unknown encoding, expected gbk or utf-8)"
            )),
        }
    }
}

/// The server's wire encoding setting (`--encoding`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WireEncoding {
    /// GBK both ways (the default, like the tutorial).
    #[default]
    Gbk,
    /// UTF-8 both ways.
    Utf8,
    /// Greet in GBK, then answer each message in the charset it arrived in, decided
    /// per message by `auto::decide_auto` and remembered per connection.
    Auto,
}

impl WireEncoding {
    /// The charset used before the peer has said anything (the greeting).
    pub fn greeting_charset(self) -> Charset {
        match self {
            WireEncoding::Gbk | WireEncoding::Auto => Charset::Gbk,
            WireEncoding::Utf8 => Charset::Utf8,
        }
    }

    /// The charsets every catalog name must be encodable in.
    pub fn charsets(self) -> &'static [Charset] {
        match self {
            WireEncoding::Gbk => &[Charset::Gbk],
            WireEncoding::Utf8 => &[Charset::Utf8],
            WireEncoding::Auto => &[Charset::Gbk, Charset::Utf8],
        }
    }

    /// How replies describe what the server expects.
    pub fn describe(self) -> &'static str {
        match self {
            WireEncoding::Gbk => "GBK",
            WireEncoding::Utf8 => "UTF-8",
            WireEncoding::Auto => "GBK 或 UTF-8",
        }
    }
}

impl FromStr for WireEncoding {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "gbk" => Ok(WireEncoding::Gbk),
            "utf-8" | "utf8" => Ok(WireEncoding::Utf8),
            "auto" => Ok(WireEncoding::Auto),
            other => Err(format!(
                "未知的编码 `{other}`,只能是 gbk、utf-8 或 auto (unknown encoding, expected gbk, utf-8 or auto)"
            )),
        }
    }
}

impl fmt::Display for WireEncoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WireEncoding::Gbk => "gbk",
            WireEncoding::Utf8 => "utf-8",
            WireEncoding::Auto => "auto",
        })
    }
}

impl Charset {
    /// The other one of the two charsets.
    pub fn other(self) -> Charset {
        match self {
            Charset::Gbk => Charset::Utf8,
            Charset::Utf8 => Charset::Gbk,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_encoding_parses() {
        for (s, want) in [
            ("gbk", Some(WireEncoding::Gbk)),
            ("GBK", Some(WireEncoding::Gbk)),
            ("utf-8", Some(WireEncoding::Utf8)),
            ("utf8", Some(WireEncoding::Utf8)),
            ("auto", Some(WireEncoding::Auto)),
            ("latin1", None),
        ] {
            assert_eq!(s.parse::<WireEncoding>().ok(), want, "{s}");
        }
    }
}
