//! The stock a recorder that decides it (a database shared by several counters) shows
//! in menus, greetings and the live view.

use std::sync::atomic::Ordering;

use super::Shop;
use crate::lock::lock;
use crate::shop::catalog::Price;

impl Shop {
    /// Sales and takings of every counter on a shared ledger together (as of the last
    /// lookup); `None` for a shop whose recorder does not decide stock.
    pub fn shared_totals(&self) -> Option<(u64, Price)> {
        let recorder = self.shared.recorder.as_ref()?;
        recorder.stock(false)?.totals
    }

    /// Takes the recorder's stock view (looked up now with `fresh`), if it decides
    /// stock and the view changed since it was last shown: menus, greetings and the
    /// live view show it. Kept as it was when the recorder cannot look it up.
    pub(super) fn refresh(&self, fresh: bool) {
        let Some(recorder) = self
            .shared
            .recorder
            .as_ref()
            .filter(|_| self.shared.decides)
        else {
            return;
        };
        let Some(view) = recorder.stock(fresh) else {
            return;
        };
        if self.shared.seen.swap(view.generation, Ordering::AcqRel) == view.generation {
            return;
        }
        let counters = lock(&self.shared.counters);
        let mut changed = false;
        for (name, left) in &view.remaining {
            if let Some(counter) = counters.get(name) {
                changed |= counter.set_view(*left);
            }
        }
        drop(counters);
        if changed {
            self.shared.greeting.stale();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};

    use crate::shop::catalog::{Catalog, Item, Price};
    use crate::shop::stock::{Customer, Purchase};
    use crate::shop::{Recorder, SaleRecord, Shop, StockView, Verdict};
    use crate::wire::codec::WireEncoding;

    /// A recorder that decides stock, as a shared database does: `left` pieces of 瓜子,
    /// which another counter may change.
    struct Database {
        left: Mutex<u64>,
        generation: AtomicU64,
    }

    impl Recorder for Database {
        fn record(&self, _: SaleRecord) -> Verdict {
            let mut left = self.left.lock().unwrap();
            if *left == 0 {
                return Verdict::SoldOut;
            }
            *left -= 1;
            Verdict::Recorded
        }
        fn close(&self) {}
        fn decides_stock(&self) -> bool {
            true
        }
        fn stock(&self, _fresh: bool) -> Option<Arc<StockView>> {
            let left = *self.left.lock().unwrap();
            Some(Arc::new(StockView {
                generation: self.generation.fetch_add(1, Ordering::SeqCst) + 1,
                remaining: HashMap::from([("瓜子".to_string(), Some(left))]),
                totals: Some((7, Price(700))),
            }))
        }
        fn restock(&self, _: &[Item]) {}
    }

    #[test]
    fn the_recorder_decides_stock_not_the_local_count() {
        let goods = "[[goods]]\nname = \"瓜子\"\nprice = 4.5\nstock = 1\n";
        let catalog = Catalog::parse(goods, "test", WireEncoding::Gbk).unwrap();
        let db = Arc::new(Database {
            left: Mutex::new(2),
            generation: AtomicU64::new(0),
        });
        let shop = Shop::with_recorder(catalog, &HashMap::new(), db.clone());
        let me = Customer::new("-");
        assert_eq!(shop.menu(), "菜单:瓜子 4.5元 剩2", "the database's stock");
        // The goods file says 1, the database 2: the database wins.
        assert_eq!(shop.buy("瓜子", &me), Purchase::Bought(Price(450)));
        assert_eq!(shop.buy("瓜子", &me), Purchase::Bought(Price(450)));
        assert_eq!(shop.buy("瓜子", &me), Purchase::SoldOut);
        assert!(!shop.greeting().text().contains("瓜子"));
        // Another counter restocks: sold again without anything local changing.
        *db.left.lock().unwrap() = 1;
        assert_eq!(shop.menu(), "菜单:瓜子 4.5元 剩1");
        assert!(shop.greeting().text().contains("瓜子"));
        assert_eq!(shop.buy("瓜子", &me), Purchase::Bought(Price(450)));
        let sales = shop.sales();
        assert_eq!(sales[0].count, 3, "this counter's own sales");
        assert_eq!(shop.shared_totals(), Some((7, Price(700))));
    }
}
