//! `FileStore` certified by the conformance kit: one directory per case.

use session_conformance::Namespace;
use session_core::Capabilities;
use session_store_file::FileStore;

session_conformance::store_suite!(
    "file",
    |ns: Namespace| async move {
        let dir = std::env::temp_dir()
            .join("session-conformance-file")
            .join(ns.name());
        FileStore::open(dir).map(|store| store.with_clock(ns.clock()))
    },
    capabilities = Capabilities::ALL,
    manual_clock = true,
    teardown = |ns: Namespace| async move {
        let _ = std::fs::remove_dir_all(
            std::env::temp_dir()
                .join("session-conformance-file")
                .join(ns.name()),
        );
    },
);
