//! Gathering the app's own inputs (frontend, Python code, binaries, resources, hook globs) into
//! overlay paths. Nothing here runs Python or compresses.
//!
//! Every file being packed is untrusted, so walking follows these rules:
//! - only regular files are packed: FIFOs, sockets and devices (also behind a link) are skipped with
//!   a warning, so a pack never blocks on a pipe or reads `/dev/zero` forever;
//! - a link is packed as what it points to (the overlay holds no links); a dangling link, and a
//!   directory link back into a directory that contains it (a cycle), are skipped with a warning;
//! - a link may only lead inside the project (the config file's directory) or inside a path outside
//!   it that the config names itself; anywhere else is an error naming the link and the fix. A path
//!   the config names that leads outside the project through a link is an error too.
//!
//! Trees of the machine (the stdlib) and of the packer itself (staging) are walked with the first
//! two rules only: their links may point anywhere.

use crate::config::{self, Config, lexical};
use anyhow::{Context, Result, bail};
use globset::{Glob, GlobMatcher};
use std::fs::FileType;
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

/// An input file and where it goes in the overlay. `source` is a regular file (a link's target,
/// resolved, when the input was reached through a link).
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

/// Files of a web project (its package manager, bundler and TypeScript sources), skipped when
/// directories of `include_paths` are walked; an include path naming such a file packs it.
/// `node_modules/` is in [`JUNK_DIRS`]; the frontend and output directories are skipped by path.
const WEB_FILES: [&str; 9] = [
    "package.json",
    "package-lock.json",
    "npm-shrinkwrap.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "bun.lockb",
    "bun.lock",
    // npm's settings, auth tokens included.
    ".npmrc",
    ".yarnrc.yml",
];

pub fn is_web_file(name: &str) -> bool {
    WEB_FILES.contains(&name)
        || (name.starts_with("tsconfig") && name.ends_with(".json"))
        || name.starts_with("vite.config.")
        || [".ts", ".tsx", ".jsx", ".mts", ".cts"].iter().any(|ext| name.ends_with(ext))
}

pub fn warn(message: impl std::fmt::Display) {
    eprintln!("warning: {message}");
}

// ---- what a path is ----------------------------------------------------------------------------

/// What a directory entry is, once links are followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    File,
    Dir,
    /// A FIFO, socket or device: never packed.
    Special(&'static str),
}

fn kind_of(ft: FileType) -> Kind {
    if ft.is_file() {
        return Kind::File;
    }
    if ft.is_dir() {
        return Kind::Dir;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_fifo() {
            return Kind::Special("a named pipe (FIFO)");
        }
        if ft.is_socket() {
            return Kind::Special("a socket");
        }
        if ft.is_char_device() {
            return Kind::Special("a character device");
        }
        if ft.is_block_device() {
            return Kind::Special("a block device");
        }
    }
    Kind::Special("neither a regular file nor a directory")
}

/// A link, resolved: where it says it points and the canonical path it reaches.
struct Link {
    target: PathBuf,
    resolved: PathBuf,
}

impl Link {
    /// `-> target`, plus the resolved path when the two differ.
    fn describe(&self) -> String {
        if self.target == self.resolved {
            self.target.display().to_string()
        } else {
            format!("{} (resolving to {})", self.target.display(), self.resolved.display())
        }
    }
}

/// Follows the link at `path`: `Err` carries the warning for a link that resolves to nothing.
fn resolve_link(path: &Path) -> Result<(Link, Kind), String> {
    let target = std::fs::read_link(path).unwrap_or_default();
    let unresolved = |e: std::io::Error| {
        let why = if e.kind() == std::io::ErrorKind::NotFound {
            "which does not exist".to_string()
        } else {
            format!("which cannot be resolved ({e})")
        };
        format!("{} is a symbolic link to {}, {why}: skipped", path.display(), target.display())
    };
    let resolved = std::fs::canonicalize(path).map_err(unresolved)?;
    let meta = std::fs::metadata(&resolved).map_err(unresolved)?;
    Ok((Link { target, resolved }, kind_of(meta.file_type())))
}

// ---- where links may lead ----------------------------------------------------------------------

/// Where packing may read through links: the project directory and every file or directory outside
/// it that the config names itself (all canonical), with what lies below it. The directory of a
/// `hooks.collect` glob outside the project is only admitted while that glob is walked (see
/// [`Origin::walk_root`]): `from = "../*.json"` must not open the whole parent directory to links.
pub struct Bounds {
    /// The project directory as written (the config's directory), for messages.
    root: PathBuf,
    project: PathBuf,
    listed: Vec<PathBuf>,
}

impl Bounds {
    pub fn of(cfg: &Config) -> Bounds {
        let project = canonical(&cfg.root);
        let listed = listed_paths(cfg)
            .into_iter()
            .filter(|p| !lexical(p).starts_with(lexical(&cfg.root)))
            .filter_map(|p| std::fs::canonicalize(p).ok())
            .collect();
        Bounds { root: cfg.root.clone(), project, listed }
    }

    fn allows(&self, resolved: &Path) -> bool {
        resolved.starts_with(&self.project) || self.listed.iter().any(|l| resolved.starts_with(l))
    }

    fn written_inside(&self, path: &Path) -> bool {
        lexical(path).starts_with(lexical(&self.root))
    }
}

/// Every path the config names for packing, absolute, as written.
fn listed_paths(cfg: &Config) -> Vec<PathBuf> {
    let mut paths = vec![cfg.frontend.dir.clone()];
    paths.extend(cfg.python.include_paths.iter().cloned());
    paths.extend(cfg.python.external_bin.iter().cloned());
    paths.extend(cfg.python.resources.iter().cloned());
    if let config::EntryPoint::Script { file } = &cfg.python.entry_point {
        paths.push(file.clone());
    }
    for c in &cfg.collect {
        let (base, plain) = glob_base(&c.from);
        if plain {
            paths.push(cfg.root.join(base));
        }
    }
    paths
}

/// The literal directory a `hooks.collect` glob starts from, and whether `from` is a plain path.
fn glob_base(from: &str) -> (String, bool) {
    let literal: Vec<&str> = from.split('/').take_while(|p| !p.contains(['*', '?', '[', '{'])).collect();
    let plain = literal.len() == from.split('/').count();
    (literal.join("/"), plain)
}

/// The config key an input came from, with the means to say what is wrong with it.
struct Origin<'a> {
    cfg: &'a Config,
    bounds: &'a Bounds,
    /// e.g. `python.resources.0`.
    key: String,
    /// Where to write an outside path to pack it, e.g. `python.resources`.
    list_key: &'a str,
    /// Whether `python.exclude` applies (walks of `include_paths`).
    excludable: bool,
    /// A directory outside the project that links met in this walk may also lead into: the
    /// canonical directory of a `hooks.collect` glob written outside the project.
    walk_root: Option<PathBuf>,
}

impl Origin<'_> {
    fn allows(&self, resolved: &Path) -> bool {
        self.bounds.allows(resolved) || self.walk_root.as_ref().is_some_and(|w| resolved.starts_with(w))
    }

    fn fix_for_skipped(&self) -> &'static str {
        if self.excludable {
            "remove it or add it to `python.exclude` to silence this"
        } else {
            "remove it to silence this"
        }
    }

    /// The error for the link at `path` (found while walking) that leads outside the bounds.
    fn link_outside(&self, path: &Path, link: &Link, dir: bool) -> anyhow::Error {
        let what = if dir { "a directory" } else { "a file" };
        let exclude = if self.excludable { ", or add it to `python.exclude`" } else { "" };
        anyhow::anyhow!(
            "{}: `{}`: {} is a symbolic link to {}, {what} outside the project directory {}\nhint: links are packed as what they point to, but only inside the project; to pack {} anyway, name it in the config itself (e.g. in `{}`, or as a `[hooks] collect` source); otherwise remove the link{exclude}",
            self.cfg.file.display(),
            self.key,
            path.display(),
            link.describe(),
            self.bounds.root.display(),
            link.resolved.display(),
            self.list_key,
        )
    }

    /// Checks a path the config names: `None` when it is skipped (with a warning), else what it is
    /// and its canonical path.
    fn listed(&self, path: &Path) -> Result<Option<(Kind, PathBuf)>> {
        let meta = match std::fs::symlink_metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let (kind, resolved) = if meta.file_type().is_symlink() {
            match resolve_link(path) {
                Ok((link, kind)) => (kind, link.resolved),
                Err(warning) => {
                    warn(format!("{warning} (named by `{}` in {})", self.key, self.cfg.file.display()));
                    return Ok(None);
                }
            }
        } else {
            let resolved = std::fs::canonicalize(path).with_context(|| format!("reading {}", path.display()))?;
            let kind = kind_of(fs_err::metadata(&resolved)?.file_type());
            (kind, resolved)
        };
        if let Kind::Special(what) = kind {
            let what = if resolved == path { what.to_string() } else { format!("{} ({what})", resolved.display()) };
            warn(format!(
                "{} (named by `{}` in {}) is {what}, not a regular file: skipped; only regular files are packed",
                path.display(),
                self.key,
                self.cfg.file.display()
            ));
            return Ok(None);
        }
        // A path written outside the project is the user's consent (it is in `listed`); one written
        // inside must stay inside.
        if self.bounds.written_inside(path) && !self.bounds.allows(&resolved) {
            return Err(self.listed_outside(path, &resolved));
        }
        Ok(Some((kind, resolved)))
    }

    /// The error for a named path inside the project that resolves outside it, naming the link.
    fn listed_outside(&self, path: &Path, resolved: &Path) -> anyhow::Error {
        // The first component below the project that is a link leading out.
        let mut through = None;
        let mut prefix = PathBuf::new();
        for c in path.components() {
            prefix.push(c);
            if !self.bounds.written_inside(&prefix) || lexical(&prefix) == lexical(&self.bounds.root) {
                continue;
            }
            let is_link = std::fs::symlink_metadata(&prefix).is_ok_and(|m| m.file_type().is_symlink());
            if is_link && std::fs::canonicalize(&prefix).is_ok_and(|r| !self.bounds.allows(&r)) {
                through = Some((prefix.clone(), std::fs::read_link(&prefix).unwrap_or_default()));
                break;
            }
        }
        let how = match through {
            Some((link, target)) if link == path => {
                let link = Link { target, resolved: resolved.to_path_buf() };
                format!("is a symbolic link to {}", link.describe())
            }
            Some((link, target)) => format!(
                "resolves to {} through the symbolic link {} -> {}",
                resolved.display(),
                link.display(),
                target.display()
            ),
            None => format!("resolves to {} through a symbolic link", resolved.display()),
        };
        anyhow::anyhow!(
            "{}: `{}`: {} {how}, outside the project directory {}\nhint: to pack {} anyway, write that path itself in `{}` (a path outside the project that the config names is packed); otherwise point `{}` at a path inside the project",
            self.cfg.file.display(),
            self.key,
            path.display(),
            self.bounds.root.display(),
            resolved.display(),
            self.list_key,
            self.key,
        )
    }
}

// ---- walking -----------------------------------------------------------------------------------

/// Says whether to leave out an entry: (its path, its path relative to the walk, is a directory).
type Filter<'a> = &'a dyn Fn(&Path, &str, bool) -> bool;

struct Walk<'a> {
    /// `None`: a tree of the machine or of the packer, whose links may point anywhere.
    origin: Option<&'a Origin<'a>>,
    junk: bool,
    filter: Filter<'a>,
    /// Canonical paths of the directories being walked, outermost first: a link to a directory
    /// holding one of them is a cycle.
    ancestors: Vec<PathBuf>,
    out: Vec<(String, PathBuf)>,
}

impl Walk<'_> {
    fn skipped(&self, message: String) {
        match self.origin {
            Some(o) => warn(format!("{message} ({})", o.fix_for_skipped())),
            None => warn(message),
        }
    }

    fn dir(&mut self, dir: &Path, rel: &str) -> Result<()> {
        let mut entries = fs_err::read_dir(dir)?
            .collect::<std::io::Result<Vec<_>>>()
            .with_context(|| format!("reading {}", dir.display()))?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let child_rel = if rel.is_empty() { name.to_string() } else { format!("{rel}/{name}") };
            let ft = entry.file_type().with_context(|| format!("reading {}", path.display()))?;
            let (kind, link) = if ft.is_symlink() {
                match resolve_link(&path) {
                    Ok((link, kind)) => (kind, Some(link)),
                    Err(warning) => {
                        self.skipped(warning);
                        continue;
                    }
                }
            } else {
                (kind_of(ft), None)
            };
            match kind {
                Kind::Special(what) => {
                    let what = match &link {
                        Some(l) => format!("a symbolic link to {}, {what}", l.describe()),
                        None => what.to_string(),
                    };
                    self.skipped(format!(
                        "{} is {what}, not a regular file: skipped; only regular files are packed",
                        path.display()
                    ));
                }
                Kind::Dir => {
                    if (self.junk && is_junk_dir(&path)) || (self.filter)(&path, &child_rel, true) {
                        continue;
                    }
                    let canonical = match &link {
                        Some(l) => {
                            if let Some(o) = self.origin
                                && !o.allows(&l.resolved)
                            {
                                return Err(o.link_outside(&path, l, true));
                            }
                            // A directory holding one on the way here (the walk's root, or the
                            // directory of the link itself) would lead back here for ever.
                            if self.ancestors.iter().any(|a| a.starts_with(&l.resolved)) {
                                self.skipped(format!(
                                    "{} is a symbolic link to {}, a directory that contains it (a link cycle): skipped",
                                    path.display(),
                                    l.describe()
                                ));
                                continue;
                            }
                            l.resolved.clone()
                        }
                        None => self.ancestors.last().expect("the walk's root").join(entry.file_name()),
                    };
                    utf8_name(&entry, &path)?;
                    self.ancestors.push(canonical);
                    self.dir(&path, &child_rel)?;
                    self.ancestors.pop();
                }
                Kind::File => {
                    if (self.junk && is_junk_file(&name)) || (self.filter)(&path, &child_rel, false) {
                        continue;
                    }
                    utf8_name(&entry, &path)?;
                    let source = match (link, self.origin) {
                        (Some(l), Some(o)) => {
                            if !o.allows(&l.resolved) {
                                return Err(o.link_outside(&path, &l, false));
                            }
                            // The very file that was checked is what gets read.
                            l.resolved
                        }
                        _ => path,
                    };
                    self.out.push((child_rel, source));
                }
            }
        }
        Ok(())
    }
}

/// Overlay paths are UTF-8: a name that is not cannot be packed.
fn utf8_name(entry: &fs_err::DirEntry, path: &Path) -> Result<()> {
    entry.file_name().to_str().map(|_| ()).with_context(|| format!("{} is not a UTF-8 path", path.display()))
}

/// Every regular file below `dir` (which must be a directory), links followed: its path relative
/// to `dir` and the file to read.
fn walk_tree(dir: &Path, origin: Option<&Origin>, junk: bool, filter: Filter) -> Result<Vec<(String, PathBuf)>> {
    let root = fs_err::canonicalize(dir)?;
    let mut walk = Walk { origin, junk, filter, ancestors: vec![root], out: Vec::new() };
    // `components` folds away `.` (`/project/.` is `/project`), so messages show tidy paths.
    walk.dir(&dir.components().collect::<PathBuf>(), "")?;
    Ok(walk.out)
}

/// Every file below `dir`, a tree of the machine (links followed anywhere), skipping junk and
/// anything `skip` says no to.
pub fn walk(dir: &Path, skip: &dyn Fn(&Path, &str) -> bool) -> Result<Vec<(String, PathBuf)>> {
    walk_tree(dir, None, true, &|path, rel, _| skip(path, rel))
}

/// Every file below `dir`, `__pycache__` included: for staging trees the packer built itself.
pub fn walk_all(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    walk_tree(dir, None, false, &|_, _, _| false)
}

// ---- the config's inputs -----------------------------------------------------------------------

/// `frontend/` from `[frontend] path`.
pub fn frontend(cfg: &Config) -> Result<Vec<Input>> {
    let dir = &cfg.frontend.dir;
    let bounds = Bounds::of(cfg);
    let origin = Origin {
        cfg,
        bounds: &bounds,
        key: "frontend.path".into(),
        list_key: "frontend.path",
        excludable: false,
        walk_root: None,
    };
    let listed = origin.listed(dir)?;
    if listed.is_none_or(|(kind, _)| kind != Kind::Dir) || !dir.join("index.html").is_file() {
        bail!(
            "{}: `frontend.path`: {} has no index.html\nhint: build the frontend first (`auroraview-pack build --build` runs `[frontend] build`), or point `path` at the built directory",
            cfg.file.display(),
            dir.display()
        );
    }
    Ok(walk_tree(dir, Some(&origin), true, &|_, _, _| false)?
        .into_iter()
        .map(|(rel, source)| Input { archive_path: format!("frontend/{rel}"), source })
        .collect())
}

/// App code for `python/`: the entry point and the `include_paths` contents, minus `exclude`, junk,
/// the frontend, the output directory and the config file.
pub fn app_python(cfg: &Config, out_dir: &Path) -> Result<Vec<Input>> {
    let excludes = Excludes::new(&cfg.python.exclude)?;
    let frontend = canonical(&cfg.frontend.dir);
    let mut out_dirs = vec![canonical(out_dir), canonical(&cfg.root.join("dist"))];
    out_dirs.extend(cfg.app.out_dir.as_deref().map(canonical));
    let config_file = canonical(&cfg.file);
    let bounds = Bounds::of(cfg);
    let mut inputs = Vec::new();
    for (i, inc) in cfg.python.include_paths.iter().enumerate() {
        let origin = Origin {
            cfg,
            bounds: &bounds,
            key: format!("python.include_paths.{i}"),
            list_key: "python.include_paths",
            excludable: true,
            walk_root: None,
        };
        match origin.listed(inc)? {
            None => continue,
            Some((Kind::File, source)) => {
                let name = inc.file_name().and_then(|n| n.to_str()).context("include path has no UTF-8 name")?;
                inputs.push(Input { archive_path: format!("python/{name}"), source });
                continue;
            }
            Some(_) => {}
        }
        let skip = |path: &Path, rel: &str, dir: bool| {
            if !dir && path.file_name().and_then(|n| n.to_str()).is_some_and(is_web_file) {
                return true;
            }
            let c = canonical(path);
            c == frontend || out_dirs.contains(&c) || c == config_file || excludes.matches(rel)
        };
        for (rel, source) in walk_tree(inc, Some(&origin), true, &skip)? {
            inputs.push(Input { archive_path: format!("python/{rel}"), source });
        }
    }
    if let config::EntryPoint::Script { file } = &cfg.python.entry_point {
        let origin = Origin {
            cfg,
            bounds: &bounds,
            key: "python.entry_point".into(),
            list_key: "python.entry_point",
            excludable: false,
            walk_root: None,
        };
        if let Some((Kind::File, entry)) = origin.listed(file)? {
            let placed = inputs.iter().any(|i| canonical(&i.source) == entry);
            if !placed {
                let name = file.file_name().and_then(|n| n.to_str()).context("entry point has no UTF-8 name")?;
                inputs.push(Input { archive_path: format!("python/{name}"), source: entry });
            }
        }
    }
    dedup(inputs)
}

/// Who chose the output directory: `build --out-dir`, `[app] out_dir`, or neither (`dist/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutDirFrom {
    Flag,
    Key,
    Default,
}

/// Refuses an output directory inside what the next build packs: the frontend directory, or an
/// include path directory (for one that holds the whole project, only the directory itself: the
/// walk skips output directories below it). Nothing is written before this check.
pub fn check_out_dir(cfg: &Config, out_dir: &Path, from: OutDirFrom) -> Result<()> {
    let out = resolved(out_dir);
    let root = resolved(&cfg.root);
    let mut inside: Option<(String, &Path)> = None;
    if out.starts_with(resolved(&cfg.frontend.dir)) {
        inside = Some(("frontend.path".into(), &cfg.frontend.dir));
    }
    for (i, inc) in cfg.python.include_paths.iter().enumerate() {
        if inside.is_some() || !inc.is_dir() {
            continue;
        }
        let dir = resolved(inc);
        let hit = if root.starts_with(&dir) { out == dir } else { out.starts_with(&dir) };
        if hit {
            inside = Some((format!("python.include_paths.{i}"), inc));
        }
    }
    let Some((key, dir)) = inside else { return Ok(()) };
    let dir = lexical(dir);
    let what = if key == "frontend.path" { "the frontend" } else { "app code" };
    let (named, fix) = match from {
        OutDirFrom::Flag => (
            format!("`--out-dir` {}", out_dir.display()),
            "pass an `--out-dir` outside it (or leave it out to use `[app] out_dir`)".to_string(),
        ),
        OutDirFrom::Key => (
            format!("{}: `app.out_dir`: the output directory {}", cfg.file.display(), out_dir.display()),
            "set `[app] out_dir` (relative to the config file) to a directory outside it, e.g. `out_dir = \"release\"`"
                .to_string(),
        ),
        OutDirFrom::Default => (
            format!(
                "{}: the default output directory {} (no `app.out_dir`, no `--out-dir`)",
                cfg.file.display(),
                out_dir.display()
            ),
            "set `[app] out_dir` (relative to the config file) to a directory outside it, e.g. `out_dir = \"release\"`"
                .to_string(),
        ),
    };
    bail!(
        "{named} is inside `{key}` ({}), which is packed as {what}: the next build would pack this build's executable\nhint: {fix}; nothing was written",
        dir.display()
    )
}

/// `p` made absolute and canonical as far as it exists, the rest (not yet created) appended.
fn resolved(p: &Path) -> PathBuf {
    let p = lexical(&std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf()));
    let mut base = p.clone();
    let mut rest = Vec::new();
    loop {
        if let Ok(mut c) = std::fs::canonicalize(&base) {
            c.extend(rest.iter().rev());
            return c;
        }
        match (base.file_name().map(|n| n.to_os_string()), base.parent()) {
            (Some(name), Some(parent)) => {
                rest.push(name);
                base = parent.to_path_buf();
            }
            _ => return p,
        }
    }
}

/// `python/bin/` from `external_bin`.
pub fn external_bin(cfg: &Config) -> Result<Vec<Input>> {
    let bounds = Bounds::of(cfg);
    let mut inputs = Vec::new();
    for (i, p) in cfg.python.external_bin.iter().enumerate() {
        let origin = Origin {
            cfg,
            bounds: &bounds,
            key: format!("python.external_bin.{i}"),
            list_key: "python.external_bin",
            excludable: false,
            walk_root: None,
        };
        inputs.extend(place(&origin, p, "python/bin")?);
    }
    Ok(inputs)
}

/// `resources/` from `resources`: a file lands as `resources/<name>`, a directory as
/// `resources/<dirname>/...`.
pub fn resources(cfg: &Config) -> Result<Vec<Input>> {
    let bounds = Bounds::of(cfg);
    let mut inputs = Vec::new();
    for (i, p) in cfg.python.resources.iter().enumerate() {
        let origin = Origin {
            cfg,
            bounds: &bounds,
            key: format!("python.resources.{i}"),
            list_key: "python.resources",
            excludable: false,
            walk_root: None,
        };
        inputs.extend(place(&origin, p, "resources")?);
    }
    Ok(inputs)
}

/// A named file as `prefix/<name>`, a named directory's files below `prefix/<name>/`.
fn place(origin: &Origin, p: &Path, prefix: &str) -> Result<Vec<Input>> {
    let name = p.file_name().and_then(|n| n.to_str()).with_context(|| format!("{} has no UTF-8 name", p.display()))?;
    Ok(match origin.listed(p)? {
        None => Vec::new(),
        Some((Kind::Dir, _)) => walk_tree(p, Some(origin), true, &|_, _, _| false)?
            .into_iter()
            .map(|(rel, source)| Input { archive_path: format!("{prefix}/{name}/{rel}"), source })
            .collect(),
        Some((_, source)) => vec![Input { archive_path: format!("{prefix}/{name}"), source }],
    })
}

/// `[hooks] collect`: each glob's matches keep their path below the glob's literal base directory
/// and land below `to`.
pub fn hooks(cfg: &Config) -> Result<Vec<Input>> {
    let bounds = Bounds::of(cfg);
    let mut inputs = Vec::new();
    for (i, c) in cfg.collect.iter().enumerate() {
        let (base_rel, plain) = glob_base(&c.from);
        let base = cfg.root.join(&base_rel);
        let outside = !plain && !bounds.written_inside(&base);
        let origin = Origin {
            cfg,
            bounds: &bounds,
            key: format!("hooks.collect.{i}.from"),
            list_key: "hooks.collect",
            excludable: false,
            walk_root: if outside { std::fs::canonicalize(&base).ok() } else { None },
        };
        let found = if plain {
            // A plain path: a file lands as `to/<name>`, a directory's contents below `to/<name>`.
            place(&origin, &base, &c.to)?
        } else {
            let matcher = Glob::new(&c.from)?.compile_matcher();
            let full = |rel: &str| if base_rel.is_empty() { rel.to_string() } else { format!("{base_rel}/{rel}") };
            let mut found = Vec::new();
            if let Some((Kind::Dir, _)) = origin.listed(&base)? {
                // Files the glob does not match are left alone, even links that lead outside.
                let filter = |_: &Path, rel: &str, dir: bool| !dir && !matcher.is_match(full(rel));
                for (rel, source) in walk_tree(&base, Some(&origin), true, &filter)? {
                    found.push(Input { archive_path: format!("{}/{rel}", c.to), source });
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

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// A project with `frontend/index.html` and `main.py`, plus a directory outside it.
    fn project() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("proj");
        let outside = tmp.path().join("outside");
        fs_err::create_dir_all(root.join("frontend")).unwrap();
        fs_err::create_dir_all(outside.join("sub")).unwrap();
        fs_err::write(root.join("frontend/index.html"), "<p>").unwrap();
        fs_err::write(root.join("main.py"), "def run(): pass\n").unwrap();
        fs_err::write(outside.join("secret.txt"), "secret").unwrap();
        fs_err::write(outside.join("sub/data.txt"), "data").unwrap();
        (tmp, root, outside)
    }

    fn config(root: &Path, extra: &str) -> Config {
        Config::parse(&root.join(config::DEFAULT_FILE), &format!("[app]\nname = \"t\"\n{extra}")).unwrap()
    }

    fn paths(inputs: &[Input]) -> Vec<&str> {
        inputs.iter().map(|i| i.archive_path.as_str()).collect()
    }

    #[test]
    fn special_files_dangling_links_and_cycles_are_skipped() {
        let (_tmp, root, _) = project();
        let r = |p: &str| root.join(p);
        assert!(std::process::Command::new("mkfifo").arg(r("fifo")).status().unwrap().success());
        let _socket = std::os::unix::net::UnixListener::bind(r("sock")).unwrap();
        symlink("/dev/zero", r("zero")).unwrap();
        symlink("user@host.1234:1700000000", r(".#main.py")).unwrap();
        symlink("loop", r("loop")).unwrap();
        fs_err::create_dir_all(r("pkg/inner")).unwrap();
        fs_err::write(r("pkg/inner/mod.py"), "").unwrap();
        symlink("..", r("pkg/inner/up")).unwrap();
        symlink("../../pkg", r("pkg/inner/again")).unwrap();
        symlink("pkg/inner/mod.py", r("alias.py")).unwrap();
        symlink("pkg", r("pkg_link")).unwrap();
        let cfg = config(&root, "");
        let inputs = app_python(&cfg, &root.join("dist")).unwrap();
        assert_eq!(
            paths(&inputs),
            ["python/alias.py", "python/main.py", "python/pkg/inner/mod.py", "python/pkg_link/inner/mod.py",]
        );
        // A link's content comes from its (canonical) target.
        let alias = inputs.iter().find(|i| i.archive_path == "python/alias.py").unwrap();
        assert_eq!(alias.source, fs_err::canonicalize(r("pkg/inner/mod.py")).unwrap());
    }

    #[test]
    fn links_out_of_the_project_are_refused_unless_the_config_names_the_target() {
        let (_tmp, root, outside) = project();
        fs_err::create_dir_all(root.join("assets")).unwrap();
        fs_err::write(root.join("assets/ok.txt"), "ok").unwrap();
        symlink(outside.join("secret.txt"), root.join("assets/secret.txt")).unwrap();
        let cfg = config(&root, "[python]\nresources = [\"assets\"]\n");
        let err = format!("{:#}", resources(&cfg).unwrap_err());
        for part in ["`python.resources.0`", "assets/secret.txt", "outside/secret.txt", "hint:", "outside the project"]
        {
            assert!(err.contains(part), "{part} missing from: {err}");
        }
        assert!(err.contains(&cfg.file.display().to_string()), "{err}");

        // Naming the outside file is consent, for it and for links to it.
        let named = outside.join("secret.txt");
        let cfg = config(&root, &format!("[python]\nresources = [\"assets\", \"{}\"]\n", named.display()));
        let inputs = resources(&cfg).unwrap();
        assert_eq!(paths(&inputs), ["resources/assets/ok.txt", "resources/assets/secret.txt", "resources/secret.txt"]);

        // Naming a path inside the project that leads out is not.
        symlink(&outside, root.join("vendor")).unwrap();
        let cfg = config(&root, "[python]\nresources = [\"vendor/sub\"]\n");
        let err = format!("{:#}", resources(&cfg).unwrap_err());
        assert!(err.contains("symbolic link") && err.contains("vendor ->") && err.contains("hint:"), "{err}");
        // ... but naming it as it is, outside, is.
        let cfg = config(&root, "[python]\nresources = [\"../outside/sub\"]\n");
        assert_eq!(paths(&resources(&cfg).unwrap()), ["resources/sub/data.txt"]);
    }

    #[test]
    fn a_link_found_in_a_named_outside_directory_stays_inside_it() {
        let (_tmp, root, outside) = project();
        symlink("/etc/hostname", outside.join("sub/host")).unwrap();
        let cfg = config(&root, "[python]\nresources = [\"../outside/sub\"]\n");
        let err = format!("{:#}", resources(&cfg).unwrap_err());
        assert!(err.contains("sub/host") && err.contains("/etc/hostname"), "{err}");
    }

    #[test]
    fn hooks_refuse_matches_outside_and_accept_named_outside_sources() {
        let (_tmp, root, outside) = project();
        fs_err::create_dir_all(root.join("data")).unwrap();
        fs_err::write(root.join("data/a.json"), "{}").unwrap();
        symlink(outside.join("secret.txt"), root.join("data/ignored.txt")).unwrap();
        let cfg = config(&root, "[hooks]\ncollect = [{ from = \"data/*.json\", to = \"r\" }]\n");
        assert_eq!(paths(&hooks(&cfg).unwrap()), ["r/a.json"], "an unmatched link is left alone");

        symlink(outside.join("secret.txt"), root.join("data/b.json")).unwrap();
        let err = format!("{:#}", hooks(&cfg).unwrap_err());
        assert!(err.contains("`hooks.collect.0.from`") && err.contains("data/b.json"), "{err}");

        symlink(&outside, root.join("ext")).unwrap();
        let cfg = config(&root, "[hooks]\ncollect = [{ from = \"ext/**/*.txt\" }]\n");
        let err = format!("{:#}", hooks(&cfg).unwrap_err());
        assert!(err.contains("`hooks.collect.0.from`") && err.contains("ext is a symbolic link to"), "{err}");

        let from = outside.join("**/*.txt");
        let cfg = config(&root, &format!("[hooks]\ncollect = [{{ from = \"{}\", to = \"x\" }}]\n", from.display()));
        assert_eq!(paths(&hooks(&cfg).unwrap()), ["x/secret.txt", "x/sub/data.txt"]);

        // A glob's directory outside the project admits links only within that glob's own walk.
        fs_err::remove_file(root.join("data/b.json")).unwrap();
        let text =
            format!("[python]\nresources = [\"data\"]\n[hooks]\ncollect = [{{ from = \"{}\" }}]\n", from.display());
        let cfg = config(&root, &text);
        let err = format!("{:#}", resources(&cfg).unwrap_err());
        assert!(err.contains("data/ignored.txt is a symbolic link"), "{err}");
    }
}
