//! Opening a connection within a bound. The `postgres` crate's connect timeout covers
//! the TCP connect only: a server that accepts connections but never answers (frozen,
//! or its disk hung: the kernel still completes the handshake) would hold the start,
//! or the writer's reconnect, forever. So the whole opening (connect, log in, check
//! the schema, prepare) runs on a short-lived thread, and the caller waits at most
//! [`OPEN_TIMEOUT`].
//!
//! An attempt the caller gave up on goes on until the server answers or the socket
//! fails. While one does, new attempts on the same database fail at once instead of
//! piling up threads: at most one such thread per database.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::thread;
use std::time::Duration;

use postgres::{Config, NoTls};

use super::{PgError, PgLedger, Strategy, cause, doubt, schema, sql};

/// The longest a caller waits for a connection to be opened and set up. Above
/// [`super::CONNECT_TIMEOUT`] (the TCP connect alone) with room for logging in and the
/// schema check, which take milliseconds on a LAN.
pub const OPEN_TIMEOUT: Duration = Duration::from_secs(5);

/// The places (`host:port/database`) of attempts whose caller gave up and that have
/// not ended yet.
static ABANDONED: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn abandoned() -> std::sync::MutexGuard<'static, Vec<String>> {
    ABANDONED.lock().unwrap_or_else(PoisonError::into_inner)
}

fn forget(place: &str) {
    let mut list = abandoned();
    if let Some(i) = list.iter().position(|p| p == place) {
        list.swap_remove(i);
    }
}

const RUNNING: u8 = 0;
const GAVE_UP: u8 = 1;
const DONE: u8 = 2;

/// Opens a ledger on `config` within [`OPEN_TIMEOUT`]. Errors are not yet scrubbed of
/// passwords: the caller does that.
pub(super) fn bounded(config: Config, place: String, counter: String) -> Result<PgLedger, PgError> {
    let refuse = |place: String, cause: String| Err(PgError::Connect { place, cause });
    if abandoned().contains(&place) {
        let cause = "the database has not answered an earlier attempt yet".to_string();
        return refuse(place, cause);
    }
    let (tx, rx) = mpsc::sync_channel(1);
    let state = Arc::new(AtomicU8::new(RUNNING));
    let attempt = Arc::clone(&state);
    let (their_place, their_counter) = (place.clone(), counter);
    let their_place_again = place.clone();
    let spawned = thread::Builder::new()
        .name("pg-connect".into())
        .spawn(move || {
            // Never blocks (room for one); a caller that gave up has dropped `rx`,
            // and the ledger, dropped, closes its connection.
            let _ = tx.send(open(&config, their_place, their_counter));
            if attempt.swap(DONE, Ordering::SeqCst) == GAVE_UP {
                forget(&their_place_again);
            }
        });
    if let Err(e) = spawned {
        return refuse(place, format!("cannot start a thread to connect: {e}"));
    }
    if let Ok(result) = rx.recv_timeout(OPEN_TIMEOUT) {
        return result;
    }
    abandoned().push(place.clone());
    if state
        .compare_exchange(RUNNING, GAVE_UP, Ordering::SeqCst, Ordering::SeqCst)
        .is_err()
    {
        // It ended just now.
        forget(&place);
        if let Ok(result) = rx.try_recv() {
            return result;
        }
    }
    let secs = OPEN_TIMEOUT.as_secs();
    refuse(
        place,
        format!("no answer within {secs} s (the server accepts connections but does not answer)"),
    )
}

fn open(config: &Config, place: String, counter: String) -> Result<PgLedger, PgError> {
    let connect_error = |e: postgres::Error| PgError::Connect {
        place: place.clone(),
        cause: cause(&e),
    };
    let mut client = config.connect(NoTls).map_err(connect_error)?;
    schema::ensure(&mut client).map_err(|cause| PgError::Schema {
        place: place.clone(),
        cause,
    })?;
    let take_one = client.prepare(sql::TAKE_ONE).map_err(connect_error)?;
    let take_batch = client.prepare(sql::TAKE_BATCH).map_err(connect_error)?;
    let row = client
        .query_one(doubt::SESSION, &[])
        .map_err(connect_error)?;
    let session = doubt::Backend {
        pid: row.get(0),
        started: row.get(1),
    };
    Ok(PgLedger {
        client,
        place,
        counter,
        strategy: Strategy::default(),
        take_one,
        take_batch,
        broken: false,
        session,
        doubt: None,
    })
}
