//! The app on this machine: its files extracted into the cache ([`extract`]), where each part is
//! and what Python sees of it ([`layout`]), and a Python of the machine when the app brings none
//! ([`machine_python`]).

pub mod extract;
pub mod layout;
pub mod machine_python;

use auroraview_overlay::EntryPoint;
use std::ffi::OsString;
use std::path::Path;

/// The entry point as `auroraview._child` takes it, in every mode: `call MODULE FUNCTION` or
/// `script PATH` (a script is relative to the app's `python_dir`).
pub fn entry_words(entry: &EntryPoint, python_dir: &Path) -> Vec<OsString> {
    match entry {
        EntryPoint::Function { module, function } => vec!["call".into(), module.into(), function.into()],
        EntryPoint::Script(path) => vec!["script".into(), python_dir.join(path).into()],
    }
}
