//! What went wrong, in words that say what to check, mapped into
//! [`session_core::Error`] kinds.
//!
//! Messages name the session directory and the role of the file (a session
//! file, a temporary file, a lock file), never a session file's own name:
//! it carries the session ID.

use std::io;
use std::path::PathBuf;

use session_core::Error;

/// The store's own errors; [`FileError::into_core`] picks the kind.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FileError {
    #[error("could not {op} in the session directory {dir}: {hint} ({cause})", hint = hint(cause))]
    Io {
        /// What the store was doing, e.g. `"write a temporary file"`.
        op: &'static str,
        dir: PathBuf,
        cause: io::Error,
    },

    #[error(
        "the session directory {dir} is not usable: {what} is not a directory; point \
         FileStore::open at a directory (it is created if missing)"
    )]
    NotADirectory {
        dir: PathBuf,
        /// The path, or the component of it, that is something else.
        what: String,
    },

    #[error(
        "the session directory {dir} failed the startup check: could not {step} \
         ({cause}); {hint}",
        hint = hint(cause)
    )]
    Startup {
        dir: PathBuf,
        step: &'static str,
        cause: io::Error,
    },

    #[error(
        "a session file in {dir} is a {kind}, not a regular file: something other than \
         this store put it there; the store never reads through, writes over or removes \
         it, so remove it by hand"
    )]
    NotAFile { dir: PathBuf, kind: &'static str },
}

/// What to check for an I/O error of `kind`.
fn hint(error: &io::Error) -> &'static str {
    match error.kind() {
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded => {
            "the disk or the user's quota is full: free space on the filesystem that holds \
             the session directory (clear_expired removes expired sessions)"
        }
        io::ErrorKind::ReadOnlyFilesystem => {
            "the filesystem is mounted read-only: remount it read-write, or choose a \
             directory on a writable filesystem"
        }
        io::ErrorKind::PermissionDenied => {
            "permission denied: check that the user this process runs as owns the session \
             directory and may create, write and rename files in it"
        }
        io::ErrorKind::NotADirectory => {
            "a component of the path is not a directory: check the path"
        }
        io::ErrorKind::NotFound => {
            "the directory is gone: check the path, and that nothing removes it while \
             the application runs"
        }
        _ => "check the path, the permissions and the filesystem's health",
    }
}

impl FileError {
    /// An I/O error while doing `op` in `dir`.
    pub(crate) fn io(op: &'static str, dir: impl Into<PathBuf>, source: io::Error) -> Self {
        FileError::Io {
            op,
            dir: dir.into(),
            cause: source,
        }
    }

    /// The [`session_core::Error`] with this error as its source. A full
    /// disk, a read-only filesystem, a permission the process lacks or
    /// another fault of the filesystem is [`Error::Unavailable`] (adapters
    /// answer 503); an entry that is not a regular file where a session
    /// file should be is [`Error::Corrupt`]; a path that is not a
    /// directory is [`Error::Backend`].
    pub(crate) fn into_core(self) -> Error {
        match &self {
            FileError::NotAFile { .. } => Error::corrupt(self),
            FileError::NotADirectory { .. } => Error::backend(self),
            FileError::Io { cause, .. } | FileError::Startup { cause, .. } => {
                if is_fault(cause) {
                    Error::unavailable(self)
                } else {
                    Error::backend(self)
                }
            }
        }
    }
}

/// Whether `error` is the filesystem refusing work for now (full,
/// read-only, not permitted, failing) rather than a mistake in the path.
fn is_fault(error: &io::Error) -> bool {
    !matches!(
        error.kind(),
        io::ErrorKind::NotADirectory
            | io::ErrorKind::IsADirectory
            | io::ErrorKind::InvalidInput
            | io::ErrorKind::InvalidFilename
            | io::ErrorKind::AlreadyExists
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use session_core::ErrorKind;

    #[test]
    fn faults_of_the_filesystem_are_unavailable_and_say_what_to_check() {
        for (kind, words) in [
            (io::ErrorKind::StorageFull, "full"),
            (io::ErrorKind::QuotaExceeded, "quota"),
            (io::ErrorKind::ReadOnlyFilesystem, "read-only"),
            (io::ErrorKind::PermissionDenied, "permission"),
        ] {
            let error = FileError::io("write a temporary file", "/srv/s", io::Error::from(kind));
            let text = error.to_string();
            assert!(text.contains(words) && text.contains("/srv/s"), "{text}");
            assert_eq!(error.into_core().kind(), ErrorKind::Unavailable, "{kind:?}");
        }
        let error = FileError::NotAFile {
            dir: "/srv/s".into(),
            kind: "directory",
        };
        assert_eq!(error.into_core().kind(), ErrorKind::Corrupt);
    }
}
