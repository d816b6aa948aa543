//! A test seam in the shipped binary: the hidden `shop-server --ledger-faults FILE`
//! wraps the ledger in [`Faulty`], so that every commit fails while FILE exists, as a
//! full disk would make it. It is not in `--help`.
//!
//! It stays in the CLI because the behaviour it exposes is the binary's own: the
//! customer's reply, the stock going back, and the log saying once per burst that sales
//! cannot be recorded and later that they are again (tests/ledger.rs,
//! `a_failing_commit_is_not_acknowledged_and_the_stock_goes_back`). Making a disk full
//! for real needs root or a tiny filesystem. Without the option nothing here runs.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::{Ledger, LedgerError};
use crate::shop::SaleRecord;

/// A ledger whose commits fail while `trigger` exists.
pub(super) struct Faulty {
    inner: Box<dyn Ledger>,
    trigger: PathBuf,
}

impl Faulty {
    /// `inner`, failing every commit while `trigger` exists.
    pub(super) fn wrap(inner: Box<dyn Ledger>, trigger: &Path) -> Box<dyn Ledger> {
        Box::new(Faulty {
            inner,
            trigger: trigger.to_path_buf(),
        })
    }
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

    fn describe(&self) -> String {
        self.inner.describe()
    }
}
