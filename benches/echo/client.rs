//! The client process: a closed loop (`client` mode) or the idle-connection memory probe
//! (`mem-client` mode). One process per run, so its CPU time and RSS are its own.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::clients::{EchoConn, Spec};
use crate::harness::{tokio_runtime, Sample, Snapshot};
use crate::procfs;

/// Parameters of one closed-loop run.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LoopParams {
    pub(crate) conns: usize,
    pub(crate) warmup: Duration,
    pub(crate) duration: Duration,
    /// The echo server's pid, to report how busy it was during the window.
    pub(crate) server_pid: Option<u32>,
}

#[derive(Default)]
struct Shared {
    count: AtomicU64,
    stop: AtomicBool,
    error: Mutex<Option<String>>,
}

impl Shared {
    fn fail(&self, e: String) {
        if let Ok(mut slot) = self.error.lock() {
            slot.get_or_insert(e);
        }
    }
}

type Task = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The connections of one closed-loop run, opened, with one echo loop per connection ready to
/// run (each counts its round trips until `stop` is set).
async fn open_loops<C: EchoConn>(
    spec: Spec,
    conns: usize,
) -> Result<(Vec<Task>, Arc<Shared>), String> {
    let mut opened = Vec::with_capacity(conns);
    for _ in 0..conns {
        opened.push(C::open(spec.clone()).await?);
    }
    let shared = Arc::new(Shared::default());
    let loops = opened
        .into_iter()
        .map(|mut conn| {
            let shared = Arc::clone(&shared);
            Box::pin(async move {
                while !shared.stop.load(Ordering::Relaxed) {
                    match conn.echo().await {
                        Ok(()) => {
                            shared.count.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => return shared.fail(e),
                    }
                }
            }) as Task
        })
        .collect();
    Ok((loops, shared))
}

/// The measuring side of a closed loop, while the loops run: the window after the warm-up,
/// then stop the loops.
async fn measure<Sl, F>(shared: &Shared, p: LoopParams, sleep: Sl) -> Result<Sample, String>
where
    Sl: Fn(Duration) -> F,
    F: Future<Output = ()>,
{
    sleep(p.warmup).await;
    let count = || shared.count.load(Ordering::Relaxed);
    let a = Snapshot::take(count(), p.server_pid);
    sleep(p.duration).await;
    let b = Snapshot::take(count(), p.server_pid);
    shared.stop.store(true, Ordering::Relaxed);
    if let Some(e) = shared.error.lock().ok().and_then(|mut slot| slot.take()) {
        return Err(e);
    }
    Ok(Sample::between(&a, &b))
}

/// The closed loop on a current-thread tokio runtime: one task per connection.
pub(crate) fn closed_loop_tokio<C: EchoConn>(spec: Spec, p: LoopParams) -> Result<Sample, String> {
    tokio_runtime()?.block_on(async move {
        let (loops, shared) = open_loops::<C>(spec, p.conns).await?;
        for task in loops {
            tokio::spawn(task);
        }
        measure(&shared, p, tokio::time::sleep).await
    })
}

/// The closed loop on async-std, on one thread like the tokio runtime above: the loops run
/// inside `block_on` (which drives the reactor itself while they wait), not on the global
/// executor's threads.
pub(crate) fn closed_loop_async_std<C: EchoConn>(
    spec: Spec,
    p: LoopParams,
) -> Result<Sample, String> {
    use futures_util::future::{join_all, select, Either};
    async_std::task::block_on(async move {
        let (loops, shared) = open_loops::<C>(spec, p.conns).await?;
        let measuring = std::pin::pin!(measure(&shared, p, async_std::task::sleep));
        match select(measuring, join_all(loops)).await {
            Either::Left((sample, _)) => sample,
            Either::Right(_) => Err("every echo loop ended before the window closed".into()),
        }
    })
}

/// The closed loop on async-std's global executor (`task::spawn`, its worker threads and
/// its reactor thread): how most async-std programs run, scheduling costs included.
pub(crate) fn closed_loop_async_std_spawn<C: EchoConn>(
    spec: Spec,
    p: LoopParams,
) -> Result<Sample, String> {
    async_std::task::block_on(async move {
        let (loops, shared) = open_loops::<C>(spec, p.conns).await?;
        for task in loops {
            async_std::task::spawn(task);
        }
        measure(&shared, p, async_std::task::sleep).await
    })
}

/// RSS of this process before and after opening `n` connections (one echo on each).
#[derive(Clone, Copy, Debug)]
pub(crate) struct MemSample {
    pub(crate) conns: u64,
    pub(crate) before_kib: u64,
    pub(crate) after_kib: u64,
}

impl MemSample {
    pub(crate) fn to_line(self) -> String {
        format!(
            "MEM conns={} before_kib={} after_kib={}",
            self.conns, self.before_kib, self.after_kib
        )
    }

    pub(crate) fn parse(line: &str) -> Option<MemSample> {
        let rest = line.strip_prefix("MEM ")?;
        let get = |key: &str| -> Option<u64> {
            rest.split_whitespace()
                .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))?
                .parse()
                .ok()
        };
        Some(MemSample {
            conns: get("conns")?,
            before_kib: get("before_kib")?,
            after_kib: get("after_kib")?,
        })
    }

    /// Bytes of RSS growth per connection.
    pub(crate) fn per_conn_bytes(self) -> f64 {
        (self.after_kib as f64 - self.before_kib as f64) * 1024.0 / self.conns.max(1) as f64
    }
}

async fn idle_conns<C: EchoConn>(spec: Spec, n: usize) -> Result<MemSample, String> {
    // One connection first, kept open and not counted: one-time set-up (lazy statics, the
    // runtime's first registration, thread-local RNGs) is not a per-connection cost.
    let mut first = C::open(spec.clone()).await?;
    first.echo().await?;
    let mut conns = Vec::with_capacity(n);
    let before_kib = procfs::rss_kib().ok_or("no VmRSS in /proc/self/status")?;
    for _ in 0..n {
        let mut conn = C::open(spec.clone()).await?;
        conn.echo().await?;
        conns.push(conn);
    }
    let after_kib = procfs::rss_kib().ok_or("no VmRSS in /proc/self/status")?;
    drop(conns);
    drop(first);
    Ok(MemSample {
        conns: n as u64,
        before_kib,
        after_kib,
    })
}

/// The memory probe on a current-thread tokio runtime.
pub(crate) fn mem_tokio<C: EchoConn>(spec: Spec, n: usize) -> Result<MemSample, String> {
    tokio_runtime()?.block_on(idle_conns::<C>(spec, n))
}

/// The memory probe on async-std.
pub(crate) fn mem_async_std<C: EchoConn>(spec: Spec, n: usize) -> Result<MemSample, String> {
    async_std::task::block_on(idle_conns::<C>(spec, n))
}
