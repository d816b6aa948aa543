//! A batch in doubt: its commit was sent and the connection was lost before the answer
//! came, so it may have committed or not. Told "not recorded" while its rows are in
//! the database, customers could pay twice and the stock would not add up; so a new
//! connection finds out, once the old session has ended (its commit is then final):
//! a sale is recorded if its row is there (counter, customer and time together name
//! one sale, as a connection has one sale in flight at a time).

use std::collections::HashSet;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::{PendingSale, PgError, PgLedger, STATEMENT_TIMEOUT};

/// How long [`PgLedger::resolve`] waits for the cut-off session to end after asking
/// the server to end it: past its statement timeout, a session that is still there is
/// hung, and the batch stays in doubt.
pub const SETTLE_TIMEOUT: Duration = STATEMENT_TIMEOUT.saturating_add(Duration::from_secs(3));

/// The server session a connection runs in: its process id, and when it started (a
/// process id alone may be reused after a restart).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Backend {
    pub(super) pid: i32,
    pub(super) started: SystemTime,
}

pub(super) const SESSION: &str =
    "SELECT pg_backend_pid(), backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()";

/// A batch whose commit may or may not have happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Doubt {
    session: Backend,
    counter: String,
    /// Each sale's customer and time, in the batch's order.
    sales: Vec<(String, SystemTime)>,
}

impl Doubt {
    pub(super) fn new(session: Backend, counter: &str, batch: &[PendingSale]) -> Doubt {
        Doubt {
            session,
            counter: counter.to_string(),
            sales: batch
                .iter()
                .map(|s| (s.customer.clone(), micros(s.time)))
                .collect(),
        }
    }

    /// The number of sales in the batch.
    pub fn len(&self) -> usize {
        self.sales.len()
    }

    /// True for a batch of no sales.
    pub fn is_empty(&self) -> bool {
        self.sales.is_empty()
    }
}

impl PgLedger {
    /// Which sales of a batch in doubt were recorded, in the batch's order: ends the
    /// session that sent it if the server still runs it, waits (at most
    /// [`SETTLE_TIMEOUT`]) until it is gone, then looks for the rows.
    pub fn resolve(&mut self, doubt: &Doubt) -> Result<Vec<bool>, PgError> {
        let Backend { pid, started } = doubt.session;
        let deadline = Instant::now() + SETTLE_TIMEOUT;
        let alive = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                     WHERE pid = $1 AND backend_start = $2";
        loop {
            let rows = self
                .client
                .query(alive, &[&pid, &started])
                .map_err(|e| self.query_error(&e))?;
            if rows.is_empty() {
                break;
            }
            if Instant::now() > deadline {
                return Err(PgError::Query {
                    place: self.place.clone(),
                    cause: format!("the cut-off session {pid} is still running"),
                });
            }
            thread::sleep(Duration::from_millis(20));
        }
        let customers: Vec<&str> = doubt.sales.iter().map(|(c, _)| c.as_str()).collect();
        let times: Vec<SystemTime> = doubt.sales.iter().map(|(_, t)| *t).collect();
        let rows = self
            .client
            .query(
                "SELECT s.customer, s.time FROM sales s
                 JOIN unnest($2::text[], $3::timestamptz[]) AS d(customer, time)
                   ON s.customer = d.customer AND s.time = d.time
                 WHERE s.counter = $1",
                &[&doubt.counter, &customers, &times],
            )
            .map_err(|e| self.query_error(&e))?;
        let found: HashSet<(String, SystemTime)> =
            rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        Ok(doubt.sales.iter().map(|s| found.contains(s)).collect())
    }
}

/// `time` to whole microseconds, as PostgreSQL stores it (and as the rows read back
/// carry it).
fn micros(time: SystemTime) -> SystemTime {
    match time.duration_since(UNIX_EPOCH) {
        Ok(since) => {
            let whole = Duration::from_micros(u64::try_from(since.as_micros()).unwrap_or(u64::MAX));
            UNIX_EPOCH + whole
        }
        Err(_) => time,
    }
}
