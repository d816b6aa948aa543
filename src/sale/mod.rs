//! A sale, from the shop's hand-over to the ledger: where sales are kept, so that they
//! survive kill -9, a crash or a power cut.
//!
//! The shop ([`crate::shop`]) says how a sale is recorded ([`crate::shop::Recorder`]);
//! this module records. A purchase is committed here before the customer hears
//! `购买成功`. With one counter (SQLite) the shop's memory is the truth for stock checks;
//! with several on one database (PostgreSQL) the database decides every sale.
//!
//! - [`Ledger`] is the small interface a store implements: how many of each item were
//!   sold, record a batch of sales atomically (with a verdict per sale), read them back.
//!   `sqlite` is a file (`--ledger FILE`), with `guard` keeping it to one writer and
//!   noticing when someone else removes or overwrites it.
//! - `postgres`: a database shared by several counters (`--ledger postgres://…`), its
//!   recorder deciding stock ([`open_for`] picks by the `--ledger` given).
//! - `writer`: the one thread that owns the ledger and implements the shop's
//!   `Recorder` with group commit.
//! - `faults`: the test seam behind the hidden `--ledger-faults` option.
//! - `report`: `shop-server report`, the teacher's view of a ledger file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use crate::shop::catalog::Item;
use crate::shop::catalog::Price;
use crate::shop::{Recorder, SaleRecord, Verdict};

mod faults;
mod guard;
pub mod postgres;
pub mod report;
mod sqlite;
mod store;
mod writer;

pub use sqlite::SqliteLedger;
pub use writer::Writer;

/// One sale as read back from a ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSale {
    /// RFC 3339 time, as stored.
    pub time: String,
    /// The customer's address.
    pub customer: String,
    /// The item's name.
    pub item: String,
    /// The price it was sold at.
    pub price: Price,
    /// The counter that sold it (`''` in ledgers from before counters).
    pub counter: String,
}

/// What a ledger holds, read back for the report.
#[derive(Debug, Default)]
pub struct Readback {
    /// The sales, oldest first.
    pub sales: Vec<StoredSale>,
    /// One line per row that could not be read as a sale, naming the row.
    pub bad: Vec<String>,
}

/// How durable a commit is: `--sync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// WAL with `synchronous=NORMAL`: a commit survives the process being killed or
    /// crashing, not a power cut. No fsync per commit.
    #[default]
    Normal,
    /// An fsync for every commit: survives a power cut too.
    Full,
}

impl std::str::FromStr for Durability {
    type Err = String;
    fn from_str(s: &str) -> Result<Durability, String> {
        match s.to_ascii_lowercase().as_str() {
            "normal" => Ok(Durability::Normal),
            "full" => Ok(Durability::Full),
            _ => Err(format!("unknown sync mode `{s}`: use normal or full")),
        }
    }
}

/// Why the ledger failed. Each displays as one line naming the file.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The file could not be opened, created or set up.
    #[error("ledger {path}: cannot open: {message}")]
    Open {
        /// The ledger file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// Another shop-server has this ledger open.
    #[error(
        "ledger {path}: already in use by another shop-server (only one server may write a ledger; use another file)"
    )]
    InUse {
        /// The ledger file.
        path: PathBuf,
    },
    /// The file was removed, renamed or overwritten while the shop was open.
    #[error("{}", tampered(path, *trouble))]
    Tampered {
        /// The ledger file.
        path: PathBuf,
        /// What happened to it.
        trouble: guard::Trouble,
    },
    /// The PostgreSQL ledger could not be reached or set up: one line naming
    /// `host:port/database` and the cause, never the password.
    #[error("{0}")]
    Database(String),
    /// Reading or writing failed.
    #[error("ledger {path}: {message}")]
    Io {
        /// The ledger file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

/// The interface a sales store implements. The writer thread owns it, so it need not
/// be shareable, only sendable to that thread.
pub trait Ledger: Send {
    /// Pieces sold per item name over the ledger's whole life.
    fn sold(&mut self) -> Result<HashMap<String, u64>, LedgerError>;

    /// Records `sales` atomically and durably (as `--sync` says): all of them, or on
    /// error none of them.
    fn record(&mut self, sales: &[SaleRecord]) -> Result<(), LedgerError>;

    /// Records `sales` and says what became of each, in order. A ledger that decides
    /// stock (PostgreSQL) may answer [`Verdict::SoldOut`] for some; the others record
    /// all or none, as [`Ledger::record`].
    fn decide(&mut self, sales: &[SaleRecord]) -> Result<Vec<Verdict>, LedgerError> {
        self.record(sales)
            .map(|()| vec![Verdict::Recorded; sales.len()])
    }

    /// Names the ledger in log lines, e.g. the file.
    fn describe(&self) -> String;
}

/// A ledger opened for a shop-server: its recorder, and what it had already sold.
pub struct Opened {
    /// Records the shop's sales (group commit).
    pub recorder: Arc<dyn Recorder>,
    /// Pieces sold per item name over the ledger's whole life.
    pub sold: HashMap<String, u64>,
}

/// Opens the ledger file at `path`, reads what was sold, and starts the writer.
///
/// `faults` is a test hook (the hidden option `--ledger-faults FILE`): while that file
/// exists, every commit fails, as a full disk would make it (see `faults`).
pub fn open(
    path: &Path,
    durability: Durability,
    faults: Option<&Path>,
    counter: &str,
) -> Result<Opened, LedgerError> {
    let mut sqlite = SqliteLedger::open(path, durability)?;
    sqlite.set_counter(counter);
    let mut ledger: Box<dyn Ledger> = Box::new(sqlite);
    if let Some(trigger) = faults {
        ledger = faults::Faulty::wrap(ledger, trigger);
    }
    let sold = ledger.sold()?;
    let writer = Writer::start(ledger).map_err(|e| LedgerError::Open {
        path: path.to_path_buf(),
        message: format!("cannot start the ledger writer thread: {e}"),
    })?;
    Ok(Opened {
        recorder: Arc::new(writer),
        sold,
    })
}

/// libpq's key=value connection strings start with one of these keys.
const DATABASE_KEYS: [&str; 6] = ["host", "hostaddr", "port", "dbname", "user", "password"];

/// True if `--ledger` names a PostgreSQL database (`postgres://…`, `postgresql://…`,
/// or libpq's `host=… dbname=…`) rather than an SQLite file.
pub fn is_database(ledger: &str) -> bool {
    let ledger = ledger.trim_start();
    ledger.starts_with("postgres://")
        || ledger.starts_with("postgresql://")
        || DATABASE_KEYS.iter().any(|key| {
            ledger
                .strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
}

/// Opens `--ledger` for a counter called `counter`: a PostgreSQL database (its stocked
/// totals set from `items`) or an SQLite file.
pub fn open_for(
    ledger: &Path,
    counter: &str,
    items: &[Item],
    durability: Durability,
    faults: Option<&Path>,
) -> Result<Opened, LedgerError> {
    match ledger.to_str().filter(|l| is_database(l)) {
        Some(url) => Ok(Opened {
            recorder: Arc::new(postgres::PgRecorder::open(url, counter, items)?),
            sold: HashMap::new(),
        }),
        None => open(ledger, durability, faults, counter),
    }
}

/// What the log and the live view say about a ledger file that someone else removed
/// or overwrote: what happened, and what the teacher can do, Chinese first.
fn tampered(path: &Path, trouble: guard::Trouble) -> String {
    let path = path.display();
    match trouble {
        guard::Trouble::Gone => format!(
            "账本文件 {path} 被删除或改名了,购买记不进账,顾客会听到「没能记入账本」。\
             请把文件放回原处;或者重启服务器,但重启后库存从头算起(卖过的会再卖一次)。 \
             · ledger {path} was removed or renamed while the shop was open: sales cannot \
             be recorded. Put the file back; or restart, knowing that stock starts again \
             (goods already sold are sold again)."
        ),
        guard::Trouble::Overwritten => format!(
            "账本文件 {path} 被别的程序改写了(例如复制了另一个文件盖在上面),本店不再确认购买。\
             请关店,把 {path} 和 {path}-wal 一起另存一份,再用好的备份重新开店。 \
             · ledger {path} was changed by another program while the shop was open (a \
             file copied over it?): purchases are no longer acknowledged. Stop the shop, \
             keep {path} and {path}-wal aside, and restart from a good copy."
        ),
    }
}

/// `time` in RFC 3339, UTC, with milliseconds: `2026-11-25T16:45:03.127Z`.
pub fn rfc3339(time: SystemTime) -> String {
    match jiff::Timestamp::try_from(time) {
        Ok(at) => format!("{at:.3}"),
        // Outside jiff's range (years -9999 to 9999): a clock this wrong is shown as such.
        Err(_) => "0000-00-00T00:00:00.000Z".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn rfc3339_table() {
        let cases = [
            (0, "1970-01-01T00:00:00.000Z"),
            (951_782_400_500, "2000-02-29T00:00:00.500Z"),
            (1_795_624_503_127, "2026-11-25T16:35:03.127Z"),
            (4_107_542_399_999, "2100-02-28T23:59:59.999Z"),
        ];
        for (millis, want) in cases {
            let t = UNIX_EPOCH + Duration::from_millis(millis);
            assert_eq!(rfc3339(t), want, "{millis}");
        }
    }

    #[test]
    fn database_or_file() {
        for url in [
            "postgres://shop@10.0.0.5:5432/fair",
            "postgresql://shop:pw@db/fair",
            "host=10.0.0.5 port=5432 dbname=fair",
            "  dbname = fair",
            "user=shop",
        ] {
            assert!(is_database(url), "{url}");
        }
        for file in [
            "class1.db",
            "./postgres.db",
            "hosts.db",
            "C:\\shop\\class.db",
            "a=b",
        ] {
            assert!(!is_database(file), "{file}");
        }
    }

    #[test]
    fn durability_parses() {
        assert_eq!("normal".parse(), Ok(Durability::Normal));
        assert_eq!("FULL".parse(), Ok(Durability::Full));
        assert!("fast".parse::<Durability>().is_err());
    }
}
