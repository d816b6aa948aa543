//! Splitting what the server sends: raw bytes in, one bounded message at a time out.
//!
//! A message ends at `\n` (a `\r` before it is dropped), after a quiet pause (servers
//! that send no newline, see [`crate::wire::FLUSH_AFTER`]), or at the end of the
//! stream. Each byte is looked at once, and no message grows past [`MAX_MESSAGE`]:
//! the first `MAX_MESSAGE` bytes of a longer one are shown, the rest is counted and
//! dropped until the message ends. So a server that floods without newlines costs the
//! client linear time and a fixed amount of memory.

/// The most bytes of one server message that are kept and shown. Ten times the
/// largest reply our own server sends for a big catalog, small enough that a few of
/// them queued for the display stay far below the client's memory bound.
pub const MAX_MESSAGE: usize = 64 * 1024;

/// How a message ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PieceEnd {
    /// At a `\n`.
    Newline,
    /// Without a line ending: a quiet pause or the end of the stream.
    Unterminated,
}

/// One piece of the server's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// A whole message, without its line ending.
    Message(Vec<u8>, PieceEnd),
    /// The first [`MAX_MESSAGE`] bytes of a message that is longer; the rest follows
    /// as one [`Piece::Dropped`] once the message ends.
    Cut(Vec<u8>),
    /// The end of an over-long message: how many bytes past the cap were dropped.
    Dropped(u64, PieceEnd),
}

/// Cuts a byte stream into [`Piece`]s.
#[derive(Debug)]
pub struct Splitter {
    buf: Vec<u8>,
    cap: usize,
    /// Bytes dropped so far of the current over-long message, if it is over-long.
    dropping: Option<u64>,
}

impl Default for Splitter {
    fn default() -> Self {
        Splitter::new(MAX_MESSAGE)
    }
}

impl Splitter {
    /// A splitter that keeps at most `cap` bytes of one message.
    pub fn new(cap: usize) -> Self {
        Splitter {
            buf: Vec::new(),
            cap: cap.max(1),
            dropping: None,
        }
    }

    /// True while part of a message is held (or being dropped).
    pub fn is_mid_message(&self) -> bool {
        !self.buf.is_empty() || self.dropping.is_some()
    }

    /// Feeds received bytes; calls `emit` for every piece they complete.
    pub fn push(&mut self, mut bytes: &[u8], emit: &mut impl FnMut(Piece)) {
        while !bytes.is_empty() {
            let newline = bytes.iter().position(|&b| b == b'\n');
            let (part, rest) = match newline {
                Some(i) => (&bytes[..i], &bytes[i + 1..]),
                None => (bytes, &[][..]),
            };
            self.take(part, emit);
            if newline.is_some() {
                self.end(PieceEnd::Newline, emit);
            }
            bytes = rest;
        }
    }

    /// Ends the message in progress, if any, without a line ending (a quiet pause or
    /// the end of the stream).
    pub fn flush(&mut self, emit: &mut impl FnMut(Piece)) {
        if self.is_mid_message() {
            self.end(PieceEnd::Unterminated, emit);
        }
    }

    /// Adds bytes that contain no `\n` to the current message.
    fn take(&mut self, part: &[u8], emit: &mut impl FnMut(Piece)) {
        if let Some(dropped) = &mut self.dropping {
            *dropped += part.len() as u64;
            return;
        }
        let room = self.cap - self.buf.len();
        if part.len() <= room {
            self.buf.extend_from_slice(part);
            return;
        }
        self.buf.extend_from_slice(&part[..room]);
        emit(Piece::Cut(std::mem::take(&mut self.buf)));
        self.dropping = Some((part.len() - room) as u64);
    }

    fn end(&mut self, end: PieceEnd, emit: &mut impl FnMut(Piece)) {
        match self.dropping.take() {
            Some(dropped) => emit(Piece::Dropped(dropped, end)),
            None => {
                let mut message = std::mem::take(&mut self.buf);
                if end == PieceEnd::Newline && message.last() == Some(&b'\r') {
                    message.pop();
                }
                emit(Piece::Message(message, end));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(cap: usize, pieces: &[&[u8]], flush: bool) -> Vec<Piece> {
        let mut splitter = Splitter::new(cap);
        let mut out = Vec::new();
        for piece in pieces {
            splitter.push(piece, &mut |f| out.push(f));
        }
        if flush {
            splitter.flush(&mut |f| out.push(f));
        }
        out
    }

    fn msg(bytes: &[u8], end: PieceEnd) -> Piece {
        Piece::Message(bytes.to_vec(), end)
    }

    #[test]
    #[allow(clippy::type_complexity)] // a table of cases spells out its tuple type
    fn framing_table() {
        use PieceEnd::*;
        let cases: &[(&[&[u8]], bool, Vec<Piece>)] = &[
            (
                &[b"a\r\nb\n"],
                false,
                vec![msg(b"a", Newline), msg(b"b", Newline)],
            ),
            (&[b"ab", b"c\n"], false, vec![msg(b"abc", Newline)]),
            (&[b"\n"], false, vec![msg(b"", Newline)]),
            // A lone \r in the middle stays: the sanitizer shows it.
            (&[b"a\rb\n"], false, vec![msg(b"a\rb", Newline)]),
            (&[b"abc"], false, vec![]),
            (&[b"abc"], true, vec![msg(b"abc", Unterminated)]),
            (&[b""], true, vec![]),
            // Over the cap (4): shown up to the cap, the rest counted.
            (
                &[b"abcdefg\nxy\n"],
                false,
                vec![
                    Piece::Cut(b"abcd".to_vec()),
                    Piece::Dropped(3, Newline),
                    msg(b"xy", Newline),
                ],
            ),
            (
                &[b"ab", b"cd", b"ef", b"gh"],
                true,
                vec![
                    Piece::Cut(b"abcd".to_vec()),
                    Piece::Dropped(4, Unterminated),
                ],
            ),
            // Exactly the cap is not cut.
            (&[b"abcd\n"], false, vec![msg(b"abcd", Newline)]),
        ];
        for (pieces, flush, want) in cases {
            assert_eq!(&split(4, pieces, *flush), want, "{pieces:?}");
        }
    }

    #[test]
    fn a_long_flood_stays_within_the_cap() {
        let mut splitter = Splitter::new(1024);
        let chunk = vec![b'x'; 4096];
        let mut kept = 0usize;
        for _ in 0..1000 {
            splitter.push(&chunk, &mut |f| {
                if let Piece::Cut(b) = f {
                    kept += b.len()
                }
            });
            assert!(splitter.buf.capacity() <= 4096, "buffer grew");
        }
        assert_eq!(kept, 1024);
        let mut last = None;
        splitter.flush(&mut |f| last = Some(f));
        assert_eq!(
            last,
            Some(Piece::Dropped(4096 * 1000 - 1024, PieceEnd::Unterminated))
        );
    }
}
