//! For the `pyoxidizer` strategy: splits a compiled tree into modules for an in-memory module
//! table (their `.py` and `.pyc` are not written as files) and the files that must stay files
//! (extension modules, data, and the few modules Python imports before the importer exists).

use crate::collect;
use anyhow::{Context, Result};
use auroraview_overlay::modules::{self, Entry, Kind};
use std::path::{Path, PathBuf};

/// Where a component's table sits in the overlay, relative to its import root's prefix.
pub const TABLE: &str = modules::FILE_NAME;

/// Modules CPython imports while it initialises, before the in-memory importer is installed.
/// `abc`, `codecs` and `io` are frozen into 3.11+, but read from files by 3.9 and 3.10.
pub const STDLIB_BOOTSTRAP: [&str; 8] = [
    "encodings/__init__",
    "encodings/aliases",
    "encodings/utf_8",
    "encodings/latin_1",
    "encodings/ascii",
    "abc",
    "codecs",
    "io",
];

pub struct Split {
    pub modules: Vec<Entry>,
    /// `(path relative to the root, file)` of what stays a file.
    pub files: Vec<(String, PathBuf)>,
}

/// A path component that can be part of a module name. Not only identifiers: modules such as
/// `_sysconfigdata__linux_x86_64-linux-gnu` are imported by name with `__import__`.
fn is_identifier(s: &str) -> bool {
    !s.is_empty() && !s.contains(['.', ' ']) && s != "__pycache__"
}

/// Splits the compiled tree under `root`, whose files land below `prefix` in the overlay.
/// `skip` names a subdirectory that is another root (it is left out entirely); `keep` names
/// module paths (relative, without `.py`) that must also stay files.
pub fn split(
    root: &Path,
    prefix: &str,
    cache_tag: &str,
    keep_sources: bool,
    skip: Option<&str>,
    keep: &dyn Fn(&str) -> bool,
) -> Result<Split> {
    split_files(root, collect::walk_all(root)?, prefix, cache_tag, keep_sources, skip, keep)
}

/// As [`split`], for only the files `all` (`(path relative to root, file)`, `.pyc` included) of
/// the tree under `root`: one distribution's part of site-packages.
pub fn split_files(
    root: &Path,
    all: Vec<(String, PathBuf)>,
    prefix: &str,
    cache_tag: &str,
    keep_sources: bool,
    skip: Option<&str>,
    keep: &dyn Fn(&str) -> bool,
) -> Result<Split> {
    let mut modules = Vec::new();
    let mut compiled = std::collections::HashSet::new();
    for (rel, path) in &all {
        if skip.is_some_and(|s| rel.starts_with(&format!("{s}/"))) {
            continue;
        }
        let Some(stem_rel) = rel.strip_suffix(".py") else { continue };
        let (dir, stem) = stem_rel.rsplit_once('/').unwrap_or(("", stem_rel));
        let pyc = if dir.is_empty() {
            format!("__pycache__/{stem}.{cache_tag}.pyc")
        } else {
            format!("{dir}/__pycache__/{stem}.{cache_tag}.pyc")
        };
        let parts: Vec<&str> = stem_rel.split('/').collect();
        let (name_parts, kind) =
            if stem == "__init__" { (&parts[..parts.len() - 1], Kind::Package) } else { (&parts[..], Kind::Module) };
        if name_parts.is_empty() || !name_parts.iter().all(|p| is_identifier(p)) || !root.join(&pyc).is_file() {
            continue; // not importable as a module (a script, or a file that did not compile)
        }
        let code = fs_err::read(root.join(&pyc))?;
        let code = code.get(16..).context("truncated .pyc")?.to_vec();
        let source = if keep_sources { Some(fs_err::read(path)?) } else { None };
        modules.push(Entry { name: name_parts.join("."), kind, origin: format!("{prefix}/{rel}"), code, source });
        if !keep(stem_rel) {
            compiled.insert(rel.clone());
            compiled.insert(pyc);
        }
    }
    let mut files = Vec::new();
    for (rel, path) in all {
        if skip.is_some_and(|s| rel.starts_with(&format!("{s}/"))) || compiled.contains(&rel) {
            continue;
        }
        if let Some(name) = extension_module_name(&rel) {
            modules.push(Entry {
                name,
                kind: Kind::Extension,
                origin: format!("{prefix}/{rel}"),
                code: Vec::new(),
                source: None,
            });
        }
        files.push((rel, path));
    }
    Ok(Split { modules, files })
}

/// `a/b/_speedups.cpython-311-x86_64-linux-gnu.so` is the extension module `a.b._speedups`.
fn extension_module_name(rel: &str) -> Option<String> {
    if !(rel.ends_with(".so") || rel.ends_with(".pyd")) || rel.contains("__pycache__") {
        return None;
    }
    let (dir, file) = rel.rsplit_once('/').unwrap_or(("", rel));
    let stem = file.split('.').next()?;
    let mut parts: Vec<&str> = if dir.is_empty() { Vec::new() } else { dir.split('/').collect() };
    // lib-dynload holds top-level modules.
    if parts.first() == Some(&"lib-dynload") {
        parts.remove(0);
    }
    parts.push(stem);
    parts.iter().all(|p| is_identifier(p)).then(|| parts.join("."))
}
