//! Reading a ledger file for `shop-server report`: without the writer's lock, so it
//! works while the shop is open, and row by row, so one bad row (a hand edit) never
//! hides the others.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use super::schema::has_counter;
use super::{BUSY_TIMEOUT, SqliteLedger, one_line};
use crate::sale::{LedgerError, Readback, StoredSale};
use crate::shop::catalog::Price;

impl SqliteLedger {
    /// Opens an existing ledger to read it (`report`), without the writer's lock.
    pub fn open_read_only(path: &Path) -> Result<SqliteLedger, LedgerError> {
        let open_error = |e: rusqlite::Error| LedgerError::Open {
            path: path.to_path_buf(),
            message: one_line(&e),
        };
        if !path.is_file() {
            let message = if path.is_dir() {
                "is a directory; give the ledger file, such as class1.db"
            } else {
                "no such file"
            };
            return Err(LedgerError::Open {
                path: path.to_path_buf(),
                message: message.into(),
            });
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn = Connection::open_with_flags(path, flags).map_err(open_error)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_error)?;
        let readable = |conn: &Connection| {
            conn.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))
        };
        if let Err(e) = readable(&conn) {
            // A WAL-mode file that the reader may not write beside (a copy in a
            // read-only folder) cannot be read the usual way: SQLite wants to create
            // `FILE-shm`. With no `FILE-wal` beside it no server is writing it (a
            // running shop keeps one), so it can be read as an immutable file.
            let mut wal = path.as_os_str().to_owned();
            wal.push("-wal");
            if Path::new(&wal).exists() {
                return Err(open_error(e));
            }
            conn = Connection::open_with_flags(
                immutable_uri(path),
                flags | OpenFlags::SQLITE_OPEN_URI,
            )
            .map_err(open_error)?;
            readable(&conn).map_err(open_error)?;
        }
        Ok(SqliteLedger {
            conn,
            path: path.to_path_buf(),
            guard: None,
            spoiled: None,
            commits: 0,
            counter: String::new(),
        })
    }

    /// Every sale, oldest first, and a line for each row that cannot be read as a sale
    /// (a hand edit such as `UPDATE sales SET fen='abc'`): one bad row never hides the
    /// others from the teacher.
    pub fn read_all(&mut self) -> Result<Readback, LedgerError> {
        let query = |conn: &Connection| -> rusqlite::Result<Readback> {
            // A ledger from before counters (read-only: not altered) reads as counter ''.
            let counter = if has_counter(conn) { "counter" } else { "''" };
            let mut stmt = conn.prepare(&format!(
                "SELECT id, time, customer, item, fen, {counter} FROM sales ORDER BY id"
            ))?;
            let mut rows = stmt.query([])?;
            let mut back = Readback::default();
            while let Some(row) = rows.next()? {
                match stored_sale(row) {
                    Ok(sale) => back.sales.push(sale),
                    Err(problem) => back.bad.push(problem),
                }
            }
            Ok(back)
        };
        query(&self.conn).map_err(|e| self.io_error(&e))
    }
}

/// One `sales` row as a sale, or what is wrong with it, naming the row.
fn stored_sale(row: &rusqlite::Row<'_>) -> Result<StoredSale, String> {
    let id: i64 = row.get(0).unwrap_or(-1);
    let text = |i: usize, name: &str| -> Result<String, String> {
        row.get::<_, String>(i)
            .map_err(|_| format!("row id={id}: `{name}` is not text"))
    };
    let fen = row
        .get::<_, i64>(4)
        .ok()
        .and_then(|fen| u64::try_from(fen).ok())
        .ok_or_else(|| format!("row id={id}: `fen` is not a whole number of fen >= 0"))?;
    Ok(StoredSale {
        time: text(1, "time")?,
        customer: text(2, "customer")?,
        item: text(3, "item")?,
        price: Price(fen),
        counter: row.get::<_, String>(5).unwrap_or_default(),
    })
}

/// `file:PATH?immutable=1`, with the characters a URI path may not hold escaped.
pub(super) fn immutable_uri(path: &Path) -> String {
    let mut uri = String::from("file:");
    for c in path.to_string_lossy().chars() {
        match c {
            '?' | '#' | '%' => uri.push_str(&format!("%{:02X}", u32::from(c))),
            _ => uri.push(c),
        }
    }
    uri.push_str("?immutable=1");
    uri
}
