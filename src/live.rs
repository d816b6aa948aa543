//! The live view's data: what the connection threads report, kept for the teacher's screen.
//!
//! The shop never waits for the view. Two structures, both bounded by construction:
//!
//! - **Customers connected now** are [`Tap`]s: a connection thread gets one when it starts
//!   serving (one brief lock of a map with one entry per seat) and updates its own slot
//!   per message (a lock no other connection contends for). Dropping the tap removes the
//!   customer, so the list cannot leak.
//! - **The feed and the alerts** come from events. Connection threads push them into one
//!   fixed-size buffer under a lock held for a copy; when the buffer is full the event is
//!   dropped and counted instead. A collector thread empties the buffer every [`TICK`] into
//!   rings of [`FEED_LEN`] messages and [`ALERTS_LEN`] alerts.
//!
//! Nothing here does I/O. The web module ([`crate::web`]) reads a [`Hub::state_json`]
//! snapshot; a slow or absent viewer costs the shop nothing.
//!
//! Customer text is stored as sent (cut to [`CLIP_TEXT`] bytes) and only ever leaves as
//! JSON strings; the page puts it in the DOM as text, never as HTML.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::catalog::Price;
use crate::codec::{self, Charset, WireEncoding};
use crate::protocol::{FrameEnd, FrameInfo};
use crate::session::Reply;
use crate::shop::Shop;

/// Messages kept in the feed. A projector shows a screenful; more is history nobody reads.
pub const FEED_LEN: usize = 100;

/// Alerts kept. Older ones scroll away.
pub const ALERTS_LEN: usize = 50;

/// Recent messages kept per connected customer.
pub const RECENT_PER_CUSTOMER: usize = 3;

/// Events buffered between two collector ticks. At 100 ms per tick that is 20,000
/// events a second before any is dropped: far more than a class types, and under a load
/// test the feed only shows the last [`FEED_LEN`] anyway.
pub const EVENT_BUFFER: usize = 2048;

/// How often the collector empties the event buffer. Well inside the 1 s the page allows.
pub const TICK: Duration = Duration::from_millis(100);

/// Raw bytes kept per message (shown as hex); the length is kept too.
pub const CLIP_BYTES: usize = 48;

/// Bytes of decoded text kept per message (cut at a character boundary).
pub const CLIP_TEXT: usize = 96;

/// Up to `N` bytes copied inline, so that reporting a message allocates nothing.
#[derive(Clone, Copy)]
struct Clip<const N: usize> {
    buf: [u8; N],
    len: u8,
    /// The length before cutting.
    full: u32,
}

impl<const N: usize> Default for Clip<N> {
    fn default() -> Self {
        Clip {
            buf: [0; N],
            len: 0,
            full: 0,
        }
    }
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
#[derive(Clone, Copy, Default)]
struct Said {
    at: u64,
    raw: Clip<CLIP_BYTES>,
    /// `None` when the bytes could not be decoded.
    text: Option<Clip<CLIP_TEXT>>,
    charset: Option<Charset>,
    frame: FrameInfo,
}

/// What a connection thread reports.
enum Event {
    /// A message and the reply to it.
    Message {
        peer: SocketAddr,
        said: Said,
        reply: Reply,
    },
    /// A customer turned away at the door, with the reply they got.
    Refused {
        at: u64,
        peer: SocketAddr,
        reply: Reply,
    },
    /// The shop ended a conversation on its own (idle, too slow), with the reply.
    CutOff {
        at: u64,
        peer: SocketAddr,
        reply: Reply,
    },
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
    /// Events since the last tick; never longer than [`EVENT_BUFFER`].
    events: Mutex<Vec<Event>>,
    /// Events dropped because the buffer was full.
    dropped: AtomicU64,
    /// Customers served since start, and turned away.
    served: AtomicU64,
    refused: AtomicU64,
    /// What the collector keeps.
    view: Mutex<View>,
}

/// The feed and the alerts; only the collector writes them.
#[derive(Default)]
struct View {
    next_seq: u64,
    feed: VecDeque<FeedEntry>,
    alerts: VecDeque<AlertEntry>,
}

struct FeedEntry {
    seq: u64,
    peer: SocketAddr,
    said: Said,
    reply: Reply,
}

struct AlertEntry {
    seq: u64,
    at: u64,
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
    /// A message in an encoding the shop could not read: the reply carries the hint.
    WrongEncoding,
    /// Turned away at the door: shop full, too many from one address, or no thread.
    Refused,
    /// Cut off by the shop: idle too long, or too slow to finish a message.
    CutOff,
}

/// One connected customer's slot.
struct Slot {
    peer: SocketAddr,
    since: u64,
    state: Mutex<SlotState>,
}

#[derive(Default)]
struct SlotState {
    /// The charset of the last message that could be decoded.
    charset: Option<Charset>,
    /// Both charsets have been seen from this customer.
    mixed: bool,
    messages: u64,
    spent: Price,
    /// The last messages, oldest first once full; `next` is where the next one goes.
    recent: [Said; RECENT_PER_CUSTOMER],
    next: usize,
}

impl Hub {
    /// A hub for `shop`, with its collector thread running.
    pub fn start(shop: Shop, wire: WireEncoding) -> std::io::Result<Hub> {
        let hub = Hub {
            inner: Arc::new(Inner {
                shop,
                wire,
                addresses: Mutex::new(Vec::new()),
                customers: Mutex::new(HashMap::new()),
                next_id: AtomicU64::new(0),
                events: Mutex::new(Vec::with_capacity(EVENT_BUFFER)),
                dropped: AtomicU64::new(0),
                served: AtomicU64::new(0),
                refused: AtomicU64::new(0),
                view: Mutex::new(View::default()),
            }),
        };
        // The collector holds only a weak reference, so it ends with the last hub.
        let weak = Arc::downgrade(&hub.inner);
        thread::Builder::new()
            .name("live-collector".into())
            .stack_size(256 * 1024)
            .spawn(move || {
                let mut spare = Vec::with_capacity(EVENT_BUFFER);
                loop {
                    thread::sleep(TICK);
                    let Some(inner) = weak.upgrade() else { return };
                    inner.collect(&mut spare);
                }
            })?;
        Ok(hub)
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
            since: now_ms(),
            state: Mutex::new(SlotState::default()),
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
        self.inner.publish(Event::Refused {
            at: now_ms(),
            peer,
            reply: reply.clone(),
        });
    }

    /// Events dropped so far because the view fell behind.
    pub fn dropped(&self) -> u64 {
        self.inner.dropped.load(Ordering::Relaxed)
    }

    /// Processes the buffered events now instead of at the next tick (for tests).
    pub fn collect_now(&self) {
        self.inner.collect(&mut Vec::new());
    }

    /// The whole state as JSON: what `GET /api/state` returns.
    pub fn state_json(&self) -> String {
        let state = self.inner.snapshot();
        // Serializing plain structs of strings and numbers cannot fail.
        serde_json::to_string(&state).unwrap_or_else(|_| "{}".into())
    }
}

impl Inner {
    /// Adds an event, or counts it as dropped if the buffer is full. Never blocks for
    /// longer than another thread's push.
    fn publish(&self, event: Event) {
        let mut events = lock(&self.events);
        if events.len() < EVENT_BUFFER {
            events.push(event);
        } else {
            drop(events);
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Moves buffered events into the feed and the alerts.
    fn collect(&self, spare: &mut Vec<Event>) {
        std::mem::swap(&mut *lock(&self.events), spare);
        if spare.is_empty() {
            return;
        }
        // Only the last FEED_LEN messages of a burst can still be in the feed.
        let messages = spare
            .iter()
            .filter(|e| matches!(e, Event::Message { .. }))
            .count();
        let mut skip = messages.saturating_sub(FEED_LEN);
        let mut view = lock(&self.view);
        for event in spare.drain(..) {
            view.next_seq += 1;
            let seq = view.next_seq;
            match event {
                Event::Message { peer, said, reply } => {
                    if matches!(reply, Reply::Garbled(_) | Reply::WrongEncoding { .. }) {
                        view.alert(AlertEntry {
                            seq,
                            at: said.at,
                            kind: AlertKind::WrongEncoding,
                            peer,
                            said: Some(said),
                            reply: reply.clone(),
                        });
                    }
                    if skip > 0 {
                        skip -= 1;
                        continue;
                    }
                    if view.feed.len() == FEED_LEN {
                        view.feed.pop_front();
                    }
                    view.feed.push_back(FeedEntry {
                        seq,
                        peer,
                        said,
                        reply,
                    });
                }
                Event::Refused { at, peer, reply } => view.alert(AlertEntry {
                    seq,
                    at,
                    kind: AlertKind::Refused,
                    peer,
                    said: None,
                    reply,
                }),
                Event::CutOff { at, peer, reply } => view.alert(AlertEntry {
                    seq,
                    at,
                    kind: AlertKind::CutOff,
                    peer,
                    said: None,
                    reply,
                }),
            }
        }
    }

    fn snapshot(&self) -> State {
        let mut customers: Vec<CustomerJson> = lock(&self.customers)
            .values()
            .cloned()
            .collect::<Vec<_>>()
            .into_iter()
            // The map lock is released before any slot is locked.
            .map(|slot| slot.json())
            .collect();
        customers.sort_by_key(|c| c.since);
        let prices: Vec<Price> = self.shop.items().iter().map(|i| i.price).collect();
        let mut total = TotalJson::default();
        let items = self
            .shop
            .sales()
            .into_iter()
            .enumerate()
            .map(|(i, sale)| {
                total.sold += sale.count;
                total.takings = total.takings.saturating_add(sale.takings);
                ItemJson {
                    price: yuan(prices.get(i).copied().unwrap_or(Price(0))),
                    name: sale.name,
                    sold: sale.count,
                    remaining: sale.remaining,
                    takings: yuan(sale.takings),
                }
            })
            .collect();
        let view = lock(&self.view);
        State {
            now: now_ms(),
            encoding: self.wire.describe(),
            addresses: lock(&self.addresses).clone(),
            customers,
            items,
            total: TotalJsonOut {
                sold: total.sold,
                takings: yuan(total.takings),
            },
            feed: view.feed.iter().rev().map(FeedEntry::json).collect(),
            alerts: view.alerts.iter().rev().map(AlertEntry::json).collect(),
            served: self.served.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
        }
    }
}

impl View {
    fn alert(&mut self, alert: AlertEntry) {
        if self.alerts.len() == ALERTS_LEN {
            self.alerts.pop_front();
        }
        self.alerts.push_back(alert);
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
            at: now_ms(),
            raw: Clip::bytes(bytes),
            text: decoded.map(|(text, _)| Clip::text(text)),
            charset: decoded.map(|(_, charset)| charset),
            frame,
        };
        {
            let mut state = lock(&on.slot.state);
            if let Some(charset) = said.charset {
                state.mixed |= state.charset.is_some_and(|c| c != charset);
                state.charset = Some(charset);
            }
            state.messages += 1;
            state.spent = spent;
            let next = state.next;
            state.recent[next % RECENT_PER_CUSTOMER] = said;
            state.next = next + 1;
        }
        on.hub.publish(Event::Message {
            peer: on.slot.peer,
            said,
            reply: reply.clone(),
        });
    }

    /// Reports that the shop ended the conversation on its own with `reply` (idle, too
    /// slow to finish a message).
    pub fn cut_off(&self, reply: &Reply) {
        let Some(on) = &self.on else { return };
        on.hub.publish(Event::CutOff {
            at: now_ms(),
            peer: on.slot.peer,
            reply: reply.clone(),
        });
    }
}

impl Drop for Tap {
    fn drop(&mut self) {
        if let Some(on) = &self.on {
            let slot = lock(&on.hub.customers).remove(&on.id);
            drop(slot);
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
    customers: Vec<CustomerJson>,
    items: Vec<ItemJson>,
    total: TotalJsonOut,
    /// Newest first.
    feed: Vec<FeedJson>,
    /// Newest first.
    alerts: Vec<AlertJson>,
    served: u64,
    refused: u64,
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
    since: u64,
    /// "GBK", "UTF-8", or null before the first readable message.
    encoding: Option<&'static str>,
    mixed: bool,
    messages: u64,
    spent: f64,
    /// Oldest first.
    recent: Vec<SaidJson>,
}

#[derive(Serialize)]
struct ItemJson {
    name: String,
    price: f64,
    sold: u64,
    remaining: Option<u64>,
    takings: f64,
}

#[derive(Default)]
struct TotalJson {
    sold: u64,
    takings: Price,
}

#[derive(Serialize)]
struct TotalJsonOut {
    sold: u64,
    takings: f64,
}

#[derive(Serialize)]
struct SaidJson {
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
    /// How many reads the message came in.
    reads: u32,
    /// Shared a read with another message (粘包).
    shared: bool,
}

#[derive(Serialize)]
struct FeedJson {
    seq: u64,
    peer: String,
    #[serde(flatten)]
    said: SaidJson,
    reply: String,
}

#[derive(Serialize)]
struct AlertJson {
    seq: u64,
    at: u64,
    kind: AlertKind,
    peer: String,
    said: Option<SaidJson>,
    /// What the shop told the customer: for a wrong encoding, the hint.
    reply: String,
}

impl Slot {
    fn json(&self) -> CustomerJson {
        let state = lock(&self.state);
        let kept = state.next.min(RECENT_PER_CUSTOMER);
        let recent = (state.next - kept..state.next)
            .map(|i| state.recent[i % RECENT_PER_CUSTOMER].json())
            .collect();
        CustomerJson {
            peer: self.peer.to_string(),
            since: self.since,
            encoding: state.charset.map(Charset::name),
            mixed: state.mixed,
            messages: state.messages,
            spent: yuan(state.spent),
            recent,
        }
    }
}

impl Said {
    fn json(&self) -> SaidJson {
        SaidJson {
            at: self.at,
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

impl FeedEntry {
    fn json(&self) -> FeedJson {
        FeedJson {
            seq: self.seq,
            peer: self.peer.to_string(),
            said: self.said.json(),
            reply: self.reply.to_string(),
        }
    }
}

impl AlertEntry {
    fn json(&self) -> AlertJson {
        AlertJson {
            seq: self.seq,
            at: self.at,
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

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Locks `mutex`, also after a thread panicked holding it: the view's data stays
/// usable, and a panic in one connection must not take the view down.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Catalog, EMBEDDED};

    fn hub() -> Hub {
        let shop = Shop::new(Catalog::parse(EMBEDDED, "t", WireEncoding::Gbk).unwrap());
        Hub::start(shop, WireEncoding::Gbk).unwrap()
    }

    fn state(hub: &Hub) -> serde_json::Value {
        hub.collect_now();
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
    fn everything_kept_is_bounded() {
        let hub = hub();
        let tap = hub.connect(peer(1));
        let long = "<img src=x onerror=alert(1)>".repeat(100);
        for round in 0..3 {
            for _ in 0..EVENT_BUFFER + 10 {
                tap.message(
                    (long.as_bytes(), NEWLINE),
                    Some((&long, Charset::Utf8)),
                    &Reply::Unknown,
                    Price(0),
                );
                hub.refused(peer(2), &Reply::ShopFull);
            }
            let s = state(&hub);
            assert_eq!(s["feed"].as_array().unwrap().len(), FEED_LEN, "{round}");
            assert_eq!(s["alerts"].as_array().unwrap().len(), ALERTS_LEN);
            let recent = s["customers"][0]["recent"].as_array().unwrap();
            assert_eq!(recent.len(), RECENT_PER_CUSTOMER);
            let text = recent[0]["text"].as_str().unwrap();
            assert!(text.len() <= CLIP_TEXT && long.starts_with(text));
            assert_eq!(recent[0]["cut"], true);
            assert_eq!(recent[0]["len"], long.len());
        }
        // Two events per message, a buffer of EVENT_BUFFER per tick: the rest dropped.
        assert_eq!(
            hub.dropped(),
            3 * (2 * (EVENT_BUFFER as u64 + 10) - EVENT_BUFFER as u64)
        );
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
