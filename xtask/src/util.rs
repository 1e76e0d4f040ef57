//! Helpers shared by the tasks that drive external processes (`autobahn`, `interop`):
//! command-line flags, the runtime choice, child processes that are killed on every exit
//! path, bounded waits, logged installs and log tails.

use std::ffi::OsString;
use std::fs;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// A runtime our test clients (`tests/harness/`) can run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Runtime {
    Tokio,
    Smol,
    AsyncStd,
}

impl Runtime {
    /// Every runtime, the default of every task.
    pub(crate) const ALL: [Runtime; 3] = [Runtime::Tokio, Runtime::Smol, Runtime::AsyncStd];

    /// The value of the test clients' `--runtime` flag.
    pub(crate) fn flag(self) -> &'static str {
        match self {
            Runtime::Tokio => "tokio",
            Runtime::Smol => "smol",
            Runtime::AsyncStd => "async-std",
        }
    }

    /// The value of a task's `--runtime` option: `all` or a comma-separated list of
    /// `tokio`, `smol`, `async-std`.
    pub(crate) fn parse_list(value: &str) -> Result<Vec<Runtime>, String> {
        if value == "all" {
            return Ok(Runtime::ALL.to_vec());
        }
        value
            .split(',')
            .map(|name| match name.trim() {
                "tokio" => Ok(Runtime::Tokio),
                "smol" => Ok(Runtime::Smol),
                "async-std" | "async_std" => Ok(Runtime::AsyncStd),
                other => Err(format!(
                    "unknown runtime {other:?}: use tokio, smol, async-std (comma-separated) or all"
                )),
            })
            .collect()
    }
}

/// A task's command line, read flag by flag: `--name value` or `--name=value`.
pub(crate) struct Flags<'a> {
    args: std::slice::Iter<'a, String>,
    /// The value given with `=` to the current flag.
    inline: Option<String>,
    usage: &'static str,
}

impl<'a> Flags<'a> {
    /// Reads `args`; `usage` ends the error of a flag that lacks its value.
    pub(crate) fn new(args: &'a [String], usage: &'static str) -> Self {
        Flags {
            args: args.iter(),
            inline: None,
            usage,
        }
    }

    /// The next flag's name (without any `=value`), `None` at the end.
    pub(crate) fn next_flag(&mut self) -> Option<&'a str> {
        let arg = self.args.next()?;
        match arg.split_once('=') {
            Some((name, value)) if name.starts_with("--") => {
                self.inline = Some(value.to_owned());
                Some(name)
            }
            _ => {
                self.inline = None;
                Some(arg.as_str())
            }
        }
    }

    /// The value of flag `name`: the part after `=`, else the next argument.
    pub(crate) fn value(&mut self, name: &str) -> Result<String, String> {
        self.inline
            .take()
            .or_else(|| self.args.next().cloned())
            .ok_or_else(|| format!("{name} needs a value\n{}", self.usage))
    }
}

/// The program named by environment variable `var`, else `default`.
pub(crate) fn env_program(var: &str, default: &str) -> OsString {
    std::env::var_os(var).unwrap_or_else(|| OsString::from(default))
}

/// A nested `cargo` (`$CARGO`, else `cargo`) without the variables `cargo run` set for the
/// xtask itself (`CARGO_PKG_*`, `CARGO_MANIFEST_*`, ...): build scripts such as ring's
/// track some of them, so passing them on would rebuild ring and everything above it on
/// every `cargo xtask` run, and again on the next plain `cargo build`.
pub(crate) fn cargo() -> Command {
    let mut command = Command::new(env_program("CARGO", "cargo"));
    for (name, _) in std::env::vars_os() {
        let Some(name) = name.to_str() else { continue };
        if name.starts_with("CARGO_PKG_")
            || name.starts_with("CARGO_MANIFEST_")
            || matches!(
                name,
                "CARGO_CRATE_NAME" | "CARGO_BIN_NAME" | "CARGO_PRIMARY_PACKAGE"
            )
        {
            command.env_remove(name);
        }
    }
    command
}

/// Whether `command` runs and exits 0 (output discarded).
pub(crate) fn quiet_success(command: &mut Command) -> bool {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Creates (truncates) the log at `path`; returns it twice, for a child's stdout and stderr.
pub(crate) fn create_log(path: &Path) -> Result<(fs::File, fs::File), String> {
    let file =
        fs::File::create(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    let twin = file
        .try_clone()
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    Ok((file, twin))
}

/// Runs `command` with its output appended to `log`, within `timeout` if one is given (the
/// command is killed then); on failure the error shows the log's tail. `start_hint`, if not
/// empty, is added in parentheses to the error of a command that cannot start.
pub(crate) fn run_logged(
    command: &mut Command,
    log: &Path,
    what: &str,
    start_hint: &str,
    timeout: Option<Duration>,
) -> Result<(), String> {
    let file = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| format!("cannot open {}: {e}", log.display()))?;
    let err_file = file
        .try_clone()
        .map_err(|e| format!("cannot open {}: {e}", log.display()))?;
    let child = command
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(err_file)
        .spawn()
        .map_err(|e| {
            let hint = if start_hint.is_empty() {
                String::new()
            } else {
                format!(" ({start_hint})")
            };
            format!(
                "{what}: cannot start {:?}: {e}{hint}",
                command.get_program()
            )
        })?;
    let mut child = KillOnDrop(child);
    let status = match timeout {
        Some(timeout) => wait_timeout(&mut child.0, timeout)?,
        None => Some(
            child
                .0
                .wait()
                .map_err(|e| format!("cannot watch a child process: {e}"))?,
        ),
    };
    match status {
        Some(status) if status.success() => Ok(()),
        Some(status) => Err(format!(
            "{what} failed ({status}); last lines of {}:\n{}",
            log.display(),
            tail(log, 20)
        )),
        None => Err(format!(
            "{what} did not finish within {:?}; last lines of {}:\n{}",
            timeout.unwrap_or_default(),
            log.display(),
            tail(log, 20)
        )),
    }
}

/// A child process that is killed (by its id) and reaped when dropped, so every exit path
/// stops it.
pub(crate) struct KillOnDrop(pub(crate) Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        // Both fail harmlessly when the child has already exited and been reaped.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits for `child` at most `timeout`: `None` if it is still running then.
pub(crate) fn wait_timeout(
    child: &mut Child,
    timeout: Duration,
) -> Result<Option<ExitStatus>, String> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(Some(status)),
            Ok(None) if Instant::now() >= deadline => return Ok(None),
            Ok(None) => thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("cannot watch a child process: {e}")),
        }
    }
}

/// The last `lines` lines of a text file (empty if unreadable).
pub(crate) fn tail(path: &Path, lines: usize) -> String {
    let text = fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    tail_str(&text, lines)
}

/// The last `lines` lines of `text`.
pub(crate) fn tail_str(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn flags_take_inline_or_next_values() {
        let list = args(&["--a=1", "--b", "2", "-v", "--c"]);
        let mut flags = Flags::new(&list, "usage: x");
        assert_eq!(flags.next_flag(), Some("--a"));
        assert_eq!(flags.value("--a").as_deref(), Ok("1"));
        assert_eq!(flags.next_flag(), Some("--b"));
        assert_eq!(flags.value("--b").as_deref(), Ok("2"));
        assert_eq!(flags.next_flag(), Some("-v"));
        assert_eq!(flags.next_flag(), Some("--c"));
        assert_eq!(
            flags.value("--c"),
            Err("--c needs a value\nusage: x".to_owned())
        );
        assert_eq!(flags.next_flag(), None);
    }

    #[test]
    fn an_unused_inline_value_does_not_leak_to_the_next_flag() {
        let list = args(&["--verbose=1", "--cases"]);
        let mut flags = Flags::new(&list, "usage: x");
        assert_eq!(flags.next_flag(), Some("--verbose"));
        assert_eq!(flags.next_flag(), Some("--cases"));
        assert!(flags.value("--cases").is_err());
    }

    #[test]
    fn runtime_lists() {
        assert_eq!(Runtime::parse_list("tokio"), Ok(vec![Runtime::Tokio]));
        assert_eq!(
            Runtime::parse_list("async_std"),
            Ok(vec![Runtime::AsyncStd])
        );
        assert_eq!(Runtime::parse_list("all"), Ok(Runtime::ALL.to_vec()));
        assert_eq!(
            Runtime::parse_list("smol,tokio"),
            Ok(vec![Runtime::Smol, Runtime::Tokio])
        );
        assert_eq!(
            Runtime::parse_list("both"),
            Err(
                "unknown runtime \"both\": use tokio, smol, async-std (comma-separated) or all"
                    .to_owned()
            )
        );
    }

    #[test]
    fn tails_keep_the_last_lines() {
        assert_eq!(tail_str("a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail_str("a", 5), "a");
    }
}
