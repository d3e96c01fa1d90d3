//! The extraction cache is trusted only as far as it is private: a cache another user could have
//! written to is refused, whatever it holds, and a first run under any umask leaves nothing
//! writable by others.

mod common;

use common::*;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

const CALL: &str = r#"{"id":1,"method":"api.v"}"#;

fn app() -> (Project, std::path::PathBuf) {
    let project = Project::new();
    project.write("main.py", "from auroraview import WebView\n\ndef run():\n    v = WebView()\n    v.bind_call('api.v', lambda: 'real')\n    v.show()\n");
    project.config("[app]\nname = \"trust\"\n");
    let exe = project.pack();
    (project, exe)
}

fn version_dir(cache: &Path) -> std::path::PathBuf {
    let dir = cache.join("python/trust");
    fs_err::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.join(".auroraview-complete").is_file())
        .unwrap()
}

fn chown(path: &Path, uid: u32) {
    let status = Command::new("chown").arg("-R").arg(format!("{uid}:{uid}")).arg(path).status().unwrap();
    assert!(status.success());
}

#[test]
fn a_planted_file_in_a_cache_owned_by_someone_else_is_refused() {
    let (_project, exe) = app();
    let cache = tempfile::tempdir().unwrap();
    let root = cache.path().join("cache");
    let (code, lines, _) = run_lines(&exe, &root, &[CALL]);
    assert_eq!(code, 0);
    assert!(lines[0].contains("real"));

    // Another local user (`nobody`) owns the cache and planted code in the extracted tree.
    let tree = version_dir(&root);
    fs_err::write(tree.join("python/main.py"), "import sys\ndef run():\n    print('planted'); sys.exit(42)\n").unwrap();
    chown(&root, 65534);
    let (code, lines, stderr) = run_lines(&exe, &root, &[CALL]);
    assert_eq!(code, 1, "{stderr}");
    assert!(lines.is_empty(), "{lines:?}");
    assert!(!stderr.contains("planted"));
    assert!(stderr.contains("belongs to another user") && stderr.contains("AURORAVIEW_CACHE_DIR"), "{stderr}");
    assert!(stderr.contains(&root.display().to_string()), "names the directory: {stderr}");

    // Ours again, but writable by others: refused too.
    chown(&root, 0);
    fs_err::set_permissions(root.join("python/trust"), std::fs::Permissions::from_mode(0o777)).unwrap();
    let (code, _, stderr) = run_lines(&exe, &root, &[CALL]);
    assert_eq!(code, 1);
    assert!(stderr.contains("written by group or others"), "{stderr}");

    // A tree itself owned by someone else, in a cache that is ours.
    fs_err::set_permissions(root.join("python/trust"), std::fs::Permissions::from_mode(0o755)).unwrap();
    chown(&tree, 65534);
    let (code, _, stderr) = run_lines(&exe, &root, &[CALL]);
    assert_eq!(code, 1);
    assert!(stderr.contains("belongs to another user") && stderr.contains(&tree.display().to_string()), "{stderr}");
}

#[test]
fn a_first_run_under_umask_000_leaves_nothing_writable_by_others() {
    let (_project, exe) = app();
    let cache = tempfile::tempdir().unwrap();
    let root = cache.path().join("cache");
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(r#"umask 000; printf '%s\n' "$1" | exec "$2" --headless"#).arg("sh").arg(CALL).arg(&exe);
    cmd.env("AURORAVIEW_CACHE_DIR", &root);
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("real"));
    let mut checked = 0;
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for e in fs_err::read_dir(&dir).unwrap().flatten() {
            let m = fs_err::symlink_metadata(e.path()).unwrap();
            if m.is_dir() {
                stack.push(e.path());
            }
            // A link's own mode means nothing (it is always 0777); what it points to is checked.
            assert!(
                m.file_type().is_symlink() || m.mode() & 0o022 == 0,
                "{} is writable by others ({:o})",
                e.path().display(),
                m.mode()
            );
            checked += 1;
        }
    }
    assert!(checked > 5);
    assert_eq!(fs_err::metadata(&root).unwrap().mode() & 0o777, 0o700, "a new cache root is private");
}

#[test]
fn a_full_disk_says_so_and_leaves_no_half_written_tree() {
    let (_project, exe) = app();
    let cache = tempfile::tempdir().unwrap();
    let root = cache.path().join("small");
    fs_err::create_dir(&root).unwrap();
    // A 2 MiB file system for the cache: the app's tree does not fit.
    let script = r#"mount -t tmpfs -o size=2m tmpfs "$1" && printf '%s\n' "$2" | AURORAVIEW_CACHE_DIR="$1/c" "$3" --headless; code=$?; ls -A "$1/c/python/trust" 2>/dev/null; exit $code"#;
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", script, "sh"])
        .arg(&root)
        .arg(CALL)
        .arg(&exe)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("No space left on device") && stderr.contains("the disk is full"), "{stderr}");
    assert!(stderr.contains("AURORAVIEW_CACHE_DIR"), "{stderr}");
    // Only the locks remain: no tree, complete or not, and no temporary directory.
    let left: Vec<&str> = stdout.lines().filter(|l| !l.ends_with(".lock")).collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}
