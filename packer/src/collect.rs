//! Gathering the app's own inputs (frontend, Python code, binaries, resources, hook globs) into
//! overlay paths. Nothing here runs Python or compresses.

use crate::config::Config;
use anyhow::{Context, Result, bail};
use globset::{Glob, GlobMatcher};
use std::path::{Path, PathBuf};

/// Directory names that never belong in a package.
const JUNK_DIRS: [&str; 11] = [
    "__pycache__",
    ".git",
    ".hg",
    ".svn",
    ".venv",
    "venv",
    "node_modules",
    ".mypy_cache",
    ".pytest_cache",
    ".tox",
    ".ruff_cache",
];

/// An input file and where it goes in the overlay.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Input {
    pub archive_path: String,
    pub source: PathBuf,
}

/// `exclude` globs: a pattern without `/` matches any single path component; one with `/` matches
/// the path relative to its include path.
pub struct Excludes(Vec<(bool, GlobMatcher)>);

impl Excludes {
    pub fn new(patterns: &[String]) -> Result<Excludes> {
        let mut v = Vec::new();
        for p in patterns {
            let glob = Glob::new(p.trim_end_matches('/')).with_context(|| format!("bad exclude glob `{p}`"))?;
            v.push((p.contains('/'), glob.compile_matcher()));
        }
        Ok(Excludes(v))
    }

    pub fn matches(&self, rel: &str) -> bool {
        self.0.iter().any(|(whole, m)| if *whole { m.is_match(rel) } else { rel.split('/').any(|c| m.is_match(c)) })
    }
}

/// Dropped in every directory `auroraview-pack build` writes to, so a later pack never takes an
/// earlier pack's output for app code.
pub const OUTPUT_MARKER: &str = ".auroraview-pack-output";

fn is_junk_dir(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    JUNK_DIRS.contains(&name) || path.join("pyvenv.cfg").is_file() || path.join(OUTPUT_MARKER).is_file()
}

fn is_junk_file(name: &str) -> bool {
    name.ends_with(".pyc") || name.ends_with(".pyo") || name == ".DS_Store"
}

fn rel_string(base: &Path, path: &Path) -> Result<String> {
    let rel = path.strip_prefix(base).with_context(|| format!("{} is not below {}", path.display(), base.display()))?;
    let parts: Vec<&str> = rel
        .components()
        .map(|c| c.as_os_str().to_str().with_context(|| format!("{} is not a UTF-8 path", path.display())))
        .collect::<Result<_>>()?;
    Ok(parts.join("/"))
}

/// Every file below `dir` (following links), skipping junk and anything `skip` says no to.
pub fn walk(dir: &Path, skip: &dyn Fn(&Path, &str) -> bool) -> Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    let it = walkdir::WalkDir::new(dir).follow_links(true).sort_by_file_name().into_iter();
    let it = it.filter_entry(|e| {
        if e.depth() == 0 {
            return true;
        }
        if e.file_type().is_dir() && is_junk_dir(e.path()) {
            return false;
        }
        let rel = rel_string(dir, e.path()).unwrap_or_default();
        !skip(e.path(), &rel)
    });
    for entry in it {
        let entry = entry.with_context(|| format!("reading {}", dir.display()))?;
        if entry.file_type().is_dir() {
            continue;
        }
        let name = entry.file_name().to_string_lossy();
        if is_junk_file(&name) {
            continue;
        }
        out.push((rel_string(dir, entry.path())?, entry.into_path()));
    }
    Ok(out)
}

/// `frontend/` from `[frontend] path`.
pub fn frontend(cfg: &Config) -> Result<Vec<Input>> {
    let dir = &cfg.frontend.dir;
    if !dir.join("index.html").is_file() {
        bail!(
            "{}: `frontend.path`: {} has no index.html\nhint: build the frontend first (`auroraview-pack build --build` runs `[frontend] build`), or point `path` at the built directory",
            cfg.file.display(),
            dir.display()
        );
    }
    Ok(walk(dir, &|_, _| false)?
        .into_iter()
        .map(|(rel, source)| Input { archive_path: format!("frontend/{rel}"), source })
        .collect())
}

/// App code for `python/`: the entry point and the `include_paths` contents, minus `exclude`, junk,
/// the frontend, the output directory and the config file.
pub fn app_python(cfg: &Config, out_dir: &Path) -> Result<Vec<Input>> {
    let excludes = Excludes::new(&cfg.python.exclude)?;
    let frontend = canonical(&cfg.frontend.dir);
    let out_dirs = [canonical(out_dir), canonical(&cfg.root.join("dist"))];
    let config_file = canonical(&cfg.file);
    let mut inputs = Vec::new();
    for inc in &cfg.python.include_paths {
        if inc.is_file() {
            let name = inc.file_name().and_then(|n| n.to_str()).context("include path has no UTF-8 name")?;
            inputs.push(Input { archive_path: format!("python/{name}"), source: inc.clone() });
            continue;
        }
        let skip = |path: &Path, rel: &str| {
            let c = canonical(path);
            c == frontend || out_dirs.contains(&c) || c == config_file || excludes.matches(rel)
        };
        for (rel, source) in walk(inc, &skip)? {
            inputs.push(Input { archive_path: format!("python/{rel}"), source });
        }
    }
    if let crate::config::EntryPoint::Script { file } = &cfg.python.entry_point {
        let entry = canonical(file);
        let placed = inputs.iter().any(|i| canonical(&i.source) == entry);
        if !placed {
            let name = file.file_name().and_then(|n| n.to_str()).context("entry point has no UTF-8 name")?;
            inputs.push(Input { archive_path: format!("python/{name}"), source: file.clone() });
        }
    }
    dedup(inputs)
}

/// `python/bin/` from `external_bin`.
pub fn external_bin(cfg: &Config) -> Result<Vec<Input>> {
    place_all(&cfg.python.external_bin, "python/bin")
}

/// `resources/` from `resources`: a file lands as `resources/<name>`, a directory as
/// `resources/<dirname>/...`.
pub fn resources(cfg: &Config) -> Result<Vec<Input>> {
    place_all(&cfg.python.resources, "resources")
}

fn place_all(paths: &[PathBuf], prefix: &str) -> Result<Vec<Input>> {
    let mut inputs = Vec::new();
    for p in paths {
        let name =
            p.file_name().and_then(|n| n.to_str()).with_context(|| format!("{} has no UTF-8 name", p.display()))?;
        if p.is_dir() {
            for (rel, source) in walk(p, &|_, _| false)? {
                inputs.push(Input { archive_path: format!("{prefix}/{name}/{rel}"), source });
            }
        } else {
            inputs.push(Input { archive_path: format!("{prefix}/{name}"), source: p.clone() });
        }
    }
    Ok(inputs)
}

/// `[hooks] collect`: each glob's matches keep their path below the glob's literal base directory
/// and land below `to`.
pub fn hooks(cfg: &Config) -> Result<Vec<Input>> {
    let mut inputs = Vec::new();
    for (i, c) in cfg.collect.iter().enumerate() {
        let literal: Vec<&str> = c.from.split('/').take_while(|p| !p.contains(['*', '?', '[', '{'])).collect();
        let base_rel = literal.join("/");
        let base = cfg.root.join(&base_rel);
        let found = if literal.len() == c.from.split('/').count() {
            // A plain path: a file lands as `to/<name>`, a directory's contents below `to/<name>`.
            if base.exists() { place_all(std::slice::from_ref(&base), &c.to)? } else { Vec::new() }
        } else {
            let matcher = Glob::new(&c.from)?.compile_matcher();
            let mut found = Vec::new();
            if base.is_dir() {
                for (rel, source) in walk(&base, &|_, _| false)? {
                    let full_rel = if base_rel.is_empty() { rel.clone() } else { format!("{base_rel}/{rel}") };
                    if matcher.is_match(&full_rel) {
                        found.push(Input { archive_path: format!("{}/{rel}", c.to), source });
                    }
                }
            }
            found
        };
        if found.is_empty() {
            bail!(
                "{}: `hooks.collect.{i}.from` = \"{}\" matched no files (looked below {})\nhint: globs are relative to the config file, e.g. `from = \"assets/**/*.json\"`",
                cfg.file.display(),
                c.from,
                base.display()
            );
        }
        inputs.extend(found);
    }
    dedup(inputs)
}

fn dedup(mut inputs: Vec<Input>) -> Result<Vec<Input>> {
    inputs.sort();
    inputs.dedup_by(|a, b| a.archive_path == b.archive_path && a.source == b.source);
    if let Some(w) = inputs.windows(2).find(|w| w[0].archive_path == w[1].archive_path) {
        bail!(
            "two inputs would land at `{}`: {} and {}\nhint: exclude one of them or collect it to another `to`",
            w[0].archive_path,
            w[0].source.display(),
            w[1].source.display()
        );
    }
    Ok(inputs)
}

fn canonical(p: &Path) -> PathBuf {
    fs_err::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

/// Every file below `dir`, `__pycache__` included: for staging trees the packer built itself.
pub fn walk_all(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.with_context(|| format!("reading {}", dir.display()))?;
        if !entry.file_type().is_dir() {
            out.push((rel_string(dir, entry.path())?, entry.into_path()));
        }
    }
    Ok(out)
}
