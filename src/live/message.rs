//! One message as the live view keeps it: bounded copies of what a customer sent and
//! what the shop replied, so that reporting a message allocates (almost) nothing and a
//! huge message or reply cannot fill the teacher's memory.

use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::shop::Reply;
use crate::wire::FrameInfo;
use crate::wire::codec::Charset;

/// Raw bytes kept per message (shown as hex); the length is kept too.
pub(super) const CLIP_BYTES: usize = 48;

/// Bytes of decoded text kept per message (cut at a character boundary).
pub(super) const CLIP_TEXT: usize = 96;

/// Bytes of a reply's variable text kept (a menu, an item's name, the text of a
/// wrong-encoding hint). The menu of a large catalog runs to megabytes, and a student
/// who asks for it twenty times would otherwise park twenty copies in their ring.
pub(super) const CLIP_REPLY: usize = 240;

/// `reply` as the view keeps it: its variable text cut to [`CLIP_REPLY`] bytes.
pub(super) fn clip_reply(reply: &Reply) -> Reply {
    match reply {
        Reply::Menu(text) => Reply::Menu(cut_text(text, CLIP_REPLY)),
        Reply::SoldOut(name) => Reply::SoldOut(cut_text(name, CLIP_REPLY)),
        Reply::WrongEncoding {
            sent,
            expected,
            text,
        } => Reply::WrongEncoding {
            sent: *sent,
            expected: *expected,
            text: cut_text(text, CLIP_REPLY),
        },
        other => other.clone(),
    }
}

/// `text` cut to at most `max` bytes at a character boundary, with `…` when cut.
fn cut_text(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// Up to `N` bytes copied inline, so that reporting a message allocates nothing.
#[derive(Clone, Copy)]
pub(super) struct Clip<const N: usize> {
    buf: [u8; N],
    len: u8,
    /// The length before cutting.
    pub(super) full: u32,
}

impl<const N: usize> Clip<N> {
    pub(super) fn bytes(bytes: &[u8]) -> Self {
        Self::cut(bytes, bytes.len().min(N))
    }

    pub(super) fn text(text: &str) -> Self {
        let mut end = text.len().min(N);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        Self::cut(text.as_bytes(), end)
    }

    fn cut(bytes: &[u8], end: usize) -> Self {
        const { assert!(N <= u8::MAX as usize) };
        let mut clip = Clip {
            buf: [0; N],
            len: end as u8,
            full: u32::try_from(bytes.len()).unwrap_or(u32::MAX),
        };
        clip.buf[..end].copy_from_slice(&bytes[..end]);
        clip
    }

    pub(super) fn as_bytes(&self) -> &[u8] {
        &self.buf[..usize::from(self.len)]
    }

    pub(super) fn is_cut(&self) -> bool {
        usize::from(self.len) < self.full as usize
    }

    pub(super) fn as_str(&self) -> &str {
        // Only `Clip::text` makes text clips, and it cuts at a character boundary.
        std::str::from_utf8(self.as_bytes()).unwrap_or("")
    }
}

/// One message as a customer sent it, with what the shop made of it.
#[derive(Clone, Copy)]
pub(super) struct Said {
    /// Nanoseconds since the Unix epoch: orders the feed across customers.
    pub(super) at_ns: u64,
    pub(super) raw: Clip<CLIP_BYTES>,
    /// `None` when the bytes could not be decoded.
    pub(super) text: Option<Clip<CLIP_TEXT>>,
    pub(super) charset: Option<Charset>,
    pub(super) frame: FrameInfo,
}

/// A message and the reply to it, as the feed shows them.
#[derive(Clone)]
pub(super) struct Entry {
    pub(super) peer: SocketAddr,
    pub(super) said: Said,
    pub(super) reply: Reply,
}

/// Nanoseconds since the Unix epoch (0 if the clock is before it).
pub(super) fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_clips_cut_at_character_boundaries() {
        let text = "瓜".repeat(100);
        let clip = Clip::<CLIP_TEXT>::text(&text);
        assert_eq!(clip.as_str(), "瓜".repeat(CLIP_TEXT / 3));
        assert!(clip.is_cut());
        let clip = Clip::<7>::text("ab瓜瓜");
        assert_eq!(clip.as_str(), "ab瓜");
    }

    #[test]
    fn reply_texts_cut_at_character_boundaries() {
        assert_eq!(cut_text("ab瓜", 3), "ab…");
        assert_eq!(cut_text("ab瓜", 5), "ab瓜");
    }
}
