//! Appending an overlay to a runtime stub, atomically: the output is written to a temporary file
//! beside its destination and renamed into place, so a failed pack never leaves a half-written file.

use crate::format::{FORMAT_VERSION, Header, TRAILER_LEN, Trailer};
use crate::manifest::{IndexEntry, Manifest};
use crate::payload::Frame;
use crate::reader::Overlay;
use crate::{Error, Result};
use std::io::Write;
use std::path::Path;

/// What goes into an overlay. `manifest.content_hash`, `entry_count` and `unpacked_size` are filled
/// in by [`write_executable`], unless `manifest_only` is set: then the overlay carries the manifest
/// as given and no files (the `portable` layout, whose files sit beside the executable).
pub struct OverlayParts {
    pub manifest: Manifest,
    pub frames: Vec<Frame>,
    pub manifest_only: bool,
}

/// Encoded overlay sections, ready to append.
pub struct Encoded {
    pub manifest: Manifest,
    pub bytes: Vec<u8>,
}

/// Encodes the overlay (header to trailer) as it will start at `header_offset` in the file.
pub fn encode(parts: OverlayParts, header_offset: u64) -> Result<Encoded> {
    let OverlayParts { mut manifest, frames, manifest_only } = parts;
    let mut index: Vec<IndexEntry> = frames.iter().flat_map(|f| f.index.iter().cloned()).collect();
    index.sort_by(|a, b| a.path.cmp(&b.path));
    let index_json = serde_json::to_vec(&index).map_err(std::io::Error::other)?;
    let index_bytes = zstd::bulk::compress(&index_json, 19)?;
    let payload_len: u64 = frames.iter().map(|f| f.compressed.len() as u64).sum();

    let mut hasher = blake3::Hasher::new();
    hasher.update(&index_bytes);
    for f in &frames {
        hasher.update(&f.compressed);
    }
    if !manifest_only {
        manifest.content_hash = format!("blake3:{}", hasher.finalize().to_hex());
        manifest.entry_count = index.len() as u64;
        manifest.unpacked_size = index.iter().map(|e| e.size).sum();
    }
    let manifest_bytes = serde_json::to_vec_pretty(&manifest).map_err(std::io::Error::other)?;

    let header = Header {
        version: FORMAT_VERSION,
        manifest_len: manifest_bytes.len() as u64,
        index_len: index_bytes.len() as u64,
        payload_len,
        manifest_hash: *blake3::hash(&manifest_bytes).as_bytes(),
    };
    let overlay_len = header.body_len().expect("lengths fit in u64") + TRAILER_LEN;
    let trailer = Trailer { version: FORMAT_VERSION, header_offset, overlay_len };

    let mut bytes = Vec::with_capacity(overlay_len as usize);
    bytes.extend_from_slice(&header.encode());
    bytes.extend_from_slice(&manifest_bytes);
    bytes.extend_from_slice(&index_bytes);
    for f in &frames {
        bytes.extend_from_slice(&f.compressed);
    }
    bytes.extend_from_slice(&trailer.encode());
    debug_assert_eq!(bytes.len() as u64, overlay_len);
    Ok(Encoded { manifest, bytes })
}

/// Writes `stub` + overlay to `out` and makes it executable. If `stub` already carries an overlay
/// (a packed executable given as the runtime), only its executable part is used.
pub fn write_executable(stub: &Path, out: &Path, parts: OverlayParts) -> Result<Manifest> {
    let mut stub_bytes = fs_err::read(stub)?;
    match Overlay::open(stub) {
        Ok(existing) => stub_bytes.truncate(existing.header_offset() as usize),
        Err(Error::NotFound { .. }) => {}
        Err(e) => return Err(e),
    }
    let encoded = encode(parts, stub_bytes.len() as u64)?;

    let dir = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    fs_err::create_dir_all(dir)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".auroraview-pack-")
        .tempfile_in(dir)
        .map_err(|e| std::io::Error::new(e.kind(), format!("creating a temporary file in {}: {e}", dir.display())))?;
    tmp.write_all(&stub_bytes)?;
    tmp.write_all(&encoded.bytes)?;
    tmp.as_file().sync_all()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file().set_permissions(std::fs::Permissions::from_mode(0o755))?;
    }
    tmp.persist(out)
        .map_err(|e| std::io::Error::new(e.error.kind(), format!("writing {}: {}", out.display(), e.error)))?;
    Ok(encoded.manifest)
}
