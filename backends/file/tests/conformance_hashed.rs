//! `HashedIds` over `FileStore` certified by the conformance kit: session
//! IDs hashed at rest keep every store guarantee. One directory per case.

use session_conformance::Namespace;
use session_core::{Capabilities, HashedIds};
use session_store_file::FileStore;

fn dir(ns: &Namespace) -> std::path::PathBuf {
    std::env::temp_dir()
        .join("session-conformance-file-hashed")
        .join(ns.name())
}

session_conformance::store_suite!(
    "file-hashed",
    |ns: Namespace| async move {
        let store = FileStore::open(dir(&ns))?.with_clock(ns.clock());
        HashedIds::keyed(store, *b"a key kept outside the store 32b")
            .map_err(session_core::BoxError::from)
    },
    capabilities = Capabilities::ALL,
    manual_clock = true,
    teardown = |ns: Namespace| async move {
        let _ = std::fs::remove_dir_all(dir(&ns));
    },
);
