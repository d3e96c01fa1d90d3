//! The app on this machine: its files extracted into the cache ([`extract`]), where each part is
//! and what Python sees of it ([`layout`]), and a Python of the machine when the app brings none
//! ([`machine_python`]).

pub mod extract;
pub mod glibc;
pub mod layout;
pub mod license;
pub mod machine_python;

use auroraview_overlay::EntryPoint;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Where `sys.executable` points: `bin/python3` in the app's tree, a link to this executable, which
/// runs as `python` when started under that name (so `subprocess.run([sys.executable, "-c", ...])`
/// and multiprocessing's `spawn` work). Made or mended on each start (one `readlink` when it is
/// right); `None` if the tree cannot hold it (a read-only portable directory).
#[cfg_attr(not(feature = "python"), allow(dead_code))]
pub fn python_command(root: &Path, exe: &Path) -> Option<PathBuf> {
    let link = root.join("bin").join("python3");
    if std::fs::read_link(&link).is_ok_and(|target| target == exe) {
        return Some(link);
    }
    let made = (|| -> std::io::Result<()> {
        let bin = link.parent().expect("has a parent");
        if !bin.is_dir() {
            use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
            std::fs::DirBuilder::new().mode(0o755).create(bin)?;
            // Whatever the umask: nobody else may put a program here.
            std::fs::set_permissions(bin, std::fs::Permissions::from_mode(0o755))?;
        }
        let tmp = link.with_file_name(format!(".python3-{}", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        std::os::unix::fs::symlink(exe, &tmp)?;
        std::fs::rename(&tmp, &link)
    })();
    match made {
        Ok(()) => Some(link),
        Err(e) => {
            tracing::debug!("no python command at {}: {e}", link.display());
            None
        }
    }
}

/// Whether this executable was started under a name of the `python` command.
pub fn invoked_as_python(argv0: &std::ffi::OsStr) -> bool {
    let name = Path::new(argv0).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let rest = name.strip_prefix("python").unwrap_or("-");
    rest.is_empty()
        || rest == "3"
        || rest.strip_prefix("3.").is_some_and(|minor| !minor.is_empty() && minor.bytes().all(|b| b.is_ascii_digit()))
}

/// The entry point as `auroraview._child` takes it, in every mode: `call MODULE FUNCTION` or
/// `script PATH` (a script is relative to the app's `python_dir`).
pub fn entry_words(entry: &EntryPoint, python_dir: &Path) -> Vec<OsString> {
    match entry {
        EntryPoint::Function { module, function } => vec!["call".into(), module.into(), function.into()],
        EntryPoint::Script(path) => vec!["script".into(), python_dir.join(path).into()],
    }
}
