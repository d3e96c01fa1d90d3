//! Where AuroraView caches extracted apps and pack frames, and the rule that makes the cache safe
//! to run code from: every directory of it belongs to the user and nobody else can write to it.
//! Code another local user planted there would otherwise run as the next user who starts the app.

use std::io;
use std::path::{Path, PathBuf};

/// `AURORAVIEW_CACHE_DIR` when set and not empty, else the user's cache directory
/// (`~/.cache/AuroraView` on Linux), else a directory of this user's own in the temp directory
/// (`AuroraView-<uid>`; [`private_dir`] refuses it if someone else made it first).
pub fn cache_root() -> PathBuf {
    std::env::var_os("AURORAVIEW_CACHE_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| dirs::cache_dir().map(|d| d.join("AuroraView")))
        .unwrap_or_else(|| std::env::temp_dir().join(format!("AuroraView-{}", uid())))
}

#[cfg(unix)]
fn uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

#[cfg(not(unix))]
fn uid() -> u32 {
    0
}

/// Creates `dir` (and its parents) if missing, with mode 0700 for the ones created here, then
/// checks that it is a directory owned by this user that neither group nor others can write to.
/// The error names the directory and the way out.
pub fn private_dir(dir: &Path) -> io::Result<()> {
    match std::fs::metadata(dir) {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => create_private(dir)?,
        Err(e) => return Err(io::Error::new(e.kind(), format!("{}: {e}", dir.display()))),
    }
    check_owned(dir)
}

#[cfg(unix)]
fn create_private(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!(
                "creating {}: {e}\nhint: set AURORAVIEW_CACHE_DIR to a writable directory of your own",
                dir.display()
            ),
        )
    })
}

#[cfg(not(unix))]
fn create_private(dir: &Path) -> io::Result<()> {
    fs_err::create_dir_all(dir)
}

/// Whether `dir` is a directory this user owns and only this user can write to.
#[cfg(unix)]
pub fn check_owned(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(dir).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", dir.display())))?;
    let refuse = |why: String| {
        Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "{} {why}, so code in it could have been placed by someone else; AuroraView will not run it\nhint: remove it, or set AURORAVIEW_CACHE_DIR to a directory of your own",
                dir.display()
            ),
        ))
    };
    if !m.is_dir() {
        return refuse("is not a directory".into());
    }
    if m.uid() != uid() {
        return refuse(format!("belongs to another user (uid {}, you are {})", m.uid(), uid()));
    }
    if m.mode() & 0o022 != 0 {
        return refuse(format!("can be written by group or others (mode {:o})", m.mode() & 0o7777));
    }
    Ok(())
}

#[cfg(not(unix))]
pub fn check_owned(_: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_new_cache_is_private_and_a_shared_one_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("a/b/AuroraView");
        private_dir(&root).unwrap();
        assert_eq!(std::fs::metadata(&root).unwrap().permissions().mode() & 0o777, 0o700);
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = private_dir(&root).unwrap_err();
        assert!(e.to_string().contains("written by group or others") && e.to_string().contains("AURORAVIEW_CACHE_DIR"));
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).unwrap();
        private_dir(&root).unwrap();
        std::fs::write(d.path().join("file"), "").unwrap();
        assert!(private_dir(&d.path().join("file")).is_err());
    }
}
