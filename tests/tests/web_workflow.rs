//! The web developer's workflow: `init`, `build` (out dir, default excludes, the entry point checked
//! at pack time, `-q`), `info`.

mod common;

use common::*;
use serde_json::json;
use std::path::Path;
use std::process::{Command, Output};

fn packer(args: &[&str], cwd: &Path) -> Output {
    Command::new(bin("auroraview-pack"))
        .args(args)
        .current_dir(cwd)
        .env("AURORAVIEW_CACHE_DIR", pack_cache())
        .output()
        .unwrap()
}

fn text(out: &Output) -> (String, String) {
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// A project whose `main.py` defines `run` binding `api.greet`.
fn app(config_extra: &str) -> Project {
    let p = Project::new();
    p.write(
        "main.py",
        "from auroraview import WebView\n\ndef run():\n    view = WebView(title='t')\n    view.bind_call('api.greet', lambda name='x': 'hi ' + name)\n    view.show()\n",
    );
    p.config(&format!("[app]\nname = \"web\"\n{config_extra}"));
    p
}

#[test]
fn init_vanilla_builds_and_answers() {
    let tmp = tempfile::tempdir().unwrap();
    let out = packer(&["init", "demo"], tmp.path());
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("auroraview-pack build") && stdout.contains("cd demo"), "{stdout}");
    let dir = tmp.path().join("demo");
    for f in ["auroraview.pack.toml", "main.py", "frontend/index.html", "frontend/main.js", "frontend/auroraview.d.ts"]
    {
        assert!(dir.join(f).is_file(), "{f} missing");
    }
    assert!(
        fs_err::read_to_string(dir.join("frontend/main.js")).unwrap().contains("window.auroraview.call(\"api.greet\"")
    );

    let out = packer(&["build"], &dir);
    assert!(out.status.success(), "{}", text(&out).1);
    let exe = dir.join("dist/demo");
    assert!(exe.is_file());
    let paths = entry_paths(&exe);
    assert!(paths.iter().any(|p| p == "frontend/main.js"), "{paths:?}");
    assert!(paths.iter().any(|p| p == "python/main.py"), "{paths:?}");

    let cache = tempfile::tempdir().unwrap();
    let mut app = Headless::start(&exe, cache.path());
    let r = app.call("api.greet", json!({"name": "Ada"}));
    assert_eq!(r["result"], "Hello, Ada! (from Python)", "{r}");
    let (code, _) = app.finish();
    assert_eq!(code, 0);
}

#[test]
fn init_refuses_to_overwrite_without_force() {
    let tmp = tempfile::tempdir().unwrap();
    fs_err::write(tmp.path().join("main.py"), "mine\n").unwrap();
    let out = packer(&["init", "--template", "vite-react"], tmp.path());
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("main.py already exists") && stderr.contains("--force"), "{stderr}");
    assert_eq!(fs_err::read_to_string(tmp.path().join("main.py")).unwrap(), "mine\n");
    assert!(!tmp.path().join("package.json").exists(), "nothing was written");

    let out = packer(&["init", "--template", "vite-react", "--force"], tmp.path());
    assert!(out.status.success(), "{}", text(&out).1);
    let config = fs_err::read_to_string(tmp.path().join("auroraview.pack.toml")).unwrap();
    assert!(config.contains("path = \"dist\"") && config.contains("# dev_url = \"http://localhost:5173\""));
    for f in ["package.json", "index.html", "src/main.tsx", "src/App.tsx", "src/auroraview.d.ts", "vite.config.ts"] {
        assert!(tmp.path().join(f).is_file(), "{f} missing");
    }
}

#[test]
fn an_out_dir_inside_the_frontend_is_refused() {
    // `--out-dir`
    let p = app("");
    let out = p.pack_output(&["--out-dir", p.path().join("frontend/out").to_str().unwrap()]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("`--out-dir`") && stderr.contains("frontend/out") && stderr.contains("frontend.path"),
        "{stderr}"
    );
    assert!(stderr.contains("hint: "), "{stderr}");
    assert!(!p.path().join("frontend/out").exists(), "nothing written");

    // `[app] out_dir`
    let p = app("out_dir = \"frontend\"\n");
    let out = p.pack_output(&[]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("`app.out_dir`") && stderr.contains("frontend.path"), "{stderr}");
    assert!(!p.path().join("frontend/web").exists() && !p.path().join("frontend/.auroraview-pack-output").exists());

    // The default `dist/` with `frontend.path = "dist"`, and an include path.
    let p = app("[frontend]\npath = \"dist\"\n");
    p.write("dist/index.html", "<p>");
    let out = p.pack_output(&[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).1.contains("default output directory"), "{}", text(&out).1);
    let p = app("out_dir = \"code/out\"\n[python]\ninclude_paths = [\"code\", \"main.py\"]\n");
    p.write("code/x.py", "");
    let out = p.pack_output(&[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).1.contains("python.include_paths.0"), "{}", text(&out).1);
}

#[test]
fn app_out_dir_is_used_and_never_packed() {
    let p = app("out_dir = \"release\"\n");
    let exe = p.pack();
    assert_eq!(exe, p.path().join("release/web"));
    // A second build does not pack the first; `--out-dir` wins over the key.
    let exe = p.pack();
    assert!(!entry_paths(&exe).iter().any(|e| e.contains("release")));
    let other = p.path().join("elsewhere");
    let out = p.pack_output(&["--out-dir", other.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out).1);
    assert!(other.join("web").is_file());
    assert!(!entry_paths(&other.join("web")).iter().any(|e| e.contains("release")));
}

#[test]
fn web_project_files_are_not_app_code() {
    let p = app("[python]\ninclude_paths = [\".\", \"tsconfig.json\"]\n");
    for f in [
        "package.json",
        "package-lock.json",
        "yarn.lock",
        "pnpm-lock.yaml",
        "tsconfig.json",
        "tsconfig.node.json",
        "vite.config.ts",
        "node_modules/react/index.js",
        "src/App.tsx",
        "src/main.ts",
        "src/old.jsx",
        "helpers.py",
    ] {
        p.write(f, "{}");
    }
    let exe = p.pack();
    let paths = entry_paths(&exe);
    let python: Vec<&String> =
        paths.iter().filter(|p| p.starts_with("python/") && !p.starts_with("python/site-packages/")).collect();
    assert!(python.iter().any(|p| *p == "python/helpers.py"), "{python:?}");
    // Listed explicitly: packed.
    assert!(python.iter().any(|p| *p == "python/tsconfig.json"), "{python:?}");
    for gone in [
        "package.json",
        "package-lock.json",
        "yarn.lock",
        "pnpm-lock.yaml",
        "tsconfig.node.json",
        "vite.config.ts",
        "node_modules",
        ".tsx",
        ".jsx",
        "main.ts",
        "frontend/",
    ] {
        assert!(!python.iter().any(|p| p.contains(gone)), "{gone} packed: {python:?}");
    }
}

#[test]
fn the_entry_function_is_checked_at_pack_time() {
    let p = app("[python]\nentry_point = \"main:start\"\n");
    let out = p.pack_output(&[]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("error: `main.py` defines no function `start`"), "{stderr}");
    assert!(stderr.contains("hint: it defines at top level: `run` (main.py:3)"), "{stderr}");

    let p = app("");
    p.write("main.py", "import sys\nsys.exit(3)\n\ndef run(:\n    pass\n");
    let out = p.pack_output(&[]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("error: main.py:4: syntax error: "), "{stderr}");
}

#[test]
fn info_prints_what_the_machine_has() {
    let tmp = tempfile::tempdir().unwrap();
    let out = packer(&["info"], tmp.path());
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    for key in [
        "auroraview-pack: ",
        "runtime stub: ",
        "python3.11: 3.11.",
        "pack cache: ",
        "runtime cache: ",
        "DISPLAY: ",
        "WAYLAND_DISPLAY: ",
        "webkit: ",
    ] {
        assert!(stdout.lines().any(|l| l.starts_with(key)), "{key} missing:\n{stdout}");
    }
    assert!(stdout.contains(&pack_cache().join("pack").display().to_string()), "{stdout}");
    assert!(stdout.contains(&pack_cache().join("python").display().to_string()), "{stdout}");
}

#[test]
fn quiet_build_keeps_the_frontend_build_quiet_unless_it_fails() {
    let quiet_build = |p: &Project| {
        Command::new(bin("auroraview-pack"))
            .args(["-q", "build", "--build", "--config"])
            .arg(p.config_path())
            .env("AURORAVIEW_CACHE_DIR", pack_cache())
            .output()
            .unwrap()
    };
    let p = app("[frontend]\nbuild = \"echo FRONTEND-NOISE; echo FRONTEND-ERR >&2\"\n");
    let out = quiet_build(&p);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(!stdout.contains("FRONTEND") && !stderr.contains("FRONTEND"), "{stdout}\n{stderr}");

    let p = app("[frontend]\nbuild = \"echo WHY-IT-FAILED; exit 3\"\n");
    let out = quiet_build(&p);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("failed") && stderr.contains("WHY-IT-FAILED"), "{stderr}");
}

#[test]
fn a_cold_build_reports_each_phase_and_quiet_reports_none() {
    let p = app("");
    let cache = tempfile::tempdir().unwrap();
    let build = |flags: &[&str]| {
        Command::new(bin("auroraview-pack"))
            .args(flags)
            .args(["build", "--config"])
            .arg(p.config_path())
            .env("AURORAVIEW_CACHE_DIR", cache.path())
            .output()
            .unwrap()
    };
    let out = build(&[]);
    let (_, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    // Without a terminal, a line per phase with the time the step has taken so far.
    for phase in
        ["Preparing the Python 3.11", "  Precompiling the standard library... (", "  Compressing the runtime... ("]
    {
        assert!(stderr.contains(phase), "{phase:?} missing:\n{stderr}");
    }

    let out = build(&["-q"]);
    let (_, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stderr, "", "-q prints nothing but errors");
}
