//! snack-shop: the snack-shop (零食销售系统) exercise from a Python socket tutorial, done
//! properly in Rust: many customers at once, real framing (粘包), and GBK or UTF-8 on the
//! wire without 乱码.
//!
//! # Layout
//!
//! The folders follow a customer's message: bytes (`wire`), the shop's rules (`shop`), a
//! sale (`sale`), and the server that runs them (`server`). Beside them: the live view
//! (`live`), the terminal client (`client`), the log writer and OS signals.
//!
//! - [`wire`]: bytes. `protocol` frames messages and writes lines, `codec` decodes and
//!   encodes GBK / UTF-8 without silent substitution, `linger` closes politely.
//! - [`shop`]: the rules. `catalog` (goods.toml), `words` (the keywords), the stock
//!   (the shared [`shop::Shop`] handle), `session` (one conversation: requests and
//!   replies, every sentence the shop says), `reload` (SIGHUP).
//! - [`sale`]: a purchase until it is recorded: the ledger trait, the group-commit
//!   `writer`, the SQLite ledger, `report`, and the `outbox`.
//! - [`server`]: the accept loop and shutdown, seats, threads, and `connection` (one
//!   customer's loop).
//! - [`live`]: the live view's data, and its HTTP server and page (`live::web`).
//! - [`client`]: the terminal client.
//! - [`logger`]: log lines through a bounded queue to one writer thread.
//! - [`signals`]: OS signals as events (stop, hang-up).

pub mod client;
pub mod live;
mod lock;
pub mod logger;
pub mod sale;
pub mod server;
pub mod shop;
pub mod signals;
pub mod wire;
