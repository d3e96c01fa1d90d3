//! Reading an overlay: the manifest without touching the payload, the index, and a validating
//! extraction that checks the content hash while it unpacks.

use crate::format::{HEADER_LEN, Header, SCAN_WINDOW, TRAILER_LEN, Trailer};
use crate::manifest::{IndexEntry, Manifest, RuntimeFrame};
use crate::payload::validate_entry_path;
use crate::{Error, Result};
use std::collections::HashSet;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// The decompressed index at most, whatever the manifest says.
const MAX_INDEX: u64 = 256 << 20;

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

/// Where [`Overlay::extract_sharing`] puts the runtime's frame.
#[derive(Clone, Copy)]
pub enum SharedRuntime<'a> {
    /// With everything else, below the app's tree (as `runtime/`).
    InTree,
    /// Into this directory (a shared runtime being made).
    Into(&'a Path),
    /// Nowhere: the shared runtime is already there.
    Present,
}

/// The entries of a runtime frame all start with this.
const RUNTIME_PREFIX: &str = "runtime/";

/// What an extraction has written so far, and how many entries it may still write.
struct Progress {
    stats: Extracted,
    entries_left: u64,
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
        if *blake3::hash(&manifest_bytes).as_bytes() != header.manifest_hash {
            return Err(Error::corrupt(path, "the manifest does not match its hash (it was changed after packing)"));
        }
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
        // The manifest says how many entries there are; a path is at most a few KiB.
        let limit = self.manifest.entry_count.saturating_add(1).saturating_mul(8 << 10).min(MAX_INDEX);
        let mut json = Vec::new();
        zstd::stream::read::Decoder::new(compressed.as_slice())
            .and_then(|d| d.take(limit + 1).read_to_end(&mut json))
            .map_err(|e| Error::corrupt(&self.path, format!("index does not decompress: {e}")))?;
        if json.len() as u64 > limit {
            return Err(Error::corrupt(&self.path, format!("the index is larger than {limit} bytes")));
        }
        serde_json::from_slice(&json).map_err(|e| Error::corrupt(&self.path, format!("index is not valid: {e}")))
    }

    /// Hashes the index and payload and compares with the manifest, without extracting.
    pub fn verify(&self) -> Result<()> {
        let mut reader = self.section_reader()?;
        io::copy(&mut reader, &mut io::sink())?;
        self.check_hash(reader.hasher)
    }

    /// Extracts every entry below `dest` (which must exist), writing nothing outside it. The overlay
    /// holds regular files and directories only: links of any kind are refused, files are created
    /// new (an existing file or link in the way is an error, never followed), every directory on
    /// the way is checked to be a real directory, and modes are 0644/0755 whatever the umask. What
    /// is written is bounded by the manifest's entry count and unpacked size. The content hash is
    /// checked as the payload streams through. On error, `dest` may hold a partial tree: the caller
    /// extracts into a temporary directory and discards it.
    pub fn extract_to(&self, dest: &Path) -> Result<Extracted> {
        self.extract_sharing(dest, SharedRuntime::InTree)
    }

    /// [`Overlay::extract_to`], with the runtime's frame (`manifest.runtime.frame`) unpacked into
    /// `runtime` instead (its entries without their `runtime/` prefix, checked the same way), or
    /// not unpacked at all when that shared runtime is already extracted. Either way the frame's
    /// compressed bytes are hashed as they are read and must match the manifest's frame hash, and
    /// the whole overlay's content hash is checked as before. Without a runtime frame in the
    /// manifest, everything goes below `dest`.
    pub fn extract_sharing(&self, dest: &Path, runtime: SharedRuntime) -> Result<Extracted> {
        let frame = match runtime {
            SharedRuntime::InTree => None,
            _ => self.runtime_frame()?,
        };
        let mut reader = self.section_reader()?;
        io::copy(&mut (&mut reader).take(self.header.index_len), &mut io::sink())?;
        let mut state = Progress {
            stats: Extracted::default(),
            entries_left: self.manifest.entry_count.saturating_mul(2).saturating_add(16),
        };
        let (before, after) = match &frame {
            Some(f) => (f.offset, self.header.payload_len - f.offset - f.len),
            None => (self.header.payload_len, 0),
        };
        self.extract_region(&mut reader, before, dest, None, &mut state)?;
        if let Some(f) = &frame {
            let mut region = HashingReader { inner: (&mut reader).take(f.len), hasher: blake3::Hasher::new() };
            match runtime {
                SharedRuntime::Into(shared) => {
                    let files = state.stats.files;
                    self.extract_region(&mut region, f.len, shared, Some(RUNTIME_PREFIX), &mut state)?;
                    if state.stats.files - files != f.files {
                        return Err(Error::corrupt(
                            &self.path,
                            "the runtime frame holds other files than the manifest says",
                        ));
                    }
                }
                _ => {
                    io::copy(&mut region, &mut io::sink())?;
                    state.stats.files += f.files;
                    state.stats.bytes += f.bytes;
                }
            }
            let found = format!("blake3:{}", region.hasher.finalize().to_hex());
            if found != f.hash {
                return Err(Error::HashMismatch { path: self.path.clone(), expected: f.hash.clone(), found });
            }
            self.extract_region(&mut reader, after, dest, None, &mut state)?;
        }
        let stats = state.stats;
        if stats.files != self.manifest.entry_count || stats.bytes != self.manifest.unpacked_size {
            return Err(Error::corrupt(
                &self.path,
                format!(
                    "the payload holds {} files of {} bytes, the manifest says {} of {}",
                    stats.files, stats.bytes, self.manifest.entry_count, self.manifest.unpacked_size
                ),
            ));
        }
        io::copy(&mut reader, &mut io::sink())?;
        self.check_hash(reader.hasher)?;
        Ok(stats)
    }

    /// The manifest's runtime frame, checked to lie inside the payload and to hold no more than
    /// the whole overlay does; `None` if the manifest has none.
    pub fn runtime_frame(&self) -> Result<Option<RuntimeFrame>> {
        let Some(f) = self.manifest.runtime.as_ref().and_then(|r| r.frame.clone()) else { return Ok(None) };
        let fits = f.offset.checked_add(f.len).is_some_and(|end| end <= self.header.payload_len)
            && f.files <= self.manifest.entry_count
            && f.bytes <= self.manifest.unpacked_size
            && f.hash
                .strip_prefix("blake3:")
                .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()));
        if !fits {
            return Err(Error::corrupt(&self.path, "the manifest's runtime frame does not fit the payload"));
        }
        Ok(Some(f))
    }

    /// Unpacks `len` compressed bytes of `reader` (whole zstd frames, each a tar stream) below
    /// `dest`; with `strip`, every entry must start with it and lands without it.
    fn extract_region<R: Read>(
        &self,
        reader: &mut R,
        len: u64,
        dest: &Path,
        strip: Option<&str>,
        state: &mut Progress,
    ) -> Result<()> {
        if len == 0 {
            return Ok(());
        }
        let corrupt = |e: io::Error| Error::corrupt(&self.path, format!("payload does not decompress: {e}"));
        let mut region = reader.take(len);
        let mut decoder = zstd::stream::read::Decoder::with_buffer(BufReader::new(&mut region)).map_err(corrupt)?;
        let (stats, entries_left) = (state.stats, state.entries_left);
        let progress = std::thread::scope(|scope| -> Result<Progress> {
            let mut writer = TreeWriter {
                overlay: self,
                dest,
                strip,
                dirs: HashSet::new(),
                stats,
                entries_left,
                // A small tree is written faster than threads start.
                files: (self.manifest.entry_count >= PARALLEL_FROM).then(|| FileWriters::start(scope)),
            };
            let mut archive = tar::Archive::new(&mut decoder);
            archive.set_ignore_zeros(true);
            let read = (|| -> Result<()> {
                for entry in archive.entries().map_err(corrupt)? {
                    let mut entry = entry.map_err(corrupt)?;
                    writer.entry(&mut entry)?;
                }
                Ok(())
            })();
            let written = writer.files.as_mut().map_or(Ok(()), FileWriters::finish);
            read?;
            written?;
            Ok(Progress { stats: writer.stats, entries_left: writer.entries_left })
        })?;
        *state = progress;
        // Whatever the tar reader left unread still counts toward the hashes.
        io::copy(&mut decoder, &mut io::sink()).map_err(corrupt)?;
        drop(decoder);
        io::copy(&mut region, &mut io::sink())?;
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

/// Files up to this size are handed to the writer threads whole; larger ones are written as they
/// are read, so memory stays bounded by [`QUEUED`] of these.
const HANDED_MAX: u64 = 1 << 20;
/// Trees of fewer files are written on the reading thread.
const PARALLEL_FROM: u64 = 64;
/// Files waiting for a writer thread at most.
const QUEUED: usize = 32;
/// Writer threads: file creation mostly waits on the disk (on ext4 it can take hundreds of
/// microseconds a file), so a few run even on a small machine.
const WRITERS: usize = 4;

struct Job {
    path: PathBuf,
    mode: u32,
    bytes: Vec<u8>,
}

/// Threads that create and write files while the payload is decompressed on the caller's thread.
struct FileWriters<'scope> {
    queue: Option<std::sync::mpsc::SyncSender<Job>>,
    threads: Vec<std::thread::ScopedJoinHandle<'scope, io::Result<()>>>,
}

impl<'scope> FileWriters<'scope> {
    fn start<'env>(scope: &'scope std::thread::Scope<'scope, 'env>) -> Self {
        let (queue, jobs) = std::sync::mpsc::sync_channel::<Job>(QUEUED);
        let jobs = std::sync::Arc::new(std::sync::Mutex::new(jobs));
        let threads = (0..WRITERS)
            .map(|_| {
                let jobs = jobs.clone();
                scope.spawn(move || -> io::Result<()> {
                    loop {
                        let job = jobs.lock().unwrap_or_else(|e| e.into_inner()).recv();
                        let Ok(job) = job else { return Ok(()) };
                        let mut file = create_new(&job.path, job.mode)?;
                        io::Write::write_all(&mut file, &job.bytes)
                            .map_err(|e| io::Error::new(e.kind(), format!("writing {}: {e}", job.path.display())))?;
                    }
                })
            })
            .collect();
        FileWriters { queue: Some(queue), threads }
    }

    /// Queues a file; fails if a writer has stopped on an error (which `finish` reports).
    fn write(&self, job: Job) -> bool {
        self.queue.as_ref().is_some_and(|q| q.send(job).is_ok())
    }

    /// Waits for every queued file; the first error any writer met.
    fn finish(&mut self) -> io::Result<()> {
        self.queue = None;
        let mut first = Ok(());
        for t in self.threads.drain(..) {
            let r = t.join().unwrap_or_else(|_| Err(io::Error::other("a file writer panicked")));
            if first.is_ok() {
                first = r;
            }
        }
        first
    }
}

/// Writes one extraction's entries below `dest`.
struct TreeWriter<'a, 'scope> {
    overlay: &'a Overlay,
    dest: &'a Path,
    /// A prefix every entry must have, removed from its path (a shared runtime's `runtime/`).
    strip: Option<&'a str>,
    /// Directories below `dest` known to be real directories (created here or checked).
    dirs: HashSet<PathBuf>,
    stats: Extracted,
    /// Entries (files and directories) still allowed.
    entries_left: u64,
    files: Option<FileWriters<'scope>>,
}

impl TreeWriter<'_, '_> {
    fn entry<R: Read>(&mut self, entry: &mut tar::Entry<R>) -> Result<()> {
        let o = self.overlay;
        let raw = entry.path_bytes();
        let name = std::str::from_utf8(&raw)
            .map_err(|_| o.unsafe_entry(String::from_utf8_lossy(&raw).into_owned(), "path is not UTF-8"))?
            .trim_end_matches('/')
            .to_owned();
        validate_entry_path(&name).map_err(|why| o.unsafe_entry(name.clone(), why))?;
        let name = match self.strip {
            None => name,
            Some(prefix) => match name.strip_prefix(prefix) {
                Some(rest) if !rest.is_empty() => rest.to_owned(),
                _ if name == prefix.trim_end_matches('/') => return Ok(()),
                _ => return Err(o.unsafe_entry(name, "an entry of the runtime frame lies outside the runtime")),
            },
        };
        if self.entries_left == 0 {
            return Err(Error::corrupt(&o.path, "the payload holds more entries than the manifest says"));
        }
        self.entries_left -= 1;
        let rel = Path::new(&name);
        match entry.header().entry_type() {
            tar::EntryType::Directory => return self.directory(rel),
            tar::EntryType::Regular | tar::EntryType::Continuous => {}
            tar::EntryType::Symlink => return Err(o.unsafe_entry(name, "links are not allowed")),
            tar::EntryType::Link => return Err(o.unsafe_entry(name, "hard links are not allowed")),
            _ => return Err(o.unsafe_entry(name, "unsupported entry type")),
        }
        if let Some(parent) = rel.parent().filter(|p| !p.as_os_str().is_empty()) {
            self.directory(parent)?;
        }
        let size = entry.header().size().map_err(|e| Error::corrupt(&o.path, format!("entry `{name}`: {e}")))?;
        let budget = o.manifest.unpacked_size.saturating_sub(self.stats.bytes);
        if size > budget {
            return Err(Error::corrupt(&o.path, format!("entry `{name}` is larger than the manifest's unpacked size")));
        }
        let executable = entry.header().mode().map(|m| m & 0o111 != 0).unwrap_or(false);
        let target = self.dest.join(rel);
        let mode = if executable { 0o755 } else { 0o644 };
        let truncated = || Error::corrupt(&o.path, format!("entry `{name}` is truncated"));
        if let Some(files) = self.files.as_ref().filter(|_| size <= HANDED_MAX) {
            let mut bytes = Vec::with_capacity(size as usize);
            entry.take(size).read_to_end(&mut bytes).map_err(|_| truncated())?;
            if bytes.len() as u64 != size {
                return Err(truncated());
            }
            if !files.write(Job { path: target, mode, bytes }) {
                // A writer stopped on an error; `finish` reports it.
                return Ok(());
            }
        } else {
            let mut file = create_new(&target, mode)?;
            let written = io::copy(&mut entry.take(size), &mut file)
                .map_err(|e| io::Error::new(e.kind(), format!("writing {}: {e}", target.display())))?;
            if written != size {
                return Err(truncated());
            }
        }
        self.stats.files += 1;
        self.stats.bytes += size;
        Ok(())
    }

    /// Makes sure `rel` and each directory above it below `dest` is a real directory, creating the
    /// missing ones (0755 whatever the umask); a file or link in the way is an error.
    fn directory(&mut self, rel: &Path) -> Result<()> {
        let mut at = PathBuf::new();
        for part in rel.components() {
            at.push(part);
            if self.dirs.contains(&at) {
                continue;
            }
            let path = self.dest.join(&at);
            match fs_err::symlink_metadata(&path) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => {
                    return Err(self.overlay.unsafe_entry(
                        at.display().to_string(),
                        "a file or link is in the way of a directory of the tree",
                    ));
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => create_dir(&path)?,
                Err(e) => return Err(e.into()),
            }
            self.dirs.insert(at.clone());
        }
        Ok(())
    }
}

#[cfg(unix)]
fn create_dir(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .mode(0o755)
        .create(path)
        .map_err(|e| io::Error::new(e.kind(), format!("creating {}: {e}", path.display())))?;
    // The umask may have taken bits away, never added them; set exactly.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
}

#[cfg(not(unix))]
fn create_dir(path: &Path) -> io::Result<()> {
    fs_err::create_dir(path)
}

/// Creates `path` as a new file with `mode`. `create_new` (`O_CREAT | O_EXCL`) never opens an
/// existing file and never follows a link left at `path`: it fails instead.
#[cfg_attr(not(unix), allow(unused_variables))]
fn create_new(path: &Path, mode: u32) -> io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    let file = options.open(path).map_err(|e| {
        let what = if e.kind() == io::ErrorKind::AlreadyExists { " (a file or link is already there)" } else { "" };
        io::Error::new(e.kind(), format!("creating {}{what}: {e}", path.display()))
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(mode))?;
    }
    Ok(file)
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
