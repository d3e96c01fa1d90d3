//! What `auroraview-pack dev` hands the runtime to run an app from its sources: no overlay, no
//! extraction; the frontend is served from its directory and Python runs from the developer's own
//! interpreter in a child process, restarted when a watched `.py` file changes.

use crate::entry::EntryPoint;
use crate::manifest::Manifest;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DevSpec {
    pub manifest: Manifest,
    pub frontend: PathBuf,
    pub interpreter: PathBuf,
    /// `PYTHONPATH` for the child: the app's include paths and the `auroraview` package.
    pub python_path: Vec<PathBuf>,
    /// A script is given by its absolute path.
    pub entry: EntryPoint,
    /// Working directory of the child (the config's directory).
    pub cwd: PathBuf,
    pub resources: PathBuf,
    pub headless: bool,
    /// Directories whose `.py` files restart Python when they change (empty: no reloading).
    pub watch: Vec<PathBuf>,
    /// The window library.
    pub gui: PathBuf,
    /// Load the page from this dev server instead of `frontend` (`[frontend] dev_url`, `--url`).
    #[serde(default)]
    pub dev_url: Option<String>,
}
