//! `auroraview.pack.toml`: parsed, validated and resolved in one step. The rest of the packer only
//! sees [`Config`], whose paths are absolute and whose defaults are filled in.

use auroraview_overlay::{Isolation, Strategy};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

pub const DEFAULT_FILE: &str = "auroraview.pack.toml";
pub const DEFAULT_PYTHON_VERSION: &str = "3.11";
pub const DEFAULT_ENTRY_POINT: &str = "main:run";
pub const DEFAULT_SEARCH_PATHS: [&str; 2] = ["$EXTRACT_DIR", "$SITE_PACKAGES"];
pub const DEFAULT_MAX_RESTARTS: u32 = 5;
pub const DEFAULT_HEARTBEAT_TIMEOUT_MS: u64 = 5000;
pub const SEARCH_PATH_VARIABLES: [&str; 3] = ["$EXTRACT_DIR", "$SITE_PACKAGES", "$RESOURCES_DIR"];

// ---- raw form, exactly as written ------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    app: Option<RawApp>,
    #[serde(default)]
    window: RawWindow,
    #[serde(default)]
    frontend: RawFrontend,
    #[serde(default)]
    python: RawPython,
    #[serde(default)]
    hooks: RawHooks,
    #[serde(default)]
    env: BTreeMap<String, String>,
    license: Option<RawLicense>,
    #[serde(default)]
    plugins: BTreeMap<String, toml::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApp {
    name: String,
    version: Option<String>,
    title: Option<String>,
    icon: Option<String>,
    out_dir: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWindow {
    width: Option<u32>,
    height: Option<u32>,
    resizable: Option<bool>,
    debug: Option<bool>,
    min_width: Option<u32>,
    min_height: Option<u32>,
    max_width: Option<u32>,
    max_height: Option<u32>,
    center: Option<bool>,
    x: Option<i32>,
    y: Option<i32>,
    always_on_top: Option<bool>,
    decorations: Option<bool>,
    fullscreen: Option<bool>,
    maximized: Option<bool>,
    icon: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFrontend {
    path: Option<String>,
    build: Option<String>,
    csp: Option<String>,
    dev_url: Option<String>,
    dev_command: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPython {
    entry_point: Option<String>,
    include_paths: Option<Vec<String>>,
    #[serde(default)]
    packages: Vec<String>,
    requirements: Option<String>,
    version: Option<String>,
    strategy: Option<String>,
    isolation: Option<String>,
    module_search_paths: Option<Vec<String>>,
    filesystem_importer: Option<bool>,
    #[serde(default)]
    external_bin: Vec<String>,
    #[serde(default)]
    resources: Vec<String>,
    #[serde(default)]
    exclude: Vec<String>,
    runtime: Option<String>,
    interpreter: Option<String>,
    #[serde(default)]
    stdlib_keep: Vec<String>,
    max_restarts: Option<u32>,
    heartbeat_timeout: Option<f64>,
    home: Option<String>,
    embedded_fallback: Option<bool>,
    system_site_packages: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHooks {
    #[serde(default)]
    collect: Vec<RawCollect>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCollect {
    from: String,
    to: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLicense {
    #[serde(rename = "type")]
    kind: Option<String>,
    public_key: Option<String>,
    expires_at: Option<String>,
    grace_period_days: Option<u32>,
}

// ---- resolved form ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
pub struct Config {
    pub file: PathBuf,
    /// Directory of the config file; relative paths were resolved against it.
    pub root: PathBuf,
    pub app: App,
    pub window: Window,
    pub frontend: Frontend,
    pub python: Python,
    pub collect: Vec<Collect>,
    pub env: BTreeMap<String, String>,
    pub license: Option<License>,
    /// `[plugins]`: the plugin commands the page and Python may call (none by default).
    pub plugins: auroraview_overlay::plugins::Plugins,
}

#[derive(Debug, Clone)]
pub struct App {
    pub name: String,
    pub version: String,
    pub title: String,
    /// `[app] out_dir`, absolute: where `build` writes (`--out-dir` wins; default `dist/`).
    pub out_dir: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct Window {
    pub width: u32,
    pub height: u32,
    pub resizable: bool,
    pub debug: bool,
    /// Size limits, placement, frame; `icon` is the PNG's absolute path here (the manifest gets its
    /// overlay path, [`ICON_PATH`]).
    pub options: auroraview_overlay::WindowOptions,
}

/// Where `[app] icon` (or `[window] icon`) goes in the overlay.
pub const ICON_PATH: &str = "window/icon.png";

#[derive(Debug, Clone)]
pub struct Frontend {
    pub dir: PathBuf,
    pub build: Option<String>,
    /// Replaces the window's default Content-Security-Policy.
    pub csp: Option<String>,
    /// `auroraview-pack dev` loads the page from this dev server (e.g. Vite's) instead.
    pub dev_url: Option<String>,
    /// Started by `auroraview-pack dev` in the config's directory, stopped with it.
    pub dev_command: Option<String>,
}

#[derive(Debug, Clone)]
pub enum EntryPoint {
    /// `module:function`, found in an include path.
    Function,
    /// A script run as `__main__`.
    Script { file: PathBuf },
}

#[derive(Debug, Clone)]
pub struct Python {
    pub entry_point: EntryPoint,
    /// The entry point as written, for the manifest.
    pub entry_point_text: String,
    pub include_paths: Vec<PathBuf>,
    pub packages: Vec<String>,
    pub version: String,
    pub strategy: Strategy,
    pub isolation: Isolation,
    pub module_search_paths: Vec<String>,
    pub filesystem_importer: bool,
    pub external_bin: Vec<PathBuf>,
    pub resources: Vec<PathBuf>,
    pub exclude: Vec<String>,
    pub runtime: Option<PathBuf>,
    pub interpreter: Option<String>,
    pub stdlib_keep: Vec<String>,
    pub max_restarts: u32,
    pub heartbeat_timeout_ms: u64,
    pub home: Option<String>,
    pub embedded_fallback: bool,
    pub system_site_packages: bool,
}

#[derive(Debug, Clone)]
pub struct Collect {
    pub from: String,
    pub to: String,
}

#[derive(Debug, Clone)]
pub struct License {
    pub kind: String,
    pub public_key: Option<String>,
    /// `YYYY-MM-DD`: the last day the build runs.
    pub expires_at: Option<String>,
    pub grace_period_days: Option<u32>,
}

// ---- errors ----------------------------------------------------------------------------------

/// A config error: where it is, which key, what is wrong, and what to do.
#[derive(Debug)]
pub struct ConfigError {
    pub file: PathBuf,
    pub line: Option<(usize, usize)>,
    pub key: Option<String>,
    pub message: String,
    pub hint: Option<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some((line, col)) = self.line {
            write!(f, ":{line}:{col}")?;
        }
        if let Some(key) = &self.key {
            write!(f, ": `{key}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

/// The config text with the means to point at a key in it.
pub(crate) struct Source<'a> {
    pub(crate) file: &'a Path,
    pub(crate) text: &'a str,
}

impl Source<'_> {
    pub(crate) fn line_col(&self, offset: usize) -> (usize, usize) {
        let before = &self.text[..offset.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map(|l| l.chars().count()).unwrap_or(0) + 1;
        (line, col)
    }

    /// Span of the value at `keys` (e.g. `["python", "entry_point"]`, or with an array index).
    pub(crate) fn span_of(&self, keys: &[&str]) -> Option<Range<usize>> {
        let doc = toml::de::DeTable::parse(self.text).ok()?;
        let mut value: Option<&toml::Spanned<toml::de::DeValue>> = None;
        let mut table = doc.get_ref();
        for (i, key) in keys.iter().enumerate() {
            let v = match value.map(|v| v.get_ref()) {
                Some(toml::de::DeValue::Array(arr)) => arr.get(key.parse::<usize>().ok()?)?,
                _ => table.iter().find(|(k, _)| k.get_ref() == key).map(|(_, v)| v)?,
            };
            if let toml::de::DeValue::Table(t) = v.get_ref() {
                table = t;
            }
            value = Some(v);
            if i + 1 == keys.len() {
                return Some(v.span());
            }
        }
        None
    }

    /// Dotted path of the innermost key whose key or value contains `offset`.
    fn key_at(&self, offset: usize) -> Option<String> {
        fn walk(table: &toml::de::DeTable, offset: usize, path: &mut Vec<String>) -> bool {
            for (k, v) in table.iter() {
                path.push(k.get_ref().to_string());
                if k.span().contains(&offset) || within_value(v, offset, path) {
                    return true;
                }
                path.pop();
            }
            false
        }
        fn within_value(v: &toml::Spanned<toml::de::DeValue>, offset: usize, path: &mut Vec<String>) -> bool {
            match v.get_ref() {
                // A `[table]`'s span is its header: look inside whatever the span says.
                toml::de::DeValue::Table(t) => walk(t, offset, path) || v.span().contains(&offset),
                toml::de::DeValue::Array(arr) => {
                    for (i, item) in arr.iter().enumerate() {
                        path.push(i.to_string());
                        if within_value(item, offset, path) {
                            return true;
                        }
                        path.pop();
                    }
                    v.span().contains(&offset)
                }
                _ => v.span().contains(&offset),
            }
        }
        let doc = toml::de::DeTable::parse(self.text).ok()?;
        let mut path = Vec::new();
        walk(doc.get_ref(), offset, &mut path);
        (!path.is_empty()).then(|| path.join("."))
    }

    pub(crate) fn error(
        &self,
        keys: &[&str],
        message: impl Into<String>,
        hint: impl Into<Option<String>>,
    ) -> ConfigError {
        let line = self.span_of(keys).map(|s| self.line_col(s.start));
        ConfigError {
            file: self.file.to_path_buf(),
            line,
            key: Some(keys.join(".")),
            message: message.into(),
            hint: hint.into(),
        }
    }
}

// ---- loading ---------------------------------------------------------------------------------

impl Config {
    /// Reads and resolves the config at `file`. Nothing is written.
    pub fn load(file: &Path) -> Result<Config, ConfigError> {
        let text = fs_err::read_to_string(file).map_err(|e| ConfigError {
            file: file.to_path_buf(),
            line: None,
            key: None,
            message: e.to_string(),
            hint: Some(format!("create {DEFAULT_FILE} (see the README's config reference) or pass --config PATH")),
        })?;
        let file = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
        Self::parse(&file, &text)
    }

    /// Parses either dialect: ours, or the reference AuroraView's (see [`crate::dialect`]), which is
    /// rewritten into ours first, its errors pointing at the original file.
    pub fn parse(file: &Path, text: &str) -> Result<Config, ConfigError> {
        if crate::dialect::is_reference(text) {
            let src = Source { file, text };
            let migration = crate::dialect::translate(&src)?;
            return Self::parse_ours(file, &migration.text).map_err(|e| migration.remap(&src, e));
        }
        Self::parse_ours(file, text)
    }

    fn parse_ours(file: &Path, text: &str) -> Result<Config, ConfigError> {
        let src = Source { file, text };
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let span = e.span();
            let key = span.as_ref().and_then(|s| src.key_at(s.start));
            let message = e.message().trim().to_string();
            let hint = if message.starts_with("unknown field") {
                Some("remove the key or fix its spelling; the README's config reference lists every key".to_string())
            } else {
                Some("fix the value; the README's config reference gives every key's type and default".to_string())
            };
            ConfigError { file: file.to_path_buf(), line: span.map(|s| src.line_col(s.start)), key, message, hint }
        })?;
        resolve(&src, raw)
    }
}

fn resolve(src: &Source, raw: RawConfig) -> Result<Config, ConfigError> {
    let root = src.file.parent().map(Path::to_path_buf).unwrap_or_default();
    let abs = |p: &str| root.join(p);

    let Some(app) = raw.app else {
        return Err(ConfigError {
            file: src.file.to_path_buf(),
            line: None,
            key: Some("app.name".into()),
            message: "missing `[app]` table with `name`".into(),
            hint: Some("add:\n[app]\nname = \"my-app\"".into()),
        });
    };
    if app.name.is_empty()
        || !app.name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        || app.name.starts_with('.')
    {
        return Err(src.error(
            &["app", "name"],
            format!("`{}` is not a valid app name: it names the executable and the cache directory", app.name),
            "use letters, digits, `-`, `_` and `.` only, e.g. `name = \"my-app\"`".to_string(),
        ));
    }
    let app_icon = app.icon.clone();
    let app = App {
        version: app.version.unwrap_or_else(|| "0.1.0".into()),
        title: app.title.unwrap_or_else(|| app.name.clone()),
        out_dir: match app.out_dir.as_deref().map(str::trim) {
            None => None,
            Some("") => {
                return Err(src.error(
                    &["app", "out_dir"],
                    "the output directory is empty".to_string(),
                    "give a directory relative to the config file, e.g. `out_dir = \"dist\"`".to_string(),
                ));
            }
            Some(d) => Some(lexical(&root.join(d))),
        },
        name: app.name,
    };

    let w = raw.window;
    let icon = match (&app_icon, &w.icon) {
        (Some(_), Some(_)) => {
            return Err(src.error(
                &["window", "icon"],
                "the icon is given twice, as `app.icon` and `window.icon`".to_string(),
                "keep one of them".to_string(),
            ));
        }
        (Some(p), None) => Some((p, ["app", "icon"])),
        (None, Some(p)) => Some((p, ["window", "icon"])),
        (None, None) => None,
    };
    let icon = match icon {
        None => None,
        Some((text, key)) => Some(check_icon(src, &key, &abs(text))?),
    };
    let window = Window {
        width: w.width.unwrap_or(1280),
        height: w.height.unwrap_or(720),
        resizable: w.resizable.unwrap_or(true),
        debug: w.debug.unwrap_or(false),
        options: auroraview_overlay::WindowOptions {
            min_width: w.min_width,
            min_height: w.min_height,
            max_width: w.max_width,
            max_height: w.max_height,
            center: w.center.unwrap_or(false),
            x: w.x,
            y: w.y,
            always_on_top: w.always_on_top.unwrap_or(false),
            decorations: w.decorations.filter(|d| !d),
            fullscreen: w.fullscreen.unwrap_or(false),
            maximized: w.maximized.unwrap_or(false),
            icon: icon.map(|p| p.to_string_lossy().into_owned()),
        },
    };
    let o = &window.options;
    for (lo, hi, min, max) in
        [("min_width", "max_width", o.min_width, o.max_width), ("min_height", "max_height", o.min_height, o.max_height)]
    {
        if let (Some(min), Some(max)) = (min, max)
            && min > max
        {
            return Err(src.error(
                &["window", lo],
                format!("{lo} {min} is larger than {hi} {max}"),
                format!("make {lo} at most {hi}"),
            ));
        }
    }
    for (key, v) in [
        ("width", Some(window.width)),
        ("height", Some(window.height)),
        ("min_width", o.min_width),
        ("min_height", o.min_height),
        ("max_width", o.max_width),
        ("max_height", o.max_height),
    ] {
        let Some(v) = v else { continue };
        if v == 0 || v > 16384 {
            return Err(src.error(
                &["window", key],
                format!("{v} is not a usable window {key}"),
                "use a size between 1 and 16384 pixels".to_string(),
            ));
        }
    }

    let frontend_text = raw.frontend.path.unwrap_or_else(|| "frontend".into());
    let frontend_dir = abs(&frontend_text);
    // With a build command the directory may be what the build makes.
    if raw.frontend.build.is_none() && !frontend_dir.is_dir() {
        return Err(src.error(
            &["frontend", "path"],
            format!("frontend directory {} does not exist", frontend_dir.display()),
            "point `[frontend] path` at the directory holding index.html (relative to the config file)".to_string(),
        ));
    }

    if let Some(csp) = &raw.frontend.csp {
        // It becomes an HTTP header value: visible ASCII and spaces only, and something to enforce.
        if csp.trim().is_empty() || !csp.chars().all(|c| c == ' ' || c.is_ascii_graphic()) {
            return Err(src.error(
                &["frontend", "csp"],
                "not a usable Content-Security-Policy: it must be non-empty and on one line of printable ASCII"
                    .to_string(),
                "write directives separated by `;`, e.g. `csp = \"default-src 'self'; script-src 'self'\"`".to_string(),
            ));
        }
    }

    let p = raw.python;
    let version = p.version.unwrap_or_else(|| DEFAULT_PYTHON_VERSION.into());
    if !is_minor_version(&version) {
        return Err(src.error(
            &["python", "version"],
            format!("`{version}` is not a Python version of the form MAJOR.MINOR"),
            format!("write e.g. `version = \"{DEFAULT_PYTHON_VERSION}\"`"),
        ));
    }
    let strategy = match p.strategy.as_deref() {
        None => Strategy::Standalone,
        Some(s) => Strategy::ALL.iter().find(|(n, _)| *n == s).map(|(_, v)| *v).ok_or_else(|| {
            src.error(
                &["python", "strategy"],
                format!("unknown strategy `{s}`"),
                "use one of: standalone, pyoxidizer, embedded, portable, system".to_string(),
            )
        })?,
    };
    let isolation = match p.isolation.as_deref() {
        None if strategy == Strategy::System => Isolation::Process,
        None | Some("thread") => Isolation::Thread,
        Some("process") => Isolation::Process,
        Some(s) => {
            return Err(src.error(
                &["python", "isolation"],
                format!("unknown isolation `{s}`"),
                "use `thread` (default) or `process`".to_string(),
            ));
        }
    };
    if strategy == Strategy::System && isolation == Isolation::Thread {
        return Err(src.error(
            &["python", "isolation"],
            "the `system` strategy runs the machine's Python in a child process".to_string(),
            "remove `isolation` or set it to `process`".to_string(),
        ));
    }

    let heartbeat_timeout_ms = match p.heartbeat_timeout {
        None => DEFAULT_HEARTBEAT_TIMEOUT_MS,
        Some(s) if s.is_finite() && (0.2..=3600.0).contains(&s) => (s * 1000.0) as u64,
        Some(s) => {
            return Err(src.error(
                &["python", "heartbeat_timeout"],
                format!("{s} is not a usable heartbeat timeout"),
                "give seconds between 0.2 and 3600, e.g. `heartbeat_timeout = 5`".to_string(),
            ));
        }
    };

    let include_texts = p.include_paths.unwrap_or_else(|| vec![".".into()]);
    let mut include_paths = Vec::new();
    for (i, text) in include_texts.iter().enumerate() {
        let path = abs(text);
        if !path.exists() {
            return Err(src.error(
                &["python", "include_paths", &i.to_string()],
                format!("{} does not exist", path.display()),
                "list directories (or files) relative to the config file".to_string(),
            ));
        }
        include_paths.push(path);
    }

    let entry_text = p.entry_point.unwrap_or_else(|| DEFAULT_ENTRY_POINT.into());
    let entry_point = resolve_entry_point(src, &root, &entry_text, &include_paths)?;

    let module_search_paths = p.module_search_paths.unwrap_or_else(|| DEFAULT_SEARCH_PATHS.map(String::from).to_vec());
    for (i, path) in module_search_paths.iter().enumerate() {
        if let Some(var) = path.strip_prefix('$') {
            let name = var.split(['/', '\\']).next().unwrap_or(var);
            if !SEARCH_PATH_VARIABLES.contains(&format!("${name}").as_str()) {
                return Err(src.error(
                    &["python", "module_search_paths", &i.to_string()],
                    format!("unknown variable `${name}`"),
                    format!("use {}", SEARCH_PATH_VARIABLES.join(", ")),
                ));
            }
        }
    }

    let files = |key: &str, texts: &[String]| -> Result<Vec<PathBuf>, ConfigError> {
        texts
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let path = abs(t);
                if path.exists() {
                    Ok(path)
                } else {
                    Err(src.error(
                        &["python", key, &i.to_string()],
                        format!("{} does not exist", path.display()),
                        "paths are relative to the config file".to_string(),
                    ))
                }
            })
            .collect()
    };
    let external_bin = files("external_bin", &p.external_bin)?;
    let resources = files("resources", &p.resources)?;

    for (i, pattern) in p.exclude.iter().enumerate() {
        if let Err(e) = globset::Glob::new(pattern) {
            return Err(src.error(
                &["python", "exclude", &i.to_string()],
                format!("bad glob `{pattern}`: {}", e.kind()),
                None,
            ));
        }
    }
    let mut packages = p.packages.clone();
    if let Some(file) = &p.requirements {
        packages.extend(read_requirements(src, &abs(file))?);
    }
    for (i, pkg) in p.packages.iter().enumerate() {
        if pkg.trim().is_empty() || pkg.trim_start().starts_with('-') {
            return Err(src.error(
                &["python", "packages", &i.to_string()],
                format!("`{pkg}` is not a requirement"),
                "list pip requirements such as `requests` or `markupsafe==3.0.2`; options are not accepted".to_string(),
            ));
        }
    }
    let runtime = match p.runtime {
        Some(r) => {
            let path = abs(&r);
            if !path.exists() {
                return Err(src.error(
                    &["python", "runtime"],
                    format!("{} does not exist", path.display()),
                    "point it at a CPython install prefix or a python-build-standalone archive".to_string(),
                ));
            }
            Some(path)
        }
        None => None,
    };

    let mut collect = Vec::new();
    for (i, c) in raw.hooks.collect.into_iter().enumerate() {
        if let Err(e) = globset::Glob::new(&c.from) {
            return Err(src.error(
                &["hooks", "collect", &i.to_string(), "from"],
                format!("bad glob `{}`: {}", c.from, e.kind()),
                None,
            ));
        }
        let to = c.to.unwrap_or_else(|| "resources".into());
        if auroraview_overlay::validate_entry_path(to.trim_end_matches('/')).is_err() {
            return Err(src.error(
                &["hooks", "collect", &i.to_string(), "to"],
                format!("`{to}` is not a relative path inside the package"),
                "use a relative path such as `resources/data`".to_string(),
            ));
        }
        collect.push(Collect { from: c.from, to: to.trim_end_matches('/').to_string() });
    }

    for key in raw.env.keys() {
        if key.is_empty() || key.contains('=') || key.contains('\0') {
            return Err(src.error(&["env", key], format!("`{key}` is not a valid environment variable name"), None));
        }
    }

    let license = match raw.license {
        None => None,
        Some(l) => Some(
            crate::commands::license::resolve_config(l.kind, l.public_key, l.expires_at, l.grace_period_days)
                .map_err(|(key, message, hint)| src.error(&["license", key], message, hint))?,
        ),
    };

    let plugins = resolve_plugins(src, raw.plugins)?;

    Ok(Config {
        file: src.file.to_path_buf(),
        root: root.clone(),
        app,
        window,
        frontend: Frontend {
            dir: frontend_dir,
            build: raw.frontend.build,
            csp: raw.frontend.csp,
            dev_url: dev_url(src, raw.frontend.dev_url)?,
            dev_command: raw.frontend.dev_command.filter(|c| !c.trim().is_empty()),
        },
        python: Python {
            entry_point,
            entry_point_text: entry_text,
            include_paths,
            packages,
            version,
            strategy,
            isolation,
            module_search_paths,
            filesystem_importer: p.filesystem_importer.unwrap_or(true),
            external_bin,
            resources,
            exclude: p.exclude,
            runtime,
            interpreter: p.interpreter,
            stdlib_keep: stdlib_keep(src, p.stdlib_keep)?,
            max_restarts: p.max_restarts.unwrap_or(DEFAULT_MAX_RESTARTS),
            heartbeat_timeout_ms,
            home: p.home,
            embedded_fallback: p.embedded_fallback.unwrap_or(false),
            system_site_packages: p.system_site_packages.unwrap_or(false),
        },
        collect,
        env: raw.env,
        license,
        plugins,
    })
}

/// `[plugins]`: `python = "scoped" | "trusted"`, `plugin = true | false`, and
/// `[plugins.plugin] command = true | false | ["scope", ...]`.
fn resolve_plugins(
    src: &Source,
    table: BTreeMap<String, toml::Value>,
) -> Result<auroraview_overlay::plugins::Plugins, ConfigError> {
    use auroraview_overlay::plugins::{Grant, Plugins, PythonAccess};
    let mut plugins = Plugins::default();
    let grant = |keys: &[&str], v: &toml::Value| -> Result<Grant, ConfigError> {
        match v {
            toml::Value::Boolean(b) => Ok(Grant::All(*b)),
            toml::Value::Array(items) => items
                .iter()
                .map(|i| i.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .map(Grant::Scopes)
                .ok_or_else(|| src.error(keys, "a list of scopes holds strings", None)),
            _ => Err(src.error(keys, "expected true, false or a list of scopes", None)),
        }
    };
    for (plugin, value) in table {
        if plugin == "python" {
            plugins.python = match value.as_str() {
                Some("scoped") => PythonAccess::Scoped,
                Some("trusted") => PythonAccess::Trusted,
                _ => {
                    return Err(src.error(
                        &["plugins", "python"],
                        format!("`{value}` is not a Python access mode"),
                        "use \"scoped\" (Python's commands are checked like the page's) or \"trusted\"".to_string(),
                    ));
                }
            };
            continue;
        }
        let entries: Vec<(String, Grant)> = match &value {
            toml::Value::Table(commands) => commands
                .iter()
                .map(|(c, v)| Ok((format!("{plugin}.{c}"), grant(&["plugins", &plugin, c], v)?)))
                .collect::<Result<_, ConfigError>>()?,
            v => vec![(plugin.clone(), grant(&["plugins", &plugin], v)?)],
        };
        for (key, g) in entries {
            let one = Plugins { grants: [(key.clone(), g.clone())].into(), python: PythonAccess::Scoped };
            if let Err(message) = one.validate() {
                let keys: Vec<&str> = std::iter::once("plugins").chain(key.split('.')).collect();
                return Err(src.error(
                    &keys,
                    message,
                    "see \"Plugins and permissions\" in the README for the commands and their scopes".to_string(),
                ));
            }
            plugins.grants.insert(key, g);
        }
    }
    Ok(plugins)
}

/// `p` with `.` and `..` folded away without looking at the file system: the path as written.
pub fn lexical(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

fn is_minor_version(v: &str) -> bool {
    let mut parts = v.split('.');
    matches!((parts.next(), parts.next(), parts.next()), (Some(a), Some(b), None)
        if !a.is_empty() && !b.is_empty() && a.chars().all(|c| c.is_ascii_digit()) && b.chars().all(|c| c.is_ascii_digit()))
}

/// The requirements of a `requirements.txt`: one per line, `#` comments and blank lines skipped.
/// pip options (`-r`, `--index-url`, ...) are refused with their line: the packer installs the
/// listed requirements itself, and index settings belong in pip's own configuration.
fn read_requirements(src: &Source, file: &Path) -> Result<Vec<String>, ConfigError> {
    let key = ["python", "requirements"];
    let text = fs_err::read_to_string(file).map_err(|e| {
        src.error(
            &key,
            format!("cannot read {}: {e}", file.display()),
            "paths are relative to the config file".to_string(),
        )
    })?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let req = line.split(" #").next().unwrap_or("").trim();
        if req.is_empty() || req.starts_with('#') {
            continue;
        }
        if req.starts_with('-') {
            return Err(src.error(
                &key,
                format!("{}:{}: `{req}` is a pip option, not a requirement", file.display(), n + 1),
                "list requirements only; put index settings in pip's configuration (pip config set global.index-url ...)"
                    .to_string(),
            ));
        }
        out.push(req.to_string());
    }
    Ok(out)
}

/// `[python] stdlib_keep`: names of trimmed stdlib parts only.
fn stdlib_keep(src: &Source, keep: Vec<String>) -> Result<Vec<String>, ConfigError> {
    if let Some(bad) = keep.iter().find(|k| !crate::frames::STDLIB_KEEP_NAMES.contains(&k.as_str())) {
        return Err(src.error(
            &["python", "stdlib_keep"],
            format!("`{bad}` is not a trimmed part of the standard library"),
            format!("use some of: {}", crate::frames::STDLIB_KEEP_NAMES.join(", ")),
        ));
    }
    Ok(keep)
}

/// `[frontend] dev_url`: an `http(s)://host[:port]/...` URL, whose origin `dev` lets reach Python.
fn dev_url(src: &Source, url: Option<String>) -> Result<Option<String>, ConfigError> {
    let Some(url) = url else { return Ok(None) };
    check_dev_url(&url).map_err(|why| {
        src.error(
            &["frontend", "dev_url"],
            format!("`{url}` is not a dev server URL: {why}"),
            "write e.g. `dev_url = \"http://localhost:5173\"`".to_string(),
        )
    })?;
    Ok(Some(url))
}

/// Whether `url` is a usable dev server address; the reason when not.
pub fn check_dev_url(url: &str) -> Result<(), &'static str> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or("it must start with http:// or https://")?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || host.contains('@') {
        return Err("it names no host");
    }
    if !url.chars().all(|c| c.is_ascii_graphic()) {
        return Err("it holds spaces or characters that are not printable ASCII");
    }
    Ok(())
}

/// The window icon: a PNG file of at most 1024x1024 pixels (checked from its header).
fn check_icon(src: &Source, key: &[&str], path: &Path) -> Result<PathBuf, ConfigError> {
    let fail = |message: String| {
        src.error(key, message, "give the path (relative to the config file) of a PNG image, e.g. 256x256".to_string())
    };
    let mut head = [0u8; 24];
    let read = std::fs::File::open(path).and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head));
    if let Err(e) = read {
        return Err(fail(format!("cannot read the icon {}: {e}", path.display())));
    }
    if &head[..8] != b"\x89PNG\r\n\x1a\n" || &head[12..16] != b"IHDR" {
        return Err(fail(format!("the icon {} is not a PNG image", path.display())));
    }
    let (w, h) = (
        u32::from_be_bytes(head[16..20].try_into().unwrap_or_default()),
        u32::from_be_bytes(head[20..24].try_into().unwrap_or_default()),
    );
    if w == 0 || h == 0 || w > 1024 || h > 1024 {
        return Err(fail(format!("the icon {} is {w}x{h} pixels; at most 1024x1024 is used", path.display())));
    }
    Ok(path.to_path_buf())
}

/// The file of `module` (`pkg.mod`) in `include_paths`: `pkg/mod.py` or `pkg/mod/__init__.py`; else
/// every path tried.
pub fn module_file(include_paths: &[PathBuf], module: &str) -> Result<PathBuf, Vec<PathBuf>> {
    let rel: PathBuf = module.split('.').collect();
    let mut searched = Vec::new();
    for inc in include_paths {
        let base = if inc.is_file() { inc.parent().unwrap_or(inc).to_path_buf() } else { inc.clone() };
        for candidate in [base.join(&rel).with_extension("py"), base.join(&rel).join("__init__.py")] {
            if candidate.is_file() {
                return Ok(candidate);
            }
            searched.push(candidate);
        }
    }
    Err(searched)
}

fn resolve_entry_point(
    src: &Source,
    root: &Path,
    text: &str,
    include_paths: &[PathBuf],
) -> Result<EntryPoint, ConfigError> {
    let key = ["python", "entry_point"];
    let parsed = auroraview_overlay::EntryPoint::parse(text).map_err(|e| {
        src.error(
            &key,
            e.to_string(),
            "write e.g. `entry_point = \"main:run\"` or `entry_point = \"main.py\"`".to_string(),
        )
    })?;
    let module = match parsed {
        auroraview_overlay::EntryPoint::Script(script) => {
            let file = root.join(script);
            if !file.is_file() {
                return Err(src.error(
                    &key,
                    format!("script {} does not exist", file.display()),
                    "paths are relative to the config file".to_string(),
                ));
            }
            return Ok(EntryPoint::Script { file });
        }
        auroraview_overlay::EntryPoint::Function { module, .. } => module,
    };
    let Err(searched) = module_file(include_paths, &module) else { return Ok(EntryPoint::Function) };
    Err(src.error(
        &key,
        format!(
            "module `{module}` not found; searched:\n{}",
            searched.iter().map(|p| format!("  {}", p.display())).collect::<Vec<_>>().join("\n")
        ),
        "add the module's directory to `[python] include_paths`, or fix the module name".to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        fs_err::create_dir_all(dir.path().join("frontend")).unwrap();
        fs_err::write(dir.path().join("frontend/index.html"), "<html></html>").unwrap();
        fs_err::write(dir.path().join("main.py"), "def run(): pass\n").unwrap();
        dir
    }

    fn parse(dir: &Path, text: &str) -> Result<Config, ConfigError> {
        Config::parse(&dir.join(DEFAULT_FILE), text)
    }

    #[test]
    fn requirements_files_add_their_lines_and_refuse_options() {
        let dir = project();
        fs_err::write(dir.path().join("requirements.txt"), "# tools\nsix==1.16.0  # pinned\n\nmarkupsafe\n").unwrap();
        let with = |extra: &str| {
            parse(
                dir.path(),
                &format!(
                    "[app]\nname = \"demo\"\n[python]\npackages = [\"pyyaml\"]\nrequirements = \"requirements.txt\"\n{extra}"
                ),
            )
        };
        assert_eq!(with("").unwrap().python.packages, ["pyyaml", "six==1.16.0", "markupsafe"]);
        fs_err::write(dir.path().join("requirements.txt"), "six\n--index-url https://example.invalid\n").unwrap();
        let e = with("").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("python.requirements"), "{e}");
        assert!(e.to_string().contains("requirements.txt:2") && e.to_string().contains("pip option"), "{e}");
        fs_err::remove_file(dir.path().join("requirements.txt")).unwrap();
        assert!(with("").unwrap_err().to_string().contains("cannot read"));
    }

    #[test]
    fn minimal_config_gets_defaults() {
        let dir = project();
        let c = parse(dir.path(), "[app]\nname = \"demo\"\n").unwrap();
        assert_eq!(c.app.title, "demo");
        assert_eq!((c.window.width, c.window.height), (1280, 720));
        assert_eq!(c.python.strategy, Strategy::Standalone);
        assert_eq!(c.python.module_search_paths, ["$EXTRACT_DIR", "$SITE_PACKAGES"]);
        assert!(matches!(c.python.entry_point, EntryPoint::Function));
    }

    #[test]
    fn wrong_type_names_key_and_line() {
        let dir = project();
        let e = parse(dir.path(), "[app]\nname = \"demo\"\n\n[window]\nwidth = \"wide\"\n").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("window.width"), "{e}");
        assert_eq!(e.line.map(|l| l.0), Some(5));
    }

    #[test]
    fn csp_must_be_one_line_of_printable_ascii() {
        let dir = project();
        let with = |csp: &str| parse(dir.path(), &format!("[app]\nname = \"demo\"\n[frontend]\ncsp = {csp}\n"));
        let c = with("\"default-src 'self'; img-src *\"").unwrap();
        assert_eq!(c.frontend.csp.as_deref(), Some("default-src 'self'; img-src *"));
        assert_eq!(parse(dir.path(), "[app]\nname = \"demo\"\n").unwrap().frontend.csp, None);
        for bad in
            ["\"\"", "\"  \"", "\"default-src 'self'\\r\\nX-Evil: 1\"", "\"script-src 'self'\\t\"", "\"img-src é\""]
        {
            let e = with(bad).unwrap_err();
            assert_eq!(e.key.as_deref(), Some("frontend.csp"), "{bad}: {e}");
            assert_eq!(e.line.map(|l| l.0), Some(4), "{bad}");
        }
    }

    /// The first bytes of a PNG file of `w`x`h` pixels: all the icon check reads.
    pub(super) fn png_header(w: u32, h: u32) -> Vec<u8> {
        let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        b.extend(w.to_be_bytes());
        b.extend(h.to_be_bytes());
        b.extend([8, 6, 0, 0, 0]);
        b
    }

    #[test]
    fn icon_must_be_one_small_png() {
        let dir = project();
        let with = |table: &str| parse(dir.path(), &format!("[app]\nname = \"demo\"\n{table}"));
        fs_err::write(dir.path().join("ok.png"), png_header(256, 256)).unwrap();
        fs_err::write(dir.path().join("big.png"), png_header(2048, 16)).unwrap();
        fs_err::write(dir.path().join("fake.png"), "GIF89a, not a png at all").unwrap();
        let c = with("icon = \"ok.png\"\n").unwrap();
        assert_eq!(c.window.options.icon.as_deref(), Some(dir.path().join("ok.png").to_str().unwrap()));
        assert!(with("[window]\nicon = \"ok.png\"\n").unwrap().window.options.icon.is_some());
        for (table, key, says) in [
            ("icon = \"big.png\"\n", "app.icon", "2048x16"),
            ("icon = \"fake.png\"\n", "app.icon", "not a PNG"),
            ("icon = \"gone.png\"\n", "app.icon", "cannot read"),
            ("icon = \"ok.png\"\n[window]\nicon = \"ok.png\"\n", "window.icon", "given twice"),
        ] {
            let e = with(table).unwrap_err();
            assert_eq!(e.key.as_deref(), Some(key), "{table}: {e}");
            assert!(e.to_string().contains(says), "{table}: {e}");
        }
    }

    #[test]
    fn window_limits_must_leave_a_size() {
        let dir = project();
        let with = |w: &str| parse(dir.path(), &format!("[app]\nname = \"demo\"\n[window]\n{w}"));
        let c = with("min_width = 320\nmax_width = 900\nalways_on_top = true\ndecorations = false\n").unwrap();
        assert_eq!((c.window.options.min_width, c.window.options.max_width), (Some(320), Some(900)));
        assert!(c.window.options.always_on_top);
        assert_eq!(c.window.options.decorations, Some(false));
        // The default (decorated) is not written into the manifest.
        assert_eq!(with("decorations = true\n").unwrap().window.options.decorations, None);
        let e = with("min_width = 901\nmax_width = 900\n").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("window.min_width"), "{e}");
        assert!(e.to_string().contains("901"), "{e}");
        let e = with("min_height = 800\nmax_height = 700\n").unwrap_err();
        assert!(e.to_string().contains("max_height 700"), "{e}");
    }

    #[test]
    fn dev_url_must_be_an_http_origin() {
        let dir = project();
        let with = |u: &str| parse(dir.path(), &format!("[app]\nname = \"demo\"\n[frontend]\ndev_url = \"{u}\"\n"));
        assert_eq!(with("http://localhost:5173").unwrap().frontend.dev_url.as_deref(), Some("http://localhost:5173"));
        for bad in ["localhost:5173", "file:///etc", "http://", "http://user@evil.example", "http://a b"] {
            let e = with(bad).unwrap_err();
            assert_eq!(e.key.as_deref(), Some("frontend.dev_url"), "{bad}: {e}");
            assert_eq!(e.line.map(|l| l.0), Some(4), "{bad}");
        }
    }

    #[test]
    fn stdlib_keep_takes_only_trimmed_parts() {
        let dir = project();
        let with = |v: &str| parse(dir.path(), &format!("[app]\nname = \"demo\"\n[python]\nstdlib_keep = {v}\n"));
        assert_eq!(with("[\"nis\", \"tkinter\"]").unwrap().python.stdlib_keep, ["nis", "tkinter"]);
        let e = with("[\"tkinter\", \"asyncio\"]").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("python.stdlib_keep"), "{e}");
        assert!(e.to_string().contains("`asyncio`"), "{e}");
        assert!(e.hint.as_deref().unwrap_or("").contains("crypt"), "{e:?}");
    }

    #[test]
    fn unknown_key_names_key() {
        let dir = project();
        let e = parse(dir.path(), "[app]\nname = \"demo\"\n[python]\nentrypoint = \"main:run\"\n").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("python.entrypoint"), "{e}");
        assert!(e.message.contains("unknown field"), "{e}");
        assert_eq!(e.line.map(|l| l.0), Some(4));
    }
}

#[cfg(test)]
mod reference_tests {
    use super::*;

    /// Every key the config accepts, as the README's reference names them.
    const ALL_KEYS: &[&str] = &[
        "app.name",
        "app.version",
        "app.title",
        "app.icon",
        "app.out_dir",
        "window.width",
        "window.height",
        "window.resizable",
        "window.debug",
        "window.min_width",
        "window.min_height",
        "window.max_width",
        "window.max_height",
        "window.center",
        "window.x",
        "window.y",
        "window.always_on_top",
        "window.decorations",
        "window.fullscreen",
        "window.maximized",
        "window.icon",
        "frontend.path",
        "frontend.build",
        "frontend.dev_url",
        "frontend.dev_command",
        "frontend.csp",
        "python.entry_point",
        "python.include_paths",
        "python.packages",
        "python.requirements",
        "python.version",
        "python.strategy",
        "python.isolation",
        "python.module_search_paths",
        "python.filesystem_importer",
        "python.external_bin",
        "python.resources",
        "python.exclude",
        "python.runtime",
        "python.interpreter",
        "python.stdlib_keep",
        "python.max_restarts",
        "python.heartbeat_timeout",
        "python.home",
        "python.embedded_fallback",
        "python.system_site_packages",
        "hooks.collect",
        "env",
        "license.type",
        "license.public_key",
        "license.expires_at",
        "license.grace_period_days",
        "plugins",
        "plugins.python",
    ];

    #[test]
    fn readme_documents_every_key_and_no_other() {
        let readme = fs_err::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
        let documented: Vec<&str> = readme
            .lines()
            .skip_while(|l| *l != "## Config reference")
            .skip(1)
            .take_while(|l| !l.starts_with("## ") && !l.starts_with("### "))
            .filter_map(|l| l.strip_prefix("| `"))
            .filter_map(|l| l.split_once("` |").map(|(k, _)| k))
            .collect();
        assert_eq!(documented, ALL_KEYS, "README config reference and ALL_KEYS differ");
    }

    #[test]
    fn every_documented_key_is_accepted() {
        let dir = tempfile::tempdir().unwrap();
        fs_err::create_dir_all(dir.path().join("frontend")).unwrap();
        fs_err::write(dir.path().join("main.py"), "def run(): pass\n").unwrap();
        fs_err::write(dir.path().join("a.txt"), "").unwrap();
        fs_err::write(dir.path().join("icon.png"), super::tests::png_header(16, 16)).unwrap();
        let mut tables: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for key in ALL_KEYS {
            let Some((table, name)) = key.split_once('.') else { continue };
            let value = match *key {
                "app.name" => "\"x\"".to_string(),
                "window.width"
                | "window.height"
                | "window.min_width"
                | "window.min_height"
                | "window.max_width"
                | "window.max_height"
                | "window.x"
                | "window.y"
                | "python.max_restarts"
                | "python.heartbeat_timeout" => "10".into(),
                // One of the two icon keys; both at once are an error.
                "window.icon" => continue,
                "app.icon" => "\"icon.png\"".into(),
                "frontend.dev_url" => "\"http://localhost:5173\"".into(),
                "window.center"
                | "window.always_on_top"
                | "window.decorations"
                | "window.fullscreen"
                | "window.maximized"
                | "window.resizable"
                | "window.debug"
                | "python.filesystem_importer"
                | "python.embedded_fallback"
                | "python.system_site_packages" => "true".into(),
                "frontend.path" => "\"frontend\"".into(),
                "python.entry_point" => "\"main:run\"".into(),
                "python.version" => "\"3.11\"".into(),
                "python.strategy" => "\"standalone\"".into(),
                "python.isolation" => "\"process\"".into(),
                "python.runtime" => "\".\"".into(),
                "python.module_search_paths" => "[\"$EXTRACT_DIR\"]".into(),
                "python.include_paths" | "python.external_bin" | "python.resources" => "[\"a.txt\"]".into(),
                "python.packages" | "python.exclude" => "[\"x\"]".into(),
                "python.stdlib_keep" => "[\"tkinter\"]".into(),
                "python.requirements" => "\"a.txt\"".into(),
                "hooks.collect" => "[{ from = \"a.txt\", to = \"r\" }]".into(),
                "license.expires_at" => "\"2099-12-31\"".into(),
                "license.grace_period_days" => "7".into(),
                "plugins.python" => "\"trusted\"".into(),
                _ => "\"v\"".into(),
            };
            tables.entry(table).or_default().push(format!("{name} = {value}"));
        }
        let mut text = String::new();
        for (table, lines) in tables {
            text.push_str(&format!("[{table}]\n{}\n", lines.join("\n")));
        }
        text.push_str("[env]\nK = \"v\"\n");
        fs_err::write(dir.path().join("main.py"), "def run(): pass\n").unwrap();
        let text = text.replace("include_paths = [\"a.txt\"]", "include_paths = [\".\"]");
        Config::parse(&dir.path().join(DEFAULT_FILE), &text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    }
}
