//! `ws-client` — under construction (see ARCHITECTURE.md for the contract).
#![forbid(unsafe_code)]

pub mod config;
#[cfg(feature = "deflate")]
pub mod deflate;
pub mod error;
pub mod handshake;
pub mod message;
pub mod options;
pub mod proto;
pub mod rt;
pub mod split;
pub mod stream;
pub mod utf8;
