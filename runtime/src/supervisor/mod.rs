//! The subprocess backend: Python in a supervised child process speaking the same JSON lines on
//! its stdin/stdout. Used by the `system` strategy (the machine's python3) and by
//! `isolation = "process"` (this executable started with `--python-child`).
//!
//! A child that dies fails the calls it was answering (`ok: false`, "backend exited with code N"
//! and its last stderr lines), the frontend gets a `__auroraview_backend__` event, and the child is
//! restarted with backoff, up to `max_restarts` times. A child that stops answering heartbeats is
//! killed and replaced. A child that ends on its own (its entry point finished) ends the app.
//!
//! Two ways to carry the messages: for the window (and `dev`) this process relays them between the
//! frontend and the child's pipes ([`run`]); in `--headless` the child serves the client's own pipes
//! and keeps a [`Journal`] this process reads when it dies ([`run_direct`]), so no message makes an
//! extra hop between processes.

use crate::headless::Sink;
use crate::journal::{self, Journal};
use anyhow::{Context, Result, bail};
use crossbeam_channel::{Receiver, select, tick};
use serde::Deserialize;
use std::collections::{HashSet, VecDeque};
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The last line a child writes when its entry point finished on its own.
pub const EXIT_EVENT: &str = "__auroraview_exit__";
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

/// Where requests go: straight into the current child's stdin from the thread that produced them
/// (no hand-off to another thread), or held while a child is being (re)started.
///
/// Two locks, always taken in this order: `stdin` serialises writers and is held across a write
/// that may block on a full pipe; `state` is only ever held briefly, so the thread reading the
/// child's answers (which marks them answered) never waits behind a blocked write.
#[derive(Default)]
pub struct Forwarder {
    stdin: Mutex<Option<ChildStdin>>,
    state: Mutex<Forwarding>,
    closed: Mutex<Option<crossbeam_channel::Sender<()>>>,
    restart: Mutex<Option<crossbeam_channel::Sender<()>>>,
}

#[derive(Default)]
struct Forwarding {
    /// Requests that arrived while no child was running.
    pending: Vec<String>,
    /// Ids of requests the current child has not answered.
    in_flight: HashSet<String>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Forwarder {
    /// Sends one request line to the backend.
    pub fn forward(&self, line: String) {
        let mut stdin = lock(&self.stdin);
        let Some(pipe) = stdin.as_mut() else {
            lock(&self.state).pending.push(line);
            return;
        };
        if let Ok(Ids { id: Some(id), .. }) = serde_json::from_str::<Ids>(&line) {
            lock(&self.state).in_flight.insert(id.to_string());
        }
        let mut buf = line.into_bytes();
        buf.push(b'\n');
        if pipe.write_all(&buf).is_err() {
            *stdin = None; // the child is gone; its calls in flight are failed when it is reaped
        }
    }

    /// Replaces the running child with a fresh one (code was edited), without counting a crash.
    pub fn restart(&self) {
        if let Some(tx) = lock(&self.restart).as_ref() {
            let _ = tx.try_send(());
        }
    }

    /// No more requests: the backend finishes what it has and the app exits.
    pub fn close(&self) {
        if let Some(tx) = lock(&self.closed).take() {
            let _ = tx.send(());
        }
    }

    fn attach(&self, mut pipe: ChildStdin) {
        let mut stdin = lock(&self.stdin);
        let pending = {
            let mut st = lock(&self.state);
            st.in_flight.clear();
            let pending = std::mem::take(&mut st.pending);
            for line in &pending {
                if let Ok(Ids { id: Some(id), .. }) = serde_json::from_str::<Ids>(line) {
                    st.in_flight.insert(id.to_string());
                }
            }
            pending
        };
        for line in pending {
            let mut buf = line.into_bytes();
            buf.push(b'\n');
            let _ = pipe.write_all(&buf);
        }
        *stdin = Some(pipe);
    }

    fn detach(&self) -> (Option<ChildStdin>, Vec<String>) {
        let pipe = lock(&self.stdin).take();
        (pipe, lock(&self.state).in_flight.drain().collect())
    }

    fn answered(&self, id: &str) {
        lock(&self.state).in_flight.remove(id);
    }

    /// A heartbeat: skipped while a request is being written (the supervisor must never wait on
    /// a child that does not read; a child that does not read misses heartbeats and is replaced).
    fn write_raw(&self, line: &str) {
        let Ok(mut stdin) = self.stdin.try_lock() else { return };
        if stdin.as_mut().is_some_and(|pipe| pipe.write_all(line.as_bytes()).is_err()) {
            *stdin = None;
        }
    }
}

/// Feeds JSON lines from `input` (a headless run's stdin) into a forwarder; closes it at the end.
pub fn forward_lines(input: std::fs::File, forwarder: Arc<Forwarder>) -> Result<()> {
    let input = crate::spin::SpinReader::new(input).context("reading the protocol's stdin")?;
    std::thread::Builder::new().name("headless-stdin".into()).spawn(move || {
        for line in BufReader::new(input).lines() {
            let Ok(line) = line else { break };
            if !line.trim().is_empty() {
                forwarder.forward(line);
            }
        }
        forwarder.close();
    })?;
    Ok(())
}

/// Feeds a channel of requests (the window's) into a forwarder; closes it when the channel ends.
pub fn forward_channel(requests: Receiver<String>, forwarder: Arc<Forwarder>) -> Result<()> {
    std::thread::Builder::new().name("backend-requests".into()).spawn(move || {
        for line in requests {
            forwarder.forward(line);
        }
        forwarder.close();
    })?;
    Ok(())
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

/// Serves what `forwarder` is given through children until it is closed or the child's entry point
/// finishes. Returns the app's exit code.
pub fn run(settings: &Settings, forwarder: &Arc<Forwarder>, sink: Arc<Sink>) -> Result<u8> {
    let (closed_tx, closed_rx) = crossbeam_channel::bounded::<()>(1);
    *lock(&forwarder.closed) = Some(closed_tx);
    let (restart_tx, restart_rx) = crossbeam_channel::bounded::<()>(1);
    *lock(&forwarder.restart) = Some(restart_tx);
    supervise(settings, &sink, || serve_one(settings, forwarder, &closed_rx, &restart_rx, &sink))
}

/// Serves a `--headless` client through children that read its requests from `input` and write
/// their answers to `output` themselves, each keeping a [`Journal`] from which this process fails
/// the calls a dead child had in flight and hands what it had read but not started to the next.
pub fn run_direct(settings: &Settings, input: std::fs::File, output: std::fs::File) -> Result<u8> {
    let sink: Arc<Sink> = Arc::new(crate::headless::line_writer(output.try_clone()?));
    let mut unread = Vec::new();
    let hung_up = hang_up(&input)?;
    supervise(settings, &sink, || serve_direct(settings, &input, &output, &sink, &hung_up, &mut unread))
}

/// A channel that closes when the client closes its end of `input` (the child reads the input;
/// this only watches for the hang-up, to stop a child that does not finish on its own).
fn hang_up(input: &std::fs::File) -> Result<Receiver<()>> {
    let (tx, rx) = crossbeam_channel::bounded::<()>(0);
    let fd = std::os::fd::OwnedFd::from(input.try_clone()?);
    std::thread::Builder::new().name("client-hangup".into()).spawn(move || {
        loop {
            // No events asked for: poll reports only the hang-up (or an error), never input.
            let mut pfd = libc::pollfd { fd: fd.as_raw_fd(), events: 0, revents: 0 };
            // SAFETY: one valid pollfd on a descriptor this thread owns.
            let r = unsafe { libc::poll(&mut pfd, 1, -1) };
            if r > 0 && pfd.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0 {
                break;
            }
        }
        drop(tx);
    })?;
    Ok(rx)
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

fn serve_one(
    settings: &Settings,
    forwarder: &Arc<Forwarder>,
    closed: &Receiver<()>,
    restart: &Receiver<()>,
    sink: &Arc<Sink>,
) -> Result<Ended> {
    let mut child = spawn(settings)?;
    crate::log::debug!("Python backend started: {} (pid {})", settings.program.display(), child.id());
    let stdout = child.stdout.take().expect("piped");
    let stderr = child.stderr.take().expect("piped");
    let tail: Arc<Mutex<VecDeque<String>>> = Arc::default();
    let signs = Signs::new();
    let (eof_tx, eof_rx) = crossbeam_channel::bounded::<()>(1);

    {
        let (forwarder, sink, signs) = (forwarder.clone(), sink.clone(), signs.clone());
        std::thread::Builder::new().name("backend-stdout".into()).spawn(move || {
            let stdout = crate::spin::SpinReader::new(stdout).expect("the child's stdout is a pipe");
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let ids: Option<Ids> = serde_json::from_str(&line).ok();
                if let Some(ids) = &ids {
                    if let Some(id) = &ids.id {
                        let key = id.to_string();
                        if key.starts_with(&format!("\"{HEARTBEAT_PREFIX}")) {
                            signs.pong();
                            continue;
                        }
                        forwarder.answered(&key);
                    } else if ids.event.as_deref() == Some(EXIT_EVENT) {
                        let code = ids.data.as_ref().and_then(|d| d["code"].as_i64()).unwrap_or(0);
                        signs.finish((code & 0xff) as u8);
                        continue;
                    }
                }
                let _ = sink(&line);
            }
            let _ = eof_tx.send(());
        })?;
    }
    read_stderr(stderr, tail.clone())?;

    // Only now that its output is being read: requests held during a restart may fill the child's
    // stdin, and the child its stdout, faster than either is emptied otherwise.
    // On its own thread: the supervisor keeps watching heartbeats while a backlog is written.
    let (attaching, pipe) = (forwarder.clone(), child.stdin.take().expect("piped"));
    let attach = std::thread::Builder::new().name("backend-attach".into()).spawn(move || attaching.attach(pipe))?;
    // Waited for before the child's stdin is taken back. A backlog still being written to a child
    // that is not reading it is ended by killing the child (the writes then fail at once).
    let mut attach = Some(attach);
    let mut attached = move |child: &mut Child| {
        if let Some(t) = attach.take() {
            if !t.is_finished() {
                let _ = child.kill();
            }
            let _ = t.join();
        }
    };
    let ticker = tick(settings.heartbeat_interval());
    let mut ping = 0u64;
    let mut hung = false;
    loop {
        select! {
            recv(closed) -> _ => {
                attached(&mut child);
                let (stdin, _) = forwarder.detach();
                return Ok(shut_down(&mut child, stdin, &eof_rx, &signs));
            },
            recv(eof_rx) -> _ => break,
            recv(restart) -> _ => {
                let _ = child.kill();
                let _ = child.wait();
                let _ = eof_rx.recv_timeout(Duration::from_secs(1));
                attached(&mut child);
                let (_, in_flight) = forwarder.detach();
                fail_in_flight(sink, in_flight, "backend restarted because its code changed", None);
                status(sink, "restarted", None, "Python code changed");
                return Ok(Ended::Restarted);
            },
            recv(ticker) -> _ => {
                if signs.silent(settings) {
                    hung = true;
                    let _ = child.kill();
                    continue;
                }
                ping += 1;
                forwarder.write_raw(&format!("{{\"id\":\"{HEARTBEAT_PREFIX}{ping}\",\"method\":\"__ping__\"}}\n"));
            },
        }
    }

    // The child's stdout ended: it exited (or is about to).
    attached(&mut child);
    let (stdin, in_flight) = forwarder.detach();
    let code = stop(&mut child, stdin, Duration::from_secs(2));
    if let Some(code) = signs.finished() {
        return Ok(Ended::Finished(code));
    }
    let (why, message) = death(settings, code, hung, &tail);
    fail_in_flight(sink, in_flight, &message, code);
    status(sink, "exited", code, &message);
    Ok(Ended::Died { code, why })
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

fn serve_direct(
    settings: &Settings,
    input: &std::fs::File,
    output: &std::fs::File,
    sink: &Sink,
    hung_up: &Receiver<()>,
    unread: &mut Vec<u8>,
) -> Result<Ended> {
    let journal = Journal::create(unread)?;
    let (mut control, theirs) = UnixStream::pair().context("creating the backend's control socket")?;
    let mut cmd = command(
        settings,
        Stdio::from(input.try_clone()?),
        Stdio::from(output.try_clone()?),
        &[journal.fd(), theirs.as_raw_fd()],
    );
    cmd.env(journal::FD_ENV, journal.fd().to_string()).env(journal::CONTROL_ENV, theirs.as_raw_fd().to_string());
    let mut child =
        cmd.spawn().with_context(|| format!("starting the Python backend {}", settings.program.display()))?;
    drop(theirs);
    crate::log::debug!("Python backend started: {} (pid {})", settings.program.display(), child.id());
    let tail: Arc<Mutex<VecDeque<String>>> = Arc::default();
    read_stderr(child.stderr.take().expect("piped"), tail.clone())?;

    // The control socket: heartbeats answered, the exit code of an entry point that finished, and
    // its end when the child is gone.
    let signs = Signs::new();
    let (eof_tx, eof_rx) = crossbeam_channel::bounded::<()>(1);
    {
        let (mut reader, signs) = (control.try_clone()?, signs.clone());
        std::thread::Builder::new().name("backend-control".into()).spawn(move || {
            let mut buf = [0u8; 64];
            let mut exiting = false;
            while let Ok(n @ 1..) = reader.read(&mut buf) {
                for &b in &buf[..n] {
                    if exiting {
                        signs.finish(b);
                        exiting = false;
                    } else if b == b'x' {
                        exiting = true;
                    } else {
                        signs.pong();
                    }
                }
            }
            let _ = eof_tx.send(());
        })?;
    }
    control.set_write_timeout(Some(Duration::from_millis(100)))?;
    let ticker = tick(settings.heartbeat_interval());
    let mut hung = false;
    loop {
        select! {
            recv(eof_rx) -> _ => break,
            recv(hung_up) -> _ => return Ok(shut_down(&mut child, None, &eof_rx, &signs)),
            recv(ticker) -> _ => {
                if signs.silent(settings) {
                    hung = true;
                    let _ = child.kill();
                    continue;
                }
                let _ = control.write_all(b"p");
            },
        }
    }
    let code = stop(&mut child, None, Duration::from_secs(2));
    if let Some(code) = signs.finished() {
        return Ok(Ended::Finished(code));
    }
    let remains = journal.remains()?;
    *unread = remains.unread;
    if remains.mid_line {
        sink("")?; // ends the line the child was writing, so the next one parses
    }
    let in_flight = remains
        .in_flight
        .iter()
        .filter_map(|line| serde_json::from_slice::<Ids>(line).ok()?.id.map(|id| id.to_string()))
        .collect();
    let (why, message) = death(settings, code, hung, &tail);
    fail_in_flight(sink, in_flight, &message, code);
    status(sink, "exited", code, &message);
    Ok(Ended::Died { code, why })
}

fn fail_in_flight(sink: &Sink, in_flight: Vec<String>, message: &str, code: Option<i32>) {
    for id in in_flight {
        let id: serde_json::Value = serde_json::from_str(&id).unwrap_or_default();
        let line = serde_json::json!({"id": id, "ok": false, "error": message, "type": "BackendExited", "code": code});
        let _ = sink(&line.to_string());
    }
}
