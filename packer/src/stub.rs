//! The runtime stub: the `auroraview-runtime` executable an overlay is appended to. It records the
//! Python minor version it links as a marker string, read here without running it.

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};

const MARKER: &[u8] = b"AURORAVIEW-STUB-INFO:";
pub const STUB_NAME: &str = if cfg!(windows) { "auroraview-runtime.exe" } else { "auroraview-runtime" };
/// The window library, built beside the stub by `runtime/window`.
pub const GUI_NAME: &str = if cfg!(windows) {
    "auroraview_window.dll"
} else if cfg!(target_os = "macos") {
    "libauroraview_window.dylib"
} else {
    "libauroraview_window.so"
};

#[derive(Debug, Clone)]
pub struct Stub {
    pub path: PathBuf,
    /// `3.11`: the Python the stub links.
    pub python: String,
}

impl Stub {
    /// The runtime without an embedded Python, for the `system` strategy: built with
    /// `cargo build --release -p auroraview-runtime --no-default-features --target-dir target/lite`,
    /// or placed beside the stub as `auroraview-runtime-lite`.
    pub fn lite(&self) -> Option<Stub> {
        let dir = self.path.parent()?;
        let candidates = [
            dir.join(format!("auroraview-runtime-lite{}", std::env::consts::EXE_SUFFIX)),
            dir.parent()?.join("lite").join(dir.file_name()?).join(STUB_NAME),
        ];
        candidates.iter().filter(|c| c.is_file()).find_map(|c| read(c).ok()).filter(|s| s.python == "none")
    }

    /// The window library beside the stub.
    pub fn gui(&self) -> anyhow::Result<PathBuf> {
        let path = self.path.with_file_name(GUI_NAME);
        if !path.is_file() {
            bail!(
                "the window library {} is missing beside the runtime stub\nhint: build it with `cargo build --release -p auroraview-window`",
                path.display()
            );
        }
        Ok(path)
    }
}

/// `--runtime`, else `AURORAVIEW_RUNTIME`, else the runtime built beside this packer.
pub fn find(explicit: Option<&Path>) -> Result<Stub> {
    let mut searched = Vec::new();
    let candidates: Vec<PathBuf> = match explicit {
        Some(p) => vec![p.to_path_buf()],
        None => {
            let mut v = Vec::new();
            if let Some(p) = std::env::var_os("AURORAVIEW_RUNTIME") {
                v.push(PathBuf::from(p));
            }
            if let Ok(exe) = std::env::current_exe()
                && let Some(dir) = exe.parent()
            {
                v.push(dir.join(STUB_NAME));
                // `cargo test` runs the packer from target/<profile>/deps.
                if let Some(up) = dir.parent() {
                    v.push(up.join(STUB_NAME));
                }
            }
            v
        }
    };
    for c in candidates {
        if c.is_file() {
            return read(&c);
        }
        searched.push(c);
    }
    bail!(
        "runtime stub `{STUB_NAME}` not found; searched:\n{}\nhint: build it with `cargo build --release -p auroraview-runtime`, or pass --runtime PATH",
        searched.iter().map(|p| format!("  {}", p.display())).collect::<Vec<_>>().join("\n")
    )
}

pub fn read(path: &Path) -> Result<Stub> {
    let bytes = fs_err::read(path)?;
    let at = bytes
        .windows(MARKER.len())
        .position(|w| w == MARKER)
        .with_context(|| format!("{} is not an AuroraView runtime (no stub marker)", path.display()))?;
    let rest = &bytes[at + MARKER.len()..bytes.len().min(at + MARKER.len() + 128)];
    let text = String::from_utf8_lossy(rest);
    let info = text.split(";end").next().unwrap_or("");
    let python = info
        .split(';')
        .find_map(|kv| kv.strip_prefix("python="))
        .with_context(|| format!("{}: malformed stub marker `{info}`", path.display()))?
        .to_string();
    Ok(Stub { path: path.to_path_buf(), python })
}
