//! What the memory-measuring tests share: the process's peak resident memory (Linux
//! `/proc`), and a repeatable compression-bomb segment.

use flate2::{Compress, Compression, FlushCompress};

pub const MIB: u64 = 1 << 20;

/// The growth of the process's peak resident memory since [`PeakRss::start`].
pub struct PeakRss {
    before: u64,
}

impl PeakRss {
    /// Starts the peak over from here (Linux: "5" resets VmHWM to the current RSS).
    pub fn start() -> PeakRss {
        std::fs::write("/proc/self/clear_refs", "5").unwrap();
        PeakRss {
            before: status_bytes("VmRSS:"),
        }
    }

    /// How far the peak rose above the start, in bytes.
    pub fn growth(&self) -> u64 {
        status_bytes("VmHWM:").saturating_sub(self.before)
    }
}

/// A field of /proc/self/status, in bytes (`VmRSS`, `VmHWM`).
fn status_bytes(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"));
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap();
    kib * 1024
}

/// Raw DEFLATE of 1 MiB of zeros ending in a sync flush: a segment that can be repeated
/// (1024 of them inflate to 1 GiB).
pub fn zeros_segment() -> Vec<u8> {
    let zeros = vec![0u8; MIB as usize];
    let mut c = Compress::new(Compression::best(), false);
    let mut out = Vec::with_capacity(64 << 10);
    c.compress_vec(&zeros, &mut out, FlushCompress::Sync)
        .unwrap();
    assert_eq!(c.total_in(), MIB, "compressed in one call");
    out
}
