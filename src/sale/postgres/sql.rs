//! The ledger's statements, prepared once per connection.

/// One sale: takes a piece if one is left and records it, in one statement. No row
/// back: sold out (or an unknown item), and nothing was written.
///
/// `$1` item, `$2` time, `$3` customer, `$4` fen, `$5` counter.
pub const TAKE_ONE: &str = "
WITH taken AS (
    UPDATE items SET sold = sold + 1
    WHERE name = $1 AND (stocked IS NULL OR sold < stocked)
    RETURNING name
)
INSERT INTO sales (time, customer, item, fen, counter)
SELECT $2, $3, name, $4, $5 FROM taken
RETURNING id";

/// A whole batch in one statement (so one transaction and one round trip). It locks
/// the items it wants (`FOR UPDATE`, which waits for another counter's commit and then
/// sees its `sold`) in name order, byte order (`COLLATE "C"`) as Rust sorts names for
/// the other statements, so that no two counters deadlock. It grants each item as many
/// pieces as are left, up to what the batch wants, adds them to `sold`, and inserts a
/// row for the first `granted` sales of each item in the order the customers asked.
/// Returns the `seq` of every sale recorded.
///
/// `$1` seq, `$2` time, `$3` customer, `$4` item, `$5` fen (arrays, one element per
/// sale); `$6` counter.
pub const TAKE_BATCH: &str = "
WITH batch AS (
    SELECT * FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::text[], $5::bigint[])
        AS b(seq, time, customer, item, fen)
),
want AS (
    SELECT item, count(*) AS n FROM batch GROUP BY item
),
locked AS (
    SELECT i.name, CASE WHEN i.stocked IS NULL THEN w.n
                        ELSE least(w.n, greatest(i.stocked - i.sold, 0)) END AS granted
    FROM items i JOIN want w ON w.item = i.name
    ORDER BY i.name COLLATE \"C\"
    FOR UPDATE OF i
),
taken AS (
    UPDATE items i SET sold = i.sold + l.granted
    FROM locked l WHERE i.name = l.name AND l.granted > 0
    RETURNING i.name
),
chosen AS (
    SELECT b.* FROM (
        SELECT b.*, row_number() OVER (PARTITION BY b.item ORDER BY b.seq) AS k FROM batch b
    ) b JOIN locked l ON l.name = b.item
    WHERE b.k <= l.granted
),
inserted AS (
    INSERT INTO sales (time, customer, item, fen, counter)
    SELECT time, customer, item, fen, $6 FROM chosen ORDER BY seq
    RETURNING id
)
SELECT seq FROM chosen";

/// One item's stocked total and the counter that set it, locked until the transaction
/// ends, so that what [`SET_STOCK`] replaces is known. (In one statement with the
/// upsert the row would be read after it: a row updated by the same statement is
/// skipped by `FOR UPDATE`.)
///
/// `$1` name.
pub const OLD_STOCK: &str = "SELECT stocked, updated_by FROM items WHERE name = $1 FOR UPDATE";

/// Sets one item's stocked total and price from a goods file.
///
/// `$1` name, `$2` fen, `$3` stocked (NULL: unlimited), `$4` counter.
pub const SET_STOCK: &str = "
INSERT INTO items (name, fen, stocked, updated_by) VALUES ($1, $2, $3, $4)
ON CONFLICT (name) DO UPDATE
    SET fen = EXCLUDED.fen, stocked = EXCLUDED.stocked,
        updated_by = EXCLUDED.updated_by, updated_at = now()";

/// Every sale, oldest first, times as the SQLite ledger writes them.
pub const SALES: &str = "
SELECT to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),
       customer, item, fen, counter
FROM sales ORDER BY id";
