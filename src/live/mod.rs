//! The live view: a browser page on the teacher's projector showing who is in the shop,
//! what each customer sent (bytes, text, 半包 and 粘包), the shop's replies, sales and
//! alerts.
//!
//! Two halves that meet only in the [`Hub`]:
//!
//! - the shop side: each connection thread reports through a [`Tap`] (`tap`), which
//!   never waits; the `hub` keeps bounded copies (`message`, `ring`), and `state`
//!   assembles the JSON when a viewer asks;
//! - the viewer side: a small read-only HTTP server (`server`: accept loop; `gate`:
//!   viewer limits; `site`: the routes, the token and the page `page.*`; `http`: the
//!   protocol plumbing; `head`: reading a request; `host`: the names it answers to).
//!   `addresses` lists where students can connect.

mod addresses;
mod gate;
mod head;
mod host;
mod http;
mod hub;
mod message;
mod ring;
mod server;
mod site;
mod state;
mod tap;

pub use addresses::{Reachable, reachable};
pub use hub::Hub;
pub use server::{LiveView, parse_addr, start};
pub use tap::Tap;
