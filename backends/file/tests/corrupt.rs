//! What the file store cannot decode is `Corrupt`, whatever form it takes
//! (bad bytes, or something other than a regular file where a session file
//! should be), and `load` never removes it; writes over it follow the
//! documented policy; nothing panics or blocks.

use std::path::{Path, PathBuf};
use std::time::Duration as StdDuration;

use session_core::time::{Duration, OffsetDateTime};
use session_core::{Error, ErrorKind, Record, SessionData, SessionId, SessionStore};
use session_store_file::FileStore;

mod common;

/// Contents a session file may be found with, none of which decodes.
const BAD_FILES: &[(&str, &[u8])] = &[
    ("empty", b""),
    ("not JSON", b"\x00\xffgarbage"),
    ("truncated", br#"{"exp":4102444800000,"ver":0,"data":{"a":"#),
    ("a JSON array", b"[1,2,3]"),
    ("missing expiry", br#"{"ver":0,"data":{}}"#),
    ("missing data", br#"{"exp":4102444800000,"ver":0}"#),
    (
        "expiry as a string",
        br#"{"exp":"4102444800000","ver":0,"data":{}}"#,
    ),
    (
        "expiry past year 9999",
        br#"{"exp":253402300800000,"ver":0,"data":{}}"#,
    ),
    (
        "expiry past i64",
        br#"{"exp":99999999999999999999,"ver":0,"data":{}}"#,
    ),
    (
        "negative version",
        br#"{"exp":4102444800000,"ver":-1,"data":{}}"#,
    ),
    (
        "fractional version",
        br#"{"exp":4102444800000,"ver":1.5,"data":{}}"#,
    ),
    (
        "version past u64",
        br#"{"exp":4102444800000,"ver":18446744073709551616,"data":{}}"#,
    ),
    (
        "data an array",
        br#"{"exp":4102444800000,"ver":0,"data":[1]}"#,
    ),
    ("data null", br#"{"exp":4102444800000,"ver":0,"data":null}"#),
    (
        "invalid UTF-8",
        b"{\"exp\":4102444800000,\"ver\":0,\"data\":{\"k\":\"\xff\"}}",
    ),
];

fn later() -> OffsetDateTime {
    OffsetDateTime::now_utc() + Duration::hours(1)
}

/// A record for `id` with one key.
fn record(id: &SessionId) -> Record {
    let mut data = SessionData::new();
    data.insert("user".into(), "mallory".into());
    Record::new(id.clone(), data, later())
}

/// Every store operation, each bounded by 5 s so a blocking read fails
/// the test instead of hanging it.
async fn bounded<T>(what: &str, op: impl Future<Output = Result<T, Error>>) -> Result<T, Error> {
    tokio::time::timeout(StdDuration::from_secs(5), op)
        .await
        .unwrap_or_else(|_| panic!("{what} blocked for 5 s"))
}

#[tokio::test]
async fn undecodable_files_load_as_corrupt_and_stay() {
    let dir = common::fresh_dir("corrupt-bytes");
    let store = FileStore::open(&dir).unwrap();
    for (name, bytes) in BAD_FILES {
        let id = SessionId::generate();
        let path = common::session_file(&dir, &id);
        std::fs::write(&path, bytes).unwrap();
        let err = store.load(&id).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Corrupt, "{name}: {}", err.report());
        assert_eq!(
            std::fs::read(&path).unwrap(),
            *bytes,
            "{name}: load changed or removed the file"
        );
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// The documented policy over a regular file that does not decode:
/// `create` replaces it (the ID is free), `save` and `touch` are
/// `NotFound` and leave it, `delete` removes it.
#[tokio::test]
async fn writes_over_an_undecodable_file_follow_the_policy() {
    let dir = common::fresh_dir("corrupt-writes");
    let store = FileStore::open(&dir).unwrap();
    let mut wrong = Vec::new();
    for (name, bytes) in BAD_FILES {
        let id = SessionId::generate();
        let path = common::session_file(&dir, &id);
        std::fs::write(&path, bytes).unwrap();
        for version in [0, 1] {
            match store.save(&record(&id).with_version(version)).await {
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                other => wrong.push(format!("{name}: save v{version} gave {other:?}")),
            }
        }
        match store.touch(&id, later()).await {
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            other => wrong.push(format!("{name}: touch gave {other:?}")),
        }
        if std::fs::read(&path).unwrap() != *bytes {
            wrong.push(format!("{name}: save or touch wrote over the file"));
        }
        store.delete(&id).await.unwrap();
        if path.exists() {
            wrong.push(format!("{name}: delete left the file"));
        }
        std::fs::write(&path, bytes).unwrap();
        match store.create(&record(&id)).await {
            Ok(()) => {
                if store.load(&id).await.unwrap().is_none() {
                    wrong.push(format!("{name}: the created record does not load"));
                }
            }
            other => wrong.push(format!("{name}: create gave {other:?}")),
        }
    }
    assert!(wrong.is_empty(), "policy broken:\n{}", wrong.join("\n"));
    assert!(
        common::entries(&dir)
            .iter()
            .all(|n| !n.starts_with(".tmp-")),
        "temporary files left: {:?}",
        common::entries(&dir)
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// Something other than a regular file at a session file's path.
#[derive(Debug, Clone, Copy)]
enum Plant {
    Directory,
    /// A link to a valid session file outside the directory: never
    /// followed.
    Symlink,
    Fifo,
    Socket,
}

const PLANTS: &[Plant] = &[Plant::Directory, Plant::Symlink, Plant::Fifo, Plant::Socket];

/// Puts `plant` at `id`'s path; returns what must stay unchanged (the
/// link's target, the directory's file) and the socket's listener.
fn plant(
    dir: &Path,
    outside: &Path,
    id: &SessionId,
    plant: Plant,
) -> (Option<PathBuf>, Option<std::os::unix::net::UnixListener>) {
    let path = common::session_file(dir, id);
    match plant {
        Plant::Directory => {
            std::fs::create_dir(&path).unwrap();
            let inner = path.join("keep");
            std::fs::write(&inner, b"keep").unwrap();
            (Some(inner), None)
        }
        Plant::Symlink => {
            let target = outside.join(format!("target-{}", &id.as_str()[..8]));
            std::fs::write(&target, record(id).encode().unwrap()).unwrap();
            std::os::unix::fs::symlink(&target, &path).unwrap();
            (Some(target), None)
        }
        Plant::Fifo => {
            let status = std::process::Command::new("mkfifo")
                .arg(&path)
                .status()
                .expect("mkfifo");
            assert!(status.success());
            (None, None)
        }
        Plant::Socket => (
            None,
            Some(std::os::unix::net::UnixListener::bind(&path).unwrap()),
        ),
    }
}

/// Whether `id`'s path still holds `plant`, untouched.
fn still_there(dir: &Path, id: &SessionId, plant: Plant, kept: &Option<PathBuf>) -> bool {
    use std::os::unix::fs::FileTypeExt;
    let Ok(meta) = std::fs::symlink_metadata(common::session_file(dir, id)) else {
        return false;
    };
    let kind = meta.file_type();
    let same_kind = match plant {
        Plant::Directory => kind.is_dir(),
        Plant::Symlink => kind.is_symlink(),
        Plant::Fifo => kind.is_fifo(),
        Plant::Socket => kind.is_socket(),
    };
    let kept_intact = match (plant, kept) {
        (Plant::Directory, Some(inner)) => std::fs::read(inner).is_ok_and(|b| b == b"keep"),
        (Plant::Symlink, Some(target)) => std::fs::read(target)
            .is_ok_and(|b| Record::decode(id.clone(), &b).is_ok_and(|r| r.data == record(id).data)),
        _ => true,
    };
    same_kind && kept_intact
}

#[tokio::test]
async fn entries_that_are_not_regular_files_load_as_corrupt_and_stay() {
    let dir = common::fresh_dir("not-files");
    let outside = common::fresh_dir("not-files-outside");
    let store = FileStore::open(&dir).unwrap();
    for kind in PLANTS {
        let id = SessionId::generate();
        let (kept, _socket) = plant(&dir, &outside, &id, *kind);
        let result = bounded(&format!("load of a {kind:?}"), store.load(&id)).await;
        match result {
            Err(e) if e.kind() == ErrorKind::Corrupt => {
                let text = e.report();
                assert!(
                    text.contains("not a regular file") && !text.contains(id.as_str()),
                    "{kind:?}: the message should say what is wrong, without the ID: {text}"
                );
            }
            other => panic!("{kind:?}: load gave {other:?}"),
        }
        assert!(
            still_there(&dir, &id, *kind, &kept),
            "{kind:?}: load changed it"
        );
    }
    std::fs::remove_dir_all(dir).unwrap();
    std::fs::remove_dir_all(outside).unwrap();
}

/// The documented policy over an entry that is not a regular file: the
/// store never writes, moves or removes it. `create` is a conflict, `save`
/// and `touch` are `NotFound`, `delete` succeeds and leaves it,
/// `clear_expired` skips it.
#[tokio::test]
async fn writes_over_entries_that_are_not_regular_files_change_nothing() {
    let dir = common::fresh_dir("not-files-writes");
    let outside = common::fresh_dir("not-files-writes-outside");
    let store = FileStore::open(&dir).unwrap();
    let mut wrong = Vec::new();
    for kind in PLANTS {
        let id = SessionId::generate();
        let (kept, _socket) = plant(&dir, &outside, &id, *kind);
        match bounded("create", store.create(&record(&id))).await {
            Err(e) if e.kind() == ErrorKind::Conflict => {}
            other => wrong.push(format!("{kind:?}: create gave {other:?}")),
        }
        match bounded("save", store.save(&record(&id))).await {
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            other => wrong.push(format!("{kind:?}: save gave {other:?}")),
        }
        match bounded("touch", store.touch(&id, later())).await {
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            other => wrong.push(format!("{kind:?}: touch gave {other:?}")),
        }
        match bounded("delete", store.delete(&id)).await {
            Ok(()) => {}
            other => wrong.push(format!("{kind:?}: delete gave {other:?}")),
        }
        match bounded("clear_expired", store.clear_expired()).await {
            Ok(0) => {}
            other => wrong.push(format!("{kind:?}: clear_expired gave {other:?}")),
        }
        if !still_there(&dir, &id, *kind, &kept) {
            wrong.push(format!("{kind:?}: a write changed or removed it"));
        }
    }
    assert!(wrong.is_empty(), "policy broken:\n{}", wrong.join("\n"));
    assert!(
        common::entries(&dir)
            .iter()
            .all(|n| !n.starts_with(".tmp-")),
        "temporary files left: {:?}",
        common::entries(&dir)
    );
    std::fs::remove_dir_all(dir).unwrap();
    std::fs::remove_dir_all(outside).unwrap();
}
