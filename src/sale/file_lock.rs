//! Keeping a ledger file to one shop-server, and noticing when it is replaced.
//!
//! Only one shop-server may write a ledger: it holds an exclusive lock on `FILE.lock`
//! for as long as it runs (the OS drops the lock when the process dies, even by
//! kill -9), and a second server on the same file is refused at start. [`Identity`]
//! tells whether a path still names the file that was opened.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use super::LedgerError;

/// Takes the one-writer lock on `FILE.lock`, creating it if needed.
pub(super) fn take_lock(path: &Path) -> Result<File, LedgerError> {
    // The same ledger named another way (through a symlink, as `./x.db` or by its
    // absolute path) must find the same lock.
    let real = std::fs::canonicalize(path)
        .or_else(|_| {
            let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
            let name = path.file_name().unwrap_or_default();
            std::fs::canonicalize(parent.unwrap_or(Path::new("."))).map(|p| p.join(name))
        })
        .unwrap_or_else(|_| path.to_path_buf());
    let mut name = real.into_os_string();
    name.push(".lock");
    let lock_path = PathBuf::from(name);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| LedgerError::Open {
            path: path.to_path_buf(),
            message: format!("cannot create the lock file {}: {e}", lock_path.display()),
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(LedgerError::InUse {
            path: path.to_path_buf(),
        }),
        Err(TryLockError::Error(e)) => Err(LedgerError::Open {
            path: path.to_path_buf(),
            message: format!("cannot lock {}: {e}", lock_path.display()),
        }),
    }
}

/// Which file a path names: device and inode on Unix. Elsewhere an open SQLite file
/// cannot be removed, so every check passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Identity {
    #[cfg(unix)]
    dev_ino: (u64, u64),
}

impl Identity {
    #[cfg(unix)]
    pub(super) fn of(path: &Path) -> std::io::Result<Identity> {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(path)?;
        Ok(Identity {
            dev_ino: (meta.dev(), meta.ino()),
        })
    }

    #[cfg(not(unix))]
    pub(super) fn of(_path: &Path) -> std::io::Result<Identity> {
        Ok(Identity {})
    }

    /// True if `path` still names this file.
    pub(super) fn is_at(&self, path: &Path) -> bool {
        Identity::of(path).is_ok_and(|now| now == *self)
    }
}
