//! The ledger as the writer holds it: commits, and what the log and the live view say
//! when they fail.
//!
//! A burst of failures (a full disk) is logged once, as a warning, and once more when
//! commits work again: one line per customer would flood the log. A ledger file that
//! someone removed or overwrote is worse: sales stay refused until the teacher acts, so
//! it is an ERROR, repeated at most once per [`ALARM_REPEAT`] while it lasts, and shown
//! in the live view ([`Alarm`]).

use std::collections::HashMap;
use std::mem;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use log::{error, info, warn};

use super::{Ledger, LedgerError};
use crate::lock::lock;
use crate::shop::{SaleRecord, Verdict};

/// How often the ERROR for a removed or overwritten ledger is repeated while it lasts:
/// often enough that a teacher looking at the log sees it, rarely enough that it does
/// not bury everything else.
pub const ALARM_REPEAT: Duration = Duration::from_secs(60);

/// What is wrong with the ledger now, shared with the live view. Cheap to clone.
#[derive(Clone, Default)]
pub(super) struct Alarm(Arc<Mutex<Option<String>>>);

impl Alarm {
    pub(super) fn get(&self) -> Option<String> {
        lock(&self.0).clone()
    }

    fn set(&self, alarm: Option<String>) {
        *lock(&self.0) = alarm;
    }
}

/// The ledger and the failure count of the current burst of failures.
pub(super) struct Store {
    ledger: Box<dyn Ledger>,
    name: String,
    /// Purchases that failed since the last successful commit.
    failed: u64,
    /// When the last ERROR about the ledger file was logged.
    alarmed: Option<Instant>,
    alarm: Alarm,
}

impl Store {
    pub(super) fn new(ledger: Box<dyn Ledger>, alarm: Alarm) -> Store {
        Store {
            name: ledger.describe(),
            ledger,
            failed: 0,
            alarmed: None,
            alarm,
        }
    }

    /// Commits `sales`, logging the first failure of a burst and the recovery: what
    /// became of each sale, in order.
    pub(super) fn commit(&mut self, sales: &[SaleRecord]) -> Vec<Verdict> {
        match self.ledger.decide(sales) {
            Ok(verdicts) => {
                if self.failed > 0 {
                    info!(
                        "ledger {}: recording sales again; {} purchases could not be recorded",
                        self.name, self.failed
                    );
                    self.failed = 0;
                    self.alarmed = None;
                    self.alarm.set(None);
                }
                verdicts
            }
            Err(e) => {
                self.failed += sales.len() as u64;
                if let LedgerError::Tampered { .. } = e {
                    self.alarm.set(Some(e.to_string()));
                    if self.alarmed.is_none_or(|at| at.elapsed() >= ALARM_REPEAT) {
                        self.alarmed = Some(Instant::now());
                        error!("{e} ({} purchases refused so far)", self.failed);
                    }
                } else if self.failed == sales.len() as u64 {
                    warn!(
                        "{e}: cannot record sales; those customers are told and their stock goes back (logged once until recording works again)"
                    );
                }
                vec![Verdict::NotRecorded; sales.len()]
            }
        }
    }

    /// Closes the ledger: takes it out, leaving one that fails every call.
    pub(super) fn close(&mut self) -> Box<dyn Ledger> {
        let closed = Box::new(Closed(self.name.clone()));
        mem::replace(&mut self.ledger, closed)
    }
}

/// What is left of the ledger once it is closed: every call fails.
struct Closed(String);

impl Closed {
    fn error(&self) -> LedgerError {
        LedgerError::Io {
            path: self.0.clone().into(),
            message: "the ledger is closed".into(),
        }
    }
}

impl Ledger for Closed {
    fn sold(&mut self) -> Result<HashMap<String, u64>, LedgerError> {
        Err(self.error())
    }
    fn record(&mut self, _: &[SaleRecord]) -> Result<(), LedgerError> {
        Err(self.error())
    }
    fn describe(&self) -> String {
        self.0.clone()
    }
}
