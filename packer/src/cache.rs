//! The packer's cache: compressed frames that did not change (the runtime, site-packages) and a
//! [`FileHashCache`] so unchanged inputs are recognised by size and mtime without rereading them.
//! Lives in `<cache>/AuroraView/pack` (`AURORAVIEW_CACHE_DIR` replaces `<cache>/AuroraView`).

use anyhow::{Context, Result};
use auroraview_overlay::{Frame, IndexEntry};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

/// Bumped when what the packer puts in a cached frame changes.
pub const CACHE_VERSION: u32 = 3;

pub struct PackCache {
    root: PathBuf,
}

impl PackCache {
    pub fn open() -> PackCache {
        PackCache { root: auroraview_overlay::cache_root().join("pack") }
    }

    fn frame_paths(&self, key: &str) -> (PathBuf, PathBuf) {
        let dir = self.root.join("frames");
        (dir.join(format!("{key}.zst")), dir.join(format!("{key}.index.json")))
    }

    /// A frame stored under `key`, if present and whole.
    pub fn frame(&self, key: &str) -> Option<Frame> {
        let (data, index) = self.frame_paths(key);
        let index: Vec<IndexEntry> = serde_json::from_slice(&fs_err::read(index).ok()?).ok()?;
        let compressed = fs_err::read(data).ok()?;
        Some(Frame { compressed, index })
    }

    /// Stores a frame. The index is written last, so a frame is only seen once both files are whole.
    pub fn store_frame(&self, key: &str, frame: &Frame) -> Result<()> {
        let (data, index) = self.frame_paths(key);
        write_atomic(&data, &frame.compressed)?;
        write_atomic(&index, &serde_json::to_vec(&frame.index)?)?;
        Ok(())
    }

    /// Bytes stored beside the frames under `key` and `ext` (a module table, a list of keys).
    pub fn blob(&self, key: &str, ext: &str) -> Option<Vec<u8>> {
        fs_err::read(self.root.join("frames").join(format!("{key}.{ext}"))).ok()
    }

    pub fn store_blob(&self, key: &str, ext: &str, bytes: &[u8]) -> Result<()> {
        write_atomic(&self.root.join("frames").join(format!("{key}.{ext}")), bytes)
    }

    /// The cache's directory (which may not exist yet).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A subdirectory of the cache (not created).
    pub fn dir(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    pub fn temp_dir(&self, prefix: &str) -> Result<tempfile::TempDir> {
        let dir = self.root.join("tmp");
        fs_err::create_dir_all(&dir)?;
        tempfile::Builder::new()
            .prefix(prefix)
            .tempdir_in(&dir)
            .with_context(|| format!("creating a temporary directory in {}", dir.display()))
    }
}

pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().context("path has no parent")?;
    fs_err::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).with_context(|| format!("writing {}", path.display()))?;
    tmp.write_all(bytes)?;
    tmp.persist(path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Stamp {
    size: u64,
    mtime_ns: u128,
    hash: String,
}

/// Content hashes of files, remembered with the size and mtime they were taken at.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct FileHashCache {
    version: u32,
    hashes: BTreeMap<PathBuf, Stamp>,
    #[serde(skip)]
    dirty: bool,
}

impl FileHashCache {
    fn path(cache: &PackCache) -> PathBuf {
        cache.root.join("file-hashes.json")
    }

    pub fn load(cache: &PackCache) -> FileHashCache {
        fs_err::read(Self::path(cache))
            .ok()
            .and_then(|b| serde_json::from_slice::<FileHashCache>(&b).ok())
            .filter(|c| c.version == CACHE_VERSION)
            .unwrap_or(FileHashCache { version: CACHE_VERSION, ..Default::default() })
    }

    pub fn save(&self, cache: &PackCache) -> Result<()> {
        if self.dirty {
            write_atomic(&Self::path(cache), &serde_json::to_vec(self)?)?;
        }
        Ok(())
    }

    /// BLAKE3 of the file's content, reread only when its size or mtime changed.
    pub fn hash(&mut self, path: &Path) -> Result<String> {
        let meta = fs_err::metadata(path)?;
        let mtime_ns =
            meta.modified().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map(|d| d.as_nanos()).unwrap_or(0);
        if let Some(s) = self.hashes.get(path)
            && s.size == meta.len()
            && s.mtime_ns == mtime_ns
        {
            return Ok(s.hash.clone());
        }
        // Streamed: an input of any size is hashed in bounded memory.
        let (file, _) = auroraview_overlay::open_regular(path)?;
        let mut hasher = blake3::Hasher::new();
        hasher.update_reader(file).with_context(|| format!("reading {}", path.display()))?;
        let hash = hasher.finalize().to_hex().to_string();
        self.hashes.insert(path.to_path_buf(), Stamp { size: meta.len(), mtime_ns, hash: hash.clone() });
        self.dirty = true;
        Ok(hash)
    }
}

/// Builds a cache key from labelled parts.
pub struct KeyHasher(blake3::Hasher);

impl KeyHasher {
    pub fn new(kind: &str) -> KeyHasher {
        let mut h = blake3::Hasher::new();
        h.update(format!("{kind}\0{CACHE_VERSION}\0{}\0", env!("CARGO_PKG_VERSION")).as_bytes());
        KeyHasher(h)
    }

    pub fn add(&mut self, part: impl AsRef<[u8]>) -> &mut Self {
        let part = part.as_ref();
        self.0.update(&(part.len() as u64).to_le_bytes());
        self.0.update(part);
        self
    }

    pub fn finish(&self) -> String {
        self.0.finalize().to_hex()[..32].to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streamed_hash_is_the_content_hash_and_refuses_special_files() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        let content: Vec<u8> = (0..(1u32 << 20) + 17).map(|i| (i % 251) as u8).collect();
        fs_err::write(&file, &content).unwrap();
        let mut hashes = FileHashCache::default();
        assert_eq!(hashes.hash(&file).unwrap(), blake3::hash(&content).to_hex().to_string());
        #[cfg(unix)]
        {
            let err = format!("{:#}", hashes.hash(Path::new("/dev/zero")).unwrap_err());
            assert!(err.contains("not a regular file"), "{err}");
        }
    }
}
