//! Guarding a ledger file: one shop-server writes it, and nobody changes it unnoticed.
//!
//! - **One writer per database, whatever its name.** On Unix the server holds an
//!   exclusive `flock` on the database file itself for as long as it runs, so neither
//!   another name for it (a symlink, `./x.db`) nor a deleted lock file gets around it,
//!   and the OS drops the lock when the process dies, even by kill -9. (It does not
//!   touch SQLite's own locks, which are POSIX record locks.) A file with more than one
//!   hard link is refused: SQLite keeps its write-ahead log per *name*, so two names
//!   would mean two logs and lost sales. Windows locks byte ranges that SQLite uses
//!   itself, so there the lock is on `FILE.lock` beside the database, by its full name.
//! - **Removed, renamed or overwritten.** SQLite would go on writing to a file that is
//!   gone, and every sale after that would be lost at the next start. [`Guard::check`]
//!   tells whether the path still names the opened file ([`Identity`]) and whether the
//!   file changed since the shop last wrote it: in WAL mode the shop changes the main
//!   file only when it checkpoints, and it runs every checkpoint itself, so any other
//!   change (`cp backup.db class1.db`) is someone else's.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::LedgerError;

/// What is wrong with a ledger file that was fine when the shop opened it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trouble {
    /// The path no longer names the file: removed, renamed, or another file moved there.
    Gone,
    /// The file was written by someone else (copied over in place).
    Overwritten,
}

/// The one-writer lock and what the shop knows of its file.
pub(super) struct Guard {
    path: PathBuf,
    /// Held for the life of the server.
    _lock: File,
    identity: Identity,
    /// The file as the shop last left it; `None` until [`Guard::settle`].
    seen: Option<Fingerprint>,
}

impl Guard {
    /// Takes the one-writer lock on the ledger at `path` (creating an empty file if
    /// there is none: SQLite takes it as a new database).
    pub(super) fn take(path: &Path) -> Result<Guard, LedgerError> {
        let open_error = |message: String| LedgerError::Open {
            path: path.to_path_buf(),
            message,
        };
        let lock = lock_file(path)?;
        refuse_hard_links(path)?;
        let identity = Identity::of(path).map_err(|e| open_error(e.to_string()))?;
        Ok(Guard {
            path: path.to_path_buf(),
            _lock: lock,
            identity,
            seen: None,
        })
    }

    /// The shop has just written the main file itself (set-up, a checkpoint): remember
    /// it as it is now.
    pub(super) fn settle(&mut self) {
        self.seen = Fingerprint::of(&self.path).ok();
    }

    /// What is wrong with the file, if anything.
    pub(super) fn check(&self) -> Option<Trouble> {
        if !self.identity.is_at(&self.path) {
            return Some(Trouble::Gone);
        }
        match (&self.seen, Fingerprint::of(&self.path)) {
            (Some(seen), Ok(now)) if *seen != now => Some(Trouble::Overwritten),
            (Some(_), Err(_)) => Some(Trouble::Gone),
            _ => None,
        }
    }
}

/// Unix: an exclusive `flock` on the database file itself.
#[cfg(unix)]
fn lock_file(path: &Path) -> Result<File, LedgerError> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| LedgerError::Open {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
    try_lock(file, path, path)
}

/// Windows: an exclusive lock on `FILE.lock`, found by the file's full name.
#[cfg(not(unix))]
fn lock_file(path: &Path) -> Result<File, LedgerError> {
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
    try_lock(file, path, &lock_path)
}

fn try_lock(file: File, path: &Path, locked: &Path) -> Result<File, LedgerError> {
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(LedgerError::InUse {
            path: path.to_path_buf(),
        }),
        Err(TryLockError::Error(e)) => Err(LedgerError::Open {
            path: path.to_path_buf(),
            message: format!("cannot lock {}: {e}", locked.display()),
        }),
    }
}

/// Refuses a ledger file that has more than one name (hard link).
#[cfg(unix)]
fn refuse_hard_links(path: &Path) -> Result<(), LedgerError> {
    use std::os::unix::fs::MetadataExt;
    let links = std::fs::metadata(path).map_or(1, |m| m.nlink());
    if links <= 1 {
        return Ok(());
    }
    Err(LedgerError::Open {
        path: path.to_path_buf(),
        message: format!(
            "has {links} hard links; a ledger must have one name, or a second shop-server \
             could write it under another (copy the file with cp instead of ln)"
        ),
    })
}

#[cfg(not(unix))]
fn refuse_hard_links(_path: &Path) -> Result<(), LedgerError> {
    Ok(())
}

/// Which file a path names: device and inode on Unix. Elsewhere an open SQLite file
/// cannot be removed, so every check passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Identity {
    #[cfg(unix)]
    dev_ino: (u64, u64),
}

impl Identity {
    #[cfg(unix)]
    fn of(path: &Path) -> std::io::Result<Identity> {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(path)?;
        Ok(Identity {
            dev_ino: (meta.dev(), meta.ino()),
        })
    }

    #[cfg(not(unix))]
    fn of(_path: &Path) -> std::io::Result<Identity> {
        Ok(Identity {})
    }

    /// True if `path` still names this file.
    fn is_at(&self, path: &Path) -> bool {
        Identity::of(path).is_ok_and(|now| now == *self)
    }
}

/// What a write to the file changes: its length, and when it was modified. (Not the
/// inode's change time: a new hard link or a chmod changes that, and is no write.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fingerprint {
    len: u64,
    modified: Option<SystemTime>,
}

impl Fingerprint {
    fn of(path: &Path) -> std::io::Result<Fingerprint> {
        let meta = std::fs::metadata(path)?;
        Ok(Fingerprint {
            len: meta.len(),
            modified: meta.modified().ok(),
        })
    }
}
