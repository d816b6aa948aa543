//! The sales summary: what each item sold in this run, printed at shutdown.

use std::fmt::Write as _;

use super::catalog::Price;

/// What one item sold in this run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemSales {
    /// Item name.
    pub name: String,
    /// Pieces sold in this run.
    pub count: u64,
    /// Money taken for them, each at the price it was sold at.
    pub takings: Price,
    /// Pieces left, `None` if unlimited. An item no longer in the catalog has none.
    pub remaining: Option<u64>,
}

/// The sales summary printed at shutdown: one line per item, then the total.
pub fn sales_report(sales: &[ItemSales]) -> String {
    let mut text = String::from("sales summary:\n");
    let mut total = Price(0);
    let mut pieces = 0u64;
    for sale in sales {
        let left = sale
            .remaining
            .map_or("unlimited".to_string(), |n| n.to_string());
        let _ = writeln!(
            text,
            "  {}: {} sold, takings {} yuan, {} left",
            sale.name, sale.count, sale.takings, left
        );
        total = total.saturating_add(sale.takings);
        pieces += sale.count;
    }
    let _ = write!(text, "  total: {pieces} sold, takings {total} yuan");
    text
}
