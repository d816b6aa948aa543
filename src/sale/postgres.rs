//! The PostgreSQL ledger: stock and sales shared by several counters (shop-servers),
//! each with its own connection, so that no piece is ever sold twice (issue 20).
//!
//! The database decides every sale. [`PgLedger::commit`] takes a batch of pending sales
//! (group commit: everything waiting at one counter) and, in ONE transaction, takes a
//! piece for each with a conditional update (`sold = sold + 1 … WHERE sold < stocked`),
//! inserts a `sales` row per piece taken, and commits. A sale whose item is gone is
//! [`Outcome::SoldOut`] and leaves no row; any error rolls the whole batch back and
//! every sale in it is [`Outcome::Failed`]: nothing is taken.
//!
//! Counters lock item rows in name order within a batch, so two counters selling the
//! same items never deadlock.
//!
//! This module depends on nothing else in the crate: its own small types, so that the
//! shop's `Ledger` trait can be implemented over it. [`link::Link`] adds reconnecting
//! with backoff. The tables are in [`schema`].

use std::str::FromStr;
use std::time::{Duration, SystemTime};

use postgres::{Client, Config, Statement};

mod counter;
pub mod doubt;
mod error;
pub mod link;
mod open;
mod read;
pub mod schema;
mod sql;
mod types;

pub use counter::{PgRecorder, REFRESH_EVERY};
pub use error::PgError;
use error::{cause, place, scrub};
pub use open::OPEN_TIMEOUT;
pub use types::{Outcome, PendingSale, SaleRow, StockChange, Stocked, Takings};

/// How long the TCP connect may take before the counter gives up (at start: exit with
/// one line; mid-run: the batch fails and the reconnect backs off). A LAN connect takes
/// milliseconds; a host that does not answer must not hold a start or a batch longer.
/// The whole opening, logging in included, is bounded by [`OPEN_TIMEOUT`].
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// The server cancels any statement of ours that runs longer, waiting for a row lock
/// included. A batch takes milliseconds; past this the customers are better told "not
/// recorded" than kept waiting.
pub const STATEMENT_TIMEOUT: Duration = Duration::from_secs(2);

/// The server ends a session of ours that sits in a transaction this long, so that a
/// counter that hangs mid-batch (stopped, or its network cut) releases the item rows it
/// locked and the other counters go on selling.
pub const IDLE_IN_TRANSACTION_TIMEOUT: Duration = Duration::from_secs(5);

/// Unacknowledged data on the connection fails it after this long (Linux): a network
/// cut mid-batch ends in an error, not a wait for TCP's minutes of retries.
pub const TCP_USER_TIMEOUT: Duration = Duration::from_secs(5);

/// How [`PgLedger::commit`] talks to the database. Both take pieces in one transaction
/// with the same conditional update. Batch is the faster from 8 sales up (measured by
/// `cargo test --test pg_ledger -- --ignored --nocapture measure`), and a batch of one
/// is one statement either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strategy {
    /// One statement for the whole batch (arrays through `unnest`): one round trip.
    #[default]
    Batch,
    /// One statement per sale between BEGIN and COMMIT: a round trip per sale.
    PerSale,
}

/// One counter's connection to the shared ledger.
pub struct PgLedger {
    client: Client,
    place: String,
    counter: String,
    strategy: Strategy,
    take_one: Statement,
    take_batch: Statement,
    /// An error showed the session is gone (see [`PgLedger::is_closed`]).
    broken: bool,
    /// The server session, to find out about a batch in doubt.
    session: doubt::Backend,
    /// The last batch whose commit was cut off with the connection.
    doubt: Option<doubt::Doubt>,
}

impl PgLedger {
    /// Connects as counter `counter` to `url` (`postgres://…`, `postgresql://…` or
    /// `key=value …`, as libpq), with the timeouts above; `PGPASSWORD` is used when the
    /// URL has no password. Creates the tables if missing and refuses foreign ones.
    pub fn connect(url: &str, counter: &str) -> Result<PgLedger, PgError> {
        PgLedger::connect_with(url, counter, std::env::var("PGPASSWORD").ok().as_deref())
    }

    /// As [`PgLedger::connect`], with `pgpassword` standing for `PGPASSWORD` (tests set
    /// it without touching the process environment).
    pub fn connect_with(
        url: &str,
        counter: &str,
        pgpassword: Option<&str>,
    ) -> Result<PgLedger, PgError> {
        let scrub = |text: String| scrub(text, url, pgpassword);
        let mut config = Config::from_str(url).map_err(|e| PgError::Url(scrub(cause(&e))))?;
        if config.get_password().is_none()
            && let Some(password) = pgpassword
        {
            config.password(password);
        }
        let place = place(&config);
        let options = format!(
            "{} -c statement_timeout={} -c idle_in_transaction_session_timeout={}",
            config.get_options().unwrap_or(""),
            STATEMENT_TIMEOUT.as_millis(),
            IDLE_IN_TRANSACTION_TIMEOUT.as_millis()
        );
        config
            .options(options.trim_start())
            .connect_timeout(CONNECT_TIMEOUT)
            .tcp_user_timeout(TCP_USER_TIMEOUT);
        if config.get_application_name().is_none() {
            config.application_name(&format!("snack-shop {counter}"));
        }
        open::bounded(config, place, counter.to_string()).map_err(|e| e.scrubbed(&scrub))
    }

    /// `host:port/database`, for log lines.
    pub fn place(&self) -> &str {
        &self.place
    }

    /// This counter's name, as recorded with each sale.
    pub fn counter(&self) -> &str {
        &self.counter
    }

    /// Chooses how batches are sent (for measurements; the default is the faster).
    pub fn set_strategy(&mut self, strategy: Strategy) {
        self.strategy = strategy;
    }

    /// True once the connection is gone: reconnect. Also after an error that ends the
    /// session (the server shutting down, a lost connection), which may come before
    /// the client has seen the socket close.
    pub fn is_closed(&self) -> bool {
        self.broken || self.client.is_closed()
    }

    fn query_error(&mut self, e: &postgres::Error) -> PgError {
        // 08: connection exception; 57P: the server is shutting down or restarting.
        let code = e.as_db_error().map(|db| db.code().code());
        if code.is_none_or(|c| c.starts_with("08") || c.starts_with("57P")) {
            self.broken = true;
        }
        PgError::Query {
            place: self.place.clone(),
            cause: cause(e),
        }
    }

    /// The batch whose commit the lost connection cut off, if any: it may have been
    /// recorded.
    pub fn take_doubt(&mut self) -> Option<doubt::Doubt> {
        self.doubt.take()
    }

    /// Sets the stocked totals (and prices) of `items` from this counter's goods file,
    /// in one transaction; items not listed keep theirs. Returns the totals that another
    /// counter had set differently, for the caller to log: the last start or reload wins.
    pub fn set_stock(&mut self, items: &[Stocked]) -> Result<Vec<StockChange>, PgError> {
        let mut sorted: Vec<&Stocked> = items.iter().collect();
        sorted.sort_by(|a, b| a.name.cmp(&b.name)); // lock order, as in commit
        let mut changes = Vec::new();
        let run = |client: &mut Client, changes: &mut Vec<StockChange>| {
            let mut tx = client.transaction()?;
            let old = tx.prepare(sql::OLD_STOCK)?;
            let upsert = tx.prepare(sql::SET_STOCK)?;
            for item in sorted {
                let stocked = item.stocked.map(to_i64);
                let before = tx.query_opt(&old, &[&item.name])?;
                tx.execute(
                    &upsert,
                    &[&item.name, &to_i64(item.fen), &stocked, &self.counter],
                )?;
                let Some(before) = before else { continue };
                let (was, by): (Option<i64>, String) = (before.get(0), before.get(1));
                if was != stocked && by != self.counter {
                    changes.push(StockChange {
                        item: item.name.clone(),
                        was: was.map(to_u64),
                        by,
                        now: item.stocked,
                        now_by: self.counter.clone(),
                    });
                }
            }
            tx.commit()
        };
        match run(&mut self.client, &mut changes) {
            Ok(()) => Ok(changes),
            Err(e) => Err(self.query_error(&e)),
        }
    }

    /// Commits `batch` (see the module header): one outcome per sale, in order. On any
    /// error every outcome is [`Outcome::Failed`]; [`PgLedger::try_commit`] gives the
    /// error, for the log.
    pub fn commit(&mut self, batch: &[PendingSale]) -> Vec<Outcome> {
        self.try_commit(batch)
            .unwrap_or_else(|_| vec![Outcome::Failed; batch.len()])
    }

    /// As [`PgLedger::commit`], but an error is returned instead of turned into
    /// [`Outcome::Failed`]s. Nothing was taken, except when the connection was lost
    /// during the commit: then [`PgLedger::take_doubt`] gives the batch, for
    /// [`PgLedger::resolve`] on a new connection.
    pub fn try_commit(&mut self, batch: &[PendingSale]) -> Result<Vec<Outcome>, PgError> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        // Lock order: by item name, then the order the customers asked in.
        let mut order: Vec<usize> = (0..batch.len()).collect();
        order.sort_by(|&a, &b| batch[a].item.cmp(&batch[b].item));
        let taken = match (batch, self.strategy) {
            // One sale is one statement, atomic on its own: no BEGIN and COMMIT.
            ([sale], Strategy::Batch) => self.take_single(sale).map(|t| vec![t]),
            (_, Strategy::Batch) => self.take_batch(batch, &order),
            (_, Strategy::PerSale) => self.take_each(batch, &order),
        };
        let taken = match taken {
            Ok(taken) => taken,
            Err(e) => {
                let error = self.query_error(&e);
                if self.is_closed() {
                    self.doubt = Some(doubt::Doubt::new(self.session, &self.counter, batch));
                }
                return Err(error);
            }
        };
        Ok(taken
            .into_iter()
            .map(|t| {
                if t {
                    Outcome::Recorded
                } else {
                    Outcome::SoldOut
                }
            })
            .collect())
    }

    fn take_single(&mut self, sale: &PendingSale) -> Result<bool, postgres::Error> {
        let fen = to_i64(sale.fen);
        let params: [&(dyn postgres::types::ToSql + Sync); 5] =
            [&sale.item, &sale.time, &sale.customer, &fen, &self.counter];
        Ok(self.client.query_opt(&self.take_one, &params)?.is_some())
    }

    fn take_each(
        &mut self,
        batch: &[PendingSale],
        order: &[usize],
    ) -> Result<Vec<bool>, postgres::Error> {
        let mut taken = vec![false; batch.len()];
        // Dropping an uncommitted transaction rolls it back.
        let mut tx = self.client.transaction()?;
        for &i in order {
            let sale = &batch[i];
            let row = tx.query_opt(
                &self.take_one,
                &[
                    &sale.item,
                    &sale.time,
                    &sale.customer,
                    &to_i64(sale.fen),
                    &self.counter,
                ],
            )?;
            taken[i] = row.is_some();
        }
        tx.commit()?;
        Ok(taken)
    }

    fn take_batch(
        &mut self,
        batch: &[PendingSale],
        order: &[usize],
    ) -> Result<Vec<bool>, postgres::Error> {
        let seq: Vec<i64> = order.iter().map(|&i| to_i64(i as u64)).collect();
        let time: Vec<SystemTime> = order.iter().map(|&i| batch[i].time).collect();
        let customer: Vec<&str> = order.iter().map(|&i| batch[i].customer.as_str()).collect();
        let item: Vec<&str> = order.iter().map(|&i| batch[i].item.as_str()).collect();
        let fen: Vec<i64> = order.iter().map(|&i| to_i64(batch[i].fen)).collect();
        // One statement is one transaction: all of it commits, or none.
        let rows = self.client.query(
            &self.take_batch,
            &[&seq, &time, &customer, &item, &fen, &self.counter],
        )?;
        let mut taken = vec![false; batch.len()];
        for row in rows {
            let i = usize::try_from(row.get::<_, i64>(0)).unwrap_or(usize::MAX);
            if let Some(t) = taken.get_mut(i) {
                *t = true;
            }
        }
        Ok(taken)
    }
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}
