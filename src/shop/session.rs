//! One customer's conversation: a [`Request`] in, a [`Reply`] out.
//!
//! Everything here is pure: no sockets, no bytes, no encodings. The connection loop in
//! [`crate::server::connection`] turns bytes into a `Request`, and a `Reply` back into bytes.
//! That keeps the rules of the shop testable with plain tables of cases.

use std::fmt;
use std::sync::Arc;

use crate::shop::catalog::Price;
use crate::shop::words::{BYE, MENU};
use crate::shop::{Customer, Greeting, Purchase, Shop, Take, Ticket};
use crate::wire::codec::{Charset, WireEncoding};

/// The fixed start of the purchase reply; the customer's running total follows.
pub const BOUGHT_PREFIX: &str = "购买成功,余额 -";

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

/// Everything the server can say. `Display` gives the exact wire text, without the
/// line terminator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// The greeting, as built by [`Shop::greeting`]: shared by every customer.
    Greeting(Arc<Greeting>),
    /// A purchase went through; `spent` is the customer's running total.
    Bought {
        /// Everything this customer has spent in this session.
        spent: Price,
    },
    /// No such item.
    Unknown,
    /// The item exists but is sold out.
    SoldOut(String),
    /// The answer to `拜拜`.
    Bye,
    /// The answer to `菜单`, as built by [`Shop::menu`].
    Menu(String),
    /// The message could not be decoded.
    Garbled(WireEncoding),
    /// The message meant something only when read in the other charset: the customer's
    /// sender uses the wrong encoding. Nothing was sold.
    WrongEncoding {
        /// The charset the customer actually used.
        sent: Charset,
        /// The charset the shop speaks.
        expected: Charset,
        /// The message as the customer meant it.
        text: String,
    },
    /// The message held control characters.
    ControlChars,
    /// The message was longer than the limit (in bytes).
    TooLong(usize),
    /// Sent instead of a greeting when every seat is taken.
    ShopFull,
    /// Sent instead of a greeting when the server cannot start a thread.
    Busy,
    /// Sent to a customer who said nothing for this many seconds.
    Idle(u64),
    /// Sent to a customer whose message was still unfinished after this many seconds.
    MessageTimeout(u64),
    /// Sent instead of a greeting when this many customers from the same address are
    /// already in the shop.
    TooManyFromAddress(usize),
    /// Sent to every customer when the server shuts down.
    Closing,
    /// The ledger could not record a purchase: nothing was sold or charged.
    NotRecorded,
}

impl Reply {
    /// True if the server closes the connection after sending this reply.
    pub fn closes(&self) -> bool {
        matches!(
            self,
            Reply::Bye
                | Reply::ShopFull
                | Reply::Busy
                | Reply::Idle(_)
                | Reply::MessageTimeout(_)
                | Reply::TooManyFromAddress(_)
                | Reply::Closing
        )
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reply::Greeting(greeting) => f.write_str(greeting.text()),
            Reply::Menu(text) => f.write_str(text),
            Reply::Bought { spent } => write!(f, "{BOUGHT_PREFIX}{spent}"),
            Reply::Unknown => f.write_str("抱歉,您购买的商品目前没有,请选购其他的。"),
            Reply::SoldOut(name) => write!(f, "抱歉,{name}已经卖完了,请选购其他的。"),
            Reply::Bye => f.write_str("欢迎下次光临"),
            Reply::Garbled(expected) => write!(
                f,
                "抱歉,无法识别您发送的文字,本店使用 {} 编码,请检查发送端的编码设置。",
                expected.describe()
            ),
            Reply::WrongEncoding {
                sent,
                expected,
                text,
            } => write!(
                f,
                "抱歉,您发送的是 {sent} 编码的「{text}」,本店使用 {expected} 编码,请把发送端的编码改成 {expected}。"
            ),
            Reply::ControlChars => f.write_str("抱歉,消息中有控制字符,请只发送商品名称。"),
            Reply::TooLong(limit) => write!(f, "抱歉,消息太长了(超过 {limit} 字节),已忽略。"),
            Reply::ShopFull => f.write_str("抱歉,本店客满了,请稍后再来。"),
            Reply::Busy => f.write_str("抱歉,服务器忙,请稍后再来。"),
            Reply::Idle(secs) => write!(f, "您已经 {secs} 秒没有说话了,连接将关闭,欢迎下次光临。"),
            Reply::MessageTimeout(secs) => write!(
                f,
                "抱歉,您的消息 {secs} 秒还没有发完,连接将关闭,欢迎下次光临。"
            ),
            Reply::TooManyFromAddress(limit) => write!(
                f,
                "抱歉,您这个地址已经有 {limit} 个连接在本店了,请先关闭一些再来。"
            ),
            Reply::Closing => f.write_str("本店打烊了,欢迎下次光临"),
            Reply::NotRecorded => {
                f.write_str("抱歉,这笔购买没能记入账本,没有成交也没有扣款,请稍后再试。")
            }
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
    /// Purchases are not waited for (see [`Session::set_deferred`]).
    deferred: bool,
    /// The purchase just answered, not yet handed to the ledger.
    unrecorded: Option<Ticket>,
    /// The price of the purchase handed to the ledger and not yet settled.
    in_flight: Option<Price>,
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
            deferred: false,
            unrecorded: None,
            in_flight: None,
        }
    }

    /// With `true`, a purchase the ledger must record is not waited for:
    /// [`Session::handle`] answers `Bought` at once and keeps the sale, which the caller
    /// then hands on with [`Session::submit`]. The total counts it until
    /// [`Session::settled`] says it failed. Without a ledger this changes nothing.
    pub fn set_deferred(&mut self, deferred: bool) {
        self.deferred = deferred;
    }

    /// True if the last request bought a piece that is yet to be handed to the ledger
    /// (only when deferred).
    pub fn has_unrecorded(&self) -> bool {
        self.unrecorded.is_some()
    }

    /// Hands the purchase just answered to the ledger; `then` is told whether it was
    /// committed (see [`Ticket::submit`]). False, and `then` is dropped, if the last
    /// request bought nothing that needs recording.
    pub fn submit(&mut self, then: impl FnOnce(bool) + Send + 'static) -> bool {
        let Some(ticket) = self.unrecorded.take() else {
            return false;
        };
        self.in_flight = Some(ticket.price());
        ticket.submit(&self.customer, then);
        true
    }

    /// The outcome of the purchase handed on with [`Session::submit`]: if it was not
    /// committed, nothing was sold, and its price comes off the total.
    pub fn settled(&mut self, committed: bool) {
        if let Some(price) = self.in_flight.take()
            && !committed
        {
            self.spent = Price(self.spent.0.saturating_sub(price.0));
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

    /// Answers one request. Every request gets exactly one reply.
    pub fn handle(&mut self, request: Request<'_>) -> Reply {
        match request {
            Request::Empty => self.greet(),
            Request::Bye => Reply::Bye,
            Request::Menu => Reply::Menu(self.shop.menu()),
            Request::Garbled => Reply::Garbled(self.wire),
            Request::ControlChars => Reply::ControlChars,
            Request::TooLong => Reply::TooLong(self.max_line),
            Request::Buy(name) => {
                let purchase = match self.shop.take(name) {
                    Take::Unrecorded(ticket) if self.deferred => {
                        let price = ticket.price();
                        // Dropping an earlier ticket that was never submitted puts its
                        // piece back; the caller submits after every purchase.
                        self.unrecorded = Some(ticket);
                        Purchase::Bought(price)
                    }
                    Take::Unrecorded(ticket) => ticket.record(&self.customer),
                    Take::Bought(price) => Purchase::Bought(price),
                    Take::SoldOut => Purchase::SoldOut,
                    Take::Unknown => Purchase::Unknown,
                };
                match purchase {
                    Purchase::Bought(price) => {
                        self.spent = self.spent.saturating_add(price);
                        Reply::Bought { spent: self.spent }
                    }
                    Purchase::SoldOut => Reply::SoldOut(name.to_string()),
                    Purchase::Unknown => Reply::Unknown,
                    Purchase::NotRecorded => Reply::NotRecorded,
                }
            }
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
            (Reply::NotRecorded, false),
            (Reply::Unknown, false),
            (Reply::Menu(String::new()), false),
        ] {
            assert_eq!(reply.closes(), closes, "{reply:?}");
        }
    }

    /// Deferred (the server with a ledger): the purchase is answered at once and kept
    /// for the caller to hand on; the total counts it until it is settled as failed;
    /// a purchase never handed on puts its piece back.
    #[test]
    fn a_deferred_purchase_counts_until_it_is_settled() {
        use crate::sale::Recorder;
        use std::collections::HashMap;
        let toml = "[[goods]]\nname = \"西瓜\"\nprice = 2\nstock = 2\n";
        let catalog = Catalog::parse(toml, "test", WireEncoding::Gbk).unwrap();
        let shop = Shop::with_ledger(catalog, &HashMap::new(), Recorder::in_memory());
        let mut s = Session::new(shop.clone(), WireEncoding::Gbk, 1024);
        s.set_deferred(true);
        assert_eq!(
            s.handle(Request::Buy("西瓜")),
            Reply::Bought { spent: Price(200) }
        );
        assert!(s.has_unrecorded());
        let (tell, told) = std::sync::mpsc::channel();
        assert!(s.submit(move |committed| tell.send(committed).unwrap()));
        assert!(!s.has_unrecorded());
        assert_eq!(
            told.recv_timeout(std::time::Duration::from_secs(20)),
            Ok(true)
        );
        s.settled(true);
        assert_eq!(s.spent(), Price(200));

        // A closed ledger fails every commit.
        shop.close_ledger();
        assert_eq!(
            s.handle(Request::Buy("西瓜")),
            Reply::Bought { spent: Price(400) }
        );
        let (tell, told) = std::sync::mpsc::channel();
        assert!(s.submit(move |committed| tell.send(committed).unwrap()));
        assert_eq!(
            told.recv_timeout(std::time::Duration::from_secs(20)),
            Ok(false)
        );
        s.settled(false);
        assert_eq!(s.spent(), Price(200), "a failed sale comes off the total");
        assert_eq!(shop.menu(), "菜单:西瓜 2元 剩1", "and its piece goes back");
        assert!(!s.submit(|_| {}), "nothing left to hand on");

        // Answered but never handed on: the piece goes back when the session ends.
        let mut t = Session::new(shop.clone(), WireEncoding::Gbk, 1024);
        t.set_deferred(true);
        let before = shop.menu();
        assert!(matches!(
            t.handle(Request::Buy("西瓜")),
            Reply::Bought { .. }
        ));
        drop(t);
        assert_eq!(shop.menu(), before);
    }
}
