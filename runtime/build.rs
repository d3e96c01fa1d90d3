//! Links libpython statically into the runtime, exports its symbols so extension modules loaded at
//! run time resolve against them, and records which Python it is, so the packer can refuse a
//! runtime of another version. Without the `python` feature the runtime links no Python at all.
//!
//! PyO3 reads its configuration from `runtime/pyo3-config.txt` (see `.cargo/config.toml`), which
//! names the version and leaves linking to this script: it asks that version's interpreter
//! (`$PYTHON`, else `pythonX.Y` on `PATH`) where its `libpythonX.Y.a` is, so a first `cargo build`
//! works on a machine with that CPython, and otherwise stops with one line saying what to do.

use std::process::Command;

fn main() {
    println!("cargo::rerun-if-env-changed=PYO3_CONFIG_FILE");
    println!("cargo::rerun-if-env-changed=PYTHON");
    if std::env::var_os("CARGO_FEATURE_PYTHON").is_none() {
        println!("cargo::rustc-env=AURORAVIEW_PYTHON_VERSION=none");
        return;
    }
    // `Py_3_10`, `Py_3_11`, ...: the runtime builds against each CPython 3.9+ (ci/build-stubs).
    pyo3_build_config::use_pyo3_cfgs();
    let config = pyo3_build_config::get();
    let version = format!("{}.{}", config.version().major, config.version().minor);
    println!("cargo::rustc-env=AURORAVIEW_PYTHON_VERSION={version}");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        // Only CPython's API (`Py*`, `_Py*`): extension modules need nothing else from the runtime,
        // and exporting every symbol would keep all of the Rust code alive for the dynamic table.
        println!("cargo::rustc-link-arg-bins=-Wl,--export-dynamic-symbol=Py*,--export-dynamic-symbol=_Py*");
    }
    // A configuration that links by itself (written for another interpreter) is left to PyO3.
    if !config.suppress_build_script_link_lines() || !config.extra_build_script_lines().is_empty() {
        return;
    }
    match static_libpython(&version) {
        Ok(lines) => lines.iter().for_each(|l| println!("cargo::{l}")),
        Err(why) => println!(
            "cargo::error={why}; the runtime links CPython {version} statically: run ci/setup, or set PYTHON to a CPython {version} built with libpython{version}.a (pyenv's default build)"
        ),
    }
}

/// The link directives for `libpythonX.Y.a` of the interpreter for `version`.
fn static_libpython(version: &str) -> Result<Vec<String>, String> {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| format!("python{version}"));
    let script = "import sys, sysconfig as s; v = s.get_config_vars(); print('%d.%d' % sys.version_info[:2]); \
                  print(v['LIBPL']); print(' '.join(filter(None, [v.get('LIBS'), v.get('SYSLIBS')])))";
    let out = Command::new(&python).args(["-c", script]).output().map_err(|e| format!("cannot run {python}: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let (found, libpl, libs) = (lines.next().unwrap_or(""), lines.next().unwrap_or(""), lines.next().unwrap_or(""));
    if !out.status.success() || found != version {
        return Err(format!("{python} is not CPython {version} (it reported {found:?})"));
    }
    let archive = std::path::Path::new(libpl).join(format!("libpython{version}.a"));
    if !archive.is_file() {
        return Err(format!("{} does not exist", archive.display()));
    }
    println!("cargo::rerun-if-changed={}", archive.display());
    let mut directives = vec![
        format!("rustc-link-search=native={libpl}"),
        format!("rustc-link-lib=static:+whole-archive,-bundle=python{version}"),
    ];
    let mut seen = Vec::new();
    for lib in libs.split_whitespace().filter_map(|f| f.strip_prefix("-l")) {
        if !seen.contains(&lib) {
            seen.push(lib);
            directives.push(format!("rustc-link-lib=dylib={lib}"));
        }
    }
    Ok(directives)
}
