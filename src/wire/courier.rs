//! A socket that another thread may send on without waiting.
//!
//! Only the outbox ([`crate::sale::outbox`]) uses it: the thread that commits a sale
//! sends the purchase reply itself. Nothing else depends on this file.

use std::io::{self, Write};
use std::net::TcpStream;

/// A socket that another thread may send on without waiting.
pub trait Courier: Send + Sync + 'static {
    /// Sends what of `bytes` fits in the socket now, without waiting: how many bytes
    /// went, or a `WouldBlock` error if none fit.
    fn try_send(&self, bytes: &[u8]) -> io::Result<usize>;

    /// Sends all of `bytes`, waiting as long as the socket's write timeout allows.
    fn send_all(&self, bytes: &[u8]) -> io::Result<()>;

    /// Shuts the connection down both ways, which wakes a thread blocked reading it.
    fn cut(&self);
}

impl Courier for TcpStream {
    fn try_send(&self, bytes: &[u8]) -> io::Result<usize> {
        #[cfg(unix)]
        {
            // MSG_DONTWAIT makes this one call non-blocking without changing the
            // socket, which the connection thread is reading in blocking mode;
            // MSG_NOSIGNAL: a customer who has gone is an error, not a SIGPIPE.
            let flags = libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL;
            socket2::SockRef::from(self).send_with_flags(bytes, flags)
        }
        #[cfg(not(unix))]
        {
            // No per-call non-blocking send here: the server does not hand replies to
            // the committer on such platforms (see `crate::sale::outbox::SUPPORTED`).
            let _ = bytes;
            Err(io::ErrorKind::WouldBlock.into())
        }
    }

    fn send_all(&self, bytes: &[u8]) -> io::Result<()> {
        (&mut &*self).write_all(bytes)
    }

    fn cut(&self) {
        let _ = self.shutdown(std::net::Shutdown::Both);
    }
}
