//! The web developer's loop under Xvfb: `dev` loading the page from a dev server (which alone may
//! reach Python, not a frame from elsewhere), F5 reloading it, the page's console and a handler's
//! exception on the terminal, window options read back from the X server, and the errors a
//! developer meets first (no display, unknown flags).

mod common;

use common::*;
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::Command;
use std::time::Duration;

/// Serves `pages` (path → HTML) on 127.0.0.1 from a thread; returns the origin.
fn serve(pages: Vec<(&'static str, String)>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let origin = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut first = String::new();
            let _ = reader.read_line(&mut first);
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
            }
            let path = first.split_whitespace().nth(1).unwrap_or("/").split('?').next().unwrap_or("/").to_string();
            let (status, body) = match pages.iter().find(|(p, _)| *p == path) {
                Some((_, body)) => ("200 OK", body.clone()),
                None => ("404 Not Found", String::new()),
            };
            let kind = if path.ends_with(".js") { "text/javascript" } else { "text/html" };
            let mut stream = stream;
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    origin
}

/// Runs the command (`$2...`) under Xvfb until `$WEB_REPORT` is written, pressing F5 in the window
/// titled `$WEB_TITLE` each time `$WEB_WORK/press-f5` appears, then records `xprop` and `xwininfo`
/// of that window and ends the app. `$1`: work dir.
const SCRIPT: &str = r#"
work="$1"; shift
"$@" > "$work/app.log" 2>&1 &
app=$!
i=0
while [ ! -s "$WEB_REPORT" ] && [ $i -lt 900 ] && kill -0 $app 2>/dev/null; do
  if [ -e "$work/press-f5" ]; then
    win=$(xdotool search --onlyvisible --name "$WEB_TITLE" 2>/dev/null | head -n1)
    if [ -n "$win" ]; then
      xdotool windowfocus --sync "$win" 2>> "$work/xdotool.log"
      xdotool key --clearmodifiers F5 2>> "$work/xdotool.log"
      sleep 2
    fi
  fi
  sleep 0.1; i=$((i+1))
done
sleep 0.5
win=$(xdotool search --onlyvisible --name "$WEB_TITLE" 2>/dev/null | head -n1)
if [ -n "$win" ]; then
  xprop -id "$win" > "$work/xprop.txt" 2>&1
  xwininfo -id "$win" > "$work/xwininfo.txt" 2>&1
fi
kill $app 2>/dev/null
sleep 0.5
kill -9 $app 2>/dev/null
wait $app
"#;

struct Session {
    report: Value,
    log: String,
    xprop: String,
    work: tempfile::TempDir,
}

/// Runs `command` under Xvfb (see [`SCRIPT`]); the app writes its findings to `$WEB_REPORT`.
fn session(command: &[&std::ffi::OsStr], title: &str) -> Session {
    let work = tempfile::tempdir().unwrap();
    let report = work.path().join("report.json");
    let mut cmd = Command::new("xvfb-run");
    cmd.args(["-a", "-s", "-screen 0 1280x1024x24", "sh", "-c", SCRIPT, "sh"])
        .arg(work.path())
        .args(command)
        .env("AURORAVIEW_CACHE_DIR", work.path().join("cache"))
        .env("WEB_REPORT", &report)
        .env("WEB_WORK", work.path())
        .env("WEB_TITLE", title);
    xdg_env(&mut cmd, work.path());
    let mut child = cmd.spawn().unwrap();
    wait_timeout(&mut child, Duration::from_secs(240));
    let read = |name: &str| fs_err::read_to_string(work.path().join(name)).unwrap_or_default();
    let log = read("app.log") + &read("xdotool.log");
    let report = serde_json::from_slice(
        &fs_err::read(&report).unwrap_or_else(|_| panic!("the app reported nothing; its log:\n{log}")),
    )
    .unwrap();
    let xprop = read("xprop.txt") + &read("xwininfo.txt");
    Session { report, log, xprop, work }
}

/// The Python side of the dev-server app: records every call it gets.
const DEV_MAIN: &str = r#"
import json, os
from auroraview import WebView

work = os.environ["WEB_WORK"]

def run():
    view = WebView()

    @view.bind_call("api.loaded")
    def loaded(n, origin):
        with open(os.path.join(work, "loads"), "a") as f:
            f.write(f"{n} {origin}\n")
        flag = os.path.join(work, "press-f5")
        if n == 1:
            open(flag, "w").close()
        elif os.path.exists(flag):
            os.remove(flag)
        return n

    @view.bind_call("api.boom")
    def boom():
        raise ValueError("dev-handler-kaboom")

    @view.bind_call("api.evil")
    def evil():
        open(os.path.join(work, "evil"), "w").close()

    @view.bind_call("api.report")
    def report(findings):
        with open(os.environ["WEB_REPORT"] + ".tmp", "w") as f:
            json.dump(findings, f)
        os.replace(os.environ["WEB_REPORT"] + ".tmp", os.environ["WEB_REPORT"])

    view.show()
"#;

/// The dev server's page: reports its load count (F5 makes it 2), calls a failing handler, logs
/// to the console, and relays what a frame from another origin could do.
fn dev_page(other_origin: &str) -> String {
    format!(
        r#"<!doctype html><title>Dev Server Page</title><body>
<iframe src="{other_origin}/frame.html"></iframe>
<script src="/app.js"></script></body>"#
    )
}

const DEV_SCRIPT: &str = r#"
var n = Number(sessionStorage.getItem("loads") || "0") + 1;
sessionStorage.setItem("loads", String(n));
var frame = new Promise(function (resolve) {
  window.addEventListener("message", function (e) { resolve(e.data); });
  setTimeout(function () { resolve("no answer from the frame"); }, 30000);
});
window.auroraview.call("api.loaded", [n, location.origin]).then(function () {
  if (n < 2) return;
  console.error("dev-console-marker", 42);
  return window.auroraview.call("api.boom").catch(function (e) { return e.message; }).then(function (boom) {
    return frame.then(function (fromFrame) {
      setTimeout(function () {
        window.auroraview.call("api.report", [{ n: n, boom: boom, frame: fromFrame, origin: location.origin }]);
      }, 1000);
    });
  });
});
"#;

/// A frame from another origin: it has no bridge, and what it posts to the window is dropped.
const FRAME_PAGE: &str = r#"<!doctype html><script>
var handler = window.webkit && window.webkit.messageHandlers && window.webkit.messageHandlers.ipc;
var posted = false;
try { handler.postMessage(JSON.stringify({ id: "f1", method: "api.evil" })); posted = true; } catch (e) {}
parent.postMessage({ bridge: typeof window.auroraview, posted: posted }, "*");
</script>"#;

fn dev_project(config_extra: &str) -> (Project, String) {
    let other = serve(vec![("/frame.html", FRAME_PAGE.to_string())]);
    let origin = serve(vec![("/", dev_page(&other)), ("/app.js", DEV_SCRIPT.to_string())]);
    let p = Project::new();
    p.write("main.py", DEV_MAIN);
    p.config(&format!(
        "[app]\nname = \"dev-server-test\"\ntitle = \"Dev Server Test\"\n\n[frontend]\npath = \"frontend\"\n{config_extra}\n\n[python]\nentry_point = \"main:run\"\ninclude_paths = [\"main.py\"]\n"
    ));
    (p, origin)
}

fn check_dev_session(s: &Session, origin: &str) {
    let r = &s.report;
    assert_eq!(r["n"], 2, "F5 reloaded the page once: {r}\n{}", s.log);
    assert_eq!(r["origin"], origin, "the page came from the dev server: {r}");
    assert_eq!(r["boom"], "dev-handler-kaboom", "{r}");
    assert_eq!(r["frame"]["bridge"], "undefined", "a frame from elsewhere gets no bridge: {r}");
    assert!(!s.work.path().join("evil").exists(), "a frame from another origin reached Python:\n{}", s.log);
    let loads = fs_err::read_to_string(s.work.path().join("loads")).unwrap();
    assert_eq!(loads, format!("1 {origin}\n2 {origin}\n"), "{}", s.log);
    // Where a developer looks: the terminal.
    assert!(s.log.contains("dev-handler-kaboom") && s.log.contains("Traceback"), "{}", s.log);
    assert!(s.log.contains("raise ValueError"), "the traceback shows the source line:\n{}", s.log);
    let console = s.log.lines().find(|l| l.contains("dev-console-marker")).unwrap_or_else(|| panic!("{}", s.log));
    assert!(console.contains("console.error") && console.contains("42"), "{console}");
    assert!(console.contains("/app.js:"), "console lines say file:line: {console}");
}

#[test]
fn dev_loads_the_dev_server_which_alone_reaches_python_and_f5_reloads() {
    // `[frontend] dev_url` is read by `dev` and ignored by the packed app.
    let (p, origin) = dev_project("");
    let config = fs_err::read_to_string(p.config_path()).unwrap();
    p.config(&config.replace("[frontend]\n", &format!("[frontend]\ndev_url = \"{origin}/\"\n")));
    let pack = bin("auroraview-pack");
    let s = session(
        &[pack.as_os_str(), "dev".as_ref(), "--config".as_ref(), p.config_path().as_os_str()],
        "Dev Server Test",
    );
    check_dev_session(&s, &origin);
}

#[test]
fn dev_url_flag_and_dev_command_start_and_stop_the_server() {
    // The dev command is a server of its own (Python's http.server), started by `dev` and gone
    // with it.
    let (p, _) = dev_project("");
    let other = serve(vec![("/frame.html", FRAME_PAGE.to_string())]);
    p.write("site/index.html", &dev_page(&other)).write("site/app.js", DEV_SCRIPT);
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let marker = format!("auroraview-dev-server-{port}");
    let config = fs_err::read_to_string(p.config_path()).unwrap();
    p.config(&config.replace(
        "[frontend]\n",
        &format!(
            "[frontend]\ndev_command = \"exec python3 -c 'import sys; sys.argv[0] = \\\"{marker}\\\"; import http.server, runpy; sys.argv = [\\\"x\\\", \\\"--bind\\\", \\\"127.0.0.1\\\", \\\"--directory\\\", \\\"site\\\", \\\"{port}\\\"]; runpy.run_module(\\\"http.server\\\", run_name=\\\"__main__\\\")'\"\n"
        ),
    ));
    let origin = format!("http://127.0.0.1:{port}");
    let pack = bin("auroraview-pack");
    let s = session(
        &[
            pack.as_os_str(),
            "dev".as_ref(),
            "--config".as_ref(),
            p.config_path().as_os_str(),
            "--url".as_ref(),
            origin.as_ref(),
        ],
        "Dev Server Test",
    );
    check_dev_session(&s, &origin);
    // The server went with the dev run.
    let mut gone = false;
    for _ in 0..50 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            gone = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(gone, "the dev command still serves after dev ended:\n{}", s.log);
}

#[test]
fn window_options_from_the_config_and_python_take_effect() {
    let p = Project::new();
    p.write(
        "main.py",
        r#"
import json, os
from auroraview import WebView

def run():
    view = WebView(title="Options From Python", max_height=700)

    @view.bind_call("api.report")
    def report(findings):
        with open(os.environ["WEB_REPORT"], "w") as f:
            json.dump(findings, f)

    view.show()
"#,
    )
    .write(
        "frontend/index.html",
        r#"<!doctype html><title>t</title><script>
window.addEventListener("auroraviewready", function () {
  setTimeout(function () {
    window.auroraview.call("api.report", [{ w: window.innerWidth, h: window.innerHeight }]);
  }, 1500);
});
</script>"#,
    );
    p.config(
        "[app]\nname = \"window-options\"\ntitle = \"Options From Config\"\n\n[window]\nwidth = 500\nheight = 400\nmin_width = 320\nmin_height = 240\nmax_width = 900\nmax_height = 800\nalways_on_top = true\n\n[frontend]\npath = \"frontend\"\n\n[python]\nentry_point = \"main:run\"\ninclude_paths = [\"main.py\"]\n",
    );
    let exe = p.pack();
    let inspect = Command::new(bin("auroraview-pack")).arg("inspect").arg(&exe).output().unwrap();
    let inspect = String::from_utf8_lossy(&inspect.stdout);
    assert!(inspect.contains("\"always_on_top\":true") && inspect.contains("\"min_width\":320"), "{inspect}");

    let s = session(&[exe.as_os_str()], "Options From Python");
    assert_eq!(s.report["w"], 500, "{}\n{}", s.report, s.log);
    let x = &s.xprop;
    assert!(x.contains("program specified minimum size: 320 by 240"), "min size from the config:\n{x}\n{}", s.log);
    // Python's max_height replaced the config's 800; max_width stays.
    assert!(x.contains("program specified maximum size: 900 by 700"), "max size from Python:\n{x}");
    assert!(x.contains("_NET_WM_STATE_ABOVE"), "always on top:\n{x}");
    assert!(x.contains("\"Options From Python\""), "the title Python gave:\n{x}");
}

fn without_display(cmd: &mut Command) -> &mut Command {
    cmd.env_remove("DISPLAY").env_remove("WAYLAND_DISPLAY")
}

#[test]
fn no_display_is_a_message_and_exit_1_not_a_panic() {
    let p = Project::new();
    p.write("main.py", "from auroraview import WebView\n\ndef run():\n    WebView().show()\n");
    p.config("[app]\nname = \"no-display\"\n\n[python]\nentry_point = \"main:run\"\ninclude_paths = [\"main.py\"]\n");
    let exe = p.pack();
    let cache = tempfile::tempdir().unwrap();
    let pack = bin("auroraview-pack");
    let runs: [(&str, Command); 2] = [
        ("packed app", {
            let mut c = Command::new(&exe);
            c.env("AURORAVIEW_CACHE_DIR", cache.path());
            c
        }),
        ("dev", {
            let mut c = Command::new(&pack);
            c.arg("dev").arg("--config").arg(p.config_path());
            c
        }),
    ];
    for (what, mut cmd) in runs {
        let out = without_display(&mut cmd).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{what}: {err}");
        assert!(err.contains("cannot open a display (DISPLAY/WAYLAND_DISPLAY unset); use --headless"), "{what}: {err}");
        assert!(!err.contains("panicked") && !err.contains("internal error"), "{what}: {err}");
    }
}

#[test]
fn help_names_the_app_and_unknown_flags_are_refused() {
    let p = Project::new();
    p.write(
        "main.py",
        "import sys\nfrom auroraview import WebView\n\ndef run():\n    v = WebView()\n    v.bind_call('api.argv', lambda: sys.argv[1:])\n    v.show()\n",
    );
    p.config("[app]\nname = \"flags-app\"\ntitle = \"Flags App\"\n\n[python]\nentry_point = \"main:run\"\ninclude_paths = [\"main.py\"]\n");
    let exe = p.pack();
    let cache = tempfile::tempdir().unwrap();
    let out = Command::new(&exe).arg("--help").env("AURORAVIEW_CACHE_DIR", cache.path()).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{help}");
    assert!(help.contains("flags-app 0.1.0 (Flags App)") && help.contains("usage: flags-app"), "{help}");

    let out =
        without_display(Command::new(&exe).arg("--bogus").env("AURORAVIEW_CACHE_DIR", cache.path())).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("unknown option `--bogus`") && err.contains("usage: flags-app"), "{err}");

    // The app's own arguments still reach it, after `--` or as plain words.
    let mut cmd = headless_command(&exe, cache.path());
    cmd.args(["word", "--", "--own-flag"]);
    let mut app = Headless::spawn(cmd);
    assert_eq!(app.call("api.argv", Value::Null)["result"], serde_json::json!(["word", "--own-flag"]));
}

#[test]
fn a_handler_exception_is_on_stderr_with_its_traceback_headless_too() {
    let p = Project::new();
    p.write(
        "main.py",
        "from auroraview import WebView\n\ndef fail():\n    raise KeyError('headless-kaboom')\n\ndef run():\n    v = WebView()\n    v.bind_call('api.fail', fail)\n    v.show()\n",
    );
    p.config("[app]\nname = \"stderr-app\"\n\n[python]\nentry_point = \"main:run\"\ninclude_paths = [\"main.py\"]\n");
    let exe = p.pack();
    let cache = tempfile::tempdir().unwrap();
    let mut app = Headless::start(&exe, cache.path());
    let answer = app.call("api.fail", Value::Null);
    assert!(answer.to_string().contains("headless-kaboom"), "{answer}");
    app.close_stdin();
    let (_, stderr) = app.finish();
    assert!(stderr.contains("Traceback") && stderr.contains("raise KeyError('headless-kaboom')"), "{stderr}");
    assert!(stderr.contains("api.fail"), "{stderr}");
}

#[test]
fn dev_reload_restarts_python_and_reloads_the_page_when_code_changes() {
    let p = Project::new();
    p.write(
        "main.py",
        r#"
import json, os
from auroraview import WebView

work = os.environ["WEB_WORK"]

def run():
    view = WebView(title="Reload Test")

    @view.bind_call("api.loaded")
    def loaded():
        path = os.path.join(work, "loads")
        with open(path, "a") as f:
            f.write(f"{os.getpid()}\n")
        with open(path) as f:
            pids = f.read().split()
        if len(pids) == 1:
            # An edit to the app's code, as a developer saves it.
            with open(__file__, "a") as f:
                f.write("\n# edited\n")
        else:
            with open(os.environ["WEB_REPORT"], "w") as f:
                json.dump({"pids": pids}, f)
        return len(pids)

    view.show()
"#,
    )
    .write(
        "frontend/index.html",
        r#"<!doctype html><title>t</title><script>
window.addEventListener("auroraviewready", function () { window.auroraview.call("api.loaded"); });
</script>"#,
    );
    p.config("[app]\nname = \"reload-test\"\n\n[frontend]\npath = \"frontend\"\n\n[python]\nentry_point = \"main:run\"\ninclude_paths = [\"main.py\"]\n");
    let pack = bin("auroraview-pack");
    let s = session(
        &[pack.as_os_str(), "dev".as_ref(), "--reload".as_ref(), "--config".as_ref(), p.config_path().as_os_str()],
        "Reload Test",
    );
    let pids = s.report["pids"].as_array().unwrap_or_else(|| panic!("{}\n{}", s.report, s.log));
    assert_eq!(pids.len(), 2, "the page loaded again after the edit: {}\n{}", s.report, s.log);
    assert_ne!(pids[0], pids[1], "a new Python answered the reloaded page: {}", s.report);
}
