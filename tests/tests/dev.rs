//! `auroraview-pack dev` and `python main.py`: running an app from its sources.

mod common;

use common::*;
use serde_json::Value;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn dev_project() -> Project {
    let p = Project::new();
    p.write(
        "main.py",
        "import os\nfrom auroraview import WebView\n\ndef run():\n    v = WebView()\n    v.bind_call('api.v', lambda: 1)\n    v.bind_call('api.where', lambda: [os.environ.get('AURORAVIEW_DEV'), os.getpid()])\n    v.show()\n\nif __name__ == '__main__':\n    run()\n",
    );
    p.write("helper_mod.py", "X = 1\n");
    p.config("[app]\nname = \"devapp\"\n");
    p
}

#[test]
fn dev_reload_restarts_python_when_code_changes() {
    let p = dev_project();
    let mut cmd = Command::new(bin("auroraview-pack"));
    cmd.args(["dev", "--headless", "--reload", "--config"])
        .arg(p.config_path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut app = Headless::spawn(cmd);
    assert_eq!(app.call("api.v", Value::Null)["result"], 1, "{}", app.stderr());
    std::thread::sleep(Duration::from_millis(1100)); // a new mtime, even on coarse clocks
    p.write("main.py", "from auroraview import WebView\n\ndef run():\n    v = WebView()\n    v.bind_call('api.v', lambda: 2)\n    v.show()\n");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = app.call("api.v", Value::Null);
        if r["result"] == 2 {
            break;
        }
        assert!(Instant::now() < deadline, "the edit was never picked up: {r}\n{}", app.stderr());
        std::thread::sleep(Duration::from_millis(200));
    }
    let (code, stderr) = app.finish();
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("restarting the backend"), "{stderr}");
}

fn python_main(p: &Project, with_packer_on_path: bool) -> Headless {
    let path = std::env::var("PATH").unwrap_or_default();
    let path = if with_packer_on_path { format!("{}:{path}", bin_dir().display()) } else { path };
    let mut cmd = Command::new("python3");
    cmd.arg("main.py")
        .arg("--headless")
        .current_dir(p.path())
        .env("PATH", path)
        .env("PYTHONPATH", repo_root().join("python"))
        .env_remove("AURORAVIEW_PACK")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    Headless::spawn(cmd)
}

#[test]
fn python_main_runs_through_the_runtime() {
    let p = dev_project();
    let mut app = python_main(&p, true);
    assert_eq!(app.call("api.v", Value::Null)["result"], 1, "{}", app.stderr());
    // The started process became the runtime, and Python runs as its child.
    let where_ = app.call("api.where", Value::Null);
    assert_eq!(where_["result"][0], "1", "{where_}");
    assert_ne!(where_["result"][1].as_u64().unwrap(), app.child.id() as u64);
    let (code, stderr) = app.finish();
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn python_main_without_the_runtime_says_how_to_get_it() {
    let p = dev_project();
    let mut app = python_main(&p, false);
    assert_eq!(app.call("api.v", Value::Null)["result"], 1);
    let (code, stderr) = app.finish();
    assert_eq!(code, 0);
    assert!(stderr.contains("auroraview-pack is not on PATH") && stderr.contains("cargo build --release"), "{stderr}");
}
