//! The manifest: everything the runtime needs to start, readable without decompressing anything.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub app: AppInfo,
    pub window: WindowInfo,
    pub python: PythonInfo,
    /// Environment variables set for Python, from the config's `[env]`.
    pub env: BTreeMap<String, String>,
    pub license: Option<LicenseInfo>,
    /// `[plugins]`: the native plugin commands the app may call. Left out when nothing is granted,
    /// so manifests without it read as before.
    #[serde(default, skip_serializing_if = "crate::plugins::Plugins::is_empty")]
    pub plugins: crate::plugins::Plugins,
    /// The bundled interpreter, absent for strategies that carry none.
    pub runtime: Option<RuntimeInfo>,
    /// Path of the window library in the overlay (absent: the app runs headless only).
    pub gui: Option<String>,
    /// `blake3:<hex>` over the index and payload sections.
    pub content_hash: String,
    /// Number of entries and their total size once extracted.
    pub entry_count: u64,
    pub unpacked_size: u64,
    /// Version of `auroraview-pack` that wrote the file.
    pub packer_version: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppInfo {
    pub name: String,
    pub version: String,
    pub title: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowInfo {
    pub width: u32,
    pub height: u32,
    pub resizable: bool,
    pub debug: bool,
    /// `[frontend] csp`: the Content-Security-Policy the window serves the frontend with; absent:
    /// the window's default. Left out when absent, so manifests without it read as before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csp: Option<String>,
    /// The rest of `[window]`: size limits, placement, frame and icon. Left out when all are at
    /// their defaults, so manifests without them read as before.
    #[serde(default, skip_serializing_if = "WindowOptions::is_default")]
    pub options: WindowOptions,
}

/// `[window]` options beyond size and resizability. The window library reads the same JSON shape
/// (see `runtime/window/src/shell.rs`, `Options`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WindowOptions {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_width: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_height: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_width: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_height: Option<u32>,
    /// Centre the window on its monitor (ignored when `x`/`y` are given).
    #[serde(skip_serializing_if = "is_false")]
    pub center: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub y: Option<i32>,
    #[serde(skip_serializing_if = "is_false")]
    pub always_on_top: bool,
    /// `false`: a frameless window. None: decorated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decorations: Option<bool>,
    #[serde(skip_serializing_if = "is_false")]
    pub fullscreen: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub maximized: bool,
    /// The window's icon, a PNG: its path in the overlay (or, in `dev`, on disk).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icon: Option<String>,
}

impl WindowOptions {
    pub fn is_default(&self) -> bool {
        *self == WindowOptions::default()
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    Standalone,
    Pyoxidizer,
    Embedded,
    Portable,
    System,
}

impl Strategy {
    pub const ALL: [(&'static str, Strategy); 5] = [
        ("standalone", Strategy::Standalone),
        ("pyoxidizer", Strategy::Pyoxidizer),
        ("embedded", Strategy::Embedded),
        ("portable", Strategy::Portable),
        ("system", Strategy::System),
    ];

    pub fn as_str(self) -> &'static str {
        Self::ALL.iter().find(|(_, s)| *s == self).map(|(n, _)| *n).unwrap_or("?")
    }

    /// Whether the file carries a Python runtime of its own.
    pub fn bundles_runtime(self) -> bool {
        matches!(self, Strategy::Standalone | Strategy::Pyoxidizer | Strategy::Portable)
    }
}

/// Where Python runs: inside the executable's process, or in a supervised child process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Isolation {
    Thread,
    Process,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PythonInfo {
    /// `module:function` or a `file.py` path relative to `python/`.
    pub entry_point: String,
    pub strategy: Strategy,
    pub isolation: Isolation,
    /// `major.minor` the app was packed for.
    pub version: String,
    /// Unexpanded: may hold `$EXTRACT_DIR`, `$SITE_PACKAGES`, `$RESOURCES_DIR`.
    pub module_search_paths: Vec<String>,
    pub filesystem_importer: bool,
    /// Interpreter to start for the `system` strategy; `None` means `python3` on PATH.
    pub interpreter: Option<String>,
    /// How many times a crashed subprocess backend is restarted before giving up.
    pub max_restarts: u32,
    /// A subprocess backend that answers no heartbeat for this long is replaced.
    pub heartbeat_timeout_ms: u64,
    /// `embedded`: the install prefix whose stdlib to use, before searching the machine.
    pub home: Option<String>,
    /// `embedded`: when no Python of the same minor version is found, run the app in a child
    /// process on whatever `python3` there is instead of failing.
    pub embedded_fallback: bool,
    /// `system`: let the machine's Python see its own site-packages (off: the app sees only what it
    /// packed).
    #[serde(default)]
    pub system_site_packages: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LicenseInfo {
    #[serde(rename = "type")]
    pub kind: String,
    pub public_key: Option<String>,
    /// `YYYY-MM-DD`: the last day (UTC) this build runs, token or not. Left out when absent, as
    /// the next field, so manifests without them read as before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// Days an expired token (or build) keeps working, with a warning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_period_days: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeInfo {
    /// Full version of the bundled interpreter, e.g. `3.11.7`.
    pub python_version: String,
    /// Path of the runtime tree inside the overlay, e.g. `runtime`.
    pub root: String,
    /// Path of the standard library relative to `root`, e.g. `lib/python3.11`.
    pub stdlib: String,
    /// The zip holding the stdlib's bytecode, relative to `root` (`lib/python311.zip`); `stdlib`
    /// then holds only `lib-dynload/`. Absent when the stdlib is a tree of files or a table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdlib_zip: Option<String>,
    pub target: String,
    /// The oldest glibc the runtime tree and the executable run on, e.g. `2.35`: the highest
    /// `GLIBC_x.y` symbol version any of their ELF files needs. Checked at start; absent in
    /// manifests of packers that did not record it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub glibc_floor: Option<String>,
    /// Where the runtime's own frame (every entry below `root`, nothing else) lies in the payload:
    /// a first run extracts it once into a runtime shared by every app built on the same one,
    /// named by the hash of its compressed bytes, and skips it when that runtime is already there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame: Option<RuntimeFrame>,
}

/// The runtime frame's place in the payload, and what it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeFrame {
    /// Bytes from the start of the payload.
    pub offset: u64,
    /// Compressed length.
    pub len: u64,
    /// `blake3:<hex>` of the compressed bytes: checked as they are read, before the shared runtime
    /// they unpack to is used by anyone.
    pub hash: String,
    /// Files in the frame, and their unpacked bytes.
    pub files: u64,
    pub bytes: u64,
}

/// One entry of the index section: what `inspect` lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexEntry {
    pub path: String,
    pub size: u64,
    pub kind: EntryKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    File,
    Executable,
}
