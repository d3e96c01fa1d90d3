//! The embedded CPython's whole life: configure, initialise, run the entry point, finalise. Every
//! step happens on the one thread that owns the interpreter (finalising from another thread hangs).
//! See DESIGN.md section 4 for why the configuration is done this way.

use crate::environment::Entry;
use anyhow::{Result, bail};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::ffi::CString;
use std::path::{Path, PathBuf};

pub struct Settings {
    /// Python's home: the extracted runtime (prefix of `lib/pythonX.Y`).
    pub home: Option<PathBuf>,
    /// `pyoxidizer`: the app's tree holding module tables, and whether path-based import stays.
    pub in_memory: Option<(PathBuf, bool)>,
    pub program: PathBuf,
    pub argv: Vec<String>,
    pub sys_path: Vec<PathBuf>,
}

/// The running interpreter. Not `Send`: it must be finished on the thread that started it.
pub struct Interpreter {
    tstate: *mut ffi::PyThreadState,
}

/// `wchar_t` string for the C API. Python is pre-initialised in UTF-8 mode.
#[cfg(unix)]
fn wide(s: &std::ffi::OsStr) -> Vec<libc::wchar_t> {
    s.to_string_lossy().chars().map(|c| c as libc::wchar_t).chain(std::iter::once(0)).collect()
}

fn check(status: ffi::PyStatus, what: &str) -> Result<()> {
    // SAFETY: PyStatus_Exception only inspects the status value.
    if unsafe { ffi::PyStatus_Exception(status) } != 0 {
        let msg = if status.err_msg.is_null() {
            "unknown error".to_string()
        } else {
            // SAFETY: err_msg is a NUL-terminated static string set by CPython.
            unsafe { std::ffi::CStr::from_ptr(status.err_msg) }.to_string_lossy().into_owned()
        };
        bail!("{what}: {msg}");
    }
    Ok(())
}

impl Interpreter {
    pub fn start(settings: &Settings) -> Result<Interpreter> {
        pyo3::append_to_inittab!(_auroraview_runtime);
        // SAFETY: the configuration structs are initialised by CPython's own init functions before
        // use, every string passed is NUL-terminated and outlives the call, and this runs once, on
        // the thread that will own the interpreter.
        unsafe {
            let mut pre: ffi::PyPreConfig = std::mem::zeroed();
            ffi::PyPreConfig_InitIsolatedConfig(&mut pre);
            pre.utf8_mode = 1;
            check(ffi::Py_PreInitialize(&pre), "pre-initialising Python")?;

            let mut config: ffi::PyConfig = std::mem::zeroed();
            ffi::PyConfig_InitIsolatedConfig(&mut config);
            let result = Self::configure(&mut config, settings)
                .and_then(|()| check(ffi::Py_InitializeFromConfig(&config), "initialising Python"));
            ffi::PyConfig_Clear(&mut config);
            result?;
            // Release the GIL: from here on every access goes through `Python::attach`.
            let tstate = ffi::PyEval_SaveThread();
            let interp = Interpreter { tstate };
            if let Some((root, filesystem)) = &settings.in_memory {
                let installed = Python::attach(|py| {
                    crate::importer::install(py, root, *filesystem).map_err(|e| match e.downcast::<PyErr>() {
                        Ok(err) => {
                            err.print(py);
                            anyhow::anyhow!("a Python error (printed above)")
                        }
                        Err(e) => e,
                    })
                });
                if let Err(e) = installed {
                    interp.finish();
                    return Err(e.context("installing the in-memory importer"));
                }
            }
            Ok(interp)
        }
    }

    /// # Safety
    /// `config` must have been initialised by `PyConfig_InitIsolatedConfig`.
    unsafe fn configure(config: &mut ffi::PyConfig, s: &Settings) -> Result<()> {
        unsafe {
            let cfg: *mut ffi::PyConfig = config;
            let set = move |field: *mut *mut libc::wchar_t, value: &std::ffi::OsStr, what: &str| {
                let w = wide(value);
                check(ffi::PyConfig_SetString(cfg, field, w.as_ptr()), what)
            };
            if let Some(home) = &s.home {
                set(&raw mut (*cfg).home, home.as_os_str(), "setting Python's home")?;
            }
            set(&raw mut (*cfg).program_name, s.program.as_os_str(), "setting the program name")?;
            let argv: Vec<Vec<libc::wchar_t>> = s.argv.iter().map(|a| wide(a.as_ref())).collect();
            let mut ptrs: Vec<*const libc::wchar_t> = argv.iter().map(|a| a.as_ptr()).collect();
            check(ffi::PyConfig_SetArgv(config, ptrs.len() as _, ptrs.as_mut_ptr()), "setting sys.argv")?;
            config.module_search_paths_set = 1;
            for p in &s.sys_path {
                let w = wide(p.as_os_str());
                check(ffi::PyWideStringList_Append(&mut config.module_search_paths, w.as_ptr()), "setting sys.path")?;
            }
            config.parse_argv = 0;
            config.site_import = 0;
            config.write_bytecode = 0;
            config.install_signal_handlers = 0;
            config.safe_path = 1;
            config.user_site_directory = 0;
        }
        Ok(())
    }

    /// Runs `code` with the GIL; a Python exception is reported and becomes an exit code.
    pub fn run_entry(&self, entry: &Entry, site_packages: &Path) -> u8 {
        Python::attach(|py| {
            let result = (|| -> PyResult<()> {
                process_pth_files(py, site_packages)?;
                match entry {
                    Entry::Function { module, function } => {
                        py.import(module.as_str())?.getattr(function.as_str())?.call0()?;
                    }
                    Entry::Script(path) => {
                        let kwargs = PyDict::new(py);
                        kwargs.set_item("run_name", "__main__")?;
                        py.import("runpy")?.call_method("run_path", (path.as_os_str(),), Some(&kwargs))?;
                    }
                }
                // An entry point that returned without showing its window is served too.
                let webview = py.import("auroraview.webview")?;
                if !webview.call_method0("was_served")?.is_truthy()? {
                    webview.call_method0("serve_forever")?;
                }
                Ok(())
            })();
            match result {
                Ok(()) => 0,
                Err(err) => exit_code(py, err),
            }
        })
    }

    /// Runs a snippet of Python (benchmarks and diagnostics).
    pub fn run_code(&self, code: &str) -> u8 {
        Python::attach(|py| {
            let code = CString::new(code).expect("no NUL in code");
            match py.run(&code, None, None) {
                Ok(()) => 0,
                Err(err) => exit_code(py, err),
            }
        })
    }

    /// Finalises (flushing Python's buffered output). Returns false if finalisation failed.
    pub fn finish(self) -> bool {
        // SAFETY: this is the thread that initialised the interpreter and saved `tstate`; no
        // `Python::attach` is active on it.
        unsafe {
            ffi::PyEval_RestoreThread(self.tstate);
            ffi::Py_FinalizeEx() == 0
        }
    }
}

/// `SystemExit(n)` passes `n` through; any other exception prints its traceback and gives 1.
fn exit_code(py: Python<'_>, err: PyErr) -> u8 {
    if err.is_instance_of::<pyo3::exceptions::PySystemExit>(py) {
        let code = err.value(py).getattr("code").ok();
        return match code {
            None => 0,
            Some(c) if c.is_none() => 0,
            Some(c) => match c.extract::<i64>() {
                Ok(n) => (n & 0xff) as u8,
                Err(_) => {
                    eprintln!("{c}");
                    1
                }
            },
        };
    }
    err.print(py);
    1
}

/// Without `site`, `.pth` files are not read; process them only when the app ships any.
fn process_pth_files(py: Python<'_>, site_packages: &Path) -> PyResult<()> {
    let has_pth = std::fs::read_dir(site_packages)
        .map(|rd| rd.flatten().any(|e| e.file_name().to_string_lossy().ends_with(".pth")))
        .unwrap_or(false);
    if has_pth {
        py.import("site")?.call_method1("addsitedir", (site_packages.as_os_str(),))?;
    }
    Ok(())
}

use crate::transport::_auroraview_runtime;
