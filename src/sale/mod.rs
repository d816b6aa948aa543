//! The ledger: where sales are kept, so that they survive kill -9, a crash or a power cut.
//!
//! [`crate::shop`] stays the in-memory truth for stock checks; the ledger records. A
//! purchase is committed here before the customer hears `购买成功`.
//!
//! - [`Ledger`] is the small interface a store implements: how many of each item were
//!   sold, record a batch of sales atomically, read them all back. [`SqliteLedger`] is
//!   the one there is (a file, `--ledger FILE`); docs/LEDGER.md says how a PostgreSQL
//!   ledger shared by several shop-servers would fit behind the same trait.
//! - [`writer`]: the one thread that owns the ledger. Connection threads hand it their
//!   sale and wait; it commits everything waiting in one transaction (group commit), then
//!   answers them all.
//! - [`report`]: `shop-server report`, the teacher's view of a ledger file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::shop::Shop;
use crate::shop::catalog::{Catalog, Price};

pub mod outbox;
pub mod report;
mod sqlite;
pub mod writer;

pub use sqlite::SqliteLedger;
pub use writer::{NotRecorded, Recorder};

/// One sale, as handed to the ledger.
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

    /// Every sale, oldest first.
    fn sales(&mut self) -> Result<Vec<StoredSale>, LedgerError>;

    /// Names the ledger in log lines, e.g. the file.
    fn describe(&self) -> String;
}

/// Opens the ledger file for a shop-server, reads what was sold, and starts the writer:
/// the shop that comes back records every sale before acknowledging it.
///
/// `faults` is a test hook (hidden option `--ledger-faults FILE`): while that file
/// exists, every commit fails, as a full disk would make it.
pub fn open_shop(
    catalog: Catalog,
    path: &Path,
    durability: Durability,
    faults: Option<&Path>,
) -> Result<Shop, LedgerError> {
    let mut ledger: Box<dyn Ledger> = Box::new(SqliteLedger::open(path, durability)?);
    if let Some(trigger) = faults {
        ledger = Box::new(Faulty {
            inner: ledger,
            trigger: trigger.to_path_buf(),
        });
    }
    let sold = ledger.sold()?;
    let recorder = Recorder::start(ledger).map_err(|e| LedgerError::Open {
        path: path.to_path_buf(),
        message: format!("cannot start the ledger writer thread: {e}"),
    })?;
    Ok(Shop::with_ledger(catalog, &sold, recorder))
}

/// A ledger whose commits fail while a trigger file exists: how the tests make the
/// disk "full" through the ledger interface without root or a tiny filesystem.
struct Faulty {
    inner: Box<dyn Ledger>,
    trigger: PathBuf,
}

impl Ledger for Faulty {
    fn sold(&mut self) -> Result<HashMap<String, u64>, LedgerError> {
        self.inner.sold()
    }

    fn record(&mut self, sales: &[SaleRecord]) -> Result<(), LedgerError> {
        if self.trigger.exists() {
            return Err(LedgerError::Io {
                path: PathBuf::from(self.inner.describe()),
                message: format!("injected failure ({} exists)", self.trigger.display()),
            });
        }
        self.inner.record(sales)
    }

    fn sales(&mut self) -> Result<Vec<StoredSale>, LedgerError> {
        self.inner.sales()
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }
}

/// A ledger in memory, for unit tests of the shop and the writer.
#[derive(Default)]
pub struct MemoryLedger {
    sales: Vec<SaleRecord>,
}

impl Ledger for MemoryLedger {
    fn sold(&mut self) -> Result<HashMap<String, u64>, LedgerError> {
        let mut sold = HashMap::new();
        for sale in &self.sales {
            *sold.entry(sale.item.clone()).or_insert(0) += 1;
        }
        Ok(sold)
    }

    fn record(&mut self, sales: &[SaleRecord]) -> Result<(), LedgerError> {
        self.sales.extend_from_slice(sales);
        Ok(())
    }

    fn sales(&mut self) -> Result<Vec<StoredSale>, LedgerError> {
        Ok(self
            .sales
            .iter()
            .map(|s| StoredSale {
                time: rfc3339(s.time),
                customer: s.customer.to_string(),
                item: s.item.clone(),
                price: s.price,
            })
            .collect())
    }

    fn describe(&self) -> String {
        "<memory>".into()
    }
}

/// `time` in RFC 3339, UTC, with milliseconds: `2026-11-25T16:45:03.127Z`.
pub fn rfc3339(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60,
        since.subsec_millis()
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

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
    fn durability_parses() {
        assert_eq!("normal".parse(), Ok(Durability::Normal));
        assert_eq!("FULL".parse(), Ok(Durability::Full));
        assert!("fast".parse::<Durability>().is_err());
    }
}
