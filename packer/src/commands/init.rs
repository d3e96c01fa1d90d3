//! `auroraview-pack init`: writes a small app that packs and runs as it is, from a template in
//! `packer/templates/<name>/` (`{{name}}` and `{{title}}` filled in) plus the bridge's typings.

use crate::config::{self, Config};
use crate::report::Reporter;
use anyhow::{Context, Result, bail};
use include_dir::{Dir, include_dir};
use std::path::{Path, PathBuf};

static TEMPLATES: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/templates");

/// The typings of `window.auroraview`, written beside the page's code.
const TYPINGS: &str = include_str!("../../../python/auroraview/auroraview.d.ts");

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Template {
    /// A plain HTML page and script in `frontend/`, packed as they are.
    Vanilla,
    /// A Vite + React + TypeScript frontend, built into `dist/` by `npm run build`.
    ViteReact,
}

impl Template {
    fn dir(self) -> &'static str {
        match self {
            Template::Vanilla => "vanilla",
            Template::ViteReact => "vite-react",
        }
    }

    /// Where the typings go: beside the code that uses them.
    fn typings(self) -> &'static str {
        match self {
            Template::Vanilla => "frontend/auroraview.d.ts",
            Template::ViteReact => "src/auroraview.d.ts",
        }
    }
}

/// Create a new app: a config, a Python entry point and a frontend that calls it.
#[derive(clap::Args)]
pub struct Args {
    /// The directory to create the app in (made if missing).
    #[arg(default_value = ".")]
    dir: PathBuf,
    #[arg(long, value_enum, default_value_t = Template::Vanilla)]
    template: Template,
    /// The app's name (default: the directory's name, made a valid app name).
    #[arg(long)]
    name: Option<String>,
    /// Overwrite files that already exist.
    #[arg(long)]
    force: bool,
}

/// The files of `template`, with their contents filled in, in the order they are listed.
pub fn files(template: Template, name: &str) -> Vec<(String, String)> {
    let fill = |text: &str| text.replace("{{name}}", name).replace("{{title}}", name);
    let mut out = Vec::new();
    let dir = TEMPLATES.get_dir(template.dir()).expect("every template is embedded");
    collect(dir, dir.path(), &mut out);
    out.sort_by_key(|(path, _)| (path.contains('/'), path.clone()));
    let mut out: Vec<(String, String)> = out.into_iter().map(|(p, text)| (p, fill(&text))).collect();
    out.push((template.typings().to_string(), TYPINGS.to_string()));
    out
}

fn collect(dir: &Dir<'_>, base: &Path, out: &mut Vec<(String, String)>) {
    for f in dir.files() {
        let rel = f.path().strip_prefix(base).unwrap_or(f.path()).to_string_lossy().replace('\\', "/");
        out.push((rel, f.contents_utf8().expect("templates are UTF-8").to_string()));
    }
    for d in dir.dirs() {
        collect(d, base, out);
    }
}

/// A valid app name from a directory name: other characters become `-`.
fn name_from(dir: &Path) -> String {
    let raw = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let name: String =
        raw.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '-' }).collect();
    let name = name.trim_start_matches(['.', '-']).trim_end_matches('-').to_string();
    if name.is_empty() { "app".to_string() } else { name }
}

pub fn run(args: Args, report: Reporter) -> Result<()> {
    let dir = std::path::absolute(&args.dir).with_context(|| format!("resolving {}", args.dir.display()))?;
    let dir: PathBuf = dir.components().collect();
    let name = match args.name {
        Some(n) => {
            let valid = !n.is_empty()
                && !n.starts_with('.')
                && n.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            if !valid {
                bail!(
                    "`--name {n}` is not a valid app name: it names the executable and the cache directory\nhint: use letters, digits, `-`, `_` and `.` only, e.g. `--name my-app`"
                );
            }
            n
        }
        None => name_from(&dir.canonicalize().unwrap_or_else(|_| dir.clone())),
    };
    if dir.exists() && !dir.is_dir() {
        bail!(
            "{} exists and is not a directory\nhint: give a new or existing directory: `auroraview-pack init my-app`",
            dir.display()
        );
    }
    let files = files(args.template, &name);
    let existing: Vec<PathBuf> = files.iter().map(|(rel, _)| dir.join(rel)).filter(|p| p.exists()).collect();
    if !args.force && !existing.is_empty() {
        let others = match existing.len() {
            1 => String::new(),
            2 => " (and 1 other file)".to_string(),
            n => format!(" (and {} other files)", n - 1),
        };
        bail!(
            "{} already exists{others}: nothing was written\nhint: pass --force to overwrite, or create the app in a new directory: `auroraview-pack init my-app`",
            existing[0].display()
        );
    }
    for (rel, text) in &files {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            fs_err::create_dir_all(parent)?;
        }
        fs_err::write(&path, text)?;
    }
    // What was written must load: a template that does not is a bug of the packer.
    let config_file = dir.join(config::DEFAULT_FILE);
    Config::load(&config_file).with_context(|| format!("the `{}` template does not load", args.template.dir()))?;

    let shown = match std::env::current_dir().ok().and_then(|cwd| dir.strip_prefix(cwd).ok().map(Path::to_path_buf)) {
        Some(rel) if rel.as_os_str().is_empty() => None,
        Some(rel) => Some(rel.display().to_string()),
        None => Some(dir.display().to_string()),
    };
    if !report.quiet {
        println!("Created the {} app `{name}` in {}:", args.template.dir(), dir.display());
        for (rel, _) in &files {
            println!("  {rel}");
        }
        println!();
    }
    println!("Next steps:");
    if let Some(d) = &shown {
        println!("  cd {d}");
    }
    match args.template {
        Template::Vanilla => {
            println!("  auroraview-pack build            # packs frontend/ and main.py into dist/{name}");
            println!("  ./dist/{name}");
        }
        Template::ViteReact => {
            println!("  npm install");
            println!(
                "  auroraview-pack build --build    # runs `npm run build`, packs dist/ and main.py into release/{name}"
            );
            println!("  ./release/{name}");
        }
    }
    println!("  (`auroraview-pack dev` runs it from the sources, without packing)");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_loads_and_names_its_app() {
        for template in [Template::Vanilla, Template::ViteReact] {
            let dir = tempfile::tempdir().unwrap();
            for (rel, text) in files(template, "demo-app") {
                assert!(!text.contains("{{name}}") && !text.contains("{{title}}"), "{rel} keeps a placeholder");
                let path = dir.path().join(rel);
                fs_err::create_dir_all(path.parent().unwrap()).unwrap();
                fs_err::write(path, text).unwrap();
            }
            let cfg = Config::load(&dir.path().join(config::DEFAULT_FILE)).unwrap();
            assert_eq!(cfg.app.name, "demo-app");
            let typings = dir.path().join(template.typings());
            assert_eq!(fs_err::read_to_string(typings).unwrap(), TYPINGS);
            // The output directory is never the frontend.
            let out = cfg.app.out_dir.clone().unwrap_or_else(|| cfg.root.join("dist"));
            assert!(!out.starts_with(&cfg.frontend.dir), "{template:?}");
        }
    }

    #[test]
    fn names_come_from_the_directory() {
        assert_eq!(name_from(Path::new("/tmp/My App!")), "My-App");
        assert_eq!(name_from(Path::new("/tmp/.hidden")), "hidden");
        assert_eq!(name_from(Path::new("/")), "app");
    }
}
