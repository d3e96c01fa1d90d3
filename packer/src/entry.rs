//! The entry point, checked at pack time by parsing (never importing) its module with the build
//! machine's Python (`py/check_entry.py`): a syntax error, or a `module:function` whose module does
//! not define the function, fails the build with the file and line.

use crate::config::{self, Config};
use crate::python::Interpreter;
use anyhow::{Result, bail};
use serde::Deserialize;
use std::path::Path;

const CHECK_ENTRY: &str = include_str!("py/check_entry.py");

#[derive(Debug, Deserialize)]
struct Report {
    syntax_error: Option<SyntaxError>,
    found: Option<u64>,
    #[serde(default)]
    functions: Vec<(String, u64)>,
    #[serde(default)]
    open: bool,
}

#[derive(Debug, Deserialize)]
struct SyntaxError {
    line: Option<u64>,
    message: String,
    #[serde(default)]
    text: String,
}

/// Checks `[python] entry_point`: its module (or script) parses, and a `module:function`'s module
/// binds the function at top level (`def`, `async def`, `class`, an assignment or an import).
pub fn check(cfg: &Config, interp: &Interpreter) -> Result<()> {
    let (file, function) = match &cfg.python.entry_point {
        config::EntryPoint::Script { file } => (file.clone(), None),
        config::EntryPoint::Function => {
            let auroraview_overlay::EntryPoint::Function { module, function } =
                auroraview_overlay::EntryPoint::parse(&cfg.python.entry_point_text)?
            else {
                return Ok(());
            };
            // The config found the module; a file gone since is the collection's to report.
            let Ok(file) = config::module_file(&cfg.python.include_paths, &module) else { return Ok(()) };
            (file, Some(function))
        }
    };
    // `components` folds `/project/./main.py` into `/project/main.py`.
    let file: std::path::PathBuf = file.components().collect();
    let mut args = vec![file.as_os_str()];
    if let Some(f) = &function {
        args.push(f.as_ref());
    }
    let what = format!("parsing {}", file.display());
    let out = interp.run_script(CHECK_ENTRY, &args, &what)?;
    let report: Report = serde_json::from_slice(&out)
        .map_err(|e| anyhow::anyhow!("{what}: unreadable answer ({e}): {}", String::from_utf8_lossy(&out)))?;
    judge(cfg, &file, function.as_deref(), report)
}

/// `file` as the user knows it: relative to the project when inside it.
fn shown(cfg: &Config, file: &Path) -> String {
    file.strip_prefix(&cfg.root).unwrap_or(file).display().to_string()
}

fn judge(cfg: &Config, file: &Path, function: Option<&str>, report: Report) -> Result<()> {
    let name = shown(cfg, file);
    let entry = format!("`python.entry_point` = \"{}\" in {}", cfg.python.entry_point_text, cfg.file.display());
    if let Some(e) = report.syntax_error {
        let at = e.line.map(|l| format!(":{l}")).unwrap_or_default();
        let text = if e.text.trim().is_empty() { String::new() } else { format!("\n    {}", e.text.trim()) };
        bail!(
            "{name}{at}: syntax error: {}{text}\nhint: fix it in {}; the entry point's module ({entry}) is parsed at pack time, not run",
            e.message,
            file.display()
        );
    }
    let Some(function) = function else { return Ok(()) };
    if report.found.is_some() || report.open {
        return Ok(());
    }
    let defined = if report.functions.is_empty() {
        format!("{name} defines no functions at top level")
    } else {
        let list: Vec<String> = report.functions.iter().map(|(f, line)| format!("`{f}` ({name}:{line})")).collect();
        format!("it defines at top level: {}", list.join(", "))
    };
    let module = cfg.python.entry_point_text.split(':').next().unwrap_or("");
    let example = match report.functions.first() {
        Some((f, _)) => format!("`entry_point = \"{module}:{f}\"`"),
        None => format!("`entry_point = \"{module}:{function}\"` with `def {function}(): ...` in {name}"),
    };
    bail!(
        "`{name}` defines no function `{function}` ({entry})\nhint: {defined}; define `def {function}():` at top level of {}, or point the entry point at one of its functions, e.g. {example}",
        file.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(dir: &Path) -> Config {
        fs_err::create_dir_all(dir.join("frontend")).unwrap();
        Config::parse(&dir.join(config::DEFAULT_FILE), "[app]\nname = \"x\"\n").unwrap()
    }

    fn run(source: &str) -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        fs_err::write(dir.path().join("main.py"), source).unwrap();
        let cfg = cfg(dir.path());
        let Ok(interp) = crate::python::find(&cfg.python.version, None) else {
            eprintln!("no Python {}: skipped", cfg.python.version);
            return Ok(());
        };
        check(&cfg, &interp)
    }

    #[test]
    fn finds_top_level_bindings_without_running_the_module() {
        // The module would fail if run; parsing it is enough.
        for source in [
            "raise SystemExit(9)\ndef run(): pass\n",
            "async def run(): pass\n",
            "class run: pass\n",
            "from app.main import start as run\n",
            "import run\n",
            "try:\n    from fast import run\nexcept ImportError:\n    run = None\n",
            "if True:\n    def run(): pass\n",
            "from helpers import *\n",
            "a, run = 1, 2\n",
        ] {
            run(source).unwrap_or_else(|e| panic!("{source:?}: {e:#}"));
        }
    }

    #[test]
    fn a_missing_function_names_the_file_and_what_it_defines() {
        let e = format!("{:#}", run("import os\n\ndef start():\n    pass\n\ndef _helper(): pass\n").unwrap_err());
        assert!(e.starts_with("`main.py` defines no function `run`"), "{e}");
        assert!(e.contains("hint: it defines at top level: `start` (main.py:3), `_helper` (main.py:6)"), "{e}");
        assert!(e.contains("entry_point = \"main:start\""), "{e}");
        // A function only defined inside another, or an annotation, binds nothing at top level.
        let e = format!("{:#}", run("def outer():\n    def run(): pass\nrun: int\n").unwrap_err());
        assert!(e.contains("no function `run`") && e.contains("`outer` (main.py:1)"), "{e}");
    }

    #[test]
    fn a_syntax_error_gives_file_and_line() {
        let e = format!("{:#}", run("def run():\n    pass\n\ndef broken(:\n    pass\n").unwrap_err());
        assert!(e.starts_with("main.py:4: syntax error: "), "{e}");
        assert!(e.contains("def broken(:"), "{e}");
    }
}
