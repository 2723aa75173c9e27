//! `HashedIds::new` (plain SHA-256) over `MemoryStore` certified by the
//! kit: hashing the IDs at rest keeps every store guarantee.

use session_core::{Capabilities, HashedIds, MemoryStore};

session_conformance::store_suite!(
    "memory-hashed",
    |ns: session_conformance::Namespace| async move {
        Ok::<_, std::convert::Infallible>(HashedIds::new(MemoryStore::with_clock(ns.clock())))
    },
    capabilities = Capabilities::ALL,
    manual_clock = true,
);
