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

/// The versions the runtime builds against (PyO3's range): `ci/build-stubs` builds these.
pub const SUPPORTED: [&str; 5] = ["3.9", "3.10", "3.11", "3.12", "3.13"];

#[derive(Debug, Clone)]
pub struct Stub {
    pub path: PathBuf,
    /// `3.11`: the Python the stub links.
    pub python: String,
}

impl Stub {
    /// The runtime without an embedded Python, for the `system` strategy: built with
    /// `ci/build-lite` (`cargo build --release -p auroraview-runtime --no-default-features
    /// --target-dir target/lite`, optimised for size),
    /// or placed beside the stub as `auroraview-runtime-lite`.
    pub fn lite(&self) -> Option<Stub> {
        let dir = self.path.parent()?;
        let candidates = [
            dir.join(format!("auroraview-runtime-lite{}", std::env::consts::EXE_SUFFIX)),
            dir.parent()?.join("lite").join(dir.file_name()?).join(STUB_NAME),
        ];
        candidates.iter().filter(|c| c.is_file()).find_map(|c| read(c).ok()).filter(|s| s.python == "none")
    }

    /// The window library beside the stub, else the one beside this packer: it does not depend
    /// on Python, so the stubs of other versions (`target/stubs/X.Y/release`) have none of their own.
    pub fn gui(&self) -> anyhow::Result<PathBuf> {
        let path = self.path.with_file_name(GUI_NAME);
        if path.is_file() {
            return Ok(path);
        }
        if let Some(beside) = packer_dirs().iter().map(|d| d.join(GUI_NAME)).find(|p| p.is_file()) {
            return Ok(beside);
        }
        bail!(
            "the window library {} is missing beside the runtime stub\nhint: build it with `cargo build --release -p auroraview-window`",
            path.display()
        )
    }
}

/// Where the default stub is looked for: this packer's directory, and its parent (`cargo test`
/// runs the packer from target/<profile>/deps).
fn packer_dirs() -> Vec<PathBuf> {
    let mut v = Vec::new();
    if let Ok(exe) = std::env::current_exe()
        && let Some(dir) = exe.parent()
    {
        v.push(dir.to_path_buf());
        if let Some(up) = dir.parent() {
            v.push(up.to_path_buf());
        }
    }
    v
}

/// `target/stubs/X.Y/<profile>/auroraview-runtime` for the profile directory `dir`
/// (`target/<profile>`): where `ci/build-stubs` builds the stub of Python `version`.
fn version_stub(dir: &Path, version: &str) -> Option<PathBuf> {
    Some(dir.parent()?.join("stubs").join(version).join(dir.file_name()?).join(STUB_NAME))
}

/// The cargo command that builds the stub of Python `version` where [`version_stub`] looks.
fn build_command(version: &str) -> String {
    format!(
        "ci/build-stubs {version}`, or `PYO3_CONFIG_FILE=<a copy of runtime/pyo3-config.txt with version={version}, lib_name=python{version}> PYTHON=python{version} cargo build --release -p auroraview-runtime --target-dir target/stubs/{version}"
    )
}

/// `--runtime`, else `AURORAVIEW_RUNTIME`, else the runtime built beside this packer if it links
/// `python` (the app's `python.version`; `None`: any), else the one `ci/build-stubs` built for that
/// version (`target/stubs/X.Y/release` beside this packer's `target/release`).
pub fn find(explicit: Option<&Path>, python: Option<&str>) -> Result<Stub> {
    let mut searched = Vec::new();
    if let Some(p) = explicit {
        if p.is_file() {
            return read(p);
        }
        return Err(not_found(&[p.to_path_buf()]));
    }
    if let Some(p) = std::env::var_os("AURORAVIEW_RUNTIME").map(PathBuf::from) {
        if p.is_file() {
            return read(&p);
        }
        searched.push(p);
    }
    let dirs = packer_dirs();
    let skipped = searched.len();
    let mut default = None;
    for c in dirs.iter().map(|d| d.join(STUB_NAME)) {
        if c.is_file() {
            default = Some(read(&c)?);
            break;
        }
        searched.push(c);
    }
    let version = match (python, default) {
        (Some(v), Some(stub)) if stub.python != v => v,
        (_, Some(stub)) => return Ok(stub),
        (None, None) => return Err(not_found(&searched)),
        (Some(v), None) => v,
    };
    // Beside the default stub's profile directory (target/release → target/stubs/X.Y/release),
    // else beside this packer's.
    let found_at = searched.len() - skipped;
    let default_dir = found_at < dirs.len();
    let bases = if default_dir { &dirs[found_at..=found_at] } else { &dirs[..] };
    let mut missing = Vec::new();
    for c in bases.iter().filter_map(|d| version_stub(d, version)) {
        if c.is_file() {
            let stub = read(&c)?;
            if stub.python != version {
                bail!(
                    "the runtime stub {} links Python {}, not {version}\nhint: rebuild it with `{}`",
                    c.display(),
                    stub.python,
                    build_command(version)
                );
            }
            return Ok(stub);
        }
        missing.push(c);
    }
    if !SUPPORTED.contains(&version) {
        bail!(
            "no runtime stub for Python {version}: stubs are built for Python {} only ({} is missing)\nhint: set `[python] version` to one of them",
            SUPPORTED.join(", "),
            missing.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(" and "),
        );
    }
    bail!(
        "no runtime stub for Python {version}: {} is missing{}\nhint: build it with `{}`, or pass --runtime PATH",
        missing.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(" and "),
        if default_dir { " (the stub beside the packer links another Python)" } else { "" },
        build_command(version)
    )
}

fn not_found(searched: &[PathBuf]) -> anyhow::Error {
    anyhow::anyhow!(
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
