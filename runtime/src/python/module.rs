//! The `_auroraview_runtime` module Python imports: `recv()` and `send(line)` over the channels or
//! pipes the rest of the runtime set up. Installed once, before the interpreter starts.

use crate::dispatch::{Dispatcher, Next, Source};
use crossbeam_channel::{Receiver, TryRecvError};
use pyo3::prelude::*;
use std::io::{BufRead, BufReader, Read};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// A handler running longer than this hands reading over to another worker.
pub const TAKEOVER_AFTER: Duration = Duration::from_millis(2);

/// Messages larger than this are written without holding the GIL.
const LARGE: usize = 64 * 1024;

pub use crate::headless::Sink;

pub struct Transport {
    pub dispatcher: Dispatcher<Box<dyn Source>>,
    pub sink: Sink,
}

static TRANSPORT: OnceLock<Transport> = OnceLock::new();

/// Installs the transport; the first call wins.
pub fn install(transport: Transport) -> &'static Transport {
    let _ = TRANSPORT.set(transport);
    TRANSPORT.get().expect("just set")
}

/// Installs the transport over `source` and `sink` and starts the dispatcher's watchdog.
pub fn start(source: Box<dyn Source>, sink: Sink) -> anyhow::Result<&'static Transport> {
    let t = install(Transport { dispatcher: Dispatcher::new(source, TAKEOVER_AFTER), sink });
    std::thread::Builder::new()
        .name("auroraview-watchdog".into())
        .spawn(move || t.dispatcher.run_watchdog())
        .map_err(|e| anyhow::anyhow!("starting the watchdog thread: {e}"))?;
    Ok(t)
}

pub fn installed() -> Option<&'static Transport> {
    TRANSPORT.get()
}

impl Source for Box<dyn Source> {
    fn try_next(&self) -> Next {
        (**self).try_next()
    }
    fn next(&self) -> Next {
        (**self).next()
    }
}

/// Messages from a channel: the window's event loop, or a benchmark.
pub struct ChannelSource(pub Receiver<String>);

impl Source for ChannelSource {
    fn try_next(&self) -> Next {
        match self.0.try_recv() {
            Ok(m) => Next::Message(m),
            Err(TryRecvError::Empty) => Next::Empty,
            Err(TryRecvError::Disconnected) => Next::Closed,
        }
    }
    fn next(&self) -> Next {
        self.0.recv().map(Next::Message).unwrap_or(Next::Closed)
    }
}

/// JSON lines from a pipe (`--headless`). Only the leader reads, so the lock is never contended.
pub struct LineSource<R>(pub Mutex<BufReader<R>>);

impl<R: Read + Send> LineSource<R> {
    fn read_line(reader: &mut BufReader<R>) -> Next {
        let mut line = String::new();
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) => return Next::Closed,
                Ok(_) => {
                    let trimmed = line.trim_end_matches(['\n', '\r']);
                    if trimmed.trim().is_empty() {
                        continue;
                    }
                    let len = trimmed.len();
                    line.truncate(len);
                    return Next::Message(line);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                // A line that is not UTF-8 is passed on as is, for the router to refuse.
                Err(e) if e.kind() == std::io::ErrorKind::InvalidData => return Next::Message("\u{fffd}".into()),
                Err(_) => return Next::Closed,
            }
        }
    }
}

impl<R: Read + Send> Source for LineSource<R> {
    fn try_next(&self) -> Next {
        let mut reader = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if reader.buffer().contains(&b'\n') { Self::read_line(&mut reader) } else { Next::Empty }
    }
    fn next(&self) -> Next {
        Self::read_line(&mut self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

#[pymodule]
pub mod _auroraview_runtime {
    use super::*;

    /// `(message, spawn)`: the next message (None when the app is shutting down), and whether the
    /// caller should start one more worker.
    #[pyfunction]
    fn recv(py: Python<'_>) -> (Option<String>, bool) {
        let Some(t) = installed() else { return (None, false) };
        t.dispatcher.recv(&|f| py.detach(f))
    }

    /// Sends one response or event line to the frontend (stdout in `--headless`).
    #[pyfunction]
    fn send(py: Python<'_>, line: &str) -> PyResult<()> {
        let Some(t) = installed() else { return Ok(()) };
        let result = if line.len() > LARGE { py.detach(|| (t.sink)(line)) } else { (t.sink)(line) };
        result.map_err(|e| pyo3::exceptions::PyOSError::new_err(format!("auroraview: sending failed: {e}")))
    }
}
