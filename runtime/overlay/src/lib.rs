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

mod cache;
pub mod dev;
mod entry;
mod error;
mod format;
pub mod license;
mod manifest;
pub mod modules;
mod payload;
pub mod plugins;
mod reader;
mod writer;

pub use entry::{EntryPoint, EntryPointError};
pub use error::{Error, Result};
pub use format::{FORMAT_VERSION, HEADER_LEN, Header, SCAN_WINDOW, TRAILER_LEN, Trailer};
pub use manifest::{
    AppInfo, EntryKind, IndexEntry, Isolation, LicenseInfo, Manifest, PythonInfo, RuntimeFrame, RuntimeInfo, Strategy,
    WindowInfo, WindowOptions,
};
pub use payload::{Content, Frame, FrameBuilder, SourceFile, is_executable, open_regular, validate_entry_path};
pub use reader::{Extracted, Overlay, SharedRuntime};
pub use writer::{OverlayParts, write_executable};

pub use cache::{cache_root, check_owned, private_dir};
