//! `auroraview-pack build`, `inspect` and `extract` on real apps.

mod common;

use common::*;
use std::process::Command;

#[test]
fn hello_lands_in_the_overlay_layout() {
    let dir = tempfile::tempdir().unwrap();
    let out = pack_repo_config("examples/hello/auroraview.pack.toml", dir.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let exe = dir.path().join("hello");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(&exe.display().to_string()) && stdout.contains("MiB"), "where and how big: {stdout}");

    let info = inspect(&exe);
    let m = &info["manifest"];
    assert_eq!(m["app"]["name"], "hello");
    assert_eq!(m["app"]["title"], "Hello AuroraView");
    assert_eq!(m["window"]["width"], 800);
    assert_eq!(m["python"]["strategy"], "standalone");
    assert_eq!(m["python"]["entry_point"], "main:run");
    assert!(m["content_hash"].as_str().unwrap().starts_with("blake3:"));
    assert!(m["runtime"]["python_version"].as_str().unwrap().starts_with("3.11."));
    assert_eq!(m["gui"], "gui/libauroraview_window.so");

    let paths = entry_paths(&exe);
    for expected in [
        "frontend/index.html",
        "python/main.py",
        "python/__pycache__/main.cpython-311.pyc",
        "python/site-packages/auroraview/__init__.py",
        "python/site-packages/auroraview/_router.py",
        "python_runtime.json",
        "runtime/modules.avm",
        "gui/libauroraview_window.so",
    ] {
        assert!(paths.iter().any(|p| p == expected), "{expected} missing");
    }
    assert!(paths.iter().any(|p| p.starts_with("runtime/lib/python3.11/lib-dynload/_ssl.")), "lib-dynload");
    for trimmed in ["/test/", "/idlelib/", "/ensurepip/", "/tkinter/", "/config-3.11", "/site-packages/pip/"] {
        assert!(!paths.iter().any(|p| p.starts_with("runtime/") && p.contains(trimmed)), "{trimmed} not trimmed");
    }
    // The config, the output dir and the frontend are not app code.
    assert!(
        !paths.iter().any(|p| p.starts_with("python/frontend") || p.starts_with("python/dist") || p.ends_with(".toml"))
    );

    let extracted = dir.path().join("x");
    let status = Command::new(bin("auroraview-pack")).arg("extract").arg(&exe).arg(&extracted).status().unwrap();
    assert!(status.success());
    let runtime_json: serde_json::Value =
        serde_json::from_slice(&fs_err::read(extracted.join("python_runtime.json")).unwrap()).unwrap();
    assert_eq!(runtime_json["version"], m["runtime"]["python_version"]);
    // The stdlib's bytecode is one module table: the runtime is about a hundred files (extension
    // modules, bundled libraries, the few modules Python needs before the table's importer, and
    // data files), not thousands.
    let runtime_files = runtime_json["file_count"].as_u64().unwrap();
    assert!((50..150).contains(&runtime_files), "{runtime_files} runtime files");
    let bootstrap = ["encodings/", "abc.py", "codecs.py", "io.py", "__pycache__/"];
    let strays: Vec<&String> = paths
        .iter()
        .filter_map(|p| p.strip_prefix("runtime/lib/python3.11/").map(|rel| (p, rel)))
        .filter(|(_, rel)| {
            (rel.ends_with(".py") || rel.ends_with(".pyc")) && !bootstrap.iter().any(|b| rel.starts_with(b))
        })
        .map(|(p, _)| p)
        .collect();
    assert!(strays.is_empty(), "stdlib modules as files: {strays:?}");
    assert_eq!(
        fs_err::read(extracted.join("python/main.py")).unwrap(),
        fs_err::read(repo_root().join("examples/hello/main.py")).unwrap()
    );
    let table = fs_err::read(extracted.join("runtime/modules.avm")).unwrap();
    for module in ["os", "json.decoder", "asyncio.events"] {
        assert!(table.windows(module.len()).any(|w| w == module.as_bytes()), "{module} not in the stdlib table");
    }
}

/// An app that sets every config key.
fn every_key_project() -> Project {
    let p = Project::new();
    p.write("web-src/index.html", "<!doctype html><p>built</p>")
        .write("app/main.py", "from helper import VALUE\n\ndef run():\n    pass\n")
        .write("app/helper.py", "VALUE = 42\n")
        .write("app/notes_test.py", "# excluded by glob\n")
        .write("app/scratch/tmp.py", "# excluded directory\n")
        .write("tools/tool.sh", "#!/bin/sh\necho tool\n")
        .write("assets/logo.txt", "logo")
        .write("data/a/one.json", "{}")
        .write("data/b/two.json", "[]")
        .write("data/b/skip.txt", "no");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs_err::set_permissions(p.path().join("tools/tool.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    p.config(
        r#"
[app]
name = "every-key"
version = "2.3.4"
title = "Every Key"

[window]
width = 1024
height = 700
resizable = false
debug = true

[frontend]
path = "web"
build = "mkdir -p web && cp web-src/index.html web/index.html"
csp = "default-src 'self'; img-src *"

[python]
entry_point = "main:run"
include_paths = ["app"]
packages = ["markupsafe==3.0.2"]
version = "3.11"
strategy = "standalone"
module_search_paths = ["$EXTRACT_DIR", "$SITE_PACKAGES", "$RESOURCES_DIR/lib"]
filesystem_importer = false
external_bin = ["tools/tool.sh"]
resources = ["assets"]
exclude = ["*_test.py", "scratch"]

[hooks]
collect = [
    { from = "data/**/*.json", to = "resources/data" },
    { from = "assets", to = "copied" },
    { from = "assets/logo.txt", to = "one" },
]

[env]
MY_SETTING = "on"
DATA_DIR = "$RESOURCES_DIR/data"

[license]
type = "MIT"
public_key = "abc123"
"#,
    );
    p
}

#[test]
fn every_config_key_lands_where_it_should() {
    let p = every_key_project();
    let out = p.pack_output(&["--build", "--out-dir"]);
    assert!(!out.status.success(), "--out-dir needs a value");
    let out = p.pack_output(&["--build"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let exe = p.path().join("dist/every-key");
    assert!(exe.is_file());

    let info = inspect(&exe);
    let m = &info["manifest"];
    assert_eq!(m["app"], serde_json::json!({"name": "every-key", "version": "2.3.4", "title": "Every Key"}));
    assert_eq!(
        m["window"],
        serde_json::json!({"width": 1024, "height": 700, "resizable": false, "debug": true, "csp": "default-src 'self'; img-src *"})
    );
    assert_eq!(m["python"]["filesystem_importer"], false);
    assert_eq!(m["python"]["module_search_paths"][2], "$RESOURCES_DIR/lib");
    assert_eq!(m["env"]["MY_SETTING"], "on");
    assert_eq!(m["license"], serde_json::json!({"type": "MIT", "public_key": "abc123"}));

    let paths = entry_paths(&exe);
    let has = |p: &str| paths.iter().any(|x| x == p);
    assert!(has("frontend/index.html"), "--build ran the frontend build");
    assert!(has("python/main.py") && has("python/helper.py"));
    assert!(!has("python/notes_test.py"), "exclude glob");
    assert!(!paths.iter().any(|p| p.contains("scratch")), "exclude directory");
    assert!(has("python/bin/tool.sh"));
    assert!(has("resources/assets/logo.txt"));
    assert!(has("resources/data/a/one.json") && has("resources/data/b/two.json"));
    assert!(!paths.iter().any(|p| p.ends_with("skip.txt")));
    assert!(has("copied/assets/logo.txt") && has("one/logo.txt"), "plain paths in collect");
    // A C extension built for the bundled interpreter's ABI.
    assert!(
        has("python/site-packages/markupsafe/_speedups.cpython-311-x86_64-linux-gnu.so"),
        "markupsafe's C extension for cp311: {:?}",
        paths.iter().filter(|p| p.contains("markupsafe")).collect::<Vec<_>>()
    );
    assert!(paths.iter().any(|p| p.to_lowercase().starts_with("python/site-packages/markupsafe-3.0.2.dist-info/")));
    let tool = info["entries"].as_array().unwrap().iter().find(|e| e["path"] == "python/bin/tool.sh").unwrap();
    assert_eq!(tool["kind"], "executable");
}

#[test]
fn two_packs_are_byte_identical_even_after_touching_sources() {
    let p = every_key_project();
    let (out1, out2) = (p.path().join("out1"), p.path().join("out2"));
    let first = p.pack_output(&["--build", "--out-dir", out1.to_str().unwrap()]);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    // New mtimes on every input must not change a byte.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    for f in ["app/main.py", "app/helper.py", "web-src/index.html", "assets/logo.txt"] {
        let path = p.path().join(f);
        let content = fs_err::read(&path).unwrap();
        fs_err::write(&path, content).unwrap();
    }
    let second = p.pack_output(&["--build", "--out-dir", out2.to_str().unwrap()]);
    assert!(second.status.success());
    let a = fs_err::read(out1.join("every-key")).unwrap();
    let b = fs_err::read(out2.join("every-key")).unwrap();
    assert!(a == b, "packs differ");
}

fn bad_config(toml: &str) -> (String, std::path::PathBuf) {
    let p = Project::new();
    p.write("main.py", "def run(): pass\n");
    p.config(toml);
    let out = p.pack_output(&[]);
    assert_eq!(out.status.code(), Some(1), "expected a config error for:\n{toml}");
    let dist = p.path().join("dist");
    assert!(!dist.exists(), "nothing may be written on a config error");
    (String::from_utf8_lossy(&out.stderr).into_owned(), p.config_path())
}

#[test]
fn bad_configs_name_the_file_line_and_key() {
    let cases: &[(&str, &str, &str)] = &[
        ("[app]\nname = \"x\"\n[window]\nwidth = \"wide\"\n", "window.width", ":4:"),
        ("[app]\nname = \"x\"\n[python]\nentrypoint = \"main:run\"\n", "python.entrypoint", ":4:"),
        ("[app]\nname = \"x\"\ncolour = \"red\"\n", "app.colour", ":3:"),
        ("[app]\nname = \"x\"\n[frontend]\npath = \"nowhere\"\n", "frontend.path", ":4:"),
        ("[app]\nname = \"x\"\n[frontend]\ncsp = \"a\\nb\"\n", "frontend.csp", ":4:"),
        ("[app]\nname = \"x\"\n[python]\nentry_point = \"not an entry\"\n", "python.entry_point", ":4:"),
        ("[app]\nname = \"x\"\n[python]\nentry_point = \"missing:run\"\n", "python.entry_point", ":4:"),
        ("[app]\nname = \"x\"\n[python]\nentry_point = \"gone.py\"\n", "python.entry_point", ":4:"),
        ("[app]\nname = \"x\"\n[python]\nstrategy = \"fancy\"\n", "python.strategy", ":4:"),
        ("[app]\nname = \"x\"\n[python]\nversion = \"three\"\n", "python.version", ":4:"),
        ("[app]\nname = \"x\"\n[python]\ninclude_paths = [\"nope\"]\n", "python.include_paths.0", ":4:"),
        ("[app]\nname = \"x\"\n[python]\nmodule_search_paths = [\"$NOPE\"]\n", "python.module_search_paths.0", ":4:"),
        ("[app]\nname = \"x\"\n[hooks]\ncollect = [{ from = \"a\", too = \"b\" }]\n", "hooks.collect.0.too", ":4:"),
        ("[app]\nname = \"bad name!\"\n", "app.name", ":2:"),
        ("[window]\nwidth = 5\n", "app.name", ""),
        ("[app]\nname = \"x\"\n[python]\npackages = [\"--index-url=x\"]\n", "python.packages.0", ":4:"),
    ];
    for (toml, key, line) in cases {
        let (stderr, file) = bad_config(toml);
        assert!(stderr.contains(&format!("`{key}`")), "key `{key}` not named in:\n{stderr}");
        assert!(stderr.contains(&file.display().to_string()), "file not named in:\n{stderr}");
        assert!(stderr.contains(line), "line {line} not named in:\n{stderr}");
        assert!(stderr.contains("hint:") || stderr.contains("unknown field"), "no fix given in:\n{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn frontend_without_index_html_is_refused() {
    let p = Project::new();
    p.write("main.py", "def run(): pass\n").write("web/app.js", "");
    p.config("[app]\nname = \"x\"\n[frontend]\npath = \"web\"\n");
    let out = p.pack_output(&[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("index.html") && stderr.contains("frontend.path"), "{stderr}");
    assert!(!p.path().join("dist").exists());
}

#[test]
fn a_stub_for_another_python_is_refused() {
    let p = Project::new();
    p.write("main.py", "def run(): pass\n").config("[app]\nname = \"x\"\n");
    let stub = p.path().join("fake-stub");
    fs_err::write(&stub, b"\x7fELF...AURORAVIEW-STUB-INFO:python=3.99;end...").unwrap();
    let out = p.pack_output(&["--runtime", stub.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("3.99") && stderr.contains("3.11") && stderr.contains("hint:"), "{stderr}");
    assert!(!p.path().join("dist").exists());
}

/// A python-build-standalone-shaped archive (`python/bin`, `python/lib/pythonX.Y`) made from the
/// local interpreter, with a marker module that only the archive has.
fn standalone_archive(dir: &std::path::Path) -> std::path::PathBuf {
    let out = Command::new("python3")
        .args(["-c", "import sys, sysconfig; print(sys.base_prefix); print(sysconfig.get_paths()['stdlib'])"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    let (prefix, stdlib) =
        (std::path::PathBuf::from(lines.next().unwrap()), std::path::PathBuf::from(lines.next().unwrap()));
    let path = dir.join("cpython-3.11-install_only.tar.zst");
    let file = fs_err::File::create(&path).unwrap();
    let mut tar = tar::Builder::new(zstd::Encoder::new(file, 1).unwrap().auto_finish());
    tar.follow_symlinks(true);
    tar.append_path_with_name(prefix.join("bin/python3.11"), "python/bin/python3.11").unwrap();
    for entry in fs_err::read_dir(&stdlib).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        if ["test", "site-packages", "idlelib", "tkinter", "__pycache__", "ensurepip"].contains(&name.as_str())
            || name.starts_with("config-")
        {
            continue;
        }
        let dest = format!("python/lib/python3.11/{name}");
        if entry.file_type().unwrap().is_dir() {
            tar.append_dir_all(&dest, entry.path()).unwrap();
        } else {
            tar.append_path_with_name(entry.path(), &dest).unwrap();
        }
    }
    let mut header = tar::Header::new_gnu();
    let marker = b"MARK = 'from the archive'\n";
    header.set_size(marker.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    tar.append_data(&mut header, "python/lib/python3.11/archive_marker.py", &marker[..]).unwrap();
    tar.finish().unwrap();
    path
}

#[test]
fn runtime_from_a_standalone_archive() {
    let p = Project::new();
    p.write("main.py", "def run(): pass\n");
    let archive = standalone_archive(p.path());
    p.config(&format!(
        "[app]\nname = \"from-archive\"\n[python]\nruntime = \"{}\"\n",
        archive.file_name().unwrap().to_string_lossy()
    ));
    let exe = p.pack();
    let x = tempfile::tempdir().unwrap();
    let status = Command::new(bin("auroraview-pack")).arg("extract").arg(&exe).arg(x.path()).status().unwrap();
    assert!(status.success());
    let table = fs_err::read(x.path().join("runtime/modules.avm")).unwrap();
    assert!(table.windows(14).any(|w| w == b"archive_marker"), "the stdlib came from the archive");
}
