//! A test seam: a ledger whose commits fail while a trigger file exists.
//!
//! This is how the tests make the disk "full" through the real binary, without root or
//! a tiny filesystem: the hidden option `--ledger-faults FILE` wraps the ledger in
//! [`Faulty`], and the test creates and removes FILE. It is not in `--help`.

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
