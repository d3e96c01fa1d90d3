//! `python.packages` is packed one frame per installed distribution, each cached by its files:
//! adding a package compresses only that package, the output is the same as a pack from an empty
//! cache, and pip installs when uv is not wanted.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn project(packages: &str) -> Project {
    let p = Project::new();
    p.write("main.py", "import markupsafe\n\ndef run():\n    print(markupsafe.escape('<b>'))\n");
    p.config(&format!("[app]\nname = \"pkgs\"\n\n[python]\nentry_point = \"main:run\"\npackages = [{packages}]\n"));
    p
}

fn pack(p: &Project, cache: &Path, out: &Path, env: &[(&str, &str)]) -> (PathBuf, String) {
    let mut cmd = Command::new(bin("auroraview-pack"));
    cmd.args(["-v", "build", "--config"])
        .arg(p.config_path())
        .arg("--out-dir")
        .arg(out)
        .env("AURORAVIEW_CACHE_DIR", cache);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out: Output = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "pack failed:\n{stderr}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    (PathBuf::from(stdout.split('\t').next().unwrap().trim()), stderr)
}

/// The site-packages entries of a packed app, as `(path, size)`.
fn site_packages(exe: &Path) -> Vec<(String, u64)> {
    inspect(exe)["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["path"].as_str().unwrap().starts_with("python/site-packages/"))
        .map(|e| (e["path"].as_str().unwrap().to_string(), e["size"].as_u64().unwrap()))
        .collect()
}

/// The shared pack cache's frames (hard links: frames are replaced, never written in place) without
/// the lists of frames of each set of requirements, so every set is installed again, and without
/// the frames holding `without` (an overlay path).
fn cache_without_sets(without: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let shared = pack_cache().join("pack");
    if shared.is_dir() {
        let ok = Command::new("cp").arg("-al").arg(&shared).arg(dir.path()).status().unwrap().success();
        assert!(ok, "copying {}", shared.display());
        for e in fs_err::read_dir(dir.path().join("pack/frames")).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let holds = |index: &Path| fs_err::read_to_string(index).unwrap().contains(&format!("\"{without}\""));
            if name.ends_with(".set.json") {
                fs_err::remove_file(e.path()).unwrap();
            } else if let Some(key) = name.strip_suffix(".index.json")
                && holds(&e.path())
            {
                for ext in ["index.json", "zst", "avm"] {
                    let _ = fs_err::remove_file(e.path().with_file_name(format!("{key}.{ext}")));
                }
            }
        }
    }
    dir
}

#[test]
fn adding_a_package_compresses_only_that_package_and_matches_a_cold_pack() {
    let seeded = cache_without_sets("python/site-packages/six.py");
    let cache = seeded.path().to_path_buf();
    let one = project("\"markupsafe==3.0.2\"");
    let (first, _) = pack(&one, &cache, &one.path().join("out"), &[]);
    assert!(site_packages(&first).iter().any(|(p, _)| p.starts_with("python/site-packages/markupsafe/")));

    let two = project("\"markupsafe==3.0.2\", \"six==1.17.0\"");
    let (warm, log) = pack(&two, &cache, &two.path().join("warm"), &[]);
    // uv and pip keep the distribution's own spelling (`MarkupSafe-3.0.2.dist-info`).
    assert!(log.to_lowercase().contains("markupsafe-3.0.2.dist-info: unchanged (cached)"), "{log}");
    assert!(log.contains("six-1.17.0.dist-info: new"), "{log}");
    assert!(log.contains("Precompiling 1 of 2 distributions"), "{log}");
    let paths = site_packages(&warm);
    for p in ["python/site-packages/six.py", "python/site-packages/__pycache__/six.cpython-311.pyc"] {
        assert!(paths.iter().any(|(x, _)| x == p), "{p} is packed: {paths:?}");
    }
    assert!(
        !paths.iter().any(|(x, _)| x == "python/site-packages/.lock" || x.starts_with("python/site-packages/bin/"))
    );

    // A pack of the same config from an empty cache writes the same bytes.
    let empty = tempfile::tempdir().unwrap();
    let (cold, log) = pack(&two, empty.path(), &two.path().join("cold"), &[]);
    assert!(
        log.contains("six-1.17.0.dist-info: new") && log.to_lowercase().contains("markupsafe-3.0.2.dist-info: new"),
        "{log}"
    );
    assert!(fs_err::read(&warm).unwrap() == fs_err::read(&cold).unwrap(), "a warm and a cold pack differ");

    // Unchanged requirements run no installer at all.
    let (_, log) = pack(&two, &cache, &two.path().join("again"), &[]);
    assert!(log.contains("site-packages (markupsafe==3.0.2, six==1.17.0): unchanged (cached)"), "{log}");
    assert!(!log.contains("Installing"), "{log}");
}

#[test]
fn without_uv_pip_installs_the_same_files() {
    let p = project("\"markupsafe==3.0.2\"");
    let cache = pack_cache();
    let (with_pip, log) = pack(&p, &cache, &p.path().join("pip"), &[("AURORAVIEW_UV", "pip")]);
    assert!(log.contains("installer: pip (AURORAVIEW_UV=pip)"), "{log}");
    let missing = p.path().join("no-such-uv");
    let (fallback, log) = pack(&p, &cache, &p.path().join("fallback"), &[("AURORAVIEW_UV", missing.to_str().unwrap())]);
    assert!(log.contains("does not run") && log.contains("installer: pip, as no uv runs"), "{log}");
    // Both installed by pip: the same files (INSTALLER names the installer, so uv's differ by it).
    assert_eq!(site_packages(&with_pip), site_packages(&fallback));
    let (with_uv, _) = pack(&p, &cache, &p.path().join("uv"), &[]);
    let names = |v: Vec<(String, u64)>| -> Vec<String> {
        v.into_iter().map(|(p, _)| p).filter(|p| !p.ends_with("/INSTALLER")).collect()
    };
    assert_eq!(names(site_packages(&with_pip)), names(site_packages(&with_uv)));
}
