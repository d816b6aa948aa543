//! Bytes, and nothing else: framing what a peer sends, writing reply lines, GBK and
//! UTF-8 without silent substitution, and closing politely. Nothing here knows the shop:
//! no item, price or reply; everything above `wire` works with `&str`.
//!
//! - `frame.rs`: a byte stream in, one message at a time out (粘包, the pause rule, the
//!   deadlines); `stream.rs`: the [`Source`] and `Sink` it reads and writes through.
//! - `line.rs`: text in, encoded lines out.
//! - `charset.rs`: GBK, UTF-8 and `--encoding`; [`codec`]: strict decoding and
//!   encoding; `auto.rs`: which charset a message is in when both readings are valid.
//! - `linger.rs`: the lingering close.
//! - `shared_line.rs`: a line sent to many customers, encoded once per charset.

pub(crate) mod auto;
pub(crate) mod charset;
pub mod codec;
pub(crate) mod frame;
pub(crate) mod line;
pub(crate) mod linger;
pub(crate) mod shared_line;
pub(crate) mod stream;

pub use charset::{Charset, WireEncoding};
pub use frame::{
    FLUSH_AFTER, Frame, FrameEnd, FrameError, FrameInfo, FrameReader, Limits, MAX_LINE,
    MESSAGE_TIMEOUT,
};
pub use stream::Source;

pub(crate) use line::LineWriter;
pub use stream::Sink;
pub(crate) use stream::{is_disconnect, is_timeout};
