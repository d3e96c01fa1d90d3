//! The executable every packed AuroraView app is: it finds the overlay appended to itself,
//! extracts it once into the cache, and serves the app's JSON-RPC calls from Python, in this
//! process or in a supervised child, to its window or (`--headless`) on stdin/stdout.
//!
//! `main` resolves a [`plan::Plan`] and runs it; `docs/ARCHITECTURE.md` walks through the parts.

mod app;
mod cli;
mod dev;
mod logging;
mod plan;
mod plugins;
#[cfg(feature = "python")]
mod python;
mod rpc;
mod supervisor;
mod window;

use anyhow::Result;
use plan::{Plan, Task};
use rpc::{sink, stdio};
use std::process::ExitCode;
use std::sync::Arc;
use supervisor::relay::{self, Forwarder};

/// Read by `auroraview-pack` to refuse pairing this stub with a runtime of another Python version.
/// A runtime built without the `python` feature embeds none and serves only the `system` strategy.
#[cfg(feature = "python")]
#[used]
static STUB_INFO: &str = concat!("AURORAVIEW-STUB-INFO:python=", env!("AURORAVIEW_PYTHON_VERSION"), ";end");
#[cfg(not(feature = "python"))]
#[used]
static STUB_INFO: &str = "AURORAVIEW-STUB-INFO:python=none;end";

fn main() -> ExitCode {
    install_panic_hook();
    match cli::parse(std::env::args_os()).and_then(plan::resolve).and_then(run) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("error: {err:#}");
            // A start refused for its license has a code of its own.
            let refused = err.downcast_ref::<app::license::Refused>().is_some();
            ExitCode::from(if refused { app::license::EXIT_CODE } else { 1 })
        }
    }
}

/// A panic is a bug of ours: say so in one message and exit with 2, without a backtrace unless
/// `RUST_BACKTRACE` asks for one.
fn install_panic_hook() {
    if std::env::var_os("RUST_BACKTRACE").is_some_and(|v| v != "0") {
        return;
    }
    std::panic::set_hook(Box::new(|info| {
        let thread = std::thread::current();
        eprintln!(
            "error: internal error in auroraview-runtime (thread {}): {info}\nhint: please report this; RUST_BACKTRACE=1 shows where it happened",
            thread.name().unwrap_or("unnamed")
        );
        std::process::exit(2);
    }));
}

fn run(plan: Plan) -> Result<u8> {
    let Plan { task, mut env, hold, plugins } = plan;
    // Python in this process reaches the plugins through a socket of its own. (The thread serving
    // it only reads the environment once Python sends a call.)
    if let Some(host) = plugins.as_ref().filter(|_| task.runs_python_here()) {
        env.push(plugins::connect_in_process(host)?);
    }
    for (k, v) in env {
        // SAFETY: no other thread exists yet, so nothing reads the environment concurrently.
        unsafe { std::env::set_var(k, v) };
    }
    // Whether Python's lines reach a window, which its window changes (`WebView(...)` arguments)
    // may then be sent to; children inherit it.
    let to_window = match &task {
        #[cfg(feature = "python")]
        Task::Window { .. } => Some(true),
        Task::Relay { window, .. } => Some(window.is_some()),
        #[cfg(feature = "python")]
        Task::Headless { report_exit: false, .. } => Some(false),
        Task::HeadlessChild(_) => Some(false),
        _ => None,
    };
    // SAFETY: as above, no other thread exists yet.
    match to_window {
        Some(true) => unsafe { std::env::set_var(window::WINDOW_ENV, "1") },
        Some(false) => unsafe { std::env::remove_var(window::WINDOW_ENV) },
        None => {}
    }
    match task {
        Task::Print(text) => {
            println!("{text}");
            Ok(0)
        }
        #[cfg(feature = "python")]
        Task::Headless { launch, report_exit } => python::serve_stdio(launch, stdio::take()?, report_exit),
        #[cfg(feature = "python")]
        Task::Journaled { launch, control } => python::serve_journaled(launch, control),
        #[cfg(feature = "python")]
        Task::Window { window, launch } => {
            // The window ends the process itself; the extracted tree stays locked until then.
            std::mem::forget(hold);
            window::run(window, plugins, move |requests, sink| python::serve_channel(launch, requests, sink))
        }
        #[cfg(feature = "python")]
        Task::BenchInProcess { calls, launch } => python::bench(calls, launch),
        #[cfg(feature = "python")]
        Task::Python(launch) => python::run_command_line(launch),
        Task::HeadlessChild(settings) => {
            let stdio = stdio::take()?;
            supervisor::direct::run(&settings, stdio.input, stdio.output)
        }
        Task::Relay { window, settings, watch } => {
            let forwarder = Arc::new(Forwarder::default());
            if !watch.is_empty() {
                dev::watch(watch, forwarder.clone())?;
            }
            match window {
                None => {
                    let stdio = stdio::take()?;
                    relay::forward_lines(stdio.input, forwarder.clone())?;
                    relay::run(&settings, &forwarder, Arc::new(sink::line_writer(stdio.output)))
                }
                Some(window) => {
                    std::mem::forget(hold);
                    window::run(window, plugins, move |requests, sink| {
                        relay::forward_channel(requests, forwarder.clone())?;
                        relay::run(&settings, &forwarder, sink)
                    })
                }
            }
        }
        Task::BenchBareWebView { window, report } => window::run_bare_echo(window, &report),
    }
}
