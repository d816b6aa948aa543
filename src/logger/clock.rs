//! The time at the start of each log line.

use std::time::SystemTime;

/// Formats times as RFC 3339 UTC seconds (`2026-11-25T16:27:38Z`, as env_logger's
/// `timestamp_seconds` did), reusing the text while the second stays the same.
#[derive(Default)]
pub(super) struct Clock {
    second: Option<u64>,
    text: String,
}

impl Clock {
    pub(super) fn format(&mut self, at: SystemTime) -> &str {
        let second = at
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if self.second != Some(second) {
            self.second = Some(second);
            self.text = match jiff::Timestamp::try_from(at) {
                Ok(ts) => format!("{ts:.0}"),
                Err(_) => format!("@{second}"),
            };
        }
        &self.text
    }
}
