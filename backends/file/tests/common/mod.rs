//! Directories for the tests, and small filesystems mounted on purpose to
//! break: full, read-only.
// Each test file uses a different part of this module.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use session_core::{Record, SessionId};

/// An empty directory of its own under the OS temp dir.
pub(crate) fn fresh_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir()
        .join("session-store-file-tests")
        .join(format!("{name}-{}", &SessionId::generate().as_str()[..16]));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The names in `dir`, without the store's fixed lock files, sorted.
pub(crate) fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| !n.starts_with(".lock-"))
        .collect();
    names.sort();
    names
}

/// The path of `id`'s session file in `dir`.
pub(crate) fn session_file(dir: &Path, id: &SessionId) -> PathBuf {
    dir.join(format!("session-{id}"))
}

/// Decodes `id`'s session file as it is on disk.
pub(crate) fn on_disk(dir: &Path, id: &SessionId) -> Record {
    let bytes = std::fs::read(session_file(dir, id))
        .unwrap_or_else(|e| panic!("the session file is unreadable: {e}"));
    Record::decode(id.clone(), &bytes).unwrap_or_else(|e| {
        panic!(
            "the session file does not decode any more ({e}): {:?}",
            String::from_utf8_lossy(&bytes)
        )
    })
}

/// The effective user ID, from `/proc/self/status`.
fn euid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// Fails the test (never skips it) unless it runs as root, which mounting
/// needs.
pub(crate) fn require_root(what: &str) {
    match euid() {
        Some(0) => {}
        uid => panic!(
            "{what} mounts a small tmpfs to break the filesystem on purpose, which needs \
             root (this test runs as uid {uid:?}): run the tests as root (for instance \
             `sudo -E cargo test -p session-store-file`) or in a container that allows \
             `mount`"
        ),
    }
}

fn run(program: &str, args: &[&str]) -> Result<(), String> {
    let output = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("could not run {program}: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`{program} {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// A tmpfs of its own, unmounted and removed when dropped.
pub(crate) struct Tmpfs {
    mount_point: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (e.g. `"256k"`), read-only or not.
    pub(crate) fn mount(name: &str, size: &str, read_only: bool) -> Self {
        require_root(name);
        let mount_point = fresh_dir(name);
        let options = format!(
            "size={size},mode=0700{}",
            if read_only { ",ro" } else { "" }
        );
        let path = mount_point.to_str().unwrap();
        run("mount", &["-t", "tmpfs", "-o", &options, "tmpfs", path])
            .unwrap_or_else(|e| panic!("{e} (mounting needs root and a kernel that allows it)"));
        Tmpfs { mount_point }
    }

    /// Binds `source` read-only onto a fresh directory: an existing
    /// directory this process cannot write, whoever it is.
    pub(crate) fn bind_read_only(name: &str, source: &Path) -> Self {
        require_root(name);
        let mount_point = fresh_dir(name);
        let path = mount_point.to_str().unwrap().to_owned();
        run("mount", &["--bind", source.to_str().unwrap(), &path]).unwrap();
        let guard = Tmpfs { mount_point };
        run("mount", &["-o", "remount,bind,ro", &path]).unwrap();
        guard
    }

    /// Where it is mounted.
    pub(crate) fn path(&self) -> &Path {
        &self.mount_point
    }

    /// Remounts it read-only (`true`) or read-write (`false`) in place:
    /// open files and the store's handle stay.
    pub(crate) fn remount(&self, read_only: bool) {
        let mode = if read_only {
            "remount,ro"
        } else {
            "remount,rw"
        };
        run("mount", &["-o", mode, self.mount_point.to_str().unwrap()]).unwrap();
    }

    /// Fills the filesystem with 4 KiB files named `.fill-N` (which the
    /// store ignores) until it is full; returns their paths.
    pub(crate) fn fill(&self) -> Vec<PathBuf> {
        use std::io::Write;
        let mut fillers = Vec::new();
        for n in 0.. {
            let path = self.mount_point.join(format!(".fill-{n}"));
            if path.exists() {
                continue;
            }
            let written = std::fs::File::create(&path).and_then(|mut f| {
                f.write_all(&[0u8; 4096])?;
                f.sync_all()
            });
            match written {
                Ok(()) => fillers.push(path),
                Err(e) => {
                    assert_eq!(
                        e.kind(),
                        std::io::ErrorKind::StorageFull,
                        "filling the tmpfs: {e}"
                    );
                    let _ = std::fs::remove_file(&path);
                    return fillers;
                }
            }
        }
        fillers
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let path = self.mount_point.to_str().unwrap_or_default().to_owned();
        if run("umount", &[&path]).is_err() {
            let _ = run("umount", &["-l", &path]);
        }
        let _ = std::fs::remove_dir_all(&self.mount_point);
    }
}
