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
#[derive(Default)]
pub(crate) struct Counter {
    /// Pieces gone: sold before this run (from the ledger), sold in this run, and sold
    /// but still being recorded. Remaining stock is the item's `stock` minus this.
    taken: AtomicU64,
    /// Pieces sold (and, with a ledger, recorded) in this run.
    sold: AtomicU64,
    /// Money taken for them in this run, in fen, each piece at the price it was sold at.
    takings: AtomicU64,
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
        Counter {
            taken: AtomicU64::new(sold),
            ..Counter::default()
        }
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
        let taken = self.taken.load(Ordering::Acquire);
        stock.map(|stock| stock.saturating_sub(taken))
    }

    /// Counts a taken piece as sold at `price`. The takings saturate at the top of the
    /// range, as the total does, instead of wrapping to a small number: one add on the
    /// hot path, and only the add that wraps pays for the fix.
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
