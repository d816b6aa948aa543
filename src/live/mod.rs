//! The live view: a browser page on the teacher's projector showing who is in the shop,
//! what each customer sent (bytes, text, 半包 and 粘包), the shop's replies, sales and
//! alerts.
//!
//! The shop side: each connection thread reports through a [`Tap`] (`tap`), which never
//! waits; the `hub` keeps bounded copies (`message`, `ring`), and `state` assembles the
//! JSON when a viewer asks. The viewer side is the HTTP server in `web`.

pub mod web;

mod hub;
mod message;
mod ring;
mod state;
mod tap;

pub use hub::Hub;
pub use tap::Tap;
