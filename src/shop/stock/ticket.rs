//! The purchase in flight: a piece taken off the shelf while its sale is recorded,
//! settled by the recorder's verdict.

use std::sync::Arc;

use super::super::catalog::Price;
use super::super::record::Verdict;
use super::super::shelf::Counter;
use super::{Purchase, Shop};

/// A piece taken off the shelf for a sale that is being recorded: the purchase in
/// flight. Settled as sold once recorded; if recording fails, or the ticket is dropped
/// unsettled (a panic), the piece goes back.
pub(super) struct Ticket<'a> {
    pub(super) shop: &'a Shop,
    pub(super) counter: Arc<Counter>,
    pub(super) price: Price,
    pub(super) stock: Option<u64>,
    pub(super) settled: bool,
}

impl Ticket<'_> {
    /// Sold if recorded; otherwise not sold, and the piece goes back on the shelf.
    pub(super) fn settle(mut self, verdict: Verdict) -> Purchase {
        self.settled = true;
        match verdict {
            Verdict::Recorded => {
                self.counter.sold_at(self.price);
                self.counter.view_sold();
                Purchase::Bought(self.price)
            }
            Verdict::SoldOut => {
                self.put_back();
                // The database has none left, whatever the last view said.
                if self.counter.set_view(Some(0)) {
                    self.shop.shared.greeting.stale();
                }
                Purchase::SoldOut
            }
            Verdict::NotRecorded => {
                self.put_back();
                Purchase::NotRecorded
            }
        }
    }

    fn put_back(&self) {
        if self.counter.put_back(self.stock) {
            // The item was sold out and is back: the greeting lists it again.
            self.shop.shared.greeting.stale();
        }
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        if !self.settled {
            self.put_back();
        }
    }
}
