//! The live view's data: what the connection threads report, kept for the teacher's screen.
//!
//! The shop never waits for the view, and nothing here grows without bound:
//!
//! - **Customers connected now** are [`Tap`]s. A connection thread gets one when it
//!   starts serving (one brief lock of a map with one entry per seat); dropping it
//!   removes the customer, so the list cannot leak.
//! - **Messages** go into the customer's own ring of the last [`RING`] messages, and
//!   the customer's counters are atomics only its own thread writes. No lock is shared
//!   by all connections on the path of a purchase, so 64 busy customers never queue
//!   behind each other (an earlier design with one shared event buffer cost a quarter
//!   of pingpong's throughput on two cores). The ring's lock is only ever *tried* by
//!   the connection: while a viewer is copying it, the message is dropped and counted
//!   instead of waited for. A message overwritten before any viewer saw it is dropped
//!   and counted too. When a customer leaves, their last messages move to a ring of
//!   [`FEED_LEN`] departed messages.
//! - **Alerts** (wrong encoding, turned away, cut off) go into one ring of
//!   [`ALERTS_LEN`]. They are rare, and a customer who triggers them is not buying.
//!
//! The feed is assembled when a viewer asks ([`Hub::state_json`]): the newest
//! [`FEED_LEN`] messages over all rings. Nothing here does I/O; a slow or absent viewer
//! costs the shop nothing. Customer text is stored as sent (cut to [`CLIP_TEXT`]
//! bytes) and leaves only as JSON strings, which the page puts into the DOM as text.

pub mod web;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::shop::Shop;
use crate::shop::catalog::Price;
use crate::shop::session::Reply;
use crate::wire::codec::{self, Charset, WireEncoding};
use crate::wire::{FrameEnd, FrameInfo};

/// Messages in the feed. A projector shows a screenful; more is history nobody reads.
pub const FEED_LEN: usize = 100;

/// Alerts kept. Older ones scroll away.
pub const ALERTS_LEN: usize = 50;

/// Recent messages kept per connected customer. The feed is made of these, so one
/// student alone still fills a good part of the screen.
pub const RING: usize = 20;

/// Recent messages shown in a customer's row of `/api/state`.
pub const RECENT_PER_CUSTOMER: usize = 3;

/// Raw bytes kept per message (shown as hex); the length is kept too.
pub const CLIP_BYTES: usize = 48;

/// Bytes of decoded text kept per message (cut at a character boundary).
pub const CLIP_TEXT: usize = 96;

/// Bytes of a reply's variable text kept (a menu, an item's name, the text of a
/// wrong-encoding hint). The menu of a large catalog runs to megabytes, and a student
/// who asks for it twenty times would otherwise park twenty copies in their ring.
pub const CLIP_REPLY: usize = 240;

/// `reply` as the view keeps it: its variable text cut to [`CLIP_REPLY`] bytes.
fn clip_reply(reply: &Reply) -> Reply {
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
struct Clip<const N: usize> {
    buf: [u8; N],
    len: u8,
    /// The length before cutting.
    full: u32,
}

impl<const N: usize> Clip<N> {
    fn bytes(bytes: &[u8]) -> Self {
        Self::cut(bytes, bytes.len().min(N))
    }

    fn text(text: &str) -> Self {
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

    fn as_bytes(&self) -> &[u8] {
        &self.buf[..usize::from(self.len)]
    }

    fn is_cut(&self) -> bool {
        usize::from(self.len) < self.full as usize
    }

    fn as_str(&self) -> &str {
        // Only `Clip::text` makes text clips, and it cuts at a character boundary.
        std::str::from_utf8(self.as_bytes()).unwrap_or("")
    }
}

/// One message as a customer sent it, with what the shop made of it.
#[derive(Clone, Copy)]
struct Said {
    /// Nanoseconds since the Unix epoch: orders the feed across customers.
    at_ns: u64,
    raw: Clip<CLIP_BYTES>,
    /// `None` when the bytes could not be decoded.
    text: Option<Clip<CLIP_TEXT>>,
    charset: Option<Charset>,
    frame: FrameInfo,
}

/// A message and the reply to it, as the feed shows them.
#[derive(Clone)]
struct Entry {
    peer: SocketAddr,
    said: Said,
    reply: Reply,
}

/// The shared hub. Clone it freely; all clones share one view.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub").finish_non_exhaustive()
    }
}

struct Inner {
    shop: Shop,
    wire: WireEncoding,
    /// Where students connect, with the interface of each: set once at start.
    addresses: Mutex<Vec<AddressJson>>,
    /// Customers connected now, by tap id. At most one entry per seat.
    customers: Mutex<HashMap<u64, Arc<Slot>>>,
    next_id: AtomicU64,
    /// The last messages of customers who left, oldest first; at most [`FEED_LEN`].
    departed: Mutex<VecDeque<Entry>>,
    /// At most [`ALERTS_LEN`], oldest first.
    alerts: Mutex<VecDeque<AlertEntry>>,
    /// Messages of departed customers that no viewer saw before they were overwritten.
    dropped: AtomicU64,
    /// Customers served since start, and turned away.
    served: AtomicU64,
    refused: AtomicU64,
}

#[derive(Clone)]
struct AlertEntry {
    at_ns: u64,
    kind: AlertKind,
    peer: SocketAddr,
    /// What the customer sent, when the alert is about a message.
    said: Option<Said>,
    reply: Reply,
}

/// What the teacher is alerted to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// A message in an encoding the shop could not read, or in the other encoding:
    /// the reply carries the hint.
    WrongEncoding,
    /// Turned away at the door: shop full, too many from one address, or no thread.
    Refused,
    /// Cut off by the shop: idle too long, or too slow to finish a message.
    CutOff,
}

/// One connected customer's slot. Only the customer's own connection thread writes
/// the counters; the viewer reads them.
struct Slot {
    peer: SocketAddr,
    since_ns: u64,
    messages: AtomicU64,
    /// In fen.
    spent: AtomicU64,
    /// The charsets seen: [`GBK_SEEN`] and [`UTF8_SEEN`] bits, and which was last.
    charsets: AtomicU8,
    /// Messages the view missed: the ring was busy, or they were pushed out unseen.
    dropped: AtomicU64,
    ring: Mutex<Ring>,
}

const GBK_SEEN: u8 = 1;
const UTF8_SEEN: u8 = 2;
/// Set when the last decoded message was UTF-8 (else GBK).
const LAST_UTF8: u8 = 4;

#[derive(Default)]
struct Ring {
    /// The last [`RING`] messages, oldest first.
    entries: VecDeque<Entry>,
    /// Messages ever pushed.
    pushed: u64,
    /// `pushed` when a viewer last copied the ring: later ones are unseen.
    seen: u64,
}

impl Hub {
    /// A hub for `shop`, whose wire encoding setting is `wire`.
    pub fn new(shop: Shop, wire: WireEncoding) -> Hub {
        Hub {
            inner: Arc::new(Inner {
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
    pub fn connect(&self, peer: SocketAddr) -> Tap {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let slot = Arc::new(Slot {
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
    pub fn refused(&self, peer: SocketAddr, reply: &Reply) {
        self.inner.refused.fetch_add(1, Ordering::Relaxed);
        self.inner
            .alert(AlertKind::Refused, peer, None, clip_reply(reply));
    }

    /// The whole state as JSON: what `GET /api/state` returns.
    pub fn state_json(&self) -> String {
        let state = self.inner.snapshot();
        // Serializing plain structs of strings and numbers cannot fail.
        serde_json::to_string(&state).unwrap_or_else(|_| "{}".into())
    }
}

impl Inner {
    fn alert(&self, kind: AlertKind, peer: SocketAddr, said: Option<Said>, reply: Reply) {
        let entry = AlertEntry {
            at_ns: said.map_or_else(now_ns, |s| s.at_ns),
            kind,
            peer,
            said,
            reply,
        };
        let mut alerts = lock(&self.alerts);
        if alerts.len() == ALERTS_LEN {
            alerts.pop_front();
        }
        alerts.push_back(entry);
    }

    fn snapshot(&self) -> State {
        // The map lock is released before any slot is locked.
        let slots: Vec<Arc<Slot>> = lock(&self.customers).values().cloned().collect();
        let mut feed: Vec<Entry> = lock(&self.departed).iter().cloned().collect();
        let mut dropped = self.dropped.load(Ordering::Relaxed);
        let mut customers = Vec::with_capacity(slots.len());
        for slot in &slots {
            // Copied under the lock, formatted after it: the connection only tries
            // this lock, and drops its message while the viewer holds it.
            let start = feed.len();
            {
                let mut ring = lock(&slot.ring);
                ring.seen = ring.pushed;
                feed.extend(ring.entries.iter().cloned());
            }
            dropped += slot.dropped.load(Ordering::Relaxed);
            let skip = (feed.len() - start).saturating_sub(RECENT_PER_CUSTOMER);
            customers.push(slot.json(&feed[start + skip..]));
        }
        customers.sort_by_key(|c| c.since);
        feed.sort_unstable_by_key(|e| std::cmp::Reverse(e.said.at_ns));
        feed.truncate(FEED_LEN);

        // By name: after a reload (SIGHUP) the sales also list items no longer sold.
        let prices: HashMap<String, Price> = self
            .shop
            .items()
            .iter()
            .map(|i| (i.name.clone(), i.price))
            .collect();
        let (mut sold, mut takings) = (0, Price(0));
        let items = self
            .shop
            .sales()
            .into_iter()
            .map(|sale| {
                sold += sale.count;
                takings = takings.saturating_add(sale.takings);
                ItemJson {
                    price: prices.get(&sale.name).map(|&p| yuan(p)),
                    name: sale.name,
                    sold: sale.count,
                    remaining: sale.remaining,
                    takings: yuan(sale.takings),
                }
            })
            .collect();
        // Copied under the lock, formatted after it: connections (and the accept loop,
        // for a refusal) take this lock to add an alert.
        let alerts: Vec<AlertEntry> = lock(&self.alerts).iter().cloned().collect();
        State {
            now: now_ns() / 1_000_000,
            encoding: self.wire.describe(),
            addresses: lock(&self.addresses).clone(),
            customers,
            items,
            total: TotalJson {
                sold,
                takings: yuan(takings),
            },
            feed: feed.iter().map(Entry::json).collect(),
            alerts: alerts.iter().rev().map(AlertEntry::json).collect(),
            served: self.served.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
            dropped,
        }
    }
}

/// One connection's reporter. A disabled tap ([`Tap::off`]) does nothing.
pub struct Tap {
    on: Option<TapInner>,
}

struct TapInner {
    hub: Arc<Inner>,
    id: u64,
    slot: Arc<Slot>,
}

impl Tap {
    /// A tap that reports nothing, for a shop without a live view.
    pub fn off() -> Tap {
        Tap { on: None }
    }

    /// True if this tap reports to a live view.
    pub fn is_on(&self) -> bool {
        self.on.is_some()
    }

    /// A tap for `peer` if there is a hub, else [`Tap::off`].
    pub fn new(hub: Option<&Hub>, peer: SocketAddr) -> Tap {
        hub.map_or_else(Tap::off, |hub| hub.connect(peer))
    }

    /// Reports one message: its bytes and framing, the text decoded from it (`None` if
    /// it could not be decoded) in `charset`, the reply, and the customer's total.
    pub fn message(
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
            let seen = slot.charsets.load(Ordering::Relaxed) & (GBK_SEEN | UTF8_SEEN);
            slot.charsets.store(
                match charset {
                    Charset::Gbk => seen | GBK_SEEN,
                    Charset::Utf8 => seen | UTF8_SEEN | LAST_UTF8,
                },
                Ordering::Relaxed,
            );
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
        if ring.entries.capacity() == 0 {
            // Exactly RING, not the doubling growth's 32: 20 entries of ~270 bytes per
            // customer who speaks, allocated once.
            ring.entries.reserve_exact(RING);
        }
        if ring.entries.len() == RING {
            ring.entries.pop_front();
            // The message pushed out is the RING-th newest: unseen if the viewer's
            // last look came before it.
            if ring.pushed - ring.seen >= RING as u64 {
                slot.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
        ring.entries.push_back(Entry {
            peer: slot.peer,
            said,
            reply: clip_reply(reply),
        });
        ring.pushed += 1;
    }

    /// Reports that the shop ended the conversation on its own with `reply` (idle, too
    /// slow to finish a message).
    pub fn cut_off(&self, reply: &Reply) {
        let Some(on) = &self.on else { return };
        on.hub
            .alert(AlertKind::CutOff, on.slot.peer, None, clip_reply(reply));
    }
}

impl Drop for Tap {
    fn drop(&mut self) {
        let Some(on) = &self.on else { return };
        let slot = lock(&on.hub.customers).remove(&on.id);
        drop(slot);
        // The customer's last messages stay in the feed for a while.
        let ring = std::mem::take(&mut lock(&on.slot.ring).entries);
        let dropped = on.slot.dropped.load(Ordering::Relaxed);
        on.hub.dropped.fetch_add(dropped, Ordering::Relaxed);
        let mut departed = lock(&on.hub.departed);
        for entry in ring {
            if departed.len() == FEED_LEN {
                departed.pop_front();
            }
            departed.push_back(entry);
        }
    }
}

// ----- the JSON the page and scripts read -----

#[derive(Serialize)]
struct State {
    /// Server time, milliseconds since the Unix epoch.
    now: u64,
    /// The shop's wire encoding setting.
    encoding: &'static str,
    /// Where students connect.
    addresses: Vec<AddressJson>,
    /// Oldest connection first.
    customers: Vec<CustomerJson>,
    items: Vec<ItemJson>,
    total: TotalJson,
    /// Newest first.
    feed: Vec<FeedJson>,
    /// Newest first.
    alerts: Vec<AlertJson>,
    /// Customers served since start.
    served: u64,
    /// Customers turned away since start.
    refused: u64,
    /// Messages no viewer saw before newer ones pushed them out.
    dropped: u64,
}

#[derive(Serialize, Clone)]
struct AddressJson {
    addr: String,
    interface: String,
}

#[derive(Serialize)]
struct CustomerJson {
    peer: String,
    /// Milliseconds since the Unix epoch.
    since: u64,
    /// "GBK", "UTF-8", or null before the first readable message.
    encoding: Option<&'static str>,
    /// Both encodings have been seen.
    mixed: bool,
    messages: u64,
    spent: f64,
    /// The last few messages, oldest first.
    recent: Vec<SaidJson>,
}

#[derive(Serialize)]
struct ItemJson {
    name: String,
    /// `null` for an item a reload removed.
    price: Option<f64>,
    sold: u64,
    /// `null` for unlimited stock.
    remaining: Option<u64>,
    takings: f64,
}

#[derive(Serialize)]
struct TotalJson {
    sold: u64,
    takings: f64,
}

#[derive(Serialize)]
struct SaidJson {
    /// Milliseconds since the Unix epoch.
    at: u64,
    /// The decoded text, or null if it could not be decoded.
    text: Option<String>,
    /// The raw bytes in hex, like the debug assistant's hex view.
    hex: String,
    /// The message's length in bytes before cutting.
    len: u32,
    /// True if the text or the bytes shown were cut.
    cut: bool,
    encoding: Option<&'static str>,
    /// "newline", "pause" or "eof".
    end: &'static str,
    /// How many reads the message came in (more than one: 半包).
    reads: u32,
    /// Shared a read with another message (粘包).
    shared: bool,
}

#[derive(Serialize)]
struct FeedJson {
    peer: String,
    #[serde(flatten)]
    said: SaidJson,
    reply: String,
}

#[derive(Serialize)]
struct AlertJson {
    at: u64,
    kind: AlertKind,
    peer: String,
    said: Option<SaidJson>,
    /// What the shop told the customer: for a wrong encoding, the hint.
    reply: String,
}

impl Slot {
    fn json(&self, recent: &[Entry]) -> CustomerJson {
        let charsets = self.charsets.load(Ordering::Relaxed);
        let encoding = match charsets {
            0 => None,
            c if c & LAST_UTF8 != 0 => Some(Charset::Utf8.name()),
            _ => Some(Charset::Gbk.name()),
        };
        CustomerJson {
            peer: self.peer.to_string(),
            since: self.since_ns / 1_000_000,
            encoding,
            mixed: charsets & (GBK_SEEN | UTF8_SEEN) == GBK_SEEN | UTF8_SEEN,
            messages: self.messages.load(Ordering::Relaxed),
            spent: yuan(Price(self.spent.load(Ordering::Relaxed))),
            recent: recent.iter().map(|e| e.said.json()).collect(),
        }
    }
}

impl Said {
    fn json(&self) -> SaidJson {
        SaidJson {
            at: self.at_ns / 1_000_000,
            text: self.text.map(|t| t.as_str().to_string()),
            hex: codec::hex(self.raw.as_bytes()),
            len: self.raw.full,
            cut: self.raw.is_cut() || self.text.is_some_and(|t| t.is_cut()),
            encoding: self.charset.map(Charset::name),
            end: match self.frame.end {
                FrameEnd::Newline => "newline",
                FrameEnd::Pause => "pause",
                FrameEnd::EndOfStream => "eof",
            },
            reads: self.frame.reads,
            shared: self.frame.shared,
        }
    }
}

impl Entry {
    fn json(&self) -> FeedJson {
        FeedJson {
            peer: self.peer.to_string(),
            said: self.said.json(),
            reply: self.reply.to_string(),
        }
    }
}

impl AlertEntry {
    fn json(&self) -> AlertJson {
        AlertJson {
            at: self.at_ns / 1_000_000,
            kind: self.kind,
            peer: self.peer.to_string(),
            said: self.said.as_ref().map(Said::json),
            reply: self.reply.to_string(),
        }
    }
}

fn yuan(price: Price) -> f64 {
    price.0 as f64 / 100.0
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// Locks `mutex`, also after a thread panicked holding it: the view's data stays
/// usable, and a panic in one connection must not take the view down.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shop::catalog::{Catalog, EMBEDDED};

    fn hub() -> Hub {
        let shop = Shop::new(Catalog::parse(EMBEDDED, "t", WireEncoding::Gbk).unwrap());
        Hub::new(shop, WireEncoding::Gbk)
    }

    fn state(hub: &Hub) -> serde_json::Value {
        serde_json::from_str(&hub.state_json()).unwrap()
    }

    fn peer(port: u16) -> SocketAddr {
        SocketAddr::from(([192, 0, 2, 1], port))
    }

    const NEWLINE: FrameInfo = FrameInfo {
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
    fn the_feed_is_the_newest_messages_of_everyone() {
        let hub = hub();
        let (a, b) = (hub.connect(peer(1)), hub.connect(peer(2)));
        for (tap, text) in [(&a, "瓜子"), (&b, "西瓜"), (&a, "矿泉水")] {
            tap.message(
                (text.as_bytes(), NEWLINE),
                Some((text, Charset::Utf8)),
                &Reply::Unknown,
                Price(0),
            );
        }
        drop(a);
        let s = state(&hub);
        let feed: Vec<(&str, &str)> = s["feed"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| (m["peer"].as_str().unwrap(), m["text"].as_str().unwrap()))
            .collect();
        assert_eq!(
            feed,
            [
                ("192.0.2.1:1", "矿泉水"),
                ("192.0.2.1:2", "西瓜"),
                ("192.0.2.1:1", "瓜子")
            ]
        );
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
        assert_eq!(cut_text("ab瓜", 3), "ab…");
        assert_eq!(cut_text("ab瓜", 5), "ab瓜");
    }

    #[test]
    fn text_clips_cut_at_character_boundaries() {
        let text = "瓜".repeat(100);
        let clip = Clip::<CLIP_TEXT>::text(&text);
        assert_eq!(clip.as_str(), "瓜".repeat(CLIP_TEXT / 3));
        assert!(clip.is_cut());
        let clip = Clip::<7>::text("ab瓜瓜");
        assert_eq!(clip.as_str(), "ab瓜");
    }
}
