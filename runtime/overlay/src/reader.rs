//! Reading an overlay: the manifest without touching the payload, the index, and a validating
//! extraction that checks the content hash while it unpacks.

use crate::format::{HEADER_LEN, Header, SCAN_WINDOW, TRAILER_LEN, Trailer};
use crate::manifest::{IndexEntry, Manifest};
use crate::payload::validate_entry_path;
use crate::{Error, Result};
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};

/// An opened overlay: its location in the file and its parsed manifest.
#[derive(Debug, Clone)]
pub struct Overlay {
    path: PathBuf,
    header_offset: u64,
    header: Header,
    manifest: Manifest,
}

/// What an extraction wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Extracted {
    pub files: u64,
    pub bytes: u64,
}

impl Overlay {
    /// Locates the overlay at the end of `path` and reads its header and manifest.
    pub fn open(path: &Path) -> Result<Overlay> {
        let mut file = fs_err::File::open(path)?;
        let file_len = file.metadata()?.len();
        // Usually the trailer is the file's last bytes: look at a small tail first, and at the
        // whole window only if something (a signature) was appended after the overlay.
        let mut found = None;
        for window in [4096.min(SCAN_WINDOW), SCAN_WINDOW] {
            let window = file_len.min(window);
            file.seek(SeekFrom::Start(file_len - window))?;
            let mut tail = vec![0u8; window as usize];
            file.read_exact(&mut tail)?;
            match Trailer::find(path, &tail, file_len) {
                Ok(t) => {
                    found = Some(Ok(t));
                    break;
                }
                Err(e) => found = Some(Err(e)),
            }
            if window == file_len {
                break;
            }
        }
        let (trailer, trailer_at) = found.expect("at least one window was read")?;

        let header_offset = trailer.header_offset;
        if trailer.overlay_len < HEADER_LEN + TRAILER_LEN {
            return Err(Error::corrupt(path, "overlay shorter than its header"));
        }
        let mut hb = [0u8; HEADER_LEN as usize];
        file.seek(SeekFrom::Start(header_offset))?;
        file.read_exact(&mut hb)?;
        let header = Header::decode(path, &hb)?;
        if header.body_len().and_then(|l| l.checked_add(header_offset)) != Some(trailer_at) {
            return Err(Error::corrupt(path, "section lengths do not match the trailer"));
        }
        if header.manifest_len > 16 << 20 || header.index_len > 256 << 20 {
            return Err(Error::corrupt(path, "implausible manifest or index length"));
        }
        let mut manifest_bytes = vec![0u8; header.manifest_len as usize];
        file.read_exact(&mut manifest_bytes)?;
        let manifest: Manifest = serde_json::from_slice(&manifest_bytes)
            .map_err(|e| Error::corrupt(path, format!("manifest is not valid: {e}")))?;
        Ok(Overlay { path: path.to_path_buf(), header_offset, header, manifest })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Offset of the overlay in the file: the size of the executable it was appended to.
    pub fn header_offset(&self) -> u64 {
        self.header_offset
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    fn index_offset(&self) -> u64 {
        self.header_offset + HEADER_LEN + self.header.manifest_len
    }

    /// The list of entries, read from the index section (the payload is not touched).
    pub fn index(&self) -> Result<Vec<IndexEntry>> {
        let mut file = fs_err::File::open(&self.path)?;
        file.seek(SeekFrom::Start(self.index_offset()))?;
        let mut compressed = vec![0u8; self.header.index_len as usize];
        file.read_exact(&mut compressed)?;
        let mut json = Vec::new();
        zstd::stream::read::Decoder::new(compressed.as_slice())
            .and_then(|mut d| d.read_to_end(&mut json))
            .map_err(|e| Error::corrupt(&self.path, format!("index does not decompress: {e}")))?;
        serde_json::from_slice(&json).map_err(|e| Error::corrupt(&self.path, format!("index is not valid: {e}")))
    }

    /// Hashes the index and payload and compares with the manifest, without extracting.
    pub fn verify(&self) -> Result<()> {
        let mut reader = self.section_reader()?;
        io::copy(&mut reader, &mut io::sink())?;
        self.check_hash(reader.hasher)
    }

    /// Extracts every entry below `dest` (which must exist). Entry paths and link targets are
    /// validated; the content hash is checked as the payload streams through. On error, `dest` may
    /// hold a partial tree: the caller extracts into a temporary directory and discards it.
    pub fn extract_to(&self, dest: &Path) -> Result<Extracted> {
        let mut reader = self.section_reader()?;
        io::copy(&mut (&mut reader).take(self.header.index_len), &mut io::sink())?;
        let corrupt = |e: io::Error| Error::corrupt(&self.path, format!("payload does not decompress: {e}"));
        let mut decoder =
            zstd::stream::read::Decoder::with_buffer(BufReader::new((&mut reader).take(self.header.payload_len)))
                .map_err(corrupt)?;
        let mut stats = Extracted::default();
        {
            let mut archive = tar::Archive::new(&mut decoder);
            archive.set_ignore_zeros(true);
            archive.set_preserve_mtime(false);
            for entry in archive.entries().map_err(corrupt)? {
                let mut entry = entry.map_err(corrupt)?;
                self.unpack_entry(&mut entry, dest, &mut stats)?;
            }
        }
        // Whatever the tar reader left unread still counts toward the hash.
        io::copy(&mut decoder, &mut io::sink()).map_err(corrupt)?;
        drop(decoder);
        io::copy(&mut reader, &mut io::sink())?;
        self.check_hash(reader.hasher)?;
        Ok(stats)
    }

    fn unpack_entry<R: Read>(&self, entry: &mut tar::Entry<R>, dest: &Path, stats: &mut Extracted) -> Result<()> {
        let raw = entry.path_bytes();
        let name = std::str::from_utf8(&raw)
            .map_err(|_| self.unsafe_entry(String::from_utf8_lossy(&raw).into_owned(), "path is not UTF-8"))?
            .trim_end_matches('/')
            .to_owned();
        validate_entry_path(&name).map_err(|why| self.unsafe_entry(name.clone(), why))?;
        let target = dest.join(&name);
        let kind = entry.header().entry_type();
        match kind {
            tar::EntryType::Directory => {
                fs_err::create_dir_all(&target)?;
                return Ok(());
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {}
            tar::EntryType::Symlink => {
                let link = entry
                    .link_name_bytes()
                    .ok_or_else(|| self.unsafe_entry(name.clone(), "symlink without a target"))?;
                let link = std::str::from_utf8(&link)
                    .map_err(|_| self.unsafe_entry(name.clone(), "symlink target is not UTF-8"))?
                    .to_owned();
                if !link_stays_inside(&name, &link) {
                    return Err(self.unsafe_entry(name, "symlink points outside the tree"));
                }
            }
            tar::EntryType::Link => return Err(self.unsafe_entry(name, "hard links are not allowed")),
            _ => return Err(self.unsafe_entry(name, "unsupported entry type")),
        }
        if let Some(parent) = target.parent() {
            fs_err::create_dir_all(parent)?;
        }
        entry.unpack(&target).map_err(|e| io::Error::new(e.kind(), format!("writing {}: {e}", target.display())))?;
        stats.files += 1;
        stats.bytes += entry.header().size().unwrap_or(0);
        Ok(())
    }

    fn unsafe_entry(&self, entry: String, why: &'static str) -> Error {
        Error::UnsafeEntry { path: self.path.clone(), entry, why }
    }

    fn section_reader(&self) -> Result<HashingReader<io::Take<BufReader<fs_err::File>>>> {
        let mut file = fs_err::File::open(&self.path)?;
        file.seek(SeekFrom::Start(self.index_offset()))?;
        let len = self.header.index_len + self.header.payload_len;
        Ok(HashingReader { inner: BufReader::with_capacity(1 << 16, file).take(len), hasher: blake3::Hasher::new() })
    }

    fn check_hash(&self, hasher: blake3::Hasher) -> Result<()> {
        let found = format!("blake3:{}", hasher.finalize().to_hex());
        if found != self.manifest.content_hash {
            return Err(Error::HashMismatch {
                path: self.path.clone(),
                expected: self.manifest.content_hash.clone(),
                found,
            });
        }
        Ok(())
    }
}

/// Whether a symlink at `entry` with target `link` resolves (lexically) inside the tree.
fn link_stays_inside(entry: &str, link: &str) -> bool {
    let link_path = Path::new(link);
    if link.is_empty() || link_path.is_absolute() || link.starts_with('/') {
        return false;
    }
    let mut depth: Vec<&str> = entry.split('/').collect();
    depth.pop();
    for c in link_path.components() {
        match c {
            Component::Normal(p) => depth.push(p.to_str().unwrap_or("")),
            Component::CurDir => {}
            Component::ParentDir => {
                if depth.pop().is_none() {
                    return false;
                }
            }
            Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    true
}

struct HashingReader<R> {
    inner: R,
    hasher: blake3::Hasher,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::link_stays_inside;

    #[test]
    fn links_that_leave_the_tree_are_refused() {
        assert!(link_stays_inside("a/b", "c"));
        assert!(link_stays_inside("a/b", "../c"));
        assert!(!link_stays_inside("a/b", "../../c"));
        assert!(!link_stays_inside("a", "/etc/passwd"));
        assert!(!link_stays_inside("a/b", "x/../../../y"));
    }
}
