//! `auroraview-pack dev`: runs the app from its sources, without packing. The window serves the
//! frontend directory live (reload the page to see edits), Python runs from the local
//! interpreter with the app's include paths, and `--reload` restarts Python when a `.py` changes.

use crate::cache::PackCache;
use crate::config::{self, Config, EntryPoint};
use crate::{commands::build, pypkg, python, stub};
use anyhow::{Context, Result};
use auroraview_overlay::dev::DevSpec;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Run the app from its sources, for a fast edit-run loop.
#[derive(clap::Args)]
pub struct Args {
    /// The config file.
    #[arg(long, default_value = config::DEFAULT_FILE)]
    config: PathBuf,
    /// No window: JSON-RPC on stdin/stdout, as a packed app's --headless.
    #[arg(long)]
    headless: bool,
    /// Restart Python when a .py file in the include paths changes.
    #[arg(long)]
    reload: bool,
    /// The runtime to run with (default: the one built beside this packer).
    #[arg(long)]
    runtime: Option<PathBuf>,
    /// Load the page from this dev server (e.g. http://localhost:5173) instead of `frontend.path`;
    /// replaces `[frontend] dev_url`.
    #[arg(long)]
    url: Option<String>,
}

/// How long `dev` waits for the dev server (`[frontend] dev_command`) to accept connections.
const DEV_SERVER_WAIT: Duration = Duration::from_secs(60);

pub fn run(args: Args) -> Result<()> {
    let cfg = Config::load(&args.config)?;
    if let Some(url) = &args.url {
        config::check_dev_url(url).map_err(|why| {
            anyhow::anyhow!("--url {url}: not a dev server URL: {why}\nhint: give e.g. --url http://localhost:5173")
        })?;
    }
    let dev_url = if args.headless { None } else { args.url.clone().or_else(|| cfg.frontend.dev_url.clone()) };
    let stub = stub::find(args.runtime.as_deref(), None)?;
    let gui = if args.headless { stub.path.with_file_name(stub::GUI_NAME) } else { stub.gui()? };
    let interp = python::find(&cfg.python.version, cfg.python.runtime.as_deref())?;

    // This packer's `auroraview` package, so the app sees the version that matches the runtime.
    let package_root = PackCache::open().dir("dev").join(env!("CARGO_PKG_VERSION"));
    for (rel, bytes) in pypkg::files() {
        let dest = package_root.join("auroraview").join(rel);
        if fs_err::read(&dest).ok().as_deref() != Some(bytes) {
            fs_err::create_dir_all(dest.parent().expect("has parent"))?;
            fs_err::write(&dest, bytes)?;
        }
    }
    let mut python_path: Vec<PathBuf> = cfg
        .python
        .include_paths
        .iter()
        .map(|p| if p.is_file() { p.parent().unwrap_or(p).to_path_buf() } else { p.clone() })
        .collect();
    python_path.push(package_root);
    let entry = match &cfg.python.entry_point {
        EntryPoint::Function => auroraview_overlay::EntryPoint::parse(&cfg.python.entry_point_text)?,
        EntryPoint::Script { file } => auroraview_overlay::EntryPoint::Script(file.clone()),
    };
    let mut manifest = build::manifest_for(&cfg, None, None);
    // Served from the sources: the icon where it is.
    manifest.window.options.icon = cfg.window.options.icon.clone();
    let spec = DevSpec {
        manifest,
        frontend: cfg.frontend.dir.clone(),
        interpreter: interp.executable.clone(),
        python_path: python_path.clone(),
        entry,
        cwd: cfg.root.clone(),
        resources: cfg.root.join("resources"),
        headless: args.headless,
        watch: if args.reload { python_path[..python_path.len() - 1].to_vec() } else { Vec::new() },
        gui,
        dev_url: dev_url.clone(),
    };
    if let Some(command) = cfg.frontend.dev_command.as_deref().filter(|_| !args.headless) {
        start_dev_server(command, &cfg.root)?;
    }
    if let Some(url) = &dev_url {
        wait_for(url, cfg.frontend.dev_command.is_some());
    }
    let spec_file = tempfile::Builder::new().prefix("auroraview-dev-").suffix(".json").tempfile()?;
    fs_err::write(spec_file.path(), serde_json::to_vec_pretty(&spec)?)?;
    let (_, spec_path) = spec_file.keep().context("keeping the dev spec")?;
    let mut cmd = std::process::Command::new(&stub.path);
    cmd.arg("--dev").arg(&spec_path);
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        // The runtime takes this process's place: signals and the exit code are the app's.
        let err = cmd.exec();
        Err(err).with_context(|| format!("starting {}", stub.path.display()))
    }
    #[cfg(not(unix))]
    {
        let status = cmd.status().with_context(|| format!("starting {}", stub.path.display()))?;
        std::process::exit(status.code().unwrap_or(1));
    }
}

/// Starts `[frontend] dev_command` in the project directory, in a process group of its own with a
/// shell that ends the group once this process (which becomes the runtime) is gone, however it
/// ends.
fn start_dev_server(command: &str, root: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        const GUARD: &str =
            r#"sh -c "$1" </dev/null & while kill -0 "$2" 2>/dev/null; do sleep 0.3; done; kill -TERM 0"#;
        eprintln!("dev: starting `{command}`");
        std::process::Command::new("sh")
            .args(["-c", GUARD, "auroraview-dev-server", command, &std::process::id().to_string()])
            .current_dir(root)
            .stdin(std::process::Stdio::null())
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting [frontend] dev_command `{command}`"))?;
    }
    #[cfg(not(unix))]
    {
        let _ = (command, root);
        anyhow::bail!("[frontend] dev_command is supported on Unix only; start the dev server yourself");
    }
    Ok(())
}

/// Waits until the dev server at `url` accepts connections (up to [`DEV_SERVER_WAIT`] when `dev`
/// started it); the window opens either way, and the page can be reloaded with F5.
fn wait_for(url: &str, started_here: bool) {
    use std::net::{TcpStream, ToSocketAddrs};
    let https = url.starts_with("https://");
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let host = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    let authority =
        if host.rsplit_once(':').is_some_and(|(_, p)| p.chars().all(|c| c.is_ascii_digit())) && !host.ends_with(']') {
            host.to_string()
        } else {
            format!("{host}:{}", if https { 443 } else { 80 })
        };
    let reachable = || {
        authority
            .to_socket_addrs()
            .ok()
            .into_iter()
            .flatten()
            .any(|a| TcpStream::connect_timeout(&a, Duration::from_millis(300)).is_ok())
    };
    let limit = if started_here { DEV_SERVER_WAIT } else { Duration::ZERO };
    let start = Instant::now();
    let mut said = false;
    while !reachable() {
        if start.elapsed() >= limit {
            eprintln!("dev: nothing answers at {url} yet; the window opens anyway (press F5 to reload)");
            return;
        }
        if !said {
            eprintln!("dev: waiting for the dev server at {url}");
            said = true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
