//! Showing the window. The window lives in `libauroraview_window` (see `runtime/window`), which
//! this module loads with `dlopen` only now, so `--headless` runs never load GTK and WebKit. It
//! connects the library's callbacks to the transport Python reads from and writes to.

use crate::headless::Sink;
use anyhow::{Context, Result, bail};
use auroraview_overlay::Manifest;
use crossbeam_channel::{Receiver, Sender};
use std::ffi::{CStr, CString, c_char, c_void};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::Mutex;

/// Must match `auroraview_window::ABI_VERSION`.
const ABI_VERSION: u32 = 1;

/// Opaque handle owned by the window library.
#[repr(C)]
struct Handle {
    _private: [u8; 0],
}

#[repr(C)]
struct AvConfig {
    abi_version: u32,
    title: *const c_char,
    width: u32,
    height: u32,
    resizable: bool,
    debug: bool,
    frontend_dir: *const c_char,
    ctx: *mut c_void,
    on_request: extern "C" fn(*mut c_void, *const u8, usize),
    on_started: extern "C" fn(*mut c_void, *const Handle),
    on_close_requested: extern "C" fn(*mut c_void),
    bare_echo_report: *const c_char,
}

struct Api {
    run: unsafe extern "C" fn(*const AvConfig) -> i32,
    send: unsafe extern "C" fn(*const Handle, *const u8, usize),
    exit: unsafe extern "C" fn(*const Handle, i32),
}

/// Shared between the window's callbacks (main thread) and the runtime's threads.
struct Link {
    api: Api,
    requests: Mutex<Option<Sender<String>>>,
    state: Mutex<LinkState>,
}

struct LinkState {
    handle: Option<usize>,
    /// Lines Python sent before the window existed.
    pending: Vec<String>,
    exit_code: Option<i32>,
}

impl Link {
    fn send(&self, line: &str) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match st.handle {
            // SAFETY: the handle came from `on_started` and lives until the process exits.
            Some(h) => unsafe { (self.api.send)(h as *const Handle, line.as_ptr(), line.len()) },
            None => st.pending.push(line.to_string()),
        }
    }

    fn exit(&self, code: i32) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match st.handle {
            // SAFETY: as in `send`.
            Some(h) => unsafe { (self.api.exit)(h as *const Handle, code) },
            None => st.exit_code = Some(code),
        }
    }
}

extern "C" fn on_request(ctx: *mut c_void, data: *const u8, len: usize) {
    // SAFETY: `ctx` is the leaked `Link`; the library passes `len` valid bytes.
    let (link, bytes) = unsafe { (&*(ctx as *const Link), std::slice::from_raw_parts(data, len)) };
    if let Some(tx) = link.requests.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
        let _ = tx.send(String::from_utf8_lossy(bytes).into_owned());
    }
}

extern "C" fn on_started(ctx: *mut c_void, handle: *const Handle) {
    // SAFETY: `ctx` is the leaked `Link`.
    let link = unsafe { &*(ctx as *const Link) };
    let mut st = link.state.lock().unwrap_or_else(|e| e.into_inner());
    st.handle = Some(handle as usize);
    for line in std::mem::take(&mut st.pending) {
        // SAFETY: `handle` was just given to us by the library.
        unsafe { (link.api.send)(handle, line.as_ptr(), line.len()) };
    }
    if let Some(code) = st.exit_code {
        // SAFETY: as above.
        unsafe { (link.api.exit)(handle, code) };
    }
}

extern "C" fn on_close_requested(ctx: *mut c_void) {
    // SAFETY: `ctx` is the leaked `Link`.
    let link = unsafe { &*(ctx as *const Link) };
    // Ending the request channel ends Python's serving loop; code after show() runs.
    link.requests.lock().unwrap_or_else(|e| e.into_inner()).take();
}

fn load(path: &Path) -> Result<Api> {
    let cpath = CString::new(path.as_os_str().as_encoded_bytes()).context("library path has a NUL byte")?;
    // SAFETY: dlopen/dlsym with valid NUL-terminated strings; the library stays loaded for the
    // life of the process (never dlclosed), so the function pointers stay valid.
    unsafe {
        let lib = libc::dlopen(cpath.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL);
        if lib.is_null() {
            let why = CStr::from_ptr(libc::dlerror()).to_string_lossy().into_owned();
            bail!(
                "cannot load the window library {}: {why}\nhint: install WebKitGTK 4.1 (Debian: libwebkit2gtk-4.1-0), or run with --headless",
                path.display()
            );
        }
        let sym = |name: &CStr| {
            let p = libc::dlsym(lib, name.as_ptr());
            if p.is_null() { Err(anyhow::anyhow!("{}: missing symbol {name:?}", path.display())) } else { Ok(p) }
        };
        let version: extern "C" fn() -> u32 = std::mem::transmute(sym(c"av_window_abi_version")?);
        if version() != ABI_VERSION {
            bail!(
                "{}: window library ABI {} does not match the runtime's {ABI_VERSION}; repack the app",
                path.display(),
                version()
            );
        }
        Ok(Api {
            run: std::mem::transmute::<*mut c_void, unsafe extern "C" fn(*const AvConfig) -> i32>(sym(
                c"av_window_run",
            )?),
            send: std::mem::transmute::<*mut c_void, unsafe extern "C" fn(*const Handle, *const u8, usize)>(sym(
                c"av_window_send",
            )?),
            exit: std::mem::transmute::<*mut c_void, unsafe extern "C" fn(*const Handle, i32)>(sym(c"av_window_exit")?),
        })
    }
}

pub struct Window<'a> {
    pub library: PathBuf,
    pub manifest: &'a Manifest,
    pub frontend: PathBuf,
}

/// Shows the window while `backend` serves the page's requests (it gets them on a channel that
/// ends when the window closes, and answers through the sink) and returns the exit code. Does not
/// return unless the window cannot be created: the process exits with the backend's exit code.
pub fn run(w: Window, backend: impl FnOnce(Receiver<String>, Arc<Sink>) -> Result<u8> + Send + 'static) -> Result<u8> {
    let api = load(&w.library)?;
    crate::log::debug!("window library loaded from {}", w.library.display());
    let (req_tx, req_rx) = crossbeam_channel::unbounded::<String>();
    let link: &'static Link = Box::leak(Box::new(Link {
        api,
        requests: Mutex::new(Some(req_tx)),
        state: Mutex::new(LinkState { handle: None, pending: Vec::new(), exit_code: None }),
    }));
    let sink: Arc<Sink> = Arc::new(Box::new(move |line: &str| {
        link.send(line);
        Ok(())
    }));
    // The backend starts now, while the window is being created.
    std::thread::Builder::new()
        .name("backend".into())
        .spawn(move || {
            let code = backend(req_rx, sink).unwrap_or_else(|e| {
                eprintln!("error: {e:#}");
                1
            });
            link.exit(code as i32);
        })
        .context("starting the backend thread")?;
    show(&w, link as *const Link as *mut c_void, None)
}

/// `--bench-bare-webview`: the window answering `api.echo` itself, for `ci/bench`.
pub fn run_bare_echo(w: Window, report: &Path) -> Result<u8> {
    let api = load(&w.library)?;
    let link = Link {
        api,
        requests: Mutex::new(None),
        state: Mutex::new(LinkState { handle: None, pending: Vec::new(), exit_code: None }),
    };
    show(&w, &link as *const Link as *mut c_void, Some(report))
}

fn show(w: &Window, ctx: *mut c_void, bare_report: Option<&Path>) -> Result<u8> {
    let m = w.manifest;
    let title = CString::new(m.app.title.as_str()).context("the title has a NUL byte")?;
    let frontend = CString::new(w.frontend.as_os_str().as_encoded_bytes()).context("path has a NUL byte")?;
    let report = bare_report.map(|p| CString::new(p.as_os_str().as_encoded_bytes())).transpose()?;
    let config = AvConfig {
        abi_version: ABI_VERSION,
        title: title.as_ptr(),
        width: m.window.width,
        height: m.window.height,
        resizable: m.window.resizable,
        debug: m.window.debug,
        frontend_dir: frontend.as_ptr(),
        ctx,
        on_request,
        on_started,
        on_close_requested,
        bare_echo_report: report.as_ref().map(|r| r.as_ptr()).unwrap_or(std::ptr::null()),
    };
    // SAFETY: `config` and its strings outlive the call (which only returns on failure); `ctx` is
    // a `Link` that lives as long as the process.
    let api = unsafe { &(*(ctx as *const Link)).api };
    let code = unsafe { (api.run)(&config) };
    bail!("the window could not be shown (code {code})")
}
