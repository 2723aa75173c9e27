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
//! - **Atomicity**: every write goes to a temporary file in the same
//!   directory, then is renamed into place, so readers never see a torn
//!   file. `create` links the new file in with no-clobber semantics (like
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
//!   removed when loaded, saved or touched, and by `clear_expired`
//!   (Django's `clearsessions`), which counts each one it removes.
//! - **Corrupt files** (truncated, not JSON) load as [`Error::Corrupt`]:
//!   core starts an empty session and logs a warning.
//! - **Permissions**: session files are created `0600` and a missing
//!   directory `0700` (Unix), so other local users cannot read sessions.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use session_core::{
    Capabilities, Clock, Error, Record, SessionId, SessionStore, SystemClock, async_trait,
    time::OffsetDateTime,
};

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

fn io_error(error: io::Error) -> Error {
    Error::backend(error)
}

impl FileStore {
    /// A store in `dir`, created if missing.
    ///
    /// # Errors
    ///
    /// [`Error::Backend`] if the directory cannot be created.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, Error> {
        let dir = dir.into();
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(&dir).map_err(io_error)?;
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

impl Inner {
    fn path(&self, id: &SessionId) -> PathBuf {
        self.dir.join(format!("{PREFIX}{id}"))
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
            .map_err(io_error)?;
        file.lock().map_err(io_error)?;
        Ok(StripeLock(file))
    }

    fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// The record in the file, expired or not; `None` if there is no file.
    fn read(&self, id: &SessionId) -> Result<Option<Record>, Error> {
        match fs::read(self.path(id)) {
            Ok(bytes) => Record::decode(id.clone(), &bytes).map(Some),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error(e)),
        }
    }

    /// The live record, removing an expired file on the way.
    fn live(&self, id: &SessionId) -> Result<Option<Record>, Error> {
        match self.read(id)? {
            Some(record) if record.is_expired_at(self.now()) => {
                self.remove(id)?;
                Ok(None)
            }
            other => Ok(other),
        }
    }

    fn remove(&self, id: &SessionId) -> Result<(), Error> {
        match fs::remove_file(self.path(id)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_error(e)),
            _ => Ok(()),
        }
    }

    /// The record, written to a temporary file in the directory.
    fn staged(&self, record: &Record) -> Result<tempfile::NamedTempFile, Error> {
        let mut file = tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .tempfile_in(&self.dir)
            .map_err(io_error)?;
        file.write_all(&record.encode()?).map_err(io_error)?;
        file.as_file().sync_data().map_err(io_error)?;
        Ok(file)
    }

    /// Renames a full copy of `record` over its file.
    fn replace(&self, record: &Record) -> Result<(), Error> {
        self.staged(record)?
            .persist(self.path(&record.id))
            .map(drop)
            .map_err(|e| io_error(e.error))
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
                    // Taken, unless what is there has expired or is
                    // unreadable: then the ID is free again.
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
                                    _ => io_error(e.error),
                                })
                        }
                        Err(other) => Err(other),
                    }
                }
                Err(e) => Err(io_error(e.error)),
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
            // meanwhile.
            Some(_) => {
                let _lock = inner.lock(&id)?;
                inner.live(&id)
            }
        })
        .await
    }

    async fn save(&self, record: &Record) -> Result<(), Error> {
        let record = record.clone();
        self.blocking(move |inner| {
            let _lock = inner.lock(&record.id)?;
            let stored = match inner.live(&record.id) {
                Ok(Some(stored)) => stored,
                Ok(None) | Err(Error::Corrupt { .. }) => return Err(Error::NotFound),
                Err(other) => return Err(other),
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
            for entry in fs::read_dir(&inner.dir).map_err(io_error)? {
                let entry = entry.map_err(io_error)?;
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
