//! The window's side of the trust boundary, in a real window under Xvfb: only the app's own page
//! reaches Python. The page of tests/apps/security tries to leave the app (links, target=_blank,
//! window.open, mailto, file:, a script setting location, also to a closed port), frames a page from an outside server (a
//! thread of this test) that tries to reach Python, and checks the Content-Security-Policy and
//! ranges it is served with. `xdg-open` is a stub first on PATH that records its argument.

mod common;

use common::*;
use serde_json::{Value, json};
use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The window library's default policy (runtime/window/src/protocol.rs).
const DEFAULT_CSP: &str = "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; \
img-src 'self' data: blob:; font-src 'self' data:; media-src 'self' data: blob:; connect-src 'self'; \
worker-src 'self' blob:; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'self'";

/// A policy that lets the outside server be framed and allows `eval`, so the test sees it replace
/// the default rather than only be sent.
const CONFIGURED_CSP: &str = "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; \
style-src 'self' 'unsafe-inline'; frame-src http://127.0.0.1:*";

/// The outside page framed by the app: it looks for the bridge, posts to WebKit's message handler
/// directly (a call, the ready and open control messages), tries a popup, reports to its server and
/// follows a link (a subframe navigation off the app).
const FRAME: &str = r#"<!doctype html><title>frame</title><body><a id="next" href="/frame-nav">next</a><script>
const r = { where: "frame", bridge: typeof window.auroraview, ipc: typeof window.ipc, dispatch: typeof window.__auroraview_dispatch };
try { r.parentBridge = typeof parent.auroraview; } catch (e) { r.parentBridge = e.name; }
try {
  const h = window.webkit.messageHandlers.ipc;
  h.postMessage(JSON.stringify({ id: "x", method: "api.secret" }));
  h.postMessage("\u0001ready");
  h.postMessage("\u0001open " + location.origin + "/from-frame-ipc");
  h.postMessage("00000000000000000000000000000000" + JSON.stringify({ id: "x2", method: "api.secret" }));
  r.posted = true;
} catch (e) { r.posted = String(e); }
try { r.open = String(window.open(location.origin + "/from-frame-open")); } catch (e) { r.open = e.name; }
fetch("/report?" + encodeURIComponent(JSON.stringify(r))).finally(() => document.getElementById("next").click());
</script>"#;

/// Where the frame's link leads: it posts again, tries to navigate the top frame, and tells the app
/// page it is done.
const FRAME_NAV: &str = r#"<!doctype html><title>frame-nav</title><script>
const r = { where: "frame-nav", bridge: typeof window.auroraview };
try { window.webkit.messageHandlers.ipc.postMessage(JSON.stringify({ id: "y", method: "api.secret" })); r.posted = true; } catch (e) { r.posted = String(e); }
try { top.location.href = location.origin + "/framebust"; r.framebust = "tried"; } catch (e) { r.framebust = e.name; }
fetch("/report?" + encodeURIComponent(JSON.stringify(r))).finally(() => parent.postMessage("frame-done", "*"));
</script>"#;

/// Any other page of the outside server: were it ever shown in the window, it reports so and tries
/// to call Python.
const OUTSIDE_PAGE: &str = r#"<!doctype html><title>outside</title><script>
fetch("/report?" + encodeURIComponent(JSON.stringify({ where: "outside", path: location.pathname, top: window.top === window, bridge: typeof window.auroraview })));
try { auroraview.call("api.secret"); } catch (e) {}
try { window.ipc.postMessage(JSON.stringify({ id: "z", method: "api.secret" })); } catch (e) {}
</script>"#;

/// A tiny HTTP server on 127.0.0.1 that records every request target.
struct Outside {
    url: String,
    /// A port nothing listens on.
    closed: String,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Outside {
    fn start() -> Outside {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let closed =
            format!("http://127.0.0.1:{}", TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let log = log.clone();
                std::thread::spawn(move || Outside::answer(stream, &log));
            }
        });
        Outside { url, closed, requests }
    }

    fn answer(mut stream: TcpStream, log: &Mutex<Vec<String>>) {
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim().is_empty() {
                break;
            }
        }
        let target = line.split(' ').nth(1).unwrap_or("").to_string();
        log.lock().unwrap().push(target.clone());
        if target == "/scripted" {
            // A slow outside page: while the window waits for it, the app keeps calling Python.
            std::thread::sleep(Duration::from_millis(1500));
        }
        let (content_type, body) = match target.split('?').next().unwrap_or("") {
            "/remote.js" => ("text/javascript", "window.remoteRan = true;"),
            "/frame" => ("text/html", FRAME),
            "/frame-nav" => ("text/html", FRAME_NAV),
            "/report" => ("text/plain", ""),
            _ => ("text/html", OUTSIDE_PAGE),
        };
        let _ = write!(
            stream,
            "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }

    /// The JSON reports the outside pages sent.
    fn reports(&self) -> Vec<Value> {
        self.requests()
            .iter()
            .filter_map(|t| t.strip_prefix("/report?"))
            .map(|q| serde_json::from_str(&percent_decode(q)).unwrap_or_else(|e| panic!("report {q}: {e}")))
            .collect()
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let (mut out, mut i) = (Vec::new(), 0);
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            out.push(u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap(), 16).unwrap());
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// Runs the app (`$2...`) under Xvfb until its page has reported, then ends it. `$1`: work dir.
const SCRIPT: &str = r#"
work="$1"; shift
"$@" > "$work/app.log" 2>&1 &
app=$!
i=0
while [ ! -s "$GUI_REPORT" ] && [ $i -lt 900 ] && kill -0 $app 2>/dev/null; do sleep 0.1; i=$((i+1)); done
sleep 0.5
kill $app 2>/dev/null
wait $app
"#;

/// What one session of the security page showed.
struct Session {
    findings: Value,
    opened: Vec<String>,
    log: String,
    secret_ran: bool,
}

fn session(command: &[&OsStr], outside: &Outside) -> Session {
    let work = tempfile::tempdir().unwrap();
    let report = work.path().join("report.json");
    let marker = work.path().join("secret-ran");
    let opened = work.path().join("xdg-open.log");
    let stub_dir = work.path().join("bin");
    fs_err::create_dir_all(&stub_dir).unwrap();
    let stub = stub_dir.join("xdg-open");
    fs_err::write(&stub, "#!/bin/sh\nprintf '%s\\n' \"$1\" >> \"$XDG_OPEN_LOG\"\n").unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        fs_err::set_permissions(&stub, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let path = std::env::join_paths(
        std::iter::once(stub_dir.clone()).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )
    .unwrap();

    let mut cmd = Command::new("xvfb-run");
    cmd.args(["-a", "-s", "-screen 0 800x600x24", "sh", "-c", SCRIPT, "sh"])
        .arg(work.path())
        .args(command)
        .env("PATH", path)
        .env("AURORAVIEW_CACHE_DIR", work.path().join("cache"))
        .env("GUI_REPORT", &report)
        .env("SECURITY_MARKER", &marker)
        .env("SECURITY_OUTSIDE", &outside.url)
        .env("SECURITY_CLOSED", &outside.closed)
        .env("XDG_OPEN_LOG", &opened);
    xdg_env(&mut cmd, work.path());
    let mut child = cmd.spawn().unwrap();
    wait_timeout(&mut child, Duration::from_secs(240));
    let log = fs_err::read_to_string(work.path().join("app.log")).unwrap_or_default();
    let findings: Value = serde_json::from_slice(
        &fs_err::read(&report).unwrap_or_else(|_| panic!("the page reported nothing; app log:\n{log}")),
    )
    .unwrap();
    let mut opened: Vec<String> =
        fs_err::read_to_string(&opened).unwrap_or_default().lines().map(String::from).collect();
    opened.sort();
    // Shown with --nocapture.
    eprintln!("findings: {findings:#}\nopened: {opened:?}\nrequests: {:?}\nlog:\n{log}", outside.requests());
    Session { findings, opened, log, secret_ran: marker.exists() }
}

/// What every session must show, whatever the policy.
fn check_common(s: &Session, outside: &Outside) {
    let f = &s.findings;
    let ctx = format!("findings: {f:#}\nrequests: {:?}\nlog:\n{}", outside.requests(), s.log);
    assert_eq!(f.get("error"), None, "{ctx}");
    // (d) The app's own page: inline script and style ran, and it calls Python, before and after.
    assert_eq!(f["inlineScript"], true, "{ctx}");
    assert_eq!((&f["add"], &f["addAfter"]), (&json!(5), &json!(42)), "{ctx}");
    assert_eq!(f["origin"], "auroraview://localhost", "{ctx}");
    // (a) (b) Leaving the app: the window stayed, and the stub got each web and mail URL once.
    assert_eq!(f["stillHere"], "auroraview://localhost/", "{ctx}");
    assert_eq!(f["windowOpen"], "null", "{ctx}");
    let mut expected: Vec<String> =
        ["/link", "/blank", "/open", "/scripted"].iter().map(|p| format!("{}{p}", outside.url)).collect();
    expected.push("mailto:someone@example.com".into());
    expected.push(format!("{}/unreachable", outside.closed));
    expected.sort();
    assert_eq!(s.opened, expected, "handed to xdg-open; {ctx}");
    let requests = outside.requests();
    for intercepted in ["/link", "/blank", "/open"] {
        assert!(!requests.iter().any(|r| r == intercepted), "the window loaded {intercepted} itself; {ctx}");
    }
    // No outside page ever ran in the top frame, and Python's secret handler never ran.
    for r in outside.reports() {
        assert_ne!(r["where"], "outside", "an outside page was shown: {r}; {ctx}");
    }
    assert!(!s.secret_ran, "api.secret ran; {ctx}");
    // (e) Ranges, from the page.
    assert_eq!(
        f["range"],
        json!({"status": 206, "body": "2345", "contentRange": "bytes 2-5/20", "length": "4"}),
        "{ctx}"
    );
    assert_eq!(f["rangePast"], json!({"status": 416, "contentRange": "bytes */20"}), "{ctx}");
    assert_eq!(f["indexLength"], true, "Content-Length; {ctx}");
    assert_eq!(f["remoteScript"], "blocked", "{ctx}");
}

fn copy_with(csp: Option<&str>, debug: bool) -> Project {
    let p = Project::copy_of("security", "");
    let mut config = fs_err::read_to_string(p.config_path()).unwrap();
    if let Some(csp) = csp {
        config = config.replacen("path = \"frontend\"\n", &format!("path = \"frontend\"\ncsp = \"{csp}\"\n"), 1);
    }
    if debug {
        config = config.replacen("[window]\n", "[window]\ndebug = true\n", 1);
    }
    p.config(&config);
    p
}

#[test]
fn the_default_policy_keeps_the_window_on_the_app() {
    let outside = Outside::start();
    let project = copy_with(None, false);
    let exe = project.pack();
    let s = session(&[exe.as_os_str()], &outside);
    check_common(&s, &outside);
    let ctx = format!("findings: {:#}\nrequests: {:?}\nlog:\n{}", s.findings, outside.requests(), s.log);
    assert_eq!(s.findings["csp"], DEFAULT_CSP, "{ctx}");
    assert_eq!(s.findings["eval"], "EvalError", "{ctx}");
    // The default policy frames nothing from outside: the frame was never requested.
    assert_eq!(s.findings["frame"], "blocked", "{ctx}");
    assert!(!outside.requests().iter().any(|r| r.starts_with("/frame")), "{ctx}");
}

#[test]
fn an_outside_frame_never_reaches_python_and_frontend_csp_replaces_the_policy() {
    let outside = Outside::start();
    let project = copy_with(Some(CONFIGURED_CSP), true);
    let exe = project.pack();
    framed_session(&[exe.as_os_str()], &outside);
}

#[test]
fn a_dev_run_gets_the_same_policy() {
    let outside = Outside::start();
    let project = copy_with(Some(CONFIGURED_CSP), true);
    let pack = bin("auroraview-pack");
    framed_session(
        &[pack.as_os_str(), "dev".as_ref(), "--config".as_ref(), project.config_path().as_os_str()],
        &outside,
    );
}

/// (c) With a policy that lets the outside server be framed: the frame loads, sees no bridge,
/// posts straight to WebKit's handler, and nothing it posts reaches Python or the browser.
fn framed_session(command: &[&OsStr], outside: &Outside) {
    let s = session(command, outside);
    check_common(&s, outside);
    let ctx = format!("findings: {:#}\nrequests: {:?}\nlog:\n{}", s.findings, outside.requests(), s.log);
    assert_eq!(s.findings["csp"], CONFIGURED_CSP, "{ctx}");
    assert_eq!(s.findings["eval"], "2", "the configured policy allows eval; {ctx}");
    assert_eq!(s.findings["frame"], "done", "{ctx}");
    let reports = outside.reports();
    let frame = reports.iter().find(|r| r["where"] == "frame").unwrap_or_else(|| panic!("no frame report; {ctx}"));
    assert_eq!(
        (&frame["bridge"], &frame["ipc"], &frame["dispatch"], &frame["posted"]),
        (&json!("undefined"), &json!("undefined"), &json!("undefined"), &json!(true)),
        "{ctx}"
    );
    assert_ne!(frame["parentBridge"], "object", "{ctx}");
    assert_eq!(frame["open"], "null", "the frame's popup was blocked; {ctx}");
    let nav =
        reports.iter().find(|r| r["where"] == "frame-nav").unwrap_or_else(|| panic!("no frame-nav report; {ctx}"));
    assert_eq!((&nav["bridge"], &nav["posted"]), (&json!("undefined"), &json!(true)), "{ctx}");
    // Its messages reached the window and were dropped (the window's debug log says so).
    assert!(s.log.contains("dropped a message to Python"), "{ctx}");
    // Neither its own navigation nor anything it posted or opened reached the browser.
    for o in &s.opened {
        assert!(!o.contains("frame"), "the frame opened {o}; {ctx}");
    }
    assert!(!s.secret_ran, "{ctx}");
}
