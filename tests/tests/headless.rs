//! A packed app in `--headless` mode: start-up, extraction cache, and the JSON-RPC it answers.

mod common;

use common::*;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

/// The probe app, packed once for every test in this file.
fn probe() -> &'static Path {
    static EXE: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &EXE.get_or_init(|| {
        let out = tempfile::tempdir().unwrap();
        let o = pack_repo_config("tests/apps/probe/auroraview.pack.toml", out.path());
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let exe = out.path().join("probe");
        (out, exe)
    })
    .1
}

fn short_hash(exe: &Path) -> String {
    let hash = inspect(exe)["manifest"]["content_hash"].as_str().unwrap().to_string();
    hash.trim_start_matches("blake3:")[..16].to_string()
}

fn completed_versions(cache: &Path, app: &str) -> Vec<String> {
    let dir = cache.join("python").join(app);
    fs_err::read_dir(&dir)
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.path().join(".auroraview-complete").is_file())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn runs_with_every_python_of_the_machine_hidden() {
    let exe = probe();
    let cache = tempfile::tempdir().unwrap();
    let mut app = Headless::spawn(with_hidden(&python_installations(), exe, cache.path()));

    let env = app.call("api.env", Value::Null);
    assert_eq!(env["ok"], true, "{env}\n{}", app.stderr());
    let r = &env["result"];
    assert_eq!(r["pyenv_visible"], false, "the machine's Pythons must be hidden");
    let prefix = r["prefix"].as_str().unwrap();
    assert!(prefix.starts_with(&cache.path().display().to_string()), "sys.prefix {prefix} not in the cache");
    assert_eq!(r["setting"], "hello-env");
    assert_eq!(r["packed"], "1");
    assert_eq!(r["greeting"], "resource text", "hooks.collect resource read through an [env] path");
    assert_eq!(r["helper"], "helper module");
    assert!(r["resources_dir"].as_str().unwrap().ends_with("/resources"));
    assert!(!r["python_path"].as_str().unwrap().is_empty());
    let path: Vec<&str> = r["path"].as_array().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
    assert!(path.iter().all(|p| p.starts_with(&cache.path().display().to_string())), "{path:?}");

    let imports = app.call("api.imports", Value::Null);
    assert_eq!(imports["ok"], true, "{imports}");
    for m in ["json", "sqlite3", "ssl", "ctypes", "decimal", "zlib"] {
        assert!(imports["result"][m].is_string(), "{m} did not import");
    }
    // Pure-Python stdlib modules come from the runtime's module table (their `__file__` is where
    // the source would be, and is no file), extension modules from files.
    let json_file = imports["result"]["json"].as_str().unwrap();
    assert!(json_file.ends_with("/runtime/lib/python3.11/json/__init__.py"), "{json_file}");
    let ssl_file = imports["result"]["ssl"].as_str().unwrap();
    assert!(ssl_file.ends_with("/runtime/lib/python3.11/ssl.py"), "{ssl_file}");
    assert!(!std::path::Path::new(json_file).exists() && !std::path::Path::new(ssl_file).exists());
    let markup = app.call("api.markup", json!(["<b>"]));
    assert_eq!(markup["result"]["escaped"], "&lt;b&gt;", "{markup}");
    assert!(markup["result"]["speedups"].as_str().unwrap().ends_with("cpython-311-x86_64-linux-gnu.so"));
    let (code, stderr) = app.finish();
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn errors_unknown_methods_and_malformed_lines_get_answers() {
    let cache = tempfile::tempdir().unwrap();
    let mut app = Headless::start(probe(), cache.path());
    let boom = app.call("api.boom", Value::Null);
    assert_eq!(boom["ok"], false);
    assert_eq!(boom["error"], "boom happened");
    assert_eq!(boom["type"], "ValueError");
    let tb = boom["traceback"].as_str().unwrap();
    assert!(tb.contains(", in boom"), "the handler's frame: {tb}");
    assert!(tb.contains("raise ValueError(\"boom happened\")"), "the app's own source line: {tb}");
    let unknown = app.call("api.nope", Value::Null);
    assert_eq!(unknown["ok"], false);
    assert_eq!(unknown["type"], "MethodNotFound");
    app.send_raw("this is not json");
    let malformed = app.response("null");
    assert_eq!(malformed["ok"], false);
    assert_eq!(malformed["type"], "ParseError");
    app.send_raw("[1,2,3]");
    assert_eq!(app.response("null")["type"], "ParseError");
    // Still alive.
    assert_eq!(app.call("api.echo", json!([7]))["result"], 7);
    let (code, _) = app.finish();
    assert_eq!(code, 0);
}

#[test]
fn stray_prints_do_not_corrupt_the_protocol() {
    let cache = tempfile::tempdir().unwrap();
    let mut app = Headless::start(probe(), cache.path());
    // `next_message` fails the test on any stdout line that is not JSON.
    assert_eq!(app.call("api.print", Value::Null)["result"], "printed");
    assert_eq!(app.call("api.echo", json!(["after"]))["result"], "after");
    let (code, stderr) = app.finish();
    assert_eq!(code, 0);
    for text in ["stray print from a handler", "stray write", "raw write to fd 1", "from a child process"] {
        assert!(stderr.contains(text), "{text:?} should go to stderr:\n{stderr}");
    }
}

#[test]
fn five_megabyte_result_arrives_whole() {
    let cache = tempfile::tempdir().unwrap();
    let mut app = Headless::start(probe(), cache.path());
    let r = app.call("api.big", json!([5_000_000]));
    assert_eq!(r["result"].as_str().unwrap().len(), 5_000_000);
    assert_eq!(app.call("api.echo", json!([1]))["result"], 1);
    assert_eq!(app.finish().0, 0);
}

#[test]
fn slow_handler_does_not_delay_an_echo() {
    let cache = tempfile::tempdir().unwrap();
    let mut app = Headless::start(probe(), cache.path());
    app.call("api.echo", json!([0])); // started
    app.send("slow", "api.sleep", json!([2]));
    std::thread::sleep(Duration::from_millis(50));
    app.send("fast", "api.echo", json!(["quick"]));
    let first = app.next_message();
    assert_eq!(first["id"], "fast", "the echo must not wait for the slow call: {first}");
    let second = app.next_message();
    assert_eq!(second["id"], "slow");
    assert_eq!(app.finish().0, 0);
}

#[test]
fn eof_waits_for_calls_in_flight_then_exits_zero() {
    let cache = tempfile::tempdir().unwrap();
    let (code, lines, stderr) = run_lines(
        probe(),
        cache.path(),
        &[r#"{"id":"a","method":"api.sleep","params":[0.5]}"#, r#"{"id":"b","method":"api.echo","params":[2]}"#],
    );
    assert_eq!(code, 0, "{stderr}");
    let ids: Vec<Value> = lines.iter().map(|l| serde_json::from_str::<Value>(l).unwrap()["id"].clone()).collect();
    assert_eq!(ids, [json!("b"), json!("a")]);
}

#[test]
fn events_flow_both_ways() {
    let cache = tempfile::tempdir().unwrap();
    let mut app = Headless::start(probe(), cache.path());
    assert_eq!(app.call("api.emit", json!(["tick"]))["result"], "emitted");
    app.send_raw(r#"{"event":"ping","data":{"n":5}}"#);
    assert_eq!(app.call("api.echo", json!([0]))["result"], 0);
    // The pong may come after the echo's answer.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while app.events.len() < 2 && std::time::Instant::now() < deadline {
        let m = app.next_message();
        if m.get("event").is_some() {
            app.events.push(m);
        }
    }
    let events = app.events.clone();
    assert!(events.contains(&json!({"event": "tick", "data": {"from": "python"}})), "{events:?}");
    assert!(events.contains(&json!({"event": "pong", "data": {"n": 5}})), "{events:?}");
    assert_eq!(app.finish().0, 0);
}

#[test]
fn system_exit_code_passes_through() {
    let cache = tempfile::tempdir().unwrap();
    let out = headless_command(probe(), cache.path())
        .env("PROBE_EXIT", "3")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn racing_first_launches_all_succeed() {
    let cache = tempfile::tempdir().unwrap();
    let children: Vec<_> = (0..4)
        .map(|i| {
            let exe = probe().to_path_buf();
            let cache = cache.path().to_path_buf();
            std::thread::spawn(move || {
                let line = format!(r#"{{"id":"r","method":"api.echo","params":[{i}]}}"#);
                run_lines(&exe, &cache, &[&line])
            })
        })
        .collect();
    for (i, c) in children.into_iter().enumerate() {
        let (code, lines, stderr) = c.join().unwrap();
        assert_eq!(code, 0, "{stderr}");
        assert_eq!(serde_json::from_str::<Value>(&lines[0]).unwrap()["result"], i);
    }
    assert_eq!(completed_versions(cache.path(), "probe"), [short_hash(probe())]);
}

#[test]
fn killed_first_launch_is_recovered() {
    let exe = probe();
    let hash = short_hash(exe);
    // A real kill at some point of the first launch...
    for delay_ms in [5, 30, 80] {
        let cache = tempfile::tempdir().unwrap();
        let mut child = headless_command(exe, cache.path()).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        child.kill().unwrap();
        child.wait().unwrap();
        let (code, lines, stderr) = run_lines(exe, cache.path(), &[r#"{"id":1,"method":"api.echo","params":[1]}"#]);
        assert_eq!(code, 0, "after a kill at {delay_ms} ms: {stderr}");
        assert_eq!(lines.len(), 1);
    }
    // ...and the states a kill can leave, made on purpose: a temporary tree, and a renamed tree
    // without its completion marker.
    let cache = tempfile::tempdir().unwrap();
    let app_dir = cache.path().join("python/probe");
    fs_err::create_dir_all(app_dir.join(format!(".tmp-{hash}-999999/python"))).unwrap();
    fs_err::create_dir_all(app_dir.join(&hash).join("python")).unwrap();
    fs_err::write(app_dir.join(&hash).join("python/main.py"), "raise SystemExit(99)\n").unwrap();
    let (code, lines, stderr) = run_lines(exe, cache.path(), &[r#"{"id":1,"method":"api.echo","params":[1]}"#]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(lines.len(), 1);
    assert!(!app_dir.join(format!(".tmp-{hash}-999999")).exists());
}

fn damaged_copy(dir: &Path, f: impl FnOnce(&mut Vec<u8>)) -> PathBuf {
    let mut bytes = fs_err::read(probe()).unwrap();
    f(&mut bytes);
    let p = dir.join("probe");
    fs_err::write(&p, bytes).unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs_err::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

#[test]
fn corrupted_or_truncated_files_fail_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let stub_len = inspect(probe())["stub_size"].as_u64().unwrap() as usize;
    let len = fs_err::metadata(probe()).unwrap().len() as usize;
    type Damage = Box<dyn FnOnce(&mut Vec<u8>)>;
    let cases: Vec<(&str, Damage, &str)> = vec![
        ("flipped payload byte", Box::new(move |b: &mut Vec<u8>| b[len - 2000] ^= 0x5a), "overlay"),
        // Cut inside the overlay: a truncated executable part does not even load.
        (
            "truncated",
            Box::new(move |b: &mut Vec<u8>| b.truncate(stub_len + (len - stub_len) / 2)),
            "no AuroraView overlay",
        ),
        ("cut trailer", Box::new(|b: &mut Vec<u8>| b.truncate(b.len() - 7)), "no AuroraView overlay"),
        ("bad header", Box::new(move |b: &mut Vec<u8>| b[stub_len] = b'X'), "bad header magic"),
    ];
    for (what, damage, expect) in cases {
        let sub = dir.path().join(what.replace(' ', "-"));
        fs_err::create_dir_all(&sub).unwrap();
        let exe = damaged_copy(&sub, damage);
        let cache = sub.join("cache");
        let out = headless_command(&exe, &cache).stdin(std::process::Stdio::null()).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{what}: {stderr}");
        assert!(stderr.contains(expect) && stderr.contains(&exe.display().to_string()), "{what}: {stderr}");
        assert!(!stderr.contains("panicked"), "{what}: {stderr}");
        assert!(completed_versions(&cache, "probe").is_empty(), "{what}: a completed cache entry was left");
        let leftovers: Vec<_> = fs_err::read_dir(cache.join("python/probe"))
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_type().unwrap().is_dir())
            .collect();
        assert!(leftovers.is_empty(), "{what}: left {leftovers:?}");
    }
}

#[test]
fn old_versions_are_cleaned_up_and_warm_start_reuses_the_tree() {
    let project = Project::new();
    let build = |n: u32| {
        project.write("main.py", &format!("from auroraview import WebView\n\ndef run():\n    v = WebView()\n    v.bind_call('api.v', lambda: {n})\n    v.show()\n"));
        project.config("[app]\nname = \"versions\"\n");
        project.pack()
    };
    let v1 = build(1);
    let cache = tempfile::tempdir().unwrap();
    let call = r#"{"id":1,"method":"api.v"}"#;
    let answer = |exe: &Path| {
        let (code, lines, stderr) = run_lines(exe, cache.path(), &[call]);
        assert_eq!(code, 0, "{stderr}");
        lines[0].clone()
    };
    assert!(answer(&v1).contains("\"result\":1"));
    let first = completed_versions(cache.path(), "versions");
    assert_eq!(first.len(), 1);
    // A warm start does not extract again: a file removed from the tree stays removed.
    let marker_file = cache.path().join("python/versions").join(&first[0]).join("frontend/index.html");
    fs_err::remove_file(&marker_file).unwrap();
    answer(&v1);
    assert!(!marker_file.exists());

    // Two builds used in turn keep each other's trees: neither is extracted again.
    let v2 = build(2);
    assert!(answer(&v2).contains("\"result\":2"));
    assert_eq!(completed_versions(cache.path(), "versions").len(), 2);
    answer(&v1);
    assert!(!marker_file.exists(), "v1 was not extracted again after v2 ran");
    answer(&v2);

    // A third build: the least recently used of the others (v1) goes, v2 stays.
    std::thread::sleep(std::time::Duration::from_millis(20));
    answer(&v2);
    let v3 = build(3);
    assert!(answer(&v3).contains("\"result\":3"));
    let now = completed_versions(cache.path(), "versions");
    assert_eq!(now.len(), 2, "{now:?}");
    assert!(!now.contains(&first[0]), "the least recently used build is removed: {now:?}");
}

#[test]
fn an_entry_point_that_returns_without_show_is_served() {
    let p = Project::new();
    p.write(
        "main.py",
        "from auroraview import WebView\n\ndef run():\n    WebView().bind_call('api.hi', lambda: 'hi')\n",
    );
    p.config("[app]\nname = \"no-show\"\n");
    let exe = p.pack();
    let cache = tempfile::tempdir().unwrap();
    let (code, lines, stderr) = run_lines(&exe, cache.path(), &[r#"{"id":1,"method":"api.hi"}"#]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(lines, [r#"{"id":1,"ok":true,"result":"hi"}"#]);
}

#[test]
fn a_script_entry_point_runs_as_main() {
    let p = Project::new();
    p.write(
        "app.py",
        "import sys\nfrom auroraview import WebView\n\nif __name__ == '__main__':\n    v = WebView()\n    v.bind_call('api.argv', lambda: [__name__, sys.argv[1:]])\n    v.show()\n",
    );
    p.config("[app]\nname = \"script\"\n[python]\nentry_point = \"app.py\"\n");
    let exe = p.pack();
    let cache = tempfile::tempdir().unwrap();
    let mut child = headless_command(&exe, cache.path());
    child.args(["--", "one", "two"]);
    let mut app = Headless::spawn(child);
    let r = app.call("api.argv", Value::Null);
    assert_eq!(r["result"], json!(["__main__", ["one", "two"]]), "{r}");
    assert_eq!(app.finish().0, 0);
}

#[test]
fn debug_apps_log_their_lifecycle() {
    let p = Project::new();
    p.write("main.py", "from auroraview import WebView\n\ndef run():\n    WebView().show()\n");
    p.config("[app]\nname = \"verbose\"\n[window]\ndebug = true\n");
    let exe = p.pack();
    let cache = tempfile::tempdir().unwrap();
    let (code, _, stderr) = run_lines(&exe, cache.path(), &[r#"{"id":1,"method":"__ping__"}"#]);
    assert_eq!(code, 0);
    for line in ["verbose 0.1.0 (standalone strategy", "extracted in", "Python initialised", "entry point finished"] {
        assert!(stderr.contains(line), "{line:?} missing from:\n{stderr}");
    }
    // Without debug, nothing is logged.
    let (_, _, quiet) = run_lines(probe(), cache.path(), &[r#"{"id":1,"method":"__ping__"}"#]);
    assert!(!quiet.contains("Python initialised"), "{quiet}");
}
