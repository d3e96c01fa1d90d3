//! The one place that decides what this run does. The command line, the app's manifest and the
//! machine (the cache, a Python found on it) are resolved here, once, into a [`Plan`]: what shows
//! the UI, which backend answers, and where the app's files are. `main` only runs the plan; no
//! other module decides a mode.

use crate::app::extract::{self, Extracted};
use crate::app::layout::Layout;
use crate::app::machine_python;
use crate::cli::{self, Args, Command};
use crate::{dev, logging, plugins, supervisor, window};
use anyhow::{Context, Result};
use auroraview_overlay::{EntryPoint, Isolation, Manifest, Overlay, Strategy};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub struct Plan {
    pub task: Task,
    /// Variables for Python and its children, set before any thread starts.
    pub env: Vec<(String, String)>,
    /// The extracted app, held (locked as in use) for as long as the run.
    pub hold: Option<Extracted>,
    /// The app's plugins, for runs that serve a page or a backend (a supervised child reaches its
    /// parent's through the descriptor it inherits).
    pub plugins: Option<Arc<plugins::Host>>,
}

pub enum Task {
    /// Print this and exit (`--help`, `--version`).
    Print(String),
    /// Python in this process serving the protocol's stdin/stdout. `report_exit`: this process is
    /// a supervised child, which says when its entry point ended on purpose.
    #[cfg(feature = "python")]
    Headless { launch: crate::python::Launch, report_exit: bool },
    /// A child of `isolation = "process"` supervised through a journal: its Python serves the
    /// client's pipes itself and reports how the entry point ended on the `control` socket.
    #[cfg(feature = "python")]
    Journaled { launch: crate::python::Launch, control: std::os::fd::RawFd },
    /// The window, with Python in this process.
    #[cfg(feature = "python")]
    Window { window: window::Spec, launch: crate::python::Launch },
    #[cfg(feature = "python")]
    BenchInProcess { calls: usize, launch: crate::python::Launch },
    /// Run as the `python` command, with the app's paths.
    #[cfg(feature = "python")]
    Python(crate::python::Launch),
    /// `--headless` through supervised children that serve the client's pipes themselves.
    HeadlessChild(supervisor::Settings),
    /// Supervised children whose messages this process relays: for the window (`window`), or for
    /// `dev --headless` on stdin/stdout; a change below `watch` restarts the child.
    Relay { window: Option<window::Spec>, settings: supervisor::Settings, watch: Vec<PathBuf> },
    /// The window answering by itself, the baseline of `ci/bench`.
    BenchBareWebView { window: window::Spec, report: PathBuf },
}

impl Task {
    /// Whether Python runs in this process (and so connects to the plugins here).
    pub fn runs_python_here(&self) -> bool {
        match self {
            #[cfg(feature = "python")]
            Task::Headless { .. } | Task::Window { .. } | Task::BenchInProcess { .. } => true,
            _ => false,
        }
    }
}

impl Plan {
    fn only(task: Task) -> Plan {
        Plan { task, env: Vec::new(), hold: None, plugins: None }
    }
}

pub fn resolve(args: Args) -> Result<Plan> {
    let Args { command, rest, license } = args;
    let (headless, python_child) = match command {
        Command::Help => return Ok(Plan::only(Task::Print(help()))),
        Command::Version => return Ok(Plan::only(Task::Print(version()))),
        Command::Dev(spec) => {
            logging::init(false);
            let dev = dev::resolve(&spec)?;
            let plugins = dev.settings.plugins.clone();
            let task = Task::Relay { window: dev.window, settings: dev.settings, watch: dev.watch };
            return Ok(Plan { plugins, ..Plan::only(task) });
        }
        Command::Run { headless, python_child } => (headless, python_child),
        Command::BenchInProcess(_) | Command::BenchBareWebView(_) | Command::Python(_) => (false, false),
    };
    let exe = std::env::current_exe().context("locating this executable")?;
    let overlay = Overlay::open(&exe).map_err(|e| match e {
        auroraview_overlay::Error::NotFound { .. } => {
            anyhow::anyhow!("{e}\nhint: this is the bare runtime; `auroraview-pack build` appends an app to it")
        }
        e => e.into(),
    })?;
    let manifest = overlay.manifest().clone();
    logging::init(manifest.window.debug);
    tracing::debug!(
        "{} {} ({} strategy, isolation {:?}) from {}",
        manifest.app.name,
        manifest.app.version,
        manifest.python.strategy.as_str(),
        manifest.python.isolation,
        exe.display()
    );
    // A bundled runtime needs the glibc it was packed against, or newer: refused before anything
    // is extracted.
    crate::app::glibc::check(
        manifest.runtime.as_ref().and_then(|r| r.glibc_floor.as_deref()),
        crate::app::glibc::running().as_deref(),
    )?;
    // A licensed app's token (or a time-limited build's date), checked before anything is extracted;
    // refused: exit 3. Children and `python` commands of a run check again, without warnings.
    let licensed = crate::app::license::check(
        &manifest,
        license.as_deref(),
        python_child || matches!(command, Command::Python(_)),
    )?;
    // `portable` apps run in place from the directory beside the executable; the others from the
    // cache, extracted once.
    let hold = match manifest.python.strategy {
        Strategy::Portable => None,
        _ => Some(extract::ensure(&overlay)?),
    };
    let root = match &hold {
        Some(e) => e.root.clone(),
        None => exe.parent().context("the executable has no directory")?.to_path_buf(),
    };
    tracing::debug!("app tree at {}", root.display());
    let mut layout = Layout::new(&root, &manifest);
    let mut fallback = false;
    if manifest.python.strategy == Strategy::Embedded {
        match machine_python::find_home(&manifest) {
            Ok(home) => {
                tracing::debug!("using the stdlib of {}", home.display());
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
    let mut env = layout.variables(&manifest);
    env.extend(licensed);
    let entry = EntryPoint::parse(&manifest.python.entry_point)
        .with_context(|| format!("the app's python.entry_point in {}", exe.display()))?;
    // The child of `isolation = "process"` runs Python in-process, whatever the manifest says.
    let in_process = !fallback
        && manifest.python.strategy != Strategy::System
        && (python_child || manifest.python.isolation != Isolation::Process);
    // A child's plugin calls go to its parent's host.
    let host = (!python_child && !matches!(command, Command::Python(_) | Command::BenchBareWebView(_)))
        .then(|| plugins::host(&manifest.plugins, &layout));
    let app = App { manifest: &manifest, layout: &layout, exe: &exe, rest, entry: &entry, plugins: host.clone() };
    let task = match command {
        #[cfg(feature = "python")]
        Command::Python(args) if !fallback && manifest.python.strategy != Strategy::System => {
            Task::Python(app.command_line(args))
        }
        Command::Python(_) => {
            return Err(anyhow::anyhow!(
                "this app's Python is the machine's python3, in a child process: run python3 instead"
            ));
        }
        Command::BenchBareWebView(report) => Task::BenchBareWebView { window: app.window()?, report },
        #[cfg(feature = "python")]
        Command::BenchInProcess(calls) => Task::BenchInProcess { calls, launch: app.launch() },
        #[cfg(not(feature = "python"))]
        Command::BenchInProcess(calls) => return Err(no_python().context(format!("--bench-in-process {calls}"))),
        #[cfg(feature = "python")]
        _ if in_process && python_child && std::env::var_os(supervisor::journal::FD_ENV).is_some() => {
            let control = std::env::var(supervisor::journal::CONTROL_ENV)
                .ok()
                .and_then(|v| v.parse().ok())
                .context("AURORAVIEW_CONTROL_FD is not set to a descriptor")?;
            Task::Journaled { launch: app.launch(), control }
        }
        #[cfg(feature = "python")]
        _ if in_process && (headless || python_child) => {
            Task::Headless { launch: app.launch(), report_exit: python_child }
        }
        #[cfg(feature = "python")]
        _ if in_process => Task::Window { window: app.window()?, launch: app.launch() },
        #[cfg(not(feature = "python"))]
        _ if in_process => return Err(no_python()),
        _ if headless => Task::HeadlessChild(app.child(fallback)?),
        _ => Task::Relay { window: Some(app.window()?), settings: app.child(fallback)?, watch: Vec::new() },
    };
    Ok(Plan { task, env, hold, plugins: host })
}

/// What the tasks are made from.
struct App<'a> {
    manifest: &'a Manifest,
    layout: &'a Layout,
    exe: &'a Path,
    rest: Vec<String>,
    entry: &'a EntryPoint,
    plugins: Option<Arc<plugins::Host>>,
}

impl App<'_> {
    fn window(&self) -> Result<window::Spec> {
        let library = self.manifest.gui.as_ref().map(|g| self.layout.root.join(g)).context(
            "this app was packed without its window library\nhint: repack with an auroraview-pack that has libauroraview_window beside its runtime, or run with --headless",
        )?;
        Ok(window::Spec::new(self.manifest, library, self.layout.root.join("frontend"), &self.layout.root))
    }

    /// Python in this process running the app's entry point.
    #[cfg(feature = "python")]
    fn launch(&self) -> crate::python::Launch {
        let mut argv = vec![self.exe.display().to_string()];
        argv.extend(self.rest.iter().cloned());
        self.python(argv, false)
    }

    /// Python in this process running a `python` command line.
    #[cfg(feature = "python")]
    fn command_line(&self, args: Vec<String>) -> crate::python::Launch {
        let mut argv = vec!["python3".to_string()];
        argv.extend(args);
        self.python(argv, true)
    }

    #[cfg(feature = "python")]
    fn python(&self, argv: Vec<String>, command_line: bool) -> crate::python::Launch {
        let (manifest, layout) = (self.manifest, self.layout);
        // A stdlib packed as a table (standalone apps of this packer; older ones zipped it).
        let stdlib_table =
            || layout.home.as_ref().is_some_and(|h| h.join(auroraview_overlay::modules::FILE_NAME).is_file());
        let tables: Option<(&'static [&'static str], bool)> = match manifest.python.strategy {
            Strategy::Pyoxidizer => Some((&crate::python::importer::TABLES, manifest.python.filesystem_importer)),
            Strategy::Standalone if stdlib_table() => Some((&crate::python::importer::STDLIB_TABLE, true)),
            _ => None,
        };
        let in_memory = tables.map(|(tables, filesystem_importer)| crate::python::InMemory {
            root: layout.root.clone(),
            tables,
            filesystem_importer,
        });
        crate::python::Launch {
            settings: crate::python::Settings {
                home: layout.home.clone(),
                in_memory,
                program: self.exe.to_path_buf(),
                executable: crate::app::python_command(&layout.root, self.exe),
                argv,
                sys_path: layout.sys_path(manifest),
                command_line,
            },
            entry: crate::app::entry_words(self.entry, &layout.python),
            site_packages: layout.site_packages.clone(),
        }
    }

    /// The child process to supervise: this executable in Python mode, or for the `system`
    /// strategy (and the embedded fallback) the machine's Python running the app through
    /// `auroraview._child`.
    fn child(&self, fallback: bool) -> Result<supervisor::Settings> {
        let manifest = self.manifest;
        let (program, args) = if manifest.python.strategy == Strategy::System || fallback {
            // A fallback takes whatever Python 3 is there: the app's own minor version was not
            // found (`embedded_fallback` is for apps whose packages are pure Python).
            let wanted = if fallback {
                machine_python::Wanted::AtLeast("3.8")
            } else {
                machine_python::Wanted::Exactly(&manifest.python.version)
            };
            let memo = self.layout.root.join(".system-python");
            let python = machine_python::find(manifest, wanted, Some(&memo))?;
            let mut args = supervisor::isolated_python_args(manifest.python.system_site_packages);
            args.extend(crate::app::entry_words(self.entry, &self.layout.python));
            args.extend(self.rest.iter().map(Into::into));
            (python, args)
        } else {
            let mut args: Vec<std::ffi::OsString> = vec!["--python-child".into(), "--".into()];
            args.extend(self.rest.iter().map(Into::into));
            (self.exe.to_path_buf(), args)
        };
        Ok(supervisor::Settings {
            program,
            args,
            env: Vec::new(),
            cwd: None,
            max_restarts: manifest.python.max_restarts,
            heartbeat_timeout: Duration::from_millis(manifest.python.heartbeat_timeout_ms),
            plugins: self.plugins.clone(),
        })
    }
}

#[cfg(not(feature = "python"))]
fn no_python() -> anyhow::Error {
    anyhow::anyhow!(
        "this runtime has no embedded Python: it runs only `system` strategy apps\nhint: repack the app with the full runtime (auroraview-runtime), or with `strategy = \"system\"`"
    )
}

fn version() -> String {
    let app = std::env::current_exe()
        .ok()
        .and_then(|exe| Overlay::open(&exe).ok())
        .map(|o| format!("{} {}", o.manifest().app.name, o.manifest().app.version));
    let python = match env!("AURORAVIEW_PYTHON_VERSION") {
        "none" => "no embedded Python".to_string(),
        v => format!("Python {v}"),
    };
    format!("{} (auroraview-runtime {}, {python})", app.unwrap_or_else(|| "no app".into()), env!("CARGO_PKG_VERSION"))
}

/// `--help`: the app this is (from its manifest, when it has one) and the usage.
fn help() -> String {
    let app = std::env::current_exe().ok().and_then(|exe| Overlay::open(&exe).ok()).map(|o| {
        let app = &o.manifest().app;
        if app.title != app.name {
            format!("{} {} ({})\n\n", app.name, app.version, app.title)
        } else {
            format!("{} {}\n\n", app.name, app.version)
        }
    });
    format!("{}{}", app.unwrap_or_default(), cli::usage())
}
