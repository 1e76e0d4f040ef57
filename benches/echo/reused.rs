//! The echo bench's modules that the bulk and scale benches reuse, declared once for both
//! (each uses a part of them, hence `allow(dead_code)` where they are declared). Their
//! crate roots bring them to the top (`use reused::{clients, ..}`), where the modules
//! expect each other (`crate::process`, `crate::server`, ...). The echo bench declares its
//! own, all of them used.

#[path = "clients.rs"]
pub(crate) mod clients;
#[path = "harness.rs"]
pub(crate) mod harness;
#[path = "ours.rs"]
pub(crate) mod ours;
#[path = "process.rs"]
pub(crate) mod process;
#[path = "procfs.rs"]
pub(crate) mod procfs;
#[path = "serve.rs"]
pub(crate) mod serve;
#[path = "server.rs"]
pub(crate) mod server;
