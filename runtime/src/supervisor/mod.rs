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
    /// The app's plugins: each child gets a socket to them.
    pub plugins: Option<std::sync::Arc<crate::plugins::Host>>,
}

impl Settings {
    /// How often the child is pinged: a few times within the timeout, between 50 ms and 1 s.
    fn heartbeat_interval(&self) -> Duration {
        (self.heartbeat_timeout / 5).clamp(Duration::from_millis(50), Duration::from_secs(1))
    }
}

/// The raw JSON text of the members of the object `line` that `want` asks for, in one pass that
/// stops as soon as `want` says so. Nothing is parsed or allocated: params and results (large,
/// or nested deeper than a parser allows) are only stepped over. Not a validator: a line that is
/// not a JSON object yields what could be found before it went wrong.
fn members<'a>(line: &'a [u8], mut want: impl FnMut(&[u8], &'a [u8]) -> bool) {
    let ws = |mut i: usize| {
        while line.get(i).is_some_and(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r')) {
            i += 1;
        }
        i
    };
    // The end of the string starting at `i` (a quote), after its closing quote.
    let string_end = |i: usize| -> Option<usize> {
        let mut j = i + 1;
        loop {
            j += line.get(j..)?.iter().position(|&b| b == b'"' || b == b'\\')?;
            if line[j] == b'"' {
                return Some(j + 1);
            }
            j += 2;
        }
    };
    let value_end = |i: usize| -> Option<usize> {
        match *line.get(i)? {
            b'"' => string_end(i),
            b'{' | b'[' => {
                let (mut depth, mut j) = (0usize, i);
                loop {
                    match *line.get(j)? {
                        b'"' => j = string_end(j)?,
                        b'{' | b'[' => (depth, j) = (depth + 1, j + 1),
                        b'}' | b']' => {
                            (depth, j) = (depth - 1, j + 1);
                            if depth == 0 {
                                return Some(j);
                            }
                        }
                        _ => j += 1,
                    }
                }
            }
            _ => {
                let n = line[i..]
                    .iter()
                    .position(|b| matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
                    .unwrap_or(line.len() - i);
                (n > 0).then_some(i + n)
            }
        }
    };
    let mut i = ws(0);
    if line.get(i) != Some(&b'{') {
        return;
    }
    i = ws(i + 1);
    while line.get(i) == Some(&b'"') {
        let Some(key_end) = string_end(i) else { return };
        let key = &line[i..key_end];
        i = ws(key_end);
        if line.get(i) != Some(&b':') {
            return;
        }
        i = ws(i + 1);
        let Some(end) = value_end(i) else { return };
        if want(key, &line[i..end]) {
            return;
        }
        i = ws(end);
        if line.get(i) != Some(&b',') {
            return;
        }
        i = ws(i + 1);
    }
}

/// Whether `key` (a member name as written, with its quotes) is `name`.
fn key_is(key: &[u8], name: &str) -> bool {
    match key.get(1..key.len() - 1) {
        Some(inner) if !inner.contains(&b'\\') => inner == name.as_bytes(),
        _ => serde_json::from_slice::<String>(key).is_ok_and(|k| k == name),
    }
}

/// The key a call is tracked by while in flight: its id as JSON text, the same for the request as
/// for the answer Python writes (which may spell it differently: escapes, number forms), or None
/// for a call without one (no id, or null). A plain string or integer is used as written, anything
/// else as serde_json writes it. Ids serde_json refuses (nested deeper than 128 levels, a lone
/// surrogate escape) are not tracked.
fn id_key(raw: &[u8]) -> Option<String> {
    let plain = match raw.first()? {
        b'"' => !raw.iter().any(|&b| b == b'\\' || b < 0x20),
        b'0'..=b'9' | b'-' => {
            let digits = raw.strip_prefix(b"-").unwrap_or(raw);
            !digits.is_empty()
                && digits.len() <= 18
                && digits.iter().all(u8::is_ascii_digit)
                && (digits[0] != b'0' || (digits.len() == 1 && raw.len() == 1))
        }
        _ => false,
    };
    if plain {
        return Some(String::from_utf8_lossy(raw).into_owned());
    }
    if raw == b"-0" {
        return Some("0".into()); // an integer to Python, a float to serde_json
    }
    match serde_json::from_slice::<serde_json::Value>(raw) {
        Ok(serde_json::Value::Null) | Err(_) => None,
        Ok(v) => Some(v.to_string()),
    }
}

/// The in-flight key of a request line (see [`id_key`]).
fn request_key(line: &[u8]) -> Option<String> {
    let mut id = None;
    members(line, |key, value| {
        let found = key_is(key, "id");
        if found {
            id = Some(value);
        }
        found
    });
    id_key(id?)
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
    let (mut cmd, _plugins) = command(settings, Stdio::piped(), Stdio::piped(), &[])?;
    cmd.spawn().with_context(|| format!("starting the Python backend {}", settings.program.display()))
}

/// The child's command, with `inherit` (descriptors of this process) left open in it, and the
/// child's end of its socket to the app's plugins, to be dropped once the child is started.
fn command(
    settings: &Settings,
    stdin: Stdio,
    stdout: Stdio,
    inherit: &[RawFd],
) -> Result<(Command, Option<std::os::fd::OwnedFd>)> {
    let mut cmd = Command::new(&settings.program);
    cmd.args(&settings.args).stdin(stdin).stdout(stdout).stderr(Stdio::piped());
    cmd.envs(settings.env.iter().map(|(k, v)| (k, v)));
    let mut inherit = inherit.to_vec();
    let plugins = match &settings.plugins {
        Some(host) => {
            use std::os::fd::AsRawFd;
            let fd = host.connect_python().context("connecting the Python backend to the plugins")?;
            cmd.env(crate::plugins::FD_ENV, fd.as_raw_fd().to_string());
            inherit.push(fd.as_raw_fd());
            Some(fd)
        }
        None => None,
    };
    if let Some(dir) = &settings.cwd {
        cmd.current_dir(dir);
    }
    use std::os::unix::process::CommandExt;
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
    Ok((cmd, plugins))
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

/// How long a child that has no call left may take to exit once there are no more requests, before
/// it is stopped.
const GRACE: Duration = Duration::from_secs(5);

/// No more requests and no call in flight: the child exits; one that does not within `grace` is
/// stopped. The app's exit code is the one its entry point ended with, if any.
fn shut_down(
    child: &mut Child,
    stdin: Option<ChildStdin>,
    grace: Duration,
    eof: &Receiver<()>,
    signs: &Signs,
) -> Ended {
    stop(child, stdin, grace);
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

/// Answers the calls a child had in flight (by their keys, JSON text: see [`id_key`]).
fn fail_in_flight(sink: &Sink, in_flight: Vec<String>, message: &str, code: Option<i32>) {
    let rest = serde_json::json!({"error": message, "type": "BackendExited", "code": code}).to_string();
    for key in in_flight {
        let _ = sink(&format!("{{\"id\":{key},\"ok\":false,{}", &rest[1..]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(line: &str) -> Option<String> {
        request_key(line.as_bytes())
    }

    #[test]
    fn the_id_is_found_without_parsing_the_rest() {
        assert_eq!(key(r#"{"id":1,"method":"m"}"#).as_deref(), Some("1"));
        assert_eq!(
            key(r#" { "method" : "m" , "params" : [1, {"id": 2}, "}"], "id" : "a" } "#).as_deref(),
            Some(r#""a""#)
        );
        // Params nested far deeper than any parser allows, before the id.
        let deep = format!(r#"{{"params":{}{},"id":"d"}}"#, "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(key(&deep).as_deref(), Some(r#""d""#));
        // A long id is its own key, and an escaped member name is still `id`.
        let long = "x".repeat(100_000);
        assert_eq!(key(&format!(r#"{{"\u0069d":"{long}"}}"#)), Some(format!(r#""{long}""#)));
        // None, null, or not an object: nothing to track.
        for line in [r#"{"method":"m"}"#, r#"{"id":null}"#, "[1]", "", "{", r#"{"id""#, r#"{"id":"#, r#"{"id":"x"#] {
            assert_eq!(key(line), None, "{line:?}");
        }
        // Bytes that are not UTF-8 are no obstacle, in the id or elsewhere.
        assert_eq!(request_key(b"{\"p\":\"\xff\",\"id\":\"\xfe\"}").as_deref(), Some("\"\u{fffd}\""));
    }

    #[test]
    fn a_request_and_its_answer_have_the_same_key_however_each_spells_the_id() {
        // (as a client may send it, as Python answers it)
        for (request, answer) in [
            (r#""a\u0041""#, r#""aA""#),
            (r#""a\/b""#, r#""a/b""#),
            (r#""q\u0022""#, r#""q\"""#),
            ("1e2", "100.0"),
            ("-0", "0"),
            ("12345678901234567890123", "12345678901234567890123"),
            (r#"[1, {"b": 2}]"#, r#"[1,{"b":2}]"#),
            (r#""é""#, r#""é""#),
        ] {
            assert_eq!(id_key(request.as_bytes()), id_key(answer.as_bytes()), "{request} / {answer}");
        }
        assert_eq!(id_key(b"\"\\ud800\""), None, "serde_json refuses a lone surrogate");
    }

    #[test]
    fn failures_carry_the_id_as_it_was_keyed() {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink: Sink = {
            let lines = lines.clone();
            Box::new(move |line: &str| {
                lines.lock().unwrap().push(serde_json::from_str::<serde_json::Value>(line).unwrap());
                Ok(())
            })
        };
        let long = "y".repeat(10_000);
        fail_in_flight(&sink, vec![format!("\"{long}\""), "7".into()], "backend exited\n\"x\"", Some(3));
        let lines = lines.lock().unwrap();
        assert_eq!(lines[0]["id"], long.as_str());
        assert_eq!(lines[0]["type"], "BackendExited");
        assert_eq!(lines[0]["error"], "backend exited\n\"x\"");
        assert_eq!(
            (lines[1]["id"].clone(), lines[1]["ok"].clone(), lines[1]["code"].clone()),
            (7.into(), false.into(), 3.into())
        );
    }
}
