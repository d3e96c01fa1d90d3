//! Python in a supervised child process speaking the same JSON lines: the `system` strategy (the
//! machine's python3) and `isolation = "process"` (this executable started with `--python-child`).
//!
//! A child that dies fails the calls it was answering (`ok: false`, "backend exited with code N"
//! and its last stderr lines), the frontend gets a `__auroraview_backend__` event, and the child is
//! restarted with backoff, up to `max_restarts` times. A child that stops answering heartbeats is
//! killed and replaced. A child that ends on its own (its entry point finished) ends the app.
//!
//! Two ways to carry the messages: for the window (and `dev`) this process relays them between the
//! frontend and the child's pipes ([`relay`]); in `--headless` the child serves the client's own
//! pipes and keeps a [`journal`] this process reads when it dies ([`direct`]), so no message makes
//! an extra hop between processes.

pub mod direct;
pub mod journal;
pub mod relay;
mod spin;

use crate::rpc::sink::Sink;
use anyhow::{Context, Result, bail};
use auroraview_overlay::EntryPoint;
use crossbeam_channel::Receiver;
use serde::Deserialize;
use std::collections::VecDeque;
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::RawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The last line a child writes when its entry point finished on its own.
const EXIT_EVENT: &str = "__auroraview_exit__";
pub const STATUS_EVENT: &str = "__auroraview_backend__";
const HEARTBEAT_PREFIX: &str = "__auroraview_hb_";
const STDERR_TAIL: usize = 20;

pub struct Settings {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    /// Extra environment and working directory for the child (`dev` runs).
    pub env: Vec<(String, OsString)>,
    pub cwd: Option<PathBuf>,
    pub max_restarts: u32,
    pub heartbeat_timeout: Duration,
}

impl Settings {
    /// How often the child is pinged: a few times within the timeout, between 50 ms and 1 s.
    fn heartbeat_interval(&self) -> Duration {
        (self.heartbeat_timeout / 5).clamp(Duration::from_millis(50), Duration::from_secs(1))
    }
}

#[derive(Deserialize)]
struct Ids {
    id: Option<serde_json::Value>,
    event: Option<String>,
    data: Option<serde_json::Value>,
}

/// The line with which a child without a journal tells its supervisor that its entry point ended
/// on purpose with `code` (not a crash to restart).
#[cfg_attr(not(feature = "python"), allow(dead_code))]
pub fn exit_event(code: u8) -> String {
    format!(r#"{{"event":"{EXIT_EVENT}","data":{{"code":{code}}}}}"#)
}

/// The machine's Python, isolated from the machine (`-I`: no `PYTHON*` variables, no user site, no
/// script directory; `-S` unless `system_site_packages`: none of its site-packages either), started
/// on `auroraview._child` with the app's paths from `AURORAVIEW_PYTHON_PATH` in front. Add the
/// entry point's words and the app's arguments.
pub fn isolated_python_args(system_site_packages: bool) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec!["-I".into()];
    if !system_site_packages {
        args.push("-S".into());
    }
    args.extend(["-c".into(), ISOLATED_BOOTSTRAP.into()]);
    args
}

/// Puts the app's paths first on `sys.path` (`-I` ignores `PYTHONPATH`), reads the `.pth` files of
/// those that have any (as the embedded interpreter does), and runs the child's main.
const ISOLATED_BOOTSTRAP: &str = "import os, sys
paths = [p for p in os.environ.get('AURORAVIEW_PYTHON_PATH', '').split(os.pathsep) if p]
sys.path[:0] = paths
for p in paths:
    if os.path.isdir(p) and any(n.endswith('.pth') for n in os.listdir(p)):
        import site
        site.addsitedir(p)
from auroraview._child import main
sys.exit(main(sys.argv))
";

/// The arguments after `python` that run `entry` in a child through `auroraview._child`; a script
/// is relative to `python_dir`.
pub fn python_child_args(entry: &EntryPoint, python_dir: &Path) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec!["-m".into(), "auroraview._child".into()];
    args.extend(crate::app::entry_words(entry, python_dir));
    args
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What one child's life ended with.
enum Ended {
    /// The app is shutting down (no more requests): exit with this code.
    Shutdown(u8),
    /// The entry point finished; the app ends with its code.
    Finished(u8),
    /// Crashed, killed, or stopped answering.
    Died { code: Option<i32>, why: String },
    /// Replaced on request (`Forwarder::restart`).
    Restarted,
}

/// Starts children with `serve` until one ends the app, restarting crashed ones with backoff.
fn supervise(settings: &Settings, sink: &Sink, mut serve: impl FnMut() -> Result<Ended>) -> Result<u8> {
    let mut restarts = 0u32;
    loop {
        let started = Instant::now();
        let ended = serve()?;
        match ended {
            Ended::Shutdown(code) | Ended::Finished(code) => return Ok(code),
            Ended::Restarted => eprintln!("auroraview: Python code changed; restarting the backend"),
            Ended::Died { code, why } => {
                // A child that ran for a while before dying starts a fresh budget of restarts.
                if started.elapsed() > Duration::from_secs(60) {
                    restarts = 0;
                }
                restarts += 1;
                if restarts > settings.max_restarts {
                    status(sink, "failed", code, &format!("{why}; gave up after {} restarts", settings.max_restarts));
                    bail!(
                        "the Python backend {why}; gave up after {} restarts (python.max_restarts)",
                        settings.max_restarts
                    );
                }
                let backoff = Duration::from_millis(50 << (restarts - 1).min(5));
                eprintln!(
                    "auroraview: the Python backend {why}; restarting in {backoff:?} ({restarts}/{})",
                    settings.max_restarts
                );
                std::thread::sleep(backoff);
            }
        }
    }
}

fn status(sink: &Sink, status: &str, code: Option<i32>, message: &str) {
    let line = serde_json::json!({"event": STATUS_EVENT, "data": {"status": status, "code": code, "message": message}});
    let _ = sink(&line.to_string());
}

fn spawn(settings: &Settings) -> Result<Child> {
    command(settings, Stdio::piped(), Stdio::piped(), &[])
        .spawn()
        .with_context(|| format!("starting the Python backend {}", settings.program.display()))
}

/// The child's command, with `inherit` (descriptors of this process) left open in it.
fn command(settings: &Settings, stdin: Stdio, stdout: Stdio, inherit: &[RawFd]) -> Command {
    let mut cmd = Command::new(&settings.program);
    cmd.args(&settings.args).stdin(stdin).stdout(stdout).stderr(Stdio::piped());
    cmd.envs(settings.env.iter().map(|(k, v)| (k, v)));
    if let Some(dir) = &settings.cwd {
        cmd.current_dir(dir);
    }
    use std::os::unix::process::CommandExt;
    let inherit = inherit.to_vec();
    // SAFETY: prctl and fcntl are async-signal-safe. PR_SET_PDEATHSIG asks the kernel to kill the
    // child when this process dies, so no child outlives the app even if the app is killed.
    unsafe {
        cmd.pre_exec(move || {
            #[cfg(target_os = "linux")]
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            for &fd in &inherit {
                if libc::fcntl(fd, libc::F_SETFD, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    cmd
}

/// Stops a child: close its stdin and let it finish, then SIGTERM, then SIGKILL.
fn stop(child: &mut Child, stdin: Option<ChildStdin>, grace: Duration) -> Option<i32> {
    drop(stdin);
    let wait = |child: &mut Child, limit: Duration| {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    };
    if let Some(s) = wait(child, grace) {
        return exit_code(s);
    }
    // SAFETY: kill on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    if let Some(s) = wait(child, Duration::from_secs(1)) {
        return exit_code(s);
    }
    let _ = child.kill();
    child.wait().ok().and_then(exit_code)
}

fn exit_code(status: std::process::ExitStatus) -> Option<i32> {
    use std::os::unix::process::ExitStatusExt;
    status.code().or_else(|| status.signal().map(|s| 128 + s))
}

fn describe(code: Option<i32>) -> String {
    match code {
        Some(c) if c > 128 => format!("was killed by signal {} (exit code {c})", c - 128),
        Some(c) => format!("exited with code {c}"),
        None => "exited".to_string(),
    }
}

/// What a child tells the supervisor besides answers: when it last answered a heartbeat, and the
/// exit code of an entry point that finished on its own.
struct Signs {
    last_pong: Mutex<Instant>,
    finished: Mutex<Option<u8>>,
}

impl Signs {
    fn new() -> Arc<Signs> {
        Arc::new(Signs { last_pong: Mutex::new(Instant::now()), finished: Mutex::new(None) })
    }

    fn pong(&self) {
        *lock(&self.last_pong) = Instant::now();
    }

    fn finish(&self, code: u8) {
        *lock(&self.finished) = Some(code);
    }

    fn finished(&self) -> Option<u8> {
        *lock(&self.finished)
    }

    /// Whether the child has left heartbeats unanswered for longer than `settings` allow.
    fn silent(&self, settings: &Settings) -> bool {
        lock(&self.last_pong).elapsed() > settings.heartbeat_timeout
    }
}

/// No more requests: the child finishes its calls and exits; one that does not is stopped. The
/// app's exit code is the one its entry point ended with, if any.
fn shut_down(child: &mut Child, stdin: Option<ChildStdin>, eof: &Receiver<()>, signs: &Signs) -> Ended {
    stop(child, stdin, Duration::from_secs(5));
    let _ = eof.recv_timeout(Duration::from_secs(1));
    Ended::Shutdown(signs.finished().unwrap_or(0))
}

/// Why a child died, and the message its failed calls carry (with its last stderr lines).
fn death(settings: &Settings, code: Option<i32>, hung: bool, tail: &Mutex<VecDeque<String>>) -> (String, String) {
    std::thread::sleep(Duration::from_millis(20)); // let the stderr reader catch the last lines
    let tail_text = lock(tail).iter().cloned().collect::<Vec<_>>().join("\n");
    let why = if hung {
        format!("stopped answering for {:?} and was replaced", settings.heartbeat_timeout)
    } else {
        describe(code)
    };
    let mut message = format!("backend {why}");
    if !tail_text.is_empty() {
        message.push_str(&format!("; its last output:\n{tail_text}"));
    }
    (why, message)
}

/// Copies a child's stderr to ours, keeping its last lines for error messages.
fn read_stderr(stderr: std::process::ChildStderr, tail: Arc<Mutex<VecDeque<String>>>) -> Result<()> {
    std::thread::Builder::new().name("backend-stderr".into()).spawn(move || {
        let mut err = std::io::stderr();
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            let _ = writeln!(err, "{line}");
            let mut t = lock(&tail);
            if t.len() == STDERR_TAIL {
                t.pop_front();
            }
            t.push_back(line);
        }
    })?;
    Ok(())
}

fn fail_in_flight(sink: &Sink, in_flight: Vec<String>, message: &str, code: Option<i32>) {
    for id in in_flight {
        let id: serde_json::Value = serde_json::from_str(&id).unwrap_or_default();
        let line = serde_json::json!({"id": id, "ok": false, "error": message, "type": "BackendExited", "code": code});
        let _ = sink(&line.to_string());
    }
}
