//! An installed `site-packages` split by distribution: each `*.dist-info/RECORD` lists the files
//! its distribution installed, so each distribution can be compiled, compressed and cached on its
//! own, and adding one package to an app compresses only that package.

use crate::collect;
use anyhow::{Context, Result};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// One part of site-packages: the files of one distribution, or those no RECORD claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// `numpy-2.4.6.dist-info`, or [`LEFTOVERS`].
    pub name: String,
    /// `(path relative to site-packages, file)`, sorted by path.
    pub files: Vec<(String, PathBuf)>,
}

/// The name of the part holding the files no distribution's RECORD lists.
pub const LEFTOVERS: &str = "(unrecorded files)";

/// Splits the installed (not yet compiled) tree under `root` into one part per distribution,
/// sorted by their `.dist-info` directory names, then the leftovers (if any). A file listed by
/// two RECORDs belongs to the first; everything in a `.dist-info` directory to its distribution.
pub fn split(root: &Path) -> Result<Vec<Part>> {
    let all = collect::walk_all(root)?;
    let paths: HashMap<&str, &PathBuf> = all.iter().map(|(rel, p)| (rel.as_str(), p)).collect();
    let dist_infos: BTreeSet<&str> = all
        .iter()
        .filter_map(|(rel, _)| rel.split_once('/'))
        .map(|(top, _)| top)
        .filter(|t| t.ends_with(".dist-info"))
        .collect();
    let mut owner: HashMap<&str, usize> = HashMap::new();
    for (i, info) in dist_infos.iter().enumerate() {
        let prefix = format!("{info}/");
        for (rel, _) in &all {
            if rel.starts_with(&prefix) {
                owner.entry(rel.as_str()).or_insert(i);
            }
        }
    }
    for (i, info) in dist_infos.iter().enumerate() {
        let record = root.join(info).join("RECORD");
        let Ok(text) = fs_err::read_to_string(&record) else { continue };
        for line in text.lines() {
            let Some(listed) = first_csv_field(line) else { continue };
            let Some(rel) = normalize(&listed) else { continue };
            if let Some((rel, _)) = paths.get_key_value(rel.as_str()) {
                owner.entry(rel).or_insert(i);
            }
        }
    }
    let mut parts: Vec<Part> =
        dist_infos.iter().map(|info| Part { name: info.to_string(), files: Vec::new() }).collect();
    let mut leftovers = Part { name: LEFTOVERS.to_string(), files: Vec::new() };
    for (rel, path) in &all {
        match owner.get(rel.as_str()) {
            Some(&i) => parts[i].files.push((rel.clone(), path.clone())),
            None => leftovers.files.push((rel.clone(), path.clone())),
        }
    }
    if !leftovers.files.is_empty() {
        parts.push(leftovers);
    }
    for p in &mut parts {
        p.files.sort();
    }
    Ok(parts)
}

/// The `.pyc` that compiling `rel` (a `.py` file) writes, relative to the same root.
pub fn compiled(rel: &str, cache_tag: &str) -> Option<String> {
    let stem_rel = rel.strip_suffix(".py")?;
    let (dir, stem) = stem_rel.rsplit_once('/').unwrap_or(("", stem_rel));
    Some(if dir.is_empty() {
        format!("__pycache__/{stem}.{cache_tag}.pyc")
    } else {
        format!("{dir}/__pycache__/{stem}.{cache_tag}.pyc")
    })
}

/// The top-level entries (`numpy`, `six.py`) holding a part's `.py` files: what to precompile.
pub fn python_tops(files: &[(String, PathBuf)]) -> BTreeSet<String> {
    files
        .iter()
        .filter(|(rel, _)| rel.ends_with(".py"))
        .map(|(rel, _)| rel.split('/').next().unwrap_or(rel).to_string())
        .collect()
}

/// The part's files with the `.pyc` compiled from them (those that exist under `root`).
pub fn with_compiled(root: &Path, files: &[(String, PathBuf)], cache_tag: &str) -> Vec<(String, PathBuf)> {
    let mut out: BTreeMap<String, PathBuf> = files.iter().cloned().collect();
    for (rel, _) in files {
        if let Some(pyc) = compiled(rel, cache_tag) {
            let path = root.join(&pyc);
            if path.is_file() {
                out.entry(pyc).or_insert(path);
            }
        }
    }
    out.into_iter().collect()
}

/// BLAKE3 of a file's content, streamed.
pub fn content_hash(path: &Path) -> Result<String> {
    let (file, _) = auroraview_overlay::open_regular(path)?;
    let mut hasher = blake3::Hasher::new();
    hasher.update_reader(file).with_context(|| format!("reading {}", path.display()))?;
    Ok(hasher.finalize().to_hex().to_string())
}

/// The first field of a CSV line (RECORD quotes paths holding commas or quotes).
fn first_csv_field(line: &str) -> Option<String> {
    let line = line.trim_end_matches('\r');
    if line.is_empty() {
        return None;
    }
    if let Some(rest) = line.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = rest.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    out.push('"');
                } else {
                    return Some(out);
                }
            } else {
                out.push(c);
            }
        }
        None
    } else {
        Some(line.split(',').next().unwrap_or("").to_string())
    }
}

/// A RECORD path as a plain relative path below site-packages, or `None` if it leads outside
/// (scripts are recorded as `../../bin/x`).
fn normalize(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    (!parts.is_empty() && !path.starts_with('/')).then(|| parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str, content: &str) {
        let p = root.join(rel);
        fs_err::create_dir_all(p.parent().unwrap()).unwrap();
        fs_err::write(p, content).unwrap();
    }

    #[test]
    fn files_go_to_the_distribution_whose_record_lists_them() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "six.py", "x = 1\n");
        write(root, "six-1.17.0.dist-info/METADATA", "Name: six\n");
        write(root, "six-1.17.0.dist-info/RECORD", "six.py,sha256=x,6\nsix-1.17.0.dist-info/RECORD,,\n");
        write(root, "a/__init__.py", "");
        write(root, "a/data,1.txt", "d");
        write(root, "shared/ns.py", "");
        write(
            root,
            "a-1.0.dist-info/RECORD",
            "a/__init__.py,,\n\"a/data,1.txt\",sha256=y,1\n./shared/ns.py,,\n../../bin/a-tool,,\n/etc/passwd,,\n",
        );
        write(root, "b-2.0.dist-info/RECORD", "shared/ns.py,,\n");
        write(root, "stray.pth", "import os\n");
        let parts = split(root).unwrap();
        let names: Vec<&str> = parts.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["a-1.0.dist-info", "b-2.0.dist-info", "six-1.17.0.dist-info", LEFTOVERS]);
        let rels = |i: usize| parts[i].files.iter().map(|(r, _)| r.as_str()).collect::<Vec<_>>();
        assert_eq!(rels(0), ["a-1.0.dist-info/RECORD", "a/__init__.py", "a/data,1.txt", "shared/ns.py"]);
        assert_eq!(rels(1), ["b-2.0.dist-info/RECORD"], "a file listed twice belongs to the first");
        assert_eq!(rels(2), ["six-1.17.0.dist-info/METADATA", "six-1.17.0.dist-info/RECORD", "six.py"]);
        assert_eq!(rels(3), ["stray.pth"]);
        assert_eq!(python_tops(&parts[0].files).into_iter().collect::<Vec<_>>(), ["a", "shared"]);
    }

    #[test]
    fn compiled_paths_and_record_paths() {
        assert_eq!(compiled("six.py", "cpython-311").unwrap(), "__pycache__/six.cpython-311.pyc");
        assert_eq!(compiled("a/b/c.py", "cpython-311").unwrap(), "a/b/__pycache__/c.cpython-311.pyc");
        assert_eq!(compiled("a/b.txt", "cpython-311"), None);
        assert_eq!(normalize("a/./b/../c.py").as_deref(), Some("a/c.py"));
        assert_eq!(normalize("../../bin/x"), None);
        assert_eq!(normalize("/abs"), None);
        assert_eq!(first_csv_field("\"a\"\"b,c\",sha,1").as_deref(), Some("a\"b,c"));
        assert_eq!(first_csv_field("plain,sha,1").as_deref(), Some("plain"));
        assert_eq!(first_csv_field(""), None);
    }
}
