//! The payload's frames, from least to most often changed: the Python runtime, site-packages, and
//! the app itself. The first two are cached by a key over their inputs, so a repack that changed
//! neither runs no pip and recompresses nothing but the app.

use crate::cache::{FileHashCache, KeyHasher, PackCache};
use crate::collect::{self, Input};
use crate::inmemory;
use crate::python::Interpreter;
use crate::report::Reporter;
use crate::sharedlibs;
use anyhow::{Context, Result};
use auroraview_overlay::{Frame, FrameBuilder, SourceFile, modules};
use std::path::Path;

/// zstd level for all frames: decompression speed barely depends on it, size does.
pub const LEVEL: i32 = 19;

/// Where the runtime tree lives in the overlay, and its stdlib below it.
pub const RUNTIME_ROOT: &str = "runtime";

pub fn stdlib_rel(minor: &str) -> String {
    format!("lib/python{minor}")
}

/// Stdlib parts an app never imports. `stdlib_keep` names any of them to keep.
const TRIMMED_TOP: [&str; 6] = ["test", "idlelib", "ensurepip", "turtledemo", "site-packages", "__phello__"];
const TRIMMED_TK: [&str; 3] = ["tkinter", "turtle.py", "_tkinter"];
const TEST_DIRS: [&str; 3] = ["test", "tests", "idle_test"];

fn keep_stdlib_path(rel: &str, keep: &[String]) -> bool {
    let kept =
        |name: &str| keep.iter().any(|k| k == name || (name == "_tkinter" || name == "turtle.py") && k == "tkinter");
    let mut parts = rel.split('/');
    let top = parts.next().unwrap_or("");
    if top.starts_with("config-") {
        return false;
    }
    if TRIMMED_TOP.contains(&top) && !kept(top) {
        return false;
    }
    if TRIMMED_TK.contains(&top) && !kept(top) {
        return false;
    }
    if top == "lib-dynload" {
        let name = rel.rsplit('/').next().unwrap_or("");
        if name.starts_with("_tkinter") && !kept("tkinter") {
            return false;
        }
        if name.starts_with("_test") || name.starts_with("_xxtest") || name.starts_with("xxlimited") {
            return false;
        }
    }
    // Test suites nested in packages (unittest/test, ctypes/test, lib2to3/tests, ...).
    let dirs: Vec<&str> = rel.split('/').collect();
    if dirs[..dirs.len() - 1].iter().skip(1).any(|d| TEST_DIRS.contains(d)) && !kept("test") {
        return false;
    }
    true
}

/// The bundled runtime's frame, and what the manifest says about it.
pub struct Runtime {
    pub frame: Frame,
    /// The shared libraries copied into `runtime/lib/` (their `DT_NEEDED` names), sorted.
    pub libraries: Vec<String>,
    /// The highest glibc version (`[2, 35]`) the runtime tree's ELF files need.
    pub glibc_floor: Option<Vec<u32>>,
}

/// The trimmed, stripped, precompiled stdlib of `interp` under `runtime/lib/pythonX.Y/`, with the
/// shared libraries its extension modules need beyond glibc in `runtime/lib/` (`sharedlibs`).
pub fn runtime(
    interp: &Interpreter,
    keep: &[String],
    in_memory: bool,
    cache: &PackCache,
    hashes: &mut FileHashCache,
    report: &Reporter,
) -> Result<Runtime> {
    let files = collect::walk(&interp.stdlib, &|_, rel| !keep_stdlib_path(rel, keep))?;
    let elfs = sharedlibs::scan(&files)?;
    let needs = sharedlibs::resolve(&elfs)?;
    if !report.quiet {
        for (rel, name) in &needs.missing {
            eprintln!(
                "warning: the stdlib's {rel} needs {name}, which this machine does not have either: it is not bundled, and that module will not import"
            );
        }
    }
    let libraries: Vec<String> = needs.libraries.iter().map(|l| l.name.clone()).collect();
    let mut glibc_floor = sharedlibs::glibc_floor(needs.libraries.iter().map(|l| l.source.as_path()))?;
    for e in &elfs {
        glibc_floor = sharedlibs::max_version(glibc_floor, e.info.glibc.clone());
    }
    let mut key = KeyHasher::new(if in_memory { "runtime-in-memory" } else { "runtime" });
    key.add(interp.executable.as_os_str().as_encoded_bytes()).add(&interp.version).add(keep.join("\n"));
    for (rel, path) in &files {
        key.add(rel).add(hashes.hash(path)?);
    }
    // The bundled libraries by content, so a changed system library repacks.
    key.add("shared-libraries-1");
    for lib in &needs.libraries {
        key.add(&lib.name).add(hashes.hash(&lib.source)?);
    }
    let key = key.finish();
    if !libraries.is_empty() {
        report.note(format!("bundling {} shared libraries: {}", libraries.len(), libraries.join(", ")));
    }
    if let Some(frame) = cache.frame(&key) {
        report.note(format!("Python {} runtime: unchanged (cached)", interp.version));
        return Ok(Runtime { frame, libraries, glibc_floor });
    }
    // Each ELF that needs a bundled library (or carries a RUNPATH, such as the build machine's
    // prefix) looks in `runtime/lib/` first, relative to itself, with no environment variable.
    let bundled: std::collections::BTreeSet<&str> = libraries.iter().map(String::as_str).collect();
    let needs_patch = |info: &sharedlibs::ElfInfo, runpath: &str| {
        info.runpath.as_deref().is_some_and(|r| r != runpath)
            || info.needed.iter().any(|n| bundled.contains(n.as_str()))
    };
    let runpath_of = |rel: &str| sharedlibs::origin_runpath(&format!("{}/{rel}", stdlib_rel(&interp.minor)));
    let patchelf = if !bundled.is_empty() || elfs.iter().any(|e| needs_patch(&e.info, &runpath_of(&e.rel))) {
        Some(sharedlibs::patchelf()?)
    } else {
        None
    };
    let step = report.step(format!("Preparing the Python {} runtime ({} files)", interp.version, files.len()));
    let staging = cache.temp_dir("runtime-")?;
    let stdlib = stdlib_rel(&interp.minor);
    let lib = staging.path().join(&stdlib);
    for (rel, path) in &files {
        let dest = lib.join(rel);
        fs_err::create_dir_all(dest.parent().expect("has parent"))?;
        fs_err::copy(path, &dest)?;
        if rel.ends_with(".so") {
            strip(&dest);
        }
    }
    for e in &elfs {
        let runpath = runpath_of(&e.rel);
        if needs_patch(&e.info, &runpath) {
            sharedlibs::set_runpath(patchelf.as_deref().expect("found above"), &lib.join(&e.rel), &runpath)?;
        }
    }
    for l in &needs.libraries {
        let dest = staging.path().join(sharedlibs::LIB_DIR).join(&l.name);
        fs_err::copy(&l.source, &dest)?;
        {
            use std::os::unix::fs::PermissionsExt;
            fs_err::set_permissions(&dest, std::fs::Permissions::from_mode(0o755))?;
        }
        strip(&dest);
        let runpath = sharedlibs::origin_runpath(&format!("{}/{}", sharedlibs::LIB_DIR, l.name));
        if needs_patch(&sharedlibs::read(&l.source)?, &runpath) {
            sharedlibs::set_runpath(patchelf.as_deref().expect("found above"), &dest, &runpath)?;
        }
    }
    step.message("Precompiling the standard library");
    interp.compile_all(&lib)?;
    step.message("Compressing the runtime");
    let frame = if in_memory {
        let mut split =
            inmemory::split(&lib, &format!("{RUNTIME_ROOT}/{stdlib}"), &cache_tag(interp), false, None, &|m| {
                inmemory::STDLIB_BOOTSTRAP.contains(&m)
            })?;
        // What stays a file, relative to `runtime/`: the stdlib's, and the bundled libraries.
        split.files = split.files.into_iter().map(|(rel, p)| (format!("{stdlib}/{rel}"), p)).collect();
        for l in &needs.libraries {
            let rel = format!("{}/{}", sharedlibs::LIB_DIR, l.name);
            split.files.push((rel.clone(), staging.path().join(rel)));
        }
        frame_of_split(split, RUNTIME_ROOT, &format!("{RUNTIME_ROOT}/{}", inmemory::TABLE))?
    } else {
        frame_of_dir(staging.path(), RUNTIME_ROOT)?
    };
    cache.store_frame(&key, &frame)?;
    step.finish();
    Ok(Runtime { frame, libraries, glibc_floor })
}

/// Shrinks a shared library; a machine without `strip` ships it as it is.
fn strip(path: &Path) {
    let _ = std::process::Command::new("strip")
        .arg("--strip-unneeded")
        .arg(path)
        .stderr(std::process::Stdio::null())
        .status();
}

/// `python/site-packages/` with `packages` installed by `interp`'s pip and precompiled.
pub fn packages(
    interp: &Interpreter,
    packages: &[String],
    in_memory: bool,
    root: &Path,
    cache: &PackCache,
    hashes: &mut FileHashCache,
    report: &Reporter,
) -> Result<Frame> {
    let mut key = KeyHasher::new(if in_memory { "site-packages-in-memory" } else { "site-packages" });
    key.add(interp.executable.as_os_str().as_encoded_bytes()).add(&interp.version);
    for req in packages {
        key.add(req);
        // A local path requirement is keyed by its content.
        let local = root.join(req);
        if local.is_file() {
            key.add(hashes.hash(&local)?);
        } else if local.is_dir() && (req.starts_with('.') || req.starts_with('/')) {
            for (rel, path) in collect::walk(&local, &|_, _| false)? {
                key.add(rel).add(hashes.hash(&path)?);
            }
        }
    }
    let key = key.finish();
    if let Some(frame) = cache.frame(&key) {
        report.note(format!("site-packages ({}): unchanged (cached)", packages.join(", ")));
        return Ok(frame);
    }
    let step = report.step(format!("Installing {} with Python {}", packages.join(", "), interp.version));
    let staging = cache.temp_dir("site-packages-")?;
    let target = staging.path().join("site-packages");
    let mut args: Vec<&std::ffi::OsStr> = ["pip", "install", "--target"].iter().map(|s| s.as_ref()).collect();
    args.push(target.as_os_str());
    for a in ["--no-compile", "--no-warn-script-location", "--disable-pip-version-check", "--quiet"] {
        args.push(a.as_ref());
    }
    args.extend(packages.iter().map(|p| p.as_ref() as &std::ffi::OsStr));
    interp.run_module_in(&args, root, "pip install")?;
    // Console scripts carry the build machine's interpreter in their shebang: useless packed.
    let bin = target.join("bin");
    if bin.is_dir() {
        fs_err::remove_dir_all(&bin)?;
    }
    step.message("Precompiling site-packages");
    interp.compile_all(&target)?;
    step.message("Compressing site-packages");
    let frame = if in_memory {
        let split = inmemory::split(&target, "python/site-packages", &cache_tag(interp), false, None, &|_| false)?;
        frame_of_split(split, "python/site-packages", &format!("python/site-packages/{}", inmemory::TABLE))?
    } else {
        frame_of_dir(&target, "python/site-packages")?
    };
    cache.store_frame(&key, &frame)?;
    step.finish();
    Ok(frame)
}

/// The window library under `gui/`, cached by its content.
pub fn gui(library: &Path, cache: &PackCache, hashes: &mut FileHashCache) -> Result<(Frame, String)> {
    let name = library.file_name().and_then(|n| n.to_str()).context("window library has no UTF-8 name")?;
    let archive = format!("gui/{name}");
    let key = KeyHasher::new("gui").add(&archive).add(hashes.hash(library)?).finish();
    if let Some(frame) = cache.frame(&key) {
        return Ok((frame, archive));
    }
    let mut builder = FrameBuilder::new(LEVEL);
    builder.add(SourceFile::from_path(archive.clone(), library));
    let frame = builder.finish().context("compressing the window library")?;
    cache.store_frame(&key, &frame)?;
    Ok((frame, archive))
}

/// The app's own frame. Python sources are staged with the `auroraview` package and precompiled.
/// With `in_memory` (the `pyoxidizer` strategy), modules go into in-memory tables, except
/// `keep_file`, the entry script, which runpy reads from disk.
pub fn app(
    inputs: Vec<Input>,
    python_files: Vec<Input>,
    extra: Vec<SourceFile>,
    interp: Option<&Interpreter>,
    in_memory: Option<&str>,
    cache: &PackCache,
) -> Result<Frame> {
    let mut builder = FrameBuilder::new(LEVEL);
    for i in inputs {
        builder.add(SourceFile::from_path(i.archive_path, i.source));
    }
    builder.extend(extra);
    let staging = cache.temp_dir("app-")?;
    for i in &python_files {
        let dest = staging.path().join(&i.archive_path);
        fs_err::create_dir_all(dest.parent().expect("has parent"))?;
        fs_err::copy(&i.source, &dest)?;
    }
    for (rel, bytes) in crate::pypkg::files() {
        let dest = staging.path().join("python/site-packages/auroraview").join(rel);
        fs_err::create_dir_all(dest.parent().expect("has parent"))?;
        fs_err::write(&dest, bytes)?;
    }
    if let Some(interp) = interp {
        interp.compile_all(&staging.path().join("python"))?;
    }
    let files: Vec<(String, std::path::PathBuf)> = match (in_memory, interp) {
        (Some(keep_file), Some(interp)) => {
            let python = staging.path().join("python");
            let tag = cache_tag(interp);
            let site =
                inmemory::split(&python.join("site-packages"), "python/site-packages", &tag, true, None, &|_| false)?;
            let app = inmemory::split(&python, "python", &tag, true, Some("site-packages"), &|m| {
                format!("python/{m}.py") == keep_file
            })?;
            // The app's table also carries the `auroraview` package, which lives in site-packages.
            let mut modules = app.modules;
            modules.extend(site.modules);
            builder.add(SourceFile::from_bytes(format!("python/{}", inmemory::TABLE), modules::encode(&modules)));
            let mut files: Vec<_> = app.files.into_iter().map(|(rel, p)| (format!("python/{rel}"), p)).collect();
            files.extend(site.files.into_iter().map(|(rel, p)| (format!("python/site-packages/{rel}"), p)));
            files
        }
        _ => collect::walk_all(staging.path())?,
    };
    for (rel, path) in files {
        // Staged copies keep the scripts' permission bits (fs::copy copies them); .pyc are never
        // executable.
        builder.add(SourceFile::from_path(rel, path));
    }
    builder.finish().context("compressing the app")
}

fn cache_tag(interp: &Interpreter) -> String {
    format!("cpython-{}", interp.minor.replace('.', ""))
}

/// A frame of what stays a file, with the module table at `table`.
fn frame_of_split(split: inmemory::Split, prefix: &str, table: &str) -> Result<Frame> {
    let mut builder = FrameBuilder::new(LEVEL);
    builder.add(SourceFile::from_bytes(table, modules::encode(&split.modules)));
    for (rel, path) in split.files {
        builder.add(SourceFile::from_path(format!("{prefix}/{rel}"), path));
    }
    builder.finish().with_context(|| format!("compressing {prefix}"))
}

fn frame_of_dir(dir: &Path, prefix: &str) -> Result<Frame> {
    let mut builder = FrameBuilder::new(LEVEL);
    for (rel, path) in collect::walk_all(dir)? {
        builder.add(SourceFile::from_path(format!("{prefix}/{rel}"), path));
    }
    builder.finish().with_context(|| format!("compressing {prefix}"))
}
