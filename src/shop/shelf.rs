//! The catalog in force, with a counter per item: what is left, what was sold.
//!
//! Counts are kept per item *name*, not per catalog entry, so an item's sales carry
//! over a reload, and an item that is removed and later added again still knows how
//! many were sold. Each counter is atomics only: a purchase is one compare-and-swap, so
//! two customers racing for the last 西瓜 cannot both win, and nobody waits for a lock.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::catalog::{Catalog, Item, Price};

/// The catalog in force, with each item's counter in catalog order. Replaced whole by a
/// reload.
pub(crate) struct Shelf {
    pub(crate) catalog: Catalog,
    /// Item name to index into `catalog.items()` and `counters`.
    index: HashMap<String, usize>,
    counters: Vec<Arc<Counter>>,
}

/// The counts for one item name, kept across reloads.
pub(crate) struct Counter {
    /// Pieces gone: sold before this run (from the ledger), sold in this run, and sold
    /// but still being recorded. Remaining stock is the item's `stock` minus this.
    taken: AtomicU64,
    /// Pieces sold (and, with a ledger, recorded) in this run.
    sold: AtomicU64,
    /// Money taken for them in this run, in fen, each piece at the price it was sold at.
    takings: AtomicU64,
    /// What a recorder that decides stock says is left ([`NO_VIEW`] until it has said,
    /// [`UNLIMITED`] for no limit): shown instead of the local count.
    view: AtomicU64,
}

/// [`Counter::view`] holds no number from the recorder: the local count is shown.
const NO_VIEW: u64 = u64::MAX;
/// [`Counter::view`]: the recorder says the item is unlimited.
const UNLIMITED: u64 = u64::MAX - 1;

impl Default for Counter {
    fn default() -> Counter {
        Counter {
            taken: AtomicU64::new(0),
            sold: AtomicU64::new(0),
            takings: AtomicU64::new(0),
            view: AtomicU64::new(NO_VIEW),
        }
    }
}

impl Shelf {
    /// The shelf for `catalog`, taking each item's counter from `counters` (or adding
    /// a fresh one).
    pub(crate) fn new(catalog: Catalog, counters: &mut BTreeMap<String, Arc<Counter>>) -> Shelf {
        let index = catalog
            .items()
            .iter()
            .enumerate()
            .map(|(i, item)| (item.name.clone(), i))
            .collect();
        let counters = catalog
            .items()
            .iter()
            .map(|item| Arc::clone(counters.entry(item.name.clone()).or_default()))
            .collect();
        Shelf {
            catalog,
            index,
            counters,
        }
    }

    /// The item called `name` and its counter.
    pub(crate) fn find(&self, name: &str) -> Option<(&Item, &Arc<Counter>)> {
        let &i = self.index.get(name)?;
        Some((&self.catalog.items()[i], &self.counters[i]))
    }

    /// True if the catalog has an item called `name`.
    pub(crate) fn has(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }

    /// Each item in catalog order, with the pieces left (`None`: unlimited).
    pub(crate) fn stock(&self) -> impl Iterator<Item = (&Item, Option<u64>)> {
        self.catalog
            .items()
            .iter()
            .zip(&self.counters)
            .map(|(item, counter)| (item, counter.remaining(item.stock)))
    }

    /// Each item in catalog order, with its counter.
    pub(crate) fn counted(&self) -> impl Iterator<Item = (&Item, &Arc<Counter>)> {
        self.catalog.items().iter().zip(&self.counters)
    }
}

impl Counter {
    /// A counter for an item of which `sold` pieces were sold before this run.
    pub(crate) fn sold_before(sold: u64) -> Counter {
        let counter = Counter::default();
        counter.taken.store(sold, Ordering::Release);
        counter
    }

    /// Takes one piece if `stock` allows: false if sold out.
    pub(crate) fn take(&self, stock: Option<u64>) -> bool {
        match stock {
            None => {
                self.taken.fetch_add(1, Ordering::AcqRel);
                true
            }
            Some(stock) => self
                .taken
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                    (n < stock).then_some(n + 1)
                })
                .is_ok(),
        }
    }

    /// Puts a taken piece back; true if the item had been sold out (`stock` reached).
    pub(crate) fn put_back(&self, stock: Option<u64>) -> bool {
        let before = self.taken.fetch_sub(1, Ordering::AcqRel);
        stock.is_some_and(|stock| before >= stock)
    }

    /// Pieces left of `stock`: `None` for unlimited.
    pub(crate) fn remaining(&self, stock: Option<u64>) -> Option<u64> {
        match self.view.load(Ordering::Acquire) {
            NO_VIEW => {}
            UNLIMITED => return None,
            left => return Some(left),
        }
        let taken = self.taken.load(Ordering::Acquire);
        stock.map(|stock| stock.saturating_sub(taken))
    }

    /// Counts a taken piece as sold at `price`. The takings saturate at the top of the
    /// range, as the total does, instead of wrapping to a small number: one add on the
    /// hot path, and only the add that wraps pays for the fix.
    /// Shows `left` (from the recorder that decides stock) instead of the local count.
    /// Returns true if the item went from none left to some or back.
    pub(crate) fn set_view(&self, left: Option<u64>) -> bool {
        let new = left.map_or(UNLIMITED, |n| n.min(UNLIMITED - 1));
        let old = self.view.swap(new, Ordering::AcqRel);
        (old == 0) != (new == 0)
    }

    /// One piece fewer in the recorder's view (a sale it recorded), until the next
    /// refresh says exactly.
    pub(crate) fn view_sold(&self) {
        let _ = self
            .view
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| match n {
                NO_VIEW | UNLIMITED | 0 => None,
                n => Some(n - 1),
            });
    }

    pub(crate) fn sold_at(&self, price: Price) {
        self.sold.fetch_add(1, Ordering::AcqRel);
        let before = self.takings.fetch_add(price.0, Ordering::AcqRel);
        if before.checked_add(price.0).is_none() {
            self.takings.store(u64::MAX, Ordering::Release);
        }
    }

    /// Pieces sold in this run, and the money taken for them.
    pub(crate) fn sales(&self) -> (u64, Price) {
        let sold = self.sold.load(Ordering::Acquire);
        (sold, Price(self.takings.load(Ordering::Acquire)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Takings at the top of the price range saturate, never wrap (issue 23, LOW).
    #[test]
    fn takings_saturate() {
        let counter = Counter::default();
        let top = Price(u64::MAX / 100 * 99);
        counter.sold_at(top);
        assert_eq!(counter.sales(), (1, top));
        counter.sold_at(top);
        assert_eq!(
            counter.sales(),
            (2, Price(u64::MAX)),
            "saturated, not wrapped"
        );
        counter.sold_at(Price(1));
        assert_eq!(
            counter.sales(),
            (3, Price(u64::MAX)),
            "and stays at the top"
        );
    }
}
