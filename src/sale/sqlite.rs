//! The ledger as an SQLite file (rusqlite, SQLite bundled): one `sales` table that a
//! teacher can read with `sqlite3`.
//!
//! Only one shop-server may write a ledger, and a file removed or overwritten while the
//! shop is open stops the acknowledgements (see [`super::guard`]). For that the shop
//! runs every checkpoint itself ([`CHECKPOINT_EVERY`]). `report` reads without the
//! writer's lock, so it works while the shop is open.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, params};

use super::guard::{Guard, Trouble};
use super::{Durability, Ledger, LedgerError, rfc3339};

mod read;
mod schema;

use crate::shop::SaleRecord;
use schema::{ADD_COUNTER, SCHEMA, check_columns, has_counter};

/// How long a statement waits for a lock held by a reader (`report`, `sqlite3`) before
/// it fails. WAL readers never block the writer, but a checkpoint may briefly.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Commits between two checkpoints, which fold the write-ahead log into the file.
/// SQLite's own automatic checkpoint is off, so that every change of the main file is
/// the shop's (see [`super::guard`]); a commit adds a few pages to the log, so this
/// keeps it near SQLite's default of 1000 pages (4 MiB).
pub const CHECKPOINT_EVERY: u32 = 256;

/// A ledger in an SQLite file.
pub struct SqliteLedger {
    conn: Connection,
    path: PathBuf,
    /// The one-writer lock and the file's watch; `None` for readers.
    guard: Option<Guard>,
    /// What went wrong with the file for good (overwritten): no sale is recorded again.
    spoiled: Option<Trouble>,
    /// Commits since the last checkpoint.
    commits: u32,
    /// The counter (`--counter`) recorded with each sale.
    counter: String,
}

impl SqliteLedger {
    /// Opens (creating if missing) the ledger for writing: takes the one-writer lock,
    /// sets WAL and the durability, creates the table, and checks that it can write.
    pub fn open(path: &Path, durability: Durability) -> Result<SqliteLedger, LedgerError> {
        if path.is_dir() {
            return Err(LedgerError::Open {
                path: path.to_path_buf(),
                message: "is a directory; give a file name, such as class1.db".into(),
            });
        }
        let mut guard = Guard::take(path)?;
        let open_error = |e: rusqlite::Error| LedgerError::Open {
            path: path.to_path_buf(),
            message: one_line(&e),
        };
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(open_error)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_error)?;
        let synchronous = match durability {
            Durability::Normal => "NORMAL",
            Durability::Full => "FULL",
        };
        // journal_mode answers with a row; a file that is not a database fails here.
        let mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |row| row.get(0))
            .map_err(open_error)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(LedgerError::Open {
                path: path.to_path_buf(),
                message: format!("cannot switch to WAL (journal mode is {mode})"),
            });
        }
        conn.execute_batch(&format!(
            "PRAGMA synchronous={synchronous};
             PRAGMA wal_autocheckpoint=0;
             BEGIN IMMEDIATE; {SCHEMA} COMMIT;"
        ))
        .map_err(open_error)?;
        check_columns(&conn).map_err(|message| LedgerError::Open {
            path: path.to_path_buf(),
            message,
        })?;
        if !has_counter(&conn) {
            conn.execute_batch(ADD_COUNTER).map_err(open_error)?;
        }
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .map_err(open_error)?;
        if version == 0 {
            conn.execute_batch("PRAGMA user_version=1")
                .map_err(open_error)?;
        }
        if conn.is_readonly(rusqlite::MAIN_DB).unwrap_or(true) {
            return Err(LedgerError::Open {
                path: path.to_path_buf(),
                message: "the file is read-only".into(),
            });
        }
        guard.settle();
        Ok(SqliteLedger {
            conn,
            path: path.to_path_buf(),
            guard: Some(guard),
            spoiled: None,
            commits: 0,
            counter: String::new(),
        })
    }

    /// Names the counter recorded with each sale from now on (`--counter`).
    pub fn set_counter(&mut self, counter: &str) {
        self.counter = counter.to_string();
    }

    /// Fails if the file at `path` is no longer the one this ledger writes, or was
    /// changed by someone else. An overwritten file stays refused: what is in it now is
    /// not the shop's.
    fn check_file(&mut self) -> Result<(), LedgerError> {
        let trouble = self
            .spoiled
            .or_else(|| self.guard.as_ref().and_then(Guard::check));
        match trouble {
            None => Ok(()),
            Some(trouble) => {
                if trouble == Trouble::Overwritten {
                    self.spoiled = Some(trouble);
                }
                Err(LedgerError::Tampered {
                    path: self.path.clone(),
                    trouble,
                })
            }
        }
    }

    /// Folds the write-ahead log into the file, every [`CHECKPOINT_EVERY`] commits,
    /// and remembers the file as the shop left it. The sales are committed already: a
    /// checkpoint that fails is logged and tried again later, never a failed sale.
    fn checkpoint_now_and_then(&mut self) {
        self.commits += 1;
        if self.commits < CHECKPOINT_EVERY {
            return;
        }
        self.commits = 0;
        if let Err(e) = self
            .conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
        {
            log::warn!(
                "ledger {}: checkpoint failed: {}",
                self.path.display(),
                one_line(&e)
            );
        }
        if let Some(guard) = &mut self.guard {
            guard.settle();
        }
    }

    fn io_error(&self, e: &rusqlite::Error) -> LedgerError {
        LedgerError::Io {
            path: self.path.clone(),
            message: one_line(e),
        }
    }

    fn record_all(&mut self, sales: &[SaleRecord]) -> rusqlite::Result<()> {
        // Dropping an uncommitted transaction rolls it back: on error, none is kept.
        let tx = self.conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO sales (time, customer, item, price, fen, counter) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for sale in sales {
                let fen = i64::try_from(sale.price.0).unwrap_or(i64::MAX);
                insert.execute(params![
                    rfc3339(sale.time),
                    &*sale.customer,
                    sale.item,
                    sale.price.to_string(),
                    fen,
                    self.counter
                ])?;
            }
        }
        tx.commit()
    }
}

impl Ledger for SqliteLedger {
    fn sold(&mut self) -> Result<HashMap<String, u64>, LedgerError> {
        let query = |conn: &Connection| -> rusqlite::Result<HashMap<String, u64>> {
            let mut stmt = conn.prepare("SELECT item, COUNT(*) FROM sales GROUP BY item")?;
            let rows = stmt.query_map([], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
            })?;
            rows.map(|row| row.map(|(item, n)| (item, u64::try_from(n).unwrap_or(0))))
                .collect()
        };
        query(&self.conn).map_err(|e| self.io_error(&e))
    }

    fn record(&mut self, sales: &[SaleRecord]) -> Result<(), LedgerError> {
        // Checked before, so that nothing is written to a file that is gone, and after,
        // so that a removal during the commit is not acknowledged either.
        self.check_file()?;
        self.record_all(sales).map_err(|e| self.io_error(&e))?;
        self.check_file()?;
        self.checkpoint_now_and_then();
        Ok(())
    }

    fn describe(&self) -> String {
        self.path.display().to_string()
    }
}

/// An SQLite error as one line.
fn one_line(e: &rusqlite::Error) -> String {
    e.to_string().replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sale::guard::Trouble;
    use crate::shop::catalog::Price;
    use std::sync::Arc;
    use std::time::SystemTime;

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("snack-ledger-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("shop.db")
    }

    fn sale(item: &str, fen: u64) -> SaleRecord {
        SaleRecord {
            time: SystemTime::now(),
            customer: Arc::from("127.0.0.1:5000"),
            item: item.into(),
            price: Price(fen),
        }
    }

    /// A ledger from before counters (no `counter` column) still reads (as counter
    /// ''), read-only without being changed; opened to write, it gets the column.
    #[test]
    fn a_ledger_from_before_counters_reads_and_gets_the_column() {
        let path = temp("old");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE sales (id INTEGER PRIMARY KEY, time TEXT NOT NULL, customer TEXT NOT NULL,
                 item TEXT NOT NULL, price TEXT NOT NULL, fen INTEGER NOT NULL);
             INSERT INTO sales (time, customer, item, price, fen)
                 VALUES ('2026-11-25T16:00:00.000Z', '10.0.0.2:5000', '瓜子', '4.5', 450);",
        )
        .unwrap();
        drop(conn);
        let old = SqliteLedger::open_read_only(&path)
            .unwrap()
            .read_all()
            .unwrap();
        assert_eq!(old.sales.len(), 1);
        assert_eq!(old.sales[0].counter, "");
        assert!(old.bad.is_empty());
        let mut ledger = SqliteLedger::open(&path, Durability::Normal).unwrap();
        ledger.set_counter("一号");
        ledger.record(&[sale("西瓜", 200)]).unwrap();
        let sales = ledger.read_all().unwrap().sales;
        let counters: Vec<&str> = sales.iter().map(|s| s.counter.as_str()).collect();
        assert_eq!(counters, ["", "一号"]);
    }

    #[test]
    fn records_and_reads_back() {
        let path = temp("rw");
        let mut ledger = SqliteLedger::open(&path, Durability::Normal).unwrap();
        ledger
            .record(&[sale("瓜子", 450), sale("西瓜", 200), sale("瓜子", 500)])
            .unwrap();
        let sold = ledger.sold().unwrap();
        assert_eq!(sold.get("瓜子"), Some(&2));
        assert_eq!(sold.get("西瓜"), Some(&1));
        let sales = ledger.read_all().unwrap().sales;
        assert_eq!(sales.len(), 3);
        assert_eq!(sales[2].price, Price(500));
        drop(ledger);
        // Reopened: the sales are still there.
        let mut again = SqliteLedger::open(&path, Durability::Full).unwrap();
        assert_eq!(again.sold().unwrap().get("瓜子"), Some(&2));
        let mut reader = SqliteLedger::open_read_only(&path).unwrap();
        assert_eq!(reader.read_all().unwrap().sales.len(), 3);
    }

    #[test]
    fn a_second_writer_is_refused() {
        let path = temp("two");
        let _first = SqliteLedger::open(&path, Durability::Normal).unwrap();
        let second = SqliteLedger::open(&path, Durability::Normal).err().unwrap();
        assert!(matches!(second, LedgerError::InUse { .. }), "{second}");
        assert!(second.to_string().contains("shop.db"), "{second}");
    }

    #[test]
    fn a_directory_is_refused_without_a_lock_file_beside_it() {
        let dir = temp("dir");
        let e = SqliteLedger::open(dir.parent().unwrap(), Durability::Normal)
            .err()
            .unwrap();
        assert!(e.to_string().contains("is a directory"), "{e}");
        let mut lock = dir.parent().unwrap().as_os_str().to_owned();
        lock.push(".lock");
        assert!(!Path::new(&lock).exists());
    }

    #[cfg(unix)]
    #[test]
    fn the_same_ledger_through_a_symlink_is_refused_too() {
        let path = temp("link");
        let _first = SqliteLedger::open(&path, Durability::Normal).unwrap();
        let link = path.with_file_name("link.db");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        let second = SqliteLedger::open(&link, Durability::Normal).err().unwrap();
        assert!(matches!(second, LedgerError::InUse { .. }), "{second}");
    }

    #[cfg(unix)]
    #[test]
    fn a_removed_or_replaced_file_fails_every_commit() {
        for replace in [false, true] {
            let path = temp(if replace { "replaced" } else { "removed" });
            let mut ledger = SqliteLedger::open(&path, Durability::Normal).unwrap();
            ledger.record(&[sale("瓜子", 450)]).unwrap();
            std::fs::remove_file(&path).unwrap();
            if replace {
                std::fs::write(&path, "").unwrap();
            }
            for _ in 0..2 {
                let e = ledger.record(&[sale("瓜子", 450)]).err().unwrap();
                assert!(
                    matches!(
                        e,
                        LedgerError::Tampered {
                            trouble: Trouble::Gone,
                            ..
                        }
                    ),
                    "{e}"
                );
            }
        }
    }

    /// Written by someone else in place (same file, new contents): refused for good,
    /// while the shop's own checkpoints never count as someone else's writes.
    #[test]
    fn an_overwritten_file_fails_every_commit_and_checkpoints_do_not() {
        let path = temp("overwritten");
        let mut ledger = SqliteLedger::open(&path, Durability::Normal).unwrap();
        for _ in 0..CHECKPOINT_EVERY * 2 + 1 {
            ledger.record(&[sale("瓜子", 450)]).unwrap();
        }
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        for _ in 0..2 {
            let e = ledger.record(&[sale("瓜子", 450)]).err().unwrap();
            assert!(
                matches!(
                    e,
                    LedgerError::Tampered {
                        trouble: Trouble::Overwritten,
                        ..
                    }
                ),
                "{e}"
            );
        }
    }

    #[test]
    fn another_programs_sales_table_is_refused() {
        let path = temp("foreign");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE sales (id INTEGER PRIMARY KEY, time TEXT, customer TEXT, item TEXT, price TEXT)")
            .unwrap();
        drop(conn);
        let e = SqliteLedger::open(&path, Durability::Normal).err().unwrap();
        let text = e.to_string();
        assert!(
            text.contains("not a shop ledger") && text.contains("fen"),
            "{text}"
        );
    }

    /// How `report` reads a copy it may not write beside (a read-only folder, which
    /// root, running the tests, cannot make): the same file as an immutable URI, also
    /// with a Chinese name and the characters a URI escapes (but `?`, which Windows
    /// does not allow in a file name).
    #[test]
    fn a_closed_ledger_reads_as_an_immutable_file() {
        let name = if cfg!(windows) {
            "一班 #1%.db"
        } else {
            "一班 #1?%.db"
        };
        let path = temp("immutable").with_file_name(name);
        let mut ledger = SqliteLedger::open(&path, Durability::Normal).unwrap();
        ledger.record(&[sale("瓜子", 450)]).unwrap();
        drop(ledger);
        let conn = Connection::open_with_flags(
            read::immutable_uri(&path),
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI,
        )
        .unwrap();
        let n: i64 = conn
            .query_row("SELECT count(*) FROM sales", [], |row| row.get(0))
            .unwrap();
        assert_eq!(n, 1);
    }

    #[test]
    fn not_a_database_is_one_clear_error() {
        let path = temp("junk");
        std::fs::write(&path, vec![b'x'; 4096]).unwrap();
        let e = SqliteLedger::open(&path, Durability::Normal).err().unwrap();
        let text = e.to_string();
        assert!(
            text.starts_with(&format!("ledger {}: cannot open", path.display())),
            "{text}"
        );
        assert!(!text.contains('\n'));
    }
}
