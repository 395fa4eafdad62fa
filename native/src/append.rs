//! A category's batch appended to its file under the file's lock, in one call
//! without the GIL: what `asgi_audit.store.files.AppendFile.append` does when
//! nothing has changed since its last append.
//!
//! The Python method lets the GIL go at each of its five system calls (flock,
//! the lock file's stat, the file's stat, write, unlock), and the writer's thread
//! may wait up to CPython's switch interval to take it back from a busy event
//! loop each time. Here the five run in a row and the GIL is taken back once.
//!
//! Anything out of the ordinary is left to the Python method, which makes the
//! same checks and knows what to do: a lock file or a log file that is no longer
//! the one held open (deleted, rotated, replaced), a rotation that may be due, a
//! lock that cannot be taken. [`append`] then returns [`Appended::Ask`] with the
//! lock released and nothing written. A failed write is cut back to the file's
//! size before it, as the Python method does, and returned as its `errno`.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// What [`append`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Appended {
    /// The whole batch is in the file; its size after the write.
    Written(u64),
    /// Nothing written, the lock released: the Python method must take this one.
    Ask,
    /// The write failed with this `errno`; the file is cut back to its size before.
    Failed(i32),
}

/// An open file's identity: its device and inode numbers.
pub type Ident = (u64, u64);

/// When a rotation may be due (`asgi_audit.store.rotation.RotationPolicy.bounds`):
/// a file of `size` bytes before the batch is left to the Python method when
/// `size + len(data) > max_bytes`, or when its mtime is outside `[low, high)`.
#[derive(Clone, Copy, Debug)]
pub struct Bounds {
    pub max_bytes: Option<u64>,
    pub low: f64,
    pub high: f64,
}

impl Bounds {
    /// From `RotationPolicy.bounds()`: `(max_bytes or -1, low, high)`.
    #[must_use]
    pub fn from_tuple((max_bytes, low, high): (i64, f64, f64)) -> Self {
        Bounds {
            max_bytes: u64::try_from(max_bytes).ok(),
            low,
            high,
        }
    }
}

/// The open file descriptors and what they were when opened.
#[derive(Clone, Copy, Debug)]
pub struct Held<'a> {
    pub lock_fd: i32,
    pub lock_path: &'a Path,
    pub lock_ident: Ident,
    pub fd: i32,
    pub path: &'a Path,
    pub ident: Ident,
}

fn errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

fn flock(fd: i32, operation: i32) -> Result<(), i32> {
    loop {
        // SAFETY: flock on a descriptor the caller holds open; no memory is passed.
        if unsafe { libc::flock(fd, operation) } == 0 {
            return Ok(());
        }
        let error = errno();
        if error != libc::EINTR {
            return Err(error);
        }
    }
}

fn ident_of(meta: &fs::Metadata) -> Ident {
    (meta.dev(), meta.ino())
}

/// The mtime as Python's `os.stat_result.st_mtime` gives it.
fn mtime_of(meta: &fs::Metadata) -> f64 {
    meta.mtime() as f64 + meta.mtime_nsec() as f64 * 1e-9
}

/// The most buffers one `writev` takes (POSIX's `IOV_MAX` on Linux).
const IOV_MAX: usize = 1024;

/// Writes all of `pieces`, in order, at the end of `fd` (opened with
/// `O_APPEND`) with `writev` (no copy into one buffer), or cuts the file back to
/// `size` and returns the `errno`.
fn write_all(fd: i32, pieces: &[&[u8]], size: u64) -> Result<(), i32> {
    let mut piece = 0; // the first piece not yet whole in the file
    let mut offset = 0; // how much of it is
    let mut done = false;
    while piece < pieces.len() {
        if pieces[piece].len() == offset {
            piece += 1;
            offset = 0;
            continue;
        }
        let iov: Vec<libc::iovec> = pieces[piece..]
            .iter()
            .take(IOV_MAX)
            .enumerate()
            .map(|(i, p)| {
                let p = if i == 0 { &p[offset..] } else { p };
                libc::iovec {
                    iov_base: p.as_ptr() as *mut libc::c_void,
                    iov_len: p.len(),
                }
            })
            .collect();
        // SAFETY: each iovec points into a live slice of its length; `fd` is open.
        let wrote = unsafe { libc::writev(fd, iov.as_ptr(), iov.len() as libc::c_int) };
        if wrote < 0 {
            let error = errno();
            if error == libc::EINTR {
                continue;
            }
            if done {
                // Never leave half a batch: under the lock nobody wrote after us.
                // SAFETY: ftruncate on a descriptor the caller holds open.
                let _ = unsafe { libc::ftruncate(fd, size as libc::off_t) };
            }
            return Err(error);
        }
        let mut wrote = wrote as usize;
        done |= wrote > 0;
        while wrote > 0 {
            let left = pieces[piece].len() - offset;
            if wrote < left {
                offset += wrote;
                wrote = 0;
            } else {
                wrote -= left;
                piece += 1;
                offset = 0;
            }
        }
    }
    Ok(())
}

/// Appends `pieces` (one batch, in order) to the held file under its lock,
/// unless something is out of the ordinary (see the module).
pub fn append(held: Held<'_>, pieces: &[&[u8]], bounds: Option<Bounds>) -> Appended {
    let length: u64 = pieces.iter().map(|p| p.len() as u64).sum();
    if flock(held.lock_fd, libc::LOCK_EX).is_err() {
        return Appended::Ask;
    }
    let unlock = |result: Appended| {
        // An unlock that fails leaves the lock to the descriptor's close.
        let _ = flock(held.lock_fd, libc::LOCK_UN);
        result
    };
    match fs::metadata(held.lock_path) {
        Ok(meta) if ident_of(&meta) == held.lock_ident => {}
        _ => return unlock(Appended::Ask),
    }
    let meta = match fs::metadata(held.path) {
        Ok(meta) if ident_of(&meta) == held.ident => meta,
        _ => return unlock(Appended::Ask),
    };
    let size = meta.size();
    if let Some(bounds) = bounds {
        let over = bounds
            .max_bytes
            .is_some_and(|max| size.saturating_add(length) > max);
        let mtime = mtime_of(&meta);
        let outside = !(bounds.low <= mtime && mtime < bounds.high);
        if size > 0 && (over || outside) {
            return unlock(Appended::Ask);
        }
    }
    match write_all(held.fd, pieces, size) {
        Ok(()) => unlock(Appended::Written(size + length)),
        Err(error) => unlock(Appended::Failed(error)),
    }
}

/// The Python function `asgi_audit_native.append_locked`, registered in `lib.rs`.
#[cfg(feature = "python")]
pub mod py {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    use std::path::Path;

    use pyo3::exceptions::PyTypeError;
    use pyo3::prelude::*;
    use pyo3::types::{PyBytes, PyList};

    use super::{append, Appended, Bounds, Held, Ident};

    /// `data`: one `bytes`, or a list of them (one batch, written in order with
    /// `writev`, never joined).
    ///
    /// `(0, size after)` once `data` is appended under the lock, `(1, 0)` where
    /// `AppendFile.append` must take the batch (nothing written, the lock
    /// released), `(2, errno)` when the write failed (cut back to the size before).
    ///
    /// `bounds` is `(max_bytes or -1, low, high)`: when a rotation may be due
    /// (see `RotationPolicy.bounds`); None when the file never rotates.
    #[pyfunction]
    #[pyo3(signature = (lock_fd, lock_path, lock_ident, fd, path, ident, data, bounds))]
    #[allow(clippy::too_many_arguments)]
    pub fn append_locked(
        py: Python<'_>,
        lock_fd: i32,
        lock_path: &[u8],
        lock_ident: Ident,
        fd: i32,
        path: &[u8],
        ident: Ident,
        data: &Bound<'_, PyAny>,
        bounds: Option<(i64, f64, f64)>,
    ) -> PyResult<(u8, u64)> {
        // The bytes objects are immutable and held by `data` meanwhile.
        let pieces: Vec<Bound<'_, PyBytes>> = match data.cast::<PyBytes>() {
            Ok(one) => vec![one.clone()],
            Err(_) => data
                .cast::<PyList>()
                .map_err(|_| PyTypeError::new_err("data: bytes or a list of bytes"))?
                .iter()
                .map(|p| p.cast_into::<PyBytes>().map_err(PyErr::from))
                .collect::<PyResult<_>>()?,
        };
        let views: Vec<&[u8]> = pieces.iter().map(|p| p.as_bytes()).collect();
        let held = Held {
            lock_fd,
            lock_path: Path::new(OsStr::from_bytes(lock_path)),
            lock_ident,
            fd,
            path: Path::new(OsStr::from_bytes(path)),
            ident,
        };
        let bounds = bounds.map(Bounds::from_tuple);
        Ok(match py.detach(|| append(held, &views, bounds)) {
            Appended::Written(size) => (0, size),
            Appended::Ask => (1, 0),
            Appended::Failed(error) => (2, error as u64),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::OpenOptions;
    use std::os::unix::fs::OpenOptionsExt;
    use std::os::unix::io::AsRawFd;

    struct Files {
        _dir: TempDir,
        lock: fs::File,
        lock_path: std::path::PathBuf,
        file: fs::File,
        path: std::path::PathBuf,
    }

    /// A directory removed on drop (no test-only crates).
    struct TempDir(std::path::PathBuf);
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn files(name: &str) -> Files {
        let dir =
            std::env::temp_dir().join(format!("asgi-audit-append-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let lock_path = dir.join(".a.jsonl.lock");
        let path = dir.join("a.jsonl");
        let lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .unwrap();
        let file = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(&path)
            .unwrap();
        Files {
            _dir: TempDir(dir),
            lock,
            lock_path,
            file,
            path,
        }
    }

    fn held(f: &Files) -> Held<'_> {
        Held {
            lock_fd: f.lock.as_raw_fd(),
            lock_path: &f.lock_path,
            lock_ident: ident_of(&f.lock.metadata().unwrap()),
            fd: f.file.as_raw_fd(),
            path: &f.path,
            ident: ident_of(&f.file.metadata().unwrap()),
        }
    }

    #[test]
    fn an_ordinary_append_writes_the_batch_and_returns_the_size_after() {
        let f = files("ordinary");
        assert_eq!(append(held(&f), &[b"one\n"], None), Appended::Written(4));
        assert_eq!(append(held(&f), &[b"two\n"], None), Appended::Written(8));
        assert_eq!(fs::read(&f.path).unwrap(), b"one\ntwo\n");
    }

    #[test]
    fn pieces_are_written_whole_and_in_order_past_iov_max() {
        let f = files("pieces");
        let lines: Vec<Vec<u8>> = (0..2500).map(|i| format!("{i}\n").into_bytes()).collect();
        let pieces: Vec<&[u8]> = lines.iter().map(Vec::as_slice).collect();
        let size = lines.iter().map(Vec::len).sum::<usize>() as u64;
        assert_eq!(append(held(&f), &pieces, None), Appended::Written(size));
        assert_eq!(fs::read(&f.path).unwrap(), lines.concat());
        // The size a rotation is checked against is the whole batch's.
        let over = Bounds {
            max_bytes: Some(size + 3),
            low: f64::NEG_INFINITY,
            high: f64::INFINITY,
        };
        assert_eq!(
            append(held(&f), &[b"ab", b"\n"], Some(over)),
            Appended::Written(size + 3)
        );
        assert_eq!(append(held(&f), &[b"c", b"\n"], Some(over)), Appended::Ask);
    }

    #[test]
    fn a_moved_file_or_lock_is_left_to_python_with_nothing_written() {
        let f = files("moved");
        let h = held(&f);
        append(h, &[b"one\n"], None);
        fs::rename(&f.path, f.path.with_extension("old")).unwrap();
        assert_eq!(append(h, &[b"two\n"], None), Appended::Ask);
        assert_eq!(fs::read(f.path.with_extension("old")).unwrap(), b"one\n");
        let f = files("lock");
        let h = held(&f);
        fs::remove_file(&f.lock_path).unwrap();
        assert_eq!(append(h, &[b"two\n"], None), Appended::Ask);
        fs::write(&f.lock_path, b"").unwrap();
        assert_eq!(append(h, &[b"two\n"], None), Appended::Ask);
        assert_eq!(fs::read(&f.path).unwrap(), b"");
    }

    #[test]
    fn a_rotation_that_may_be_due_is_left_to_python() {
        let f = files("rotation");
        let h = held(&f);
        let open = Bounds {
            max_bytes: Some(8),
            low: f64::NEG_INFINITY,
            high: f64::INFINITY,
        };
        // An empty file is never rotated, whatever its size would become.
        assert_eq!(
            append(h, &[b"0123456789\n"], Some(open)),
            Appended::Written(11)
        );
        assert_eq!(append(h, &[b"x\n"], Some(open)), Appended::Ask);
        let roomy = Bounds {
            max_bytes: Some(13),
            ..open
        };
        assert_eq!(append(h, &[b"x\n"], Some(roomy)), Appended::Written(13));
        let past = Bounds {
            max_bytes: None,
            low: 0.0,
            high: 1.0,
        };
        assert_eq!(append(h, &[b"y\n"], Some(past)), Appended::Ask);
        assert_eq!(fs::read(&f.path).unwrap(), b"0123456789\nx\n");
    }

    #[test]
    fn the_lock_is_released_after_each_outcome() {
        let f = files("released");
        let h = held(&f);
        let other = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&f.lock_path)
            .unwrap();
        let try_lock =
            || unsafe { libc::flock(other.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0;
        append(h, &[b"one\n"], None);
        assert!(try_lock());
        flock(other.as_raw_fd(), libc::LOCK_UN).unwrap();
        fs::rename(&f.path, f.path.with_extension("old")).unwrap();
        assert_eq!(append(h, &[b"two\n"], None), Appended::Ask);
        assert!(try_lock());
    }
}
