//! First-run extraction into the cache, once per content hash:
//! `<cache>/AuroraView/python/<app>/<hash>/` (`AURORAVIEW_CACHE_DIR` replaces `<cache>/AuroraView`).
//!
//! Extract into a temporary sibling under an exclusive lock, rename into place, then write the
//! completion marker. A warm start only stats the marker and checks who owns the tree. A tree
//! without a marker (a killed first launch) is redone. Each running process holds a shared lock on
//! its version, so cleaning up old versions never removes files from under a running app; the
//! most recently used other build is kept, so two builds used in turn do not evict each other.
//!
//! The cache is trusted only as far as it is private: each of its directories must belong to this
//! user and be writable by nobody else (`auroraview_overlay::private_dir`), or the app refuses to
//! run code from it.

use anyhow::{Context, Result};
use auroraview_overlay::Overlay;
use std::fs::File;
use std::path::{Path, PathBuf};

const MARKER: &str = ".auroraview-complete";

/// An extracted app. Holds the shared lock that marks the version as in use.
pub struct Extracted {
    pub root: PathBuf,
    _in_use: File,
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

    if dest.join(MARKER).is_file()
        && let Ok(in_use) = File::open(&in_use_path)
    {
        in_use.lock_shared().with_context(|| format!("locking {}", in_use_path.display()))?;
        // Still there once locked: a cleanup could only have removed it before we held the lock.
        if dest.join(MARKER).is_file() {
            auroraview_overlay::check_owned(&dest).context("checking the extracted app")?;
            used_now(&in_use);
            return Ok(Extracted { root: dest, _in_use: in_use });
        }
    }

    let lock_path = app_dir.join(".lock");
    let lock = private_file(&lock_path)?;
    lock.file().lock().with_context(|| format!("locking {}", lock_path.display()))?;

    if !dest.join(MARKER).is_file() {
        let started = std::time::Instant::now();
        extract_locked(overlay, &app_dir, &dest).map_err(|e| disk_full_hint(e, &app_dir))?;
        tracing::debug!("extracted in {:.1} ms (first run)", started.elapsed().as_secs_f64() * 1e3);
    }
    let in_use = private_file(&in_use_path)?.into_parts().0;
    in_use.lock_shared().with_context(|| format!("locking {}", in_use_path.display()))?;
    used_now(&in_use);
    collect_garbage(&app_dir, hash);
    drop(lock);
    Ok(Extracted { root: dest, _in_use: in_use })
}

fn extract_locked(overlay: &Overlay, app_dir: &Path, dest: &Path) -> Result<()> {
    // Anything half-done is from a process that died: we hold the lock.
    if dest.exists() {
        fs_err::remove_dir_all(dest)?;
    }
    remove_temporaries(app_dir);
    let tmp =
        app_dir.join(format!(".tmp-{}-{}", dest.file_name().unwrap_or_default().to_string_lossy(), std::process::id()));
    create_tree_dir(&tmp)?;
    if let Err(e) = overlay.extract_to(&tmp) {
        let _ = fs_err::remove_dir_all(&tmp);
        return Err(e.into());
    }
    fs_err::rename(&tmp, dest)?;
    // No fsync: on ext4 it would flush the whole tree and triple the cold start.
    private_file(&dest.join(MARKER))?;
    Ok(())
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
