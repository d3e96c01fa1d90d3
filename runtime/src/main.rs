//! The executable every packed AuroraView app is: it finds the overlay appended to itself,
//! extracts it once into the cache, starts CPython on a thread named `python`, and serves the
//! app's JSON-RPC calls (`--headless`: on stdin/stdout).

#[cfg(feature = "python")]
mod bench;
mod dev;
#[cfg(feature = "python")]
mod dispatch;
mod environment;
mod extract;
mod gui;
mod headless;
#[cfg(feature = "python")]
mod importer;
mod inprocess;
#[cfg(feature = "python")]
mod interpreter;
mod journal;
mod log;
mod spin;
mod subprocess;
mod system_python;
#[cfg(feature = "python")]
mod transport;

use anyhow::{Context, Result};
use auroraview_overlay::{Isolation, Manifest, Overlay, Strategy};
use environment::{Entry, Layout};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// Read by `auroraview-pack` to refuse pairing this stub with a runtime of another Python version.
/// A runtime built without the `python` feature embeds none and serves only the `system` strategy.
#[cfg(feature = "python")]
#[used]
static STUB_INFO: &str = concat!("AURORAVIEW-STUB-INFO:python=", env!("AURORAVIEW_PYTHON_VERSION"), ";end");
#[cfg(not(feature = "python"))]
#[used]
static STUB_INFO: &str = "AURORAVIEW-STUB-INFO:python=none;end";

const USAGE: &str = "\
usage: APP [--headless] [-- ARGS...]

  --headless   no window: read JSON-RPC requests from stdin, one per line, and write responses and
               events to stdout, one per line; exit when stdin ends
  --version    print the app's and the runtime's versions

Environment: AURORAVIEW_CACHE_DIR (where the app is extracted), AURORAVIEW_LOG=debug.";

enum Mode {
    Headless,
    Window,
    BenchInProcess(usize),
    BenchBareWebView(std::path::PathBuf),
    /// The child of `isolation = "process"`: headless, with Python in-process.
    PythonChild,
    /// `auroraview-pack dev`: run an app from its sources, described by this spec file.
    Dev(std::path::PathBuf),
}

struct Args {
    mode: Mode,
    /// Passed to Python as sys.argv[1:].
    rest: Vec<String>,
}

fn parse_args() -> Result<Option<Args>> {
    let mut mode = Mode::Window;
    let mut rest = Vec::new();
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--headless" => mode = Mode::Headless,
            "--python-child" => mode = Mode::PythonChild,
            "--dev" => mode = Mode::Dev(it.next().context("--dev takes a spec file")?.into()),
            "--bench-in-process" => {
                let n = it.next().and_then(|n| n.parse().ok()).context("--bench-in-process takes a number")?;
                mode = Mode::BenchInProcess(n);
            }
            "--bench-bare-webview" => {
                let report = it.next().context("--bench-bare-webview takes a report path")?;
                mode = Mode::BenchBareWebView(report.into());
            }
            "--help" | "-h" => {
                println!("{USAGE}");
                return Ok(None);
            }
            "--version" => {
                let exe = std::env::current_exe()?;
                let app =
                    Overlay::open(&exe).map(|o| format!("{} {}", o.manifest().app.name, o.manifest().app.version));
                let python = match env!("AURORAVIEW_PYTHON_VERSION") {
                    "none" => "no embedded Python".to_string(),
                    v => format!("Python {v}"),
                };
                println!(
                    "{} (auroraview-runtime {}, {python})",
                    app.unwrap_or_else(|_| "no app".into()),
                    env!("CARGO_PKG_VERSION"),
                );
                return Ok(None);
            }
            "--" => {
                rest.extend(it.by_ref());
            }
            _ => rest.push(a),
        }
    }
    Ok(Some(Args { mode, rest }))
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(1)
        }
    }
}

fn run() -> Result<u8> {
    let Some(args) = parse_args()? else { return Ok(0) };
    if let Mode::Dev(spec) = &args.mode {
        log::init(false);
        return dev::run(spec);
    }
    let exe = std::env::current_exe().context("locating this executable")?;
    let overlay = Overlay::open(&exe).map_err(|e| match e {
        auroraview_overlay::Error::NotFound { .. } => {
            anyhow::anyhow!("{e}\nhint: this is the bare runtime; `auroraview-pack build` appends an app to it")
        }
        e => e.into(),
    })?;
    let manifest = overlay.manifest().clone();
    log::init(manifest.window.debug);
    log::debug!(
        "{} {} ({} strategy, isolation {:?}) from {}",
        manifest.app.name,
        manifest.app.version,
        manifest.python.strategy.as_str(),
        manifest.python.isolation,
        exe.display()
    );
    // `portable` apps run in place from the directory beside the executable; the others from the
    // cache, extracted once.
    let extracted = match manifest.python.strategy {
        Strategy::Portable => None,
        _ => Some(extract::ensure(&overlay)?),
    };
    let root = match &extracted {
        Some(e) => e.root.clone(),
        None => exe.parent().context("the executable has no directory")?.to_path_buf(),
    };
    log::debug!("app tree at {}", root.display());
    let mut layout = Layout::new(&root, &manifest);
    let mut fallback = false;
    if manifest.python.strategy == Strategy::Embedded {
        match system_python::find_home(&manifest) {
            Ok(home) => {
                log::debug!("using the stdlib of {}", home.display());
                layout.use_home(&home, &manifest.python.version);
            }
            Err(e) if manifest.python.embedded_fallback => {
                eprintln!(
                    "auroraview: {e:#}\nauroraview: falling back to python3 in a child process (python.embedded_fallback)"
                );
                fallback = true;
            }
            Err(e) => return Err(e),
        }
    }
    for (k, v) in layout.variables(&manifest) {
        // SAFETY: no other thread exists yet, so nothing reads the environment concurrently.
        unsafe { std::env::set_var(k, v) };
    }
    // The child of `isolation = "process"` runs Python in-process, whatever the manifest says.
    let subprocess =
        fallback || (!matches!(args.mode, Mode::PythonChild) && manifest.python.isolation == Isolation::Process);

    match args.mode {
        Mode::PythonChild if !subprocess && std::env::var_os(journal::FD_ENV).is_some() => {
            // Supervised through a journal: Python serves the client's pipes itself.
            let code = inprocess::direct_child(&manifest, &layout, &exe, args.rest)?;
            drop(extracted);
            Ok(code)
        }
        Mode::Headless | Mode::PythonChild if !subprocess => {
            let child = matches!(args.mode, Mode::PythonChild);
            let (input, output) = headless::take_stdio().context("taking stdin/stdout for the protocol")?;
            let code = inprocess::headless(&manifest, &layout, &exe, args.rest, input, output, child)?;
            drop(extracted);
            Ok(code)
        }
        Mode::Headless | Mode::PythonChild => {
            let (input, output) = headless::take_stdio().context("taking stdin/stdout for the protocol")?;
            let settings = backend_settings(&manifest, &layout, &exe, &args.rest, fallback)?;
            let code = subprocess::run_direct(&settings, input, output)?;
            drop(extracted);
            Ok(code)
        }
        Mode::Dev(_) => unreachable!("handled before the overlay is read"),
        Mode::BenchInProcess(n) => inprocess::bench(n, &manifest, &layout, &exe),
        Mode::BenchBareWebView(report) => gui::run_bare_echo(window(&manifest, &layout)?, &report),
        Mode::Window => {
            let w = window(&manifest, &layout)?;
            // The extracted tree stays locked as in use until the process exits.
            std::mem::forget(extracted);
            if subprocess {
                let settings = backend_settings(&manifest, &layout, &exe, &args.rest, fallback)?;
                return gui::run(w, move |requests, sink| {
                    let forwarder = Arc::new(subprocess::Forwarder::default());
                    subprocess::forward_channel(requests, forwarder.clone())?;
                    subprocess::run(&settings, &forwarder, sink)
                });
            }
            let (m, l) = (manifest.clone(), layout.clone());
            gui::run(w, move |requests, sink| inprocess::serve_channel(&m, &l, &exe, args.rest, requests, sink))
        }
    }
}

/// The child process to supervise: this executable in Python mode, or for the `system`
/// strategy the machine's Python running the app through `auroraview._child`.
fn backend_settings(
    manifest: &Manifest,
    layout: &Layout,
    exe: &Path,
    rest: &[String],
    fallback: bool,
) -> Result<subprocess::Settings> {
    let (program, args) = if manifest.python.strategy == Strategy::System || fallback {
        // A fallback takes whatever Python 3 is there: the app's own minor version was not found.
        let minimum = if fallback { "3.8" } else { &manifest.python.version };
        let python = system_python::find(manifest, minimum, Some(&layout.root.join(".system-python")))?;
        let entry = match Entry::parse(&manifest.python.entry_point, &layout.python) {
            Entry::Function { .. } => manifest.python.entry_point.clone(),
            Entry::Script(path) => path.display().to_string(),
        };
        let mut args: Vec<std::ffi::OsString> =
            vec!["-s".into(), "-m".into(), "auroraview._child".into(), entry.into()];
        args.extend(rest.iter().map(Into::into));
        (python, args)
    } else {
        let mut args: Vec<std::ffi::OsString> = vec!["--python-child".into(), "--".into()];
        args.extend(rest.iter().map(Into::into));
        (exe.to_path_buf(), args)
    };
    Ok(subprocess::Settings {
        program,
        args,
        env: Vec::new(),
        cwd: None,
        max_restarts: manifest.python.max_restarts,
        heartbeat_timeout: Duration::from_millis(manifest.python.heartbeat_timeout_ms),
    })
}

fn window<'a>(manifest: &'a Manifest, layout: &Layout) -> Result<gui::Window<'a>> {
    let library = manifest.gui.as_ref().map(|g| layout.root.join(g)).context(
        "this app was packed without its window library\nhint: repack with an auroraview-pack that has libauroraview_window beside its runtime, or run with --headless",
    )?;
    Ok(gui::Window { library, manifest, frontend: layout.root.join("frontend") })
}
