//! What Python sees of its surroundings: `sys.path` from `module_search_paths`, and the
//! `AURORAVIEW_*` variables, `PYTHONPATH` for child processes and the config's `[env]`.

use auroraview_overlay::Manifest;
use std::path::{Path, PathBuf};

/// Where things are once extracted (or, for `portable`, beside the executable).
#[derive(Debug, Clone)]
pub struct Layout {
    pub root: PathBuf,
    pub python: PathBuf,
    pub site_packages: PathBuf,
    pub resources: PathBuf,
    /// Python's home, when the app carries a runtime.
    pub home: Option<PathBuf>,
    pub stdlib: Option<PathBuf>,
    /// The zip of the stdlib's bytecode, searched before `stdlib`.
    pub stdlib_zip: Option<PathBuf>,
}

impl Layout {
    pub fn new(root: &Path, manifest: &Manifest) -> Layout {
        let python = root.join("python");
        let home = manifest.runtime.as_ref().map(|r| root.join(&r.root));
        let stdlib = manifest.runtime.as_ref().map(|r| root.join(&r.root).join(&r.stdlib));
        let stdlib_zip = manifest.runtime.as_ref().and_then(|r| Some(root.join(&r.root).join(r.stdlib_zip.as_ref()?)));
        Layout {
            root: root.to_path_buf(),
            site_packages: python.join("site-packages"),
            python,
            resources: root.join("resources"),
            home,
            stdlib,
            stdlib_zip,
        }
    }

    /// Uses the stdlib of the install prefix `home` (the `embedded` strategy).
    pub fn use_home(&mut self, home: &Path, version: &str) {
        self.stdlib = Some(home.join("lib").join(format!("python{version}")));
        self.stdlib_zip = None;
        self.home = Some(home.to_path_buf());
    }

    /// Expands `$EXTRACT_DIR`, `$SITE_PACKAGES` and `$RESOURCES_DIR` at the start of `text`;
    /// other relative paths are relative to the app's `python/` directory.
    pub fn expand(&self, text: &str) -> PathBuf {
        for (var, base) in [
            ("$EXTRACT_DIR", &self.python),
            ("$SITE_PACKAGES", &self.site_packages),
            ("$RESOURCES_DIR", &self.resources),
        ] {
            if let Some(rest) = text.strip_prefix(var) {
                let rest = rest.trim_start_matches(['/', '\\']);
                return if rest.is_empty() { base.clone() } else { base.join(rest) };
            }
        }
        self.python.join(text)
    }

    /// The app's search paths, expanded, in the order configured.
    pub fn app_paths(&self, manifest: &Manifest) -> Vec<PathBuf> {
        manifest.python.module_search_paths.iter().map(|p| self.expand(p)).collect()
    }

    /// Full `sys.path`: the app's paths, the stdlib (its zip, when it has one, in place of its
    /// directory), then site-packages (so a backport in site-packages never shadows the stdlib
    /// module it backports).
    #[cfg_attr(not(feature = "python"), allow(dead_code))]
    pub fn sys_path(&self, manifest: &Manifest) -> Vec<PathBuf> {
        let (site, app): (Vec<_>, Vec<_>) =
            self.app_paths(manifest).into_iter().partition(|p| p.starts_with(&self.site_packages));
        let mut paths = app;
        if let Some(stdlib) = &self.stdlib {
            paths.push(self.stdlib_zip.clone().unwrap_or_else(|| stdlib.clone()));
            paths.push(stdlib.join("lib-dynload"));
        }
        paths.extend(site);
        paths
    }

    /// Variables for Python and its children. `PYTHONPATH` carries the app's paths so a child
    /// interpreter started by the app finds the same modules.
    pub fn variables(&self, manifest: &Manifest) -> Vec<(String, String)> {
        let joined = std::env::join_paths(self.app_paths(manifest))
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut vars = vec![
            ("AURORAVIEW_PACKED".to_string(), "1".to_string()),
            ("AURORAVIEW_APP_DIR".to_string(), self.root.display().to_string()),
            ("AURORAVIEW_RESOURCES_DIR".to_string(), self.resources.display().to_string()),
            ("AURORAVIEW_PYTHON_PATH".to_string(), joined.clone()),
            ("PYTHONPATH".to_string(), joined),
        ];
        let examples = self.resources.join("examples");
        if examples.is_dir() {
            vars.push(("AURORAVIEW_EXAMPLES_DIR".to_string(), examples.display().to_string()));
        }
        for (k, v) in &manifest.env {
            vars.push((k.clone(), self.expand_vars(v)));
        }
        vars
    }

    /// `[env]` values may use the same variables as `module_search_paths`, anywhere in the value.
    fn expand_vars(&self, value: &str) -> String {
        value
            .replace("$EXTRACT_DIR", &self.python.display().to_string())
            .replace("$SITE_PACKAGES", &self.site_packages.display().to_string())
            .replace("$RESOURCES_DIR", &self.resources.display().to_string())
    }
}
