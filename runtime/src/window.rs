//! Showing the window. The window lives in `libauroraview_window` (`runtime/window`), which this
//! module loads with `dlopen` only now, so `--headless` runs never load GTK and WebKit. It
//! connects the library's callbacks (through the ABI of `auroraview-window-abi`) to the channel
//! requests leave on and the sink answers come back through.

use crate::plugins::Host;
use crate::rpc::sink::Sink;
use anyhow::{Context, Result, bail};
use auroraview_overlay::Manifest;
use auroraview_window_abi::{self as abi, ABI_VERSION, AvConfig, WindowHandle};
use crossbeam_channel::{Receiver, Sender};
use std::ffi::{CStr, CString, c_void};
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::sync::{Arc, Mutex};

/// Set for Python when its lines go to a window (see `auroraview/webview.py`).
pub const WINDOW_ENV: &str = "AURORAVIEW_WINDOW";
/// A line from Python that changes the window instead of reaching the page: the JSON after it is
/// the window library's `Change` (title, size, limits, placement, frame).
pub const WINDOW_PREFIX: &str = "\u{1}window ";

/// What the window shows.
pub struct Spec {
    /// `libauroraview_window`.
    pub library: PathBuf,
    pub title: String,
    pub width: u32,
    pub height: u32,
    pub resizable: bool,
    pub debug: bool,
    /// Served as `auroraview://localhost/`.
    pub frontend: PathBuf,
    /// `[frontend] csp`: the Content-Security-Policy of what the window serves; None: the window
    /// library's default.
    pub csp: Option<String>,
    /// The rest, as the window library's `options` JSON: `[window]` options (the icon's path
    /// absolute), `dev_url`, `dev_tools`.
    pub options: serde_json::Value,
}

impl Spec {
    /// `root`: what the icon's path is relative to (the extracted app, or a dev run's project).
    pub fn new(manifest: &Manifest, library: PathBuf, frontend: PathBuf, root: &Path) -> Spec {
        let (app, window) = (&manifest.app, &manifest.window);
        let mut options = window.options.clone();
        options.icon = options.icon.map(|icon| root.join(icon).to_string_lossy().into_owned());
        let mut options = serde_json::to_value(&options).unwrap_or_default();
        options["dev_tools"] = window.debug.into();
        Spec {
            library,
            title: app.title.clone(),
            width: window.width,
            height: window.height,
            resizable: window.resizable,
            debug: window.debug,
            frontend,
            csp: window.csp.clone(),
            options,
        }
    }

    /// A dev run's window: the page from `dev_url` when given, developer tools on.
    pub fn for_dev(mut self, dev_url: Option<&str>) -> Spec {
        self.options["dev_tools"] = true.into();
        if let Some(url) = dev_url {
            self.options["dev_url"] = url.into();
        }
        self
    }
}

struct Api {
    run: abi::RunFn,
    send: abi::SendFn,
    exit: abi::ExitFn,
    dialog: abi::DialogFn,
    configure: abi::ConfigureFn,
}

/// The library's handle on the running window.
#[derive(Clone, Copy)]
struct Handle(NonNull<WindowHandle>);

// SAFETY: the ABI makes a window handle valid from any thread until the process exits.
unsafe impl Send for Handle {}

/// Shared between the window's callbacks (main thread) and the runtime's threads.
struct Link {
    api: Api,
    requests: Mutex<Option<Sender<String>>>,
    state: Mutex<LinkState>,
    /// Where the page's plugin calls go.
    plugins: Option<Arc<Host>>,
}

struct LinkState {
    handle: Option<Handle>,
    /// Lines Python sent before the window existed.
    pending: Vec<String>,
    exit_code: Option<i32>,
}

impl Link {
    fn lock(&self) -> std::sync::MutexGuard<'_, LinkState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn deliver(&self, handle: Handle, line: &str) {
        let (f, line) = match line.strip_prefix(WINDOW_PREFIX) {
            Some(change) => (self.api.configure, change),
            None => (self.api.send, line),
        };
        // SAFETY: `handle` came from `on_started` and lives until the process exits; the line's
        // bytes are valid for the call.
        unsafe { f(handle.0.as_ptr(), line.as_ptr(), line.len()) }
    }

    fn finish(&self, handle: Handle, code: i32) {
        // SAFETY: as in `deliver`.
        unsafe { (self.api.exit)(handle.0.as_ptr(), code) }
    }

    fn send(&self, line: &str) {
        let mut st = self.lock();
        match st.handle {
            Some(h) => self.deliver(h, line),
            None => st.pending.push(line.to_string()),
        }
    }

    /// Shows a dialog for the plugins, or answers that there is no window yet.
    fn dialog(&self, request: &str) {
        let handle = self.lock().handle;
        match handle {
            // SAFETY: as in `deliver`.
            Some(h) => unsafe { (self.api.dialog)(h.0.as_ptr(), request.as_ptr(), request.len()) },
            None => {
                let token = serde_json::from_str::<serde_json::Value>(request).unwrap_or_default()["token"].clone();
                let answer = serde_json::json!({"token": token, "error": "the window is not shown yet"});
                if let Some(p) = &self.plugins {
                    p.dialog_result(&answer.to_string());
                }
            }
        }
    }

    fn exit(&self, code: i32) {
        let mut st = self.lock();
        match st.handle {
            Some(h) => self.finish(h, code),
            None => st.exit_code = Some(code),
        }
    }

    /// # Safety
    /// `ctx` must be the `Link` given to the library in [`AvConfig::ctx`], which lives as long as
    /// the window.
    unsafe fn from_ctx<'a>(ctx: *mut c_void) -> &'a Link {
        // SAFETY: guaranteed by the caller.
        unsafe { &*ctx.cast::<Link>() }
    }
}

unsafe extern "C" fn on_request(ctx: *mut c_void, data: *const u8, len: usize) {
    // SAFETY: the library passes back our `ctx`, and `len` valid bytes at `data`.
    let (link, bytes) = unsafe { (Link::from_ctx(ctx), std::slice::from_raw_parts(data, len)) };
    if let (Some(&abi::PLUGIN_PREFIX), Some(plugins)) = (bytes.first(), &link.plugins) {
        plugins.page_request(&String::from_utf8_lossy(&bytes[1..]));
        return;
    }
    if let Some(tx) = link.requests.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
        let _ = tx.send(String::from_utf8_lossy(bytes).into_owned());
    }
}

unsafe extern "C" fn on_dialog_result(ctx: *mut c_void, data: *const u8, len: usize) {
    // SAFETY: as in `on_request`.
    let (link, bytes) = unsafe { (Link::from_ctx(ctx), std::slice::from_raw_parts(data, len)) };
    if let Some(plugins) = &link.plugins {
        plugins.dialog_result(&String::from_utf8_lossy(bytes));
    }
}

unsafe extern "C" fn on_started(ctx: *mut c_void, handle: *const WindowHandle) {
    // SAFETY: the library passes back our `ctx`.
    let link = unsafe { Link::from_ctx(ctx) };
    let Some(handle) = NonNull::new(handle.cast_mut()).map(Handle) else { return };
    let mut st = link.lock();
    st.handle = Some(handle);
    for line in std::mem::take(&mut st.pending) {
        link.deliver(handle, &line);
    }
    if let Some(code) = st.exit_code {
        link.finish(handle, code);
    }
}

unsafe extern "C" fn on_close_requested(ctx: *mut c_void) {
    // SAFETY: the library passes back our `ctx`.
    let link = unsafe { Link::from_ctx(ctx) };
    // Ending the request channel ends Python's serving loop; code after show() runs.
    link.requests.lock().unwrap_or_else(|e| e.into_inner()).take();
}

fn load(path: &Path) -> Result<Api> {
    let cpath = CString::new(path.as_os_str().as_encoded_bytes()).context("library path has a NUL byte")?;
    // SAFETY: dlopen/dlsym with valid NUL-terminated strings. The library stays loaded for the life
    // of the process (never dlclosed), so its function pointers stay valid. Each symbol is taken
    // as the `unsafe extern "C"` type the ABI crate gives it, and only after the library reports
    // the ABI version those types belong to.
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
        let version = std::mem::transmute::<*mut c_void, abi::AbiVersionFn>(sym(abi::SYMBOL_ABI_VERSION)?)();
        if version != ABI_VERSION {
            bail!(
                "{}: window library ABI {version} does not match the runtime's {ABI_VERSION}; repack the app",
                path.display(),
            );
        }
        Ok(Api {
            run: std::mem::transmute::<*mut c_void, abi::RunFn>(sym(abi::SYMBOL_RUN)?),
            send: std::mem::transmute::<*mut c_void, abi::SendFn>(sym(abi::SYMBOL_SEND)?),
            exit: std::mem::transmute::<*mut c_void, abi::ExitFn>(sym(abi::SYMBOL_EXIT)?),
            dialog: std::mem::transmute::<*mut c_void, abi::DialogFn>(sym(abi::SYMBOL_DIALOG)?),
            configure: std::mem::transmute::<*mut c_void, abi::ConfigureFn>(sym(abi::SYMBOL_CONFIGURE)?),
        })
    }
}

/// Shows the window while `backend` serves the page's requests (it gets them on a channel that
/// ends when the window closes, and answers through the sink) and `plugins` its plugin calls. Does
/// not return unless the window cannot be created: the process exits with the backend's exit code.
pub fn run(
    spec: Spec,
    plugins: Option<Arc<Host>>,
    backend: impl FnOnce(Receiver<String>, Arc<Sink>) -> Result<u8> + Send + 'static,
) -> Result<u8> {
    let api = load(&spec.library)?;
    tracing::debug!("window library loaded from {}", spec.library.display());
    let (req_tx, req_rx) = crossbeam_channel::unbounded::<String>();
    let link: &'static Link = Box::leak(Box::new(Link {
        api,
        requests: Mutex::new(Some(req_tx)),
        state: Mutex::new(LinkState { handle: None, pending: Vec::new(), exit_code: None }),
        plugins,
    }));
    if let Some(plugins) = &link.plugins {
        plugins.set_page(Arc::new(move |line: &str| link.send(line)));
        plugins.set_dialogs(Arc::new(move |request: &str| link.dialog(request)));
    }
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
    show(&spec, link, None)
}

/// `--bench-bare-webview`: the window answering `api.echo` itself, for `ci/bench`.
pub fn run_bare_echo(spec: Spec, report: &Path) -> Result<u8> {
    let api = load(&spec.library)?;
    let link = Link {
        api,
        requests: Mutex::new(None),
        state: Mutex::new(LinkState { handle: None, pending: Vec::new(), exit_code: None }),
        plugins: None,
    };
    show(&spec, &link, Some(report))
}

fn show(spec: &Spec, link: &Link, bare_report: Option<&Path>) -> Result<u8> {
    let title = CString::new(spec.title.as_str()).context("the title has a NUL byte")?;
    let frontend = CString::new(spec.frontend.as_os_str().as_encoded_bytes()).context("path has a NUL byte")?;
    let report = bare_report.map(|p| CString::new(p.as_os_str().as_encoded_bytes())).transpose()?;
    let csp =
        spec.csp.as_deref().map(CString::new).transpose().context("the Content-Security-Policy has a NUL byte")?;
    let options = CString::new(spec.options.to_string()).context("the window's options have a NUL byte")?;
    let config = AvConfig {
        abi_version: ABI_VERSION,
        title: title.as_ptr(),
        width: spec.width,
        height: spec.height,
        resizable: spec.resizable,
        debug: spec.debug,
        frontend_dir: frontend.as_ptr(),
        ctx: (link as *const Link).cast_mut().cast(),
        on_request,
        on_started,
        on_close_requested,
        bare_echo_report: report.as_ref().map(|r| r.as_ptr()).unwrap_or(std::ptr::null()),
        csp: csp.as_ref().map(|c| c.as_ptr()).unwrap_or(std::ptr::null()),
        on_dialog_result,
        options: options.as_ptr(),
    };
    // SAFETY: `config` and its strings outlive the call (which only returns on failure); `ctx` is
    // a `Link` that outlives the window.
    let code = unsafe { (link.api.run)(&config) };
    // The library said why.
    Ok(u8::try_from(code).unwrap_or(1).max(1))
}
