//! The words a customer can say that are not item names.
//!
//! A module of its own so that both [`crate::shop::catalog`] (which refuses an item named like
//! a keyword) and [`crate::shop::session`] (which answers the keywords) can use them without
//! importing each other.

/// Says goodbye; the server answers and closes.
pub const BYE: &str = "拜拜";
/// Asks for the full list of goods with prices and stock.
pub const MENU: &str = "菜单";
/// Words with a meaning of their own, which therefore cannot be item names.
pub const RESERVED_WORDS: &[&str] = &[BYE, MENU];
