//! Reading a goods file, which is outside input too: only a regular file is read (a
//! FIFO would hang the start, `/dev/zero` would never end), and no more than
//! [`MAX_FILE_BYTES`] of it.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::path::Path;

use super::catalog::CatalogError;

/// Largest goods file read, in bytes. A catalog of 100,000 items is about 5 MiB; a file
/// larger than this is a mistake (the wrong file, a log), and is refused before it is
/// read into memory.
pub const MAX_FILE_BYTES: u64 = 16 << 20;

/// Reads a goods file: a regular file of at most [`MAX_FILE_BYTES`], nothing else.
///
/// The type is checked before opening, since opening a FIFO for reading blocks until
/// a writer appears. On Unix the open itself does not block either (`O_NONBLOCK`, in
/// case the path is swapped for a FIFO in between), and the opened file is checked
/// again, so what is read is what was checked.
pub(crate) fn read_goods_file(path: &Path) -> Result<Vec<u8>, CatalogError> {
    let read_error = |error| CatalogError::Read {
        path: path.to_path_buf(),
        error,
    };
    let not_a_file = |kind| CatalogError::NotAFile {
        path: path.to_path_buf(),
        kind,
    };
    let metadata = std::fs::metadata(path).map_err(read_error)?;
    if !metadata.is_file() {
        return Err(not_a_file(file_kind(&metadata)));
    }
    let file = open_without_blocking(path).map_err(read_error)?;
    let metadata = file.metadata().map_err(read_error)?;
    if !metadata.is_file() {
        return Err(not_a_file(file_kind(&metadata)));
    }
    let too_large = || CatalogError::TooLarge {
        path: path.to_path_buf(),
        limit: MAX_FILE_BYTES,
    };
    if metadata.len() > MAX_FILE_BYTES {
        return Err(too_large());
    }
    // The length can change while reading (a file being written): read one byte past
    // the limit to notice, never more.
    let mut bytes = Vec::with_capacity(usize::try_from(metadata.len()).unwrap_or(0));
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large());
    }
    Ok(bytes)
}

#[cfg(unix)]
fn open_without_blocking(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
}

#[cfg(not(unix))]
fn open_without_blocking(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().read(true).open(path)
}

/// What a path that is not a regular file is, for the error message.
fn file_kind(metadata: &std::fs::Metadata) -> &'static str {
    let kind = metadata.file_type();
    if kind.is_dir() {
        return "a directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if kind.is_char_device() || kind.is_block_device() {
            return "a device";
        }
        if kind.is_socket() {
            return "a socket";
        }
    }
    "something else"
}
