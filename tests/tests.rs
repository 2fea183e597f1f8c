//! The one integration test binary of flowlens (`cargo test -p flowlens --test tests`).
//!
//! Modules live in `tests/it/`. The fixtures in `tests/data/` are small real
//! captures (sources in `tests/data/SOURCES.md`), compiled in with
//! `include_bytes!`, so these tests always run. The tests over the full data
//! set in `../shared/data` (or `$FLOWLENS_SHARED_DATA`) run in addition when
//! it is present, and say `skipped: ...` on stderr when it is not.

#![forbid(unsafe_code)]

mod it;
