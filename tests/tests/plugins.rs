//! The native plugins (shell, process, dialog, clipboard) of packed apps: denied unless
//! `[plugins]` grants them, from the page and from Python alike; a URL reaches the system's
//! handler (a stub `xdg-open` on PATH records it), a process's output streams as events and the
//! process dies with the app, a GTK file dialog driven with xdotool under Xvfb returns its path,
//! and the clipboard round-trips through the X server.

mod common;

use common::*;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const GRANTS: &str = r#"
[plugins.shell]
open = ["https"]
which = ["sh"]
execute = ["sh"]
[plugins]
process = true
clipboard = true
[plugins.dialog]
open_file = true
"#;

/// tests/apps/plugins packed with `python_extra` under `[python]` and `plugins` appended.
fn pack(python_extra: &str, plugins: &str) -> (Project, PathBuf) {
    let p = Project::copy_of("plugins", python_extra);
    let config = fs_err::read_to_string(p.config_path()).unwrap();
    p.config(&format!("{config}\n{plugins}"));
    let exe = p.pack();
    (p, exe)
}

fn poll<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn every_command_is_denied_without_a_grant_from_python_headless() {
    let (_p, exe) = pack("", "");
    let cache = tempfile::tempdir().unwrap();
    let mut app = Headless::start(&exe, cache.path());
    for (method, key) in [
        ("shell.open", "[plugins.shell] open"),
        ("shell.execute", "[plugins.shell] execute"),
        ("process.spawn", "[plugins.process] spawn"),
        ("process.list", "[plugins.process] list"),
        ("dialog.open_file", "[plugins.dialog] open_file"),
        ("clipboard.read_text", "[plugins.clipboard] read_text"),
    ] {
        let params = match method {
            "shell.open" => json!({"url": "https://example.test/"}),
            "shell.execute" | "process.spawn" => json!({"program": "true"}),
            _ => json!({}),
        };
        let r = app.call("api.plugin", json!([method, params]));
        let r = &r["result"];
        assert_eq!(r["ok"], false, "{method}: {r}");
        assert_eq!((r["type"].as_str(), r["class"].as_str()), (Some("PermissionDenied"), Some("PermissionDenied")));
        let message = r["error"].as_str().unwrap();
        assert!(message.contains(key) && message.contains("auroraview.pack.toml"), "{method}: {message}");
    }
    let (code, stderr) = app.finish();
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn python_runs_granted_commands_and_gets_process_events_headless() {
    for extra in ["", "isolation = \"process\"", "strategy = \"system\""] {
        python_runs_granted_commands(extra);
    }
}

fn python_runs_granted_commands(python_extra: &str) {
    let (_p, exe) = pack(python_extra, GRANTS);
    let cache = tempfile::tempdir().unwrap();
    let mut app = Headless::start(&exe, cache.path());
    let typed = app.call("api.typed", json!([]));
    let t = &typed["result"];
    assert!(t["which"].as_str().is_some_and(|p| p.ends_with("/sh")), "{typed}");
    assert_eq!(t["execute"], json!({"code": 0, "signal": null, "stdout": "piped in", "stderr": "err\n"}));
    assert!(t["denied"].as_str().unwrap().contains("[plugins.shell] open"), "{typed}");
    let pid = t["pid"].as_u64().unwrap();
    // The process's lines arrive in order, then its exit, at the handlers of view.on().
    let events = poll("the process's exit event", || {
        let events = app.call("api.events", json!([]))["result"].clone();
        let done = events.as_array().unwrap().iter().any(|e| e["event"] == "process.exit" && e["data"]["pid"] == pid);
        done.then_some(events)
    });
    let mine: Vec<&Value> = events.as_array().unwrap().iter().filter(|e| e["data"]["pid"] == pid).collect();
    let lines: Vec<&str> =
        mine.iter().filter(|e| e["event"] == "process.stdout").map(|e| e["data"]["line"].as_str().unwrap()).collect();
    assert_eq!(lines, ["first", "second"], "{events}");
    assert_eq!(mine.last().unwrap()["data"]["code"], 0, "{events}");
    // A scope outside the grant, and a program that is not granted.
    let r = app.call("api.plugin", json!(["shell.execute", {"program": "ls"}]));
    assert!(r["result"]["error"].as_str().unwrap().contains("[plugins.shell] execute"), "{r}");
    let r = app.call("api.plugin", json!(["shell.execute", {"program": "/bin/sh", "args": ["-c", "true"]}]));
    assert_eq!(r["result"]["type"], "PermissionDenied", "a granted name does not grant a path: {r}");
    let r = app.call("api.plugin", json!(["shell.execute", {"program": "sh", "bogus": 1}]));
    assert_eq!(r["result"]["type"], "InvalidParams", "{r}");
    // A dialog needs the window.
    let r = app.call("api.plugin", json!(["dialog.open_file", {}]));
    assert_eq!(r["result"]["type"], "PluginError", "{r}");
    let (code, stderr) = app.finish();
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn processes_die_with_the_app_when_it_is_killed() {
    for extra in ["", "isolation = \"process\""] {
        let (_p, exe) = pack(extra, GRANTS);
        let cache = tempfile::tempdir().unwrap();
        let mut app = Headless::start(&exe, cache.path());
        let r = app.call("api.plugin", json!(["process.spawn", {"program": "sleep", "args": ["300"]}]));
        let pid = r["result"]["result"]["pid"].as_u64().unwrap_or_else(|| panic!("{r}")) as u32;
        assert!(alive(pid));
        let listed = app.call("api.plugin", json!(["process.list", {}]));
        assert_eq!(listed["result"]["result"][0]["pid"], pid, "{listed}");
        app.child.kill().unwrap();
        let _ = app.child.wait();
        poll("the spawned process to die with the app", || (!alive(pid)).then_some(()));
    }
}

#[test]
fn external_bin_programs_are_granted_by_extract_dir_glob() {
    let p = Project::copy_of("plugins", "external_bin = [\"tools/hello.sh\"]");
    p.write("tools/hello.sh", "#!/bin/sh\necho hello from $0\n");
    use std::os::unix::fs::PermissionsExt;
    fs_err::set_permissions(p.path().join("tools/hello.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = fs_err::read_to_string(p.config_path()).unwrap();
    p.config(&format!("{config}\n[plugins.shell]\nexecute = [\"$EXTRACT_DIR/bin/*\"]\n"));
    let exe = p.pack();
    let cache = tempfile::tempdir().unwrap();
    let mut app = Headless::start(&exe, cache.path());
    let root = app.call("api.env", json!(["AURORAVIEW_APP_DIR"]))["result"].as_str().unwrap().to_string();
    let tool = format!("{root}/python/bin/hello.sh");
    let r = app.call("api.plugin", json!(["shell.execute", {"program": tool}]));
    assert_eq!(r["result"]["result"]["stdout"].as_str().map(|s| s.starts_with("hello from")), Some(true), "{r}");
    // Outside the glob: the same directory's parent, and a path climbing back out of it.
    for other in [format!("{root}/python/main.py"), format!("{root}/python/bin/../main.py"), "/bin/sh".to_string()] {
        let r = app.call("api.plugin", json!(["shell.execute", {"program": other}]));
        assert_eq!(r["result"]["type"], "PermissionDenied", "{other}: {r}");
    }
    let (code, stderr) = app.finish();
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn bad_grants_are_refused_at_pack_time_naming_the_key() {
    for (plugins, key, says) in [
        ("[plugins.shell]\nopn = true\n", "plugins.shell.opn", "unknown command"),
        ("[plugins.shell]\nopen = [\"HTTPS\"]\n", "plugins.shell.open", "scheme"),
        ("[plugins.dialog]\nconfirm = [\"x\"]\n", "plugins.dialog.confirm", "true or false"),
        ("[plugins]\npython = \"everything\"\n", "plugins.python", "trusted"),
        ("[plugins.shell]\nexecute = [\"$NOWHERE/bin/*\"]\n", "plugins.shell.execute", "unknown variable"),
    ] {
        let p = Project::copy_of("plugins", "");
        let config = fs_err::read_to_string(p.config_path()).unwrap();
        p.config(&format!("{config}\n{plugins}"));
        let out = p.pack_output(&[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{plugins}");
        assert!(stderr.contains(key) && stderr.contains(says), "{plugins}: {stderr}");
        assert!(stderr.contains("auroraview.pack.toml"), "names the file: {stderr}");
    }
}

#[test]
fn inspect_lists_the_granted_permissions() {
    let (_p, exe) = pack("", GRANTS);
    let grants = &inspect(&exe)["manifest"]["plugins"]["grants"];
    assert_eq!(grants["shell.open"], json!(["https"]), "{grants}");
    assert_eq!(grants["process"], true, "{grants}");
    let out = Command::new(bin("auroraview-pack")).arg("inspect").arg(&exe).output().unwrap();
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(listing.contains("plugins:    shell.open = https"), "{listing}");
    assert!(listing.contains("plugins:    process = true"), "{listing}");
}

/// Runs the app under Xvfb (`$3...`): waits for the dialog the page opens, reads the clipboard
/// with xclip meanwhile, then types a path into the dialog's location bar and presses Return,
/// again after a pause for as long as the dialog stays up (a loaded machine may drop keys sent
/// before the dialog is ready), waits for the page's report, then kills the app. `$1`: work dir,
/// `$2`: the path to choose.
const SCRIPT: &str = r#"
work="$1"; choose="$2"; shift 2
"$@" > "$work/app.log" 2>&1 &
app=$!
dialog() { xdotool search --onlyvisible --name "Pick a file" 2>/dev/null | head -n1; }
if [ -n "$DRIVE_DIALOG" ]; then
  i=0; win=$(dialog)
  while [ -z "$win" ] && [ $i -lt 1200 ] && kill -0 $app 2>/dev/null; do sleep 0.1; i=$((i+1)); win=$(dialog); done
  echo "dialog window: ${win:-none} after $i polls" >> "$work/xdotool.log"
  xclip -o -selection clipboard > "$work/clipboard.txt" 2>> "$work/xclip.log"
  tries=0
  while [ -n "$win" ] && [ $tries -lt 8 ] && [ -n "$(dialog)" ]; do
    sleep $((tries + 1))
    tries=$((tries+1))
    echo "typing, try $tries" >> "$work/xdotool.log"
    xdotool windowfocus --sync "$win" 2>> "$work/xdotool.log"
    xdotool key --clearmodifiers ctrl+l 2>> "$work/xdotool.log"
    sleep 0.3
    xdotool key --clearmodifiers ctrl+a 2>> "$work/xdotool.log"
    xdotool type --delay 30 "$choose" 2>> "$work/xdotool.log"
    sleep 0.5
    xdotool key Return 2>> "$work/xdotool.log"
    j=0; while [ -n "$(dialog)" ] && [ $j -lt 30 ]; do sleep 0.1; j=$((j+1)); done
  done
fi
i=0
while [ ! -s "$PLUGINS_REPORT" ] && [ $i -lt 1800 ] && kill -0 $app 2>/dev/null; do sleep 0.1; i=$((i+1)); done
sleep 0.5
kill -9 $app
wait $app
"#;

fn gui_session(exe: &Path, scenario: &str, work: &Path) -> (Value, String) {
    let report = work.join("report.json");
    let bin = work.join("bin");
    fs_err::create_dir_all(&bin).unwrap();
    let opened = work.join("opened.txt");
    // The system's URL handler, replaced by one that records what it was given.
    let stub = bin.join("xdg-open");
    fs_err::write(&stub, format!("#!/bin/sh\nprintf '%s\\n' \"$1\" >> '{}'\n", opened.display())).unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs_err::set_permissions(&stub, std::fs::Permissions::from_mode(0o755)).unwrap();
    let chosen = work.join("chosen.txt");
    fs_err::write(&chosen, "pick me").unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());

    let mut cmd = Command::new("xvfb-run");
    cmd.args(["-a", "-s", "-screen 0 1024x768x24", "sh", "-c", SCRIPT, "sh"])
        .arg(work)
        .arg(&chosen)
        .arg(exe)
        .env("PATH", path)
        .env("AURORAVIEW_CACHE_DIR", work.join("cache"))
        .env("PLUGINS_REPORT", &report)
        .env("PLUGINS_SCENARIO", scenario);
    if scenario == "granted" {
        cmd.env("DRIVE_DIALOG", "1");
    }
    xdg_env(&mut cmd, work);
    let mut child = cmd.spawn().unwrap();
    wait_timeout(&mut child, Duration::from_secs(300));
    let mut log = fs_err::read_to_string(work.join("app.log")).unwrap_or_default();
    log += &fs_err::read_to_string(work.join("xdotool.log")).unwrap_or_default();
    let findings: Value = serde_json::from_slice(
        &fs_err::read(&report).unwrap_or_else(|_| panic!("the page reported nothing; app log:\n{log}")),
    )
    .unwrap();
    assert!(findings.get("failed").is_none(), "the page failed: {findings}\n{log}");
    (findings, log)
}

#[test]
fn every_command_is_denied_without_a_grant_from_the_page() {
    let (_p, exe) = pack("", "");
    let work = tempfile::tempdir().unwrap();
    let (f, _log) = gui_session(&exe, "denied", work.path());
    let commands = f["page"].as_object().unwrap();
    assert_eq!(commands.len(), 19, "{f}");
    for (method, outcome) in commands {
        for (who, o) in [("page", outcome), ("python", &f["python"][method])] {
            assert_eq!(o["ok"], false, "{who} {method}: {o}");
            assert_eq!(o["type"], "PermissionDenied", "{who} {method}: {o}");
            let (plugin, command) = method.split_once('.').unwrap();
            let key = format!("[plugins.{plugin}] {command}");
            assert!(o["error"].as_str().unwrap().contains(&key), "{who} {method}: {o}");
        }
    }
    assert!(!work.path().join("opened.txt").exists(), "nothing reached the system's handler");
}

#[test]
fn the_page_opens_urls_streams_processes_picks_a_file_and_copies() {
    let (_p, exe) = pack("", GRANTS);
    let work = tempfile::tempdir().unwrap();
    let (f, log) = gui_session(&exe, "granted", work.path());
    assert_eq!(f["open"]["ok"], true, "{f}");
    assert_eq!(f["openFile"]["type"], "PermissionDenied", "{f}");
    assert!(f["openFile"]["error"].as_str().unwrap().contains("[plugins.shell] open"), "{f}");
    let opened = fs_err::read_to_string(work.path().join("opened.txt")).unwrap_or_default();
    assert_eq!(opened, "https://example.test/from-page?q=1\n", "the stub xdg-open got exactly the granted URL");
    assert!(f["which"]["result"].as_str().is_some_and(|p| p.ends_with("/sh")), "{f}");
    assert_eq!(f["execute"]["result"]["stdout"], "hello\n", "{f}");
    assert_eq!(f["executeOther"]["type"], "PermissionDenied", "{f}");
    assert_eq!(f["lines"], json!(["got one", "two"]), "{f}");
    assert_eq!(f["exit"]["code"], 0, "{f}");
    let sleeper = f["sleeper"].as_u64().unwrap() as u32;
    assert!(f["list"].as_array().unwrap().contains(&sleeper.into()), "{f}");
    // The clipboard: what the page wrote is what the page, Python and the X server read.
    assert_eq!(f["clipboardWrite"]["ok"], true, "{f}");
    assert_eq!(f["clipboardRead"]["result"], "copied from the page ✓", "{f}");
    assert_eq!(f["pythonClipboard"]["result"], "copied from the page ✓", "{f}");
    let xclip = fs_err::read_to_string(work.path().join("clipboard.txt")).unwrap_or_default();
    assert_eq!(xclip, "copied from the page ✓", "xclip read the X clipboard");
    assert_eq!(f["typed"]["ok"], true, "{f}");
    // The file dialog, driven by xdotool.
    let chosen = work.path().join("chosen.txt");
    assert_eq!(f["dialog"]["result"], chosen.display().to_string(), "{f}\n{log}");
    // The app was killed: its process went with it.
    poll("the page's process to die with the app", || (!alive(sleeper)).then_some(()));
}
