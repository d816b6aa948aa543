//! Hints for the usual mistakes, each shown once per session.
//!
//! - 乱码 from the wrong `--encoding`: the server's bytes do not read as the client's
//!   wire encoding but do read as the other one.
//! - An unframed server (the tutorial's reference answer treats each `recv(1024)` as a
//!   message) answers without line endings; it then also compares our `\n` as part of
//!   the item name, so it needs `--eol none`.

use crate::wire::codec::{self, Charset, WireEncoding};

/// One hint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Hint {
    /// The server seems to speak this charset instead of ours.
    Encoding(Charset),
    /// Replies come without line endings.
    EolNone,
}

impl Hint {
    /// What the user reads (after the notice prefix).
    pub fn text(self) -> String {
        match self {
            Hint::Encoding(charset) => {
                let flag = match charset {
                    Charset::Gbk => "gbk",
                    Charset::Utf8 => "utf-8",
                };
                let wire = match charset {
                    Charset::Gbk => Charset::Utf8,
                    Charset::Utf8 => Charset::Gbk,
                };
                format!(
                    "服务器发来的文字不是 {wire} 编码,看起来是 {charset}:请加上 \
                     --encoding {flag} 重新连接,否则会看到乱码。 · The server seems to \
                     speak {charset}; reconnect with --encoding {flag}."
                )
            }
            Hint::EolNone => "服务器的回复没有换行符,它可能把每次 recv 收到的内容当成一条消息\
                 (像教程的参考答案),连我们发的换行符也当成商品名的一部分。如果回答不对,\
                 请加上 --eol none 重新连接。 · Replies arrive without line endings; if \
                 answers look wrong, reconnect with --eol none."
                .to_string(),
        }
    }
}

/// The charset the server seems to use, if the message does not read as `wire` but
/// reads as the other charset.
///
/// Neither decoding alone decides, because UTF-8 Chinese is often valid (wrong) GBK.
/// So with a GBK wire, a message counts as UTF-8 only if it is valid UTF-8 *and*
/// contains CJK text that way; GBK Chinese read as UTF-8 gives Greek or Cyrillic
/// letters at best.
pub fn wrong_encoding(message: &[u8], wire: Charset) -> Option<Charset> {
    if message.is_ascii() {
        // The same in both: nothing to tell.
        return None;
    }
    match wire {
        Charset::Gbk => {
            let text = std::str::from_utf8(message).ok()?;
            text.chars().any(is_cjk).then_some(Charset::Utf8)
        }
        Charset::Utf8 => {
            if std::str::from_utf8(message).is_ok() {
                return None;
            }
            codec::decode(message, WireEncoding::Gbk)
                .ok()
                .filter(|(text, _)| text.chars().any(is_cjk))
                .map(|_| Charset::Gbk)
        }
    }
}

/// CJK ideographs and the full-width punctuation Chinese text is full of.
fn is_cjk(c: char) -> bool {
    matches!(c, '\u{3000}'..='\u{303f}' | '\u{4e00}'..='\u{9fff}' | '\u{ff00}'..='\u{ffef}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_encoding_table() {
        let gbk = |s: &str| codec::encode(s, Charset::Gbk).unwrap();
        let cases: Vec<(Vec<u8>, Charset, Option<Charset>)> = vec![
            (
                "目前商店还有:瓜子(4.5)".as_bytes().to_vec(),
                Charset::Gbk,
                Some(Charset::Utf8),
            ),
            ("目前商店还有".as_bytes().to_vec(), Charset::Utf8, None),
            (
                gbk("目前商店还有:瓜子(4.5)"),
                Charset::Utf8,
                Some(Charset::Gbk),
            ),
            (gbk("目前商店还有"), Charset::Gbk, None),
            // GBK that happens to be valid UTF-8 (虾 is CF BA) is not taken for UTF-8.
            (gbk("虾"), Charset::Gbk, None),
            (gbk("统一"), Charset::Gbk, None),
            (b"hello".to_vec(), Charset::Gbk, None),
            (b"hello".to_vec(), Charset::Utf8, None),
            (b"\xff\xff".to_vec(), Charset::Utf8, None),
        ];
        for (bytes, wire, want) in cases {
            assert_eq!(wrong_encoding(&bytes, wire), want, "{bytes:?} over {wire}");
        }
    }
}
