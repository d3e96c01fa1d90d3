//! The relay: requests from the window (or `dev`'s stdin) are written into the child's stdin from
//! the thread that produced them, and its stdout is copied to the sink, while the supervisor
//! watches heartbeats and restarts the child when it dies or its code changes.

use super::{
    EXIT_EVENT, Ended, GRACE, HEARTBEAT_PREFIX, Settings, Signs, death, fail_in_flight, id_key, key_is, lock, members,
    read_stderr, request_key, shut_down, spawn, status, stop, supervise,
};
use crate::rpc::sink::Sink;
use anyhow::{Context, Result};
use crossbeam_channel::{Receiver, Sender, never, select, tick};
use std::collections::{HashSet, VecDeque};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

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
    /// Dropped (so the supervisor's receiver disconnects) when there are no more requests; `true`
    /// once that happened, even before the supervisor installed its sender.
    closed: Mutex<(bool, Option<Sender<()>>)>,
    restart: Mutex<Option<Sender<()>>>,
    /// Set once there are no more requests: the last answer then wakes the supervisor (`drained`).
    closing: AtomicBool,
    drained: Mutex<Option<Sender<()>>>,
}

#[derive(Default)]
struct Forwarding {
    /// Requests that arrived while no child was running.
    pending: Vec<Vec<u8>>,
    /// Keys ([`super::id_key`]) of requests the current child has not answered.
    in_flight: HashSet<String>,
}

impl Forwarder {
    /// Sends one request line (without its newline) to the backend. Any bytes: a line that is not
    /// JSON, or not UTF-8, is the child's to answer with an error.
    pub fn forward(&self, line: impl Into<Vec<u8>>) {
        let line = line.into();
        let mut stdin = lock(&self.stdin);
        let Some(pipe) = stdin.as_mut() else {
            lock(&self.state).pending.push(line);
            return;
        };
        if let Some(key) = request_key(&line) {
            lock(&self.state).in_flight.insert(key);
        }
        let mut buf = line;
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
        *lock(&self.closed) = (true, None);
    }

    fn attach(&self, mut pipe: ChildStdin) {
        let mut stdin = lock(&self.stdin);
        let pending = {
            let mut st = lock(&self.state);
            st.in_flight.clear();
            let pending = std::mem::take(&mut st.pending);
            for line in &pending {
                if let Some(key) = request_key(line) {
                    st.in_flight.insert(key);
                }
            }
            pending
        };
        for mut buf in pending {
            buf.push(b'\n');
            let _ = pipe.write_all(&buf);
        }
        *stdin = Some(pipe);
    }

    fn detach(&self) -> (Option<ChildStdin>, Vec<String>) {
        let pipe = lock(&self.stdin).take();
        (pipe, lock(&self.state).in_flight.drain().collect())
    }

    fn answered(&self, key: &str) {
        let mut st = lock(&self.state);
        if st.in_flight.remove(key)
            && st.in_flight.is_empty()
            && self.closing.load(Ordering::Relaxed)
            && let Some(tx) = lock(&self.drained).as_ref()
        {
            let _ = tx.try_send(());
        }
    }

    /// No request given to the current child (or held for it) is left unanswered.
    fn idle(&self) -> bool {
        let st = lock(&self.state);
        st.in_flight.is_empty() && st.pending.is_empty()
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
/// Lines are passed on as bytes, whatever they hold (the child answers malformed ones).
pub fn forward_lines(input: std::fs::File, forwarder: Arc<Forwarder>) -> Result<()> {
    let input = super::spin::SpinReader::new(input).context("reading the protocol's stdin")?;
    std::thread::Builder::new().name("headless-stdin".into()).spawn(move || {
        let mut input = BufReader::new(input);
        loop {
            let mut line = Vec::new();
            match input.read_until(b'\n', &mut line) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
            while line.last().is_some_and(|&b| b == b'\n' || b == b'\r') {
                line.pop();
            }
            if !line.iter().all(u8::is_ascii_whitespace) {
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
            forwarder.forward(line.into_bytes());
        }
        forwarder.close();
    })?;
    Ok(())
}

/// Serves what `forwarder` is given through children until it is closed or the child's entry point
/// finishes. Returns the app's exit code.
pub fn run(settings: &Settings, forwarder: &Arc<Forwarder>, sink: Arc<Sink>) -> Result<u8> {
    let (closed_tx, closed_rx) = crossbeam_channel::bounded::<()>(1);
    {
        let mut closed = lock(&forwarder.closed);
        if !closed.0 {
            closed.1 = Some(closed_tx);
        }
    }
    let (restart_tx, restart_rx) = crossbeam_channel::bounded::<()>(1);
    *lock(&forwarder.restart) = Some(restart_tx);
    let (drained_tx, drained_rx) = crossbeam_channel::bounded::<()>(1);
    *lock(&forwarder.drained) = Some(drained_tx);
    supervise(settings, &sink, || serve_one(settings, forwarder, &closed_rx, &restart_rx, &drained_rx, &sink))
}

fn serve_one(
    settings: &Settings,
    forwarder: &Arc<Forwarder>,
    closed: &Receiver<()>,
    restart: &Receiver<()>,
    drained: &Receiver<()>,
    sink: &Arc<Sink>,
) -> Result<Ended> {
    let mut child = spawn(settings)?;
    tracing::debug!("Python backend started: {} (pid {})", settings.program.display(), child.id());
    let stdout = child.stdout.take().expect("piped");
    let stderr = child.stderr.take().expect("piped");
    let tail: Arc<Mutex<VecDeque<String>>> = Arc::default();
    let signs = Signs::new();
    let (eof_tx, eof_rx) = crossbeam_channel::bounded::<()>(1);

    {
        let (forwarder, sink, signs) = (forwarder.clone(), sink.clone(), signs.clone());
        std::thread::Builder::new().name("backend-stdout".into()).spawn(move || {
            let stdout = super::spin::SpinReader::new(stdout).expect("the child's stdout is a pipe");
            let mut stdout = BufReader::new(stdout);
            let heartbeat = format!("\"{HEARTBEAT_PREFIX}");
            let exit_event = format!("\"{EXIT_EVENT}\"");
            let mut buf = Vec::new();
            while matches!(stdout.read_until(b'\n', &mut buf), Ok(1..)) {
                if buf.last() == Some(&b'\n') {
                    buf.pop();
                }
                // Only the members that matter, found without parsing results or event data.
                let (mut id, mut event) = (None, None);
                members(&buf, |key, value| {
                    if key_is(key, "id") {
                        id = Some(value);
                        return true;
                    }
                    if key_is(key, "event") {
                        event = Some(value);
                    }
                    false
                });
                if let Some(key) = id.and_then(id_key) {
                    if key.starts_with(&heartbeat) {
                        signs.pong();
                        buf.clear();
                        continue;
                    }
                    forwarder.answered(&key);
                } else if id.is_none() && event == Some(exit_event.as_bytes()) {
                    let msg: serde_json::Value = serde_json::from_slice(&buf).unwrap_or_default();
                    signs.finish((msg["data"]["code"].as_i64().unwrap_or(0) & 0xff) as u8);
                    buf.clear();
                    continue;
                }
                let line = std::mem::take(&mut buf);
                let _ = match String::from_utf8(line) {
                    Ok(line) => sink(&line),
                    Err(e) => sink(&String::from_utf8_lossy(e.as_bytes())),
                };
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
    // No more requests: the child's stdin stays open (it carries the heartbeats) until every call
    // written to it is answered, however long that takes; then it is closed, and the child exits.
    let mut closed = closed.clone();
    let mut closing = false;
    loop {
        // Whether to see if the child, with no more requests to come, has answered everything.
        let check = select! {
            recv(closed) -> _ => {
                closed = never();
                closing = true;
                forwarder.closing.store(true, Ordering::Relaxed);
                true
            },
            recv(drained) -> _ => true,
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
                true
            },
        };
        if check && closing && forwarder.idle() {
            attached(&mut child);
            let (stdin, _) = forwarder.detach();
            return Ok(shut_down(&mut child, stdin, GRACE, &eof_rx, &signs));
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
    // No more requests: no next child is needed.
    if closing {
        return Ok(Ended::Shutdown(0));
    }
    Ok(Ended::Died { code, why })
}
