//! `auroraview-pack build`: config → plan → collect → frames → overlay → executable.

use crate::cache::{FileHashCache, PackCache};
use crate::config::{self, Config};
use crate::frames;
use crate::report::Reporter;
use crate::{archive, collect, python, stub};
use anyhow::{Context, Result, bail};
use auroraview_overlay::{
    AppInfo, LicenseInfo, Manifest, OverlayParts, PythonInfo, RuntimeFrame, RuntimeInfo, SourceFile, Strategy,
    WindowInfo,
};
use std::path::PathBuf;
use std::time::Instant;

/// Build one executable from auroraview.pack.toml.
#[derive(clap::Args)]
pub struct Args {
    /// The config file.
    #[arg(long, default_value = config::DEFAULT_FILE)]
    config: PathBuf,
    /// Where to write the executable (default: `dist/` beside the config).
    #[arg(long)]
    out_dir: Option<PathBuf>,
    /// Run `[frontend] build` first, in the config's directory.
    #[arg(long)]
    build: bool,
    /// The runtime stub to append to (default: the one built beside this packer).
    #[arg(long)]
    runtime: Option<PathBuf>,
}

pub fn run(args: Args, report: Reporter) -> Result<()> {
    let started = Instant::now();
    let cfg = Config::load(&args.config)?;
    // `--out-dir` wins over `[app] out_dir`; checked before anything is written or run.
    let (out_dir, from) = match (args.out_dir, &cfg.app.out_dir) {
        (Some(d), _) => (std::path::absolute(d)?, collect::OutDirFrom::Flag),
        (None, Some(d)) => (d.clone(), collect::OutDirFrom::Key),
        (None, None) => (cfg.root.join("dist"), collect::OutDirFrom::Default),
    };
    collect::check_out_dir(&cfg, &out_dir, from)?;
    if args.build {
        build_frontend(&cfg, &report)?;
    }
    let strategy = cfg.python.strategy;
    // `system` apps run the machine's Python: any stub will do (the one without Python, below).
    let version = (strategy != Strategy::System).then_some(cfg.python.version.as_str());
    let mut stub = stub::find(args.runtime.as_deref(), version)?;
    // Every strategy but `system` runs Python inside the stub.
    if strategy != Strategy::System && stub.python != cfg.python.version {
        bail!(
            "the runtime stub {} links Python {}, but {} asks for Python {}: a stub runs only the runtime it was built against\nhint: build the stub for {}: `ci/build-stubs {}` (then leave out --runtime), or set `[python] version = \"{}\"`",
            stub.path.display(),
            stub.python,
            cfg.file.display(),
            cfg.python.version,
            cfg.python.version,
            cfg.python.version,
            stub.python
        );
    }
    let gui_library = stub.gui()?;
    // `system` apps carry no Python: the runtime without one is a fraction of the size.
    if strategy == Strategy::System
        && args.runtime.is_none()
        && let Some(lite) = stub.lite()
    {
        report.note(format!("using the runtime without Python: {}", lite.path.display()));
        stub = lite;
    }

    // Inputs that need no Python first, so a bad glob fails before anything slow runs.
    let mut inputs = collect::frontend(&cfg)?;
    inputs.extend(collect::external_bin(&cfg)?);
    inputs.extend(collect::resources(&cfg)?);
    inputs.extend(collect::hooks(&cfg)?);
    if let Some(icon) = &cfg.window.options.icon {
        inputs.push(collect::Input { archive_path: config::ICON_PATH.into(), source: icon.into() });
    }
    let python_files = collect::app_python(&cfg, &out_dir)?;

    let cache = PackCache::open();
    let mut hashes = FileHashCache::load(&cache);
    let runtime_prefix = match &cfg.python.runtime {
        Some(r) if archive::is_archive(r) => Some(archive::unpack(r, &cache, &mut hashes)?),
        other => other.clone(),
    };
    let interp = python::find(&cfg.python.version, runtime_prefix.as_deref())?;
    // The entry point's function, found by parsing its module (never importing it).
    crate::entry::check(&cfg, &interp)?;
    let mut frames = Vec::new();
    let mut runtime_info = None;
    // `pyoxidizer`: Python modules are imported from in-memory tables, not files.
    let in_memory = strategy == Strategy::Pyoxidizer;
    // `standalone` too imports its stdlib from a table (a zip cost every start 3–4 ms in
    // zipimport); its site-packages and app code stay files.
    let stdlib_table = in_memory || strategy == Strategy::Standalone;
    let mut extra = Vec::new();
    // The shared libraries bundled in `runtime/lib/`, which site-packages' ELF files may need too.
    let mut bundled = Vec::new();
    if strategy.bundles_runtime() {
        let rt = frames::runtime(&interp, &cfg.python.stdlib_keep, stdlib_table, &cache, &mut hashes, &report)?;
        let frame = rt.frame;
        // The stub runs first: its own glibc needs count too.
        let glibc_floor =
            crate::sharedlibs::max_version(rt.glibc_floor, crate::sharedlibs::glibc_floor([stub.path.as_path()])?)
                .map(|v| crate::sharedlibs::version_text(&v));
        let size: u64 = frame.index.iter().map(|e| e.size).sum();
        let meta = serde_json::json!({
            "version": interp.version,
            "target": interp.platform,
            "file_count": frame.index.len(),
            "size": size,
            "compressed_size": frame.compressed.len(),
            "shared_libraries": rt.libraries,
            "glibc_floor": glibc_floor,
        });
        extra.push(SourceFile::from_bytes("python_runtime.json", serde_json::to_vec_pretty(&meta)?));
        runtime_info = Some(RuntimeInfo {
            python_version: interp.version.clone(),
            root: frames::RUNTIME_ROOT.into(),
            stdlib: frames::stdlib_rel(&interp.minor),
            stdlib_zip: (!stdlib_table).then(|| frames::stdlib_zip_rel(&interp.minor)),
            target: interp.platform.clone(),
            glibc_floor,
            // A standalone runtime is extracted once and shared by every app built on it.
            frame: (strategy == Strategy::Standalone).then(|| RuntimeFrame {
                offset: frames.iter().map(|f: &auroraview_overlay::Frame| f.compressed.len() as u64).sum(),
                len: frame.compressed.len() as u64,
                hash: format!("blake3:{}", blake3::hash(&frame.compressed).to_hex()),
                files: frame.index.len() as u64,
                bytes: size,
            }),
        });
        frames.push(frame);
        bundled = rt.libraries;
    }
    let (gui_frame, gui) = frames::gui(&gui_library, &cache, &mut hashes)?;
    frames.push(gui_frame);
    if !cfg.python.packages.is_empty() {
        frames.extend(frames::packages(
            &interp,
            &cfg.python.packages,
            in_memory,
            &bundled,
            &cfg.root,
            &cache,
            &mut hashes,
            &report,
        )?);
    }
    let entry_file = format!("python/{}", entry_point_in_overlay(&cfg));
    let keep_entry = in_memory.then_some(entry_file.as_str());
    frames.push(frames::app(inputs, python_files, extra, Some(&interp), keep_entry, &cache)?);
    hashes.save(&cache)?;

    let manifest = manifest_for(&cfg, runtime_info, Some(gui));
    let exe_name = format!("{}{}", cfg.app.name, std::env::consts::EXE_SUFFIX);
    let parts = OverlayParts { manifest, frames, manifest_only: false };
    let (out, manifest) = if strategy == Strategy::Portable {
        write_portable(&stub.path, &out_dir, &cfg.app.name, &exe_name, parts)?
    } else {
        let out = out_dir.join(&exe_name);
        let manifest = auroraview_overlay::write_executable(&stub.path, &out, parts)
            .with_context(|| format!("writing {}", out.display()))?;
        (out, manifest)
    };
    let marker = out_dir.join(collect::OUTPUT_MARKER);
    if !marker.exists() {
        fs_err::write(&marker, "Written by auroraview-pack: packing skips this directory.\n")?;
    }
    let size = if strategy == Strategy::Portable {
        let dir = out.parent().expect("portable executables sit in their directory");
        walkdir::WalkDir::new(dir)
            .into_iter()
            .flatten()
            .filter_map(|e| e.metadata().ok())
            .filter(|m| m.is_file())
            .map(|m| m.len())
            .sum()
    } else {
        fs_err::metadata(&out)?.len()
    };
    if !report.quiet {
        eprintln!(
            "Packed {} {} ({}, {} files) in {:.1} s",
            cfg.app.name,
            cfg.app.version,
            strategy.as_str(),
            manifest.entry_count,
            started.elapsed().as_secs_f64()
        );
    }
    println!("{}\t{}", out.display(), human_size(size));
    Ok(())
}

/// The manifest of `cfg` (its totals and hash are filled in when the overlay is written).
pub fn manifest_for(cfg: &Config, runtime: Option<RuntimeInfo>, gui: Option<String>) -> Manifest {
    Manifest {
        app: AppInfo { name: cfg.app.name.clone(), version: cfg.app.version.clone(), title: cfg.app.title.clone() },
        window: WindowInfo {
            width: cfg.window.width,
            height: cfg.window.height,
            resizable: cfg.window.resizable,
            debug: cfg.window.debug,
            csp: cfg.frontend.csp.clone(),
            options: auroraview_overlay::WindowOptions {
                icon: cfg.window.options.icon.as_ref().map(|_| config::ICON_PATH.to_string()),
                ..cfg.window.options.clone()
            },
        },
        python: PythonInfo {
            entry_point: entry_point_in_overlay(cfg),
            strategy: cfg.python.strategy,
            isolation: cfg.python.isolation,
            version: cfg.python.version.clone(),
            module_search_paths: cfg.python.module_search_paths.clone(),
            filesystem_importer: cfg.python.filesystem_importer,
            interpreter: cfg.python.interpreter.clone(),
            max_restarts: cfg.python.max_restarts,
            heartbeat_timeout_ms: cfg.python.heartbeat_timeout_ms,
            home: cfg.python.home.clone(),
            embedded_fallback: cfg.python.embedded_fallback,
            system_site_packages: cfg.python.system_site_packages,
        },
        env: cfg.env.clone(),
        license: cfg.license.as_ref().map(|l| LicenseInfo {
            kind: l.kind.clone(),
            public_key: l.public_key.clone(),
            expires_at: l.expires_at.clone(),
            grace_period_days: l.grace_period_days,
        }),
        plugins: cfg.plugins.clone(),
        runtime,
        gui,
        content_hash: String::new(),
        entry_count: 0,
        unpacked_size: 0,
        packer_version: env!("CARGO_PKG_VERSION").into(),
    }
}

/// `portable`: `out_dir/<name>/` holds the executable (its overlay carries only the manifest) with
/// the app's tree beside it. Built in a temporary directory and renamed into place.
fn write_portable(
    stub: &std::path::Path,
    out_dir: &std::path::Path,
    name: &str,
    exe_name: &str,
    parts: OverlayParts,
) -> Result<(PathBuf, Manifest)> {
    fs_err::create_dir_all(out_dir)?;
    let staging = tempfile::Builder::new().prefix(".auroraview-portable-").tempdir_in(out_dir)?;
    let full = staging.path().join("full");
    let manifest = auroraview_overlay::write_executable(stub, &full, parts)?;
    let tree = staging.path().join(name);
    fs_err::create_dir_all(&tree)?;
    auroraview_overlay::Overlay::open(&full)?.extract_to(&tree)?;
    fs_err::remove_file(&full)?;
    let exe = tree.join(exe_name);
    let manifest = auroraview_overlay::write_executable(
        stub,
        &exe,
        OverlayParts { manifest, frames: Vec::new(), manifest_only: true },
    )?;
    let dest = out_dir.join(name);
    if dest.exists() {
        fs_err::remove_dir_all(&dest)?;
    }
    fs_err::rename(&tree, &dest)?;
    Ok((dest.join(exe_name), manifest))
}

/// The entry point as the runtime finds it: `module:function`, or a script path below `python/`.
fn entry_point_in_overlay(cfg: &Config) -> String {
    match &cfg.python.entry_point {
        config::EntryPoint::Function => cfg.python.entry_point_text.clone(),
        config::EntryPoint::Script { file } => {
            let canonical = |p: &std::path::Path| fs_err::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
            let file = canonical(file);
            for inc in &cfg.python.include_paths {
                if let Ok(rel) = file.strip_prefix(canonical(inc)) {
                    return rel.to_string_lossy().replace('\\', "/");
                }
            }
            file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
        }
    }
}

fn build_frontend(cfg: &Config, report: &Reporter) -> Result<()> {
    let Some(cmd) = &cfg.frontend.build else {
        bail!(
            "--build given, but {} has no `[frontend] build` command\nhint: add e.g. `build = \"npm run build\"` under `[frontend]`",
            cfg.file.display()
        );
    };
    let step = report.step_with_output(format!("Building the frontend: {cmd}"));
    let mut command = shell(cmd);
    command.current_dir(&cfg.root);
    // `-q`: the command's output is kept, and shown only when it fails.
    let (status, output) = if report.quiet {
        let out = command.stdin(std::process::Stdio::null()).output().with_context(|| format!("running `{cmd}`"))?;
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        (out.status, text)
    } else {
        (command.status().with_context(|| format!("running `{cmd}`"))?, String::new())
    };
    if !status.success() {
        let output = if output.trim().is_empty() { String::new() } else { format!(":\n{}", output.trim_end()) };
        bail!(
            "`[frontend] build` = `{cmd}` failed ({status}) in {}{output}\nhint: run `{cmd}` there to see why; `build` without --build packs `frontend.path` as it is",
            cfg.root.display()
        );
    }
    step.finish();
    Ok(())
}

fn shell(cmd: &str) -> std::process::Command {
    if cfg!(windows) {
        let mut c = std::process::Command::new("cmd");
        c.args(["/C", cmd]);
        c
    } else {
        let mut c = std::process::Command::new("sh");
        c.args(["-c", cmd]);
        c
    }
}

pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{v:.1} {}", UNITS[unit]) }
}
