//! aiows — not implemented yet.
fn main() {}
