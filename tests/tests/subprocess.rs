//! The subprocess backend: the `system` strategy and `isolation = "process"`, in `--headless`.

mod common;

use common::*;
use serde_json::{Value, json};
use std::process::Command;
use std::time::{Duration, Instant};

fn isolated() -> (Project, std::path::PathBuf) {
    let p = Project::copy_of("probe", "isolation = \"process\"\nheartbeat_timeout = 1.5\nmax_restarts = 3");
    let exe = p.pack();
    (p, exe)
}

fn wait_gone(pid: u32, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if !alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn system_strategy_runs_on_the_machines_python() {
    let p = Project::copy_of("probe", "strategy = \"system\"");
    let exe = p.pack();
    let paths = entry_paths(&exe);
    assert!(!paths.iter().any(|p| p.starts_with("runtime/")), "no runtime is bundled");
    // Packed on the runtime without an embedded Python.
    let version = Command::new(&exe).arg("--version").output().unwrap();
    assert!(String::from_utf8_lossy(&version.stdout).contains("no embedded Python"), "{version:?}");
    let size = fs_err::metadata(&exe).unwrap().len();
    assert!(size < 4 << 20, "a system app is small: {size} bytes");
    assert!(paths.iter().any(|p| p.starts_with("python/site-packages/markupsafe/")));

    let cache = tempfile::tempdir().unwrap();
    let mut app = Headless::start(&exe, cache.path());
    let env = app.call("api.env", Value::Null);
    assert_eq!(env["ok"], true, "{env}\n{}", app.stderr());
    let out = Command::new("python3").args(["-c", "import sys; print(sys.prefix)"]).output().unwrap();
    let machine_prefix = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert_eq!(env["result"]["prefix"], machine_prefix.as_str(), "the machine's python3 answers");
    assert_eq!(env["result"]["setting"], "hello-env");
    assert_eq!(env["result"]["greeting"], "resource text");
    assert_eq!(app.call("api.markup", json!(["<i>"]))["result"]["escaped"], "&lt;i&gt;");
    // Stray prints go to stderr, never into the protocol.
    assert_eq!(app.call("api.print", Value::Null)["result"], "printed");
    assert_eq!(app.call("api.boom", Value::Null)["type"], "ValueError");
    let (code, stderr) = app.finish();
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("stray print from a handler") && stderr.contains("from a child process"), "{stderr}");
}

#[test]
fn system_strategy_names_what_it_searched_when_no_python_fits() {
    let p = Project::copy_of("probe", "strategy = \"system\"\ninterpreter = \"python-that-does-not-exist\"");
    let exe = p.pack();
    let cache = tempfile::tempdir().unwrap();
    let out = headless_command(&exe, cache.path()).stdin(std::process::Stdio::null()).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("python-that-does-not-exist") && stderr.contains("no Python 3.11 found"), "{stderr}");
    assert!(stderr.contains("searched"), "{stderr}");
}

#[test]
fn a_crashing_handler_fails_its_call_and_the_next_call_works() {
    let (_p, exe) = isolated();
    let cache = tempfile::tempdir().unwrap();
    let mut app = Headless::start(&exe, cache.path());
    let first = app.call("api.pid", Value::Null)["result"].as_u64().unwrap();
    assert_ne!(first, app.child.id() as u64, "Python runs in a child process");
    let crash = app.call("api.crash", json!([3]));
    assert_eq!(crash["ok"], false);
    assert!(crash["error"].as_str().unwrap().contains("backend exited with code 3"), "{crash}");
    let second = app.call("api.pid", Value::Null);
    assert_eq!(second["ok"], true, "{second}");
    assert_ne!(second["result"].as_u64().unwrap(), first, "a new child answers");
    assert!(
        app.events.iter().any(|e| e["event"] == "__auroraview_backend__" && e["data"]["status"] == "exited"),
        "{:?}",
        app.events
    );
    // The child is the packed executable itself, homed in the extracted runtime.
    let env = app.call("api.env", Value::Null);
    let executable = std::path::Path::new(env["result"]["executable"].as_str().unwrap());
    assert_eq!(fs_err::read_link(executable).unwrap(), exe, "sys.executable is the link to the executable");
    assert!(env["result"]["prefix"].as_str().unwrap().starts_with(&cache.path().display().to_string()));
    assert_eq!(app.finish().0, 0);
}

#[test]
fn a_hung_child_is_replaced_after_the_heartbeat_limit() {
    let (_p, exe) = isolated();
    let cache = tempfile::tempdir().unwrap();
    let mut app = Headless::start(&exe, cache.path());
    let first = app.call("api.pid", Value::Null)["result"].as_u64().unwrap() as u32;
    let hang = app.call("api.hang", Value::Null);
    assert_eq!(hang["ok"], false);
    assert!(hang["error"].as_str().unwrap().contains("stopped answering"), "{hang}");
    assert!(wait_gone(first, Duration::from_secs(5)), "the hung child is killed");
    let next = app.call("api.echo", json!(["alive"]));
    assert_eq!(next["result"], "alive");
    assert_eq!(app.finish().0, 0);
}

#[test]
fn slow_handler_does_not_block_an_echo_in_the_child() {
    let (_p, exe) = isolated();
    let cache = tempfile::tempdir().unwrap();
    let mut app = Headless::start(&exe, cache.path());
    app.call("api.echo", json!([0]));
    app.send("slow", "api.sleep", json!([2]));
    std::thread::sleep(Duration::from_millis(50));
    app.send("fast", "api.echo", json!(["quick"]));
    let first = app.next_message();
    assert_eq!(first["id"], "fast", "{first}");
    assert_eq!(app.next_message()["id"], "slow");
    assert_eq!(app.finish().0, 0);
}

#[test]
fn no_child_survives_the_parent() {
    let (_p, exe) = isolated();
    // Killed parent: the kernel kills the child.
    let cache = tempfile::tempdir().unwrap();
    let mut app = Headless::start(&exe, cache.path());
    let child = app.call("api.pid", Value::Null)["result"].as_u64().unwrap() as u32;
    app.child.kill().unwrap();
    app.child.wait().unwrap();
    assert!(wait_gone(child, Duration::from_secs(5)), "child {child} outlived a killed parent");

    // A child that ignores SIGTERM and is stuck in a handler when stdin closes: its calls are
    // waited for only while it answers heartbeats (hostile_input.rs); a hung one is killed, its
    // call fails, and the app still ends, and so does it.
    let mut app = Headless::start(&exe, cache.path());
    let child = app.call("api.pid", Value::Null)["result"].as_u64().unwrap() as u32;
    app.send_raw(r#"{"id":"t","method":"api.ignore_term"}"#);
    assert_eq!(app.response("t")["ok"], true);
    app.send_raw(r#"{"id":"h","method":"api.hang"}"#);
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    app.close_stdin();
    assert_eq!(app.response("h")["type"], "BackendExited");
    let (code, stderr) = app.finish();
    assert_eq!(code, 0, "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(30));
    assert!(wait_gone(child, Duration::from_secs(5)), "child {child} outlived the app");
}

#[test]
fn restarts_stop_at_the_configured_limit() {
    let p = Project::copy_of("probe", "isolation = \"process\"\nmax_restarts = 1");
    let exe = p.pack();
    let cache = tempfile::tempdir().unwrap();
    let mut app = Headless::start(&exe, cache.path());
    assert_eq!(app.call("api.crash", json!([5]))["ok"], false);
    assert_eq!(app.call("api.crash", json!([6]))["ok"], false);
    let (code, stderr) = app.finish();
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("gave up after 1 restarts"), "{stderr}");
}

/// Regression: the request writer held the lock the answer reader needed while it waited on a full
/// pipe to the child, and the child waited on its own full stdout: thousands of pipelined calls
/// hung forever.
#[test]
fn pipelined_calls_through_a_child_do_not_deadlock() {
    let (_p, exe) = isolated();
    let cache = tempfile::tempdir().unwrap();
    let mut child = headless_command(&exe, cache.path()).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        let mut buf = String::new();
        for i in 0..20_000 {
            buf.push_str(&format!("{{\"id\":{i},\"method\":\"api.echo\",\"params\":[\"{}\"]}}\n", "x".repeat(200)));
        }
        stdin.write_all(buf.as_bytes()).unwrap();
    });
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        let n = std::io::BufReader::new(stdout).lines().take(20_000).count();
        let _ = tx.send(n);
    });
    let answered = rx.recv_timeout(Duration::from_secs(120)).expect("pipelined calls hung");
    assert_eq!(answered, 20_000);
    writer.join().unwrap();
    let _ = child.kill();
    let _ = child.wait();
}

/// A child serves the client's pipes itself and keeps a journal: when it dies under load, the calls
/// it had started fail, and what it had read but not started is answered by the next child.
#[test]
fn crashes_under_pipelined_load_leave_no_call_unanswered() {
    for config in ["isolation = \"process\"\nmax_restarts = 5", "strategy = \"system\"\nmax_restarts = 5"] {
        let p = Project::copy_of("probe", config);
        let exe = p.pack();
        let cache = tempfile::tempdir().unwrap();
        let mut child = headless_command(&exe, cache.path()).spawn().unwrap();
        let mut stdin = child.stdin.take().unwrap();
        const N: usize = 6000;
        let writer = std::thread::spawn(move || {
            use std::io::Write;
            let mut buf = String::new();
            for i in 0..N {
                if i == 2000 || i == 4000 {
                    // Started, and still sleeping when the child dies: these must fail.
                    buf.push_str(&format!("{{\"id\":\"sleep{i}\",\"method\":\"api.sleep\",\"params\":[2]}}\n"));
                    buf.push_str(&format!("{{\"id\":\"crash{i}\",\"method\":\"api.crash\",\"params\":[7]}}\n"));
                }
                buf.push_str(&format!("{{\"id\":{i},\"method\":\"api.echo\",\"params\":[\"{i:0>300}\"]}}\n"));
            }
            stdin.write_all(buf.as_bytes()).unwrap();
            stdin // kept open until the answers are in
        });
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            let (mut answers, mut events) = (std::collections::HashMap::<String, Vec<Value>>::new(), 0);
            for line in std::io::BufReader::new(stdout).lines() {
                let line = line.unwrap();
                if line.is_empty() {
                    continue; // ends a line a child was writing when it died
                }
                let msg: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
                if msg.get("event").is_some() {
                    events += 1;
                    continue;
                }
                answers.entry(msg["id"].to_string()).or_default().push(msg);
                if answers.len() == N + 4 {
                    break;
                }
            }
            let _ = tx.send((answers, events));
        });
        let (answers, events) = rx.recv_timeout(Duration::from_secs(120)).expect("calls were left unanswered");
        drop(writer.join().unwrap());
        let _ = child.wait();
        for id in ["\"crash2000\"", "\"crash4000\"", "\"sleep2000\"", "\"sleep4000\""] {
            assert_eq!(answers[id][0]["type"], "BackendExited", "{config}: {:?}", answers[id]);
            assert!(answers[id][0]["error"].as_str().unwrap().contains("exited with code 7"), "{:?}", answers[id]);
        }
        assert_eq!(events, 2, "{config}: one status event per crash");
        let mut failed = 0;
        for i in 0..N {
            let first = &answers[&i.to_string()][0];
            if first["ok"] == true {
                assert_eq!(first["result"], format!("{i:0>300}"), "{config}");
            } else {
                assert_eq!(first["type"], "BackendExited", "{config}: {first}");
                failed += 1;
            }
        }
        // Only calls a dying child had started fail: at most one per worker and crash.
        assert!(failed <= 2 * 64, "{config}: {failed} calls failed");
    }
}

/// An app for the machine's Python that says what it can import.
fn site_probe(extra: &str) -> (Project, std::path::PathBuf) {
    let p = Project::new();
    p.write(
        "main.py",
        "import importlib.util, sys\nfrom auroraview import WebView\n\ndef run():\n    v = WebView()\n    v.bind_call('api.can_import', lambda name: importlib.util.find_spec(name) is not None)\n    v.bind_call('api.version', lambda: '%d.%d' % sys.version_info[:2])\n    v.show()\n",
    );
    p.config(&format!("[app]\nname = \"site-probe\"\n[python]\nstrategy = \"system\"\n{extra}\n"));
    let exe = p.pack();
    (p, exe)
}

#[test]
fn system_sees_only_what_it_packed_unless_the_config_opts_in() {
    // ci/setup installs pytest into the machine's Python 3.11, the one `system` apps run on here.
    let out = Command::new("python3.11").args(["-c", "import pytest"]).output().unwrap();
    assert!(out.status.success(), "the machine's python3.11 needs pytest for this test");
    let cache = tempfile::tempdir().unwrap();
    let (_p, exe) = site_probe("");
    let mut app = Headless::start(&exe, cache.path());
    assert_eq!(app.call("api.version", Value::Null)["result"], "3.11");
    assert_eq!(app.call("api.can_import", json!(["auroraview"]))["result"], true);
    assert_eq!(app.call("api.can_import", json!(["json"]))["result"], true);
    let pytest = app.call("api.can_import", json!(["pytest"]));
    assert_eq!(pytest["result"], false, "the machine's site-packages are hidden: {pytest}\n{}", app.stderr());
    assert_eq!(app.finish().0, 0);

    let (_p, exe) = site_probe("system_site_packages = true");
    let mut app = Headless::start(&exe, cache.path());
    assert_eq!(app.call("api.can_import", json!(["pytest"]))["result"], true);
    assert_eq!(app.finish().0, 0);
}

#[test]
fn system_refuses_a_python_of_another_minor_version() {
    let Some(other) = other_minor_python() else {
        panic!("this test needs a CPython 3.8+ of a minor version other than 3.11 under ~/.pyenv/versions");
    };
    let (_p, exe) = site_probe(&format!("interpreter = \"{}\"", other.display()));
    let cache = tempfile::tempdir().unwrap();
    let out = headless_command(&exe, cache.path()).stdin(std::process::Stdio::null()).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no Python 3.11 found") && stderr.contains(&other.display().to_string()), "{stderr}");
}
