//! Finding the machine's Python for the `system` strategy: `python.interpreter` if the config
//! set one, else `python3` on PATH; it must be at least the version the app was packed for.

use anyhow::{Context, Result, bail};
use auroraview_overlay::Manifest;
use std::path::{Path, PathBuf};
use std::process::Command;

pub fn find(manifest: &Manifest) -> Result<PathBuf> {
    let name = manifest.python.interpreter.clone().unwrap_or_else(|| "python3".to_string());
    let wanted = parse(&manifest.python.version).context("bad python.version in the manifest")?;
    let mut searched = Vec::new();
    let candidates: Vec<PathBuf> = if name.contains('/') {
        vec![PathBuf::from(&name)]
    } else {
        std::env::var_os("PATH").map(|p| std::env::split_paths(&p).map(|d| d.join(&name)).collect()).unwrap_or_default()
    };
    for c in candidates {
        if !c.is_file() {
            searched.push(format!("  {} (not found)", c.display()));
            continue;
        }
        match version_of(&c) {
            Some(v) if v >= wanted => return Ok(c),
            Some(v) => searched.push(format!("  {} (Python {}.{})", c.display(), v.0, v.1)),
            None => searched.push(format!("  {} (did not report a version)", c.display())),
        }
    }
    bail!(
        "no Python {}.{} or newer found for this app; searched:\n{}\nhint: install Python {}.{}+ (or set `[python] interpreter` when packing)",
        wanted.0,
        wanted.1,
        if searched.is_empty() { "  (PATH is empty)".to_string() } else { searched.join("\n") },
        wanted.0,
        wanted.1
    )
}

fn parse(v: &str) -> Option<(u32, u32)> {
    let mut it = v.trim().split('.');
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

fn version_of(python: &Path) -> Option<(u32, u32)> {
    let out = Command::new(python)
        .args(["-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
        .env_remove("PYTHONPATH")
        .output()
        .ok()?;
    out.status.success().then(|| parse(&String::from_utf8_lossy(&out.stdout))).flatten()
}
