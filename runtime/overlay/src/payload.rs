//! Building the payload: deterministic tar streams, each compressed as one zstd frame. Frames
//! concatenate into one zstd stream and their tars into one tar stream, so a frame whose inputs did
//! not change (the runtime, site-packages) can be reused by the packer without recompression.

use crate::manifest::{EntryKind, IndexEntry};
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};

/// A file to put in the payload.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Path inside the overlay, `/`-separated, relative.
    pub archive_path: String,
    pub content: Content,
    pub executable: bool,
}

#[derive(Debug, Clone)]
pub enum Content {
    Path(PathBuf),
    Bytes(Vec<u8>),
}

impl SourceFile {
    pub fn from_path(archive_path: impl Into<String>, path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        let executable = is_executable(&path);
        SourceFile { archive_path: archive_path.into(), content: Content::Path(path), executable }
    }

    pub fn from_bytes(archive_path: impl Into<String>, bytes: Vec<u8>) -> Self {
        SourceFile { archive_path: archive_path.into(), content: Content::Bytes(bytes), executable: false }
    }
}

/// Whether the file has an execute permission bit (always false where there are none).
#[cfg(unix)]
pub fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).map(|m| m.permissions().mode() & 0o111 != 0).unwrap_or(false)
}

#[cfg(not(unix))]
pub fn is_executable(_: &Path) -> bool {
    false
}

/// One compressed frame and the index of what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub compressed: Vec<u8>,
    pub index: Vec<IndexEntry>,
}

/// Builds one frame. Entries are sorted by path and carry no mtimes, owners or source permissions
/// beyond the executable bit, so the same inputs always give the same bytes.
pub struct FrameBuilder {
    files: Vec<SourceFile>,
    level: i32,
}

impl FrameBuilder {
    pub fn new(level: i32) -> Self {
        FrameBuilder { files: Vec::new(), level }
    }

    pub fn add(&mut self, file: SourceFile) {
        self.files.push(file);
    }

    pub fn extend(&mut self, files: impl IntoIterator<Item = SourceFile>) {
        self.files.extend(files);
    }

    pub fn finish(mut self) -> io::Result<Frame> {
        self.files.sort_by(|a, b| a.archive_path.cmp(&b.archive_path));
        if let Some(w) = self.files.windows(2).find(|w| w[0].archive_path == w[1].archive_path) {
            return Err(io::Error::other(format!("two inputs map to the same path `{}`", w[0].archive_path)));
        }
        let mut encoder = zstd::stream::Encoder::new(Vec::new(), self.level)?;
        encoder.include_checksum(true)?;
        // A fixed worker count keeps the output independent of the machine's core count.
        encoder.multithread(2)?;
        encoder.long_distance_matching(true)?;
        let mut tar = tar::Builder::new(encoder);
        let mut index = Vec::with_capacity(self.files.len());
        for file in &self.files {
            if let Err(why) = validate_entry_path(&file.archive_path) {
                return Err(io::Error::other(format!("cannot pack `{}`: {why}", file.archive_path)));
            }
            let mut header = tar::Header::new_gnu();
            header.set_mode(if file.executable { 0o755 } else { 0o644 });
            header.set_mtime(0);
            header.set_uid(0);
            header.set_gid(0);
            header.set_entry_type(tar::EntryType::Regular);
            // Files are streamed through a fixed buffer: any size packs in bounded memory.
            let size = match &file.content {
                Content::Bytes(bytes) => {
                    header.set_size(bytes.len() as u64);
                    tar.append_data(&mut header, &file.archive_path, bytes.as_slice())?;
                    bytes.len() as u64
                }
                Content::Path(path) => {
                    let (source, size) = open_regular(path)?;
                    header.set_size(size);
                    let mut reader = Exact { inner: source, left: size, path };
                    tar.append_data(&mut header, &file.archive_path, &mut reader)
                        .map_err(|e| io::Error::new(e.kind(), format!("packing {}: {e}", path.display())))?;
                    size
                }
            };
            index.push(IndexEntry {
                path: file.archive_path.clone(),
                size,
                kind: if file.executable { EntryKind::Executable } else { EntryKind::File },
            });
        }
        let encoder = tar.into_inner()?;
        let mut compressed = encoder.finish()?;
        compressed.flush()?;
        Ok(Frame { compressed, index })
    }
}

/// Opens `path` for reading if it is a regular file (links followed), with its size. The type is
/// checked before opening (opening a FIFO would block, a device would never end) and again on
/// the open file, so nothing swapped in between is read.
pub fn open_regular(path: &Path) -> io::Result<(fs_err::File, u64)> {
    let before = fs_err::metadata(path)?;
    if !before.is_file() {
        return Err(io::Error::other(format!(
            "{} is not a regular file: only regular files are packed",
            path.display()
        )));
    }
    let file = fs_err::File::open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() || !same_file(&before, &meta) {
        return Err(io::Error::other(format!("{} changed while it was being packed", path.display())));
    }
    Ok((file, meta.len()))
}

#[cfg(unix)]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    (a.dev(), a.ino()) == (b.dev(), b.ino())
}

#[cfg(not(unix))]
fn same_file(_: &std::fs::Metadata, _: &std::fs::Metadata) -> bool {
    true
}

/// Yields exactly `left` bytes of `inner`: a file that grew is cut at the size in its tar header,
/// one that shrank is an error (the tar stream would be corrupt).
struct Exact<'a, R> {
    inner: R,
    left: u64,
    path: &'a Path,
}

impl<R: Read> Read for Exact<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = buf.len().min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{} shrank while it was being packed", self.path.display()),
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// Rejects paths that could land outside the extraction directory or are not portable.
pub fn validate_entry_path(path: &str) -> Result<(), &'static str> {
    if path.is_empty() {
        return Err("empty path");
    }
    if path.starts_with('/') || path.starts_with('\\') || Path::new(path).is_absolute() {
        return Err("absolute path");
    }
    if path.contains('\\') || path.contains('\0') {
        return Err("backslash or NUL in path");
    }
    for part in path.split('/') {
        match part {
            "" | "." => return Err("empty or `.` path component"),
            ".." => return Err("`..` path component"),
            _ => {}
        }
    }
    for c in Path::new(path).components() {
        if !matches!(c, Component::Normal(_)) {
            return Err("path is not a plain relative path");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_fifo_or_device_is_refused_without_reading() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        for path in [fifo.as_path(), Path::new("/dev/zero")] {
            let mut b = FrameBuilder::new(3);
            b.add(SourceFile::from_path("x", path));
            let err = b.finish().unwrap_err().to_string();
            assert!(err.contains("not a regular file") && err.contains(&path.display().to_string()), "{err}");
        }
    }

    #[test]
    fn a_file_that_changes_size_while_packed() {
        let mut reader = Exact { inner: &b"abc"[..], left: 5, path: Path::new("f") };
        let err = reader.read_to_end(&mut Vec::new()).unwrap_err();
        assert!(err.to_string().contains("shrank"), "{err}");
        let mut reader = Exact { inner: &b"abcdef"[..], left: 4, path: Path::new("f") };
        let mut out = Vec::new();
        reader.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"abcd");
    }
}
