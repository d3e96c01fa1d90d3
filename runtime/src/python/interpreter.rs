//! The embedded CPython's whole life: configure, initialise, run the entry point, finalise. One
//! [`Interpreter`] owns it: a second initialisation in the process is an error, and dropping the
//! owner finalises. Every step happens on the one thread that owns the interpreter (finalising
//! from another thread hangs). `docs/ARCHITECTURE.md` says why it is configured this way.

use anyhow::{Result, bail};
use pyo3::ffi;
use pyo3::prelude::*;
use std::ffi::{CString, OsString};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// Set by the first [`Interpreter::start`]: CPython cannot be initialised twice in one process
/// (nor again after finalising, with extension modules loaded).
static STARTED: AtomicBool = AtomicBool::new(false);

/// The in-memory importer: the app's tree, the tables in it (`pyoxidizer`: the stdlib's,
/// site-packages' and the app's; `standalone`: the stdlib's only), and whether path-based import
/// stays.
pub struct InMemory {
    pub root: PathBuf,
    pub tables: &'static [&'static str],
    pub filesystem_importer: bool,
}

pub struct Settings {
    /// Python's home: the extracted runtime (prefix of `lib/pythonX.Y`).
    pub home: Option<PathBuf>,
    /// Module tables to import from before the path finder.
    pub in_memory: Option<InMemory>,
    pub program: PathBuf,
    /// `sys.executable`: a program that runs this app's Python as `python` does.
    pub executable: Option<PathBuf>,
    pub argv: Vec<String>,
    pub sys_path: Vec<PathBuf>,
    /// Behave as the `python` command: `argv` is a Python command line (`-c`, `-m`, a script,
    /// `-I`, `-u`, ...), run by [`Interpreter::run_main`], with Python's own signal handlers.
    pub command_line: bool,
}

/// The running interpreter. Not `Send` (it holds a raw thread state): it is finalised on the
/// thread that started it, when it is dropped or [`Interpreter::finish`]ed.
pub struct Interpreter {
    /// The main thread state saved after initialisation; null once finalised.
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
        if STARTED.swap(true, Ordering::SeqCst) {
            bail!("the Python interpreter was already started in this process");
        }
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
            if let Some(m) = &settings.in_memory {
                let installed = Python::attach(|py| {
                    super::importer::install(py, &m.root, m.filesystem_importer, m.tables).map_err(|e| {
                        match e.downcast::<PyErr>() {
                            Ok(err) => {
                                err.print(py);
                                anyhow::anyhow!("a Python error (printed above)")
                            }
                            Err(e) => e,
                        }
                    })
                });
                if let Err(e) = installed {
                    drop(interp);
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
            if let Some(executable) = &s.executable {
                set(&raw mut (*cfg).executable, executable.as_os_str(), "setting sys.executable")?;
            }
            let argv: Vec<Vec<libc::wchar_t>> = s.argv.iter().map(|a| wide(a.as_ref())).collect();
            let mut ptrs: Vec<*const libc::wchar_t> = argv.iter().map(|a| a.as_ptr()).collect();
            check(ffi::PyConfig_SetArgv(config, ptrs.len() as _, ptrs.as_mut_ptr()), "setting sys.argv")?;
            config.module_search_paths_set = 1;
            for p in &s.sys_path {
                let w = wide(p.as_os_str());
                check(ffi::PyWideStringList_Append(&mut config.module_search_paths, w.as_ptr()), "setting sys.path")?;
            }
            config.site_import = 0;
            config.write_bytecode = 0;
            config.user_site_directory = 0;
            // As `python` would: the command line's flags apply, the script's directory (or the
            // current one for `-c`) comes first on sys.path, and Ctrl+C raises KeyboardInterrupt.
            let command_line = i32::from(s.command_line);
            config.parse_argv = command_line;
            config.install_signal_handlers = command_line;
            // Isolation turns `safe_path` on (3.11+; before 3.11 it alone kept the script's
            // directory off sys.path), so the `python` command is isolated only if `-I` says so.
            // The machine's environment and user site stay ignored: those are separate fields.
            config.isolated = 1 - command_line;
            #[cfg(Py_3_11)]
            {
                config.safe_path = 1 - command_line;
            }
        }
        Ok(())
    }

    /// Runs the entry point (`entry`: the words `auroraview._child.run` takes) and serves until the
    /// app ends; returns its exit code. How an exception or `SystemExit` becomes the exit code is
    /// decided there, once for every mode.
    pub fn run_entry(&self, entry: &[OsString], site_packages: &Path) -> u8 {
        Python::attach(|py| {
            let result = (|| -> PyResult<u8> {
                process_pth_files(py, site_packages)?;
                let code: i64 = py.import("auroraview._child")?.getattr("run")?.call1((entry.to_vec(),))?.extract()?;
                Ok((code & 0xff) as u8)
            })();
            result.unwrap_or_else(|err| {
                err.print(py);
                1
            })
        })
    }

    /// Runs a snippet of Python (benchmarks); an exception is printed and gives 1.
    pub fn run_code(&self, code: &str) -> u8 {
        Python::attach(|py| {
            let Ok(code) = CString::new(code) else { return 1 };
            match py.run(&code, None, None) {
                Ok(()) => 0,
                Err(err) => {
                    err.print(py);
                    1
                }
            }
        })
    }

    /// Runs the command line given in [`Settings::argv`] as `python` would and finalises; returns
    /// its exit code. Call on the main thread (Python's signal handlers live there).
    pub fn run_main(mut self, site_packages: &Path) -> u8 {
        if let Err(err) = Python::attach(|py| process_pth_files(py, site_packages)) {
            Python::attach(|py| err.print(py));
        }
        let tstate = std::mem::replace(&mut self.tstate, std::ptr::null_mut());
        // SAFETY: this thread initialised the interpreter and saved `tstate`, which is used once;
        // Py_RunMain runs the configured command and finalises the interpreter itself.
        let code = unsafe {
            ffi::PyEval_RestoreThread(tstate);
            ffi::Py_RunMain()
        };
        (code & 0xff) as u8
    }

    /// Finalises now (flushing Python's buffered output). Returns false if finalisation failed.
    pub fn finish(mut self) -> bool {
        self.finalize()
    }

    fn finalize(&mut self) -> bool {
        let tstate = std::mem::replace(&mut self.tstate, std::ptr::null_mut());
        if tstate.is_null() {
            return true;
        }
        // SAFETY: this is the thread that initialised the interpreter and saved `tstate` (the type
        // is not `Send`); no `Python::attach` is active on it, and `tstate` is used only once.
        unsafe {
            ffi::PyEval_RestoreThread(tstate);
            ffi::Py_FinalizeEx() == 0
        }
    }
}

impl Drop for Interpreter {
    fn drop(&mut self) {
        self.finalize();
    }
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

use super::module::_auroraview_runtime;
