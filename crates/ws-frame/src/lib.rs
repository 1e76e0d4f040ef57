//! `ws-frame` — not implemented yet (see ARCHITECTURE.md).
#![forbid(unsafe_code)]
