//! Readings from `/proc`: CPU time of a process (all its threads), its resident memory,
//! and the machine (CPU model, load) for the reports.
//!
//! Linux only; on other systems every reading is `None` and the tables show "n/a".

use std::fs;

/// Kernel clock ticks per second for `utime`/`stime` in `/proc/<pid>/stat` (USER_HZ, 100 on
/// every Linux architecture we care about).
const TICKS_PER_SEC: u64 = 100;

/// CPU time used so far by one process.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct CpuTime {
    /// On-CPU time of the live threads from `schedstat`, in nanoseconds (ns resolution).
    pub(crate) run_ns: u64,
    /// Time the live threads were runnable but waiting for a CPU (`schedstat`, ns): other
    /// processes on the same core. Large values mean the wall-clock numbers are polluted.
    pub(crate) wait_ns: u64,
    /// User time of all threads (live and exited) from `stat`, in nanoseconds (10 ms resolution).
    pub(crate) user_ns: u64,
    /// System time of all threads from `stat`, in nanoseconds (10 ms resolution).
    pub(crate) sys_ns: u64,
}

impl CpuTime {
    /// The CPU time of process `pid` (`"self"` for this process).
    pub(crate) fn of(pid: &str) -> Option<CpuTime> {
        let (user_ns, sys_ns) = stat_times(pid)?;
        let (mut run_ns, mut wait_ns) = (0, 0);
        let tasks = fs::read_dir(format!("/proc/{pid}/task")).ok()?;
        for task in tasks.flatten() {
            let path = task.path().join("schedstat");
            // A thread may exit between read_dir and the read: skip it.
            if let Ok(text) = fs::read_to_string(path) {
                let mut fields = text
                    .split_whitespace()
                    .map(|v| v.parse::<u64>().unwrap_or(0));
                run_ns += fields.next().unwrap_or(0);
                wait_ns += fields.next().unwrap_or(0);
            }
        }
        Some(CpuTime {
            run_ns,
            wait_ns,
            user_ns,
            sys_ns,
        })
    }

    /// `self - earlier`, saturating.
    pub(crate) fn since(self, earlier: CpuTime) -> CpuTime {
        CpuTime {
            run_ns: self.run_ns.saturating_sub(earlier.run_ns),
            wait_ns: self.wait_ns.saturating_sub(earlier.wait_ns),
            user_ns: self.user_ns.saturating_sub(earlier.user_ns),
            sys_ns: self.sys_ns.saturating_sub(earlier.sys_ns),
        }
    }
}

/// `(utime, stime)` of a whole process in nanoseconds.
fn stat_times(pid: &str) -> Option<(u64, u64)> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may contain spaces: start after it.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state); utime and stime are fields 14 and 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    let ns_per_tick = 1_000_000_000 / TICKS_PER_SEC;
    Some((utime * ns_per_tick, stime * ns_per_tick))
}

/// Resident set size of this process in KiB (`VmRSS` in `/proc/self/status`).
pub(crate) fn rss_kib() -> Option<u64> {
    let text = fs::read_to_string("/proc/self/status").ok()?;
    let line = text.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// One line about the machine for a benchmark's report: CPU model, cores, pinning, load.
pub(crate) fn environment(pin: bool) -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let pinning = if pin {
        "server pinned to CPU 0, clients to CPU 1 (taskset)"
    } else {
        "NOT pinned (taskset unavailable, one core, or --no-pin)"
    };
    format!(
        "{cpu}, {cores} cores; {pinning}; load average at start: {}",
        loadavg()
    )
}

/// The 1, 5 and 15 minute load averages.
pub(crate) fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "n/a".into())
}
