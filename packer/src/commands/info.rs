//! `auroraview-pack info`: what this machine offers for packing and running apps, as `key: value`
//! lines. Reads only: nothing is created, no GTK is loaded.

use crate::cache::PackCache;
use crate::{python, stub};
use anyhow::Result;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Show the packer's version, the runtime stub, the Pythons found, the caches and the display.
#[derive(clap::Args)]
pub struct Args {}

/// The library the window needs (wry on Linux: WebKitGTK 4.1).
const WEBKIT: &str = "libwebkit2gtk-4.1.so.0";

pub fn run(_args: Args) -> Result<()> {
    let mut o = String::new();
    let exe = std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_else(|_| "?".into());
    writeln!(o, "auroraview-pack: {} ({exe})", env!("CARGO_PKG_VERSION"))?;
    match stub::find(None, None) {
        Ok(s) => {
            writeln!(o, "runtime stub: {} (Python {})", s.path.display(), s.python)?;
            match s.gui() {
                Ok(gui) => writeln!(o, "window library: {}", gui.display())?,
                Err(_) => writeln!(o, "window library: not found beside the stub")?,
            }
            match s.lite() {
                Some(lite) => writeln!(o, "runtime stub without Python: {}", lite.path.display())?,
                None => writeln!(o, "runtime stub without Python: not built (ci/build-lite)")?,
            }
        }
        Err(e) => {
            // The error's lines, less its hint: what was searched.
            let text = format!("{e:#}");
            let what: Vec<&str> = text
                .lines()
                .take_while(|l| !l.starts_with("hint: "))
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
            writeln!(o, "runtime stub: not found ({})", what.join(" "))?;
        }
    }
    for version in stub::SUPPORTED {
        writeln!(o, "python{version}: {}", python_line(version))?;
    }
    writeln!(
        o,
        "uv: {}",
        python::which("uv").map(|p| p.display().to_string()).unwrap_or_else(|| "not on PATH".into())
    )?;
    let root = auroraview_overlay::cache_root();
    let from = if std::env::var_os("AURORAVIEW_CACHE_DIR").is_some_and(|v| !v.is_empty()) {
        " (AURORAVIEW_CACHE_DIR)"
    } else {
        ""
    };
    writeln!(o, "pack cache: {}{from}", PackCache::open().root().display())?;
    // Where packed apps extract themselves (runtime/src/app/extract.rs).
    writeln!(o, "runtime cache: {}{from}", root.join("python").display())?;
    writeln!(o, "shared runtimes: {}{from}", root.join("python-standalone").display())?;
    for var in ["DISPLAY", "WAYLAND_DISPLAY"] {
        let value = std::env::var(var).ok().filter(|v| !v.is_empty());
        writeln!(o, "{var}: {}", value.as_deref().unwrap_or("not set"))?;
    }
    let webkit = match find_library(WEBKIT) {
        Some(p) => format!("{WEBKIT} found ({})", p.display()),
        None => format!(
            "{WEBKIT} not found: windows cannot open (--headless works); install WebKitGTK 4.1 (e.g. `apt install libwebkit2gtk-4.1-0`)"
        ),
    };
    writeln!(o, "webkit: {webkit}")?;
    print!("{o}");
    Ok(())
}

/// `3.11.7 (/usr/bin/python3.11)`: the interpreter `build` would use for `version`.
fn python_line(version: &str) -> String {
    match python::find(version, None) {
        Ok(i) => format!("{} ({})", i.version, i.executable.display()),
        Err(_) => "not found (PATH, pyenv, /usr/local/bin, /usr/bin)".into(),
    }
}

/// Where the dynamic loader finds `name`: `ldconfig -p`, else the usual library directories and
/// `LD_LIBRARY_PATH`. Nothing is loaded.
fn find_library(name: &str) -> Option<PathBuf> {
    let ldconfig = ["ldconfig", "/sbin/ldconfig", "/usr/sbin/ldconfig"]
        .iter()
        .find_map(|l| std::process::Command::new(l).arg("-p").output().ok().filter(|o| o.status.success()));
    if let Some(out) = ldconfig
        && let Some(p) = parse_ldconfig(&String::from_utf8_lossy(&out.stdout), name)
    {
        return Some(p);
    }
    let mut dirs: Vec<PathBuf> = std::env::var_os("LD_LIBRARY_PATH")
        .map(|v| std::env::split_paths(&v).filter(|p| !p.as_os_str().is_empty()).collect())
        .unwrap_or_default();
    for d in ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib", "/lib64", "/lib"] {
        dirs.push(PathBuf::from(d));
    }
    dirs.into_iter().map(|d| d.join(name)).find(|p| Path::new(p).exists())
}

/// The path `ldconfig -p` gives for `name` (lines `\tlibx.so.0 (libc6,x86-64) => /usr/lib/libx.so.0`).
fn parse_ldconfig(text: &str, name: &str) -> Option<PathBuf> {
    text.lines().find_map(|line| {
        let (lib, rest) = line.trim().split_once(' ')?;
        if lib != name {
            return None;
        }
        rest.split_once("=> ").map(|(_, p)| PathBuf::from(p.trim()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ldconfig_lines() {
        let text = "3 libs found in cache `/etc/ld.so.cache'\n\
                    \tlibwebkit2gtk-4.1.so.0 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libwebkit2gtk-4.1.so.0\n\
                    \tlibwebkit2gtk-4.0.so.37 (libc6,x86-64) => /usr/lib/libwebkit2gtk-4.0.so.37\n";
        assert_eq!(
            parse_ldconfig(text, WEBKIT),
            Some(PathBuf::from("/usr/lib/x86_64-linux-gnu/libwebkit2gtk-4.1.so.0"))
        );
        assert_eq!(parse_ldconfig(text, "libgtk-3.so.0"), None);
    }
}
