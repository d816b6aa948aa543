//! A counter's connection that comes back by itself: [`Link`] holds a [`PgLedger`] and,
//! once the database is lost (stopped, restarted, network cut), fails every batch at
//! once and reconnects with exponential backoff, at most one attempt per
//! delay. It logs once per outage and once on recovery, never a line per customer.

use std::time::{Duration, Instant};

use log::{info, warn};

use super::{Outcome, PendingSale, PgError, PgLedger};

/// The delay before the first reconnect attempt after an outage begins: a database
/// restart takes about a second, so the first tries come soon.
pub const FIRST_RETRY: Duration = Duration::from_millis(100);

/// The longest delay between attempts: a counter notices a database that is back
/// within this, and an unreachable one costs one connect timeout per delay at most.
pub const MAX_RETRY: Duration = Duration::from_secs(5);

/// An outage in progress.
struct Down {
    since: Instant,
    next_try: Instant,
    delay: Duration,
    /// Purchases failed since the outage began.
    failed: u64,
}

/// A counter's ledger connection, reconnecting with backoff.
pub struct Link {
    url: String,
    counter: String,
    ledger: Option<PgLedger>,
    down: Option<Down>,
}

impl Link {
    /// Connects (failing at once, for the start to report) and keeps the URL and
    /// counter for reconnecting.
    pub fn open(url: &str, counter: &str) -> Result<Link, PgError> {
        let ledger = PgLedger::connect(url, counter)?;
        Ok(Link {
            url: url.to_string(),
            counter: counter.to_string(),
            ledger: Some(ledger),
            down: None,
        })
    }

    /// True while connected (as far as is known: a lost connection shows at its next
    /// use).
    pub fn is_up(&self) -> bool {
        self.ledger.is_some()
    }

    /// Commits `batch` as [`PgLedger::commit`] does. While the database is lost every
    /// sale is [`Outcome::Failed`] at once, without waiting, except when a reconnect is
    /// due: then that attempt (bounded by the connect timeout) comes first.
    pub fn commit(&mut self, batch: &[PendingSale]) -> Vec<Outcome> {
        match self.with(|ledger| ledger.try_commit(batch)) {
            Ok(outcomes) => outcomes,
            Err(_) => {
                if let Some(down) = &mut self.down {
                    down.failed += batch.len() as u64;
                }
                vec![Outcome::Failed; batch.len()]
            }
        }
    }

    /// Runs `f` on the connection, reconnecting first if one is due. An error that
    /// left the connection closed starts (or continues) an outage.
    pub fn with<T>(
        &mut self,
        f: impl FnOnce(&mut PgLedger) -> Result<T, PgError>,
    ) -> Result<T, PgError> {
        let ledger = match &mut self.ledger {
            Some(ledger) => ledger,
            None => self.reconnect()?,
        };
        let result = f(ledger);
        if let Err(e) = &result
            && ledger.is_closed()
        {
            self.ledger = None;
            self.lost(e);
        }
        result
    }

    /// A new connection if the backoff allows one now.
    fn reconnect(&mut self) -> Result<&mut PgLedger, PgError> {
        let now = Instant::now();
        if let Some(down) = &self.down
            && now < down.next_try
        {
            return Err(PgError::Query {
                place: self.url_place(),
                cause: "not connected (reconnecting)".into(),
            });
        }
        match PgLedger::connect(&self.url, &self.counter) {
            Ok(ledger) => {
                if let Some(down) = self.down.take() {
                    info!(
                        "ledger {}: connected again after {:.1} s; {} purchases could not be recorded meanwhile",
                        ledger.place(),
                        down.since.elapsed().as_secs_f64(),
                        down.failed
                    );
                }
                Ok(self.ledger.insert(ledger))
            }
            Err(e) => {
                self.lost(&e);
                Err(e)
            }
        }
    }

    /// Starts an outage (logged) or schedules the next attempt (not logged).
    fn lost(&mut self, e: &PgError) {
        let now = Instant::now();
        match &mut self.down {
            Some(down) => {
                down.delay = (down.delay * 2).min(MAX_RETRY);
                down.next_try = now + down.delay;
            }
            None => {
                warn!(
                    "{e}: sales cannot be recorded; reconnecting with backoff (logged once until it works again)"
                );
                self.down = Some(Down {
                    since: now,
                    next_try: now + FIRST_RETRY,
                    delay: FIRST_RETRY,
                    failed: 0,
                });
            }
        }
    }

    fn url_place(&self) -> String {
        std::str::FromStr::from_str(&self.url)
            .map(|c| super::place(&c))
            .unwrap_or_else(|_| "(unreadable URL)".into())
    }
}
