//! Bounded first-in-first-out buffers: a customer's ring of recent messages, which
//! knows which of them a viewer has seen, and the oldest-out push the hub's other
//! buffers (alerts, departed customers' messages) use.

use std::collections::VecDeque;

use super::message::Entry;

/// Recent messages kept per connected customer. The feed is made of these, so one
/// student alone still fills a good part of the screen.
pub(super) const RING: usize = 20;

/// Pushes `item` onto `buf`, first pushing out the oldest item if `buf` holds `max`.
pub(super) fn push_bounded<T>(buf: &mut VecDeque<T>, max: usize, item: T) {
    if buf.len() == max {
        buf.pop_front();
    }
    buf.push_back(item);
}

/// The last [`RING`] messages of one customer, and how many of them a viewer saw.
#[derive(Default)]
pub(super) struct Ring {
    /// The last [`RING`] messages, oldest first.
    entries: VecDeque<Entry>,
    /// Messages ever pushed.
    pushed: u64,
    /// `pushed` when a viewer last copied the ring: later ones are unseen.
    seen: u64,
}

impl Ring {
    /// Adds `entry`. Returns true if that pushed out a message no viewer saw.
    pub(super) fn push(&mut self, entry: Entry) -> bool {
        if self.entries.capacity() == 0 {
            // Exactly RING, not the doubling growth's 32: 20 entries of ~270 bytes per
            // customer who speaks, allocated once.
            self.entries.reserve_exact(RING);
        }
        let mut unseen = false;
        if self.entries.len() == RING {
            self.entries.pop_front();
            // The message pushed out is the RING-th newest: unseen if the viewer's
            // last look came before it.
            unseen = self.pushed - self.seen >= RING as u64;
        }
        self.entries.push_back(entry);
        self.pushed += 1;
        unseen
    }

    /// The messages, oldest first, for a viewer: from now on they count as seen.
    pub(super) fn look(&mut self) -> impl Iterator<Item = &Entry> {
        self.seen = self.pushed;
        self.entries.iter()
    }

    /// Empties the ring, returning its messages oldest first.
    pub(super) fn take(&mut self) -> VecDeque<Entry> {
        std::mem::take(&mut self.entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::hub::tests::{NEWLINE, peer};
    use crate::live::message::{Clip, Said};
    use crate::shop::Reply;

    fn entry(n: u16) -> Entry {
        Entry {
            peer: peer(n),
            said: Said {
                at_ns: u64::from(n),
                raw: Clip::bytes(b"x"),
                text: None,
                charset: None,
                frame: NEWLINE,
            },
            reply: Reply::Unknown,
        }
    }

    #[test]
    fn only_messages_no_viewer_saw_are_pushed_out_unseen() {
        let mut ring = Ring::default();
        for n in 0..RING as u16 {
            assert!(!ring.push(entry(n)), "room left");
        }
        assert!(ring.push(entry(100)), "the oldest, never looked at");
        let firsts: Vec<u16> = ring.look().map(|e| e.peer.port()).collect();
        assert_eq!(firsts.len(), RING);
        assert_eq!((firsts[0], firsts[RING - 1]), (1, 100), "oldest first");
        for n in 0..RING as u16 {
            assert!(!ring.push(entry(n)), "each pushed out one was seen");
        }
        assert!(ring.push(entry(200)), "the first pushed after the look");
        assert_eq!(ring.take().len(), RING);
        assert_eq!(ring.look().count(), 0);
    }

    #[test]
    fn bounded_buffers_push_out_the_oldest() {
        let mut buf = VecDeque::new();
        for n in 0..5 {
            push_bounded(&mut buf, 3, n);
        }
        assert_eq!(buf, [2, 3, 4]);
    }
}
