//! The shop's shared state: the catalog and the stock, shared by every connection.
//!
//! [`Shop`] is a cheap-to-clone handle (an `Arc`). Each item's remaining stock is an
//! atomic counter, and a purchase is one compare-and-swap on it. Two customers racing for
//! the last 西瓜 cannot both win, and no lock is ever held while a socket is written.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use crate::catalog::{Catalog, Item, Price};

/// A handle to the shop. Clone it freely; all clones share one stock.
#[derive(Clone)]
pub struct Shop {
    inner: Arc<Inner>,
}

struct Inner {
    catalog: Catalog,
    /// Item name to index into `catalog.items()` and `stock`.
    index: HashMap<String, usize>,
    stock: Vec<Stock>,
    /// The greeting as of the last sell-out. Only an item running out changes it, so
    /// it is rebuilt then, not for every customer who connects.
    greeting: RwLock<Arc<str>>,
}

struct Stock {
    /// Pieces left, or `None` for unlimited stock.
    remaining: Option<AtomicU64>,
    /// Pieces sold so far.
    sold: AtomicU64,
}

/// What happened when a customer asked for an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purchase {
    /// One piece was sold at this price.
    Bought(Price),
    /// The item exists but none is left.
    SoldOut,
    /// The shop has never sold anything by that name.
    Unknown,
}

/// One line of the sales summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sale {
    /// Item name.
    pub name: String,
    /// Pieces sold.
    pub count: u64,
    /// Money taken for them.
    pub takings: Price,
    /// Pieces left, `None` if unlimited.
    pub remaining: Option<u64>,
}

impl Shop {
    /// Opens a shop with the catalog's initial stock.
    pub fn new(catalog: Catalog) -> Shop {
        let index = catalog
            .items()
            .iter()
            .enumerate()
            .map(|(i, item)| (item.name.clone(), i))
            .collect();
        let stock = catalog
            .items()
            .iter()
            .map(|item| Stock {
                remaining: item.stock.map(AtomicU64::new),
                sold: AtomicU64::new(0),
            })
            .collect();
        let shop = Shop {
            inner: Arc::new(Inner {
                catalog,
                index,
                stock,
                greeting: RwLock::new(Arc::from("")),
            }),
        };
        shop.refresh_greeting();
        shop
    }

    /// Sells one piece of `name`, if there is one. Atomic across all connections.
    pub fn buy(&self, name: &str) -> Purchase {
        let Some(&i) = self.inner.index.get(name) else {
            return Purchase::Unknown;
        };
        let stock = &self.inner.stock[i];
        if let Some(remaining) = &stock.remaining {
            let took =
                remaining.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
            match took {
                Err(_) => return Purchase::SoldOut,
                // This was the last piece: the greeting no longer lists the item.
                Ok(1) => self.refresh_greeting(),
                Ok(_) => {}
            }
        }
        stock.sold.fetch_add(1, Ordering::Relaxed);
        Purchase::Bought(self.inner.catalog.items()[i].price)
    }

    /// True if the catalog has an item called `name`, whether or not any is left.
    pub fn sells(&self, name: &str) -> bool {
        self.inner.index.contains_key(name)
    }

    /// The items, in catalog order.
    pub fn items(&self) -> &[Item] {
        self.inner.catalog.items()
    }

    /// Where the catalog came from.
    pub fn catalog_source(&self) -> &str {
        self.inner.catalog.source()
    }

    /// Pieces of item `i` left: `None` for unlimited.
    fn remaining(&self, i: usize) -> Option<u64> {
        let stock = &self.inner.stock[i];
        stock.remaining.as_ref().map(|r| r.load(Ordering::Acquire))
    }

    fn in_stock(&self, i: usize) -> bool {
        self.remaining(i) != Some(0)
    }

    /// The greeting, listing the items in stock with their prices, in catalog order:
    /// `目前商店还有:瓜子(4.5),西瓜(2),矿泉水(2.5)。请问您需要什么?`
    pub fn greeting(&self) -> Arc<str> {
        let greeting = self
            .inner
            .greeting
            .read()
            .unwrap_or_else(|e| e.into_inner());
        Arc::clone(&greeting)
    }

    /// Rebuilds the greeting from the stock as it is now. Building it while holding
    /// the write lock means that of two items selling out at once, the later rebuild
    /// sees both.
    fn refresh_greeting(&self) {
        let mut greeting = self
            .inner
            .greeting
            .write()
            .unwrap_or_else(|e| e.into_inner());
        *greeting = Arc::from(self.build_greeting());
    }

    fn build_greeting(&self) -> String {
        let mut text = String::from("目前商店还有:");
        let mut any = false;
        for (_, item) in self
            .items()
            .iter()
            .enumerate()
            .filter(|&(i, _)| self.in_stock(i))
        {
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

    /// One line with every item, its price and its remaining stock.
    pub fn menu(&self) -> String {
        let mut text = String::from("菜单:");
        for (i, item) in self.items().iter().enumerate() {
            if i > 0 {
                text.push(',');
            }
            let _ = match self.remaining(i) {
                None => write!(text, "{} {}元 不限量", item.name, item.price),
                Some(0) => write!(text, "{} {}元 已卖完", item.name, item.price),
                Some(n) => write!(text, "{} {}元 剩{}", item.name, item.price, n),
            };
        }
        text
    }

    /// What has been sold so far, per item in catalog order.
    pub fn sales(&self) -> Vec<Sale> {
        self.items()
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let count = self.inner.stock[i].sold.load(Ordering::Acquire);
                Sale {
                    name: item.name.clone(),
                    count,
                    takings: Price(item.price.0.saturating_mul(count)),
                    remaining: self.remaining(i),
                }
            })
            .collect()
    }
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
    use crate::codec::WireEncoding;

    fn shop(toml: &str) -> Shop {
        Shop::new(Catalog::parse(toml, "test", WireEncoding::Gbk).unwrap())
    }

    const TWO: &str = "[[goods]]\nname = \"瓜子\"\nprice = 4.5\nstock = 1\n\
                       [[goods]]\nname = \"西瓜\"\nprice = 2\n";

    #[test]
    fn greeting_for_shipped_catalog() {
        let shop =
            Shop::new(Catalog::parse(crate::catalog::EMBEDDED, "t", WireEncoding::Gbk).unwrap());
        assert_eq!(
            &*shop.greeting(),
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
        assert_eq!(&*shop.greeting(), "目前商店还有:西瓜(2)。请问您需要什么?");
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
    fn two_items_selling_out_at_once_leave_a_correct_greeting() {
        let toml = "[[goods]]\nname = \"a\"\nprice = 1\nstock = 1\n\
                    [[goods]]\nname = \"b\"\nprice = 1\nstock = 1\n\
                    [[goods]]\nname = \"c\"\nprice = 1\n";
        for _ in 0..200 {
            let shop = shop(toml);
            std::thread::scope(|s| {
                s.spawn(|| shop.buy("a"));
                s.spawn(|| shop.buy("b"));
            });
            assert_eq!(&*shop.greeting(), "目前商店还有:c(1)。请问您需要什么?");
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
        assert_eq!(&*shop.greeting(), "抱歉,商品都卖完了,欢迎下次光临。");
        assert_eq!(shop.sales()[0].count, 10);
        assert_eq!(shop.sales()[0].remaining, Some(0));
    }
}
