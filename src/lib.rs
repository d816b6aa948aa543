//! snack-shop: the snack-shop (零食销售系统) exercise from a Python socket tutorial, done
//! properly in Rust: many customers at once, real framing (粘包), and GBK or UTF-8 on the
//! wire without 乱码.
//!
//! # Layout
//!
//! Input flows through one module per layer, and only the first two touch raw bytes:
//!
//! ```text
//! bytes ─ protocol ─ codec ─ session::Request ─ Session (+ shop) ─ session::Reply ─ protocol ─ bytes
//! ```
//!
//! - [`protocol`]: framing. Bytes in, one message at a time out; reply text to line bytes.
//! - [`codec`]: GBK / UTF-8 / auto decoding and encoding that never silently substitutes.
//! - [`catalog`]: `goods.toml` to a validated catalog; prices in integer fen.
//! - [`shop`]: the shared stock handle; purchases are atomic across connections.
//! - [`session`]: one customer's conversation as a pure state machine.
//! - [`connection`]: the loop that wires those together for one connection.
//! - [`server`]: accept loop, seats, thread cache and shutdown.
//! - [`client`]: the terminal client. The server side's layers have client twins here:
//!   `client::frame` cuts the server's bytes into bounded messages (the client's only
//!   raw-byte framing), `client::sanitize` makes them safe for a terminal, and
//!   `client::editor` is the rustyline front end; the loop runs over any reader and screen.
//!
//! The binaries in `src/bin` only parse arguments and call into this library.

pub mod catalog;
pub mod client;
pub mod codec;
pub mod connection;
pub mod protocol;
pub mod server;
pub mod session;
pub mod shop;
