//! `sys.executable` runs this app's Python as `python` does, with every Python of the machine
//! hidden: `-c`, `-m`, a script, stdin, flags, and multiprocessing under `spawn` and `forkserver`.
//! It never opens a window.

mod common;

use common::*;
use serde_json::{Value, json};

fn check(strategy: &str) {
    let p = Project::copy_of("pycmd", &format!("strategy = \"{strategy}\""));
    let exe = p.pack();
    let cache = tempfile::tempdir().unwrap();
    let mut app = Headless::spawn(with_hidden(&python_installations(), &exe, cache.path()));
    let exec = app.call("api.executable", Value::Null);
    let exec = exec["result"].as_str().unwrap_or_else(|| panic!("{exec}\n{}", app.stderr())).to_string();
    assert!(exec.ends_with("/bin/python3"), "{strategy}: {exec}");
    let ok = |app: &mut Headless, method: &str, params: Value| -> Value {
        let r = app.call(method, params);
        assert_eq!(r["ok"], true, "{strategy} {method}: {r}\n{}", app.stderr());
        assert_eq!(r["result"]["code"], 0, "{strategy} {method}: {r}");
        r["result"]["out"].clone()
    };
    assert_eq!(ok(&mut app, "api.command", Value::Null), "49 3.11");
    assert_eq!(ok(&mut app, "api.module", Value::Null), "25");
    assert_eq!(ok(&mut app, "api.script", Value::Null), "16");
    assert_eq!(ok(&mut app, "api.stdin", Value::Null), "42");
    assert_eq!(ok(&mut app, "api.flags", Value::Null), "1 1");
    assert_eq!(app.call("api.exit", Value::Null)["result"]["code"], 3);
    for method in ["spawn", "forkserver"] {
        let r = app.call("api.pool", json!([method]));
        assert_eq!(r["result"], json!([0, 1, 4, 9, 16, 25]), "{strategy} {method}: {r}\n{}", app.stderr());
    }
    // `async def` handlers are awaited, all on one loop, and a slow one holds up no other call.
    app.send("slow", "api.async", json!([1.5]));
    let started = std::time::Instant::now();
    let fast = app.call("api.async", json!([0]));
    assert!(started.elapsed() < std::time::Duration::from_secs(1), "{strategy}: the slow coroutine blocked a call");
    let slow = app.response("slow");
    assert_eq!(slow["ok"], true, "{strategy}: {slow}");
    assert_eq!(slow["result"], fast["result"], "{strategy}: one event loop for the app");
    let (code, stderr) = app.finish();
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn sys_executable_is_python_in_standalone() {
    check("standalone");
}

#[test]
fn sys_executable_is_python_in_pyoxidizer() {
    check("pyoxidizer");
}

#[test]
fn sys_executable_is_python_in_portable() {
    check("portable");
}
