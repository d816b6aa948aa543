//! The ledger's own small types: what a counter hands it and what it answers, with no
//! dependency on the shop's, so that the shop's ledger trait can be implemented over it.

use std::time::SystemTime;

/// An item as a counter's goods file gives it: sets the stocked total at start and on
/// reload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stocked {
    /// The item's name.
    pub name: String,
    /// Its price in fen.
    pub fen: u64,
    /// Pieces stocked over the ledger's life; `None`: unlimited.
    pub stocked: Option<u64>,
}

/// A sale waiting to be committed: the customer has asked for one piece.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingSale {
    /// When the customer asked.
    pub time: SystemTime,
    /// The customer's address (`ip:port`).
    pub customer: String,
    /// The item's name.
    pub item: String,
    /// The price it sells at, in fen.
    pub fen: u64,
}

/// What became of one pending sale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Committed: tell the customer `购买成功`.
    Recorded,
    /// The database has none left (or does not know the item); nothing recorded.
    SoldOut,
    /// The batch failed and was rolled back; nothing taken, nothing recorded.
    Failed,
}

/// One `sales` row, as the report reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaleRow {
    /// RFC 3339, UTC, milliseconds: `2026-11-25T16:45:03.127Z`, as the SQLite ledger.
    pub time: String,
    /// The customer's address.
    pub customer: String,
    /// The item's name.
    pub item: String,
    /// The price it was sold at, in fen.
    pub fen: u64,
    /// The counter that sold it.
    pub counter: String,
}

/// What one counter took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Takings {
    /// The counter's name.
    pub counter: String,
    /// Its sales.
    pub sales: u64,
    /// Their sum, in fen.
    pub fen: u64,
}

/// A stocked total that another counter had set and this one changed: logged as one
/// line naming both values (the rule: the last start or reload wins).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "item {item}: stock {} from counter {by} replaced by {} from counter {now_by} (the last start or reload wins)",
    show(*.was),
    show(*.now)
)]
pub struct StockChange {
    /// The item.
    pub item: String,
    /// The total before, and the counter that had set it.
    pub was: Option<u64>,
    /// Which counter had set it.
    pub by: String,
    /// The total now (this counter's goods file).
    pub now: Option<u64>,
    /// This counter.
    pub now_by: String,
}

fn show(stock: Option<u64>) -> String {
    stock.map_or("unlimited".into(), |n| n.to_string())
}
