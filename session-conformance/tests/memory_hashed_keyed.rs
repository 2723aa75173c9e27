//! `HashedIds::keyed` (HMAC-SHA256) over `MemoryStore` certified by the
//! kit: hashing the IDs at rest keeps every store guarantee.

use session_core::{Capabilities, HashedIds, MemoryStore};

session_conformance::store_suite!(
    "memory-hashed-keyed",
    |ns: session_conformance::Namespace| async move {
        HashedIds::keyed(MemoryStore::with_clock(ns.clock()), [7u8; 32])
    },
    capabilities = Capabilities::ALL,
    manual_clock = true,
);
