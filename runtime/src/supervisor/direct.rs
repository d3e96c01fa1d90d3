//! `--headless` through a child that serves the client's pipes itself: the child reads requests
//! straight into a [`Journal`] shared with this process and writes its answers to the client, so
//! no message makes an extra hop; when it dies, this process fails the calls it had started and
//! hands what it had read but not started to the next child.

use super::journal::{self, Journal};
use super::{
    Ended, GRACE, Settings, Signs, command, death, fail_in_flight, read_stderr, request_key, shut_down, status, stop,
    supervise,
};
use crate::rpc::sink::{self, Sink};
use anyhow::{Context, Result};
use crossbeam_channel::{Receiver, never, select, tick};
use std::collections::VecDeque;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Serves a `--headless` client through children that read its requests from `input` and write
/// their answers to `output` themselves, each keeping a [`Journal`] from which this process fails
/// the calls a dead child had in flight and hands what it had read but not started to the next.
pub fn run(settings: &Settings, input: std::fs::File, output: std::fs::File) -> Result<u8> {
    let sink: Arc<Sink> = Arc::new(sink::line_writer(output.try_clone()?));
    let mut unread = Vec::new();
    let hung_up = hang_up(&input)?;
    supervise(settings, &sink, || serve_direct(settings, &input, &output, &sink, &hung_up, &mut unread))
}

/// A channel that closes when the client closes its end of `input` (the child reads the input;
/// this only watches for the hang-up, to stop a child that does not finish on its own once it has
/// answered everything).
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
    let (mut cmd, plugins) = command(
        settings,
        Stdio::from(input.try_clone()?),
        Stdio::from(output.try_clone()?),
        &[journal.fd(), theirs.as_raw_fd()],
    )?;
    cmd.env(journal::FD_ENV, journal.fd().to_string()).env(journal::CONTROL_ENV, theirs.as_raw_fd().to_string());
    let mut child =
        cmd.spawn().with_context(|| format!("starting the Python backend {}", settings.program.display()))?;
    drop((theirs, plugins));
    tracing::debug!("Python backend started: {} (pid {})", settings.program.display(), child.id());
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
    // Once the client has hung up: since when the child has had nothing left to do. It reads the
    // end of input itself and exits when its calls are answered, however long they take (heartbeats
    // still tell a working child from a hung one); one that lingers idle is stopped.
    let mut hang_up = hung_up.clone();
    let mut idle_since: Option<Instant> = None;
    loop {
        select! {
            recv(eof_rx) -> _ => break,
            recv(hang_up) -> _ => {
                hang_up = never();
                idle_since = Some(Instant::now());
            },
            recv(ticker) -> _ => {
                if signs.silent(settings) {
                    hung = true;
                    let _ = child.kill();
                    continue;
                }
                let _ = control.write_all(b"p");
                if let Some(since) = &mut idle_since {
                    if journal.busy()? || pending(input) {
                        *since = Instant::now();
                    } else if since.elapsed() > GRACE {
                        return Ok(shut_down(&mut child, None, Duration::ZERO, &eof_rx, &signs));
                    }
                }
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
    let in_flight = remains.in_flight.iter().filter_map(|line| request_key(line)).collect();
    let (why, message) = death(settings, code, hung, &tail);
    fail_in_flight(sink, in_flight, &message, code);
    status(sink, "exited", code, &message);
    // After the client hung up, a next child is started only to serve what this one left unread.
    if idle_since.is_some() && unread.is_empty() && !pending(input) {
        return Ok(Ended::Shutdown(0));
    }
    Ok(Ended::Died { code, why })
}

/// Whether `input` (a pipe) holds bytes no child has read yet.
fn pending(input: &std::fs::File) -> bool {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int we own, for a descriptor `input` keeps open.
    unsafe { libc::ioctl(input.as_raw_fd(), libc::FIONREAD, &mut n) == 0 && n > 0 }
}
