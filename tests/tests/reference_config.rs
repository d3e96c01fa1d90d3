//! A config in the reference AuroraView's format (`[package]`, `[backend.python]`, ...), modeled on
//! its fullstack Python example: packed as it is, refused with the line of an unsupported key, and
//! rewritten by `auroraview-pack migrate` into a config that packs the same app.

mod common;

use common::*;
use serde_json::json;
use std::path::Path;
use std::process::Command;

const REFERENCE: &str = r#"# Full-stack Python app, in the reference AuroraView's format
[package]
name = "refapp"
version = "1.2.3"
title = "Reference App"

[frontend]
path = "./dist"

# The Python backend
[backend]
type = "python"

[backend.python]
version = "3.11"
entry_point = "main:run"
include_paths = ["./backend"]
exclude = ["*.pyc", "tests"]
strategy = "standalone"

[window]
width = 900
height = 600
resizable = true

[bundle]
resources = []

[build]
before = ["mkdir -p dist", "cp web/index.html dist/index.html"]
out_dir = "./pack-output"

# Data files the backend reads
[[hooks.collect]]
source = "./data/*.txt"
dest = "resources/data"
description = "Greeting text"

[runtime.env]
APP_ENV = "production"
"#;

fn copy_dir(src: &Path, dst: &Path) {
    for entry in fs_err::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        let to = dst.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            if entry.file_name() == "__pycache__" {
                continue;
            }
            fs_err::create_dir_all(&to).unwrap();
            copy_dir(&entry.path(), &to);
        } else {
            fs_err::copy(entry.path(), &to).unwrap();
        }
    }
}

/// A copy of `tests/apps/reference` with `config` as its `auroraview.pack.toml`.
fn project(config: &str) -> Project {
    let p = Project { dir: tempfile::tempdir().unwrap() };
    copy_dir(&repo_root().join("tests/apps/reference"), p.path());
    p.config(config);
    p
}

fn pack(p: &Project) -> std::path::PathBuf {
    let out = p.pack_output(&["--build"]);
    assert!(out.status.success(), "pack failed:\n{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    std::path::PathBuf::from(stdout.split('\t').next().unwrap().trim())
}

/// Runs the packed app headless: a call's answer and the `[runtime.env]` value.
fn check_runs(exe: &Path) {
    let m = inspect(exe);
    assert_eq!(m["manifest"]["app"]["name"], "refapp", "{m}");
    assert_eq!(m["manifest"]["app"]["version"], "1.2.3");
    assert_eq!(m["manifest"]["app"]["title"], "Reference App");
    assert_eq!(m["manifest"]["window"]["width"], 900);
    let cache = tempfile::tempdir().unwrap();
    let mut app = Headless::start(exe, cache.path());
    let sum = app.call("api.add", json!([2, 3]));
    assert_eq!(sum["result"], 5, "{sum}\n{}", app.stderr());
    let env = app.call("api.env", serde_json::Value::Null);
    assert_eq!(env["result"]["app_env"], "production", "{env}\n{}", app.stderr());
    assert_eq!(env["result"]["greeting"], "hello from data", "{env}");
    let (code, stderr) = app.finish();
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn reference_config_packs_and_runs() {
    let p = project(REFERENCE);
    let exe = pack(&p);
    check_runs(&exe);
}

#[test]
fn unsupported_key_fails_with_its_line() {
    let config = REFERENCE.replace("resizable = true\n", "resizable = true\ntransparent = true\n");
    let line = config.lines().position(|l| l == "transparent = true").unwrap() + 1;
    let p = project(&config);
    let out = p.pack_output(&["--build"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("auroraview.pack.toml:{line}:15: `window.transparent`")), "{stderr}");
    assert!(stderr.contains("not supported yet"), "{stderr}");
    assert!(!p.path().join("dist/refapp").exists());

    let migrate =
        Command::new(bin("auroraview-pack")).arg("migrate").arg("--config").arg(p.config_path()).output().unwrap();
    assert!(!migrate.status.success());
    assert!(String::from_utf8_lossy(&migrate.stderr).contains(&format!(":{line}:15: `window.transparent`")));
}

#[test]
fn migrated_config_packs_and_runs_the_same() {
    let p = project(REFERENCE);
    let migrate = |args: &[&str]| {
        Command::new(bin("auroraview-pack"))
            .arg("migrate")
            .arg("--config")
            .arg(p.config_path())
            .args(args)
            .output()
            .unwrap()
    };
    // To stdout: the original is left alone.
    let out = migrate(&[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed = String::from_utf8(out.stdout).unwrap();
    assert!(printed.contains("[app]\nname = \"refapp\""), "{printed}");
    assert!(printed.contains("# The Python backend"), "comments kept:\n{printed}");
    assert!(printed.contains("# Greeting text"), "{printed}");
    assert_eq!(fs_err::read_to_string(p.config_path()).unwrap(), REFERENCE);

    // --out never overwrites.
    let existing = p.path().join("taken.toml");
    fs_err::write(&existing, "x").unwrap();
    let out = migrate(&["--out", existing.to_str().unwrap()]);
    assert!(!out.status.success());
    assert_eq!(fs_err::read_to_string(&existing).unwrap(), "x");
    let fresh = p.path().join("ours.toml");
    let out = migrate(&["--out", fresh.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(fs_err::read_to_string(&fresh).unwrap(), printed);

    // --in-place: our format from then on, and the same app.
    let out = migrate(&["--in-place"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(fs_err::read_to_string(p.config_path()).unwrap(), printed);
    let again = migrate(&[]);
    assert!(!again.status.success(), "a config in our format is not migrated twice");
    let exe = pack(&p);
    check_runs(&exe);
}
