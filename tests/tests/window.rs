//! The packed app in a real window under Xvfb: the page calls Python through the bridge, and the
//! test checks what the page reported and, independently of the bridge, a screenshot.

mod common;

use common::*;
use std::process::Command;
use std::time::Duration;

/// Pixels of colour `rgb` in an XWD screenshot of a true-colour screen (24 or 32 bits per pixel).
fn count_pixels(xwd: &[u8], rgb: (u8, u8, u8)) -> (usize, usize) {
    let field = |i: usize| u32::from_be_bytes(xwd[i * 4..i * 4 + 4].try_into().unwrap()) as usize;
    let (header, width, height, byte_order, bpp, stride, ncolors) =
        (field(0), field(4), field(5), field(7), field(11), field(12), field(19));
    assert!(bpp == 24 || bpp == 32, "unexpected screenshot format: {bpp} bits per pixel");
    let bytes = bpp / 8;
    let (rm, gm, bm) = (field(14) as u32, field(15) as u32, field(16) as u32);
    let data = &xwd[header + ncolors * 12..];
    let mut hits = 0;
    for y in 0..height {
        for x in 0..width {
            let at = y * stride + x * bytes;
            let px = data[at..at + bytes].iter().enumerate().fold(0u32, |acc, (i, &v)| {
                if byte_order == 0 { acc | (v as u32) << (8 * i) } else { acc << 8 | v as u32 }
            });
            let ch = |mask: u32| ((px & mask) >> mask.trailing_zeros()) as u8;
            if (ch(rm), ch(gm), ch(bm)) == rgb {
                hits += 1;
            }
        }
    }
    (hits, width * height)
}

/// Runs the app (`$3...`) under Xvfb, waits for the page's report, takes screenshots, closes the
/// window as a window manager would, and records the exit code. `$1`: work dir, `$2`: x11_close.py.
const SCRIPT: &str = r#"
work="$1"; closer="$2"; shift 2
"$@" > "$work/app.log" 2>&1 &
app=$!
i=0
while [ ! -s "$GUI_REPORT" ] && [ $i -lt 600 ] && kill -0 $app 2>/dev/null; do sleep 0.1; i=$((i+1)); done
# A few screenshots: on a busy machine the page may paint its result a moment after reporting it.
for n in 1 2 3 4 5 6; do sleep 0.5; xwd -root -silent > "$work/shot$n.xwd"; done
# No window of that title to close: end the app, so the test fails on its exit code, not a hang.
python3 "$closer" "AuroraView GUI Test" || kill -9 $app
wait $app
echo $? > "$work/exit_code"
"#;

/// Packs tests/apps/gui with `python_extra` added to its `[python]` table.
fn pack_gui(python_extra: &str) -> (Project, std::path::PathBuf) {
    let p = Project::copy_of("gui", python_extra);
    let exe = p.pack();
    (p, exe)
}

#[test]
fn page_calls_python_and_closing_the_window_exits_zero() {
    page_session("");
}

#[test]
fn the_same_page_works_with_python_in_a_child_process() {
    page_session("isolation = \"process\"");
}

#[test]
fn the_same_page_works_with_the_machines_python() {
    page_session("strategy = \"system\"");
}

fn page_session(python_extra: &str) {
    let (_project, exe) = pack_gui(python_extra);
    page_session_of(&[exe.as_os_str()]);
}

#[test]
fn the_same_page_works_in_a_dev_run_from_sources() {
    let p = Project::copy_of("gui", "");
    let pack = bin("auroraview-pack");
    page_session_of(&[pack.as_os_str(), "dev".as_ref(), "--config".as_ref(), p.config_path().as_os_str()]);
}

/// Runs `command` (a packed app, or a dev run) under Xvfb and checks what its page reported.
pub fn page_session_of(command: &[&std::ffi::OsStr]) {
    let work = tempfile::tempdir().unwrap();
    let report = work.path().join("report.json");
    let closed = work.path().join("closed");

    let mut cmd = Command::new("xvfb-run");
    cmd.args(["-a", "-s", "-screen 0 800x600x24", "sh", "-c", SCRIPT, "sh"])
        .arg(work.path())
        .arg(repo_root().join("tests/support/x11_close.py"))
        .args(command)
        .env("AURORAVIEW_CACHE_DIR", work.path().join("cache"))
        .env("GUI_REPORT", &report)
        .env("GUI_CLOSED", &closed);
    xdg_env(&mut cmd, work.path());
    let mut child = cmd.spawn().unwrap();
    wait_timeout(&mut child, Duration::from_secs(180));
    let log = fs_err::read_to_string(work.path().join("app.log")).unwrap_or_default();

    let findings: serde_json::Value = serde_json::from_slice(
        &fs_err::read(&report).unwrap_or_else(|_| panic!("the page reported nothing; app log:\n{log}")),
    )
    .unwrap();
    let f = |k: &str| findings[k].clone();
    assert_eq!(f("bridgeAtFirstScript"), true, "bridge installed before page scripts: {findings}");
    assert_eq!(f("readyEvent"), true);
    assert_eq!(f("add"), 5, "{findings}");
    assert_eq!(f("shortcut"), 9, "{findings}");
    assert_eq!(f("boom")["message"], "kaboom", "{findings}");
    assert_eq!(f("boom")["type"], "ValueError");
    assert_eq!(f("boom")["isError"], true);
    assert_eq!(f("boom")["traceback"], true);
    assert_eq!(f("tick"), serde_json::json!({"n": 41}));
    assert_eq!(f("seen"), serde_json::json!([{"x": 1}]));
    assert_eq!(f("timeout"), "TimeoutError");
    assert_eq!(f("many"), true);
    assert_eq!((f("missing"), f("escape"), f("index")), (404.into(), 404.into(), 200.into()));

    // Independent of the bridge: the page turned green, which it does only if every check passed.
    let (green, total) = (1..=6)
        .filter_map(|n| fs_err::read(work.path().join(format!("shot{n}.xwd"))).ok())
        .map(|shot| count_pixels(&shot, (0, 200, 83)))
        .max()
        .expect("screenshots were taken");
    assert!(green > total / 4, "{green} of {total} pixels are the success colour; log:\n{log}");

    let code = fs_err::read_to_string(work.path().join("exit_code")).unwrap_or_default();
    assert_eq!(code.trim(), "0", "exit code after closing the window; log:\n{log}");
    assert!(closed.is_file(), "code after view.show() ran on close");
}

#[test]
fn python_ending_closes_the_window_with_its_exit_code() {
    for extra in ["", "isolation = \"process\""] {
        python_ending_closes(extra);
    }
}

fn python_ending_closes(python_extra: &str) {
    let (_project, exe) = pack_gui(python_extra);
    let work = tempfile::tempdir().unwrap();
    let mut cmd = Command::new("xvfb-run");
    cmd.args(["-a", "-s", "-screen 0 800x600x24"])
        .arg(&exe)
        .env("AURORAVIEW_CACHE_DIR", work.path().join("cache"))
        .env("GUI_EXIT", "4");
    xdg_env(&mut cmd, work.path());
    let mut child = cmd.spawn().unwrap();
    assert_eq!(wait_timeout(&mut child, Duration::from_secs(120)), 4);
}
