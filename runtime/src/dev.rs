//! `--dev SPEC`: what `auroraview-pack dev` runs. The app comes from its sources, not an overlay:
//! the window serves the frontend directory live, Python runs from the developer's interpreter in
//! a child process, and with watch directories a changed `.py` file restarts it.

use crate::supervisor::{self, relay::Forwarder};
use crate::window;
use anyhow::{Context, Result};
use auroraview_overlay::dev::DevSpec;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// What a dev run serves: the child to supervise, the window (none with `--headless`), and the
/// directories whose `.py` files restart it.
pub struct Dev {
    pub settings: supervisor::Settings,
    pub window: Option<window::Spec>,
    pub watch: Vec<PathBuf>,
}

pub fn resolve(spec_path: &Path) -> Result<Dev> {
    let spec: DevSpec = serde_json::from_slice(&fs_err::read(spec_path)?)
        .with_context(|| format!("reading the dev spec {}", spec_path.display()))?;
    // Written for this run only by `auroraview-pack dev`.
    let _ = fs_err::remove_file(spec_path);
    let python_path = std::env::join_paths(&spec.python_path).context("a Python path contains the separator")?;
    let mut env = vec![
        ("PYTHONPATH".to_string(), python_path),
        ("AURORAVIEW_DEV".to_string(), "1".into()),
        ("AURORAVIEW_RESOURCES_DIR".to_string(), spec.resources.clone().into_os_string()),
    ];
    env.extend(spec.manifest.env.iter().map(|(k, v)| (k.clone(), v.into())));
    let settings = supervisor::Settings {
        program: spec.interpreter.clone(),
        // A script is given by its absolute path.
        args: supervisor::python_child_args(&spec.entry, Path::new("")),
        env,
        cwd: Some(spec.cwd.clone()),
        // A developer's crashing code is restarted as often as they edit it.
        max_restarts: u32::MAX,
        heartbeat_timeout: Duration::from_millis(spec.manifest.python.heartbeat_timeout_ms),
        plugins: Some(crate::plugins::dev_host(&spec.manifest.plugins, &spec.cwd, &spec.resources)),
    };
    let window = (!spec.headless).then(|| {
        window::Spec::new(&spec.manifest, spec.gui.clone(), spec.frontend.clone(), &spec.cwd)
            .for_dev(spec.dev_url.as_deref())
    });
    Ok(Dev { settings, window, watch: spec.watch })
}

/// Polls the `.py` files below `dirs` and restarts the backend when one changes.
pub fn watch(dirs: Vec<PathBuf>, forwarder: Arc<Forwarder>) -> Result<()> {
    fn snapshot(dirs: &[PathBuf]) -> HashMap<PathBuf, SystemTime> {
        let mut seen = HashMap::new();
        for dir in dirs {
            let mut stack = vec![dir.clone()];
            while let Some(d) = stack.pop() {
                for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                    let path = entry.path();
                    let name = entry.file_name();
                    let name = name.to_string_lossy();
                    if name.starts_with('.') || name == "__pycache__" || name == "node_modules" {
                        continue;
                    }
                    match entry.file_type() {
                        Ok(t) if t.is_dir() => stack.push(path),
                        Ok(_) if name.ends_with(".py") => {
                            if let Ok(m) = entry.metadata().and_then(|m| m.modified()) {
                                seen.insert(path, m);
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
        seen
    }
    std::thread::Builder::new().name("dev-reload".into()).spawn(move || {
        let mut last = snapshot(&dirs);
        loop {
            std::thread::sleep(Duration::from_millis(300));
            let now = snapshot(&dirs);
            if now != last {
                last = now;
                forwarder.restart();
            }
        }
    })?;
    Ok(())
}
