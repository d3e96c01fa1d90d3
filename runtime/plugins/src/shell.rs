//! `shell`: hand URLs and paths to the system's handler, find and run programs.

use crate::{Failure, Host, Outcome};
use auroraview_overlay::plugins::Caller;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// What `execute` keeps of each of stdout and stderr.
const MAX_OUTPUT: u64 = 64 << 20;

/// The system's handler for URLs and files.
fn opener() -> &'static str {
    if cfg!(target_os = "macos") { "open" } else { "xdg-open" }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Url {
    url: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathArg {
    path: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Name {
    name: String,
}

/// A program to run, as `execute`, `spawn` and `process.spawn` take it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Run {
    pub program: String,
    #[serde(default)]
    pub args: Vec<String>,
    pub cwd: Option<PathBuf>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// `execute` only: written to the program's stdin, which is then closed.
    pub stdin: Option<String>,
    /// `execute` only: the program is killed after this long.
    pub timeout_ms: Option<u64>,
}

pub fn open(host: &Host, caller: Caller, p: Url) -> Outcome {
    if auroraview_overlay::plugins::url_scheme(&p.url).is_none() {
        return Err(Failure::params(format!("shell.open: {:?} is not a URL (it has no scheme)", p.url)));
    }
    host.allow(caller, "shell.open", &p.url)?;
    hand_to_system(&p.url)
}

pub fn open_path(host: &Host, caller: Caller, p: PathArg) -> Outcome {
    let path = existing(&p.path, "shell.open_path")?;
    host.allow(caller, "shell.open_path", &path.display().to_string())?;
    hand_to_system(&path.display().to_string())
}

/// Opens the folder holding `path` in the file manager.
pub fn show_in_folder(host: &Host, caller: Caller, p: PathArg) -> Outcome {
    let path = existing(&p.path, "shell.show_in_folder")?;
    host.allow(caller, "shell.show_in_folder", &path.display().to_string())?;
    let folder = if path.is_dir() { path.as_path() } else { path.parent().unwrap_or(Path::new("/")) };
    hand_to_system(&folder.display().to_string())
}

pub fn which(host: &Host, caller: Caller, p: Name) -> Outcome {
    host.allow(caller, "shell.which", &p.name)?;
    if p.name.contains('/') {
        return Err(Failure::params(format!("shell.which: {:?} is a path, not a program name", p.name)));
    }
    Ok(::which::which(&p.name).ok().map(|p| p.display().to_string()).into())
}

pub fn get_env(host: &Host, caller: Caller, p: Name) -> Outcome {
    host.allow(caller, "shell.get_env", &p.name)?;
    Ok(std::env::var(&p.name).ok().into())
}

/// Runs a program to its end: `{code, signal, stdout, stderr}`.
pub fn execute(host: &Host, caller: Caller, p: Run) -> Outcome {
    let mut cmd = command(host, caller, "shell.execute", &p)?;
    cmd.stdin(if p.stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child =
        cmd.spawn().map_err(|e| Failure::plugin(format!("shell.execute: cannot run {}: {e}", p.program)))?;
    if let (Some(text), Some(mut stdin)) = (p.stdin, child.stdin.take()) {
        std::thread::spawn(move || {
            let _ = stdin.write_all(text.as_bytes());
        });
    }
    let pid = child.id();
    let (out, err) = (child.stdout.take(), child.stderr.take());
    let (done_tx, done_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let read = |pipe: Option<Box<dyn Read + Send>>| {
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                if let Some(pipe) = pipe {
                    let _ = pipe.take(MAX_OUTPUT).read_to_end(&mut buf);
                }
                String::from_utf8_lossy(&buf).into_owned()
            })
        };
        let out = read(out.map(|p| Box::new(p) as Box<dyn Read + Send>));
        let err = read(err.map(|p| Box::new(p) as Box<dyn Read + Send>));
        let status = child.wait();
        let _ = done_tx.send((status, out.join().unwrap_or_default(), err.join().unwrap_or_default()));
    });
    let finished = match p.timeout_ms {
        Some(ms) => done_rx.recv_timeout(Duration::from_millis(ms)).ok(),
        None => done_rx.recv().ok(),
    };
    let Some((status, stdout, stderr)) = finished else {
        // SAFETY: kill(2) on the child's pid, which is not reaped until the waiting thread's wait()
        // returns, so it cannot name another process.
        unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        return Err(Failure::plugin(format!(
            "shell.execute: {} did not finish within {} ms",
            p.program,
            p.timeout_ms.unwrap_or(0)
        )));
    };
    let status = status.map_err(|e| Failure::plugin(format!("shell.execute: {e}")))?;
    use std::os::unix::process::ExitStatusExt;
    Ok(json!({"code": status.code(), "signal": status.signal(), "stdout": stdout, "stderr": stderr}))
}

/// Starts a program that lives on its own (in a session of its own, with no pipes): `{pid}`.
pub fn spawn(host: &Host, caller: Caller, p: Run) -> Outcome {
    let mut cmd = command(host, caller, "shell.spawn", &p)?;
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    use std::os::unix::process::CommandExt;
    // SAFETY: setsid is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let mut child = cmd.spawn().map_err(|e| Failure::plugin(format!("shell.spawn: cannot run {}: {e}", p.program)))?;
    let pid = child.id();
    std::thread::spawn(move || child.wait());
    Ok(json!({"pid": pid}))
}

/// The command for `p`, once `caller` may run its program: a name is looked up on `PATH`.
pub fn command(host: &Host, caller: Caller, what: &str, p: &Run) -> Result<Command, Failure> {
    if p.program.is_empty() {
        return Err(Failure::params(format!("{what}: program is empty")));
    }
    let program = if p.program.contains('/') {
        let path = Path::new(&p.program);
        if !path.is_absolute() {
            return Err(Failure::params(format!(
                "{what}: {:?} is relative; give a name on PATH or an absolute path",
                p.program
            )));
        }
        host.allow(caller, what, &p.program)?;
        // What was checked is what runs: the path with its links resolved.
        auroraview_overlay::plugins::resolved(path).unwrap_or_else(|| path.to_path_buf())
    } else {
        host.allow(caller, what, &p.program)?;
        ::which::which(&p.program).map_err(|_| Failure::plugin(format!("{what}: {} is not on PATH", p.program)))?
    };
    let mut cmd = Command::new(program);
    cmd.args(&p.args).envs(&p.env);
    if let Some(cwd) = &p.cwd {
        cmd.current_dir(cwd);
    }
    Ok(cmd)
}

fn existing(path: &str, what: &str) -> Result<PathBuf, Failure> {
    let p = Path::new(path);
    if !p.is_absolute() {
        return Err(Failure::params(format!("{what}: {path:?} is not an absolute path")));
    }
    std::fs::canonicalize(p).map_err(|e| Failure::plugin(format!("{what}: {path}: {e}")))
}

/// Hands `target` to the system's handler without waiting for it.
fn hand_to_system(target: &str) -> Outcome {
    let mut child = Command::new(opener())
        .arg(target)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| Failure::plugin(format!("cannot hand {target} to {}: {e}", opener())))?;
    std::thread::spawn(move || child.wait());
    Ok(Value::Null)
}
