//! `MemoryStore` certified by the kit through the one-line macro.

use session_core::{Capabilities, MemoryStore};

session_conformance::store_suite!(
    "memory",
    |ns: session_conformance::Namespace| async move {
        Ok::<_, std::convert::Infallible>(MemoryStore::with_clock(ns.clock()))
    },
    capabilities = Capabilities::ALL,
    manual_clock = true,
);
