//! The overlay: what `auroraview-pack` appends to the runtime executable and what the runtime reads
//! back. Layout, from the start of the overlay to the end of the file:
//!
//! ```text
//! header (40 bytes) | manifest (JSON) | index (zstd JSON) | payload (zstd frames of one tar stream) | trailer (32 bytes) | anything appended later
//! ```
//!
//! The trailer is found by scanning back a bounded window from the end of the file, so bytes appended
//! after the overlay (a code signature) do not hide it. The manifest is read without touching the
//! payload. The payload's BLAKE3 hash, recorded in the manifest, is checked while it is extracted.
//!
//! This crate must stay free of wry and PyO3: the packer links it without either.

pub mod dev;
mod entry;
mod error;
mod format;
mod manifest;
pub mod modules;
mod payload;
mod reader;
mod writer;

pub use entry::{EntryPoint, EntryPointError};
pub use error::{Error, Result};
pub use format::{FORMAT_VERSION, HEADER_LEN, Header, SCAN_WINDOW, TRAILER_LEN, Trailer};
pub use manifest::{
    AppInfo, EntryKind, IndexEntry, Isolation, LicenseInfo, Manifest, PythonInfo, RuntimeInfo, Strategy, WindowInfo,
};
pub use payload::{Content, Frame, FrameBuilder, SourceFile, is_executable, validate_entry_path};
pub use reader::{Extracted, Overlay};
pub use writer::{OverlayParts, write_executable};

/// Where AuroraView caches extracted apps and pack frames: `AURORAVIEW_CACHE_DIR` when set and not
/// empty, else the user's cache directory (`~/.cache/AuroraView` on Linux).
pub fn cache_root() -> std::path::PathBuf {
    std::env::var_os("AURORAVIEW_CACHE_DIR")
        .filter(|v| !v.is_empty())
        .map(std::path::PathBuf::from)
        .or_else(|| dirs::cache_dir().map(|d| d.join("AuroraView")))
        .unwrap_or_else(|| std::env::temp_dir().join("AuroraView"))
}
