//! Writing lines: text in a charset in, encoded bytes with the [`EOL`] terminator out.

use std::io;

use crate::wire::codec::{self, Charset};
use crate::wire::stream::Sink;

/// The line terminator of everything the server sends.
pub const EOL: &[u8] = b"\r\n";

/// Writes lines: text in a charset in, encoded bytes with the [`EOL`] terminator out,
/// each line with a single `write_all`.
///
/// It knows nothing of what the lines say: turning a reply into text happens above it,
/// in [`crate::server::connection`]. One byte buffer is reused for the whole connection.
pub struct LineWriter<W: Sink> {
    out: W,
    bytes: Vec<u8>,
}

impl<W: Sink> LineWriter<W> {
    /// Wraps `out`.
    pub fn new(out: W) -> Self {
        LineWriter {
            out,
            bytes: Vec::new(),
        }
    }

    /// Sends `text` as one line in `charset`, and flushes.
    pub fn write_line(&mut self, text: &str, charset: Charset) -> io::Result<()> {
        self.bytes.clear();
        encode_line(text, charset, &mut self.bytes);
        self.send()
    }

    /// Sends a line made of a fixed `head`, encoded once per process, and a tail of
    /// ASCII bytes that `ascii_tail` appends (ASCII is the same in every charset, so it
    /// needs no encoder), and flushes. The purchase reply, by far the most frequent line,
    /// is sent this way: the prefix, then the running total from `Price::push_ascii`.
    pub fn write_phrase_line(
        &mut self,
        head: &codec::Phrase,
        charset: Charset,
        ascii_tail: impl FnOnce(&mut Vec<u8>),
    ) -> io::Result<()> {
        self.bytes.clear();
        self.bytes.extend_from_slice(head.encoded(charset));
        let tail = self.bytes.len();
        ascii_tail(&mut self.bytes);
        if !self.bytes[tail..].is_ascii() {
            // Not what the caller promised: mark it rather than send bytes that may not
            // be valid in `charset`.
            self.bytes.truncate(tail);
            self.bytes.push(b'?');
        }
        self.bytes.extend_from_slice(EOL);
        self.send()
    }

    /// Sends a line that is already encoded, terminator included (the greeting, which
    /// is encoded once and shared by every customer), and flushes.
    pub fn write_encoded_line(&mut self, line: &[u8]) -> io::Result<()> {
        self.out.write_all(line)?;
        self.out.flush()
    }

    /// Sends the last line of a conversation; the caller closes the stream next. It goes
    /// through [`Sink::write_last`], so it may wait in the socket until the close.
    pub fn write_last_line(&mut self, text: &str, charset: Charset) -> io::Result<()> {
        self.bytes.clear();
        encode_line(text, charset, &mut self.bytes);
        self.out.write_last(&self.bytes)
    }

    /// The wrapped writer.
    pub fn into_inner(self) -> W {
        self.out
    }

    fn send(&mut self) -> io::Result<()> {
        self.out.write_all(&self.bytes)?;
        self.out.flush()
    }
}

/// Appends `text` and the line terminator to `out`, encoded in `charset`.
///
/// Server texts are built from fixed Chinese strings and catalog names that were checked
/// at start-up, so they always encode. Should one ever not, the character is sent as `?`
/// rather than as encoding_rs's silent `&#NNNN;`.
pub fn encode_line(text: &str, charset: Charset, out: &mut Vec<u8>) {
    codec::encode_marking_unmappable(text, charset, out);
    out.extend_from_slice(EOL);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::net::TcpStream;
    use std::time::Duration;

    #[test]
    fn encode_line_table() {
        let cases: &[(&str, Charset, &[u8])] = &[
            ("西瓜", Charset::Gbk, b"\xce\xf7\xb9\xcf\r\n"),
            ("西瓜", Charset::Utf8, "西瓜\r\n".as_bytes()),
            ("a😀b", Charset::Gbk, b"a?b\r\n"),
            ("", Charset::Gbk, b"\r\n"),
        ];
        for (text, charset, want) in cases {
            let mut out = Vec::new();
            encode_line(text, *charset, &mut out);
            assert_eq!(out, *want, "{text}");
        }
    }

    #[test]
    fn a_phrase_line_is_the_encoded_head_and_an_ascii_tail() {
        static HEAD: codec::Phrase = codec::Phrase::new("购买成功,余额 -");
        for charset in [Charset::Gbk, Charset::Utf8] {
            let mut out = LineWriter::new(Vec::new());
            out.write_phrase_line(&HEAD, charset, |b| b.extend_from_slice(b"6.5"))
                .unwrap();
            out.write_phrase_line(&HEAD, charset, |b| b.extend_from_slice("西瓜".as_bytes()))
                .unwrap();
            let mut want = Vec::new();
            encode_line("购买成功,余额 -6.5", charset, &mut want);
            encode_line("购买成功,余额 -?", charset, &mut want);
            assert_eq!(out.into_inner(), want, "{charset}");
        }
    }

    #[test]
    fn the_last_reply_leaves_with_the_close() {
        use std::net::TcpListener;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut customer = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server_side, _) = listener.accept().unwrap();
        let mut out = LineWriter::new(&server_side);
        out.write_line("菜单", Charset::Utf8).unwrap();
        out.write_last_line("欢迎下次光临", Charset::Utf8).unwrap();
        customer
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        // The menu went out at once; the goodbye may wait for the close.
        let mut first = [0u8; 8];
        customer.read_exact(&mut first).unwrap();
        assert_eq!(&first, "菜单\r\n".as_bytes());
        drop(server_side);
        let mut rest = Vec::new();
        customer.read_to_end(&mut rest).unwrap();
        assert_eq!(String::from_utf8(rest).unwrap(), "欢迎下次光临\r\n");
    }
}
