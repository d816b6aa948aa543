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

/// The sales summary printed at shutdown, Chinese first: one line per item, the
/// total, and, when `untold` is not zero, how many of the pieces sold the customers
/// were never told of (a customer that does not read its replies is cut at shutdown
/// with a reply unsent). What it counts is what was sold: the stock and the ledger
/// say the same.
///
/// ```text
/// 销售汇总 · sales summary:
///   瓜子: 卖出 1 件, 收入 4.5 元, 剩 99 · 1 sold, takings 4.5 yuan, 99 left
///   西瓜: 卖出 3 件, 收入 6 元, 不限量 · 3 sold, takings 6 yuan, unlimited
///   合计: 卖出 4 件, 收入 10.5 元 · total: 4 sold, takings 10.5 yuan
/// ```
pub fn sales_report(sales: &[ItemSales], untold: u64) -> String {
    let mut text = String::from("销售汇总 · sales summary:\n");
    let mut total = Price(0);
    let mut pieces = 0u64;
    for sale in sales {
        let (name, n, takings) = (&sale.name, sale.count, sale.takings);
        let _ = match sale.remaining {
            Some(left) => writeln!(
                text,
                "  {name}: 卖出 {n} 件, 收入 {takings} 元, 剩 {left} · {n} sold, takings {takings} yuan, {left} left"
            ),
            None => writeln!(
                text,
                "  {name}: 卖出 {n} 件, 收入 {takings} 元, 不限量 · {n} sold, takings {takings} yuan, unlimited"
            ),
        };
        total = total.saturating_add(takings);
        pieces += n;
    }
    let _ = write!(
        text,
        "  合计: 卖出 {pieces} 件, 收入 {total} 元 · total: {pieces} sold, takings {total} yuan"
    );
    if untold > 0 {
        let _ = write!(
            text,
            "\n  其中 {untold} 件卖出了但顾客没有收到回复(顾客不读回复, 打烊时连接被切断) · \
             {untold} of them sold but the customer was never told (it was not reading its \
             replies and was cut at shutdown)"
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_first_and_the_untold_only_when_there_are_any() {
        let sales = [
            ItemSales {
                name: "瓜子".into(),
                count: 1,
                takings: Price(450),
                remaining: Some(99),
            },
            ItemSales {
                name: "西瓜".into(),
                count: 3,
                takings: Price(600),
                remaining: None,
            },
        ];
        let want = "销售汇总 · sales summary:
  瓜子: 卖出 1 件, 收入 4.5 元, 剩 99 · 1 sold, takings 4.5 yuan, 99 left
  西瓜: 卖出 3 件, 收入 6 元, 不限量 · 3 sold, takings 6 yuan, unlimited
  合计: 卖出 4 件, 收入 10.5 元 · total: 4 sold, takings 10.5 yuan";
        assert_eq!(sales_report(&sales, 0), want);
        let told = sales_report(&sales, 2);
        assert!(told.starts_with(want));
        assert!(told.ends_with("\n  其中 2 件卖出了但顾客没有收到回复(顾客不读回复, 打烊时连接被切断) · 2 of them sold but the customer was never told (it was not reading its replies and was cut at shutdown)"), "{told}");
    }
}
