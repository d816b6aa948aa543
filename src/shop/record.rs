//! How the shop records a sale before it says `购买成功`: the [`Recorder`] trait.
//!
//! The shop defines it and the sale side implements it (`crate::sale`: a group-commit
//! writer over an SQLite file), so the rules never depend on where sales are kept.
//! Without a recorder the shop sells from memory alone.

use std::sync::Arc;
use std::time::SystemTime;

use super::catalog::Price;

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

/// The sale could not be recorded: nothing was sold, the piece goes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotRecorded;

/// Where the shop's sales are recorded. Shared by every connection thread.
pub trait Recorder: Send + Sync {
    /// Records `sale` and returns once it is durable (`Ok`) or has failed. It may wait
    /// (for a commit), never forever.
    fn record(&self, sale: SaleRecord) -> Result<(), NotRecorded>;

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
    fn record(&self, _: SaleRecord) -> Result<(), NotRecorded> {
        if self.0.load(std::sync::atomic::Ordering::Acquire) {
            Err(NotRecorded)
        } else {
            Ok(())
        }
    }

    fn close(&self) {
        self.0.store(true, std::sync::atomic::Ordering::Release);
    }
}
