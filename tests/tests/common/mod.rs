//! Helpers for the end-to-end tests: write a small app, pack it with the real `auroraview-pack`,
//! run the executable and talk JSON lines to it.
#![allow(dead_code)]

use serde_json::{Value, json};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// `target/<profile>/`, where `ci/test` built the binaries.
/// Python appended to an app's `main.py` (which has a module-level `view`): `api.extensions`
/// imports every extension module in `lib-dynload` and answers `{"count", "failed": {name: why}}`.
pub const EXTENSIONS_HANDLER: &str = r#"

@view.bind_call("api.extensions")
def _import_every_extension():
    import importlib
    import os
    import sys

    dynload = [p for p in sys.path if p.endswith("lib-dynload")]
    names = sorted({f.split(".")[0] for d in dynload for f in os.listdir(d) if f.endswith(".so")})
    failed = {}
    for name in names:
        try:
            importlib.import_module(name)
        except Exception as e:
            failed[name] = f"{type(e).__name__}: {e}"
    return {"count": len(names), "failed": failed}
"#;

pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_path_buf()
}

pub fn bin(name: &str) -> PathBuf {
    let p = bin_dir().join(name);
    assert!(p.is_file(), "{} is missing: build the workspace first (`cargo build --release --workspace`)", p.display());
    p
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// The packer's cache, shared by all tests so the runtime is compressed once.
pub fn pack_cache() -> PathBuf {
    bin_dir().join("e2e-pack-cache")
}

/// An app project in a temporary directory.
pub struct Project {
    pub dir: tempfile::TempDir,
}

impl Project {
    pub fn new() -> Project {
        let p = Project { dir: tempfile::tempdir().unwrap() };
        p.write("frontend/index.html", "<!doctype html><title>t</title><p>hi</p>");
        p
    }

    /// A copy of `tests/apps/<name>` whose config gets `extra` appended under `[python]`.
    pub fn copy_of(name: &str, python_extra: &str) -> Project {
        let p = Project { dir: tempfile::tempdir().unwrap() };
        let src = repo_root().join("tests/apps").join(name);
        copy_dir(&src, p.path());
        let config = fs_err::read_to_string(p.config_path()).unwrap();
        let config = if config.contains("[python]\n") {
            config.replacen("[python]\n", &format!("[python]\n{python_extra}\n"), 1)
        } else {
            format!("{config}\n[python]\n{python_extra}\n")
        };
        p.config(&config);
        p
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, rel: &str, content: &str) -> &Self {
        let p = self.dir.path().join(rel);
        fs_err::create_dir_all(p.parent().unwrap()).unwrap();
        fs_err::write(p, content).unwrap();
        self
    }

    pub fn config(&self, toml: &str) -> &Self {
        self.write("auroraview.pack.toml", toml)
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("auroraview.pack.toml")
    }

    /// Runs `auroraview-pack build`; returns its output.
    pub fn pack_output(&self, extra: &[&str]) -> Output {
        Command::new(bin("auroraview-pack"))
            .arg("build")
            .arg("--config")
            .arg(self.config_path())
            .args(extra)
            .env("AURORAVIEW_CACHE_DIR", pack_cache())
            .output()
            .unwrap()
    }

    /// Packs and returns the executable's path; fails the test with the packer's output otherwise.
    pub fn pack(&self) -> PathBuf {
        let out = self.pack_output(&[]);
        assert!(out.status.success(), "pack failed:\n{}", String::from_utf8_lossy(&out.stderr));
        let stdout = String::from_utf8(out.stdout).unwrap();
        PathBuf::from(stdout.split('\t').next().unwrap().trim())
    }
}

/// Runs `auroraview-pack build` on a config in the repository, writing to `out_dir`.
pub fn pack_repo_config(config: &str, out_dir: &Path) -> Output {
    Command::new(bin("auroraview-pack"))
        .args(["build", "--config"])
        .arg(repo_root().join(config))
        .arg("--out-dir")
        .arg(out_dir)
        .env("AURORAVIEW_CACHE_DIR", pack_cache())
        .output()
        .unwrap()
}

pub fn inspect(exe: &Path) -> Value {
    let out = Command::new(bin("auroraview-pack")).arg("inspect").arg("--json").arg(exe).output().unwrap();
    assert!(out.status.success(), "inspect failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

pub fn entry_paths(exe: &Path) -> Vec<String> {
    inspect(exe)["entries"].as_array().unwrap().iter().map(|e| e["path"].as_str().unwrap().to_string()).collect()
}

/// A running packed app in `--headless` mode with its own extraction cache.
pub struct Headless {
    pub child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    pending: HashMap<String, Value>,
    pub events: Vec<Value>,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

pub fn headless_command(exe: &Path, cache: &Path) -> Command {
    let mut c = Command::new(exe);
    c.arg("--headless")
        .env("AURORAVIEW_CACHE_DIR", cache)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

impl Headless {
    pub fn start(exe: &Path, cache: &Path) -> Headless {
        Self::spawn(headless_command(exe, cache))
    }

    pub fn spawn(mut cmd: Command) -> Headless {
        let mut child = cmd.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr_buf = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let mut stderr = child.stderr.take().unwrap();
        let buf = stderr_buf.clone();
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = std::io::Read::read_to_string(&mut stderr, &mut s);
            buf.lock().unwrap().push_str(&s);
        });
        let stdin = child.stdin.take();
        Headless { child, stdin, lines: rx, pending: HashMap::new(), events: Vec::new(), stderr: stderr_buf }
    }

    pub fn send_raw(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(line.as_bytes()).unwrap();
        stdin.write_all(b"\n").unwrap();
        stdin.flush().unwrap();
    }

    /// Writes `bytes` as they are (add the newline yourself): lines that are not UTF-8, say.
    pub fn send_bytes(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(bytes).unwrap();
        stdin.flush().unwrap();
    }

    /// The next line from stdout as it is, for lines serde_json does not parse (a lone surrogate
    /// escape).
    pub fn next_line(&mut self) -> String {
        self.lines
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("no message from the app; stderr:\n{}", self.stderr()))
    }

    pub fn send(&mut self, id: &str, method: &str, params: Value) {
        self.send_raw(&json!({"id": id, "method": method, "params": params}).to_string());
    }

    /// The next line from stdout, parsed.
    pub fn next_message(&mut self) -> Value {
        let line = self
            .lines
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("no message from the app; stderr:\n{}", self.stderr()));
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line:?}"))
    }

    /// Waits for the response with `id`, keeping others and events for later.
    pub fn response(&mut self, id: &str) -> Value {
        loop {
            if let Some(v) = self.pending.remove(id) {
                return v;
            }
            let msg = self.next_message();
            if msg.get("event").is_some() {
                self.events.push(msg);
                continue;
            }
            let got = msg["id"].as_str().map(String::from).unwrap_or_else(|| msg["id"].to_string());
            self.pending.insert(got, msg);
        }
    }

    pub fn call(&mut self, method: &str, params: Value) -> Value {
        let id = format!("c{}", rand_id());
        self.send(&id, method, params);
        self.response(&id)
    }

    pub fn close_stdin(&mut self) {
        self.stdin.take();
    }

    /// Closes stdin and waits for the exit code.
    pub fn finish(mut self) -> (i32, String) {
        self.close_stdin();
        let status = wait_timeout(&mut self.child, Duration::from_secs(60));
        std::thread::sleep(Duration::from_millis(50));
        let stderr = self.stderr();
        (status, stderr)
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }
}

fn rand_id() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

pub fn wait_timeout(child: &mut Child, limit: Duration) -> i32 {
    let start = std::time::Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s.code().unwrap_or(-1);
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("process did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Runs the exe headless with the given stdin lines; returns (exit code, stdout lines, stderr).
pub fn run_lines(exe: &Path, cache: &Path, lines: &[&str]) -> (i32, Vec<String>, String) {
    let mut child = headless_command(exe, cache).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    for l in lines {
        writeln!(stdin, "{l}").unwrap();
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).lines().map(String::from).collect();
    (out.status.code().unwrap_or(-1), stdout, String::from_utf8_lossy(&out.stderr).into_owned())
}

fn copy_dir(src: &Path, dst: &Path) {
    for entry in fs_err::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        let to = dst.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            if entry.file_name() == "__pycache__" || entry.file_name() == "dist" {
                continue;
            }
            fs_err::create_dir_all(&to).unwrap();
            copy_dir(&entry.path(), &to);
        } else {
            fs_err::copy(entry.path(), &to).unwrap();
        }
    }
}

/// Points the XDG directories of a GUI run at fresh directories below `dir`, so WebKitGTK's caches
/// and state stay out of the machine's home.
pub fn xdg_env(cmd: &mut Command, dir: &Path) {
    for var in ["XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_RUNTIME_DIR"] {
        let d = dir.join(var.to_lowercase());
        fs_err::create_dir_all(&d).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs_err::set_permissions(&d, std::fs::Permissions::from_mode(0o700)).unwrap();
        }
        cmd.env(var, d);
    }
}

/// Whether a process with this pid still exists (and is not a zombie).
pub fn alive(pid: u32) -> bool {
    match fs_err::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat.rsplit(')').next().unwrap_or("").trim_start().starts_with('Z'),
        Err(_) => false,
    }
}

/// Every Python installation of the machine, to cover with an empty tmpfs.
pub fn python_installations() -> Vec<String> {
    let mut dirs = Vec::new();
    let out = Command::new("python3").args(["-c", "import sys; print(sys.base_prefix)"]).output();
    if let Ok(out) = out {
        let prefix = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if !prefix.is_empty() {
            dirs.push(prefix);
        }
    }
    if let Some(home) = std::env::var_os("HOME") {
        let pyenv = Path::new(&home).join(".pyenv");
        if pyenv.is_dir() {
            dirs.push(pyenv.display().to_string());
        }
    }
    for base in ["/usr/lib", "/usr/local/lib", "/usr/lib64"] {
        for e in fs_err::read_dir(base).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with("python3") && e.path().is_dir() {
                dirs.push(e.path().display().to_string());
            }
        }
    }
    dirs.sort();
    dirs.dedup();
    // Covering a directory covers what is below it (and hides it from a later mount).
    let all = dirs.clone();
    dirs.retain(|d| !all.iter().any(|o| o != d && Path::new(d).starts_with(o)));
    dirs
}

/// `exe --headless` in a mount namespace where each of `hidden` is covered by an empty tmpfs.
pub fn with_hidden(hidden: &[String], exe: &Path, cache: &Path) -> Command {
    assert!(!hidden.is_empty());
    with_hidden_files(hidden, &[], exe, cache)
}

/// The machine's own files of the shared libraries `names` (`libssl.so.3`, ...), as the loader's
/// cache lists them, links resolved: what `with_hidden_files` covers.
pub fn system_library_files(names: &[&str]) -> Vec<String> {
    let listed = Command::new("ldconfig").arg("-p").output().map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
    let mut paths: Vec<PathBuf> = Vec::new();
    for line in listed.unwrap_or_default().lines() {
        // `	libssl.so.3 (libc6,x86-64) => /lib/x86_64-linux-gnu/libssl.so.3`
        let Some((name, path)) = line.trim().split_once(" => ") else { continue };
        if names.contains(&name.split(' ').next().unwrap_or("")) {
            paths.push(PathBuf::from(path.trim()));
        }
    }
    for dir in ["/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib"] {
        paths.extend(names.iter().map(|n| Path::new(dir).join(n)));
    }
    let mut files: Vec<String> =
        paths.iter().filter_map(|p| fs_err::canonicalize(p).ok()).map(|p| p.display().to_string()).collect();
    files.sort();
    files.dedup();
    files
}

/// `exe --headless` in a mount namespace where each of `dirs` is covered by an empty tmpfs and
/// each of `files` by `/dev/null` (so it reads as empty and no loader can use it).
pub fn with_hidden_files(dirs: &[String], files: &[String], exe: &Path, cache: &Path) -> Command {
    let quoted = |v: &[String]| v.iter().map(|d| format!("'{d}'")).collect::<Vec<_>>().join(" ");
    let mut script = String::from("set -e\n");
    if !files.is_empty() {
        script += &format!("for f in {}; do mount --bind /dev/null \"$f\"; done\n", quoted(files));
    }
    if !dirs.is_empty() {
        script += &format!("for d in {}; do mount -t tmpfs tmpfs \"$d\"; done\n", quoted(dirs));
    }
    script += "exec \"$0\" --headless";
    let mut cmd = Command::new("unshare");
    cmd.args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .arg(exe)
        .env("AURORAVIEW_CACHE_DIR", cache)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// The `python3` of a pyenv CPython 3.8+ of another minor version than the runtime's 3.11, the
/// newest there is.
pub fn other_minor_python() -> Option<PathBuf> {
    let versions = Path::new(&std::env::var_os("HOME")?).join(".pyenv/versions");
    let mut found: Vec<_> = fs_err::read_dir(&versions)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            let minor: u32 = name.split('.').nth(1).and_then(|m| m.parse().ok()).unwrap_or(0);
            name.starts_with("3.") && minor >= 8 && minor != 11 && p.join("bin/python3").is_file()
        })
        .collect();
    found.sort();
    found.pop().map(|p| p.join("bin/python3"))
}
