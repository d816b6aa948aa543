//! `shop-server report`: what a ledger holds, for the teacher.
//!
//! The text report (Chinese first, then English) gives, per item, pieces sold, takings
//! and remaining stock (SQLite: stock from the goods file minus sold; PostgreSQL: what
//! the database has left), the takings of each counter, and per customer address (one
//! machine, all its connections) its purchases and total. `--csv` gives one row per
//! purchase: `time,customer,item,price,counter`.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;

use super::postgres::PgLedger;
use super::{LedgerError, Readback, SqliteLedger, StoredSale, is_database};
use crate::shop::catalog::{Catalog, Price};

/// A rendered report, and one warning line per ledger row it had to leave out.
#[derive(Debug)]
pub struct Report {
    /// The report, for stdout.
    pub text: String,
    /// What was left out and why, one line each, for stderr.
    pub warnings: Vec<String>,
}

/// What a ledger holds: its name for the report, its sales, and (PostgreSQL) the stock
/// the database has left.
struct Held {
    name: String,
    back: Readback,
    left: Option<HashMap<String, Option<u64>>>,
}

/// Reads the ledger `--ledger` names: an SQLite file or a PostgreSQL database.
fn read(ledger: &Path) -> Result<Held, LedgerError> {
    let Some(url) = ledger.to_str().filter(|l| is_database(l)) else {
        let back = SqliteLedger::open_read_only(ledger)?.read_all()?;
        let name = ledger.display().to_string();
        return Ok(Held {
            name,
            back,
            left: None,
        });
    };
    let failed = |e: super::postgres::PgError| LedgerError::Database(e.to_string());
    let mut db = PgLedger::connect(url, "report").map_err(failed)?;
    let sales = db.sales().map_err(failed)?;
    let left = db.stock().map_err(failed)?;
    let sales = sales
        .into_iter()
        .map(|row| StoredSale {
            time: row.time,
            customer: row.customer,
            item: row.item,
            price: Price(row.fen),
            counter: row.counter,
        })
        .collect();
    Ok(Held {
        name: db.place().to_string(),
        back: Readback {
            sales,
            bad: Vec::new(),
        },
        left: Some(left),
    })
}

/// The text report of the ledger, with the stock of `catalog` (the goods file).
pub fn render_text(ledger: &Path, catalog: &Catalog) -> Result<Report, LedgerError> {
    let held = read(ledger)?;
    let text = text(&held.name, &held.back.sales, catalog, held.left.as_ref());
    Ok(Report::new(text, &held.name, held.back))
}

/// One CSV row per purchase.
pub fn render_csv(ledger: &Path) -> Result<Report, LedgerError> {
    let held = read(ledger)?;
    Ok(Report::new(csv(&held.back.sales), &held.name, held.back))
}

impl Report {
    fn new(text: String, name: &str, back: Readback) -> Report {
        let warnings = back
            .bad
            .iter()
            .map(|problem| {
                format!("警告:账本 {name} 的这一行读不出来,已跳过 · warning: ledger {name}: skipped {problem}")
            })
            .collect();
        Report { text, warnings }
    }
}

/// The CSV header, the same for SQLite and PostgreSQL ledgers.
pub const CSV_HEADER: &str = "time,customer,item,price,counter";

/// One row per purchase, with a header; fields quoted as RFC 4180 wants.
pub fn csv(sales: &[StoredSale]) -> String {
    let mut out = String::from(CSV_HEADER);
    out.push('\n');
    for sale in sales {
        let _ = writeln!(
            out,
            "{},{},{},{},{}",
            csv_field(&sale.time),
            csv_field(&sale.customer),
            csv_field(&sale.item),
            sale.price,
            csv_field(&sale.counter)
        );
    }
    out
}

/// `text` as a CSV field: quoted (quotes doubled) if it holds a comma, quote or newline.
fn csv_field(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\"")).into()
    } else {
        text.into()
    }
}

/// The text report: totals, per item (stock from `catalog`, or what is `left` in the
/// database), per counter, per customer machine.
pub fn text(
    ledger: &str,
    sales: &[StoredSale],
    catalog: &Catalog,
    left: Option<&HashMap<String, Option<u64>>>,
) -> String {
    let mut per_item: HashMap<&str, (u64, Price)> = HashMap::new();
    let mut per_counter: BTreeMap<&str, (u64, Price)> = BTreeMap::new();
    let mut per_customer: BTreeMap<String, (u64, Price, BTreeMap<&str, u64>)> = BTreeMap::new();
    let mut total = Price(0);
    for sale in sales {
        let item = per_item.entry(&sale.item).or_default();
        item.0 += 1;
        item.1 = item.1.saturating_add(sale.price);
        let counter = per_counter.entry(&sale.counter).or_default();
        counter.0 += 1;
        counter.1 = counter.1.saturating_add(sale.price);
        let customer = per_customer.entry(machine(&sale.customer)).or_default();
        customer.0 += 1;
        customer.1 = customer.1.saturating_add(sale.price);
        *customer.2.entry(&sale.item).or_default() += 1;
        total = total.saturating_add(sale.price);
    }
    let n = sales.len();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "账本 {ledger}:共 {n} 笔,收入 {total} 元 · ledger {ledger}: {n} purchases, takings {total} yuan"
    );
    let _ = match left {
        Some(_) => writeln!(
            out,
            "商品(库存来自数据库)· items (stock from the database):"
        ),
        None => {
            let source = catalog.source();
            writeln!(out, "商品(库存来自 {source})· items (stock from {source}):")
        }
    };
    for item in catalog.items() {
        let (sold, takings) = per_item.remove(item.name.as_str()).unwrap_or_default();
        let rest = match left {
            Some(left) => left.get(&item.name).copied().unwrap_or(Some(0)),
            None => item.stock.map(|s| s.saturating_sub(sold)),
        };
        let (zh, en) = rest.map_or(("不限量".into(), "unlimited".into()), |n| {
            (format!("剩 {n}"), n.to_string())
        });
        let _ = writeln!(
            out,
            "  {}:卖出 {sold},收入 {takings} 元,{zh} · {sold} sold, takings {takings} yuan, {en} left",
            item.name
        );
    }
    let mut gone: Vec<_> = per_item.into_iter().collect();
    gone.sort();
    for (name, (sold, takings)) in gone {
        let _ = writeln!(
            out,
            "  {name}:卖出 {sold},收入 {takings} 元,货单上没有 · {sold} sold, takings {takings} yuan, not in the goods file"
        );
    }
    let _ = writeln!(out, "柜台 · counters:");
    for (counter, (count, takings)) in &per_counter {
        let name = if counter.is_empty() {
            "(未记柜台 · not recorded)"
        } else {
            counter
        };
        let _ = writeln!(
            out,
            "  {name}:{count} 笔,收入 {takings} 元 · {count} purchases, takings {takings} yuan"
        );
    }
    let _ = writeln!(out, "顾客 · customers:");
    for (address, (count, spent, items)) in &per_customer {
        let bought: Vec<String> = items
            .iter()
            .map(|(item, n)| format!("{item}×{n}"))
            .collect();
        let bought = bought.join(", ");
        let _ = writeln!(
            out,
            "  {address}:{count} 笔,共 {spent} 元({bought})· {count} purchases, total {spent} yuan"
        );
    }
    out
}

/// The machine of a customer address (`ip:port`): its IP.
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
            counter: if fen > 200 {
                "一号".into()
            } else {
                String::new()
            },
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
            "time,customer,item,price,counter\n\
             2026-11-25T16:00:00.000Z,10.0.0.2:5000,瓜子,4.5,一号\n\
             2026-11-25T16:00:01.000Z,10.0.0.2:5001,西瓜,2,\n\
             2026-11-25T16:00:02.000Z,[::1]:6000,旧货,1.25,\n"
        );
        let catalog = Catalog::parse(
            "[[goods]]\nname = \"瓜子\"\nprice = 4.5\nstock = 10\n\
             [[goods]]\nname = \"西瓜\"\nprice = 2\n",
            "goods.toml",
            WireEncoding::Gbk,
        )
        .unwrap();
        assert_eq!(
            text("class.db", &sales, &catalog, None),
            "账本 class.db:共 3 笔,收入 7.75 元 · ledger class.db: 3 purchases, takings 7.75 yuan\n\
             商品(库存来自 goods.toml)· items (stock from goods.toml):\n  \
             瓜子:卖出 1,收入 4.5 元,剩 9 · 1 sold, takings 4.5 yuan, 9 left\n  \
             西瓜:卖出 1,收入 2 元,不限量 · 1 sold, takings 2 yuan, unlimited left\n  \
             旧货:卖出 1,收入 1.25 元,货单上没有 · 1 sold, takings 1.25 yuan, not in the goods file\n\
             柜台 · counters:\n  \
             (未记柜台 · not recorded):2 笔,收入 3.25 元 · 2 purchases, takings 3.25 yuan\n  \
             一号:1 笔,收入 4.5 元 · 1 purchases, takings 4.5 yuan\n\
             顾客 · customers:\n  \
             10.0.0.2:2 笔,共 6.5 元(瓜子×1, 西瓜×1)· 2 purchases, total 6.5 yuan\n  \
             ::1:1 笔,共 1.25 元(旧货×1)· 1 purchases, total 1.25 yuan\n"
        );
        assert_eq!(csv_field("a,b"), "\"a,b\"");
    }
}
