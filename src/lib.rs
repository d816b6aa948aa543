//! snack-shop: the snack-shop (零食销售系统) exercise from a Python socket tutorial, done
//! properly in Rust: many customers at once, real framing (粘包), and GBK or UTF-8 on the
//! wire without 乱码.
//!
//! # Layout
//!
//! The folders follow a customer's message, and each layer imports only the ones below
//! it:
//!
//! ```text
//! bytes ─ wire ─ text ─ shop::Request ─ shop::Session ─ Shop::buy ─ shop::Recorder
//!                                                                      │ (sale implements it)
//! bytes ─ wire ─ text ─ shop::Reply ◄──────────────────────────────────┘
//!        server: accepts customers and runs the loop above for each one
//! ```
//!
//! - `wire`: bytes and nothing else. `frame` cuts a byte stream into messages (粘包,
//!   the pause rule, deadlines) over a `stream`; `line` writes reply lines;
//!   `charset`, [`codec`] and `auto` decode and encode GBK / UTF-8 without silent
//!   substitution; `shared_line` encodes a line once for many customers; `linger` closes
//!   politely. Nothing here knows the shop.
//! - `shop`: the rules, no sockets. `catalog` (`goods_file`, `price`, `auto_clashes`)
//!   turns goods.toml into items; `words` are the keywords; `shelf` and `stock` are the
//!   [`Shop`] handle and its atomic counters (a purchase in flight is `stock/ticket.rs`'s
//!   `Ticket`; `stock/view.rs` the stock a shared database decides); `greeting`;
//!   `session` answers one customer; `replies` holds every sentence the shop says;
//!   `record` says how a sale is recorded (the `Recorder` trait and its `Verdict`);
//!   `summary` is the shutdown summary; `reload` rereads goods.toml on SIGHUP.
//! - `sale`: recording a sale. The `Ledger` trait (a store of sales), the group-commit
//!   `writer` that implements the shop's `Recorder` over it, `store` (its failures and
//!   alarm), `sqlite` (with `sqlite/schema.rs`) and its `guard` (one writer per file;
//!   removed or overwritten files), [`postgres`] (one stock for several counters:
//!   `counter` is its `Recorder`, `link` reconnects, `doubt` settles a commit cut off),
//!   `faults` (a test seam), and `report` (`shop-server report`).
//! - [`server`]: the accept loop (`mod.rs`) with `seats` (and `silence`: whose seat a
//!   newcomer may take), `threads`, `watched` and `shutdown`; `connection` is one
//!   customer's loop; `config` the options; `counter` the counter's name; `app` the
//!   wiring `shop-server` runs (catalog, ledger, shop, live view, signals, summary), with
//!   `banner` for the classroom.
//! - `live`: the teacher's live view: connections report through a `tap` to the `hub`
//!   (bounded `ring`s of `message` copies), `state` makes the JSON; `server` accepts
//!   viewers within the `gate`'s limits, `head` and `http` read and answer requests,
//!   `host` refuses names that are not this server's, `site` routes (token, page);
//!   `addresses` lists where students can connect.
//! - [`client`]: `shop-client`'s library: options, the server `reader`, the `input`
//!   loop and `controller`, the rustyline `editor`, `sanitize` for the terminal.
//! - [`logger`]: log lines through a bounded queue to one writer thread, so a stalled
//!   stderr never stalls a customer. `lock`: the one way to take a lock.
//! - `signals`: OS signals as actions (stop, hang-up): signal-hook on Unix, ctrlc on
//!   Windows. [`console`]: a double-clicked program's window on Windows (wait for
//!   Enter before it closes; the client asks for the address).
//!
//! Where to change what: the reply to an unknown item is in `src/shop/replies.rs`; how a
//! purchase is recorded is `src/shop/record.rs` (the trait) and `src/sale/` (the ledger);
//! what the live view shows is `src/live/state.rs` and `src/live/page.js`.
//!
//! The public face below is what the binaries, `tests/` and `examples/` use; the rest is
//! private.

pub mod client;
pub mod console;
mod live;
mod lock;
pub mod logger;
mod sale;
pub mod server;
mod shop;
mod signals;
mod wire;

pub use live::Tap;
pub use sale::Durability;
/// The PostgreSQL ledger's own API, which its tests (tests/pg_ledger.rs) drive directly.
pub use sale::postgres;
pub use server::connection::{End, ReplyWriter, converse};
pub use shop::catalog::{Catalog, EMBEDDED, FORBIDDEN_IN_NAMES, MAX_FILE_BYTES, Price};
pub use shop::{Reply, Request, Session, Shop};
pub use wire::{
    Charset, Frame, FrameError, FrameReader, Limits, MAX_LINE, MESSAGE_TIMEOUT, Sink, Source,
    WireEncoding, codec,
};
