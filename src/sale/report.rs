//! `shop-server report`: what a ledger holds, for the teacher.
//!
//! The text report gives, per item, pieces sold, takings and remaining stock (stock
//! from the goods file minus sold), and per customer address (one machine, all its
//! connections) its purchases and total. `--csv` gives one row per purchase.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;

use super::{LedgerError, Readback, SqliteLedger, StoredSale};
use crate::shop::catalog::{Catalog, Price};

/// A rendered report, and one warning line per ledger row it had to leave out.
#[derive(Debug)]
pub struct Report {
    /// The report, for stdout.
    pub text: String,
    /// What was left out and why, one line each, for stderr.
    pub warnings: Vec<String>,
}

/// Reads the ledger file at `path` (without disturbing a server that is writing it)
/// and renders the [`text`] report, with stock from `catalog`.
pub fn render_text(path: &Path, catalog: &Catalog) -> Result<Report, LedgerError> {
    let back = SqliteLedger::open_read_only(path)?.read_all()?;
    let text = text(&path.display().to_string(), &back.sales, catalog);
    Ok(Report::new(text, path, back))
}

/// Reads the ledger file at `path` and renders it as [`csv`]: no goods file needed.
pub fn render_csv(path: &Path) -> Result<Report, LedgerError> {
    let back = SqliteLedger::open_read_only(path)?.read_all()?;
    Ok(Report::new(csv(&back.sales), path, back))
}

impl Report {
    fn new(text: String, path: &Path, back: Readback) -> Report {
        let warnings = back
            .bad
            .iter()
            .map(|problem| {
                format!(
                    "警告:账本 {} 的这一行读不出来,已跳过 · warning: ledger {}: skipped {problem}",
                    path.display(),
                    path.display()
                )
            })
            .collect();
        Report { text, warnings }
    }
}

/// The CSV header, exactly as issue 12 gives it.
pub const CSV_HEADER: &str = "time,customer,item,price";

/// One row per purchase, oldest first, after [`CSV_HEADER`]. Prices are in yuan as
/// the shop writes them (`4.5`, `2`).
pub fn csv(sales: &[StoredSale]) -> String {
    let mut out = String::from(CSV_HEADER);
    out.push('\n');
    for sale in sales {
        let _ = writeln!(
            out,
            "{},{},{},{}",
            csv_field(&sale.time),
            csv_field(&sale.customer),
            csv_field(&sale.item),
            sale.price
        );
    }
    out
}

/// Quotes a field if it needs it (RFC 4180).
fn csv_field(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\"")).into()
    } else {
        text.into()
    }
}

/// The text report. `ledger` names the file in the first line; `catalog` gives the
/// stock, and the order of items (items sold but no longer in it come last).
pub fn text(ledger: &str, sales: &[StoredSale], catalog: &Catalog) -> String {
    let mut per_item: HashMap<&str, (u64, Price)> = HashMap::new();
    let mut per_customer: BTreeMap<String, (u64, Price, BTreeMap<&str, u64>)> = BTreeMap::new();
    let mut total = Price(0);
    for sale in sales {
        let item = per_item.entry(&sale.item).or_default();
        item.0 += 1;
        item.1 = item.1.saturating_add(sale.price);
        let customer = per_customer.entry(machine(&sale.customer)).or_default();
        customer.0 += 1;
        customer.1 = customer.1.saturating_add(sale.price);
        *customer.2.entry(&sale.item).or_default() += 1;
        total = total.saturating_add(sale.price);
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "ledger {ledger}: {} purchases, takings {total} yuan",
        sales.len()
    );
    let _ = writeln!(out, "items (stock from {}):", catalog.source());
    for item in catalog.items() {
        let (sold, takings) = per_item.remove(item.name.as_str()).unwrap_or_default();
        let left = item.stock.map_or("unlimited".to_string(), |s| {
            s.saturating_sub(sold).to_string()
        });
        let _ = writeln!(
            out,
            "  {}: {sold} sold, takings {takings} yuan, {left} left",
            item.name
        );
    }
    let mut gone: Vec<_> = per_item.into_iter().collect();
    gone.sort();
    for (name, (sold, takings)) in gone {
        let _ = writeln!(
            out,
            "  {name}: {sold} sold, takings {takings} yuan, not in the goods file"
        );
    }
    let _ = writeln!(out, "customers:");
    for (address, (count, spent, items)) in &per_customer {
        let bought: Vec<String> = items
            .iter()
            .map(|(item, n)| format!("{item}×{n}"))
            .collect();
        let _ = writeln!(
            out,
            "  {address}: {count} purchases, total {spent} yuan ({})",
            bought.join(", ")
        );
    }
    out
}

/// The machine of a customer address: `192.168.1.23:51234` → `192.168.1.23`. A
/// student who reconnects gets a new port but is the same customer.
fn machine(address: &str) -> String {
    address
        .parse::<SocketAddr>()
        .map_or_else(|_| address.to_string(), |a| a.ip().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::codec::WireEncoding;

    fn sale(time: &str, customer: &str, item: &str, fen: u64) -> StoredSale {
        StoredSale {
            time: time.into(),
            customer: customer.into(),
            item: item.into(),
            price: Price(fen),
        }
    }

    #[test]
    fn csv_and_text() {
        let sales = [
            sale("2026-11-25T16:00:00.000Z", "10.0.0.2:5000", "瓜子", 450),
            sale("2026-11-25T16:00:01.000Z", "10.0.0.2:5001", "西瓜", 200),
            sale("2026-11-25T16:00:02.000Z", "[::1]:6000", "旧货", 125),
        ];
        assert_eq!(
            csv(&sales),
            "time,customer,item,price\n\
             2026-11-25T16:00:00.000Z,10.0.0.2:5000,瓜子,4.5\n\
             2026-11-25T16:00:01.000Z,10.0.0.2:5001,西瓜,2\n\
             2026-11-25T16:00:02.000Z,[::1]:6000,旧货,1.25\n"
        );
        let catalog = Catalog::parse(
            "[[goods]]\nname = \"瓜子\"\nprice = 4.5\nstock = 10\n\
             [[goods]]\nname = \"西瓜\"\nprice = 2\n",
            "goods.toml",
            WireEncoding::Gbk,
        )
        .unwrap();
        assert_eq!(
            text("class.db", &sales, &catalog),
            "ledger class.db: 3 purchases, takings 7.75 yuan\n\
             items (stock from goods.toml):\n  \
             瓜子: 1 sold, takings 4.5 yuan, 9 left\n  \
             西瓜: 1 sold, takings 2 yuan, unlimited left\n  \
             旧货: 1 sold, takings 1.25 yuan, not in the goods file\n\
             customers:\n  \
             10.0.0.2: 2 purchases, total 6.5 yuan (瓜子×1, 西瓜×1)\n  \
             ::1: 1 purchases, total 1.25 yuan (旧货×1)\n"
        );
        assert_eq!(csv_field("a,b"), "\"a,b\"");
    }
}
