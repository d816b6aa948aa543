//! The shop's shared state: the catalog and the stock, shared by every connection.
//!
//! [`Shop`] is a cheap-to-clone handle (an `Arc`). It is the in-memory truth for stock
//! checks: each item has an atomic count of pieces gone, and a purchase is one
//! compare-and-swap on it. Two customers racing for the last 西瓜 cannot both win, and
//! no lock is ever held while a socket is written or the ledger is waited for.
//!
//! With a ledger ([`crate::sale`]) a purchase is recorded before it counts as sold:
//! [`Shop::take`] takes the piece and hands back a [`Ticket`]; the ticket's sale goes to
//! the ledger writer, and only once it is committed is the piece sold. If the commit
//! fails, or the ticket is dropped unrecorded, the piece goes back. [`Shop::buy_as`]
//! does both and waits; the server's connections submit the ticket and go on reading
//! (see [`crate::sale::outbox`]).
//!
//! The catalog can be replaced while customers shop ([`Shop::reload`]). Counts are kept
//! per item *name*, so an item's sales carry over a reload, and an item that is removed
//! and later added again still knows how many were sold.
//!
//! The greeting lists every item in stock, so with a big catalog it is big (100,000
//! items make 1.5 MB). It is built once per change of the in-stock set, not once per
//! customer, and shared: every customer gets the same [`Greeting`] behind an `Arc`, with
//! its encoded bytes cached per charset. A sell-out only bumps a generation counter; the
//! next customer who needs the greeting rebuilds it, with no lock held while it does.
//! So selling out n items costs O(n), not O(n²).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::SystemTime;

use crate::sale::{Recorder, SaleRecord};
use crate::shop::catalog::{Catalog, Item, Price};
use crate::wire::codec::Charset;

/// A handle to the shop. Clone it freely; all clones share one stock.
#[derive(Clone)]
pub struct Shop {
    inner: Arc<Inner>,
}

struct Inner {
    /// The catalog in force and its counters. Replaced whole by a reload; a purchase
    /// holds the read lock only for a lookup and a compare-and-swap.
    state: RwLock<Arc<State>>,
    /// Every item name this shop has known, to its counter. Only a reload and the
    /// sales summary take this lock.
    counters: Mutex<BTreeMap<String, Arc<Counter>>>,
    /// Bumped (after the change) whenever the set of items in stock may have changed:
    /// a sell-out, a piece put back, a reload. The greeting is rebuilt when it lags.
    generation: AtomicU64,
    /// The last greeting built, tagged with the generation it was built for.
    greeting: Mutex<Arc<Greeting>>,
    /// Where sales are recorded before they are acknowledged; `None`: in memory only.
    recorder: Option<Recorder>,
}

/// The catalog in force, with each item's counter in catalog order.
struct State {
    catalog: Catalog,
    /// Item name to index into `catalog.items()` and `counters`.
    index: HashMap<String, usize>,
    counters: Vec<Arc<Counter>>,
}

/// The counts for one item name, kept across reloads.
#[derive(Default)]
struct Counter {
    /// Pieces gone: sold before this run (from the ledger), sold in this run, and sold
    /// but still being recorded. Remaining stock is the item's `stock` minus this.
    taken: AtomicU64,
    /// Pieces sold (and, with a ledger, recorded) in this run.
    sold: AtomicU64,
    /// Money taken for them in this run, in fen, each piece at the price it was sold at.
    takings: AtomicU64,
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

/// What [`Shop::take`] found.
pub enum Take {
    /// In memory: one piece was sold at this price.
    Bought(Price),
    /// With a ledger: one piece is reserved, and is sold once the ticket's sale is
    /// recorded.
    Unrecorded(Ticket),
    /// The item exists but none is left.
    SoldOut,
    /// The shop has never sold anything by that name.
    Unknown,
}

/// A piece taken off the shelf for a sale the ledger has yet to record. Recording it
/// makes it sold; if recording fails, or the ticket is dropped unrecorded, the piece
/// goes back.
pub struct Ticket {
    /// `None` once settled.
    hold: Option<Hold>,
    item: String,
    recorder: Recorder,
}

/// What settling a ticket needs: the piece's counter and the price it goes at.
struct Hold {
    shop: Shop,
    counter: Arc<Counter>,
    price: Price,
    limit: Option<u64>,
}

impl Hold {
    /// Sold if `committed`; otherwise not sold, and the piece goes back on the shelf.
    fn settle(self, committed: bool) {
        if committed {
            self.counter.sold_at(self.price);
            return;
        }
        let before = self.counter.taken.fetch_sub(1, Ordering::AcqRel);
        if self.limit.is_some_and(|l| before >= l) {
            self.shop.stale();
        }
    }
}

impl Ticket {
    /// The price the piece goes at.
    pub fn price(&self) -> Price {
        self.hold.as_ref().map_or(Price(0), |hold| hold.price)
    }

    /// Records the sale and waits for the commit.
    pub fn record(mut self, customer: &Customer) -> Purchase {
        let Some(hold) = self.hold.take() else {
            return Purchase::NotRecorded;
        };
        let price = hold.price;
        let sale = self.sale(customer, price);
        let committed = self.recorder.record(sale).is_ok();
        hold.settle(committed);
        if committed {
            Purchase::Bought(price)
        } else {
            Purchase::NotRecorded
        }
    }

    /// Hands the sale to the ledger and returns without waiting for the commit. Once it
    /// is committed or has failed, the stock is settled and then `then` is called with
    /// the outcome, on the thread that committed it (see
    /// [`Recorder::submit`](crate::sale::Recorder::submit)).
    pub fn submit(mut self, customer: &Customer, then: impl FnOnce(bool) + Send + 'static) {
        let Some(hold) = self.hold.take() else {
            then(false);
            return;
        };
        let sale = self.sale(customer, hold.price);
        let recorder = self.recorder.clone();
        recorder.submit(
            sale,
            Box::new(move |committed| {
                hold.settle(committed);
                then(committed);
            }),
        );
    }

    fn sale(&mut self, customer: &Customer, price: Price) -> SaleRecord {
        SaleRecord {
            time: SystemTime::now(),
            customer: Arc::clone(&customer.address),
            item: std::mem::take(&mut self.item),
            price,
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if let Some(hold) = self.hold.take() {
            hold.settle(false);
        }
    }
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

/// One line of the sales summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sale {
    /// Item name.
    pub name: String,
    /// Pieces sold in this run.
    pub count: u64,
    /// Money taken for them, each at the price it was sold at.
    pub takings: Price,
    /// Pieces left, `None` if unlimited. An item no longer in the catalog has none.
    pub remaining: Option<u64>,
}

/// The greeting, shared by every customer: its text, and its line bytes per charset,
/// encoded the first time a customer of that charset needs them.
#[derive(Debug)]
pub struct Greeting {
    text: String,
    generation: u64,
    gbk: OnceLock<Arc<[u8]>>,
    utf8: OnceLock<Arc<[u8]>>,
}

impl Greeting {
    fn new(text: String, generation: u64) -> Greeting {
        Greeting {
            text,
            generation,
            gbk: OnceLock::new(),
            utf8: OnceLock::new(),
        }
    }

    /// The text, without a line terminator.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The line bytes in `charset`, made by `encode` the first time and shared after.
    /// The wire layer passes its own line encoder, so only it decides about bytes.
    pub fn line(&self, charset: Charset, encode: impl FnOnce(&str) -> Vec<u8>) -> Arc<[u8]> {
        let cell = match charset {
            Charset::Gbk => &self.gbk,
            Charset::Utf8 => &self.utf8,
        };
        Arc::clone(cell.get_or_init(|| Arc::from(encode(&self.text))))
    }
}

impl Deref for Greeting {
    type Target = str;
    fn deref(&self) -> &str {
        &self.text
    }
}

impl PartialEq for Greeting {
    fn eq(&self, other: &Greeting) -> bool {
        self.text == other.text
    }
}

impl Eq for Greeting {}

/// A snapshot of the catalog in force; derefs to its items.
pub struct Items(Arc<State>);

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
    pub fn with_ledger(catalog: Catalog, sold: &HashMap<String, u64>, recorder: Recorder) -> Shop {
        Shop::build(catalog, sold, Some(recorder))
    }

    fn build(catalog: Catalog, sold: &HashMap<String, u64>, recorder: Option<Recorder>) -> Shop {
        let mut counters: BTreeMap<String, Arc<Counter>> = sold
            .iter()
            .map(|(name, &n)| {
                let counter = Counter {
                    taken: AtomicU64::new(n),
                    ..Counter::default()
                };
                (name.clone(), Arc::new(counter))
            })
            .collect();
        let state = State::new(catalog, &mut counters);
        Shop {
            inner: Arc::new(Inner {
                state: RwLock::new(Arc::new(state)),
                counters: Mutex::new(counters),
                // The cached greeting starts out stale (generation 0 < 1).
                generation: AtomicU64::new(1),
                greeting: Mutex::new(Arc::new(Greeting::new(String::new(), 0))),
                recorder,
            }),
        }
    }

    fn state(&self) -> Arc<State> {
        Arc::clone(&self.inner.state.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Sells one piece of `name` without naming the customer (tests, tools).
    pub fn buy(&self, name: &str) -> Purchase {
        thread_local! {
            static NOBODY: Customer = Customer::new("-");
        }
        NOBODY.with(|c| self.buy_as(name, c))
    }

    /// Sells one piece of `name` to `customer`, if there is one. Atomic across all
    /// connections. With a ledger this waits until the sale is committed.
    pub fn buy_as(&self, name: &str, customer: &Customer) -> Purchase {
        match self.take(name) {
            Take::Bought(price) => Purchase::Bought(price),
            Take::Unrecorded(ticket) => ticket.record(customer),
            Take::SoldOut => Purchase::SoldOut,
            Take::Unknown => Purchase::Unknown,
        }
    }

    /// Takes one piece of `name` off the shelf, if there is one. Atomic across all
    /// connections. In memory that is the sale; with a ledger the piece is only
    /// reserved, by the [`Ticket`] that comes back, until the sale is recorded.
    pub fn take(&self, name: &str) -> Take {
        let state = self.inner.state.read().unwrap_or_else(|e| e.into_inner());
        let Some(&i) = state.index.get(name) else {
            return Take::Unknown;
        };
        let item = &state.catalog.items()[i];
        let counter = &state.counters[i];
        if !counter.take(item.stock) {
            return Take::SoldOut;
        }
        if item.stock == Some(counter.taken.load(Ordering::Acquire)) {
            // Possibly the last piece: the greeting may no longer list the item.
            self.stale();
        }
        let Some(recorder) = &self.inner.recorder else {
            // In memory: sold now, under the read lock, without touching the Arc.
            counter.sold_at(item.price);
            return Take::Bought(item.price);
        };
        Take::Unrecorded(Ticket {
            hold: Some(Hold {
                shop: self.clone(),
                counter: Arc::clone(counter),
                price: item.price,
                limit: item.stock,
            }),
            item: name.to_string(),
            recorder: recorder.clone(),
        })
    }

    /// Marks the greeting as out of date.
    fn stale(&self) {
        self.inner.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// The items now in the catalog, in catalog order.
    pub fn items(&self) -> Items {
        Items(self.state())
    }

    /// True if the catalog has an item called `name`, whether or not any is left.
    pub fn sells(&self, name: &str) -> bool {
        let state = self.inner.state.read().unwrap_or_else(|e| e.into_inner());
        state.index.contains_key(name)
    }

    /// Where the catalog came from.
    pub fn catalog_source(&self) -> String {
        self.state().catalog.source().to_string()
    }

    /// Stops the ledger writer after it has committed what is queued; later purchases
    /// fail as not recorded. Call it once the server has stopped. No-op without one.
    pub fn close_ledger(&self) {
        if let Some(recorder) = &self.inner.recorder {
            recorder.close();
        }
    }

    /// True if sales are recorded in a ledger.
    pub fn has_ledger(&self) -> bool {
        self.inner.recorder.is_some()
    }

    /// Replaces the catalog. Customers already connected go on with the new one: new
    /// items and prices hold from their next purchase, removed items are no longer
    /// sold. Sales so far carry over by name, so remaining stock is the new `stock`
    /// minus everything sold of that item (in the ledger's life, or this run's).
    pub fn reload(&self, catalog: Catalog) -> Reloaded {
        let mut counters = self
            .inner
            .counters
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let old = self.state();
        let mut summary = Reloaded {
            items: catalog.items().len(),
            ..Reloaded::default()
        };
        for item in catalog.items() {
            match old.index.get(&item.name) {
                None => summary.added += 1,
                Some(&i) => {
                    let before = &old.catalog.items()[i];
                    summary.repriced += usize::from(before.price != item.price);
                    summary.restocked += usize::from(before.stock != item.stock);
                }
            }
        }
        let state = State::new(catalog, &mut counters);
        summary.removed = old
            .catalog
            .items()
            .iter()
            .filter(|item| !state.index.contains_key(&item.name))
            .count();
        *self.inner.state.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(state);
        drop(counters);
        self.stale();
        summary
    }

    /// The greeting, listing the items in stock with their prices, in catalog order:
    /// `目前商店还有:瓜子(4.5),西瓜(2),矿泉水(2.5)。请问您需要什么?`
    ///
    /// Shared, not copied: it is rebuilt only when the in-stock set has changed since
    /// it was last built, and the rebuild holds no lock.
    pub fn greeting(&self) -> Arc<Greeting> {
        // Read before the counts: a change after this load bumps the generation again,
        // so a greeting built from counts newer than its tag is only ever rebuilt once
        // more, never kept when stale.
        let generation = self.inner.generation.load(Ordering::Acquire);
        {
            let cached = self.lock_greeting();
            if cached.generation == generation {
                return Arc::clone(&cached);
            }
        }
        let built = Arc::new(Greeting::new(build_greeting(&self.state()), generation));
        let mut cached = self.lock_greeting();
        if cached.generation < generation {
            *cached = Arc::clone(&built);
        }
        built
    }

    fn lock_greeting(&self) -> std::sync::MutexGuard<'_, Arc<Greeting>> {
        self.inner
            .greeting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// One line with every item, its price and its remaining stock.
    pub fn menu(&self) -> String {
        let state = self.state();
        let mut text = String::from("菜单:");
        for (i, item) in state.catalog.items().iter().enumerate() {
            if i > 0 {
                text.push(',');
            }
            let _ = match state.remaining(i) {
                None => write!(text, "{} {}元 不限量", item.name, item.price),
                Some(0) => write!(text, "{} {}元 已卖完", item.name, item.price),
                Some(n) => write!(text, "{} {}元 剩{}", item.name, item.price, n),
            };
        }
        text
    }

    /// What has been sold in this run: each item of the catalog in order, then items
    /// sold earlier in this run that a reload has removed.
    pub fn sales(&self) -> Vec<Sale> {
        let counters = self
            .inner
            .counters
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let state = self.state();
        let mut sales: Vec<Sale> = state
            .catalog
            .items()
            .iter()
            .enumerate()
            .map(|(i, item)| state.counters[i].sale(&item.name, state.remaining(i)))
            .collect();
        for (name, counter) in counters.iter() {
            if !state.index.contains_key(name) && counter.sold.load(Ordering::Acquire) > 0 {
                sales.push(counter.sale(name, Some(0)));
            }
        }
        sales
    }
}

impl State {
    /// The state for `catalog`, taking each item's counter from `counters` (or adding
    /// a fresh one).
    fn new(catalog: Catalog, counters: &mut BTreeMap<String, Arc<Counter>>) -> State {
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
        State {
            catalog,
            index,
            counters,
        }
    }

    /// Pieces of item `i` left: `None` for unlimited.
    fn remaining(&self, i: usize) -> Option<u64> {
        let taken = self.counters[i].taken.load(Ordering::Acquire);
        self.catalog.items()[i]
            .stock
            .map(|stock| stock.saturating_sub(taken))
    }
}

impl Counter {
    /// Takes one piece if `stock` allows: false if sold out.
    fn take(&self, stock: Option<u64>) -> bool {
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

    fn sold_at(&self, price: Price) {
        self.sold.fetch_add(1, Ordering::AcqRel);
        self.takings.fetch_add(price.0, Ordering::AcqRel);
    }

    fn sale(&self, name: &str, remaining: Option<u64>) -> Sale {
        Sale {
            name: name.to_string(),
            count: self.sold.load(Ordering::Acquire),
            takings: Price(self.takings.load(Ordering::Acquire)),
            remaining,
        }
    }
}

/// Builds the greeting text from the counts as they are now. O(items).
fn build_greeting(state: &State) -> String {
    let mut text = String::from("目前商店还有:");
    let mut any = false;
    for (i, item) in state.catalog.items().iter().enumerate() {
        if state.remaining(i) == Some(0) {
            continue;
        }
        if any {
            text.push(',');
        }
        any = true;
        let _ = write!(text, "{}({})", item.name, item.price);
    }
    if !any {
        return "抱歉,商品都卖完了,欢迎下次光临。".to_string();
    }
    text.push_str("。请问您需要什么?");
    text
}

/// The sales summary printed at shutdown: one line per item, then the total.
pub fn sales_report(sales: &[Sale]) -> String {
    let mut text = String::from("sales summary:\n");
    let mut total = Price(0);
    let mut pieces = 0u64;
    for sale in sales {
        let left = sale
            .remaining
            .map_or("unlimited".to_string(), |n| n.to_string());
        let _ = writeln!(
            text,
            "  {}: {} sold, takings {} yuan, {} left",
            sale.name, sale.count, sale.takings, left
        );
        total = total.saturating_add(sale.takings);
        pieces += sale.count;
    }
    let _ = write!(text, "  total: {pieces} sold, takings {total} yuan");
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::codec::WireEncoding;
    use std::time::{Duration, Instant};

    fn catalog(toml: &str) -> Catalog {
        Catalog::parse(toml, "test", WireEncoding::Gbk).unwrap()
    }

    fn shop(toml: &str) -> Shop {
        Shop::new(catalog(toml))
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
            assert_eq!(shop.buy(name), want, "{name}");
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
        let report = sales_report(&sales);
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
        let line = a.line(Charset::Gbk, |t| t.as_bytes().to_vec());
        let again = b.line(Charset::Gbk, |_| panic!("encoded twice"));
        assert!(Arc::ptr_eq(&line, &again));
        shop.buy("瓜子");
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
                    shop.buy("a");
                    shop.greeting()
                });
                s.spawn(|| {
                    shop.buy("b");
                    shop.greeting()
                });
            });
            assert_eq!(shop.greeting().text(), "目前商店还有:c(1)。请问您需要什么?");
        }
    }

    #[test]
    fn everything_sold_out() {
        let shop = shop("[[goods]]\nname = \"a\"\nprice = 1\nstock = 0\n");
        assert_eq!(shop.buy("a"), Purchase::SoldOut);
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
                            .filter(|_| matches!(shop.buy("西瓜"), Purchase::Bought(_)))
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
        assert_eq!(shop.buy("瓜子"), Purchase::Bought(Price(450)));
        assert_eq!(shop.buy("西瓜"), Purchase::Bought(Price(200)));
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
        assert_eq!(shop.buy("西瓜"), Purchase::Unknown, "removed");
        assert_eq!(shop.buy("瓜子"), Purchase::Bought(Price(500)));
        let sales = shop.sales();
        assert_eq!(sales.len(), 3, "{sales:?}");
        assert_eq!((sales[0].count, sales[0].takings), (2, Price(950)));
        assert_eq!(sales[2].name, "西瓜", "removed but sold: still summed");
        // Stock lowered below what was sold: nothing left, never negative.
        shop.reload(catalog(
            "[[goods]]\nname = \"瓜子\"\nprice = 5\nstock = 1\n",
        ));
        assert_eq!(shop.buy("瓜子"), Purchase::SoldOut);
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
        let recorder = crate::sale::Recorder::in_memory();
        let shop = Shop::with_ledger(catalog(TWO), &sold, recorder);
        assert_eq!(shop.buy("瓜子"), Purchase::SoldOut);
        assert_eq!(
            shop.greeting().text(),
            "目前商店还有:西瓜(2)。请问您需要什么?"
        );
        assert_eq!(shop.buy("西瓜"), Purchase::Bought(Price(200)));
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
                        assert_eq!(shop.buy(&format!("item{i}")), Purchase::Bought(Price(100)));
                    }
                });
            }
        });
        assert_eq!(shop.greeting().text(), "抱歉,商品都卖完了,欢迎下次光临。");
        let elapsed = started.elapsed();
        assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
    }
}
