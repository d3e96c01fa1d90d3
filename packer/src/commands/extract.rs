//! `auroraview-pack extract`: writes the overlay's tree to a directory, validated and hash-checked.

use crate::report::Reporter;
use anyhow::{Context, Result};
use auroraview_overlay::Overlay;
use std::path::PathBuf;

/// Write the files a packed executable carries to a directory.
#[derive(clap::Args)]
pub struct Args {
    /// The packed executable.
    exe: PathBuf,
    /// Where to write (created if missing; must be empty if it exists).
    dir: PathBuf,
}

pub fn run(args: Args, report: Reporter) -> Result<()> {
    let overlay = Overlay::open(&args.exe)?;
    if overlay.manifest().python.strategy == auroraview_overlay::Strategy::Portable {
        anyhow::bail!(
            "{} is a portable app: its files are the directory beside it, not inside it\nhint: copy {} instead",
            args.exe.display(),
            args.exe.parent().map(|p| p.display().to_string()).unwrap_or_default()
        );
    }
    if args.dir.exists() && fs_err::read_dir(&args.dir)?.next().is_some() {
        anyhow::bail!("{} is not empty\nhint: extract into a new or empty directory", args.dir.display());
    }
    let parent = std::path::absolute(&args.dir)?;
    let parent = parent.parent().context("destination has no parent")?;
    fs_err::create_dir_all(parent)?;
    // Extract beside the destination and rename, so a failure leaves nothing behind.
    let tmp = tempfile::Builder::new().prefix(".auroraview-extract-").tempdir_in(parent)?;
    let stats = overlay.extract_to(tmp.path())?;
    if args.dir.exists() {
        fs_err::remove_dir(&args.dir)?;
    }
    fs_err::rename(tmp.keep(), &args.dir)?;
    if !report.quiet {
        eprintln!("Extracted {} files ({} bytes) to {}", stats.files, stats.bytes, args.dir.display());
    }
    Ok(())
}
