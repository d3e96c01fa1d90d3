//! First-run extraction into the cache, once per content hash:
//! `<cache>/AuroraView/python/<app>/<hash>/` (`AURORAVIEW_CACHE_DIR` replaces `<cache>/AuroraView`).
//!
//! Extract into a temporary sibling under an exclusive lock, rename into place, then write the
//! completion marker. A warm start only stats the marker. A tree without a marker (a killed first
//! launch) is redone. Each running process holds a shared lock on its version, so cleaning up old
//! versions never removes files from under a running app.

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
    let app_dir = auroraview_overlay::cache_root().join("python").join(&m.app.name);
    let hash = short_hash(&m.content_hash);
    let dest = app_dir.join(hash);
    let in_use_path = app_dir.join(format!("{hash}.lock"));

    if dest.join(MARKER).is_file()
        && let Ok(in_use) = File::open(&in_use_path)
    {
        in_use.lock_shared().with_context(|| format!("locking {}", in_use_path.display()))?;
        // Still there once locked: a cleanup could only have removed it before we held the lock.
        if dest.join(MARKER).is_file() {
            return Ok(Extracted { root: dest, _in_use: in_use });
        }
    }

    fs_err::create_dir_all(&app_dir).with_context(|| {
        "creating the extraction cache; set AURORAVIEW_CACHE_DIR to a writable directory".to_string()
    })?;
    let lock_path = app_dir.join(".lock");
    let lock = fs_err::OpenOptions::new().create(true).truncate(false).write(true).open(&lock_path)?;
    lock.file().lock().with_context(|| format!("locking {}", lock_path.display()))?;

    if !dest.join(MARKER).is_file() {
        let started = std::time::Instant::now();
        extract_locked(overlay, &app_dir, &dest)?;
        tracing::debug!("extracted in {:.1} ms (first run)", started.elapsed().as_secs_f64() * 1e3);
    }
    let in_use = fs_err::OpenOptions::new().create(true).truncate(false).write(true).open(&in_use_path)?.into_parts().0;
    in_use.lock_shared().with_context(|| format!("locking {}", in_use_path.display()))?;
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
    fs_err::create_dir_all(&tmp)?;
    if let Err(e) = overlay.extract_to(&tmp) {
        let _ = fs_err::remove_dir_all(&tmp);
        return Err(e.into());
    }
    fs_err::rename(&tmp, dest)?;
    // No fsync: on ext4 it would flush the whole tree and triple the cold start.
    fs_err::File::create(dest.join(MARKER))?;
    Ok(())
}

fn remove_temporaries(app_dir: &Path) {
    for entry in fs_err::read_dir(app_dir).into_iter().flatten().flatten() {
        if entry.file_name().to_string_lossy().starts_with(".tmp-") {
            let _ = fs_err::remove_dir_all(entry.path());
        }
    }
}

/// Removes other versions of the app that no running process holds.
fn collect_garbage(app_dir: &Path, keep: &str) {
    for entry in fs_err::read_dir(app_dir).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(hash) = name.strip_suffix(".lock") else { continue };
        if hash == keep || hash.is_empty() {
            continue;
        }
        let Ok(file) = File::options().write(true).open(entry.path()) else { continue };
        if file.try_lock().is_ok() {
            let _ = fs_err::remove_dir_all(app_dir.join(hash));
            let _ = fs_err::remove_file(entry.path());
        }
    }
}
