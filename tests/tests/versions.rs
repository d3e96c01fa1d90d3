//! One runtime stub per CPython minor version: the same small app packed for 3.9, 3.10, 3.12 and
//! 3.13 (3.11 is every other test's) with the `standalone` and `pyoxidizer` strategies, run with
//! every Python of the machine hidden. A version whose pyenv CPython is absent is skipped, saying
//! so; one that is installed must have its stub (`ci/build-stubs`), or
//! `every_installed_pyenv_version_has_its_stub` fails.

mod common;

use common::*;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// The versions the stubs are built for (`ci/build-stubs`).
const VERSIONS: [&str; 5] = ["3.9", "3.10", "3.11", "3.12", "3.13"];

/// The pyenv CPython `X.Y.z` of `version`, if installed.
fn pyenv_python(version: &str) -> Option<PathBuf> {
    let versions = Path::new(&std::env::var_os("HOME")?).join(".pyenv/versions");
    let mut found: Vec<PathBuf> = fs_err::read_dir(&versions)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.strip_prefix(version).and_then(|rest| rest.strip_prefix('.')).is_some_and(|z| z.parse::<u32>().is_ok())
        })
        .map(|p| p.join(format!("bin/python{version}")))
        .filter(|p| p.is_file())
        .collect();
    found.sort();
    found.pop()
}

/// Where `ci/build-stubs` puts the stub of `version`: `target/stubs/X.Y/release/`.
fn stub_path(version: &str) -> PathBuf {
    let dir = bin_dir();
    dir.parent().unwrap().join("stubs").join(version).join(dir.file_name().unwrap()).join("auroraview-runtime")
}

#[test]
fn every_installed_pyenv_version_has_its_stub() {
    for version in VERSIONS {
        let Some(python) = pyenv_python(version) else {
            eprintln!("skipping Python {version}: no pyenv CPython {version} on this machine");
            continue;
        };
        let stub = stub_path(version);
        let bytes = fs_err::read(&stub).unwrap_or_else(|_| {
            panic!("{} is missing although {} is installed: run ci/build-stubs", stub.display(), python.display())
        });
        let marker = format!("AURORAVIEW-STUB-INFO:python={version};end");
        assert!(
            bytes.windows(marker.len()).any(|w| w == marker.as_bytes()),
            "{} does not link Python {version}: run ci/build-stubs",
            stub.display()
        );
    }
}

const MAIN: &str = r#"
import os
import subprocess
import sys
import tempfile

import verdata
from auroraview import WebView

view = WebView()


@view.bind_call("api.version")
def version():
    return list(sys.version_info[:2])


@view.bind_call("api.add")
def add(a, b):
    return a + b


@view.bind_call("api.data")
def data():
    return verdata.read()


@view.bind_call("api.command")
def command():
    # `python script.py` puts the script's directory first on sys.path, as python does.
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "sibling.py"), "w") as f:
            f.write("NAME = 'sibling'\n")
        with open(os.path.join(d, "script.py"), "w") as f:
            f.write("import sys, sibling\nprint('%d.%d' % sys.version_info[:2], sibling.NAME)\n")
        out = subprocess.run([sys.executable, os.path.join(d, "script.py")], capture_output=True, text=True, timeout=60)
    return {"code": out.returncode, "out": out.stdout.strip(), "err": out.stderr[-2000:]}


def run():
    view.show()
"#;

const DATA: &str = r#"
import importlib.resources


def read():
    return importlib.resources.files(__name__).joinpath("data.txt").read_text(encoding="utf-8").strip()
"#;

fn check(version: &str, strategy: &str) {
    run_checks(version, strategy, true)
}

/// `embedded` and `system` use the machine's Python of that version: it stays visible, first on
/// PATH (a pyenv shim of a version that is not the global one does not run).
fn check_on_machine(version: &str, strategy: &str) {
    run_checks(version, strategy, false)
}

fn run_checks(version: &str, strategy: &str, hide_python: bool) {
    let Some(python) = pyenv_python(version) else {
        eprintln!("skipping Python {version} ({strategy}): no pyenv CPython {version} on this machine");
        return;
    };
    let p = Project::new();
    p.write("app/main.py", &format!("{MAIN}{EXTENSIONS_HANDLER}"))
        .write("app/verdata/__init__.py", DATA)
        .write("app/verdata/data.txt", "data for verdata\n");
    p.config(&format!(
        "[app]\nname = \"versions\"\n\n[frontend]\npath = \"frontend\"\n\n[python]\nentry_point = \"main:run\"\ninclude_paths = [\"app\"]\nversion = \"{version}\"\nstrategy = \"{strategy}\"\n"
    ));
    let out = p.pack_output(&[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "packing for Python {version} ({strategy}) failed:\n{stderr}");
    let exe = PathBuf::from(String::from_utf8(out.stdout).unwrap().split('\t').next().unwrap().trim());

    let cache = tempfile::tempdir().unwrap();
    let mut app = if hide_python {
        Headless::spawn(with_hidden(&python_installations(), &exe, cache.path()))
    } else {
        let mut cmd = headless_command(&exe, cache.path());
        let path = format!("{}:{}", python.parent().unwrap().display(), std::env::var("PATH").unwrap_or_default());
        cmd.env("PATH", path);
        Headless::spawn(cmd)
    };
    let (major, minor) = version.split_once('.').unwrap();
    let expected = json!([major.parse::<u32>().unwrap(), minor.parse::<u32>().unwrap()]);
    let r = app.call("api.version", Value::Null);
    assert_eq!(r["result"], expected, "{version} {strategy}: {r}\n{}", app.stderr());
    assert_eq!(app.call("api.add", json!([2, 40]))["result"], 42, "{version} {strategy}");
    // Extension modules resolve CPython's API against the stub, which exports it.
    let r = app.call("api.extensions", Value::Null);
    assert!(r["result"]["count"].as_u64().unwrap_or(0) > 40, "{version} {strategy}: {r}\n{}", app.stderr());
    assert_eq!(r["result"]["failed"], json!({}), "{version} {strategy}: {r}");
    let r = app.call("api.data", Value::Null);
    assert_eq!(r["result"], "data for verdata", "{version} {strategy}: importlib.resources: {r}\n{}", app.stderr());
    let r = app.call("api.command", Value::Null);
    assert_eq!(r["result"]["code"], 0, "{version} {strategy}: sys.executable: {r}\n{}", app.stderr());
    assert_eq!(r["result"]["out"], format!("{version} sibling"), "{version} {strategy}: {r}");
    let (code, stderr) = app.finish();
    assert_eq!(code, 0, "{version} {strategy}: {stderr}");
}

#[test]
fn python_3_9_standalone() {
    check("3.9", "standalone");
}

#[test]
fn python_3_9_pyoxidizer() {
    check("3.9", "pyoxidizer");
}

#[test]
fn python_3_10_standalone() {
    check("3.10", "standalone");
}

#[test]
fn python_3_10_pyoxidizer() {
    check("3.10", "pyoxidizer");
}

#[test]
fn python_3_12_standalone() {
    check("3.12", "standalone");
}

#[test]
fn python_3_12_pyoxidizer() {
    check("3.12", "pyoxidizer");
}

#[test]
fn python_3_13_standalone() {
    check("3.13", "standalone");
}

#[test]
fn python_3_13_pyoxidizer() {
    check("3.13", "pyoxidizer");
}

#[test]
fn a_missing_stub_is_named_with_the_command_that_builds_it() {
    // A packer and its 3.11 stub in a target/release of their own, with no target/stubs beside.
    let target = tempfile::tempdir().unwrap();
    let release = target.path().join("release");
    fs_err::create_dir_all(&release).unwrap();
    for name in ["auroraview-pack", "auroraview-runtime"] {
        fs_err::copy(bin(name), release.join(name)).unwrap();
    }
    let p = Project::new();
    p.write("main.py", "def run(): pass\n");
    let pack = |version: &str| {
        p.config(&format!("[app]\nname = \"x\"\n\n[python]\nversion = \"{version}\"\n"));
        let out = std::process::Command::new(release.join("auroraview-pack"))
            .args(["build", "--config"])
            .arg(p.config_path())
            .env("AURORAVIEW_CACHE_DIR", pack_cache())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let stderr = pack("3.12");
    let missing = target.path().join("stubs/3.12/release/auroraview-runtime");
    assert!(stderr.contains(&missing.display().to_string()) && stderr.contains("`ci/build-stubs 3.12`"), "{stderr}");
    let stderr = pack("3.8");
    assert!(stderr.contains("3.9, 3.10, 3.11, 3.12, 3.13") && stderr.contains("hint:"), "{stderr}");
    assert!(!p.path().join("dist").exists());
}

#[test]
fn python_3_12_portable() {
    check("3.12", "portable");
}

#[test]
fn python_3_12_embedded() {
    check_on_machine("3.12", "embedded");
}

#[test]
fn python_3_12_system() {
    check_on_machine("3.12", "system");
}
