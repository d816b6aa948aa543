//! The ledger file's one table, as a teacher reads it with `sqlite3`, and the checks
//! that a file is a shop ledger.

use rusqlite::Connection;

use super::one_line;

/// The schema, also documented in the README. `price` is the text the shop shows
/// (`4.5`); `fen` is the same amount in fen, for sums in SQL.
pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS sales (
    id       INTEGER PRIMARY KEY,
    time     TEXT    NOT NULL,
    customer TEXT    NOT NULL,
    item     TEXT    NOT NULL,
    price    TEXT    NOT NULL,
    fen      INTEGER NOT NULL,
    counter  TEXT    NOT NULL DEFAULT ''
);";

/// Ledgers made before counters were recorded get the column, empty for their sales.
pub(super) const ADD_COUNTER: &str =
    "ALTER TABLE sales ADD COLUMN counter TEXT NOT NULL DEFAULT ''";

/// The columns a shop ledger's `sales` table must have: a database whose `sales` table
/// lacks one is someone else's, and would fail every purchase later.
const COLUMNS: [&str; 5] = ["time", "customer", "item", "price", "fen"];

/// True if `sales` has the `counter` column (added when counters came).
pub(super) fn has_counter(conn: &Connection) -> bool {
    conn.query_row(
        "SELECT count(*) FROM pragma_table_info('sales') WHERE name = 'counter'",
        [],
        |row| row.get::<_, i64>(0),
    )
    .is_ok_and(|n| n > 0)
}

/// Checks that `sales` has the columns of a shop ledger.
pub(super) fn check_columns(conn: &Connection) -> Result<(), String> {
    let names = |conn: &Connection| -> rusqlite::Result<Vec<String>> {
        let mut stmt = conn.prepare("SELECT name FROM pragma_table_info('sales')")?;
        let rows = stmt.query_map([], |row| row.get(0))?;
        rows.collect()
    };
    let have = names(conn).map_err(|e| one_line(&e))?;
    match COLUMNS.iter().find(|c| !have.iter().any(|h| h == *c)) {
        None => Ok(()),
        Some(missing) => Err(format!(
            "its `sales` table is not a shop ledger's (no column `{missing}`); use another file"
        )),
    }
}
