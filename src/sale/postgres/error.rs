//! The ledger's errors: one line naming the database (`host:port/database`) and the
//! cause, and never a password.

use std::str::FromStr;

use postgres::Config;
use postgres::config::Host;

/// Why the ledger failed: one line naming the database (host, port, database; never
/// the user's password) and the cause.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PgError {
    /// The connection string cannot be parsed.
    #[error("ledger: cannot read the PostgreSQL connection string: {0}")]
    Url(String),
    /// Connecting failed (unreachable, refused, wrong user, password or database).
    #[error("ledger {place}: cannot connect: {cause}")]
    Connect {
        /// `host:port/database`.
        place: String,
        /// Why, in one line.
        cause: String,
    },
    /// The database holds tables that are not a snack-shop ledger's, or a newer one.
    #[error("ledger {place}: {cause}")]
    Schema {
        /// `host:port/database`.
        place: String,
        /// Why, in one line.
        cause: String,
    },
    /// A statement failed (lost connection, timeout, …).
    #[error("ledger {place}: {cause}")]
    Query {
        /// `host:port/database`.
        place: String,
        /// Why, in one line.
        cause: String,
    },
}

impl PgError {
    /// The same error with `scrub` applied to its cause.
    pub(super) fn scrubbed(self, scrub: &dyn Fn(String) -> String) -> PgError {
        match self {
            PgError::Url(cause) => PgError::Url(scrub(cause)),
            PgError::Connect { place, cause } => PgError::Connect {
                place,
                cause: scrub(cause),
            },
            PgError::Schema { place, cause } => PgError::Schema {
                place,
                cause: scrub(cause),
            },
            PgError::Query { place, cause } => PgError::Query {
                place,
                cause: scrub(cause),
            },
        }
    }
}

/// `host:port/database` from a parsed connection string: what log lines name.
pub(super) fn place(config: &Config) -> String {
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(name)) => name.clone(),
        #[cfg(unix)]
        Some(Host::Unix(path)) => path.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config.get_dbname().or(config.get_user()).unwrap_or("");
    format!("{host}:{port}/{db}")
}

/// A postgres error as one line: the server's message, or the client's error and its
/// causes.
pub(super) fn cause(e: &postgres::Error) -> String {
    let text = match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                text.push_str(": ");
                text.push_str(&s.to_string());
                source = s.source();
            }
            text
        }
    };
    text.replace(['\n', '\r'], " ")
}

/// Removes any password the connection string or `PGPASSWORD` holds from `text`:
/// belt and braces, as no message is known to contain one.
pub(super) fn scrub(text: String, url: &str, pgpassword: Option<&str>) -> String {
    let from_url = Config::from_str(url).ok().and_then(|c| {
        c.get_password()
            .map(|p| String::from_utf8_lossy(p).into_owned())
    });
    let mut text = text;
    for password in [from_url.as_deref(), pgpassword].into_iter().flatten() {
        if !password.is_empty() {
            text = text.replace(password, "***");
        }
    }
    text
}
