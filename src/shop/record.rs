//! How the shop records a sale before it says `购买成功`: the [`Recorder`] trait.
//!
//! The shop defines it and the sale side implements it (`crate::sale`: a group-commit
//! writer over an SQLite file, or over a PostgreSQL database shared by several
//! counters), so the rules never depend on where sales are kept. A recorder may decide
//! stock itself ([`Recorder::decides_stock`]): then its [`Verdict`] can be sold out,
//! and the shop shows its [`StockView`]. Without a recorder the shop sells from memory
//! alone.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use super::catalog::{Item, Price};

/// One sale, as the shop hands it over to be recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaleRecord {
    /// When it was sold.
    pub time: SystemTime,
    /// The customer's address (`ip:port`).
    pub customer: Arc<str>,
    /// The item's name.
    pub item: String,
    /// The price it was sold at.
    pub price: Price,
}

/// What became of a sale handed to the recorder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Recorded durably: the customer hears `购买成功`.
    Recorded,
    /// The recorder decides stock and has none left: nothing sold, the piece goes back.
    SoldOut,
    /// The sale could not be recorded: nothing was sold, the piece goes back.
    NotRecorded,
}

/// What is left of each item as a recorder that decides stock sees it (a database
/// shared by several counters): `None` for unlimited. `generation` changes with every
/// lookup, so the shop takes each new view once (and rebuilds its greeting only when an
/// item ran out or came back).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StockView {
    /// Bumped by every refresh that changed something.
    pub generation: u64,
    /// Remaining pieces per item name.
    pub remaining: HashMap<String, Option<u64>>,
    /// Sales and takings of every counter on the ledger together, if known.
    pub totals: Option<(u64, Price)>,
}

/// Where the shop's sales are recorded. Shared by every connection thread.
pub trait Recorder: Send + Sync {
    /// Records `sale` and returns once it is durable ([`Verdict::Recorded`]), refused
    /// for want of stock ([`Verdict::SoldOut`], only from a recorder that decides
    /// stock) or has failed. It may wait (for a commit), never forever.
    fn record(&self, sale: SaleRecord) -> Verdict;

    /// True if the recorder, not the shop's local count, decides whether a piece is
    /// left (a database shared by several counters). The shop then never refuses a
    /// sale locally, and shows the stock of [`Recorder::stock`].
    fn decides_stock(&self) -> bool {
        false
    }

    /// The stock as the recorder last saw it; with `fresh`, looked up now if it can be
    /// (bounded; the last view when it cannot). `None` from a recorder that does not
    /// decide stock.
    fn stock(&self, _fresh: bool) -> Option<Arc<StockView>> {
        None
    }

    /// The goods file was (re)loaded: sets the stocked totals where the recorder keeps
    /// them. No-op for a recorder that does not decide stock.
    fn restock(&self, _items: &[Item]) {}

    /// Stops recording after what is queued is committed; later sales fail at once.
    fn close(&self);

    /// What is wrong with recording now, for the teacher (the live view): a sentence
    /// saying what happened and what to do. `None` while all is well.
    fn alarm(&self) -> Option<String> {
        None
    }
}

/// A recorder for unit tests: records everything until closed, then nothing.
#[cfg(test)]
#[derive(Default)]
pub(crate) struct Switch(std::sync::atomic::AtomicBool);

#[cfg(test)]
impl Recorder for Switch {
    fn record(&self, _: SaleRecord) -> Verdict {
        if self.0.load(std::sync::atomic::Ordering::Acquire) {
            Verdict::NotRecorded
        } else {
            Verdict::Recorded
        }
    }

    fn close(&self) {
        self.0.store(true, std::sync::atomic::Ordering::Release);
    }
}
