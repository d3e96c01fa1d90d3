//! `auroraview-pack migrate`: rewrites a config in the reference AuroraView's format into ours,
//! keeping comments where it can. It refuses (naming the key) what does not map, checks that the
//! result loads, and overwrites nothing without `--in-place`.

use crate::config::{self, Config, ConfigError, Source};
use crate::dialect;
use anyhow::{Context, Result, bail};
use std::io::Write as _;
use std::path::PathBuf;

/// Rewrite a config in the reference AuroraView's format into this packer's format.
#[derive(clap::Args)]
pub struct Args {
    /// The config file to read.
    #[arg(long, default_value = config::DEFAULT_FILE)]
    config: PathBuf,
    /// Write the result to this new file (it must not exist) instead of stdout.
    #[arg(long, conflicts_with = "in_place")]
    out: Option<PathBuf>,
    /// Replace the config file with the result.
    #[arg(long)]
    in_place: bool,
}

pub fn run(args: Args) -> Result<()> {
    let text = fs_err::read_to_string(&args.config)?;
    let file = std::path::absolute(&args.config).unwrap_or_else(|_| args.config.clone());
    if !dialect::is_reference(&text) {
        bail!(
            "{} is not in the reference AuroraView's format (it has no `[package]` or `[backend]` table)\nhint: it is read as it is; nothing to migrate",
            file.display()
        );
    }
    let src = Source { file: &file, text: &text };
    let migration = dialect::translate(&src)?;
    // The result must load, at the place it is written: its paths are relative to it.
    Config::parse(&file, &migration.text).map_err(|e| migration.remap(&src, e))?;
    if let Some(out) = &args.out {
        let out_abs = std::path::absolute(out).unwrap_or_else(|_| out.clone());
        Config::parse(&out_abs, &migration.text).map_err(|e: ConfigError| {
            anyhow::anyhow!(
                "the migrated config does not load at {}: {e}\nhint: its paths are relative to the config file; write it beside {}",
                out_abs.display(),
                file.display()
            )
        })?;
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).open(out).with_context(|| {
            format!(
                "writing {} (an existing file is never overwritten; use --in-place for the config itself)",
                out.display()
            )
        })?;
        f.write_all(migration.text.as_bytes())?;
        eprintln!("wrote {}", out.display());
    } else if args.in_place {
        let dir = file.parent().map(PathBuf::from).unwrap_or_default();
        let mut tmp = tempfile::NamedTempFile::new_in(&dir)?;
        tmp.write_all(migration.text.as_bytes())?;
        if let Ok(meta) = std::fs::metadata(&file) {
            let _ = std::fs::set_permissions(tmp.path(), meta.permissions());
        }
        tmp.persist(&file).with_context(|| format!("replacing {}", file.display()))?;
        eprintln!("rewrote {}", file.display());
    } else {
        match std::io::stdout().lock().write_all(migration.text.as_bytes()) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            other => other?,
        }
    }
    Ok(())
}
