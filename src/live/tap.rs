//! What one connection reports to the live view, never waiting for it.
//!
//! A connection thread holds one [`Tap`]. Reporting a message updates the customer's
//! own counters (atomics only this thread writes) and *tries* the lock of the
//! customer's ring: while a viewer is copying it, the message is dropped and counted
//! instead of waited for. Dropping the tap removes the customer from the view.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, TryLockError};

use super::hub::{AlertKind, CustomerSlot, Hub, HubInner};
use super::message::{Clip, Entry, Said, clip_reply, now_ns};
use crate::shop::Reply;
use crate::shop::catalog::Price;
use crate::wire::FrameInfo;
use crate::wire::codec::Charset;

/// One connection's reporter. A disabled tap ([`Tap::off`]) does nothing.
pub struct Tap {
    pub(super) on: Option<TapInner>,
}

pub(super) struct TapInner {
    pub(super) hub: Arc<HubInner>,
    pub(super) id: u64,
    pub(super) slot: Arc<CustomerSlot>,
}

impl Tap {
    /// A tap that reports nothing, for a shop without a live view.
    pub fn off() -> Tap {
        Tap { on: None }
    }

    /// A tap for `peer` if there is a hub, else [`Tap::off`].
    pub(crate) fn new(hub: Option<&Hub>, peer: SocketAddr) -> Tap {
        hub.map_or_else(Tap::off, |hub| hub.connect(peer))
    }

    /// Reports one message: its bytes and framing, the text decoded from it (`None` if
    /// it could not be decoded) in `charset`, the reply, and the customer's total.
    pub(crate) fn message(
        &self,
        (bytes, frame): (&[u8], FrameInfo),
        decoded: Option<(&str, Charset)>,
        reply: &Reply,
        spent: Price,
    ) {
        let Some(on) = &self.on else { return };
        let said = Said {
            at_ns: now_ns(),
            raw: Clip::bytes(bytes),
            text: decoded.map(|(text, _)| Clip::text(text)),
            charset: decoded.map(|(_, charset)| charset),
            frame,
        };
        let slot = &on.slot;
        slot.messages.fetch_add(1, Ordering::Relaxed);
        slot.spent.store(spent.0, Ordering::Relaxed);
        if let Some(charset) = said.charset {
            slot.note_charset(charset);
        }
        if matches!(reply, Reply::Garbled(_) | Reply::WrongEncoding { .. }) {
            let (peer, reply) = (slot.peer, clip_reply(reply));
            on.hub
                .alert(AlertKind::WrongEncoding, peer, Some(said), reply);
        }
        let mut ring = match slot.ring.try_lock() {
            Ok(ring) => ring,
            Err(TryLockError::Poisoned(e)) => e.into_inner(),
            Err(TryLockError::WouldBlock) => {
                // A viewer is copying the ring: never wait for it.
                slot.dropped.fetch_add(1, Ordering::Relaxed);
                return;
            }
        };
        let entry = Entry {
            peer: slot.peer,
            said,
            reply: clip_reply(reply),
        };
        if ring.push(entry) {
            slot.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Reports that the shop ended the conversation on its own with `reply` (idle, too
    /// slow to finish a message).
    pub(crate) fn cut_off(&self, reply: &Reply) {
        let Some(on) = &self.on else { return };
        on.hub
            .alert(AlertKind::CutOff, on.slot.peer, None, clip_reply(reply));
    }
}

impl Drop for Tap {
    fn drop(&mut self) {
        let Some(on) = &self.on else { return };
        on.hub.depart(on.id, &on.slot);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::hub::lock;
    use crate::live::hub::tests::{NEWLINE, hub, peer, state};
    use crate::live::message::CLIP_REPLY;

    #[test]
    fn a_message_while_a_viewer_copies_the_ring_is_dropped_not_waited_for() {
        let hub = hub();
        let tap = hub.connect(peer(1));
        let slot = tap.on.as_ref().unwrap().slot.clone();
        let viewer = lock(&slot.ring);
        tap.message(
            (b"x", NEWLINE),
            Some(("x", Charset::Utf8)),
            &Reply::Unknown,
            Price(5),
        );
        drop(viewer);
        let s = state(&hub);
        assert_eq!(s["dropped"], 1);
        assert_eq!(s["customers"][0]["messages"], 1, "counted all the same");
        assert_eq!(s["customers"][0]["spent"], 0.05);
        assert_eq!(s["customers"][0]["encoding"], "UTF-8");
        assert_eq!(s["feed"].as_array().unwrap().len(), 0);
    }

    #[test]
    fn long_replies_are_kept_cut() {
        let hub = hub();
        let tap = hub.connect(peer(1));
        // The menu of a catalog of thousands of items.
        let menu = format!("菜单:{}", "西瓜 2元 剩50,".repeat(50_000));
        let huge = "瓜".repeat(10_000);
        let wrong = Reply::WrongEncoding {
            sent: Charset::Utf8,
            expected: Charset::Gbk,
            text: huge.clone(),
        };
        for reply in [
            Reply::Menu(menu.clone()),
            Reply::SoldOut(huge.clone()),
            wrong,
        ] {
            tap.message((b"x", NEWLINE), Some(("x", Charset::Gbk)), &reply, Price(0));
        }
        let s = state(&hub);
        let feed = s["feed"].as_array().unwrap();
        assert_eq!(feed.len(), 3);
        for m in feed {
            let reply = m["reply"].as_str().unwrap();
            assert!(reply.len() < CLIP_REPLY + 200, "{} bytes", reply.len());
            assert!(reply.contains('…'), "{reply}");
        }
        assert!(menu.starts_with(feed[2]["reply"].as_str().unwrap().trim_end_matches('…')));
        let alert = s["alerts"][0]["reply"].as_str().unwrap();
        assert!(
            alert.len() < CLIP_REPLY + 200 && alert.contains("瓜…"),
            "{alert}"
        );
    }
}
