//! The app's native plugins (`auroraview-plugins`): one host per app process, created by the plan
//! for runs that serve a page or a backend (not for a supervised child, which reaches its parent's
//! host through the descriptor it inherits). The window hands it the page's plugin calls; each
//! Python backend gets a socket to it, named by `AURORAVIEW_PLUGINS_FD`.

use crate::app::layout::Layout;
use anyhow::{Context, Result};
use auroraview_overlay::plugins::{Plugins, Vars};
pub use auroraview_plugins::{FD_ENV, Host};
use std::os::fd::{IntoRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The host for an app whose files are laid out as `layout`.
pub fn host(grants: &Plugins, layout: &Layout) -> Arc<Host> {
    Host::new(grants.clone(), vars(&layout.python, &layout.resources, &layout.root))
}

/// The host of a `dev` run, whose app is its source directory.
pub fn dev_host(grants: &Plugins, app_dir: &Path, resources: &Path) -> Arc<Host> {
    Host::new(grants.clone(), vars(app_dir, resources, app_dir))
}

fn vars(extract: &Path, resources: &Path, app: &Path) -> Vars {
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| "/".into());
    Vars(vec![
        ("$HOME", home),
        ("$EXTRACT_DIR", extract.to_path_buf()),
        ("$RESOURCES_DIR", resources.to_path_buf()),
        ("$APP_DIR", app.to_path_buf()),
        ("$TEMP", std::env::temp_dir()),
    ])
}

/// Connects the Python of this process: its socket stays open (close-on-exec, so the app's own
/// child processes do not get it) for the life of the process. Returns the variable to set.
pub fn connect_in_process(host: &Arc<Host>) -> Result<(String, String)> {
    let fd: OwnedFd = host.connect_python().context("connecting Python to the plugins")?;
    Ok((FD_ENV.to_string(), fd.into_raw_fd().to_string()))
}
