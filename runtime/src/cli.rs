//! The command line of a packed app. Everything not for the runtime is passed to Python as
//! `sys.argv[1:]`.

use anyhow::{Context, Result};
use std::path::PathBuf;

const USAGE: &str = "\
usage: APP [--headless] [--license FILE] [-- ARGS...]

  --headless   no window: read JSON-RPC requests from stdin, one per line, and write responses and
               events to stdout, one per line; exit when stdin ends
  --license FILE
               the file holding this app's license token (else AURORAVIEW_LICENSE holds the token,
               else ~/.config/AuroraView/licenses/APP.token); apps packed with a license only
  --version    print the app's and the runtime's versions

Environment: AURORAVIEW_CACHE_DIR (where the app is extracted), RUST_LOG=debug (or
AURORAVIEW_LOG=debug) for diagnostics on stderr. Arguments after `--`, and those that are not options,
are the app's (`sys.argv[1:]`).";

/// The usage text, naming the program as it was started.
pub fn usage() -> String {
    let program = std::env::args_os()
        .next()
        .map(|p| std::path::Path::new(&p).file_name().unwrap_or(p.as_os_str()).to_string_lossy().into_owned())
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "APP".into());
    USAGE.replace("APP", &program)
}

pub enum Command {
    /// Started as `python` (the link `sys.executable` names): a Python command line. Without the
    /// `python` feature it is only refused, its arguments unread.
    Python(#[cfg_attr(not(feature = "python"), allow(dead_code))] Vec<String>),
    /// Show the window (or, `headless`, serve stdin/stdout). `python_child`: this process is the
    /// child of `isolation = "process"`, always headless with Python in-process.
    Run {
        headless: bool,
        python_child: bool,
    },
    /// `auroraview-pack dev`: run an app from its sources, described by this spec file.
    Dev(PathBuf),
    Help,
    Version,
    BenchInProcess(usize),
    BenchBareWebView(PathBuf),
}

pub struct Args {
    pub command: Command,
    /// Passed to Python as `sys.argv[1:]`.
    pub rest: Vec<String>,
    /// `--license FILE`: where the license token is (never passed to Python).
    pub license: Option<PathBuf>,
}

/// Parses the whole command line, the program's name included.
pub fn parse(mut argv: impl Iterator<Item = std::ffi::OsString>) -> Result<Args> {
    let program = argv.next().unwrap_or_default();
    let args = argv.map(|a| a.to_string_lossy().into_owned());
    if crate::app::invoked_as_python(&program) {
        return Ok(Args { command: Command::Python(args.collect()), rest: Vec::new(), license: None });
    }
    let (mut headless, mut python_child) = (false, false);
    let mut command = None;
    let mut rest = Vec::new();
    let mut license = None;
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--headless" => headless = true,
            "--license" => license = Some(it.next().context("--license takes a token file")?.into()),
            _ if a.starts_with("--license=") => license = Some(PathBuf::from(&a["--license=".len()..])),
            "--python-child" => python_child = true,
            "--dev" => command = Some(Command::Dev(it.next().context("--dev takes a spec file")?.into())),
            "--bench-in-process" => {
                let n = it.next().and_then(|n| n.parse().ok()).context("--bench-in-process takes a number")?;
                command = Some(Command::BenchInProcess(n));
            }
            "--bench-bare-webview" => {
                let report = it.next().context("--bench-bare-webview takes a report path")?;
                command = Some(Command::BenchBareWebView(report.into()));
            }
            "--help" | "-h" => return Ok(Args { command: Command::Help, rest, license }),
            "--version" => return Ok(Args { command: Command::Version, rest, license }),
            "--" => rest.extend(it.by_ref()),
            _ if a.starts_with('-') && a != "-" => {
                anyhow::bail!("unknown option `{a}`; pass the app's own options after `--`\n\n{}", usage())
            }
            _ => rest.push(a),
        }
    }
    Ok(Args { command: command.unwrap_or(Command::Run { headless, python_child }), rest, license })
}
