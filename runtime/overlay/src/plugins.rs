//! `[plugins]`: which native plugin commands an app may call, and with what. Nothing is allowed
//! unless granted. The packer validates the grants (naming the key of a bad value) and records them
//! in the manifest; the runtime checks every call against them before it runs.
//!
//! A grant is `true` (any argument), `false`, or a list of scopes whose kind depends on the command
//! ([`Scope`]): URL schemes, path globs, programs, or names. `[plugins] shell = true` grants every
//! command of a plugin.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

/// What a command's list of scopes holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Only `true` or `false`.
    Flag,
    /// URL schemes (`https`, `mailto`).
    Schemes,
    /// Path globs (`$HOME/Documents/**`); `*` stays within one path component, `**` crosses them.
    Paths,
    /// Program names looked up on `PATH` (`git`), or path globs (`$EXTRACT_DIR/bin/*`).
    Programs,
    /// Exact names (of programs for `which`, of variables for `get_env`).
    Names,
}

/// Every command, with the kind of its scopes.
pub const COMMANDS: &[(&str, Scope)] = &[
    ("shell.open", Scope::Schemes),
    ("shell.open_path", Scope::Paths),
    ("shell.show_in_folder", Scope::Paths),
    ("shell.which", Scope::Names),
    ("shell.execute", Scope::Programs),
    ("shell.spawn", Scope::Programs),
    ("shell.get_env", Scope::Names),
    ("process.spawn", Scope::Programs),
    ("process.write", Scope::Flag),
    ("process.kill", Scope::Flag),
    ("process.list", Scope::Flag),
    ("dialog.open_file", Scope::Flag),
    ("dialog.open_folder", Scope::Flag),
    ("dialog.save_file", Scope::Flag),
    ("dialog.message", Scope::Flag),
    ("dialog.confirm", Scope::Flag),
    ("clipboard.read_text", Scope::Flag),
    ("clipboard.write_text", Scope::Flag),
    ("clipboard.clear", Scope::Flag),
];

/// The variables a path or program scope may start with.
pub const SCOPE_VARIABLES: &[&str] = &["$HOME", "$EXTRACT_DIR", "$RESOURCES_DIR", "$APP_DIR", "$TEMP"];

/// The kind of scopes `command` takes; None for an unknown command.
pub fn scope_of(command: &str) -> Option<Scope> {
    COMMANDS.iter().find(|(c, _)| *c == command).map(|(_, s)| *s)
}

/// One grant: `true`/`false`, or a list of scopes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Grant {
    All(bool),
    Scopes(Vec<String>),
}

/// How the Python backend's forwarded commands are checked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PythonAccess {
    /// The same grants as the page.
    #[default]
    Scoped,
    /// Every command, with any argument: Python is the app's own trusted code.
    Trusted,
}

/// The `[plugins]` table, as the manifest records it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plugins {
    /// `plugin.command` (or a whole `plugin`) → grant.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub grants: BTreeMap<String, Grant>,
    #[serde(default)]
    pub python: PythonAccess,
}

/// Who is calling a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    Page,
    Python,
}

/// Where `[plugins.P] c` lives in the config, for messages.
pub fn config_key(command: &str) -> String {
    match command.split_once('.') {
        Some((plugin, name)) => format!("[plugins.{plugin}] {name}"),
        None => format!("[plugins] {command}"),
    }
}

/// A refused call, its message naming the key that would allow it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied(pub String);

impl std::fmt::Display for Denied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Plugins {
    pub fn is_empty(&self) -> bool {
        self.grants.is_empty() && self.python == PythonAccess::Scoped
    }

    /// Checks every grant: known plugins and commands, and scopes of the command's kind. The error
    /// names the key.
    pub fn validate(&self) -> Result<(), String> {
        for (key, grant) in &self.grants {
            let scope = match key.split_once('.') {
                None => {
                    if !COMMANDS.iter().any(|(c, _)| c.split_once('.').map(|(p, _)| p) == Some(key.as_str())) {
                        return Err(format!(
                            "[plugins] {key}: unknown plugin; known: shell, process, dialog, clipboard"
                        ));
                    }
                    if !matches!(grant, Grant::All(_)) {
                        return Err(format!(
                            "[plugins] {key}: a whole plugin takes true or false; give scopes per command, e.g. [plugins.{key}] <command> = [...]"
                        ));
                    }
                    continue;
                }
                Some(_) => scope_of(key).ok_or_else(|| {
                    let plugin = key.split_once('.').map(|(p, _)| p).unwrap_or(key);
                    let known: Vec<&str> =
                        COMMANDS.iter().filter_map(|(c, _)| c.strip_prefix(plugin)?.strip_prefix('.')).collect();
                    if known.is_empty() {
                        format!(
                            "{}: unknown plugin {plugin:?}; known: shell, process, dialog, clipboard",
                            config_key(key)
                        )
                    } else {
                        format!("{}: unknown command; {plugin} has {}", config_key(key), known.join(", "))
                    }
                })?,
            };
            let Grant::Scopes(scopes) = grant else { continue };
            for (i, s) in scopes.iter().enumerate() {
                check_scope(scope, s).map_err(|why| format!("{}[{i}] = {s:?}: {why}", config_key(key)))?;
            }
        }
        Ok(())
    }

    /// Whether `caller` may run `command` with `arg` (a URL, path, program or name, as the
    /// command's scope kind says; empty for flags). `vars` expands `$HOME` and the others.
    pub fn check(&self, caller: Caller, command: &str, arg: &str, vars: &Vars) -> Result<(), Denied> {
        if caller == Caller::Python && self.python == PythonAccess::Trusted {
            return Ok(());
        }
        let Some(scope) = scope_of(command) else {
            return Err(Denied(format!("unknown plugin command {command:?}")));
        };
        let plugin = command.split_once('.').map(|(p, _)| p).unwrap_or(command);
        let grant = self.grants.get(command).or_else(|| self.grants.get(plugin));
        let allow_hint = match scope {
            Scope::Flag => format!("{} = true", config_key(command)),
            Scope::Schemes => format!("{} = [\"https\"]", config_key(command)),
            Scope::Paths => format!("{} = [\"$HOME/**\"]", config_key(command)),
            Scope::Programs | Scope::Names => format!("{} = [\"name\"]", config_key(command)),
        };
        let scopes = match grant {
            Some(Grant::All(true)) => return Ok(()),
            None | Some(Grant::All(false)) => {
                return Err(Denied(format!(
                    "{command} is not allowed: grant it in auroraview.pack.toml with {allow_hint}"
                )));
            }
            Some(Grant::Scopes(scopes)) => scopes,
        };
        if scopes.iter().any(|s| scope_matches(scope, s, arg, vars)) {
            return Ok(());
        }
        let what = match scope {
            Scope::Schemes => format!("the scheme of {arg:?}"),
            _ => format!("{arg:?}"),
        };
        Err(Denied(format!(
            "{command} is not allowed for {what}: add it to {} in auroraview.pack.toml (now {scopes:?})",
            config_key(command)
        )))
    }
}

/// The values of [`SCOPE_VARIABLES`] for this run.
#[derive(Debug, Clone, Default)]
pub struct Vars(pub Vec<(&'static str, PathBuf)>);

impl Vars {
    /// `pattern` with a leading variable replaced; None when it names one this run has no value for.
    fn expand(&self, pattern: &str) -> Option<String> {
        if !pattern.starts_with('$') {
            return Some(pattern.to_string());
        }
        for (name, value) in &self.0 {
            if let Some(rest) = pattern.strip_prefix(name)
                && (rest.is_empty() || rest.starts_with('/'))
            {
                return Some(format!("{}{rest}", value.display()));
            }
        }
        None
    }
}

fn check_scope(scope: Scope, s: &str) -> Result<(), String> {
    match scope {
        Scope::Flag => Err("this command takes true or false, not a list".into()),
        Scope::Schemes => {
            let ok = s.chars().next().is_some_and(|c| c.is_ascii_lowercase())
                && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+.-".contains(c));
            if ok { Ok(()) } else { Err("a URL scheme is lowercase letters, digits, + . - (e.g. \"https\")".into()) }
        }
        Scope::Names => {
            if s.is_empty() || s.contains(['/', '\0', '*']) {
                Err("a name has no / or *".into())
            } else {
                Ok(())
            }
        }
        Scope::Paths | Scope::Programs => {
            if scope == Scope::Programs && !s.contains('/') {
                return if s.is_empty() || s.contains(['\0', '*', '?', '[']) {
                    Err("a program name has no wildcards; use a path glob for those".into())
                } else {
                    Ok(())
                };
            }
            if s.starts_with('$') && !SCOPE_VARIABLES.iter().any(|v| s == *v || s.starts_with(&format!("{v}/"))) {
                return Err(format!("unknown variable; use one of {}", SCOPE_VARIABLES.join(", ")));
            }
            if !s.starts_with('$') && !s.starts_with('/') {
                return Err(format!("a path scope is absolute or starts with one of {}", SCOPE_VARIABLES.join(", ")));
            }
            glob(s).map(|_| ()).map_err(|e| format!("not a valid glob: {e}"))
        }
    }
}

fn glob(pattern: &str) -> Result<globset::GlobMatcher, globset::Error> {
    Ok(globset::GlobBuilder::new(pattern).literal_separator(true).build()?.compile_matcher())
}

fn scope_matches(scope: Scope, s: &str, arg: &str, vars: &Vars) -> bool {
    match scope {
        Scope::Flag => false,
        Scope::Schemes => url_scheme(arg).is_some_and(|scheme| scheme == s),
        Scope::Names => arg == s,
        Scope::Programs if !s.contains('/') => arg == s,
        Scope::Programs | Scope::Paths => {
            let Some(pattern) = vars.expand(s) else { return false };
            let Some(path) = resolved(Path::new(arg)) else { return false };
            glob(&pattern).is_ok_and(|g| g.is_match(&path))
        }
    }
}

/// The scheme of a URL, lowercased; None when `url` has none.
pub fn url_scheme(url: &str) -> Option<String> {
    let (scheme, _) = url.split_once(':')?;
    let ok = scheme.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c));
    ok.then(|| scheme.to_ascii_lowercase())
}

/// `path` as the file system will see it: absolute, with symbolic links and `..` resolved (for a
/// path that does not exist yet, its nearest existing ancestor is resolved and the rest appended
/// with `..` refused). None for a relative path.
pub fn resolved(path: &Path) -> Option<PathBuf> {
    if !path.is_absolute() {
        return None;
    }
    if let Ok(p) = std::fs::canonicalize(path) {
        return Some(p);
    }
    let mut rest = Vec::new();
    let mut base = path;
    loop {
        let name = base.file_name()?;
        rest.push(name.to_os_string());
        base = base.parent()?;
        if let Ok(p) = std::fs::canonicalize(base) {
            let mut out = p;
            for part in rest.iter().rev() {
                out.push(part);
            }
            // A missing tail may not climb back out of the resolved part.
            return out.components().all(|c| !matches!(c, Component::ParentDir)).then_some(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plugins(grants: &[(&str, Grant)]) -> Plugins {
        Plugins { grants: grants.iter().map(|(k, g)| (k.to_string(), g.clone())).collect(), python: Default::default() }
    }

    fn scopes(s: &[&str]) -> Grant {
        Grant::Scopes(s.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn every_command_is_denied_by_default_with_the_key_that_allows_it() {
        let p = Plugins::default();
        for (command, _) in COMMANDS {
            let err = p.check(Caller::Page, command, "x", &Vars::default()).unwrap_err();
            assert!(err.0.contains(&config_key(command)), "{err}");
        }
    }

    #[test]
    fn schemes_paths_and_programs_are_matched() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::create_dir(root.join("docs")).unwrap();
        let vars = Vars(vec![("$HOME", root.clone())]);
        let p = plugins(&[
            ("shell.open", scopes(&["https", "mailto"])),
            ("shell.open_path", scopes(&["$HOME/docs/**"])),
            ("shell.execute", scopes(&["git", "$HOME/bin/*"])),
        ]);
        let ok = |c: &str, a: &str| p.check(Caller::Page, c, a, &vars).is_ok();
        assert!(ok("shell.open", "https://example.com"));
        assert!(ok("shell.open", "MAILTO:a@b"));
        assert!(!ok("shell.open", "file:///etc/passwd"));
        assert!(!ok("shell.open", "javascript-https://x"));
        assert!(ok("shell.open_path", &root.join("docs/a/b.txt").display().to_string()));
        assert!(!ok("shell.open_path", &root.join("docs/../secret").display().to_string()));
        assert!(!ok("shell.open_path", "docs/a"));
        assert!(ok("shell.execute", "git"));
        assert!(!ok("shell.execute", "/usr/bin/git"));
        assert!(ok("shell.execute", &root.join("bin/tool").display().to_string()));
        assert!(!ok("shell.execute", &root.join("bin/sub/tool").display().to_string()));
        assert!(!ok("shell.spawn", "git"));
    }

    #[test]
    fn a_whole_plugin_and_trusted_python() {
        let mut p = plugins(&[("clipboard", Grant::All(true)), ("clipboard.clear", Grant::All(false))]);
        let v = Vars::default();
        assert!(p.check(Caller::Page, "clipboard.read_text", "", &v).is_ok());
        assert!(p.check(Caller::Page, "clipboard.clear", "", &v).is_err());
        assert!(p.check(Caller::Python, "shell.open", "ftp://x", &v).is_err());
        p.python = PythonAccess::Trusted;
        assert!(p.check(Caller::Python, "shell.open", "ftp://x", &v).is_ok());
        assert!(p.check(Caller::Page, "shell.open", "ftp://x", &v).is_err());
    }

    #[test]
    fn bad_grants_name_their_key() {
        let err = |g: &[(&str, Grant)]| plugins(g).validate().unwrap_err();
        assert!(err(&[("shell.opn", Grant::All(true))]).contains("[plugins.shell] opn"));
        assert!(err(&[("shel", Grant::All(true))]).contains("unknown plugin"));
        assert!(err(&[("shell.open", scopes(&["HTTPS"]))]).contains("[plugins.shell] open[0]"));
        assert!(err(&[("dialog.confirm", scopes(&["x"]))]).contains("true or false"));
        assert!(err(&[("shell.execute", scopes(&["$NOPE/x"]))]).contains("unknown variable"));
        assert!(err(&[("shell.execute", scopes(&["bin/*"]))]).contains("absolute"));
        plugins(&[("shell.execute", scopes(&["git", "$EXTRACT_DIR/bin/*"]))]).validate().unwrap();
    }
}
