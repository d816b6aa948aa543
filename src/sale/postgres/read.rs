//! What the counters and the report read: stock left for menus, every sale, takings
//! per counter.

use std::collections::HashMap;

use super::{PgError, PgLedger, SaleRow, Takings, sql, to_u64};

impl PgLedger {
    /// What is left of each item: `None` for unlimited. For menus and greetings.
    pub fn stock(&mut self) -> Result<HashMap<String, Option<u64>>, PgError> {
        let rows = self
            .client
            .query(
                "SELECT name, CASE WHEN stocked IS NULL THEN NULL
                        ELSE greatest(stocked - sold, 0) END FROM items",
                &[],
            )
            .map_err(|e| self.query_error(&e))?;
        Ok(rows
            .iter()
            .map(|r| (r.get(0), r.get::<_, Option<i64>>(1).map(to_u64)))
            .collect())
    }

    /// Every sale, oldest first, with the counter that sold it.
    pub fn sales(&mut self) -> Result<Vec<SaleRow>, PgError> {
        let rows = self
            .client
            .query(sql::SALES, &[])
            .map_err(|e| self.query_error(&e))?;
        Ok(rows
            .iter()
            .map(|r| SaleRow {
                time: r.get(0),
                customer: r.get(1),
                item: r.get(2),
                fen: to_u64(r.get(3)),
                counter: r.get(4),
            })
            .collect())
    }

    /// Sales and takings per counter, by counter name.
    pub fn takings(&mut self) -> Result<Vec<Takings>, PgError> {
        let rows = self
            .client
            .query(
                "SELECT counter, count(*), sum(fen)::bigint FROM sales GROUP BY counter ORDER BY counter",
                &[],
            )
            .map_err(|e| self.query_error(&e))?;
        Ok(rows
            .iter()
            .map(|r| Takings {
                counter: r.get(0),
                sales: to_u64(r.get(1)),
                fen: to_u64(r.get(2)),
            })
            .collect())
    }
}
