//! The store cases, one file per area.

use super::StoreCase;

pub(super) static ALL: &[StoreCase] = &[];
