//! The rules of the shop: what a customer may say, what the shop answers, and the
//! stock they buy from. No sockets and no bytes here: `wire` turns bytes into text
//! below, and `sale` records what is sold above, through the [`Recorder`] trait this
//! module defines.
//!
//! - `catalog`: goods.toml in, a validated catalog out; `goods_file` reads it within
//!   bounds; `price` is money in integer fen; `auto_clashes` refuses names that
//!   `--encoding auto` could not tell apart.
//! - `words`: the keywords (拜拜, 菜单) that can never be item names.
//! - `shelf` and `stock`: the shared [`Shop`] handle and its atomic counters; a
//!   purchase in flight is `stock/ticket.rs`'s `Ticket`; `stock/view.rs` is the stock a
//!   recorder that decides it (a shared database) shows.
//! - `greeting`: the greeting, built once per change and shared.
//! - `session`: one customer's conversation, a [`Request`] in and a [`Reply`] out.
//! - `replies`: every sentence the shop says.
//! - `record`: how a sale is recorded ([`Recorder`]) and its [`Verdict`].
//! - `summary`: the sales summary printed at shutdown.
//! - `reload`: reading the goods file again on SIGHUP.

mod auto_clashes;
pub mod catalog;
mod goods_file;
mod greeting;
mod price;
pub mod record;
pub mod reload;
mod replies;
pub mod session;
mod shelf;
mod stock;
mod summary;
pub mod words;

pub use record::{Recorder, SaleRecord, StockView, Verdict};
pub use replies::{BOUGHT_PREFIX, Reply};
pub use session::{Request, Session};
pub use stock::{Reloaded, Shop};
pub use summary::sales_report;
