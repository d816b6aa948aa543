//! The rules of the shop: the catalog, the stock, one customer's conversation.

pub mod catalog;
pub mod reload;
pub mod session;
mod stock;
pub mod words;

pub use stock::*;
