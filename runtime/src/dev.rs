//! `--dev SPEC`: what `auroraview-pack dev` runs. The app comes from its sources, not an overlay:
//! the window serves the frontend directory live, Python runs from the developer's interpreter in
//! a child process, and with watch directories a changed `.py` file restarts it.

use crate::gui;
use crate::subprocess::{self, Forwarder};
use anyhow::{Context, Result};
use auroraview_overlay::dev::DevSpec;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

pub fn run(spec_path: &Path) -> Result<u8> {
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
    let settings = subprocess::Settings {
        program: spec.interpreter.clone(),
        args: vec!["-m".into(), "auroraview._child".into(), spec.entry.clone().into()],
        env,
        cwd: Some(spec.cwd.clone()),
        // A developer's crashing code is restarted as often as they edit it.
        max_restarts: u32::MAX,
        heartbeat_timeout: Duration::from_millis(spec.manifest.python.heartbeat_timeout_ms),
    };
    let forwarder = Arc::new(Forwarder::default());
    if !spec.watch.is_empty() {
        watch(spec.watch.clone(), forwarder.clone())?;
    }
    if spec.headless {
        let (input, output) = crate::headless::take_stdio().context("taking stdin/stdout for the protocol")?;
        subprocess::forward_lines(input, forwarder.clone())?;
        return subprocess::run(&settings, &forwarder, Arc::new(crate::headless::line_writer(output)));
    }
    let w = gui::Window { library: spec.gui.clone(), manifest: &spec.manifest, frontend: spec.frontend.clone() };
    gui::run(w, move |requests, sink| {
        subprocess::forward_channel(requests, forwarder.clone())?;
        subprocess::run(&settings, &forwarder, sink)
    })
}

/// Polls the `.py` files below `dirs` and restarts the backend when one changes.
fn watch(dirs: Vec<PathBuf>, forwarder: Arc<Forwarder>) -> Result<()> {
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
