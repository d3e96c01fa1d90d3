//! `[python] runtime` given as a python-build-standalone archive (`.tar.gz`, `.tgz`, `.tar.zst`):
//! unpacked once into the pack cache, keyed by the archive's content, and used as an install prefix.

use crate::cache::{FileHashCache, PackCache};
use anyhow::{Context, Result, bail};
use std::io::Read;
use std::path::{Path, PathBuf};

pub fn is_archive(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    path.is_file() && [".tar.gz", ".tgz", ".tar.zst", ".tar.zstd"].iter().any(|ext| name.ends_with(ext))
}

/// The directory the archive unpacks to (unpacking it the first time).
pub fn unpack(archive: &Path, cache: &PackCache, hashes: &mut FileHashCache) -> Result<PathBuf> {
    let hash = hashes.hash(archive)?;
    let dest = cache.dir("runtimes").join(&hash[..32]);
    if dest.join(".complete").is_file() {
        return Ok(dest);
    }
    let tmp = cache.temp_dir("runtime-archive-")?;
    let file = fs_err::File::open(archive)?;
    let name = archive.to_string_lossy();
    let reader: Box<dyn Read> = if name.ends_with(".gz") || name.ends_with(".tgz") {
        Box::new(flate2::read::GzDecoder::new(file))
    } else {
        Box::new(zstd::stream::read::Decoder::new(file)?)
    };
    let mut tar = tar::Archive::new(reader);
    for entry in tar.entries().with_context(|| format!("reading {}", archive.display()))? {
        let mut entry = entry.with_context(|| format!("reading {}", archive.display()))?;
        // `unpack_in` refuses entries that would land outside the directory.
        if !entry.unpack_in(tmp.path()).with_context(|| format!("unpacking {}", archive.display()))? {
            bail!("{}: entry {:?} would land outside the archive's directory", archive.display(), entry.path()?);
        }
    }
    fs_err::write(tmp.path().join(".complete"), "")?;
    if dest.exists() {
        fs_err::remove_dir_all(&dest)?;
    }
    fs_err::create_dir_all(dest.parent().expect("has parent"))?;
    fs_err::rename(tmp.keep(), &dest)?;
    Ok(dest)
}
