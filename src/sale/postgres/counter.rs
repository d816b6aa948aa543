//! One counter on the shared PostgreSQL ledger, as the shop sees it: a [`PgRecorder`]
//! implements the shop's `Recorder` and decides stock.
//!
//! Sales go through the same group-commit writer as with SQLite, over [`LinkLedger`]
//! (the core's reconnecting [`Link`]), and come back one verdict per sale: recorded,
//! sold out (the database has none left) or not recorded. The shop's local count never
//! refuses a sale; what menus and greetings show is the database's stock, looked up on
//! the same connection by a refresher every [`REFRESH_EVERY`] and on each 菜单, and
//! kept as it was while the database is lost. One connection per counter means one
//! outage and one recovery line in the log ([`Link`] writes them; `store` sees no
//! errors from this ledger, so it does not log them again).

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use log::{info, warn};

use super::link::Link;
use super::{Outcome, PendingSale, Stocked};
use crate::lock::{lock, read, write};
use crate::sale::{Ledger, LedgerError, Writer};
use crate::shop::catalog::{Item, Price};
use crate::shop::{Recorder, SaleRecord, StockView, Verdict};

/// How often the refresher looks up the shared stock: menus and greetings are at most
/// this old (the issue asks for at least every second), at one small query per second
/// per counter.
pub const REFRESH_EVERY: Duration = Duration::from_secs(1);

/// The ledger the writer holds: the counter's connection, shared with the refresher.
struct LinkLedger {
    link: Arc<Mutex<Link>>,
    place: String,
}

impl Ledger for LinkLedger {
    fn sold(&mut self) -> Result<HashMap<String, u64>, LedgerError> {
        // The database decides stock; the shop counts nothing against it.
        Ok(HashMap::new())
    }

    fn record(&mut self, sales: &[SaleRecord]) -> Result<(), LedgerError> {
        match self.decide(sales)?.iter().all(|v| *v == Verdict::Recorded) {
            true => Ok(()),
            false => Err(LedgerError::Io {
                path: self.place.clone().into(),
                message: "not every sale was recorded".into(),
            }),
        }
    }

    fn decide(&mut self, sales: &[SaleRecord]) -> Result<Vec<Verdict>, LedgerError> {
        let batch: Vec<PendingSale> = sales
            .iter()
            .map(|sale| PendingSale {
                time: sale.time,
                customer: sale.customer.to_string(),
                item: sale.item.clone(),
                fen: sale.price.0,
            })
            .collect();
        // Failures are logged by the link, once per outage: answered, not returned.
        let outcomes = lock(&self.link).commit(&batch);
        Ok(outcomes
            .into_iter()
            .map(|o| match o {
                Outcome::Recorded => Verdict::Recorded,
                Outcome::SoldOut => Verdict::SoldOut,
                Outcome::Failed => Verdict::NotRecorded,
            })
            .collect())
    }

    fn describe(&self) -> String {
        self.place.clone()
    }
}

/// The shared part: the connection, the last stock view, and the refresher's stop.
struct Shared {
    link: Arc<Mutex<Link>>,
    view: RwLock<Arc<StockView>>,
    stopped: Mutex<bool>,
    stop: Condvar,
}

impl Shared {
    /// Looks the stock up: when `wait` (the refresher), waiting for the connection and
    /// reconnecting if one is due; otherwise (a customer's 菜单) only if the connection
    /// is free and up, so that a customer never waits for a commit or a reconnect; the
    /// refresher's view is at most [`REFRESH_EVERY`] old. Keeps the last view on failure.
    fn refresh(&self, wait: bool) {
        let mut link = match (wait, self.link.try_lock()) {
            (_, Ok(link)) => link,
            (true, Err(_)) => lock(&self.link),
            (false, Err(_)) => return,
        };
        if !wait && !link.is_up() {
            return;
        }
        let Ok(stock) = link.with(|ledger| ledger.stock()) else {
            return;
        };
        let totals = link.with(|ledger| ledger.takings()).ok().map(|all| {
            let sold = all.iter().map(|t| t.sales).sum();
            let fen = all.iter().fold(0u64, |sum, t| sum.saturating_add(t.fen));
            (sold, Price(fen))
        });
        drop(link);
        // A new generation for every lookup, changed or not: the shop adjusts its copy
        // between lookups (a sale lowers it, a sold-out sets 0), and each lookup must
        // set it right again.
        let mut view = write(&self.view);
        let generation = view.generation + 1;
        *view = Arc::new(StockView {
            generation,
            remaining: stock,
            totals,
        });
    }

    fn restock(&self, items: &[Item]) -> bool {
        let stocked: Vec<Stocked> = items
            .iter()
            .map(|item| Stocked {
                name: item.name.clone(),
                fen: item.price.0,
                stocked: item.stock,
            })
            .collect();
        match lock(&self.link).with(|ledger| ledger.set_stock(&stocked)) {
            Ok(changes) => {
                for change in changes {
                    info!("{change}");
                }
                true
            }
            Err(e) => {
                warn!(
                    "{e}: stock totals from the goods file not set; send SIGHUP again once the database is back"
                );
                false
            }
        }
    }
}

/// A counter's recorder on the shared ledger (see the module header).
pub struct PgRecorder {
    writer: Writer,
    shared: Arc<Shared>,
    refresher: Mutex<Option<JoinHandle<()>>>,
}

impl PgRecorder {
    /// Connects as `counter` (failing at once, for the start to report in one line),
    /// sets the stocked totals from `items`, reads the stock, and starts the writer and
    /// the refresher.
    pub fn open(url: &str, counter: &str, items: &[Item]) -> Result<PgRecorder, LedgerError> {
        let link = Link::open(url, counter).map_err(|e| LedgerError::Database(e.to_string()))?;
        let place = url_place(url);
        let shared = Arc::new(Shared {
            link: Arc::new(Mutex::new(link)),
            view: RwLock::new(Arc::default()),
            stopped: Mutex::new(false),
            stop: Condvar::new(),
        });
        let fail = |e: std::io::Error| LedgerError::Database(format!("{place}: {e}"));
        if !shared.restock(items) {
            return Err(LedgerError::Database(format!(
                "ledger {place}: cannot set the stock from the goods file"
            )));
        }
        shared.refresh(true);
        let ledger = LinkLedger {
            link: Arc::clone(&shared.link),
            place: place.clone(),
        };
        let writer = Writer::start(Box::new(ledger)).map_err(fail)?;
        let refresher = Arc::clone(&shared);
        let handle = thread::Builder::new()
            .name("stock".into())
            .spawn(move || refresh_loop(&refresher))
            .map_err(fail)?;
        info!("ledger {place}: PostgreSQL, counter {counter}; the database decides every sale");
        Ok(PgRecorder {
            writer,
            shared,
            refresher: Mutex::new(Some(handle)),
        })
    }
}

fn refresh_loop(shared: &Shared) {
    let mut stopped = lock(&shared.stopped);
    while !*stopped {
        stopped = match shared.stop.wait_timeout(stopped, REFRESH_EVERY) {
            Ok((guard, _)) => guard,
            Err(e) => e.into_inner().0,
        };
        if *stopped {
            break;
        }
        drop(stopped);
        shared.refresh(true);
        stopped = lock(&shared.stopped);
    }
}

impl Recorder for PgRecorder {
    fn record(&self, sale: SaleRecord) -> Verdict {
        self.writer.record(sale)
    }

    fn close(&self) {
        *lock(&self.shared.stopped) = true;
        self.shared.stop.notify_all();
        if let Some(handle) = lock(&self.refresher).take() {
            let _ = handle.join();
        }
        self.writer.close();
    }

    fn alarm(&self) -> Option<String> {
        let down = self.shared.link.try_lock().is_ok_and(|link| !link.is_up());
        self.writer.alarm().or_else(|| {
            down.then(|| {
                "连不上数据库,购买记不进账,顾客会听到「没能记入账本」;柜台会自动重连。 \
                 · the database cannot be reached: sales are not recorded; the counter \
                 reconnects by itself."
                    .to_string()
            })
        })
    }

    fn decides_stock(&self) -> bool {
        true
    }

    fn stock(&self, fresh: bool) -> Option<Arc<StockView>> {
        if fresh {
            self.shared.refresh(false);
        }
        Some(Arc::clone(&read(&self.shared.view)))
    }

    fn restock(&self, items: &[Item]) {
        if self.shared.restock(items) {
            self.shared.refresh(true);
        }
    }
}

/// `host:port/database` of `url` without its password, for log lines.
fn url_place(url: &str) -> String {
    std::str::FromStr::from_str(url)
        .map(|c| super::place(&c))
        .unwrap_or_else(|_| "(unreadable URL)".into())
}
