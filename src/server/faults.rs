//! A test seam in the shipped binary: the hidden `shop-server --ledger-faults FILE`
//! wraps the ledger so that every commit fails while FILE exists, as a full disk would
//! make it.
//!
//! It stays in the CLI because the behaviour it exposes is the binary's own: the
//! customer's reply, the stock going back, and the log saying once per burst that sales
//! cannot be recorded and later that they are again (tests/ledger.rs,
//! `a_failing_commit_is_not_acknowledged_and_the_stock_goes_back`). Making a disk full
//! for real needs root or a tiny filesystem. Without the option nothing here runs.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::sale::{Ledger, LedgerError, SaleRecord, StoredSale};

/// A ledger whose commits fail while a trigger file exists.
pub(super) struct FaultyLedger {
    inner: Box<dyn Ledger>,
    trigger: PathBuf,
}

impl FaultyLedger {
    /// Wraps `inner`; its commits fail while `trigger` exists.
    pub(super) fn new(inner: Box<dyn Ledger>, trigger: &Path) -> FaultyLedger {
        FaultyLedger {
            inner,
            trigger: trigger.to_path_buf(),
        }
    }
}

impl Ledger for FaultyLedger {
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
