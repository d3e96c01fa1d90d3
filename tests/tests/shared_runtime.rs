//! The shared runtime: a `standalone` app's stdlib, extension modules and bundled libraries are
//! extracted once into `python-standalone/` and shared by every app built on the same runtime, so
//! a second app's first run writes only its own files; removing one app's cache breaks no other.

mod common;

use common::*;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

const MAIN: &str = r#"
from auroraview import WebView

view = WebView()


@view.bind_call("api.work")
def work():
    import sqlite3
    import ssl
    import sys

    db = sqlite3.connect(":memory:")
    (n,) = db.execute("select 6 * 7").fetchone()
    return {"n": n, "ssl": ssl.OPENSSL_VERSION.split()[0], "prefix": sys.prefix}


def run():
    view.show()
"#;

fn app(name: &str, strategy: &str) -> (Project, PathBuf) {
    let p = Project::new();
    p.write("main.py", MAIN);
    p.config(&format!(
        "[app]\nname = \"{name}\"\n\n[python]\nentry_point = \"main:run\"\ninclude_paths = [\"main.py\"]\nstrategy = \"{strategy}\"\n"
    ));
    let exe = p.pack();
    (p, exe)
}

fn files_below(dir: &Path) -> usize {
    walkdir(dir).into_iter().filter(|p| p.is_file() && !p.is_symlink()).count()
}

/// Every path below `dir`, not following links.
fn walkdir(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs_err::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if e.file_type().unwrap().is_dir() {
                stack.push(p.clone());
            }
            out.push(p);
        }
    }
    out
}

fn shared_runtimes(cache: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = fs_err::read_dir(cache.join("python-standalone"))
        .map(|r| r.flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect())
        .unwrap_or_default();
    dirs.sort();
    dirs
}

fn call_work(exe: &Path, cache: &Path) -> Value {
    let mut a = Headless::start(exe, cache);
    let r = a.call("api.work", Value::Null);
    assert_eq!(r["ok"], true, "{r}\n{}", a.stderr());
    let (code, stderr) = a.finish();
    assert_eq!(code, 0, "{stderr}");
    r["result"].clone()
}

fn tree(cache: &Path, app: &str) -> PathBuf {
    fs_err::read_dir(cache.join("python").join(app))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.is_dir() && !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .expect("the app was extracted")
}

#[test]
fn two_apps_share_one_runtime_and_removing_either_cache_breaks_neither() {
    let (_a, exe_a) = app("shared-a", "standalone");
    let (_b, exe_b) = app("shared-b", "standalone");
    let cache = tempfile::tempdir().unwrap();
    let cache = cache.path();

    let first = call_work(&exe_a, cache);
    assert_eq!(first["n"], 42, "{first}");
    let runtimes = shared_runtimes(cache);
    assert_eq!(runtimes.len(), 1, "{runtimes:?}");
    let shared = &runtimes[0];
    assert!(files_below(shared) > 50, "the stdlib's extension modules and bundled libraries are shared");
    assert!(shared.join(".auroraview-complete").is_file());
    // Python's prefix is the shared runtime, reached through the app's `runtime` link.
    assert_eq!(fs_err::canonicalize(first["prefix"].as_str().unwrap()).unwrap(), fs_err::canonicalize(shared).unwrap());

    // The second app writes only its own files.
    let second = call_work(&exe_b, cache);
    assert_eq!(second["n"], 42, "{second}");
    assert_eq!(shared_runtimes(cache), runtimes, "one runtime for both apps");
    let tree_b = tree(cache, "shared-b");
    let own = files_below(&tree_b);
    assert!(own < 40, "the second app's first run wrote {own} files");
    assert_eq!(fs_err::canonicalize(tree_b.join("runtime")).unwrap(), fs_err::canonicalize(shared).unwrap());

    // Removing one app's cache leaves the other working, from the same runtime.
    fs_err::remove_dir_all(cache.join("python/shared-a")).unwrap();
    assert_eq!(call_work(&exe_b, cache)["n"], 42);
    assert!(shared.join(".auroraview-complete").is_file(), "an app's cache held none of the runtime");

    // Removing the shared runtime: the next app to start extracts it again, leaving its own tree
    // (which another of its processes may be using) as it is.
    use std::os::unix::fs::MetadataExt;
    let marker_b = || fs_err::metadata(tree_b.join(".auroraview-complete")).unwrap().ino();
    let before = marker_b();
    fs_err::remove_dir_all(cache.join("python-standalone")).unwrap();
    assert_eq!(call_work(&exe_b, cache)["n"], 42);
    assert_eq!(shared_runtimes(cache), runtimes);
    assert_eq!(marker_b(), before, "the app's tree was not extracted again");
    assert!(!walkdir(&cache.join("python/shared-b")).iter().any(|p| p.to_string_lossy().contains(".tmp-")));
    assert_eq!(call_work(&exe_a, cache)["n"], 42);
}

#[test]
fn a_shared_runtime_others_may_write_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let (_a, exe) = app("shared-trust", "standalone");
    let cache = tempfile::tempdir().unwrap();
    call_work(&exe, cache.path());
    let shared = shared_runtimes(cache.path()).remove(0);
    fs_err::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
    let (code, _, stderr) = run_lines(&exe, cache.path(), &[&json!({"id": 1, "method": "api.work"}).to_string()]);
    assert_ne!(code, 0, "{stderr}");
    assert!(stderr.contains("will not run it") && stderr.contains("python-standalone"), "{stderr}");
}

#[test]
fn other_strategies_keep_their_runtime_in_their_tree() {
    let (_p, exe) = app("own-runtime", "pyoxidizer");
    let cache = tempfile::tempdir().unwrap();
    assert_eq!(call_work(&exe, cache.path())["n"], 42);
    assert!(shared_runtimes(cache.path()).is_empty());
    let runtime = tree(cache.path(), "own-runtime").join("runtime");
    assert!(runtime.is_dir() && !runtime.is_symlink());
}

#[test]
fn making_a_runtime_removes_those_unused_for_a_month() {
    let (_p, exe) = app("shared-gc", "standalone");
    let cache = tempfile::tempdir().unwrap();
    let base = cache.path().join("python-standalone");
    let plant = |name: &str, days_ago: u64| {
        fs_err::create_dir_all(base.join(name).join("lib")).unwrap();
        fs_err::write(base.join(name).join(".auroraview-complete"), "").unwrap();
        let lock = fs_err::File::create(base.join(format!("{name}.lock"))).unwrap();
        let when = std::time::SystemTime::now() - std::time::Duration::from_secs(days_ago * 24 * 3600);
        lock.file().set_modified(when).unwrap();
    };
    fs_err::create_dir_all(&base).unwrap();
    for dir in [cache.path(), base.as_path()] {
        fs_err::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    }
    plant("3.10.1-linux-x86_64-v1-00000000000000aa", 40);
    plant("3.10.2-linux-x86_64-v1-00000000000000bb", 3);
    assert_eq!(call_work(&exe, cache.path())["n"], 42);
    let names: Vec<String> =
        shared_runtimes(cache.path()).iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(!names.iter().any(|n| n.ends_with("aa")), "a runtime unused for 40 days is removed: {names:?}");
    assert!(names.iter().any(|n| n.ends_with("bb")), "one used 3 days ago stays: {names:?}");
    assert!(!base.join("3.10.1-linux-x86_64-v1-00000000000000aa.lock").exists());
}
