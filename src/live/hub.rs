//! The hub: what the connection threads report, kept for the teacher's screen.
//!
//! The shop never waits for the view, and nothing here grows without bound:
//!
//! - **Customers connected now** are [`Tap`]s. A connection thread gets one when it
//!   starts serving (one brief lock of a map with one entry per seat); dropping it
//!   removes the customer, so the list cannot leak.
//! - **Messages** go into the customer's own [`Ring`] of the last
//!   [`RING`](super::ring::RING) messages, and the customer's counters are atomics only
//!   its own thread writes. No lock is shared by all connections on the path of a
//!   purchase (docs/BENCHMARKS.md, "The live view", tells why). When a customer leaves,
//!   their last messages move to a buffer of [`FEED_LEN`] departed messages.
//! - **Alerts** (wrong encoding, turned away, cut off) go into one buffer of
//!   [`ALERTS_LEN`]. They are rare, and a customer who triggers them is not buying.
//!
//! The feed is assembled when a viewer asks ([`Hub::state_json`]). Nothing here does
//! I/O; a slow or absent viewer costs the shop nothing. Customer text is stored as
//! sent (cut, see `message`) and leaves only as JSON strings, which the page puts into
//! the DOM as text.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;

use super::message::{Entry, Said, clip_reply, now_ns};
use super::ring::{Ring, push_bounded};
use super::state::AddressJson;
use super::tap::{Tap, TapInner};
use crate::shop::Reply;
use crate::shop::Shop;
use crate::wire::codec::{Charset, WireEncoding};

/// Messages in the feed. A projector shows a screenful; more is history nobody reads.
pub(super) const FEED_LEN: usize = 100;

/// Alerts kept. Older ones scroll away.
pub(super) const ALERTS_LEN: usize = 50;

/// The shared hub. Clone it freely; all clones share one view.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<HubInner>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub").finish_non_exhaustive()
    }
}

/// What all clones of a [`Hub`], and every [`Tap`], share.
pub(super) struct HubInner {
    pub(super) shop: Shop,
    pub(super) wire: WireEncoding,
    /// Where students connect, with the interface of each: set once at start.
    pub(super) addresses: Mutex<Vec<AddressJson>>,
    /// Customers connected now, by tap id. At most one entry per seat.
    pub(super) customers: Mutex<HashMap<u64, Arc<CustomerSlot>>>,
    next_id: AtomicU64,
    /// The last messages of customers who left, oldest first; at most [`FEED_LEN`].
    pub(super) departed: Mutex<VecDeque<Entry>>,
    /// At most [`ALERTS_LEN`], oldest first.
    pub(super) alerts: Mutex<VecDeque<AlertEntry>>,
    /// Messages of departed customers that no viewer saw before they were overwritten.
    pub(super) dropped: AtomicU64,
    /// Customers served since start, and turned away.
    pub(super) served: AtomicU64,
    pub(super) refused: AtomicU64,
}

#[derive(Clone)]
pub(super) struct AlertEntry {
    pub(super) at_ns: u64,
    pub(super) kind: AlertKind,
    pub(super) peer: SocketAddr,
    /// What the customer sent, when the alert is about a message.
    pub(super) said: Option<Said>,
    pub(super) reply: Reply,
}

/// What the teacher is alerted to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum AlertKind {
    /// A message in an encoding the shop could not read, or in the other encoding:
    /// the reply carries the hint.
    WrongEncoding,
    /// Turned away at the door: shop full, too many from one address, or no thread.
    Refused,
    /// Cut off by the shop: idle too long, or too slow to finish a message.
    CutOff,
}

/// One connected customer's place in the hub. Only the customer's own connection
/// thread writes the counters; the viewer reads them.
pub(super) struct CustomerSlot {
    pub(super) peer: SocketAddr,
    pub(super) since_ns: u64,
    pub(super) messages: AtomicU64,
    /// In fen.
    pub(super) spent: AtomicU64,
    /// The charsets seen: [`GBK_SEEN`] and [`UTF8_SEEN`] bits, and which was last.
    charsets: AtomicU8,
    /// Messages the view missed: the ring was busy, or they were pushed out unseen.
    pub(super) dropped: AtomicU64,
    pub(super) ring: Mutex<Ring>,
}

const GBK_SEEN: u8 = 1;
const UTF8_SEEN: u8 = 2;
/// Set when the last decoded message was UTF-8 (else GBK).
const LAST_UTF8: u8 = 4;

impl CustomerSlot {
    /// Notes that a message in `charset` arrived. Only the customer's thread calls this.
    pub(super) fn note_charset(&self, charset: Charset) {
        let seen = self.charsets.load(Ordering::Relaxed) & (GBK_SEEN | UTF8_SEEN);
        self.charsets.store(
            match charset {
                Charset::Gbk => seen | GBK_SEEN,
                Charset::Utf8 => seen | UTF8_SEEN | LAST_UTF8,
            },
            Ordering::Relaxed,
        );
    }

    /// The charset of the last readable message (`None` before one), and whether both
    /// have been seen.
    pub(super) fn charsets(&self) -> (Option<Charset>, bool) {
        let charsets = self.charsets.load(Ordering::Relaxed);
        let last = match charsets {
            0 => None,
            c if c & LAST_UTF8 != 0 => Some(Charset::Utf8),
            _ => Some(Charset::Gbk),
        };
        let both = GBK_SEEN | UTF8_SEEN;
        (last, charsets & both == both)
    }
}

impl Hub {
    /// A hub for `shop`, whose wire encoding setting is `wire`.
    pub fn new(shop: Shop, wire: WireEncoding) -> Hub {
        Hub {
            inner: Arc::new(HubInner {
                shop,
                wire,
                addresses: Mutex::new(Vec::new()),
                customers: Mutex::new(HashMap::new()),
                next_id: AtomicU64::new(0),
                departed: Mutex::new(VecDeque::with_capacity(FEED_LEN)),
                alerts: Mutex::new(VecDeque::with_capacity(ALERTS_LEN)),
                dropped: AtomicU64::new(0),
                served: AtomicU64::new(0),
                refused: AtomicU64::new(0),
            }),
        }
    }

    /// Sets the addresses students connect to, each with its network interface (may be
    /// empty), shown on the page.
    pub fn set_addresses(&self, addresses: impl IntoIterator<Item = (SocketAddr, String)>) {
        *lock(&self.inner.addresses) = addresses
            .into_iter()
            .map(|(addr, interface)| AddressJson {
                addr: addr.to_string(),
                interface,
            })
            .collect();
    }

    /// A customer sat down: the returned tap reports their messages and removes them
    /// from the view when dropped.
    pub(super) fn connect(&self, peer: SocketAddr) -> Tap {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let slot = Arc::new(CustomerSlot {
            peer,
            since_ns: now_ns(),
            messages: AtomicU64::new(0),
            spent: AtomicU64::new(0),
            charsets: AtomicU8::new(0),
            dropped: AtomicU64::new(0),
            ring: Mutex::new(Ring::default()),
        });
        lock(&self.inner.customers).insert(id, slot.clone());
        self.inner.served.fetch_add(1, Ordering::Relaxed);
        Tap {
            on: Some(TapInner {
                hub: self.inner.clone(),
                id,
                slot,
            }),
        }
    }

    /// A customer was turned away with `reply` before being served.
    pub(crate) fn refused(&self, peer: SocketAddr, reply: &Reply) {
        self.inner.refused.fetch_add(1, Ordering::Relaxed);
        self.inner
            .alert(AlertKind::Refused, peer, None, clip_reply(reply));
    }

    /// The whole state as JSON: what `GET /api/state` returns.
    pub(super) fn state_json(&self) -> String {
        let state = self.inner.snapshot();
        // Serializing plain structs of strings and numbers cannot fail.
        serde_json::to_string(&state).unwrap_or_else(|_| "{}".into())
    }
}

impl HubInner {
    pub(super) fn alert(
        &self,
        kind: AlertKind,
        peer: SocketAddr,
        said: Option<Said>,
        reply: Reply,
    ) {
        let entry = AlertEntry {
            at_ns: said.map_or_else(now_ns, |s| s.at_ns),
            kind,
            peer,
            said,
            reply,
        };
        push_bounded(&mut lock(&self.alerts), ALERTS_LEN, entry);
    }

    /// A customer left: forgets them, keeping their last messages (for a while) and
    /// the count of those the view missed.
    pub(super) fn depart(&self, id: u64, slot: &CustomerSlot) {
        let removed = lock(&self.customers).remove(&id);
        drop(removed);
        let ring = lock(&slot.ring).take();
        let dropped = slot.dropped.load(Ordering::Relaxed);
        self.dropped.fetch_add(dropped, Ordering::Relaxed);
        let mut departed = lock(&self.departed);
        for entry in ring {
            push_bounded(&mut departed, FEED_LEN, entry);
        }
    }
}

/// Locks `mutex` the crate's one way (also after a thread panicked holding it: the
/// view's data stays usable, and a panic in one connection must not take the view down).
pub(super) use crate::lock::lock;

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::live::ring::RING;
    use crate::shop::catalog::{Catalog, EMBEDDED, Price};
    use crate::wire::codec;
    use crate::wire::{FrameEnd, FrameInfo};

    pub(in crate::live) fn hub() -> Hub {
        let shop = Shop::new(Catalog::parse(EMBEDDED, "t", WireEncoding::Gbk).unwrap());
        Hub::new(shop, WireEncoding::Gbk)
    }

    pub(in crate::live) fn state(hub: &Hub) -> serde_json::Value {
        serde_json::from_str(&hub.state_json()).unwrap()
    }

    pub(in crate::live) fn peer(port: u16) -> SocketAddr {
        SocketAddr::from(([192, 0, 2, 1], port))
    }

    pub(in crate::live) const NEWLINE: FrameInfo = FrameInfo {
        end: FrameEnd::Newline,
        reads: 1,
        shared: false,
    };

    #[test]
    fn customers_appear_and_leave_with_their_tap() {
        let hub = hub();
        let tap = hub.connect(peer(1));
        let bytes = codec::encode("西瓜", Charset::Gbk).unwrap();
        tap.message(
            (&bytes, NEWLINE),
            Some(("西瓜", Charset::Gbk)),
            &Reply::Bought { spent: Price(200) },
            Price(200),
        );
        let s = state(&hub);
        let c = &s["customers"][0];
        assert_eq!(c["peer"], "192.0.2.1:1");
        assert_eq!(c["encoding"], "GBK");
        assert_eq!(c["messages"], 1);
        assert_eq!(c["spent"], 2.0);
        assert_eq!(c["recent"][0]["text"], "西瓜");
        assert_eq!(c["recent"][0]["hex"], "CE F7 B9 CF");
        assert_eq!(s["feed"][0]["reply"], "购买成功,余额 -2");
        assert_eq!(s["feed"][0]["end"], "newline");
        drop(tap);
        assert_eq!(state(&hub)["customers"].as_array().unwrap().len(), 0);
        assert!(Tap::new(None, peer(2)).on.is_none());
    }

    #[test]
    fn garbled_messages_refusals_and_cut_offs_are_alerts() {
        let hub = hub();
        let tap = hub.connect(peer(1));
        let reply = Reply::Garbled(WireEncoding::Gbk);
        tap.message((b"\xff\xfe", NEWLINE), None, &reply, Price(0));
        tap.cut_off(&Reply::Idle(300));
        hub.refused(peer(2), &Reply::ShopFull);
        let s = state(&hub);
        let kinds: Vec<&str> = s["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["kind"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["refused", "cut_off", "wrong_encoding"]);
        assert_eq!(s["alerts"][2]["reply"], reply.to_string());
        assert_eq!(s["alerts"][2]["said"]["hex"], "FF FE");
        assert_eq!(s["alerts"][2]["said"]["text"], serde_json::Value::Null);
        assert_eq!(s["refused"], 1);
    }

    #[test]
    fn everything_kept_is_bounded_and_unseen_messages_are_counted() {
        use crate::live::message::{CLIP_BYTES, CLIP_TEXT};
        use crate::live::state::RECENT_PER_CUSTOMER;

        let hub = hub();
        let taps: Vec<Tap> = (0..10).map(|i| hub.connect(peer(i))).collect();
        let long = "<img src=x onerror=alert(1)>".repeat(100);
        let say = |tap: &Tap, n: usize| {
            for _ in 0..n {
                tap.message(
                    (long.as_bytes(), NEWLINE),
                    Some((&long, Charset::Utf8)),
                    &Reply::Unknown,
                    Price(0),
                );
            }
        };
        for tap in &taps {
            say(tap, RING + 5);
            hub.refused(peer(99), &Reply::ShopFull);
        }
        for _ in 0..ALERTS_LEN {
            hub.refused(peer(99), &Reply::ShopFull);
        }
        let s = state(&hub);
        assert_eq!(s["feed"].as_array().unwrap().len(), FEED_LEN);
        assert_eq!(s["alerts"].as_array().unwrap().len(), ALERTS_LEN);
        assert_eq!(
            s["dropped"],
            10 * 5,
            "five unseen messages pushed out per customer"
        );
        let recent = s["customers"][0]["recent"].as_array().unwrap();
        assert_eq!(recent.len(), RECENT_PER_CUSTOMER);
        let text = recent[0]["text"].as_str().unwrap();
        assert!(text.len() <= CLIP_TEXT && long.starts_with(text));
        assert_eq!(recent[0]["cut"], true);
        assert_eq!(recent[0]["len"], long.len());
        assert_eq!(recent[0]["hex"].as_str().unwrap().len(), CLIP_BYTES * 3 - 1);

        // Seen by a viewer: pushing those out is not a drop.
        say(&taps[0], RING);
        assert_eq!(state(&hub)["dropped"], 50);
        say(&taps[0], RING + 1);
        assert_eq!(state(&hub)["dropped"], 51);

        // Departed customers leave their last messages, and their count, behind.
        drop(taps);
        let s = state(&hub);
        assert_eq!(s["customers"].as_array().unwrap().len(), 0);
        assert_eq!(s["feed"].as_array().unwrap().len(), FEED_LEN);
        assert_eq!(s["dropped"], 51);
    }
}
