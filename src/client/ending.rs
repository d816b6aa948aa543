//! How a session ends: each way has its own notice and exit code.

use std::io;
use std::time::Duration;

/// How a session ended.
#[derive(Debug)]
pub enum Ending {
    /// The user's input ended (Ctrl-D, Ctrl-C at an empty prompt, end of a pipe).
    UserLeft,
    /// The server said goodbye (or was told `拜拜`) and closed.
    Goodbye,
    /// The server closed without a goodbye.
    ClosedWithoutGoodbye,
    /// The connection was reset or failed.
    Reset(io::Error),
    /// The server stopped reading: a write did not finish within the send timeout.
    SendStalled(Duration),
}

impl Ending {
    /// The process exit code: 0 when the session ended as intended.
    pub fn exit_code(&self) -> u8 {
        match self {
            Ending::UserLeft | Ending::Goodbye => 0,
            Ending::ClosedWithoutGoodbye => 3,
            Ending::Reset(_) | Ending::SendStalled(_) => 4,
        }
    }

    /// What the user reads (after [`NOTICE_PREFIX`](super::NOTICE_PREFIX)).
    pub fn notice(&self) -> String {
        match self {
            Ending::UserLeft => "您已离开商店,连接已关闭。 · You left; connection closed.".into(),
            Ending::Goodbye => {
                "服务器已道别并关闭了连接。 · The server said goodbye and closed.".into()
            }
            Ending::ClosedWithoutGoodbye => "服务器没有道别就关闭了连接(它可能已停止或出错)。 \
                 · The server closed the connection without a goodbye."
                .into(),
            Ending::Reset(e) => format!(
                "连接被中断(服务器可能已崩溃或重置了连接):{} · Connection lost: {e}",
                os_reason(e)
            ),
            Ending::SendStalled(after) => format!(
                "服务器 {} 秒内没有接收数据(它不读消息?),已断开。 · The server stopped \
                 reading for {}s; disconnected.",
                after.as_secs_f64(),
                after.as_secs_f64()
            ),
        }
    }
}

/// A short Chinese name for common OS errors; the OS text itself is always kept next
/// to it by the callers.
pub fn os_reason(e: &io::Error) -> &'static str {
    use io::ErrorKind::*;
    match e.kind() {
        ConnectionRefused => "对方拒绝连接,那里没有服务器在运行?",
        ConnectionReset | ConnectionAborted => "连接被对方重置",
        BrokenPipe => "对方已关闭连接",
        TimedOut | WouldBlock => "超时",
        NotFound => "找不到这个主机",
        HostUnreachable | NetworkUnreachable => "网络不通",
        AddrNotAvailable => "地址不可用",
        PermissionDenied => "没有权限",
        _ => "出错了",
    }
}
