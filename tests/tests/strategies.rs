//! The `portable` and `embedded` strategies on the probe app.

mod common;

use common::*;
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;

fn assert_probe_works(app: &mut Headless, prefix_under: &Path) {
    let env = app.call("api.env", Value::Null);
    assert_eq!(env["ok"], true, "{env}\n{}", app.stderr());
    let prefix = env["result"]["prefix"].as_str().unwrap();
    assert!(Path::new(prefix).starts_with(prefix_under), "sys.prefix {prefix} is not under {}", prefix_under.display());
    assert_eq!(env["result"]["greeting"], "resource text");
    assert_eq!(env["result"]["helper"], "helper module");
    let imports = app.call("api.imports", Value::Null);
    for m in ["json", "sqlite3", "ssl", "ctypes", "decimal", "zlib"] {
        assert!(imports["result"][m].is_string(), "{m} did not import: {imports}");
    }
    assert_eq!(app.call("api.markup", json!(["<b>"]))["result"]["escaped"], "&lt;b&gt;");
    let data = app.call("api.data", Value::Null);
    let expected = json!({"file": "data file text", "resources": "data file text", "loader": "data file text", "spec": "probe_data"});
    assert_eq!(data["result"], expected, "a package reads its own data: {data}");
}

fn copy_tree(src: &Path, dst: &Path) {
    let status = Command::new("cp").arg("-a").arg(src).arg(dst).status().unwrap();
    assert!(status.success());
}

#[test]
fn portable_runs_in_place_from_an_awkward_path_with_python_hidden() {
    let p = Project::copy_of("probe", "strategy = \"portable\"");
    let exe = p.pack();
    let dir = exe.parent().unwrap();
    assert!(dir.join("runtime/lib/python311.zip").is_file(), "the runtime sits beside the executable");
    assert!(dir.join("python/main.py").is_file() && dir.join("frontend/index.html").is_file());

    let elsewhere = tempfile::tempdir().unwrap();
    let target = elsewhere.path().join("My Äpp 試し");
    fs_err::create_dir_all(&target).unwrap();
    copy_tree(dir, &target);
    let moved = target.join("probe/probe");
    let cache = tempfile::tempdir().unwrap();
    let mut app = Headless::spawn(with_hidden(&python_installations(), &moved, cache.path()));
    assert_probe_works(&mut app, &target.join("probe"));
    assert_eq!(app.finish().0, 0);
    assert!(fs_err::read_dir(cache.path()).unwrap().next().is_none(), "nothing is extracted");
}

fn machine_prefix_of(version: &str) -> String {
    let out = Command::new("python3")
        .args(["-c", "import sys; print(sys.base_prefix, '%d.%d' % sys.version_info[:2])"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let (prefix, v) = text.trim().rsplit_once(' ').unwrap();
    assert_eq!(v, version, "the tests expect python3 to be Python {version}");
    prefix.to_string()
}

#[test]
fn embedded_uses_the_machines_stdlib_of_the_same_version() {
    let p = Project::copy_of("probe", "strategy = \"embedded\"");
    let exe = p.pack();
    let paths = entry_paths(&exe);
    assert!(!paths.iter().any(|e| e.starts_with("runtime/")), "no runtime is bundled");
    let prefix = machine_prefix_of("3.11");
    let cache = tempfile::tempdir().unwrap();
    let mut app = Headless::start(&exe, cache.path());
    assert_probe_works(&mut app, Path::new(&prefix));
    let env = app.call("api.env", Value::Null);
    // Python runs inside the executable: sys.executable is the link that starts it as `python`.
    let executable = Path::new(env["result"]["executable"].as_str().unwrap());
    assert!(executable.ends_with("bin/python3"), "{executable:?}");
    assert_eq!(fs_err::read_link(executable).unwrap(), exe, "{executable:?}");
    assert_eq!(app.finish().0, 0);
}

/// Every Python 3.11 installation (pyenv's, the distribution's), to hide.
fn python311_installations() -> Vec<String> {
    let mut v: Vec<String> = vec![machine_prefix_of("3.11")];
    for d in ["/usr/lib/python3.11", "/usr/local/lib/python3.11"] {
        if Path::new(d).is_dir() {
            v.push(d.to_string());
        }
    }
    v
}

#[test]
fn embedded_without_a_matching_python_says_what_it_searched() {
    let p = Project::copy_of("probe", "strategy = \"embedded\"");
    let exe = p.pack();
    let cache = tempfile::tempdir().unwrap();
    let mut cmd = with_hidden(&python311_installations(), &exe, cache.path());
    cmd.stdin(std::process::Stdio::null());
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no usable Python 3.11 standard library") && stderr.contains("searched"), "{stderr}");
    assert!(stderr.contains("hint:"), "{stderr}");
}

#[test]
fn embedded_falls_back_to_a_child_process_when_allowed() {
    let Some(other) = other_minor_python().map(|p| p.parent().unwrap().to_path_buf()) else {
        panic!("this test needs a second CPython 3.8+ of another minor version under ~/.pyenv/versions");
    };
    let p = Project::copy_of("probe", "strategy = \"embedded\"\nembedded_fallback = true");
    let exe = p.pack();
    let cache = tempfile::tempdir().unwrap();
    let mut cmd = with_hidden(&python311_installations(), &exe, cache.path());
    let path = format!("{}:{}", other.display(), std::env::var("PATH").unwrap_or_default());
    cmd.env("PATH", path);
    let mut app = Headless::spawn(cmd);
    let env = app.call("api.env", Value::Null);
    assert_eq!(env["ok"], true, "{env}\n{}", app.stderr());
    let prefix = env["result"]["prefix"].as_str().unwrap();
    assert!(Path::new(prefix).starts_with(other.parent().unwrap()), "{prefix}");
    let (code, stderr) = app.finish();
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("falling back to python3 in a child process"), "{stderr}");
}

fn pyoxidizer_session(python_extra: &str) {
    let p = Project::copy_of("probe", &format!("strategy = \"pyoxidizer\"\n{python_extra}"));
    let exe = p.pack();
    let cache = tempfile::tempdir().unwrap();
    let mut app = Headless::spawn(with_hidden(&python_installations(), &exe, cache.path()));
    assert_probe_works(&mut app, cache.path());
    // Tracebacks name the module's real place and show its source, from memory.
    let boom = app.call("api.boom", Value::Null);
    let tb = boom["traceback"].as_str().unwrap();
    assert!(
        tb.contains(&format!("{}", cache.path().display())) && tb.contains("raise ValueError(\"boom happened\")"),
        "{tb}"
    );
    assert_eq!(app.finish().0, 0);

    // Pure-Python modules were not written to the cache; extension modules and data were.
    let tree = fs_err::read_dir(cache.path().join("python/probe"))
        .unwrap()
        .flatten()
        .find(|e| e.path().is_dir())
        .unwrap()
        .path();
    assert!(!tree.join("runtime/lib/python3.11/json/__init__.py").exists());
    assert!(!tree.join("python/main.py").exists() && !tree.join("python/site-packages/auroraview/webview.py").exists());
    assert!(tree.join("runtime/lib/python3.11/lib-dynload").is_dir());
    assert!(tree.join("python/probe_data/data.txt").is_file());
    let files = walk_count(&tree);
    assert!(files < 300, "{files} files written");
}

fn walk_count(dir: &Path) -> usize {
    fs_err::read_dir(dir).unwrap().flatten().map(|e| if e.path().is_dir() { walk_count(&e.path()) } else { 1 }).sum()
}

#[test]
fn pyoxidizer_imports_from_memory_with_python_hidden() {
    pyoxidizer_session("");
}

#[test]
fn pyoxidizer_works_without_the_filesystem_importer() {
    pyoxidizer_session("filesystem_importer = false");
}
