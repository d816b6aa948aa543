//! The PostgreSQL ledger's tables: created if missing, checked if present, and
//! versioned in `snack_shop_meta`, so that a teacher can read them with psql and a
//! later shop can tell an old schema from someone else's tables.

use postgres::Client;

/// The schema this code writes and reads. A database with a higher version was set up
/// by a newer shop-server and is refused rather than misread.
pub const SCHEMA_VERSION: i64 = 1;

/// The tables, also documented in the README. `stocked` NULL means unlimited;
/// `sold` counts the rows in `sales` for the item, kept in the same transaction.
/// `updated_by` names the counter whose goods file set `stocked` last.
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS snack_shop_meta (
    key   text PRIMARY KEY,
    value text NOT NULL
);
CREATE TABLE IF NOT EXISTS items (
    name       text        PRIMARY KEY,
    fen        bigint      NOT NULL CHECK (fen >= 0),
    stocked    bigint      CHECK (stocked >= 0),
    sold       bigint      NOT NULL DEFAULT 0 CHECK (sold >= 0),
    updated_by text        NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS sales (
    id       bigserial   PRIMARY KEY,
    time     timestamptz NOT NULL,
    customer text        NOT NULL,
    item     text        NOT NULL,
    fen      bigint      NOT NULL,
    counter  text        NOT NULL
);
INSERT INTO snack_shop_meta (key, value) VALUES ('schema_version', '1')
    ON CONFLICT (key) DO NOTHING;
";

/// The columns each of our tables must have: a table by that name without one of them
/// is someone else's, and would fail every purchase later.
const COLUMNS: [(&str, &[&str]); 3] = [
    ("snack_shop_meta", &["key", "value"]),
    (
        "items",
        &["name", "fen", "stocked", "sold", "updated_by", "updated_at"],
    ),
    (
        "sales",
        &["id", "time", "customer", "item", "fen", "counter"],
    ),
];

/// Serialises schema set-up between counters starting at the same moment (two
/// `CREATE TABLE IF NOT EXISTS` racing can fail on a unique index of the catalog).
const SCHEMA_LOCK: i64 = 0x736e_6163_6b5f_7067; // "snack_pg"

/// Creates the tables that are missing and checks all of them. `Err` is a one-line
/// reason, for the caller to prefix with the database's place.
pub fn ensure(client: &mut Client) -> Result<(), String> {
    let text = |e: postgres::Error| super::cause(&e);
    let mut tx = client.transaction().map_err(text)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])
        .map_err(text)?;
    let mut missing = 0;
    for (table, columns) in COLUMNS {
        let rows = tx
            .query(
                "SELECT column_name::text FROM information_schema.columns
                 WHERE table_schema = current_schema() AND table_name = $1",
                &[&table],
            )
            .map_err(text)?;
        let have: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
        if have.is_empty() {
            missing += 1;
        } else if let Some(column) = columns.iter().find(|c| !have.iter().any(|h| h == *c)) {
            return Err(format!(
                "its `{table}` table is not a snack-shop ledger's (no column `{column}`); \
                 use another database or schema"
            ));
        }
    }
    // Only when something is missing: CREATE needs a privilege that a counter
    // running on tables set up by the teacher may not have.
    if missing > 0 {
        tx.batch_execute(SCHEMA).map_err(text)?;
    }
    let version: Option<String> = tx
        .query_opt(
            "SELECT value FROM snack_shop_meta WHERE key = 'schema_version'",
            &[],
        )
        .map_err(text)?
        .map(|row| row.get(0));
    tx.commit().map_err(text)?;
    match version.as_deref().map(str::parse::<i64>) {
        Some(Ok(SCHEMA_VERSION)) => Ok(()),
        Some(Ok(v)) if v > SCHEMA_VERSION => Err(format!(
            "its schema is version {v}, newer than this shop-server's {SCHEMA_VERSION}; \
             use a newer shop-server"
        )),
        _ => Err(format!(
            "its snack_shop_meta has no schema_version {SCHEMA_VERSION} \
             (found {version:?}); use another database or schema"
        )),
    }
}
