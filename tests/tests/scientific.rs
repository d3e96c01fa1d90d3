//! numpy and pandas packed with each strategy that bundles a runtime, run with every Python of the
//! machine and the machine's copies of the bundled shared libraries hidden: `numpy.linalg.inv` of
//! a 200×200 matrix and a pandas computation right after it (which crashed on a 2 MiB thread stack
//! before the runtime gave the Python thread 8 MiB), a `ProcessPoolExecutor` under `spawn`, and a
//! child started with `subprocess.run([sys.executable, "-c", ...])`.
//!
//! The first run downloads (or takes from the installer's cache) numpy and pandas and compresses
//! them; the pack cache under target/ makes later runs pack in seconds.

mod common;

use common::*;
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Mutex;

/// One pack at a time, so the second strategy reuses what the first put in the pack cache
/// (`standalone` and `portable` share their frames) instead of compressing it at the same time.
static PACKING: Mutex<()> = Mutex::new(());

/// The names of the shared libraries the app carries (`runtime/lib/`, numpy's `numpy.libs/`): the
/// machine's copies of these are hidden.
fn carried_libraries(paths: &[String]) -> Vec<String> {
    let mut names: Vec<String> = paths
        .iter()
        .filter(|p| p.starts_with("runtime/lib/") || p.starts_with("python/site-packages/numpy.libs/"))
        .filter_map(|p| p.rsplit('/').next())
        .filter(|n| n.contains(".so"))
        .map(String::from)
        .collect();
    names.sort();
    names.dedup();
    names
}

fn check(strategy: &str) {
    let p = Project::copy_of("scientific", &format!("strategy = \"{strategy}\""));
    let (exe, paths) = {
        let _one = PACKING.lock().unwrap_or_else(|e| e.into_inner());
        let started = std::time::Instant::now();
        let exe = p.pack();
        eprintln!("{strategy}: packed in {:.1} s", started.elapsed().as_secs_f64());
        let paths = if strategy == "portable" { tree_files(exe.parent().unwrap()) } else { entry_paths(&exe) };
        (exe, paths)
    };
    assert!(
        paths.iter().any(|p| p.starts_with("python/site-packages/numpy.libs/libscipy_openblas")),
        "{strategy}: numpy's OpenBLAS is packed"
    );
    let names = carried_libraries(&paths);
    let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let hidden_files = system_library_files(&name_refs);
    let cache = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let mut app = Headless::spawn(with_hidden_files(&python_installations(), &hidden_files, &exe, cache.path()));
    let echo = app.call("__echo__", json!([0]));
    assert_eq!(echo["result"], json!([0]), "{strategy}: {echo}\n{}", app.stderr());
    eprintln!("{strategy}: first run answered in {:.2} s", started.elapsed().as_secs_f64());

    let inverse = app.call("api.inverse", json!({"n": 200}));
    assert_eq!(inverse["ok"], true, "{strategy}: {inverse}\n{}", app.stderr());
    assert_eq!(inverse["result"]["n"], 200, "{strategy}: {inverse}");
    assert!(inverse["result"]["residual"].as_f64().unwrap() < 1e-9, "{strategy}: {inverse}");
    // pandas right after the inverse, on the same interpreter.
    let frame = app.call("api.frame", Value::Null);
    assert_eq!(frame["ok"], true, "{strategy}: {frame}\n{}", app.stderr());
    assert_eq!(frame["result"]["pandas"], "3.1.1", "{strategy}: {frame}");
    assert_eq!(frame["result"]["numpy"], "2.4.6", "{strategy}: {frame}");
    assert_eq!(frame["result"]["count"], json!([250, 250, 250, 250]), "{strategy}: {frame}");
    assert_eq!(frame["result"]["mean"], json!([498.0, 499.0, 500.0, 501.0]), "{strategy}: {frame}");
    assert_eq!(frame["result"]["sum"], json!([124500.0, 124750.0, 125000.0, 125250.0]), "{strategy}: {frame}");

    let pool = app.call("api.pool", Value::Null);
    assert_eq!(pool["result"], json!([285.0, 328350.0, 332833500.0]), "{strategy}: {pool}\n{}", app.stderr());
    let child = app.call("api.child", Value::Null);
    assert_eq!(child["ok"], true, "{strategy}: {child}\n{}", app.stderr());
    assert_eq!(child["result"]["code"], 0, "{strategy}: {child}");
    assert_eq!(child["result"]["out"], "1.5 6", "{strategy}: {child}");
    let mean = app.call("api.mean_later", json!([[1, 2, 3, 6]]));
    assert_eq!(mean["result"], 3.0, "{strategy}: an async def handler is awaited: {mean}");

    let (code, stderr) = app.finish();
    assert_eq!(code, 0, "{strategy}: {stderr}");
}

/// Every file below a portable app's directory, relative to it.
fn tree_files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs_err::read_dir(&d).unwrap().flatten() {
            let path = e.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path.strip_prefix(dir).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    out
}

#[test]
fn numpy_and_pandas_in_standalone() {
    check("standalone");
}

#[test]
fn numpy_and_pandas_in_pyoxidizer() {
    check("pyoxidizer");
}

#[test]
fn numpy_and_pandas_in_portable() {
    check("portable");
}
