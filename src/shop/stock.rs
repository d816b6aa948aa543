//! The shop's shared state: the catalog and the stock, shared by every connection.
//!
//! [`Shop`] is a cheap-to-clone handle (an `Arc`). It is the in-memory truth for stock
//! checks (see [`super::shelf`]), except as below: a purchase is one compare-and-swap,
//! and no lock is ever held while a socket is written or the ledger is waited for.
//!
//! When the recorder decides stock (a database shared by several counters), the local
//! count never refuses a sale and what is shown as left is the recorder's view
//! (`stock/view.rs`).
//!
//! With a [`Recorder`] (`--ledger`) a purchase is recorded before it counts as sold:
//! [`Shop::buy`] takes the piece, which a [`Ticket`] holds while the sale is recorded;
//! once it is, the piece is sold. If recording fails, the piece goes back. The ticket is
//! the one thing that holds a purchase in flight.
//!
//! The catalog can be replaced while customers shop ([`Shop::reload`]).

use std::collections::{BTreeMap, HashMap};
use std::ops::Deref;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use super::catalog::{Catalog, Item, Price};
use super::greeting::{Greeting, GreetingCache};
use super::record::{Recorder, SaleRecord};
use super::replies;
use super::shelf::{Counter, Shelf};
use super::summary::ItemSales;
use crate::lock::{lock, read, write};

mod ticket;
mod view;

use ticket::Ticket;

/// A handle to the shop. Clone it freely; all clones share one stock.
#[derive(Clone)]
pub struct Shop {
    shared: Arc<ShopShared>,
}

struct ShopShared {
    /// The catalog in force and its counters. Replaced whole by a reload; a purchase
    /// holds the read lock only for a lookup and a compare-and-swap.
    shelf: RwLock<Arc<Shelf>>,
    /// Every item name this shop has known, to its counter. Only a reload and the
    /// sales summary take this lock.
    counters: Mutex<BTreeMap<String, Arc<Counter>>>,
    greeting: GreetingCache,
    /// Where sales are recorded before they are acknowledged; `None`: in memory only.
    recorder: Option<Arc<dyn Recorder>>,
    /// The recorder decides stock (a database shared by several counters): the local
    /// count never refuses a sale, and menus show the recorder's view.
    decides: bool,
    /// The generation of the recorder's stock view last shown (see [`Shop::refresh`]).
    seen: AtomicU64,
}

/// What happened when a customer asked for an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purchase {
    /// One piece was sold (and recorded) at this price.
    Bought(Price),
    /// The item exists but none is left.
    SoldOut,
    /// The shop has never sold anything by that name.
    Unknown,
    /// The ledger could not record the sale: nothing was sold, the piece went back.
    NotRecorded,
}

/// Who is buying: the customer's address as the ledger records it. One per connection.
pub struct Customer {
    address: Arc<str>,
}

impl Customer {
    /// A customer known by `address` (usually `ip:port`).
    pub fn new(address: &str) -> Customer {
        Customer {
            address: Arc::from(address),
        }
    }

    /// The address sales are recorded under.
    pub fn address(&self) -> &str {
        &self.address
    }
}

/// A snapshot of the catalog in force; derefs to its items.
pub struct Items(Arc<Shelf>);

impl Deref for Items {
    type Target = [Item];
    fn deref(&self) -> &[Item] {
        self.0.catalog.items()
    }
}

/// What a reload changed, for the log line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reloaded {
    /// Items in the new catalog.
    pub items: usize,
    /// Items that were not in the old one.
    pub added: usize,
    /// Items of the old catalog that are gone.
    pub removed: usize,
    /// Items whose price changed.
    pub repriced: usize,
    /// Items whose stock changed.
    pub restocked: usize,
}

impl Shop {
    /// Opens an in-memory shop with the catalog's stock: nothing sold yet.
    pub fn new(catalog: Catalog) -> Shop {
        Shop::build(catalog, &HashMap::new(), None)
    }

    /// Opens a shop whose sales are recorded by `recorder` before they are
    /// acknowledged. `sold` is how many of each item the ledger already holds: the
    /// remaining stock is the catalog's `stock` minus that.
    pub fn with_recorder(
        catalog: Catalog,
        sold: &HashMap<String, u64>,
        recorder: Arc<dyn Recorder>,
    ) -> Shop {
        Shop::build(catalog, sold, Some(recorder))
    }

    fn build(
        catalog: Catalog,
        sold: &HashMap<String, u64>,
        recorder: Option<Arc<dyn Recorder>>,
    ) -> Shop {
        let mut counters: BTreeMap<String, Arc<Counter>> = sold
            .iter()
            .map(|(name, &n)| (name.clone(), Arc::new(Counter::sold_before(n))))
            .collect();
        let shelf = Shelf::new(catalog, &mut counters);
        let decides = recorder.as_ref().is_some_and(|r| r.decides_stock());
        Shop {
            shared: Arc::new(ShopShared {
                shelf: RwLock::new(Arc::new(shelf)),
                counters: Mutex::new(counters),
                greeting: GreetingCache::new(),
                recorder,
                decides,
                seen: AtomicU64::new(0),
            }),
        }
    }

    fn shelf(&self) -> Arc<Shelf> {
        Arc::clone(&read(&self.shared.shelf))
    }

    /// Sells one piece of `name` to `customer`, if there is one. Atomic across all
    /// connections. With a recorder this waits until the sale is recorded.
    pub fn buy(&self, name: &str, customer: &Customer) -> Purchase {
        let (ticket, recorder) = {
            let shelf = read(&self.shared.shelf);
            let Some((item, counter)) = shelf.find(name) else {
                return Purchase::Unknown;
            };
            // When the recorder decides stock, only it may say sold out: another
            // counter may have restocked since the last view.
            let stock = if self.shared.decides {
                None
            } else {
                item.stock
            };
            if !counter.take(stock) {
                return Purchase::SoldOut;
            }
            if counter.remaining(stock) == Some(0) {
                // Possibly the last piece: the greeting may no longer list the item.
                self.shared.greeting.stale();
            }
            let Some(recorder) = &self.shared.recorder else {
                // In memory: sold now, under the read lock, without touching the Arc.
                counter.sold_at(item.price);
                return Purchase::Bought(item.price);
            };
            let ticket = Ticket {
                shop: self,
                counter: Arc::clone(counter),
                price: item.price,
                stock,
                settled: false,
            };
            (ticket, recorder)
        };
        let sale = SaleRecord {
            time: SystemTime::now(),
            customer: Arc::clone(&customer.address),
            item: name.to_string(),
            price: ticket.price,
        };
        let verdict = recorder.record(sale);
        ticket.settle(verdict)
    }

    /// The items now in the catalog, in catalog order.
    pub fn items(&self) -> Items {
        Items(self.shelf())
    }

    /// True if the catalog has an item called `name`, whether or not any is left.
    pub fn sells(&self, name: &str) -> bool {
        read(&self.shared.shelf).has(name)
    }

    /// Where the catalog came from.
    pub fn catalog_source(&self) -> String {
        self.shelf().catalog.source().to_string()
    }

    /// Stops the recorder after it has recorded what is queued; later purchases fail
    /// as not recorded. Call it once the server has stopped. No-op without one.
    pub fn close_ledger(&self) {
        if let Some(recorder) = &self.shared.recorder {
            recorder.close();
        }
    }

    /// What is wrong with recording sales now (a ledger file removed or overwritten),
    /// for the live view; `None` while all is well, or without a recorder.
    pub fn alarm(&self) -> Option<String> {
        self.shared.recorder.as_ref().and_then(|r| r.alarm())
    }

    /// True if sales are recorded before they are acknowledged.
    pub fn has_ledger(&self) -> bool {
        self.shared.recorder.is_some()
    }

    /// Replaces the catalog. Customers already connected go on with the new one: new
    /// items and prices hold from their next purchase, removed items are no longer
    /// sold. Sales so far carry over by name, so remaining stock is the new `stock`
    /// minus everything sold of that item (in the ledger's life, or this run's).
    pub fn reload(&self, catalog: Catalog) -> Reloaded {
        let mut counters = lock(&self.shared.counters);
        let old = self.shelf();
        let mut summary = Reloaded {
            items: catalog.items().len(),
            ..Reloaded::default()
        };
        for item in catalog.items() {
            match old.find(&item.name) {
                None => summary.added += 1,
                Some((before, _)) => {
                    summary.repriced += usize::from(before.price != item.price);
                    summary.restocked += usize::from(before.stock != item.stock);
                }
            }
        }
        let shelf = Shelf::new(catalog, &mut counters);
        summary.removed = old
            .catalog
            .items()
            .iter()
            .filter(|item| !shelf.has(&item.name))
            .count();
        *write(&self.shared.shelf) = Arc::new(shelf);
        drop(counters);
        if let Some(recorder) = &self.shared.recorder {
            recorder.restock(self.shelf().catalog.items());
        }
        self.refresh(true);
        self.shared.greeting.stale();
        summary
    }

    /// The greeting, listing the items in stock with their prices, in catalog order
    /// (see [`replies::greeting`]). Shared, not copied: it is rebuilt only when the
    /// in-stock set has changed since it was last built, and the rebuild holds no lock.
    pub fn greeting(&self) -> Arc<Greeting> {
        self.refresh(false);
        self.shared.greeting.get(|| self.shelf())
    }

    /// One line with every item, its price and its remaining stock.
    pub fn menu(&self) -> String {
        self.refresh(true);
        replies::menu(self.shelf().stock())
    }

    /// What has been sold in this run: each item of the catalog in order, then items
    /// sold earlier in this run that a reload has removed.
    pub fn sales(&self) -> Vec<ItemSales> {
        self.refresh(false);
        let counters = lock(&self.shared.counters);
        let shelf = self.shelf();
        let line = |name: &str, counter: &Counter, remaining| {
            let (count, takings) = counter.sales();
            ItemSales {
                name: name.to_string(),
                count,
                takings,
                remaining,
            }
        };
        let mut sales: Vec<ItemSales> = shelf
            .counted()
            .map(|(item, counter)| line(&item.name, counter, counter.remaining(item.stock)))
            .collect();
        for (name, counter) in counters.iter() {
            if !shelf.has(name) && counter.sales().0 > 0 {
                sales.push(line(name, counter, Some(0)));
            }
        }
        sales
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shop::summary::sales_report;
    use crate::wire::codec::{Charset, WireEncoding};
    use std::fmt::Write as _;
    use std::time::{Duration, Instant};

    fn catalog(toml: &str) -> Catalog {
        Catalog::parse(toml, "test", WireEncoding::Gbk).unwrap()
    }

    fn shop(toml: &str) -> Shop {
        Shop::new(catalog(toml))
    }

    fn buy(shop: &Shop, name: &str) -> Purchase {
        shop.buy(name, &Customer::new("-"))
    }

    const TWO: &str = "[[goods]]\nname = \"瓜子\"\nprice = 4.5\nstock = 1\n\
                       [[goods]]\nname = \"西瓜\"\nprice = 2\n";

    #[test]
    fn greeting_for_shipped_catalog() {
        let shop = Shop::new(
            Catalog::parse(crate::shop::catalog::EMBEDDED, "t", WireEncoding::Gbk).unwrap(),
        );
        assert_eq!(
            shop.greeting().text(),
            "目前商店还有:瓜子(4.5),西瓜(2),矿泉水(2.5)。请问您需要什么?"
        );
    }

    #[test]
    fn buying_table() {
        let shop = shop(TWO);
        let steps = [
            ("瓜子", Purchase::Bought(Price(450))),
            ("瓜子", Purchase::SoldOut),
            ("西瓜", Purchase::Bought(Price(200))),
            ("西瓜", Purchase::Bought(Price(200))),
            ("红牛", Purchase::Unknown),
            ("", Purchase::Unknown),
        ];
        for (name, want) in steps {
            assert_eq!(buy(&shop, name), want, "{name}");
        }
        assert_eq!(
            shop.greeting().text(),
            "目前商店还有:西瓜(2)。请问您需要什么?"
        );
        assert_eq!(shop.menu(), "菜单:瓜子 4.5元 已卖完,西瓜 2元 不限量");
        let sales = shop.sales();
        assert_eq!(
            (sales[0].count, sales[0].takings, sales[0].remaining),
            (1, Price(450), Some(0))
        );
        assert_eq!(
            (sales[1].count, sales[1].takings, sales[1].remaining),
            (2, Price(400), None)
        );
        let report = sales_report(&sales, 0);
        assert!(
            report.ends_with("total: 3 sold, takings 8.5 yuan"),
            "{report}"
        );
    }

    #[test]
    fn customers_share_one_greeting() {
        let shop = shop(TWO);
        let (a, b) = (shop.greeting(), shop.greeting());
        assert!(Arc::ptr_eq(&a, &b), "the same greeting, not a copy");
        let line = a.line().bytes(Charset::Gbk);
        let again = b.line().bytes(Charset::Gbk);
        assert!(Arc::ptr_eq(&line, &again));
        buy(&shop, "瓜子");
        let c = shop.greeting();
        assert!(!Arc::ptr_eq(&a, &c), "a sell-out makes a new greeting");
        assert_eq!(c.text(), "目前商店还有:西瓜(2)。请问您需要什么?");
    }

    #[test]
    fn two_items_selling_out_at_once_leave_a_correct_greeting() {
        let toml = "[[goods]]\nname = \"a\"\nprice = 1\nstock = 1\n\
                    [[goods]]\nname = \"b\"\nprice = 1\nstock = 1\n\
                    [[goods]]\nname = \"c\"\nprice = 1\n";
        for _ in 0..200 {
            let shop = shop(toml);
            std::thread::scope(|s| {
                s.spawn(|| {
                    buy(&shop, "a");
                    shop.greeting()
                });
                s.spawn(|| {
                    buy(&shop, "b");
                    shop.greeting()
                });
            });
            assert_eq!(shop.greeting().text(), "目前商店还有:c(1)。请问您需要什么?");
        }
    }

    #[test]
    fn everything_sold_out() {
        let shop = shop("[[goods]]\nname = \"a\"\nprice = 1\nstock = 0\n");
        assert_eq!(buy(&shop, "a"), Purchase::SoldOut);
        assert!(shop.greeting().contains("卖完"));
    }

    #[test]
    fn racing_threads_never_oversell() {
        let shop = shop("[[goods]]\nname = \"西瓜\"\nprice = 2\nstock = 10\n");
        let wins: usize = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    let shop = shop.clone();
                    s.spawn(move || {
                        (0..100)
                            .filter(|_| matches!(buy(&shop, "西瓜"), Purchase::Bought(_)))
                            .count()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(wins, 10);
        assert_eq!(shop.greeting().text(), "抱歉,商品都卖完了,欢迎下次光临。");
        assert_eq!(shop.sales()[0].count, 10);
        assert_eq!(shop.sales()[0].remaining, Some(0));
    }

    #[test]
    fn reload_keeps_sales_and_takes_new_prices_and_stock() {
        let shop = shop(TWO);
        assert_eq!(buy(&shop, "瓜子"), Purchase::Bought(Price(450)));
        assert_eq!(buy(&shop, "西瓜"), Purchase::Bought(Price(200)));
        let changed = shop.reload(catalog(
            "[[goods]]\nname = \"瓜子\"\nprice = 5\nstock = 3\n\
             [[goods]]\nname = \"红牛\"\nprice = 6\n",
        ));
        assert_eq!(
            changed,
            Reloaded {
                items: 2,
                added: 1,
                removed: 1,
                repriced: 1,
                restocked: 1
            }
        );
        assert_eq!(
            shop.greeting().text(),
            "目前商店还有:瓜子(5),红牛(6)。请问您需要什么?"
        );
        assert_eq!(shop.menu(), "菜单:瓜子 5元 剩2,红牛 6元 不限量");
        assert_eq!(buy(&shop, "西瓜"), Purchase::Unknown, "removed");
        assert_eq!(buy(&shop, "瓜子"), Purchase::Bought(Price(500)));
        let sales = shop.sales();
        assert_eq!(sales.len(), 3, "{sales:?}");
        assert_eq!((sales[0].count, sales[0].takings), (2, Price(950)));
        assert_eq!(sales[2].name, "西瓜", "removed but sold: still summed");
        // Stock lowered below what was sold: nothing left, never negative.
        shop.reload(catalog(
            "[[goods]]\nname = \"瓜子\"\nprice = 5\nstock = 1\n",
        ));
        assert_eq!(buy(&shop, "瓜子"), Purchase::SoldOut);
        assert_eq!(shop.menu(), "菜单:瓜子 5元 已卖完");
        // A removed item that comes back remembers its sales.
        shop.reload(catalog(
            "[[goods]]\nname = \"西瓜\"\nprice = 2\nstock = 2\n",
        ));
        assert_eq!(shop.menu(), "菜单:西瓜 2元 剩1");
    }

    #[test]
    fn ledger_history_counts_against_stock() {
        let sold = HashMap::from([("瓜子".to_string(), 1u64), ("gone".to_string(), 5)]);
        let recorder = Arc::new(crate::shop::record::Switch::default());
        let shop = Shop::with_recorder(catalog(TWO), &sold, recorder);
        assert_eq!(buy(&shop, "瓜子"), Purchase::SoldOut);
        assert_eq!(
            shop.greeting().text(),
            "目前商店还有:西瓜(2)。请问您需要什么?"
        );
        assert_eq!(buy(&shop, "西瓜"), Purchase::Bought(Price(200)));
        assert_eq!(shop.sales()[1].count, 1);
    }

    /// Issue 10 item 8: 10,000 items selling out one by one, with a customer asking for
    /// the greeting after each, stays linear. Rebuilding a 10,000-item greeting under a
    /// lock on every sell-out made this quadratic. Generous bound: a check against
    /// the quadratic shape, not a benchmark.
    #[test]
    fn ten_thousand_items_sell_out_in_linear_time() {
        let n = 10_000;
        let mut toml = String::new();
        for i in 0..n {
            let _ = writeln!(toml, "[[goods]]\nname = \"item{i}\"\nprice = 1\nstock = 1");
        }
        let shop = shop(&toml);
        let first = shop.greeting();
        assert!(first.len() > 100_000);
        let started = Instant::now();
        std::thread::scope(|s| {
            for t in 0..4 {
                let shop = shop.clone();
                s.spawn(move || {
                    for i in (t..n).step_by(4) {
                        assert_eq!(
                            buy(&shop, &format!("item{i}")),
                            Purchase::Bought(Price(100))
                        );
                    }
                });
            }
        });
        assert_eq!(shop.greeting().text(), "抱歉,商品都卖完了,欢迎下次光临。");
        let elapsed = started.elapsed();
        assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
    }
}
