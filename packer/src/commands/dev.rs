//! `auroraview-pack dev`: runs the app from its sources, without packing. The window serves the
//! frontend directory live (reload the page to see edits), Python runs from the local
//! interpreter with the app's include paths, and `--reload` restarts Python when a `.py` changes.

use crate::cache::PackCache;
use crate::config::{self, Config, EntryPoint};
use crate::{commands::build, pypkg, python, stub};
use anyhow::{Context, Result};
use auroraview_overlay::dev::DevSpec;
use std::path::PathBuf;

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
}

pub fn run(args: Args) -> Result<()> {
    let cfg = Config::load(&args.config)?;
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
    let manifest = build::manifest_for(&cfg, None, None);
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
    };
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
