//! `auroraview-pack build` on hostile inputs: FIFOs, devices, dangling links, links out of the
//! project, directory link cycles and a file too big to hold in memory.

mod common;

use common::*;
use std::io::{Read, Seek};
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

struct Built {
    code: i32,
    stderr: String,
    exe: PathBuf,
}

/// `auroraview-pack build` on `p`, killed (failing the test) if it takes over two minutes: the
/// packer once blocked for ever on a FIFO and read `/dev/zero` until memory ran out.
fn build(p: &Project) -> Built {
    let logs = tempfile::tempdir().unwrap();
    let (out, err) = (logs.path().join("stdout"), logs.path().join("stderr"));
    let mut child = Command::new(bin("auroraview-pack"))
        .arg("build")
        .arg("--config")
        .arg(p.config_path())
        .env("AURORAVIEW_CACHE_DIR", pack_cache())
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let code = wait_timeout(&mut child, Duration::from_secs(120));
    let stdout = fs_err::read_to_string(&out).unwrap();
    let stderr = fs_err::read_to_string(&err).unwrap();
    assert!(!stderr.contains("panicked") && !stderr.contains("internal error"), "{stderr}");
    Built { code, stderr, exe: PathBuf::from(stdout.split('\t').next().unwrap_or("").trim()) }
}

fn built_ok(p: &Project) -> Built {
    let b = build(p);
    assert_eq!(b.code, 0, "pack failed:\n{}", b.stderr);
    b
}

/// A refused pack: exit code 1 and nothing written.
fn refused(p: &Project) -> String {
    let b = build(p);
    assert_eq!(b.code, 1, "expected the pack to be refused:\n{}", b.stderr);
    assert!(!p.path().join("dist").exists(), "nothing may be written when the pack is refused");
    assert!(b.stderr.contains(&p.config_path().display().to_string()), "the config file is named:\n{}", b.stderr);
    assert!(b.stderr.contains("\nhint: "), "the fix is given:\n{}", b.stderr);
    b.stderr
}

/// The warning line naming `path`, which must say `what`.
fn warning_for(stderr: &str, path: &Path, what: &str) {
    let path = path.display().to_string();
    let line = stderr.lines().find(|l| l.starts_with("warning: ") && l.contains(&format!("{path} ")));
    let line = line.unwrap_or_else(|| panic!("no warning names {path}:\n{stderr}"));
    assert!(line.contains(what) && line.contains("skipped"), "{line}");
}

/// The files of the extracted overlay, with their content; fails on anything but regular files
/// and directories.
fn extracted(exe: &Path) -> Vec<(String, Vec<u8>)> {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("x");
    let out = Command::new(bin("auroraview-pack")).arg("extract").arg(exe).arg(&dest).output().unwrap();
    assert!(out.status.success(), "extract: {}", String::from_utf8_lossy(&out.stderr));
    let mut files = Vec::new();
    let mut stack = vec![dest.clone()];
    while let Some(d) = stack.pop() {
        for e in fs_err::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let ft = fs_err::symlink_metadata(e.path()).unwrap().file_type();
            if ft.is_dir() {
                stack.push(e.path());
            } else {
                assert!(ft.is_file(), "{} is not a regular file", e.path().display());
                let rel = e.path().strip_prefix(&dest).unwrap().to_string_lossy().into_owned();
                files.push((rel, fs_err::read(e.path()).unwrap()));
            }
        }
    }
    files.sort();
    files
}

fn content_of(exe: &Path, path: &str) -> Option<Vec<u8>> {
    extracted(exe).into_iter().find(|(p, _)| p == path).map(|(_, c)| c)
}

/// The type of every tar entry in the payload, read straight from the executable.
fn payload_entry_types(exe: &Path) -> Vec<(String, tar::EntryType)> {
    let overlay = auroraview_overlay::Overlay::open(exe).unwrap();
    let h = *overlay.header();
    let start = overlay.header_offset() + auroraview_overlay::HEADER_LEN + h.manifest_len + h.index_len;
    let mut file = fs_err::File::open(exe).unwrap();
    file.seek(std::io::SeekFrom::Start(start)).unwrap();
    let decoder = zstd::stream::read::Decoder::new(file.take(h.payload_len)).unwrap();
    let mut archive = tar::Archive::new(decoder);
    // One tar stream per frame, concatenated: read past each one's end-of-archive blocks.
    archive.set_ignore_zeros(true);
    archive
        .entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (e.path().unwrap().to_string_lossy().into_owned(), e.header().entry_type())
        })
        .collect()
}

fn app(p: &Project, config_extra: &str) {
    p.write("main.py", "def run():\n    pass\n");
    p.config(&format!("[app]\nname = \"inputs\"\n{config_extra}"));
}

fn mkfifo(path: &Path) {
    assert!(Command::new("mkfifo").arg(path).status().unwrap().success(), "mkfifo {}", path.display());
}

#[test]
fn fifos_devices_and_dangling_links_are_skipped_with_a_warning() {
    let p = Project::new();
    app(&p, "[python]\nresources = [\"assets\", \"zero-link\"]\n");
    p.write("assets/logo.txt", "logo");
    let r = |rel: &str| p.path().join(rel);
    mkfifo(&r("pipe"));
    mkfifo(&r("assets/pipe"));
    symlink("/dev/zero", r("zero-link")).unwrap();
    symlink("/dev/zero", r("assets/zero")).unwrap();
    // What an editor leaves while a file is open.
    symlink("user@host.1234:1700000000", r(".#main.py")).unwrap();
    symlink("missing.txt", r("assets/gone.txt")).unwrap();

    let b = built_ok(&p);
    warning_for(&b.stderr, &r("pipe"), "named pipe (FIFO)");
    warning_for(&b.stderr, &r("assets/pipe"), "named pipe (FIFO)");
    warning_for(&b.stderr, &r("zero-link"), "character device");
    warning_for(&b.stderr, &r("assets/zero"), "character device");
    warning_for(&b.stderr, &r(".#main.py"), "does not exist");
    warning_for(&b.stderr, &r("assets/gone.txt"), "does not exist");
    assert!(b.stderr.contains("python.exclude"), "the fix for app code: {}", b.stderr);

    let paths = entry_paths(&b.exe);
    assert!(paths.contains(&"python/main.py".to_string()) && paths.contains(&"resources/assets/logo.txt".to_string()));
    for skipped in ["pipe", "zero", ".#main.py", "gone.txt"] {
        assert!(!paths.iter().any(|e| e.ends_with(skipped)), "{skipped} was packed: {paths:?}");
    }
}

#[test]
fn a_directory_link_cycle_terminates() {
    let p = Project::new();
    app(&p, "[python]\nresources = [\"data\"]\n");
    p.write("pkg/inner/mod.py", "X = 1\n").write("data/a/one.txt", "1");
    let r = |rel: &str| p.path().join(rel);
    symlink("..", r("pkg/inner/up")).unwrap();
    symlink(".", r("pkg/inner/here")).unwrap();
    symlink(r("pkg"), r("pkg/inner/abs")).unwrap();
    symlink("../..", r("data/a/loop")).unwrap();

    let b = built_ok(&p);
    for link in ["pkg/inner/up", "pkg/inner/here", "pkg/inner/abs", "data/a/loop"] {
        warning_for(&b.stderr, &r(link), "link cycle");
    }
    let paths = entry_paths(&b.exe);
    let ours: Vec<&str> = paths
        .iter()
        .map(String::as_str)
        .filter(|e| (e.starts_with("python/pkg/") || e.starts_with("resources/")) && !e.contains("__pycache__"))
        .collect();
    assert_eq!(ours, ["python/pkg/inner/mod.py", "resources/data/a/one.txt"], "each file once");
}

/// A directory outside the project with `secret.txt` and `sub/data.txt`.
fn outside() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs_err::write(dir.path().join("secret.txt"), "outside secret").unwrap();
    fs_err::create_dir_all(dir.path().join("sub")).unwrap();
    fs_err::write(dir.path().join("sub/data.txt"), "outside data").unwrap();
    dir
}

#[test]
fn a_link_to_a_file_outside_the_project_is_refused() {
    let out = outside();
    let secret = out.path().join("secret.txt");
    let p = Project::new();
    app(&p, "[python]\nresources = [\"assets\"]\n");
    p.write("assets/logo.txt", "logo");
    symlink(&secret, p.path().join("assets/passwd")).unwrap();
    let stderr = refused(&p);
    for part in [
        "`python.resources.0`".to_string(),
        format!("{} is a symbolic link to {}", p.path().join("assets/passwd").display(), secret.display()),
        "outside the project directory".into(),
        format!("to pack {} anyway, name it in the config itself", secret.display()),
    ] {
        assert!(stderr.contains(&part), "`{part}` missing:\n{stderr}");
    }

    // Found while walking app code, the fix includes `python.exclude`.
    let p = Project::new();
    app(&p, "");
    symlink("/etc/passwd", p.path().join("passwd")).unwrap();
    let stderr = refused(&p);
    assert!(stderr.contains("`python.include_paths.0`") && stderr.contains("/etc/passwd"), "{stderr}");
    assert!(stderr.contains("python.exclude"), "{stderr}");

    // A directory link leading out is refused the same way.
    let p = Project::new();
    app(&p, "[python]\nresources = [\"assets\"]\n");
    p.write("assets/logo.txt", "logo");
    symlink(out.path(), p.path().join("assets/vendor")).unwrap();
    let stderr = refused(&p);
    assert!(
        stderr.contains("assets/vendor is a symbolic link to") && stderr.contains("a directory outside"),
        "{stderr}"
    );

    // So is a path the config names inside the project that leads out through a link.
    let p = Project::new();
    app(&p, "[python]\nresources = [\"vendor/sub\"]\n");
    symlink(out.path(), p.path().join("vendor")).unwrap();
    let stderr = refused(&p);
    assert!(stderr.contains("`python.resources.0`") && stderr.contains("through the symbolic link"), "{stderr}");
    assert!(stderr.contains(&format!("{} ->", p.path().join("vendor").display())), "the link is named:\n{stderr}");
}

#[test]
fn the_same_outside_file_named_in_the_config_is_packed() {
    let out = outside();
    let secret = out.path().join("secret.txt");
    let p = Project::new();
    p.write("assets/logo.txt", "logo");
    symlink(&secret, p.path().join("assets/passwd")).unwrap();
    // Named absolute, and a directory named relative to the config: both outside the project.
    let rel_sub = Path::new("..").join(out.path().file_name().unwrap()).join("sub");
    app(
        &p,
        &format!(
            "[python]\nresources = [\"assets\", \"{}\", \"{}\"]\ninclude_paths = [\"main.py\"]\n",
            secret.display(),
            rel_sub.display()
        ),
    );
    let b = built_ok(&p);
    let files = extracted(&b.exe);
    let get = |path: &str| files.iter().find(|(p, _)| p == path).map(|(_, c)| c.as_slice());
    assert_eq!(get("resources/secret.txt"), Some(&b"outside secret"[..]));
    assert_eq!(get("resources/sub/data.txt"), Some(&b"outside data"[..]));
    // With its target named, the link inside the project is packed too, as the file's content.
    assert_eq!(get("resources/assets/passwd"), Some(&b"outside secret"[..]));
    assert_eq!(get("resources/assets/logo.txt"), Some(&b"logo"[..]));
}

#[test]
fn hooks_collect_sources_outside_the_project() {
    let out = outside();
    // A glob below a link that leads out: refused.
    let p = Project::new();
    app(&p, "[hooks]\ncollect = [{ from = \"ext/**/*.txt\", to = \"data\" }]\n");
    symlink(out.path(), p.path().join("ext")).unwrap();
    let stderr = refused(&p);
    assert!(stderr.contains("`hooks.collect.0.from`"), "{stderr}");
    assert!(
        stderr.contains(&format!("{} is a symbolic link to {}", p.path().join("ext").display(), out.path().display())),
        "{stderr}"
    );
    assert!(stderr.contains("write that path itself in `hooks.collect`"), "{stderr}");

    // A match that is a link leading out: refused; a link the glob does not match is left alone.
    let p = Project::new();
    app(&p, "[python]\ninclude_paths = [\"main.py\"]\n[hooks]\ncollect = [{ from = \"data/*.json\", to = \"r\" }]\n");
    p.write("data/a.json", "{}");
    symlink(out.path().join("secret.txt"), p.path().join("data/notes.txt")).unwrap();
    let b = built_ok(&p);
    assert!(entry_paths(&b.exe).contains(&"r/a.json".to_string()));
    assert!(!entry_paths(&b.exe).iter().any(|e| e.contains("notes")));
    symlink(out.path().join("secret.txt"), p.path().join("data/b.json")).unwrap();
    fs_err::remove_dir_all(p.path().join("dist")).unwrap();
    let stderr = refused(&p);
    assert!(stderr.contains("`hooks.collect.0.from`") && stderr.contains("data/b.json is a symbolic link"), "{stderr}");

    // The outside path written as the source: packed.
    let p = Project::new();
    let rel_secret = Path::new("..").join(out.path().file_name().unwrap()).join("secret.txt");
    app(
        &p,
        &format!(
            "[hooks]\ncollect = [{{ from = \"{}/**/*.txt\", to = \"data\" }}, {{ from = \"{}\", to = \"one\" }}]\n",
            out.path().display(),
            rel_secret.display()
        ),
    );
    let b = built_ok(&p);
    let files = extracted(&b.exe);
    let get = |path: &str| files.iter().find(|(p, _)| p == path).map(|(_, c)| c.as_slice());
    assert_eq!(get("data/secret.txt"), Some(&b"outside secret"[..]));
    assert_eq!(get("data/sub/data.txt"), Some(&b"outside data"[..]));
    assert_eq!(get("one/secret.txt"), Some(&b"outside secret"[..]));
}

#[test]
fn links_inside_the_project_are_packed_as_their_content() {
    let p = Project::new();
    app(&p, "[python]\nresources = [\"shared\"]\n");
    p.write("pkg/mod.py", "VALUE = 1\n").write("assets/logo.txt", "logo");
    symlink("pkg/mod.py", p.path().join("alias.py")).unwrap();
    symlink("assets", p.path().join("shared")).unwrap();
    symlink("../assets/logo.txt", p.path().join("frontend/logo.txt")).unwrap();
    let b = built_ok(&p);
    assert_eq!(content_of(&b.exe, "python/alias.py").as_deref(), Some(&b"VALUE = 1\n"[..]));
    assert_eq!(content_of(&b.exe, "resources/shared/logo.txt").as_deref(), Some(&b"logo"[..]));
    assert_eq!(content_of(&b.exe, "frontend/logo.txt").as_deref(), Some(&b"logo"[..]));
    let entries = inspect(&b.exe)["entries"].as_array().unwrap().clone();
    assert!(entries.iter().all(|e| e["kind"] == "file" || e["kind"] == "executable"), "{entries:?}");
    let types = payload_entry_types(&b.exe);
    assert!(types.iter().any(|(p, _)| p == "python/alias.py"));
    let not_files: Vec<_> = types.iter().filter(|(_, t)| *t != tar::EntryType::Regular).collect();
    assert!(not_files.is_empty(), "the payload holds only regular files: {not_files:?}");
}

/// Runs `cmd` to its end: its exit code and peak resident memory in bytes (its own, or one of its
/// children's if larger), from `wait4`.
#[allow(clippy::zombie_processes)] // `wait4` reaps it.
fn run_measured(cmd: &mut Command) -> (i32, u64) {
    unsafe extern "C" {
        fn wait4(pid: i32, status: *mut i32, options: i32, rusage: *mut i64) -> i32;
    }
    let child = cmd.spawn().unwrap();
    let pid = child.id() as i32;
    let mut status = 0i32;
    // struct rusage on 64-bit Linux: two struct timeval (4 longs), ru_maxrss (KiB), 13 more longs.
    let mut usage = [0i64; 18];
    loop {
        // SAFETY: `status` and `usage` outlive the call and are as large as the kernel writes.
        let got = unsafe { wait4(pid, &mut status, 0, usage.as_mut_ptr()) };
        if got == pid {
            break;
        }
        assert_eq!(std::io::Error::last_os_error().kind(), std::io::ErrorKind::Interrupted, "wait4");
    }
    let code = if status & 0x7f == 0 { (status >> 8) & 0xff } else { -1 };
    (code, usage[4] as u64 * 1024)
}

/// A file bigger than the memory the packer may use is streamed into the frame. 512 MiB, not
/// 1 GiB: zstd level 19 with long-distance matching (the overlay's settings) takes about 25 s for
/// 512 MiB of zeros on a 2-core machine, 1 GiB twice that. Reading it whole took over 1 GiB of
/// memory (1.6 GB for 1 GiB); streamed, the packer stays at zstd's own buffers (~570 MB).
#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
#[test]
fn a_big_sparse_file_is_packed_in_bounded_memory() {
    const SIZE: u64 = 512 << 20;
    const LIMIT: u64 = 800 << 20;
    let p = Project::new();
    app(&p, "[python]\nresources = [\"big.bin\"]\ninclude_paths = [\"main.py\"]\n");
    fs_err::File::create(p.path().join("big.bin")).unwrap().set_len(SIZE).unwrap();
    let logs = tempfile::tempdir().unwrap();
    let err = logs.path().join("stderr");
    let started = std::time::Instant::now();
    let (code, max_rss) = run_measured(
        Command::new(bin("auroraview-pack"))
            .args(["-q", "build", "--config"])
            .arg(p.config_path())
            .env("AURORAVIEW_CACHE_DIR", pack_cache())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&err).unwrap()),
    );
    let stderr = fs_err::read_to_string(&err).unwrap();
    assert_eq!(code, 0, "{stderr}");
    eprintln!("packed {} MiB in {:.1} s, peak RSS {} MiB", SIZE >> 20, started.elapsed().as_secs_f64(), max_rss >> 20);
    assert!(max_rss < LIMIT, "peak RSS {} MiB for a {} MiB file: it was not streamed", max_rss >> 20, SIZE >> 20);
    let exe = p.path().join("dist/inputs");
    let entries = inspect(&exe)["entries"].as_array().unwrap().clone();
    let big = entries.iter().find(|e| e["path"] == "resources/big.bin").expect("big.bin packed");
    assert_eq!(big["size"], SIZE);
}
