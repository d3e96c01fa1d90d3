//! Finding the machine's Python: for the `system` strategy, an interpreter (`python.interpreter`
//! if the config set one, else `pythonX.Y` then `python3` on PATH, of the minor version the app
//! was packed for: its compiled wheels load in no other);
//! for `embedded`, an install prefix of the same minor version whose stdlib the embedded
//! interpreter uses.

use anyhow::{Context, Result, bail};
use auroraview_overlay::Manifest;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Which versions will do.
#[derive(Clone, Copy)]
pub enum Wanted<'a> {
    /// This `major.minor` only.
    Exactly(&'a str),
    /// This `major.minor` or newer.
    AtLeast(&'a str),
}

/// Returns the interpreter's real executable (a pyenv shim resolved), so starting it again costs
/// no shim. What each candidate reported is remembered in `memo` (a file in the app's cache
/// directory), keyed by the candidate's path, size and mtime: a warm start runs no Python to ask.
pub fn find(manifest: &Manifest, wanted: Wanted, memo: Option<&Path>) -> Result<PathBuf> {
    let (text, exact) = match wanted {
        Wanted::Exactly(v) => (v, true),
        Wanted::AtLeast(v) => (v, false),
    };
    let wanted = parse(text).context("bad python.version in the manifest")?;
    let fits = |v: (u32, u32)| if exact { v == wanted } else { v >= wanted };
    let mut searched = Vec::new();
    // The configured interpreter; else `pythonX.Y` for an exact version (a machine's `python3` is
    // often another minor version), then `python3`.
    let names: Vec<String> = match &manifest.python.interpreter {
        Some(name) => vec![name.clone()],
        None if exact => vec![format!("python{}.{}", wanted.0, wanted.1), "python3".to_string()],
        None => vec!["python3".to_string()],
    };
    let path: Vec<PathBuf> = std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect()).unwrap_or_default();
    let candidates: Vec<PathBuf> = names
        .iter()
        .flat_map(|name| {
            if name.contains('/') { vec![PathBuf::from(name)] } else { path.iter().map(|d| d.join(name)).collect() }
        })
        .collect();
    for c in candidates {
        if !c.is_file() {
            searched.push(format!("  {} (not found)", c.display()));
            continue;
        }
        match version_of(&c, memo) {
            Some((v, real)) if fits(v) => return Ok(real),
            Some((v, _)) => searched.push(format!("  {} (Python {}.{})", c.display(), v.0, v.1)),
            None => searched.push(format!("  {} (did not report a version)", c.display())),
        }
    }
    let (v, plus) = (format!("{}.{}", wanted.0, wanted.1), if exact { "" } else { " or newer" });
    bail!(
        "no Python {v}{plus} found for this app (its packages were installed for {v}); searched:\n{}\nhint: install Python {v}{plus}, or set `[python] interpreter` when packing",
        if searched.is_empty() { "  (PATH is empty)".to_string() } else { searched.join("\n") },
    )
}

fn parse(v: &str) -> Option<(u32, u32)> {
    let mut it = v.trim().split('.');
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

/// `(major, minor)` and the real executable of `python`.
fn version_of(python: &Path, memo: Option<&Path>) -> Option<((u32, u32), PathBuf)> {
    let stamp = std::fs::metadata(python).ok().map(|m| {
        let mtime = m.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).unwrap_or_default();
        format!("{}\t{}\t{}", python.display(), m.len(), mtime.as_nanos())
    })?;
    let remembered = memo.and_then(|m| std::fs::read_to_string(m).ok()).unwrap_or_default();
    for line in remembered.lines() {
        if let Some(rest) = line.strip_prefix(&stamp).and_then(|r| r.strip_prefix('\t'))
            && let Some((v, real)) = rest.split_once('\t')
        {
            return Some((parse(v)?, PathBuf::from(real)));
        }
    }
    let out = Command::new(python)
        .args(["-c", "import sys; print('%d.%d' % sys.version_info[:2]); print(sys.executable)"])
        .env_remove("PYTHONPATH")
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut lines = text.lines();
    let version = parse(lines.next()?)?;
    let real = lines.next().filter(|r| !r.is_empty()).map(PathBuf::from).unwrap_or_else(|| python.to_path_buf());
    if !out.status.success() {
        return None;
    }
    if let Some(m) = memo {
        let mut kept: Vec<&str> =
            remembered.lines().filter(|l| !l.starts_with(&format!("{}\t", python.display()))).collect();
        let line = format!("{stamp}\t{}.{}\t{}", version.0, version.1, real.display());
        kept.push(&line);
        // Only this user may write it: it names the program the app will start.
        if let Ok(mut f) = super::extract::private_file(m) {
            use std::io::Write;
            let _ = f.set_len(0).and_then(|()| f.write_all((kept.join("\n") + "\n").as_bytes()));
        }
    }
    Some((version, real))
}

/// An install prefix holding `lib/pythonX.Y/os.py` for the app's minor version: `python.home`,
/// then the prefixes of `pythonX.Y` on PATH, `/usr/local`, `/usr`, `/opt/pythonX.Y`, pyenv.
pub fn find_home(manifest: &Manifest) -> Result<PathBuf> {
    let version = &manifest.python.version;
    let stdlib = format!("lib/python{version}");
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(home) = &manifest.python.home {
        candidates.push(PathBuf::from(home));
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let exe = dir.join(format!("python{version}"));
            // The real binary's prefix (a pyenv shim's directory is no prefix).
            if let Ok(real) = exe.canonicalize()
                && let Some(prefix) = real.parent().and_then(Path::parent)
            {
                candidates.push(prefix.to_path_buf());
            }
        }
    }
    for prefix in ["/usr/local", "/usr", &format!("/opt/python{version}")] {
        candidates.push(PathBuf::from(prefix));
    }
    let pyenv = std::env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".pyenv")));
    if let Some(root) = pyenv {
        let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(root.join("versions"))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let patch = name.strip_prefix(version.as_str())?.strip_prefix('.')?.parse().ok()?;
                Some((patch, e.path()))
            })
            .collect();
        versions.sort();
        candidates.extend(versions.into_iter().rev().map(|(_, p)| p));
    }
    let mut searched: Vec<(PathBuf, &str)> = Vec::new();
    for c in candidates {
        if searched.iter().any(|(p, _)| *p == c) {
            continue;
        }
        let lib = c.join(&stdlib);
        if !lib.join("os.py").is_file() {
            searched.push((c, "not found"));
        } else if !has_shared_module(&lib.join("lib-dynload"), "_struct") {
            // Builds such as Debian's compile these modules into their own libpython, which this
            // executable does not load; its stdlib cannot serve our interpreter.
            searched.push((c, "its extension modules are built into its own libpython"));
        } else {
            return Ok(c);
        }
    }
    bail!(
        "no usable Python {version} standard library found for this embedded app; searched:\n{}\nhint: install CPython {version} (e.g. with pyenv), set `[python] home` to its prefix when packing, or pack with `embedded_fallback = true` or the `standalone` strategy",
        searched
            .iter()
            .map(|(p, why)| format!("  {} ({why})", p.join(&stdlib).display()))
            .collect::<Vec<_>>()
            .join("\n")
    )
}

fn has_shared_module(dynload: &Path, name: &str) -> bool {
    std::fs::read_dir(dynload)
        .map(|rd| rd.flatten().any(|e| e.file_name().to_string_lossy().starts_with(&format!("{name}."))))
        .unwrap_or(false)
}
