//! The `_auroraview_runtime` module Python imports: `recv()` and `send(line)` over the source and
//! sink the rest of the runtime set up (the window's channel, or the protocol's pipes). Installed
//! once, before the interpreter starts; `auroraview._serve` runs its worker pool over it.

use crate::rpc::dispatch::Dispatcher;
use crate::rpc::sink::Sink;
use crate::rpc::source::{Message, Source};
use pyo3::prelude::*;
use std::sync::OnceLock;
use std::time::Duration;

/// A handler running longer than this hands reading over to another worker.
pub const TAKEOVER_AFTER: Duration = Duration::from_millis(2);

/// Messages larger than this are written without holding the GIL.
const LARGE: usize = 64 * 1024;

pub struct Transport {
    pub dispatcher: Dispatcher<Box<dyn Source>>,
    pub sink: Sink,
}

static TRANSPORT: OnceLock<Transport> = OnceLock::new();

/// Installs the transport over `source` and `sink` and starts the dispatcher's watchdog. A process
/// has one transport: a second call is an error.
pub fn start(source: Box<dyn Source>, sink: Sink) -> anyhow::Result<&'static Transport> {
    TRANSPORT
        .set(Transport { dispatcher: Dispatcher::new(source, TAKEOVER_AFTER), sink })
        .map_err(|_| anyhow::anyhow!("the Python transport was already started in this process"))?;
    let t = TRANSPORT.get().expect("just set");
    std::thread::Builder::new()
        .name("auroraview-watchdog".into())
        .spawn(move || t.dispatcher.run_watchdog())
        .map_err(|e| anyhow::anyhow!("starting the watchdog thread: {e}"))?;
    Ok(t)
}

fn installed() -> Option<&'static Transport> {
    TRANSPORT.get()
}

#[pymodule]
pub mod _auroraview_runtime {
    use super::*;

    /// `(message, spawn)`: the next message (None when the app is shutting down; `bytes` for a
    /// line that is not UTF-8, which the router refuses), and whether the caller should start one
    /// more worker.
    #[pyfunction]
    fn recv(py: Python<'_>) -> PyResult<(Option<Bound<'_, PyAny>>, bool)> {
        let Some(t) = installed() else { return Ok((None, false)) };
        let (message, spawn) = t.dispatcher.recv(&|f| py.detach(f));
        let message = match message {
            None => None,
            Some(Message::Text(text)) => Some(text.into_pyobject(py)?.into_any()),
            Some(Message::Bytes(bytes)) => Some(pyo3::types::PyBytes::new(py, &bytes).into_any()),
        };
        Ok((message, spawn))
    }

    /// Sends one response or event line to the frontend (stdout in `--headless`).
    #[pyfunction]
    fn send(py: Python<'_>, line: &str) -> PyResult<()> {
        let Some(t) = installed() else { return Ok(()) };
        let result = if line.len() > LARGE { py.detach(|| (t.sink)(line)) } else { (t.sink)(line) };
        result.map_err(|e| pyo3::exceptions::PyOSError::new_err(format!("auroraview: sending failed: {e}")))
    }
}
