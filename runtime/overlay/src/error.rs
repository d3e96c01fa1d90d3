use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can be wrong with an overlay. Each message names the file it concerns.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: no AuroraView overlay found (the file is not a packed executable, or it is truncated)", path.display())]
    NotFound { path: PathBuf },
    #[error("{}: overlay format version {found} is not supported (this build reads version {expected}); repack the app with a matching auroraview-pack", path.display())]
    Version { path: PathBuf, found: u32, expected: u32 },
    #[error("{}: overlay is corrupt: {what}", path.display())]
    Corrupt { path: PathBuf, what: String },
    #[error("{}: payload hash mismatch (expected {expected}, found {found}); the file is damaged, download or build it again", path.display())]
    HashMismatch { path: PathBuf, expected: String, found: String },
    #[error("{}: unsafe entry `{entry}` in overlay: {why}", path.display())]
    UnsafeEntry { path: PathBuf, entry: String, why: &'static str },
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl Error {
    pub(crate) fn corrupt(path: &std::path::Path, what: impl Into<String>) -> Self {
        Error::Corrupt { path: path.to_path_buf(), what: what.into() }
    }
}
