//! The two ends of a byte stream the wire code works through, and what its errors mean.
//!
//! [`Source`] is what the framer reads from (a socket, a byte slice, a scripted source in
//! tests), [`Sink`] where reply bytes go. The helpers below tell a read timeout from a
//! vanished peer, on Unix and Windows alike.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// A byte source the framer can read from and whose read timeout it can change.
///
/// The framer turns its deadlines (flush, message, idle) into the timeout of the next
/// read, so it needs to tell the socket, and it needs a clock. In-memory sources have
/// no timeouts and keep the default no-op; scripted sources in tests bring their own
/// clock, so that deadlines are tested without sleeping.
pub trait Source: Read {
    /// Sets how long the next read may block; `None` means forever.
    fn set_read_timeout(&mut self, _timeout: Option<Duration>) -> io::Result<()> {
        Ok(())
    }

    /// The time now, by the clock the deadlines are measured with.
    fn now(&self) -> Instant {
        Instant::now()
    }
}

impl Source for &[u8] {}

impl Source for &TcpStream {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_read_timeout(self, timeout)
    }
}

impl Source for TcpStream {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_read_timeout(self, timeout)
    }
}

/// Where reply bytes go.
pub trait Sink: Write {
    /// Writes the last reply of a conversation; the caller closes the stream next.
    ///
    /// A socket may hold these bytes back until that close, so that they leave in one
    /// segment with the FIN. The default writes and flushes.
    fn write_last(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.write_all(bytes)?;
        self.flush()
    }
}

impl Sink for Vec<u8> {}

impl<S: Sink + ?Sized> Sink for &mut S {
    fn write_last(&mut self, bytes: &[u8]) -> io::Result<()> {
        (**self).write_last(bytes)
    }
}

impl Sink for &TcpStream {
    /// On Linux the goodbye waits in the socket (`TCP_CORK`) until the close, which
    /// sends it with the FIN flag set: one packet instead of two, and the customer wakes
    /// once to read the goodbye and the end of the stream together. The close comes
    /// microseconds later; should it not, Linux sends corked data after 200 ms anyway.
    fn write_last(&mut self, bytes: &[u8]) -> io::Result<()> {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        socket2::SockRef::from(*self).set_tcp_cork(true)?;
        self.write_all(bytes)
    }
}

/// The shortest read timeout the framer sets: a zero timeout is invalid for a socket.
pub const MIN_READ_TIMEOUT: Duration = Duration::from_millis(1);

/// Whether a read timeout of `have` serves for `want` (`None`: none): within 1/32 of
/// `want`, either way (see `FrameReader::wait_until`), so that moving a deadline a
/// little costs no system call.
pub fn timeout_close_enough(have: Option<Duration>, want: Option<Duration>) -> bool {
    match (have, want) {
        (None, None) => true,
        (Some(have), Some(want)) => have.abs_diff(want) <= (want / 32).max(MIN_READ_TIMEOUT),
        _ => false,
    }
}

/// A read timeout shows up as `WouldBlock` on Unix and `TimedOut` on Windows.
pub fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Errors that mean "the peer went away", which is how conversations end, not a fault.
/// Windows peers often close with a reset rather than a FIN.
pub fn is_disconnect(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof
            | io::ErrorKind::NotConnected
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disconnect_kinds() {
        use io::ErrorKind::*;
        for (kind, want) in [
            (ConnectionReset, true),
            (BrokenPipe, true),
            (UnexpectedEof, true),
            (PermissionDenied, false),
            (WouldBlock, false),
        ] {
            assert_eq!(is_disconnect(&kind.into()), want, "{kind:?}");
        }
    }
}
