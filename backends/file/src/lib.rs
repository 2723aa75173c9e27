//! A [`SessionStore`] that keeps one file per session, like Django's file
//! backend.
//!
//! ```no_run
//! # async fn run() -> Result<(), session_core::Error> {
//! use session_core::SessionManager;
//! use session_store_file::FileStore;
//!
//! // `sessions` under the OS temp dir, as Django's default.
//! let sessions = SessionManager::new(FileStore::open_default()?);
//! # Ok(()) }
//! ```
//!
//! # What to expect
//!
//! - **Layout**: `DIR/session-<id>`, one JSON document per session
//!   ([`Record::encode`]: data, expiry, version). File names are built from
//!   a validated [`SessionId`] only, so no path can leave the directory.
//! - **Startup check**: [`FileStore::open`] checks that the path is a
//!   directory and that it can create, write, fsync, rename and remove a
//!   file in it, and fails with a message that says what to check (the
//!   path, permissions, a read-only filesystem, a full disk) instead of
//!   failing on the first request.
//! - **Atomicity**: every write goes to a temporary file in the same
//!   directory, is fsynced, then renamed into place, so readers never see a
//!   torn file; a write that fails (a full disk, a read-only remount)
//!   removes its temporary file and leaves the previous content as it was.
//!   `create` links the new file in with no-clobber semantics (like
//!   `O_EXCL`). Every check-then-write (`create` over an expired file,
//!   `save` that must not revive a deleted session, versioned saves,
//!   `touch`, the expiry sweep) runs under an exclusive advisory lock
//!   ([`File::lock`](std::fs::File::lock): `flock` on Unix, `LockFileEx` on
//!   Windows) on one of 64 lock files `DIR/.lock-NN` chosen by the ID, so
//!   it is atomic between threads and between processes sharing the
//!   directory. The lock files are never removed.
//! - **Several processes** on one directory are therefore fine, on a local
//!   file system; advisory locks over NFS or SMB are only as good as the
//!   server's lock support, so use the Redis or PostgreSQL store there.
//! - **Crash**: a crash mid-write leaves the old content (the rename never
//!   happened) plus a `.tmp-*` file, which
//!   [`SessionStore::clear_expired`] removes once it is an hour old; locks
//!   die with their process. Files are written with `fsync` before the
//!   rename, but the directory is not synced, so after a power loss a
//!   session can come back in its previous state.
//! - **Expiry** is decided by this process's clock (the system clock, or
//!   [`FileStore::with_clock`]) with the one rule of every store: a record
//!   is live if and only if `now < expires_at`
//!   ([`Record::is_expired_at`]), for `load`, `save`, `touch`, the expired
//!   file a `create` may replace and [`SessionStore::clear_expired`] alike.
//!   At exactly `expires_at` it is gone for all of them. Expired files are
//!   removed when loaded (best effort: a read-only filesystem still loads),
//!   saved or touched, and by `clear_expired` (Django's `clearsessions`),
//!   which counts each one it removes.
//! - **Permissions**: session files are created `0600` and a missing
//!   directory `0700` (Unix), so other local users cannot read sessions.
//!
//! # Failure policy
//!
//! - **Faults of the filesystem** (a full disk or quota, a read-only
//!   filesystem, a permission the process lacks, an I/O error) are
//!   [`Error::Unavailable`] (adapters answer 503), with a message naming the
//!   directory and what to check; never a partial file, never a leftover
//!   temporary file. Reads keep working on a read-only or full filesystem.
//! - **What cannot be decoded** is [`Error::Corrupt`] from `load`, which
//!   never removes it: a file that is not such a document (truncated, not
//!   JSON, a negative or non-integer version, an expiry past year 9999,
//!   data that is not an object), and anything that is not a regular file
//!   where a session file should be (a directory, a symbolic link, a FIFO,
//!   a socket), which the store never reads through.
//! - **Writes over such a path**: over a corrupt regular file, `create`
//!   replaces it (the ID is free), `save` and `touch` are
//!   [`Error::NotFound`] and write nothing (there is no session to
//!   update), `delete` removes it. Over an entry that is not a regular
//!   file, the store never writes, moves or removes anything: `create` is
//!   a conflict ([`Error::id_taken`]: core retries with a fresh ID),
//!   `save` and `touch` are [`Error::NotFound`], `delete` succeeds and
//!   leaves it (no session can load from it), `clear_expired` skips it.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

mod error;

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use session_core::{
    Capabilities, Clock, Error, Record, SessionId, SessionStore, SystemClock, async_trait,
    time::OffsetDateTime,
};

use crate::error::FileError;

const PREFIX: &str = "session-";
const TEMP_PREFIX: &str = ".tmp-";
const LOCK_STRIPES: u32 = 64;
/// A temporary file this old is the leftover of a crashed write.
const STALE_TEMP: Duration = Duration::from_secs(3600);

/// One file per session in a directory.
#[derive(Debug, Clone)]
pub struct FileStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    dir: PathBuf,
    clock: Arc<dyn Clock>,
}

/// An exclusive lock on one stripe; released when dropped (closing the
/// file releases it even if unlocking fails).
#[derive(Debug)]
struct StripeLock(File);

impl Drop for StripeLock {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

/// What is at a session file's path.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Entry {
    Missing,
    File,
    /// Something else, by name (`"directory"`, `"symbolic link"`, …).
    Other(&'static str),
}

fn entry_kind(meta: &fs::Metadata) -> Entry {
    let kind = meta.file_type();
    if kind.is_file() {
        return Entry::File;
    }
    if kind.is_dir() {
        return Entry::Other("directory");
    }
    if kind.is_symlink() {
        return Entry::Other("symbolic link");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return Entry::Other("FIFO");
        }
        if kind.is_socket() {
            return Entry::Other("socket");
        }
        if kind.is_block_device() || kind.is_char_device() {
            return Entry::Other("device");
        }
    }
    Entry::Other("special file")
}

impl FileStore {
    /// A store in `dir`, created if missing, after a startup check: `dir`
    /// must be a directory in which this process can create, write, fsync,
    /// rename and remove a file.
    ///
    /// # Errors
    ///
    /// With a message naming the directory and what to check:
    /// [`Error::Backend`] if the path (or a component of it) is not a
    /// directory; [`Error::Unavailable`] if the directory cannot be created
    /// or fails the check (permission denied, a read-only filesystem, a
    /// full disk or quota).
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, Error> {
        let dir = dir.into();
        check_dir(&dir).map_err(FileError::into_core)?;
        Ok(FileStore {
            inner: Arc::new(Inner {
                dir,
                clock: Arc::new(SystemClock),
            }),
        })
    }

    /// A store in `sessions` under the OS temp dir (Django's default).
    ///
    /// # Warning
    ///
    /// The temp dir is shared: a local user who creates `sessions` there
    /// before your application owns the directory and can delete or plant
    /// session files. In production, [`FileStore::open`] a directory only
    /// your application can write.
    ///
    /// # Errors
    ///
    /// As [`FileStore::open`].
    pub fn open_default() -> Result<Self, Error> {
        Self::open(Self::default_dir())
    }

    /// `sessions` under the OS temp dir.
    pub fn default_dir() -> PathBuf {
        std::env::temp_dir().join("sessions")
    }

    /// The same store, deciding expiry by `clock`.
    #[must_use]
    pub fn with_clock(self, clock: impl Clock) -> Self {
        FileStore {
            inner: Arc::new(Inner {
                dir: self.inner.dir.clone(),
                clock: Arc::new(clock),
            }),
        }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Runs blocking file work off the async threads.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Inner) -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || work(&inner))
            .await
            .map_err(|e| Error::backend(format!("file store task failed: {e}")))?
    }
}

/// Creates `dir` if missing, then proves the store can work in it: create,
/// write, fsync, rename and remove a temporary file (named like the
/// store's own, so a crash here leaves nothing `clear_expired` would not
/// remove).
fn check_dir(dir: &Path) -> Result<(), FileError> {
    let startup = |step, cause| FileError::Startup {
        dir: dir.to_owned(),
        step,
        cause,
    };
    let not_a_directory = |what: &Path| FileError::NotADirectory {
        dir: dir.to_owned(),
        what: what.display().to_string(),
    };
    match fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => return Err(not_a_directory(dir)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let mut builder = fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            builder.create(dir).map_err(|e| match e.kind() {
                io::ErrorKind::NotADirectory | io::ErrorKind::AlreadyExists => {
                    not_a_directory(dir.ancestors().find(|a| a.is_file()).unwrap_or(dir))
                }
                _ => startup("create the directory", e),
            })?;
        }
        Err(e) if e.kind() == io::ErrorKind::NotADirectory => {
            return Err(not_a_directory(
                dir.ancestors().find(|a| a.is_file()).unwrap_or(dir),
            ));
        }
        Err(e) => return Err(startup("read the directory's metadata", e)),
    }
    let mut probe = tempfile::Builder::new()
        .prefix(&format!("{TEMP_PREFIX}startup-check-"))
        .tempfile_in(dir)
        .map_err(|e| startup("create a file", e))?;
    // A few pages, so a disk with a handful of bytes left fails here and
    // not on the first session.
    probe
        .write_all(&[b'.'; 16 * 1024])
        .map_err(|e| startup("write a file", e))?;
    probe
        .as_file()
        .sync_all()
        .map_err(|e| startup("fsync a file", e))?;
    let mut renamed = probe.path().as_os_str().to_owned();
    renamed.push(".renamed");
    let renamed = PathBuf::from(renamed);
    probe
        .persist(&renamed)
        .map_err(|e| startup("rename a file", e.error))?;
    fs::remove_file(&renamed).map_err(|e| startup("remove a file", e))?;
    Ok(())
}

impl Inner {
    fn path(&self, id: &SessionId) -> PathBuf {
        self.dir.join(format!("{PREFIX}{id}"))
    }

    fn fail(&self, op: &'static str, error: io::Error) -> Error {
        FileError::io(op, &self.dir, error).into_core()
    }

    fn not_a_file(&self, kind: &'static str) -> Error {
        FileError::NotAFile {
            dir: self.dir.clone(),
            kind,
        }
        .into_core()
    }

    /// Takes the exclusive lock of `id`'s stripe, waiting for it. Every
    /// call opens the lock file anew, so the lock excludes other threads of
    /// this process as well as other processes.
    fn lock(&self, id: &SessionId) -> Result<StripeLock, Error> {
        let stripe = id
            .as_str()
            .bytes()
            .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)))
            % LOCK_STRIPES;
        let file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(self.dir.join(format!(".lock-{stripe:02}")))
            .map_err(|e| self.fail("open a lock file", e))?;
        file.lock().map_err(|e| self.fail("lock a lock file", e))?;
        Ok(StripeLock(file))
    }

    fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// What is at `id`'s path, without following a symbolic link.
    fn entry(&self, id: &SessionId) -> Result<Entry, Error> {
        match fs::symlink_metadata(self.path(id)) {
            Ok(meta) => Ok(entry_kind(&meta)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Entry::Missing),
            Err(e) => Err(self.fail("read a session file's metadata", e)),
        }
    }

    /// The record in the file, expired or not; `None` if there is no file;
    /// [`Error::Corrupt`] for content that cannot be decoded and for an
    /// entry that is not a regular file (never opened, so a FIFO cannot
    /// block the read and a link is never followed).
    fn read(&self, id: &SessionId) -> Result<Option<Record>, Error> {
        match self.entry(id)? {
            Entry::Missing => return Ok(None),
            Entry::Other(kind) => return Err(self.not_a_file(kind)),
            Entry::File => {}
        }
        match fs::read(self.path(id)) {
            Ok(bytes) => Record::decode(id.clone(), &bytes).map(Some),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            // Replaced by a directory since the check.
            Err(e) if e.kind() == io::ErrorKind::IsADirectory => Err(self.not_a_file("directory")),
            Err(e) => Err(self.fail("read a session file", e)),
        }
    }

    /// The live record, removing an expired file on the way. `None` for
    /// an expired record, a missing file, and (for `save` and `touch`,
    /// which then write nothing) anything that cannot be decoded.
    fn live(&self, id: &SessionId) -> Result<Option<Record>, Error> {
        match self.read(id) {
            Ok(Some(record)) if record.is_expired_at(self.now()) => {
                self.remove(id)?;
                Ok(None)
            }
            Ok(other) => Ok(other),
            Err(Error::Corrupt { .. }) => Ok(None),
            Err(other) => Err(other),
        }
    }

    /// Removes `id`'s file, if it is one: an entry that is not a regular
    /// file is left alone.
    fn remove(&self, id: &SessionId) -> Result<(), Error> {
        if let Entry::Other(_) = self.entry(id)? {
            return Ok(());
        }
        match fs::remove_file(self.path(id)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                Err(self.fail("remove a session file", e))
            }
            _ => Ok(()),
        }
    }

    /// The record, written to a temporary file in the directory and
    /// fsynced; the file is removed if any step fails.
    fn staged(&self, record: &Record) -> Result<tempfile::NamedTempFile, Error> {
        let mut file = tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .tempfile_in(&self.dir)
            .map_err(|e| self.fail("create a temporary file", e))?;
        file.write_all(&record.encode()?)
            .map_err(|e| self.fail("write a temporary file", e))?;
        file.as_file()
            .sync_data()
            .map_err(|e| self.fail("fsync a temporary file", e))?;
        Ok(file)
    }

    /// Renames a full copy of `record` over its file.
    fn replace(&self, record: &Record) -> Result<(), Error> {
        self.staged(record)?
            .persist(self.path(&record.id))
            .map(drop)
            .map_err(|e| self.fail("rename a temporary file over a session file", e.error))
    }
}

/// Removes a temporary file left by a write that crashed before its rename.
fn remove_if_stale(entry: &fs::DirEntry) {
    let stale = entry
        .metadata()
        .and_then(|m| m.modified())
        .ok()
        .and_then(|modified| SystemTime::now().duration_since(modified).ok())
        .is_some_and(|age| age >= STALE_TEMP);
    if stale {
        let _ = fs::remove_file(entry.path());
    }
}

#[async_trait]
impl SessionStore for FileStore {
    async fn create(&self, record: &Record) -> Result<(), Error> {
        let record = record.clone();
        self.blocking(move |inner| {
            let _lock = inner.lock(&record.id)?;
            let staged = inner.staged(&record)?;
            match staged.persist_noclobber(inner.path(&record.id)) {
                Ok(_) => Ok(()),
                Err(e) if e.error.kind() == io::ErrorKind::AlreadyExists => {
                    // Taken, unless what is there is a file that has
                    // expired or cannot be decoded: then the ID is free
                    // again. Anything but a regular file stays, and the ID
                    // stays taken.
                    if let Entry::Other(_) = inner.entry(&record.id)? {
                        return Err(Error::id_taken());
                    }
                    match inner.read(&record.id) {
                        Ok(Some(existing)) if !existing.is_expired_at(inner.now()) => {
                            Err(Error::id_taken())
                        }
                        Ok(_) | Err(Error::Corrupt { .. }) => {
                            inner.remove(&record.id)?;
                            e.file
                                .persist_noclobber(inner.path(&record.id))
                                .map(drop)
                                .map_err(|e| match e.error.kind() {
                                    io::ErrorKind::AlreadyExists => Error::id_taken(),
                                    _ => inner.fail("link a new session file", e.error),
                                })
                        }
                        Err(other) => Err(other),
                    }
                }
                Err(e) => Err(inner.fail("link a new session file", e.error)),
            }
        })
        .await
    }

    async fn load(&self, id: &SessionId) -> Result<Option<Record>, Error> {
        let id = id.clone();
        self.blocking(move |inner| match inner.read(&id)? {
            // Renames are atomic: a live file needs no lock to be read.
            Some(record) if !record.is_expired_at(inner.now()) => Ok(Some(record)),
            None => Ok(None),
            // Expired: remove it under the lock, unless a create replaced it
            // meanwhile. Best effort: the answer is the same whether the
            // removal works or not (a read-only filesystem still loads).
            Some(_) => match inner.lock(&id).and_then(|_lock| inner.live(&id)) {
                Ok(live) => Ok(live),
                Err(_) => Ok(None),
            },
        })
        .await
    }

    async fn save(&self, record: &Record) -> Result<(), Error> {
        let record = record.clone();
        self.blocking(move |inner| {
            let _lock = inner.lock(&record.id)?;
            let Some(stored) = inner.live(&record.id)? else {
                return Err(Error::NotFound);
            };
            if stored.version != record.version {
                return Err(Error::version_changed());
            }
            inner.replace(&record.clone().with_version(record.version.wrapping_add(1)))
        })
        .await
    }

    async fn delete(&self, id: &SessionId) -> Result<(), Error> {
        let id = id.clone();
        self.blocking(move |inner| {
            let _lock = inner.lock(&id)?;
            inner.remove(&id)
        })
        .await
    }

    async fn touch(&self, id: &SessionId, expires_at: OffsetDateTime) -> Result<(), Error> {
        let id = id.clone();
        self.blocking(move |inner| {
            let _lock = inner.lock(&id)?;
            let Some(mut stored) = inner.live(&id)? else {
                return Err(Error::NotFound);
            };
            stored.expires_at = expires_at;
            inner.replace(&stored)
        })
        .await
    }

    async fn clear_expired(&self) -> Result<u64, Error> {
        self.blocking(|inner| {
            let mut removed = 0;
            let entries = fs::read_dir(&inner.dir)
                .map_err(|e| inner.fail("list the session directory", e))?;
            for entry in entries {
                let entry = entry.map_err(|e| inner.fail("list the session directory", e))?;
                let name = entry.file_name();
                let Some(name) = name.to_str() else { continue };
                if name.starts_with(TEMP_PREFIX) {
                    remove_if_stale(&entry);
                    continue;
                }
                let Some(id) = name
                    .strip_prefix(PREFIX)
                    .and_then(|id| id.parse::<SessionId>().ok())
                else {
                    continue;
                };
                // Check without the lock, then again under it before removing.
                let expired = |inner: &Inner| {
                    matches!(inner.read(&id), Ok(Some(r)) if r.is_expired_at(inner.now()))
                };
                if expired(inner) {
                    let _lock = inner.lock(&id)?;
                    if expired(inner) {
                        inner.remove(&id)?;
                        removed += 1;
                    }
                }
            }
            Ok(removed)
        })
        .await
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::ALL
    }
}
