//! One customer's conversation: a [`Request`] in, a [`Reply`] out.
//!
//! Everything here is pure: no sockets, no bytes, no encodings. The connection loop in
//! [`crate::server::connection`] turns bytes into a `Request`, and a `Reply` back into bytes.
//! That keeps the rules of the shop testable with plain tables of cases.

use super::catalog::Price;
use super::replies::Reply;
use super::stock::{Customer, Purchase, Shop};
use super::words::{BYE, MENU};
use crate::wire::codec::WireEncoding;

/// What a customer asked for, after framing and decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request<'a> {
    /// A blank message: show the greeting again.
    Empty,
    /// `拜拜`.
    Bye,
    /// `菜单`.
    Menu,
    /// Anything else is taken as an item name.
    Buy(&'a str),
    /// The bytes were not valid text in the expected encoding.
    Garbled,
    /// The text held control characters (NUL, escape sequences, ...).
    ControlChars,
    /// The message was longer than the limit.
    TooLong,
}

impl<'a> Request<'a> {
    /// Parses decoded message text. Surrounding whitespace, including the full-width
    /// space U+3000 that Chinese input methods produce, and a stray BOM are ignored.
    pub fn parse(text: &'a str) -> Request<'a> {
        // A byte order mark is not whitespace, but some Windows tools put one in front.
        let text = text.trim();
        let text = text.strip_prefix('\u{feff}').map_or(text, str::trim);
        match text {
            "" => Request::Empty,
            BYE => Request::Bye,
            MENU => Request::Menu,
            _ if text.chars().any(|c| c.is_control() && c != '\t') => Request::ControlChars,
            _ => Request::Buy(text),
        }
    }
}

/// One customer's state: what they have spent so far.
pub struct Session {
    shop: Shop,
    wire: WireEncoding,
    max_line: usize,
    spent: Price,
    customer: Customer,
}

impl Session {
    /// A fresh session with nothing spent.
    pub fn new(shop: Shop, wire: WireEncoding, max_line: usize) -> Session {
        Session {
            shop,
            wire,
            max_line,
            spent: Price(0),
            customer: Customer::new("-"),
        }
    }

    /// The same session, with sales recorded under the customer's `address`.
    pub fn for_customer(mut self, address: &str) -> Session {
        self.customer = Customer::new(address);
        self
    }

    /// The first thing a customer hears.
    pub fn greet(&self) -> Reply {
        Reply::Greeting(self.shop.greeting())
    }

    /// What this customer has spent so far.
    pub fn spent(&self) -> Price {
        self.spent
    }

    /// True if `text`, as a customer's message, means something to the shop: an item
    /// name (sold out or not) or a keyword. `--encoding auto` and the wrong-encoding
    /// hint use it to tell which reading of the bytes the customer meant.
    pub fn knows(&self, text: &str) -> bool {
        match Request::parse(text) {
            Request::Bye | Request::Menu => true,
            Request::Buy(name) => self.shop.sells(name),
            _ => false,
        }
    }

    /// Answers one request. Every request gets exactly one reply. A purchase waits
    /// until it is recorded, with a ledger.
    pub fn handle(&mut self, request: Request<'_>) -> Reply {
        match request {
            Request::Empty => self.greet(),
            Request::Bye => Reply::Bye,
            Request::Menu => Reply::Menu(self.shop.menu()),
            Request::Garbled => Reply::Garbled(self.wire),
            Request::ControlChars => Reply::ControlChars,
            Request::TooLong => Reply::TooLong(self.max_line),
            Request::Buy(name) => match self.shop.buy(name, &self.customer) {
                Purchase::Bought(price) => {
                    self.spent = self.spent.saturating_add(price);
                    Reply::Bought { spent: self.spent }
                }
                Purchase::SoldOut => Reply::SoldOut(name.to_string()),
                Purchase::Unknown => Reply::Unknown,
                Purchase::NotRecorded => Reply::NotRecorded,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shop::catalog::Catalog;

    #[test]
    fn parse_table() {
        let cases = [
            ("西瓜", Request::Buy("西瓜")),
            ("  西瓜\t", Request::Buy("西瓜")),
            ("\u{3000}西瓜\u{3000}", Request::Buy("西瓜")),
            ("拜拜", Request::Bye),
            (" 拜拜 ", Request::Bye),
            ("菜单", Request::Menu),
            ("", Request::Empty),
            ("\u{3000} ", Request::Empty),
            ("a\0b", Request::ControlChars),
            ("\u{1b}[2J", Request::ControlChars),
            ("红 牛", Request::Buy("红 牛")),
            ("\u{feff}西瓜", Request::Buy("西瓜")),
        ];
        for (text, want) in cases {
            assert_eq!(Request::parse(text), want, "{text:?}");
        }
    }

    fn shop(toml: &str) -> Shop {
        Shop::new(Catalog::parse(toml, "test", WireEncoding::Gbk).unwrap())
    }

    #[test]
    fn seed_transcript() {
        let shop = shop(crate::shop::catalog::EMBEDDED);
        let mut s = Session::new(shop, WireEncoding::Gbk, 1024);
        assert_eq!(
            s.greet().to_string(),
            "目前商店还有:瓜子(4.5),西瓜(2),矿泉水(2.5)。请问您需要什么?"
        );
        let steps = [
            ("红牛", "抱歉,您购买的商品目前没有,请选购其他的。", false),
            ("西瓜", "购买成功,余额 -2", false),
            ("瓜子", "购买成功,余额 -6.5", false),
            ("拜拜", "欢迎下次光临", true),
        ];
        for (text, want, closes) in steps {
            let reply = s.handle(Request::parse(text));
            assert_eq!(reply.to_string(), want, "{text}");
            assert_eq!(reply.closes(), closes, "{text}");
        }
    }

    #[test]
    fn state_machine_table() {
        let toml = "[[goods]]\nname = \"西瓜\"\nprice = 2\nstock = 1\n";
        let mut s = Session::new(shop(toml), WireEncoding::Auto, 1024);
        let steps: &[(Request, &str)] = &[
            (Request::Buy("西瓜"), "购买成功,余额 -2"),
            (Request::Buy("西瓜"), "抱歉,西瓜已经卖完了,请选购其他的。"),
            (Request::Empty, "抱歉,商品都卖完了,欢迎下次光临。"),
            (Request::Menu, "菜单:西瓜 2元 已卖完"),
            (
                Request::Garbled,
                "抱歉,无法识别您发送的文字,本店使用 GBK 或 UTF-8 编码,请检查发送端的编码设置。",
            ),
            (
                Request::ControlChars,
                "抱歉,消息中有控制字符,请只发送商品名称。",
            ),
            (Request::TooLong, "抱歉,消息太长了(超过 1024 字节),已忽略。"),
        ];
        for (request, want) in steps {
            assert_eq!(s.handle(*request).to_string(), *want, "{request:?}");
        }
        assert_eq!(s.spent(), Price(200), "a sold-out item costs nothing");
    }

    #[test]
    fn sessions_keep_separate_totals() {
        let shop = shop(crate::shop::catalog::EMBEDDED);
        let mut a = Session::new(shop.clone(), WireEncoding::Gbk, 1024);
        let mut b = Session::new(shop, WireEncoding::Gbk, 1024);
        assert_eq!(
            a.handle(Request::Buy("瓜子")),
            Reply::Bought { spent: Price(450) }
        );
        assert_eq!(
            b.handle(Request::Buy("西瓜")),
            Reply::Bought { spent: Price(200) }
        );
        assert_eq!(
            a.handle(Request::Buy("西瓜")),
            Reply::Bought { spent: Price(650) }
        );
    }

    #[test]
    fn closing_replies() {
        for (reply, closes) in [
            (Reply::Bye, true),
            (Reply::Closing, true),
            (Reply::Idle(5), true),
            (Reply::ShopFull, true),
            (Reply::Busy, true),
            (Reply::MessageTimeout(10), true),
            (Reply::TooManyFromAddress(64), true),
            (Reply::SeatGiven(30), true),
            (Reply::NotRecorded, false),
            (Reply::Unknown, false),
            (Reply::Menu(String::new()), false),
        ] {
            assert_eq!(reply.closes(), closes, "{reply:?}");
        }
    }

    /// With a recorder: a purchase is answered once recorded; one that cannot be
    /// recorded is not sold, not charged, and its piece goes back.
    #[test]
    fn a_purchase_counts_once_recorded() {
        use crate::shop::record::Switch;
        use std::collections::HashMap;
        use std::sync::Arc;

        let toml = "[[goods]]\nname = \"西瓜\"\nprice = 2\nstock = 2\n";
        let catalog = Catalog::parse(toml, "test", WireEncoding::Gbk).unwrap();
        let shop = Shop::with_recorder(catalog, &HashMap::new(), Arc::new(Switch::default()));
        let mut s = Session::new(shop.clone(), WireEncoding::Gbk, 1024);
        assert_eq!(
            s.handle(Request::Buy("西瓜")),
            Reply::Bought { spent: Price(200) }
        );
        assert_eq!(shop.menu(), "菜单:西瓜 2元 剩1");
        shop.close_ledger();
        assert_eq!(s.handle(Request::Buy("西瓜")), Reply::NotRecorded);
        assert_eq!(s.spent(), Price(200), "a failed sale is not charged");
        assert_eq!(shop.menu(), "菜单:西瓜 2元 剩1", "and its piece goes back");
        assert_eq!(shop.sales()[0].count, 1);
    }
}
