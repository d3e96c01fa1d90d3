//! No input ends the app: hostile lines (nested past any parser, not UTF-8, ids of any length),
//! handlers raising SystemExit, and stdin closing mid-call, in every mode: Python in the runtime
//! (`thread`), in a child (`isolation = "process"`, `system`), and `auroraview-pack dev --headless`.

mod common;

use common::*;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const MAIN: &str = r#"import os
import signal
import sys
import time

from auroraview import WebView

view = WebView()


@view.bind_call("api.echo")
def echo(value):
    return value


@view.bind_call("api.sleep")
def sleep(seconds):
    time.sleep(seconds)
    return "slept"


@view.bind_call("api.crash")
def crash(code):
    os._exit(code)


@view.bind_call("api.pid")
def pid():
    return os.getpid()


@view.bind_call("api.exit")
def exit_(code):
    raise SystemExit(code)


@view.bind_call("api.interrupt")
def interrupt():
    raise KeyboardInterrupt


@view.on("quit")
def quit_(code):
    sys.exit(code)


def run():
    view.show()
    if os.environ.get("HOSTILE_LINGER"):
        # Code after show() that never ends, and will not be asked to.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        while True:
            time.sleep(1)


if __name__ == "__main__":
    run()
"#;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    Thread,
    Process,
    System,
    Dev,
}

use Mode::*;

fn project(python: &str) -> Project {
    let p = Project::new();
    p.write("main.py", MAIN);
    p.config(&format!("[app]\nname = \"hostile\"\n[python]\nentry_point = \"main:run\"\n{python}\n"));
    p
}

/// The app packed for `mode` (once per test binary), or for `Dev` its project.
fn app(mode: Mode) -> &'static (Project, PathBuf) {
    static APPS: [OnceLock<(Project, PathBuf)>; 4] =
        [OnceLock::new(), OnceLock::new(), OnceLock::new(), OnceLock::new()];
    APPS[mode as usize].get_or_init(|| match mode {
        Thread => pack(project("")),
        Process => pack(project("isolation = \"process\"")),
        System => pack(project("strategy = \"system\"")),
        Dev => {
            let p = project("");
            let config = p.config_path();
            (p, config)
        }
    })
}

fn pack(p: Project) -> (Project, PathBuf) {
    let exe = p.pack();
    (p, exe)
}

fn command(mode: Mode, cache: &Path) -> Command {
    let target = &app(mode).1;
    if mode == Dev {
        let mut cmd = Command::new(bin("auroraview-pack"));
        cmd.args(["dev", "--headless", "--config"])
            .arg(target)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    } else {
        headless_command(target, cache)
    }
}

fn start(mode: Mode, cache: &Path) -> Headless {
    Headless::spawn(command(mode, cache))
}

fn pid(app: &mut Headless) -> u64 {
    let r = app.call("api.pid", Value::Null);
    r["result"].as_u64().unwrap_or_else(|| panic!("{r}\n{}", app.stderr()))
}

fn assert_no_backend_event(app: &Headless, mode: Mode) {
    assert!(!app.events.iter().any(|e| e["event"] == "__auroraview_backend__"), "{mode:?}: {:?}", app.events);
}

fn nesting(open: &str, close: &str, depth: usize) -> String {
    format!("{}{}", open.repeat(depth), close.repeat(depth))
}

fn nested_json_is_a_parse_error_and_the_app_keeps_serving(mode: Mode) {
    let cache = tempfile::tempdir().unwrap();
    let mut app = start(mode, cache.path());
    let first = pid(&mut app);
    // 2 KB that used to end the app, and more: top-level, under an id, and past a journal slot.
    app.send_raw(&format!(r#"{{"id":"deep","method":"api.echo","params":{}}}"#, nesting("[", "]", 1000)));
    let deep = app.response("deep");
    assert_eq!((deep["ok"].clone(), deep["type"].clone()), (json!(false), json!("ParseError")), "{mode:?}: {deep}");
    app.send_raw(&nesting("[", "]", 100_000));
    assert_eq!(app.response("null")["type"], "ParseError", "{mode:?}");
    app.send_raw(&format!(r#"{{"id":"deeper","method":"api.echo","params":[{}]}}"#, nesting(r#"{"a":"#, "}", 40_000)));
    assert_eq!(app.response("deeper")["type"], "ParseError", "{mode:?}");
    assert_eq!(app.call("api.echo", json!(["still here"]))["result"], "still here", "{mode:?}");
    assert_eq!(pid(&mut app), first, "{mode:?}: the same Python answers");
    assert_no_backend_event(&app, mode);
    let (code, stderr) = app.finish();
    assert_eq!(code, 0, "{mode:?}: {stderr}");
}

#[test]
fn nested_json_is_a_parse_error_in_thread_mode() {
    nested_json_is_a_parse_error_and_the_app_keeps_serving(Thread);
}

#[test]
fn nested_json_is_a_parse_error_in_process_mode() {
    nested_json_is_a_parse_error_and_the_app_keeps_serving(Process);
}

#[test]
fn nested_json_is_a_parse_error_on_the_system_python() {
    nested_json_is_a_parse_error_and_the_app_keeps_serving(System);
}

#[test]
fn handlers_raising_system_exit_or_keyboard_interrupt_get_errors() {
    for mode in [Thread, Process, System] {
        let cache = tempfile::tempdir().unwrap();
        let mut app = start(mode, cache.path());
        let first = pid(&mut app);
        let exit = app.call("api.exit", json!([3]));
        assert_eq!((exit["ok"].clone(), exit["type"].clone()), (json!(false), json!("SystemExit")), "{mode:?}: {exit}");
        let interrupt = app.call("api.interrupt", Value::Null);
        assert_eq!(interrupt["type"], "KeyboardInterrupt", "{mode:?}: {interrupt}");
        // An event handler raising SystemExit: no answer, and nothing ends.
        app.send_raw(r#"{"event":"quit","data":4}"#);
        assert_eq!(app.call("api.echo", json!([1]))["result"], 1, "{mode:?}");
        assert_eq!(pid(&mut app), first, "{mode:?}");
        assert_no_backend_event(&app, mode);
        let (code, stderr) = app.finish();
        assert_eq!(code, 0, "{mode:?}: the handlers' exit codes are not the app's: {stderr}");
    }
}

#[test]
fn ids_and_events_the_router_cannot_use_do_not_end_the_app() {
    for mode in [Thread, Process] {
        let cache = tempfile::tempdir().unwrap();
        let mut app = start(mode, cache.path());
        pid(&mut app);
        // A lone surrogate (answered with the same escape), an id that cannot be encoded, an event
        // name that cannot be looked up, a method that is not a string.
        app.send_raw(r#"{"id":"\ud800","method":"__ping__"}"#);
        app.send_raw(r#"{"id":NaN,"method":"__ping__"}"#);
        app.send_raw(r#"{"event":[1],"data":0}"#);
        app.send_raw(r#"{"id":"m","method":[1]}"#);
        app.send_raw(r#"{"id":"marker","method":"api.echo","params":[0]}"#);
        let lines: Vec<String> = (0..4).map(|_| app.next_line()).collect();
        assert!(lines.iter().any(|l| l.contains(r#""marker""#)), "{mode:?}: {lines:?}");
        assert!(lines.contains(&r#"{"id":"\ud800","ok":true,"result":"pong"}"#.to_string()), "{mode:?}: {lines:?}");
        let parsed: Vec<Value> = lines.iter().filter_map(|l| serde_json::from_str(l).ok()).collect();
        assert!(parsed.iter().any(|m| m["id"].is_null() && m["type"] == "InvalidRequest"), "{mode:?}: {lines:?}");
        assert!(parsed.iter().any(|m| m["id"] == "m" && m["type"] == "InvalidRequest"), "{mode:?}: {lines:?}");
        // One answer per call, none for the event.
        app.send_raw(r#"{"id":"marker2","method":"api.echo","params":[0]}"#);
        assert_eq!(app.next_message()["id"], "marker2", "{mode:?}");
        assert_eq!(app.finish().0, 0, "{mode:?}");
    }
}

fn closing_stdin_mid_call_still_answers(mode: Mode) {
    let cache = tempfile::tempdir().unwrap();
    let mut app = start(mode, cache.path());
    // Longer than the 5 s a closing backend used to be given.
    app.send("slow", "api.sleep", json!([6]));
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(app.call("api.echo", json!(["started"]))["result"], "started", "{mode:?}: {}", app.stderr());
    let closed = Instant::now();
    app.close_stdin();
    let slow = app.response("slow");
    assert_eq!(slow["result"], "slept", "{mode:?}: {slow}\n{}", app.stderr());
    assert!(closed.elapsed() > Duration::from_secs(5), "{mode:?}");
    let (code, stderr) = app.finish();
    assert_eq!(code, 0, "{mode:?}: {stderr}");
}

#[test]
fn closing_stdin_mid_call_still_answers_in_thread_mode() {
    closing_stdin_mid_call_still_answers(Thread);
}

#[test]
fn closing_stdin_mid_call_still_answers_in_process_mode() {
    closing_stdin_mid_call_still_answers(Process);
}

#[test]
fn closing_stdin_mid_call_still_answers_on_the_system_python() {
    closing_stdin_mid_call_still_answers(System);
}

#[test]
fn closing_stdin_mid_call_still_answers_in_dev() {
    closing_stdin_mid_call_still_answers(Dev);
}

/// Pipelined calls, then stdin closes at once: every one is answered, read or not by the child.
#[test]
fn closing_stdin_after_pipelined_calls_answers_them_all() {
    for mode in [Process, Dev] {
        let cache = tempfile::tempdir().unwrap();
        let mut child = command(mode, cache.path()).spawn().unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let mut input = String::from(r#"{"id":"s","method":"api.sleep","params":[1]}"#);
        for i in 0..2000 {
            input.push_str(&format!("\n{{\"id\":{i},\"method\":\"api.echo\",\"params\":[{i}]}}"));
        }
        input.push('\n');
        let writer = std::thread::spawn(move || std::io::Write::write_all(&mut stdin, input.as_bytes()).unwrap());
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap();
        assert_eq!(out.status.code(), Some(0), "{mode:?}: {}", String::from_utf8_lossy(&out.stderr));
        let answers: Vec<Value> =
            String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(answers.len(), 2001, "{mode:?}");
        assert!(answers.iter().all(|a| a["ok"] == true), "{mode:?}");
        assert_eq!(answers.last().unwrap()["id"], "s", "{mode:?}");
    }
}

fn a_crash_with_long_ids_in_flight_fails_those_ids(mode: Mode) {
    let cache = tempfile::tempdir().unwrap();
    let mut app = start(mode, cache.path());
    let first = pid(&mut app);
    let (long, longer) = ("L".repeat(10_000), format!("C{}", "L".repeat(10_000)));
    app.send(&long, "api.sleep", json!([5]));
    std::thread::sleep(Duration::from_millis(300));
    app.send(&longer, "api.crash", json!([3]));
    for id in [&long, &longer] {
        let failed = app.response(id);
        assert_eq!(failed["type"], "BackendExited", "{mode:?}: {failed}");
        assert!(failed["error"].as_str().unwrap().contains("exited with code 3"), "{mode:?}: {failed}");
    }
    let next = pid(&mut app);
    assert_ne!(next, first, "{mode:?}: a new child answers");
    // An id longer than a journal slot: the child refuses the call without running it (here, it
    // would crash); through a relay the id is held in memory, and a crash fails it.
    let huge = "H".repeat(70_000);
    app.send(&huge, "api.crash", json!([4]));
    let answer = app.response(&huge);
    if mode == Dev {
        assert_eq!(answer["type"], "BackendExited", "{mode:?}: {answer}");
    } else {
        assert_eq!((answer["ok"].clone(), answer["type"].clone()), (json!(false), json!("InvalidRequest")), "{mode:?}");
        assert_eq!(pid(&mut app), next, "{mode:?}: the refused call did not run");
    }
    assert_eq!(app.call("api.echo", json!(["after"]))["result"], "after", "{mode:?}");
    let (code, stderr) = app.finish();
    assert_eq!(code, 0, "{mode:?}: {stderr}");
}

#[test]
fn a_crash_with_long_ids_in_flight_fails_them_in_process_mode() {
    a_crash_with_long_ids_in_flight_fails_those_ids(Process);
}

#[test]
fn a_crash_with_long_ids_in_flight_fails_them_on_the_system_python() {
    a_crash_with_long_ids_in_flight_fails_those_ids(System);
}

#[test]
fn a_crash_with_long_ids_in_flight_fails_them_in_dev() {
    a_crash_with_long_ids_in_flight_fails_those_ids(Dev);
}

#[test]
fn long_ids_are_answered_in_thread_mode() {
    let cache = tempfile::tempdir().unwrap();
    let mut app = start(Thread, cache.path());
    let huge = "H".repeat(70_000);
    app.send(&huge, "api.echo", json!([1]));
    assert_eq!(app.response(&huge)["result"], 1);
    assert_eq!(app.finish().0, 0);
}

#[test]
fn invalid_utf8_is_a_parse_error_with_its_id() {
    for mode in [Thread, Process, System, Dev] {
        let cache = tempfile::tempdir().unwrap();
        let mut app = start(mode, cache.path());
        pid(&mut app);
        app.send_bytes(b"{\"id\":\"bad-utf8\",\"method\":\"api.echo\",\"params\":[\"\xff\xfe\"]}\n");
        app.send_bytes(b"\xc3\x28 not even json\n");
        let bad = app.response("bad-utf8");
        assert_eq!((bad["ok"].clone(), bad["type"].clone()), (json!(false), json!("ParseError")), "{mode:?}: {bad}");
        assert!(bad["error"].as_str().unwrap().contains("utf-8"), "{mode:?}: {bad}");
        assert_eq!(app.response("null")["type"], "ParseError", "{mode:?}");
        assert_eq!(app.call("api.echo", json!(["é"]))["result"], "é", "{mode:?}");
        assert_no_backend_event(&app, mode);
        let (code, stderr) = app.finish();
        assert_eq!(code, 0, "{mode:?}: {stderr}");
    }
}

/// A child with no call left that does not exit once stdin closes (code after `show()` that never
/// ends, ignoring SIGTERM) is stopped: 5 s, SIGTERM, 1 s, SIGKILL.
#[test]
fn an_idle_child_that_ignores_sigterm_is_stopped_after_stdin_closes() {
    let cache = tempfile::tempdir().unwrap();
    let mut cmd = command(Process, cache.path());
    cmd.env("HOSTILE_LINGER", "1");
    let mut app = Headless::spawn(cmd);
    let child = pid(&mut app) as u32;
    let closed = Instant::now();
    let (code, stderr) = app.finish();
    assert_eq!(code, 0, "{stderr}");
    let took = closed.elapsed();
    assert!(took > Duration::from_secs(5) && took < Duration::from_secs(20), "{took:?}");
    assert!(!alive(child), "child {child} outlived the app");
}
