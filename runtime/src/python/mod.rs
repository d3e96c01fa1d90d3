//! Python inside this process: the dispatcher and `_auroraview_runtime` transport, and the thread
//! named `python` that owns the interpreter. A runtime built without the `python` feature (the
//! small stub for the `system` strategy) has none of it and says so.

use crate::environment::Layout;
use crate::headless::Sink;
use anyhow::Result;
use auroraview_overlay::Manifest;
use crossbeam_channel::Receiver;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

#[cfg(feature = "python")]
mod embedded {
    use super::*;
    use crate::environment::Entry;
    use crate::interpreter::{Interpreter, Settings};
    use crate::transport::{self, ChannelSource, LineSource};
    use crate::{headless, log, subprocess};
    use anyhow::Context;
    use auroraview_overlay::Strategy;
    use std::sync::Mutex;

    /// `--headless` (or `--python-child`) with Python in this process, reading the protocol fd.
    pub fn headless(
        manifest: &Manifest,
        layout: &Layout,
        exe: &Path,
        rest: Vec<String>,
        input: File,
        output: File,
        child: bool,
    ) -> Result<u8> {
        let t = transport::start(
            Box::new(LineSource(Mutex::new(std::io::BufReader::with_capacity(1 << 16, input)))),
            headless::line_writer(output),
        )?;
        let code = run_python(manifest, layout, exe, rest)?;
        if child {
            // Tells the supervisor the app ended on purpose (not a crash to restart).
            let _ = (t.sink)(&format!(r#"{{"event":"{}","data":{{"code":{code}}}}}"#, subprocess::EXIT_EVENT));
        }
        Ok(code)
    }

    /// `--python-child` supervised through a journal: the app's Python serves the client's pipes
    /// itself (`auroraview._serve.Journal`); this only reports how its entry point ended.
    pub fn direct_child(manifest: &Manifest, layout: &Layout, exe: &Path, rest: Vec<String>) -> Result<u8> {
        let control = std::env::var(crate::journal::CONTROL_ENV)
            .ok()
            .and_then(|v| v.parse().ok())
            .context("AURORAVIEW_CONTROL_FD is not set to a descriptor")?;
        let code = run_python(manifest, layout, exe, rest)?;
        crate::journal::finish(control, code);
        Ok(code)
    }

    /// Serves the window's requests with Python in this process.
    pub fn serve_channel(
        manifest: &Manifest,
        layout: &Layout,
        exe: &Path,
        rest: Vec<String>,
        requests: Receiver<String>,
        sink: Arc<Sink>,
    ) -> Result<u8> {
        transport::start(Box::new(ChannelSource(requests)), Box::new(move |line: &str| sink(line)))?;
        run_python(manifest, layout, exe, rest)
    }

    pub fn bench(n: usize, manifest: &Manifest, layout: &Layout, exe: &Path) -> Result<u8> {
        crate::bench::in_process(n, manifest, layout, exe)
    }

    /// Runs the app's Python on a thread named `python` and waits for it. Returns the exit code.
    pub fn run_python(manifest: &Manifest, layout: &Layout, exe: &std::path::Path, rest: Vec<String>) -> Result<u8> {
        run_python_then(manifest, layout, exe, rest, None)
    }

    pub fn run_python_then(
        manifest: &Manifest,
        layout: &Layout,
        exe: &std::path::Path,
        rest: Vec<String>,
        after: Option<String>,
    ) -> Result<u8> {
        let mut argv = vec![exe.display().to_string()];
        argv.extend(rest);
        let in_memory = (manifest.python.strategy == Strategy::Pyoxidizer)
            .then(|| (layout.root.clone(), manifest.python.filesystem_importer));
        let settings = Settings {
            home: layout.home.clone(),
            in_memory,
            program: exe.to_path_buf(),
            argv,
            sys_path: layout.sys_path(manifest),
        };
        let entry = Entry::parse(&manifest.python.entry_point, &layout.python);
        let site_packages = layout.site_packages.clone();
        let python = std::thread::Builder::new()
            .name("python".into())
            .spawn(move || -> Result<u8> {
                let interp = Interpreter::start(&settings)?;
                log::debug!("Python initialised (home {:?})", settings.home);
                let mut code = interp.run_entry(&entry, &site_packages);
                log::debug!("entry point finished with exit code {code}");
                if let (0, Some(code_after)) = (code, after) {
                    code = interp.run_code(&code_after);
                }
                if !interp.finish() && code == 0 {
                    code = 120;
                }
                Ok(code)
            })
            .context("starting the Python thread")?;
        python.join().map_err(|_| anyhow::anyhow!("the Python thread panicked"))?
    }
}

#[cfg(feature = "python")]
pub use embedded::{bench, direct_child, headless, run_python_then, serve_channel};

#[cfg(not(feature = "python"))]
mod lite {
    use super::*;

    fn none() -> anyhow::Error {
        anyhow::anyhow!(
            "this runtime has no embedded Python: it runs only `system` strategy apps\nhint: repack the app with the full runtime (auroraview-runtime), or with `strategy = \"system\"`"
        )
    }

    pub fn headless(_: &Manifest, _: &Layout, _: &Path, _: Vec<String>, _: File, _: File, _: bool) -> Result<u8> {
        Err(none())
    }

    pub fn serve_channel(
        _: &Manifest,
        _: &Layout,
        _: &Path,
        _: Vec<String>,
        _: Receiver<String>,
        _: Arc<Sink>,
    ) -> Result<u8> {
        Err(none())
    }

    pub fn bench(_: usize, _: &Manifest, _: &Layout, _: &Path) -> Result<u8> {
        Err(none())
    }

    pub fn direct_child(_: &Manifest, _: &Layout, _: &Path, _: Vec<String>) -> Result<u8> {
        Err(none())
    }
}

#[cfg(not(feature = "python"))]
pub use lite::{bench, direct_child, headless, serve_channel};
