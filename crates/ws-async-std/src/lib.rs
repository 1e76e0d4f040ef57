//! `ws-async-std` — not implemented yet (see ARCHITECTURE.md).
#![forbid(unsafe_code)]
