//! The window of an AuroraView app, built as a shared library that the runtime loads with
//! `dlopen` only when it shows a window: GTK and WebKit pull in some 160 shared libraries, whose
//! loading would otherwise triple the start-up of `--headless` runs.
//!
//! The interface is the C ABI of `auroraview-window-abi`, defined there once for both sides. This
//! crate knows nothing of Python: requests leave through `on_request`, and responses and events
//! come back through `av_window_send`.

#[cfg(target_os = "linux")]
mod dialog;
pub mod policy;
pub mod protocol;
mod shell;

use auroraview_window_abi::{self as abi, ABI_VERSION, AvConfig, WindowHandle};
use std::ffi::{CStr, c_char};

// The exported functions have exactly the types the runtime looks them up as.
const _: abi::AbiVersionFn = av_window_abi_version;
const _: abi::RunFn = av_window_run;
const _: abi::SendFn = av_window_send;
const _: abi::ExitFn = av_window_exit;
const _: abi::DialogFn = av_window_dialog;
const _: abi::ConfigureFn = av_window_configure;

/// The ABI version this library implements; the runtime checks it before anything else.
#[unsafe(no_mangle)]
pub extern "C" fn av_window_abi_version() -> u32 {
    ABI_VERSION
}

/// Creates the window and runs the event loop on the calling thread (which must be the main
/// thread). Does not return: the process exits with the code given to `av_window_exit`. Returns
/// non-zero only if the window could not be created; the error is printed to stderr.
///
/// # Safety
/// `config` must point to a valid `AvConfig` whose strings are NUL-terminated UTF-8.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn av_window_run(config: *const AvConfig) -> i32 {
    // SAFETY: the caller guarantees `config` and its strings are valid.
    let config = unsafe { &*config };
    if config.abi_version != ABI_VERSION {
        eprintln!("error: window library ABI {ABI_VERSION}, runtime ABI {}", config.abi_version);
        return 2;
    }
    // SAFETY: as above.
    let text = |p: *const c_char| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned();
    let settings = shell::Settings {
        title: text(config.title),
        width: config.width,
        height: config.height,
        resizable: config.resizable,
        debug: config.debug,
        frontend: text(config.frontend_dir).into(),
        csp: (!config.csp.is_null()).then(|| text(config.csp)),
        options: if config.options.is_null() {
            shell::Options::default()
        } else {
            match serde_json::from_str(&text(config.options)) {
                Ok(o) => o,
                Err(e) => {
                    eprintln!("error: the window's options are not valid: {e}");
                    return 2;
                }
            }
        },
    };
    let result = if config.bare_echo_report.is_null() {
        shell::run(
            settings,
            shell::Callbacks {
                ctx: config.ctx,
                on_request: config.on_request,
                on_started: config.on_started,
                on_close_requested: config.on_close_requested,
                on_dialog_result: config.on_dialog_result,
            },
        )
    } else {
        shell::run_bare_echo(settings, text(config.bare_echo_report).into())
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
    }
    1
}

/// Queues a response or event line for the page. Thread-safe.
///
/// # Safety
/// `handle` must come from `on_started`; `data` must point to `len` bytes of UTF-8.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn av_window_send(handle: *const WindowHandle, data: *const u8, len: usize) {
    // SAFETY: the caller guarantees both pointers; every `WindowHandle` this library hands out is
    // a `shell::Handle` (see `shell::Handle::as_abi`).
    let (handle, bytes) = unsafe { (shell::Handle::from_abi(handle), std::slice::from_raw_parts(data, len)) };
    handle.send(&String::from_utf8_lossy(bytes));
}

/// Ends the event loop; the process exits with `code`. Thread-safe.
///
/// # Safety
/// `handle` must come from `on_started`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn av_window_exit(handle: *const WindowHandle, code: i32) {
    // SAFETY: the caller guarantees the handle, which is a `shell::Handle` as in `av_window_send`.
    unsafe { shell::Handle::from_abi(handle) }.exit(code);
}

/// Shows a native dialog (the `dialog` plugin) without blocking; the answer comes back through
/// `on_dialog_result`. Thread-safe.
///
/// # Safety
/// `handle` must come from `on_started`; `data` must point to `len` bytes of UTF-8.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn av_window_dialog(handle: *const WindowHandle, data: *const u8, len: usize) {
    // SAFETY: as in `av_window_send`.
    let (handle, bytes) = unsafe { (shell::Handle::from_abi(handle), std::slice::from_raw_parts(data, len)) };
    handle.dialog(&String::from_utf8_lossy(bytes));
}

/// Changes the running window (title, size, limits, placement, frame). Thread-safe.
///
/// # Safety
/// `handle` must come from `on_started`; `data` must point to `len` bytes of UTF-8.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn av_window_configure(handle: *const WindowHandle, data: *const u8, len: usize) {
    // SAFETY: as in `av_window_send`.
    let (handle, bytes) = unsafe { (shell::Handle::from_abi(handle), std::slice::from_raw_parts(data, len)) };
    handle.configure(&String::from_utf8_lossy(bytes));
}
