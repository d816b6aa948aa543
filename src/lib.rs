//! snack-shop: the snack-shop (零食销售系统) exercise from a Python socket tutorial, done
//! properly in Rust: many customers at once, real framing (粘包), and GBK or UTF-8 on the
//! wire without 乱码.
//!
//! # Layout
//!
//! Input flows through one module per layer, and only `protocol` and `codec` touch raw
//! bytes:
//!
//! ```text
//! bytes ─ protocol ─ codec ─ session::Request ─ Session (+ shop) ─ session::Reply
//!                                                                          │
//! bytes ─ protocol::LineWriter ─ codec ─ text ─ connection::ReplyWriter ───┘
//! ```
//!
//! Layers point one way. `protocol` frames messages and writes lines (text + charset →
//! bytes with `\r\n`) and knows nothing of replies; `connection` turns a `Reply` into
//! text and decides the charset; `catalog` and `session` share the keywords through
//! `words` rather than importing each other.
//!
//! - [`protocol`]: framing. Bytes in, one message at a time out; line text to line bytes.
//! - [`codec`]: GBK / UTF-8 / auto decoding and encoding that never silently substitutes.
//! - [`words`]: the keywords (拜拜, 菜单) that can never be item names.
//! - [`catalog`]: `goods.toml` to a validated catalog; prices in integer fen.
//! - [`shop`]: the shared stock handle, the in-memory truth for stock checks; purchases
//!   are atomic across connections, and the greeting is built once and shared.
//! - [`ledger`]: where sales are recorded before they are acknowledged (SQLite,
//!   `--ledger`), behind a small trait; its `writer` submodule is the group-commit
//!   thread, its `report` submodule is `shop-server report`.
//! - [`reload`]: reading the goods file again on SIGHUP, without dropping anyone.
//! - [`session`]: one customer's conversation as a pure state machine.
//! - [`connection`]: the loop that wires those together for one connection, and turns
//!   each reply into a line.
//! - [`outbox`]: with a ledger, the purchase reply in flight: `connection` encodes it
//!   (through `protocol`) and hands it over with the sale; whoever commits the sale
//!   sends those bytes as they are, so the connection thread need not wait for the
//!   commit.
//! - [`server`]: the accept loop and shutdown; its `seats` submodule holds the seat guard
//!   and the live map (seats in all and per address), its `threads` submodule the thread
//!   cache and the workers, its `linger` submodule the lingering close, its `watched`
//!   submodule the customer's socket as the framer reads it (woken at shutdown on
//!   Windows too).
//! - [`client`]: the terminal client. The server side's layers have client twins here:
//!   `client::frame` cuts the server's bytes into bounded messages (the client's only
//!   raw-byte framing), `client::sanitize` makes them safe for a terminal, and
//!   `client::editor` is the rustyline front end; the loop runs over any reader and screen.
//! - [`live`]: the live view's data. Connections report to it through a `Tap` and never
//!   wait for it; it keeps raw bytes only as copies, shown as hex through `codec`.
//! - [`web`]: the live view's read-only HTTP server and page; it reads `live` only.
//! - [`logger`]: log lines through a bounded queue to one writer thread, so a stalled
//!   stderr never stalls a customer.
//! - [`signals`]: OS signals as events (stop, hang-up): signal-hook on Unix, ctrlc on Windows.
//! - [`console`]: a double-clicked program's window on Windows: wait for Enter before it
//!   closes, ask the client's address.
//! - [`banner`]: the addresses to give students, in big lines (`shop-server --banner`).
//!
//! The binaries in `src/bin` only parse arguments and call into this library.

pub mod banner;
pub mod catalog;
pub mod client;
pub mod codec;
pub mod connection;
pub mod console;
pub mod ledger;
pub mod live;
pub mod logger;
pub mod outbox;
pub mod protocol;
pub mod reload;
pub mod server;
pub mod session;
pub mod shop;
pub mod signals;
pub mod web;
pub mod words;
