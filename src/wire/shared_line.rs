//! A line that many customers are sent, encoded once per charset and shared.
//!
//! The greeting lists every item, so with a big catalog it is megabytes; encoding it
//! for each customer would cost more than serving them. [`SharedLine`] keeps the text
//! and, the first time a customer of a charset needs it, its line bytes in that charset.

use std::sync::{Arc, OnceLock};

use super::codec::Charset;
use super::line::encode_line;

/// A text and its line bytes (terminator included) per charset, made on first use.
#[derive(Debug, Default)]
pub struct SharedLine {
    text: String,
    gbk: OnceLock<Arc<[u8]>>,
    utf8: OnceLock<Arc<[u8]>>,
}

impl SharedLine {
    /// A line of `text` (without a terminator).
    pub fn new(text: String) -> SharedLine {
        SharedLine {
            text,
            ..SharedLine::default()
        }
    }

    /// The text, without a line terminator.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The line bytes in `charset`, encoded the first time and shared after.
    pub fn bytes(&self, charset: Charset) -> Arc<[u8]> {
        let cell = match charset {
            Charset::Gbk => &self.gbk,
            Charset::Utf8 => &self.utf8,
        };
        let bytes = cell.get_or_init(|| {
            let mut line = Vec::new();
            encode_line(&self.text, charset, &mut line);
            Arc::from(line)
        });
        Arc::clone(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_once_per_charset_and_shared() {
        let line = SharedLine::new("西瓜".into());
        let gbk = line.bytes(Charset::Gbk);
        assert_eq!(&gbk[..], b"\xce\xf7\xb9\xcf\r\n");
        assert!(
            Arc::ptr_eq(&gbk, &line.bytes(Charset::Gbk)),
            "not encoded twice"
        );
        assert_eq!(&line.bytes(Charset::Utf8)[..], "西瓜\r\n".as_bytes());
    }
}
