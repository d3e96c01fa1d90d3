//! Fixed-size binary header and trailer. All integers are little-endian.

use crate::{Error, Result};
use std::path::Path;

/// Bumped whenever the layout or the meaning of a field changes. 2: the header carries the
/// manifest's hash.
pub const FORMAT_VERSION: u32 = 2;
const HEADER_MAGIC: [u8; 8] = *b"AVPKHEAD";
const TRAILER_MAGIC: [u8; 8] = *b"AVPKTAIL";
pub const HEADER_LEN: u64 = 72;
pub const TRAILER_LEN: u64 = 32;
/// How far back from the end of the file the trailer is looked for. Room for a code signature.
pub const SCAN_WINDOW: u64 = 1 << 20;

/// Starts the overlay: the lengths of the three sections that follow it, and the BLAKE3 hash of
/// the manifest (whose `content_hash` covers the index and payload), so no field of the manifest
/// can change without the reader noticing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub version: u32,
    pub manifest_len: u64,
    pub index_len: u64,
    pub payload_len: u64,
    pub manifest_hash: [u8; 32],
}

impl Header {
    pub fn encode(&self) -> [u8; HEADER_LEN as usize] {
        let mut b = [0u8; HEADER_LEN as usize];
        b[0..8].copy_from_slice(&HEADER_MAGIC);
        b[8..12].copy_from_slice(&self.version.to_le_bytes());
        // 12..16 reserved (flags)
        b[16..24].copy_from_slice(&self.manifest_len.to_le_bytes());
        b[24..32].copy_from_slice(&self.index_len.to_le_bytes());
        b[32..40].copy_from_slice(&self.payload_len.to_le_bytes());
        b[40..72].copy_from_slice(&self.manifest_hash);
        b
    }

    pub fn decode(path: &Path, b: &[u8]) -> Result<Self> {
        if b.len() < HEADER_LEN as usize || b[0..8] != HEADER_MAGIC {
            return Err(Error::corrupt(path, "bad header magic"));
        }
        let version = u32::from_le_bytes(b[8..12].try_into().unwrap());
        if version != FORMAT_VERSION {
            return Err(Error::Version { path: path.into(), found: version, expected: FORMAT_VERSION });
        }
        Ok(Header {
            version,
            manifest_len: u64_at(b, 16),
            index_len: u64_at(b, 24),
            payload_len: u64_at(b, 32),
            manifest_hash: b[40..72].try_into().unwrap(),
        })
    }

    /// Bytes from the start of the header to the end of the payload.
    pub fn body_len(&self) -> Option<u64> {
        HEADER_LEN.checked_add(self.manifest_len)?.checked_add(self.index_len)?.checked_add(self.payload_len)
    }
}

/// Ends the overlay: where the header starts, so a reader can find it from the end of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trailer {
    pub version: u32,
    pub header_offset: u64,
    /// Length of the overlay from the header to the end of this trailer.
    pub overlay_len: u64,
}

impl Trailer {
    pub fn encode(&self) -> [u8; TRAILER_LEN as usize] {
        let mut b = [0u8; TRAILER_LEN as usize];
        b[0..8].copy_from_slice(&TRAILER_MAGIC);
        b[8..12].copy_from_slice(&self.version.to_le_bytes());
        b[16..24].copy_from_slice(&self.header_offset.to_le_bytes());
        b[24..32].copy_from_slice(&self.overlay_len.to_le_bytes());
        b
    }

    fn decode(b: &[u8]) -> Self {
        Trailer {
            version: u32::from_le_bytes(b[8..12].try_into().unwrap()),
            header_offset: u64_at(b, 16),
            overlay_len: u64_at(b, 24),
        }
    }

    /// Finds the last trailer in `tail`, the final bytes of a file of `file_len` bytes, that is
    /// consistent with its own position. Returns it with its absolute offset.
    pub fn find(path: &Path, tail: &[u8], file_len: u64) -> Result<(Trailer, u64)> {
        let tail_start = file_len - tail.len() as u64;
        let mut end = tail.len();
        let mut version_error = None;
        while let Some(pos) = rfind(&tail[..end], &TRAILER_MAGIC) {
            end = pos + TRAILER_MAGIC.len() - 1;
            if pos + TRAILER_LEN as usize > tail.len() {
                continue;
            }
            let t = Trailer::decode(&tail[pos..pos + TRAILER_LEN as usize]);
            let at = tail_start + pos as u64;
            let consistent = t.header_offset.checked_add(t.overlay_len) == Some(at + TRAILER_LEN);
            if !consistent {
                continue;
            }
            if t.version != FORMAT_VERSION {
                version_error.get_or_insert(Error::Version {
                    path: path.into(),
                    found: t.version,
                    expected: FORMAT_VERSION,
                });
                continue;
            }
            return Ok((t, at));
        }
        Err(version_error.unwrap_or_else(|| Error::NotFound { path: path.into() }))
    }
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

fn rfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if hay.len() < needle.len() {
        return None;
    }
    (0..=hay.len() - needle.len()).rev().find(|&i| &hay[i..i + needle.len()] == needle)
}
