//! Finding and asking a local CPython: the interpreter whose stdlib is bundled and whose pip
//! installs the app's packages (so wheels match the bundled ABI).

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::process::Command;

/// What the packer needs to know of an interpreter, asked of the interpreter itself.
#[derive(Debug, Clone, Deserialize)]
pub struct Interpreter {
    pub executable: PathBuf,
    /// `3.11.7`
    pub version: String,
    /// `3.11`
    pub minor: String,
    /// The directory of `os.py`.
    pub stdlib: PathBuf,
    /// `x86_64-unknown-linux-gnu`-style description of the platform, from sysconfig.
    pub platform: String,
}

const QUERY: &str = r#"
import json, sys, sysconfig, os
print(json.dumps({
    "executable": sys.executable,
    "version": "%d.%d.%d" % sys.version_info[:3],
    "minor": "%d.%d" % sys.version_info[:2],
    "stdlib": os.path.dirname(os.__file__),
    "platform": sysconfig.get_platform(),
}))
"#;

impl Interpreter {
    pub fn query(exe: &Path) -> Result<Interpreter> {
        let out = Command::new(exe)
            .args(["-I", "-c", QUERY])
            .output()
            .with_context(|| format!("running {}", exe.display()))?;
        if !out.status.success() {
            bail!("{} failed: {}", exe.display(), String::from_utf8_lossy(&out.stderr).trim());
        }
        serde_json::from_slice(&out.stdout).with_context(|| format!("reading what {} reported", exe.display()))
    }

    /// Runs `python -m <args>` with this interpreter in directory `cwd`, failing with its output on
    /// error.
    pub fn run_module_in(&self, args: &[&std::ffi::OsStr], cwd: &Path, what: &str) -> Result<()> {
        self.run_module_allowing(args, cwd, what, &[])
    }

    /// As [`Self::run_module_in`], also accepting the exit codes in `ok_codes`.
    fn run_module_allowing(&self, args: &[&std::ffi::OsStr], cwd: &Path, what: &str, ok_codes: &[i32]) -> Result<()> {
        let mut cmd = Command::new(&self.executable);
        cmd.current_dir(cwd).arg("-m").args(args).env_remove("PYTHONPATH").env_remove("PYTHONHOME");
        self.run_checked(cmd, what, ok_codes).map(drop)
    }

    /// Runs `cmd`, failing with its output unless it exits 0 or with one of `ok_codes`; its stdout.
    fn run_checked(&self, mut cmd: Command, what: &str, ok_codes: &[i32]) -> Result<Vec<u8>> {
        let out = cmd.output().with_context(|| format!("running {}", self.executable.display()))?;
        if !out.status.success() && !out.status.code().is_some_and(|c| ok_codes.contains(&c)) {
            bail!(
                "{what} failed ({}):\n{}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(out.stdout)
    }

    /// Runs `python -I -c script args...`, returning its stdout; failing with its output on error.
    pub fn run_script(&self, script: &str, args: &[&std::ffi::OsStr], what: &str) -> Result<Vec<u8>> {
        let mut cmd = Command::new(&self.executable);
        cmd.args(["-I", "-c", script]).args(args);
        self.run_checked(cmd, what, &[])
    }

    /// Moves the compiled stdlib at `stdlib` into the zip `target`, leaving only `lib-dynload/`
    /// there (`py/zip_stdlib.py`).
    pub fn zip_stdlib(&self, stdlib: &Path, target: &Path, cache_tag: &str) -> Result<()> {
        let mut cmd = Command::new(&self.executable);
        cmd.args(["-I", "-c", ZIP_STDLIB]).arg(stdlib).arg(target).arg(cache_tag);
        self.run_checked(cmd, &format!("zipping the standard library into {}", target.display()), &[]).map(drop)
    }

    /// Precompiles every `.py` below `dir` to unchecked-hash `.pyc`, so start-up never compiles.
    /// Paths recorded in the `.pyc` are relative to `dir` (CPython fixes them up at import), so
    /// the output does not depend on where the staging directory was.
    pub fn compile_all(&self, dir: &Path) -> Result<()> {
        self.compile_paths(dir, &[dir.to_path_buf()])
    }

    /// As [`Self::compile_all`] for only `paths` (directories and files below `root`), with the
    /// paths recorded relative to `root`: the same `.pyc` as compiling all of `root`. Directories
    /// are compiled by a pool of one process per core (`-j 0`), files one by one.
    pub fn compile_paths(&self, root: &Path, paths: &[PathBuf]) -> Result<()> {
        if paths.is_empty() {
            return Ok(());
        }
        let mut args: Vec<&std::ffi::OsStr> =
            ["compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash", "-o0", "-s"]
                .iter()
                .map(|s| s.as_ref())
                .collect();
        args.push(root.as_os_str());
        args.extend(paths.iter().map(|p| p.as_os_str()));
        // compileall exits 1 when a file has a syntax error (e.g. a Python 2 file in a package); those
        // files are shipped as source, as pip itself would leave them. Anything else is a failure.
        self.run_module_allowing(&args, Path::new("."), "compiling Python files", &[1])
    }
}

/// The script that zips a compiled stdlib.
pub const ZIP_STDLIB: &str = include_str!("py/zip_stdlib.py");

/// Finds an interpreter of `version` (`3.11`). `runtime`, when set, is an install prefix or an
/// extracted python-build-standalone tree. Every place tried is named in the error.
pub fn find(version: &str, runtime: Option<&Path>) -> Result<Interpreter> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(prefix) = runtime {
        // An install prefix, or an unpacked python-build-standalone archive (install_only or full).
        for sub in ["bin", "python/bin", "python/install/bin", "install/bin"] {
            candidates.push(prefix.join(sub).join(format!("python{version}")));
            candidates.push(prefix.join(sub).join("python3"));
        }
    } else {
        if let Some(p) = std::env::var_os("AURORAVIEW_PYTHON") {
            candidates.push(PathBuf::from(p));
        }
        if let Some(p) = which(&format!("python{version}")) {
            candidates.push(p);
        }
        let pyenv_root =
            std::env::var_os("PYENV_ROOT").map(PathBuf::from).or_else(|| dirs_home().map(|h| h.join(".pyenv")));
        if let Some(root) = pyenv_root {
            let mut found: Vec<(Vec<u32>, PathBuf)> = fs_err::read_dir(root.join("versions"))
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    let rest = name.strip_prefix(version)?.strip_prefix('.')?;
                    let patch: u32 = rest.parse().ok()?;
                    Some((vec![patch], e.path().join("bin").join(format!("python{version}"))))
                })
                .collect();
            found.sort();
            candidates.extend(found.into_iter().rev().map(|(_, p)| p));
        }
        for prefix in ["/usr/local/bin", "/usr/bin"] {
            candidates.push(Path::new(prefix).join(format!("python{version}")));
        }
        if let Some(p) = which("python3") {
            candidates.push(p);
        }
    }
    let mut tried = Vec::new();
    for c in candidates {
        if !c.exists() || tried.iter().any(|(p, _)| *p == c) {
            tried.push((c, "not found".to_string()));
            continue;
        }
        match Interpreter::query(&c) {
            Ok(i) if i.minor == version => return Ok(i),
            Ok(i) => tried.push((c, format!("is Python {}", i.version))),
            Err(e) => tried.push((c, format!("{e:#}"))),
        }
    }
    let list: Vec<String> = tried.iter().map(|(p, why)| format!("  {} ({why})", p.display())).collect();
    bail!(
        "no Python {version} found; searched:\n{}\nhint: install CPython {version} (e.g. `pyenv install {version}`), or set `[python] runtime` to an install prefix or a python-build-standalone archive",
        list.join("\n")
    )
}

pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file())
}

fn dirs_home() -> Option<PathBuf> {
    std::env::var_os("HOME").map(PathBuf::from)
}
