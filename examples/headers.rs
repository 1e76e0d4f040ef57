//! Placeholder: this example is not written yet.
fn main() {
    eprintln!("example not implemented yet");
    std::process::exit(1);
}
