//! Every sentence the shop says to a customer, in one place.
//!
//! [`Reply`] is everything the server can answer; its `Display` is the exact wire text
//! (without the line terminator). The greeting and the menu are built here too, from
//! the stock as it is. Changing what the shop says is one edit in this file.

use std::fmt::{self, Write as _};
use std::sync::Arc;

use super::catalog::{Item, Price};
use super::greeting::Greeting;
use crate::wire::codec::{Charset, WireEncoding};

/// The fixed start of the purchase reply; the customer's running total follows.
pub const BOUGHT_PREFIX: &str = "购买成功,余额 -";

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
    /// Sent to a customer silent this many seconds whose seat went to a newcomer
    /// because every seat was taken.
    SeatGiven(u64),
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
                | Reply::SeatGiven(_)
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
            Reply::SeatGiven(secs) => write!(
                f,
                "本店客满了,您已经 {secs} 秒没有说话,座位让给了新来的顾客,连接将关闭,欢迎下次光临。"
            ),
            Reply::Closing => f.write_str("本店打烊了,欢迎下次光临"),
            Reply::NotRecorded => {
                f.write_str("抱歉,这笔购买没能记入账本,没有成交也没有扣款,请稍后再试。")
            }
        }
    }
}

/// The greeting text: the items in stock with their prices, in catalog order:
/// `目前商店还有:瓜子(4.5),西瓜(2),矿泉水(2.5)。请问您需要什么?`. O(items).
pub(crate) fn greeting<'a>(stock: impl Iterator<Item = (&'a Item, Option<u64>)>) -> String {
    let mut text = String::from("目前商店还有:");
    let mut any = false;
    for (item, remaining) in stock {
        if remaining == Some(0) {
            continue;
        }
        if any {
            text.push(',');
        }
        any = true;
        let _ = write!(text, "{}({})", item.name, item.price);
    }
    if !any {
        return "抱歉,商品都卖完了,欢迎下次光临。".to_string();
    }
    text.push_str("。请问您需要什么?");
    text
}

/// The answer to `菜单`: every item, its price and its remaining stock, on one line.
pub(crate) fn menu<'a>(stock: impl Iterator<Item = (&'a Item, Option<u64>)>) -> String {
    let mut text = String::from("菜单:");
    for (i, (item, remaining)) in stock.enumerate() {
        if i > 0 {
            text.push(',');
        }
        let _ = match remaining {
            None => write!(text, "{} {}元 不限量", item.name, item.price),
            Some(0) => write!(text, "{} {}元 已卖完", item.name, item.price),
            Some(n) => write!(text, "{} {}元 剩{}", item.name, item.price, n),
        };
    }
    text
}
