//! Detects whether the compiler has stable AVX-512 intrinsics (Rust 1.89+), so that the
//! AVX-512 masking path is compiled where it can be while the crate still builds on older
//! compilers (the workspace's `rust-version`). No dependencies; any failure to read the
//! compiler version just leaves the AVX-512 path out.

use std::env;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=RUSTC");
    println!("cargo::rustc-check-cfg=cfg(ws_frame_avx512)");
    if rustc_minor().is_some_and(|minor| minor >= 89) {
        println!("cargo:rustc-cfg=ws_frame_avx512");
    }
}

/// The minor version of the compiler cargo uses, from `rustc --version`
/// ("rustc 1.89.0 (29483883e 2025-08-04)").
fn rustc_minor() -> Option<u32> {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let out = Command::new(rustc).arg("--version").output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let version = text.split_whitespace().nth(1)?;
    let mut parts = version.split('.');
    if parts.next()? != "1" {
        return None;
    }
    parts.next()?.parse().ok()
}
