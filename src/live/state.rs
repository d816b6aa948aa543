//! What `GET /api/state` returns: a [`Snapshot`] of the hub, assembled when a viewer
//! asks, as the JSON the page and scripts read.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use serde::Serialize;

use super::hub::{AlertEntry, AlertKind, CustomerSlot, FEED_LEN, HubInner, lock};
use super::message::{Entry, Said, now_ns};
use crate::shop::catalog::Price;
use crate::wire::FrameEnd;
use crate::wire::codec::{self, Charset};

/// Recent messages shown in a customer's row of `/api/state`.
pub(super) const RECENT_PER_CUSTOMER: usize = 3;

/// Items listed in `/api/state` (the total counts them all). A projector shows a few
/// dozen bars; a 100,000-item catalog made each state 7.5 MB, and 64 viewers that
/// never read held 1.6 GB. With this cap a state stays well under a megabyte in
/// items, however big the catalog.
pub(super) const MAX_ITEMS_SHOWN: usize = 500;

impl HubInner {
    pub(super) fn snapshot(&self) -> Snapshot {
        // The map lock is released before any slot is locked.
        let slots: Vec<Arc<CustomerSlot>> = lock(&self.customers).values().cloned().collect();
        let mut feed: Vec<Entry> = lock(&self.departed).iter().cloned().collect();
        let mut dropped = self.dropped.load(Ordering::Relaxed);
        let mut customers = Vec::with_capacity(slots.len());
        for slot in &slots {
            // Copied under the lock, formatted after it: the connection only tries
            // this lock, and drops its message while the viewer holds it.
            let start = feed.len();
            feed.extend(lock(&slot.ring).look().cloned());
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
        let sales = self.shop.sales();
        for sale in &sales {
            sold += sale.count;
            takings = takings.saturating_add(sale.takings);
        }
        let items_more = sales.len().saturating_sub(MAX_ITEMS_SHOWN);
        let items = sales
            .into_iter()
            .take(MAX_ITEMS_SHOWN)
            .map(|sale| ItemJson {
                price: prices.get(&sale.name).map(|&p| yuan(p)),
                name: sale.name,
                sold: sale.count,
                remaining: sale.remaining,
                takings: yuan(sale.takings),
            })
            .collect();
        // Copied under the lock, formatted after it: connections (and the accept loop,
        // for a refusal) take this lock to add an alert.
        let alerts: Vec<AlertEntry> = lock(&self.alerts).iter().cloned().collect();
        Snapshot {
            now: now_ns() / 1_000_000,
            alarm: self.shop.alarm(),
            encoding: self.wire.describe(),
            addresses: lock(&self.addresses).clone(),
            customers,
            items,
            items_more,
            total: TotalJson {
                sold,
                takings: yuan(takings),
            },
            all_counters: self.shop.shared_totals().map(|(sold, takings)| TotalJson {
                sold,
                takings: yuan(takings),
            }),
            feed: feed.iter().map(Entry::json).collect(),
            alerts: alerts.iter().rev().map(AlertEntry::json).collect(),
            served: self.served.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
            dropped,
        }
    }
}

#[derive(Serialize)]
pub(super) struct Snapshot {
    /// Server time, milliseconds since the Unix epoch.
    now: u64,
    /// What is wrong with recording sales now (the ledger file removed or
    /// overwritten), in the words of the log; `null` while all is well.
    alarm: Option<String>,
    /// The shop's wire encoding setting.
    encoding: &'static str,
    /// Where students connect.
    addresses: Vec<AddressJson>,
    /// Oldest connection first.
    customers: Vec<CustomerJson>,
    /// The first [`MAX_ITEMS_SHOWN`] items, in catalog order.
    items: Vec<ItemJson>,
    /// Items not listed.
    items_more: usize,
    /// Over all items.
    total: TotalJson,
    /// Every counter on a shared ledger (PostgreSQL) together; `null` otherwise.
    all_counters: Option<TotalJson>,
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
pub(super) struct AddressJson {
    pub(super) addr: String,
    pub(super) interface: String,
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

impl CustomerSlot {
    fn json(&self, recent: &[Entry]) -> CustomerJson {
        let (last, mixed) = self.charsets();
        CustomerJson {
            peer: self.peer.to_string(),
            since: self.since_ns / 1_000_000,
            encoding: last.map(Charset::name),
            mixed,
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

#[cfg(test)]
mod tests {
    use crate::live::hub::tests::{NEWLINE, hub, peer, state};
    use crate::shop::Reply;
    use crate::shop::catalog::Price;
    use crate::wire::codec::Charset;

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
}
