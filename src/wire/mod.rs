//! Bytes: framing a customer's messages, writing reply lines, encodings, closing politely.

pub mod codec;
pub mod linger;
pub mod protocol;
pub mod shared_line;
