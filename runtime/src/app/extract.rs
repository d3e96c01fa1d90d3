//! First-run extraction into the cache, once per content hash:
//! `<cache>/AuroraView/python/<app>/<hash>/` (`AURORAVIEW_CACHE_DIR` replaces `<cache>/AuroraView`).
//!
//! Extract into a temporary sibling under an exclusive lock, rename into place, then write the
//! completion marker. A warm start only stats the marker and checks who owns the tree. A tree
//! without a marker (a killed first launch) is redone. Each running process holds a shared lock on
//! its version, so cleaning up old versions never removes files from under a running app; the
//! most recently used other build is kept, so two builds used in turn do not evict each other.
//!
//! A `standalone` app's runtime (the stdlib, its extension modules, the bundled libraries) is
//! extracted once per runtime into `<cache>/AuroraView/python-standalone/<version>-<target>-v1-<hash>/`,
//! named by the hash of the runtime frame's compressed bytes (checked as they are read), and shared
//! by every app built on the same runtime: an app's tree holds `runtime` as a link to it, so a
//! second app's first run writes only its own files. Each process holds a shared lock on the
//! runtime it uses. Removing an app's tree never touches a shared runtime; a removed shared runtime
//! is extracted again by the next app that needs it.
//!
//! The cache is trusted only as far as it is private: each of its directories must belong to this
//! user and be writable by nobody else (`auroraview_overlay::private_dir`), or the app refuses to
//! run code from it.

use anyhow::{Context, Result};
use auroraview_overlay::{Overlay, SharedRuntime, Strategy};
use std::fs::File;
use std::path::{Path, PathBuf};

const MARKER: &str = ".auroraview-complete";

/// Where shared runtimes live, below the cache root.
const SHARED_DIR: &str = "python-standalone";
/// Part of every shared runtime's name: bumped when what a shared runtime holds changes.
const SHARED_LAYOUT: &str = "v1";

/// An extracted app. Holds the shared locks that mark the version, and the shared runtime it
/// uses, as in use.
pub struct Extracted {
    pub root: PathBuf,
    _in_use: File,
    _runtime_in_use: Option<File>,
}

/// The shared runtime an app uses: its directory, and the lock file its users hold.
struct Shared {
    dir: PathBuf,
    lock: PathBuf,
}

/// The shared runtime of a `standalone` app whose manifest places its runtime frame; `None` for
/// other apps, which keep their runtime in their own tree.
fn shared_runtime(overlay: &Overlay, root: &Path) -> Result<Option<Shared>> {
    let m = overlay.manifest();
    let (Some(r), Some(frame)) = (m.runtime.as_ref(), overlay.runtime_frame()?) else { return Ok(None) };
    if m.python.strategy != Strategy::Standalone || r.root != "runtime" {
        return Ok(None);
    }
    let name = format!("{}-{}-{SHARED_LAYOUT}-{}", r.python_version, r.target, short_hash(&frame.hash));
    // Names come from the manifest: only plain characters make a directory name of them.
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_')) {
        return Ok(None);
    }
    let base = root.join(SHARED_DIR);
    auroraview_overlay::private_dir(&base).context("preparing the shared runtime cache")?;
    Ok(Some(Shared { lock: base.join(format!("{name}.lock")), dir: base.join(name) }))
}

/// Holds `shared` as in use if it is whole; `None` if it is not (never made, half-made, removed).
fn hold_shared(shared: &Shared) -> Result<Option<File>> {
    if !shared.dir.join(MARKER).is_file() {
        return Ok(None);
    }
    // Made with the runtime; a warm start only opens it.
    let in_use = match File::open(&shared.lock) {
        Ok(f) => f,
        Err(_) => private_file(&shared.lock)?.into_parts().0,
    };
    in_use.lock_shared().with_context(|| format!("locking {}", shared.lock.display()))?;
    if !shared.dir.join(MARKER).is_file() {
        return Ok(None);
    }
    auroraview_overlay::check_owned(&shared.dir).context("checking the shared runtime")?;
    used_now(&in_use);
    Ok(Some(in_use))
}

/// The short form of the content hash used in directory names.
fn short_hash(content_hash: &str) -> &str {
    let hex = content_hash.split_once(':').map(|(_, h)| h).unwrap_or(content_hash);
    &hex[..hex.len().min(16)]
}

pub fn ensure(overlay: &Overlay) -> Result<Extracted> {
    let m = overlay.manifest();
    let root = auroraview_overlay::cache_root();
    let app_dir = root.join("python").join(&m.app.name);
    for dir in [&root, &root.join("python"), &app_dir] {
        auroraview_overlay::private_dir(dir).context("preparing the extraction cache")?;
    }
    let hash = short_hash(&m.content_hash);
    let dest = app_dir.join(hash);
    let in_use_path = app_dir.join(format!("{hash}.lock"));
    let shared = shared_runtime(overlay, &root)?;

    if dest.join(MARKER).is_file()
        && let Ok(in_use) = File::open(&in_use_path)
    {
        in_use.lock_shared().with_context(|| format!("locking {}", in_use_path.display()))?;
        // Still there once locked: a cleanup could only have removed it before we held the lock.
        if dest.join(MARKER).is_file() {
            auroraview_overlay::check_owned(&dest).context("checking the extracted app")?;
            let runtime_in_use = shared.as_ref().map(hold_shared).transpose()?.flatten();
            if shared.is_none() || runtime_in_use.is_some() {
                used_now(&in_use);
                return Ok(Extracted { root: dest, _in_use: in_use, _runtime_in_use: runtime_in_use });
            }
        }
    }

    let lock_path = app_dir.join(".lock");
    let lock = private_file(&lock_path)?;
    lock.file().lock().with_context(|| format!("locking {}", lock_path.display()))?;

    let mut runtime_in_use = shared.as_ref().map(hold_shared).transpose()?.flatten();
    let whole = dest.join(MARKER).is_file();
    if !whole || (shared.is_some() && runtime_in_use.is_none()) {
        let started = std::time::Instant::now();
        let made = match &shared {
            // The app's tree is whole (and may be in use): only its shared runtime went away.
            Some(s) if whole => remake_shared(overlay, &app_dir, s),
            _ => extract_locked(overlay, &app_dir, &dest, shared.as_ref(), runtime_in_use.is_some()),
        };
        made.map_err(|e| disk_full_hint(e, &app_dir))?;
        tracing::debug!("extracted in {:.1} ms (first run)", started.elapsed().as_secs_f64() * 1e3);
        if let (Some(s), None) = (&shared, &runtime_in_use) {
            runtime_in_use = hold_shared(s)?;
            if runtime_in_use.is_none() {
                anyhow::bail!(
                    "the shared runtime {} went away while this app started; start it again",
                    s.dir.display()
                );
            }
        }
    }
    let in_use = private_file(&in_use_path)?.into_parts().0;
    in_use.lock_shared().with_context(|| format!("locking {}", in_use_path.display()))?;
    used_now(&in_use);
    collect_garbage(&app_dir, hash);
    drop(lock);
    Ok(Extracted { root: dest, _in_use: in_use, _runtime_in_use: runtime_in_use })
}

/// Extracts the app into `dest` (under the app's lock). With a shared runtime: when it is not
/// `present`, it is made too, under the shared runtimes' lock, from this app's runtime frame; the
/// app's tree then holds `runtime` as a link to it.
fn extract_locked(
    overlay: &Overlay,
    app_dir: &Path,
    dest: &Path,
    shared: Option<&Shared>,
    present: bool,
) -> Result<()> {
    // Anything half-done is from a process that died: we hold the lock.
    if dest.exists() {
        fs_err::remove_dir_all(dest)?;
    }
    remove_temporaries(app_dir);
    let tmp =
        app_dir.join(format!(".tmp-{}-{}", dest.file_name().unwrap_or_default().to_string_lossy(), std::process::id()));
    create_tree_dir(&tmp)?;
    let result = match shared {
        None => overlay.extract_to(&tmp).map(|_| ()).map_err(anyhow::Error::from),
        Some(s) => extract_with_shared(overlay, &tmp, s, present),
    };
    if let Err(e) = result {
        let _ = fs_err::remove_dir_all(&tmp);
        return Err(e);
    }
    fs_err::rename(&tmp, dest)?;
    // No fsync: on ext4 it would flush the whole tree and triple the cold start.
    private_file(&dest.join(MARKER))?;
    Ok(())
}

/// Makes the shared runtime again from this app's runtime frame; the app's own files, extracted
/// on the way, are thrown away.
fn remake_shared(overlay: &Overlay, app_dir: &Path, shared: &Shared) -> Result<()> {
    let scratch = app_dir.join(format!(".tmp-runtime-{}", std::process::id()));
    create_tree_dir(&scratch)?;
    let made = extract_with_shared(overlay, &scratch, shared, false);
    let _ = fs_err::remove_dir_all(&scratch);
    made
}

fn extract_with_shared(overlay: &Overlay, tree: &Path, shared: &Shared, present: bool) -> Result<()> {
    let base = shared.dir.parent().expect("a shared runtime has a parent");
    let name = shared.dir.file_name().expect("a shared runtime has a name").to_string_lossy().into_owned();
    // `<cache>/python/<app>/<hash>/runtime` → `<cache>/python-standalone/<name>`.
    std::os::unix::fs::symlink(Path::new("../../..").join(SHARED_DIR).join(&name), tree.join("runtime"))
        .with_context(|| format!("linking {} to the shared runtime", tree.display()))?;
    if present {
        return overlay.extract_sharing(tree, SharedRuntime::Present).map(|_| ()).map_err(Into::into);
    }
    let lock_path = base.join(".lock");
    let lock = private_file(&lock_path)?;
    lock.file().lock().with_context(|| format!("locking {}", lock_path.display()))?;
    // Another app may have made it meanwhile.
    if shared.dir.join(MARKER).is_file() {
        auroraview_overlay::check_owned(&shared.dir).context("checking the shared runtime")?;
        return overlay.extract_sharing(tree, SharedRuntime::Present).map(|_| ()).map_err(Into::into);
    }
    if shared.dir.exists() {
        fs_err::remove_dir_all(&shared.dir)?;
    }
    remove_temporaries(base);
    let tmp = base.join(format!(".tmp-{name}-{}", std::process::id()));
    create_tree_dir(&tmp)?;
    if let Err(e) = overlay.extract_sharing(tree, SharedRuntime::Into(&tmp)) {
        let _ = fs_err::remove_dir_all(&tmp);
        return Err(e.into());
    }
    fs_err::rename(&tmp, &shared.dir)?;
    private_file(&shared.dir.join(MARKER))?;
    collect_shared(base, &name);
    drop(lock);
    Ok(())
}

/// Shared runtimes unused for this long are removed when another one is made (rarely: once per
/// new Python runtime). An app whose runtime was removed extracts it again when it next starts.
const SHARED_IDLE: std::time::Duration = std::time::Duration::from_secs(30 * 24 * 3600);

/// Removes the shared runtimes (other than `keep`) that no process holds and none has used for
/// [`SHARED_IDLE`]. Called under `python-standalone/.lock`.
fn collect_shared(base: &Path, keep: &str) {
    let now = std::time::SystemTime::now();
    for entry in fs_err::read_dir(base).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(runtime) = name.strip_suffix(".lock") else { continue };
        if runtime == keep || runtime.is_empty() || runtime.starts_with('.') {
            continue;
        }
        let Ok(file) = File::options().write(true).open(entry.path()) else { continue };
        let used = file.metadata().and_then(|m| m.modified()).unwrap_or(std::time::UNIX_EPOCH);
        let idle = now.duration_since(used).unwrap_or_default() >= SHARED_IDLE;
        // Held until removed, so no process starts using it meanwhile.
        if idle && file.try_lock().is_ok() {
            let _ = fs_err::remove_dir_all(base.join(runtime));
            let _ = fs_err::remove_file(entry.path());
        }
    }
}

/// Opens (creating if missing) a file of the cache that only this user may write, whatever the
/// umask.
pub fn private_file(path: &Path) -> Result<fs_err::File> {
    use fs_err::os::unix::fs::OpenOptionsExt;
    use std::os::unix::fs::PermissionsExt;
    let file = fs_err::OpenOptions::new().create(true).truncate(false).write(true).mode(0o644).open(path)?;
    file.set_permissions(std::fs::Permissions::from_mode(0o644))?;
    Ok(file)
}

/// The extracted tree's top directory: 0755 whatever the umask, like everything extracted.
fn create_tree_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new().mode(0o755).create(dir).with_context(|| format!("creating {}", dir.display()))?;
    fs_err::set_permissions(dir, std::fs::Permissions::from_mode(0o755))?;
    Ok(())
}

/// A full disk says so, keeps the OS's own words, and says where to go instead.
fn disk_full_hint(e: anyhow::Error, app_dir: &Path) -> anyhow::Error {
    let full = e.chain().any(|c| {
        let io = c.downcast_ref::<std::io::Error>().or_else(|| match c.downcast_ref::<auroraview_overlay::Error>() {
            Some(auroraview_overlay::Error::Io(io)) => Some(io),
            _ => None,
        });
        io.is_some_and(|io| io.kind() == std::io::ErrorKind::StorageFull || io.raw_os_error() == Some(libc::ENOSPC))
    });
    if full {
        e.context(format!(
            "extracting the app into {} failed: the disk is full
hint: free some space there, or set AURORAVIEW_CACHE_DIR to a directory on a disk with room",
            app_dir.display()
        ))
    } else {
        e
    }
}

fn remove_temporaries(app_dir: &Path) {
    for entry in fs_err::read_dir(app_dir).into_iter().flatten().flatten() {
        if entry.file_name().to_string_lossy().starts_with(".tmp-") {
            let _ = fs_err::remove_dir_all(entry.path());
        }
    }
}

/// Other builds of the app kept besides the one starting: the most recently used, so two builds
/// used in turn (a release and a development build, say) are not extracted again at every start.
const KEEP_OTHERS: usize = 1;

/// Records that this build was used now: its lock file's mtime (one `futimens` per start).
fn used_now(in_use: &File) {
    let _ = in_use.set_modified(std::time::SystemTime::now());
}

/// Removes the other builds of the app that no running process holds, except the
/// [`KEEP_OTHERS`] most recently used.
fn collect_garbage(app_dir: &Path, keep: &str) {
    let mut idle = Vec::new();
    for entry in fs_err::read_dir(app_dir).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(hash) = name.strip_suffix(".lock") else { continue };
        if hash == keep || hash.is_empty() {
            continue;
        }
        let Ok(file) = File::options().write(true).open(entry.path()) else { continue };
        if file.try_lock().is_ok() {
            let used = file.metadata().and_then(|m| m.modified()).unwrap_or(std::time::UNIX_EPOCH);
            // Held until removed, so no process starts this build meanwhile.
            idle.push((used, hash.to_string(), entry.path(), file));
        }
    }
    idle.sort_by_key(|e| std::cmp::Reverse(e.0));
    for (_, hash, lock, _held) in idle.into_iter().skip(KEEP_OTHERS) {
        let _ = fs_err::remove_dir_all(app_dir.join(&hash));
        let _ = fs_err::remove_file(lock);
    }
}
