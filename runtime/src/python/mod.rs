//! Python inside this process: the thread named `python` that owns the interpreter, and the ways
//! it is fed (the protocol's pipes, the window's channel, a journal's supervisor). Compiled only
//! with the `python` feature; the small stub of the `system` strategy has none of it.

mod bench;
pub mod importer;
mod interpreter;
pub mod module;

use crate::rpc::sink::{self, Sink};
use crate::rpc::source::{ChannelSource, LineSource};
use crate::rpc::stdio::Stdio;
use crate::supervisor;
use anyhow::{Context, Result};
use crossbeam_channel::Receiver;
use interpreter::Interpreter;
pub use interpreter::{InMemory, Settings};
use std::ffi::OsString;
use std::os::fd::RawFd;
use std::path::PathBuf;
use std::sync::Arc;

pub use bench::in_process as bench;

/// Everything the Python thread needs, resolved by the plan.
pub struct Launch {
    pub settings: Settings,
    /// The entry point as `auroraview._child.run` takes it.
    pub entry: Vec<OsString>,
    pub site_packages: PathBuf,
}

/// The stack of the thread that runs Python: as large as a normal main thread's (the process's
/// `RLIMIT_STACK`, at least 8 MiB). Native code such as OpenBLAS uses far more than the 2 MiB a
/// Rust thread gets by default.
pub fn stack_size() -> usize {
    const MIN: usize = 8 << 20;
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes one `rlimit` we own.
    let soft = if unsafe { libc::getrlimit(libc::RLIMIT_STACK, &mut limit) } == 0 { limit.rlim_cur } else { 0 };
    if soft == libc::RLIM_INFINITY { MIN } else { usize::try_from(soft).unwrap_or(MIN).clamp(MIN, 256 << 20) }
}

/// `--headless` (or the child of `isolation = "process"` without a journal): Python serves the
/// protocol's pipes. A child tells its supervisor when the entry point ended on purpose.
pub fn serve_stdio(launch: Launch, stdio: Stdio, report_exit: bool) -> Result<u8> {
    let t = module::start(Box::new(LineSource::new(stdio.input)), sink::line_writer(stdio.output))?;
    let code = run(launch)?;
    if report_exit {
        let _ = (t.sink)(&supervisor::exit_event(code));
    }
    Ok(code)
}

/// The child of `isolation = "process"` supervised through a journal: the app's Python serves the
/// client's pipes itself (`auroraview._serve.Journal`); this only reports how its entry point
/// ended, on the control socket `control`.
pub fn serve_journaled(launch: Launch, control: RawFd) -> Result<u8> {
    let code = run(launch)?;
    supervisor::journal::finish(control, code);
    Ok(code)
}

/// Serves the window's requests.
pub fn serve_channel(launch: Launch, requests: Receiver<String>, sink: Arc<Sink>) -> Result<u8> {
    module::start(Box::new(ChannelSource(requests)), Box::new(move |line: &str| sink(line)))?;
    run(launch)
}

/// This executable run as `python` (through the link `sys.executable` names): the command line is
/// Python's, with the app's `sys.path`, on this (the main) thread. No window, no protocol.
pub fn run_command_line(launch: Launch) -> Result<u8> {
    let interp = Interpreter::start(&launch.settings)?;
    Ok(interp.run_main(&launch.site_packages))
}

/// Runs the app's Python on a thread named `python` and waits for it. Returns the exit code.
pub fn run(launch: Launch) -> Result<u8> {
    run_then(launch, None)
}

/// As [`run`], then runs `after` if the entry point ended with 0 (benchmarks).
fn run_then(launch: Launch, after: Option<String>) -> Result<u8> {
    let python = std::thread::Builder::new()
        .name("python".into())
        .stack_size(stack_size())
        .spawn(move || -> Result<u8> {
            let interp = Interpreter::start(&launch.settings)?;
            tracing::debug!("Python initialised (home {:?})", launch.settings.home);
            let mut code = interp.run_entry(&launch.entry, &launch.site_packages);
            tracing::debug!("entry point finished with exit code {code}");
            if let (0, Some(code_after)) = (code, after) {
                code = interp.run_code(&code_after);
            }
            if !interp.finish() && code == 0 {
                code = 120;
            }
            Ok(code)
        })
        .context("starting the Python thread")?;
    python.join().map_err(|_| anyhow::anyhow!("the Python thread panicked"))?
}
