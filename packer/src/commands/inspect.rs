//! `auroraview-pack inspect`: the manifest and the entry list, without extracting anything.

use crate::commands::build::human_size;
use anyhow::Result;
use auroraview_overlay::Overlay;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;

/// Show what a packed executable holds.
#[derive(clap::Args)]
pub struct Args {
    /// The packed executable.
    exe: PathBuf,
    /// Print JSON (`{"manifest": ..., "entries": [...]}`) instead of a listing.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<()> {
    let overlay = Overlay::open(&args.exe)?;
    let entries = overlay.index()?;
    let m = overlay.manifest();
    if args.json {
        let out = serde_json::json!({ "manifest": m, "entries": entries, "stub_size": overlay.header_offset() });
        let mut text = serde_json::to_string_pretty(&out)?;
        text.push('\n');
        return emit(&text);
    }
    let mut o = String::new();
    writeln!(o, "app:        {} {} ({})", m.app.name, m.app.version, m.app.title)?;
    writeln!(
        o,
        "window:     {}x{} resizable={} debug={}",
        m.window.width, m.window.height, m.window.resizable, m.window.debug
    )?;
    if !m.window.options.is_default() {
        let options = serde_json::to_string(&m.window.options)?;
        writeln!(o, "options:    {options}")?;
    }
    if let Some(icon) = &m.window.options.icon {
        writeln!(o, "icon:       {icon}")?;
    }
    if let Some(csp) = &m.window.csp {
        writeln!(o, "csp:        {csp}")?;
    }
    writeln!(o, "strategy:   {} (isolation: {:?})", m.python.strategy.as_str(), m.python.isolation)?;
    writeln!(o, "entry:      {}", m.python.entry_point)?;
    writeln!(o, "python:     {}", m.runtime.as_ref().map(|r| r.python_version.as_str()).unwrap_or("none bundled"))?;
    if let Some(f) = m.runtime.as_ref().and_then(|r| r.frame.as_ref()) {
        writeln!(
            o,
            "runtime:    shared between apps, {} files ({:.1} MiB packed), {}",
            f.files,
            f.len as f64 / 1048576.0,
            f.hash
        )?;
    }
    if let Some(floor) = m.runtime.as_ref().and_then(|r| r.glibc_floor.as_deref()) {
        writeln!(o, "glibc:      {floor} or newer")?;
    }
    if m.plugins.grants.is_empty() {
        writeln!(o, "plugins:    none granted")?;
    } else {
        for (key, grant) in &m.plugins.grants {
            let grant = match grant {
                auroraview_overlay::plugins::Grant::All(b) => b.to_string(),
                auroraview_overlay::plugins::Grant::Scopes(s) => s.join(", "),
            };
            writeln!(o, "plugins:    {key} = {grant}")?;
        }
        let python = match m.plugins.python {
            auroraview_overlay::plugins::PythonAccess::Scoped => "scoped",
            auroraview_overlay::plugins::PythonAccess::Trusted => "trusted",
        };
        writeln!(o, "            Python's calls: {python}")?;
    }
    writeln!(o, "hash:       {}", m.content_hash)?;
    writeln!(o, "entries:    {} ({} unpacked)", m.entry_count, human_size(m.unpacked_size))?;
    writeln!(o, "stub:       {}", human_size(overlay.header_offset()))?;
    writeln!(o)?;
    for e in entries {
        writeln!(o, "{:>10}  {}", e.size, e.path)?;
    }
    emit(&o)
}

/// Writes to stdout; a closed pipe (`inspect EXE | head`) is not an error.
fn emit(text: &str) -> Result<()> {
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}
