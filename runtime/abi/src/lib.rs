//! The C ABI between the runtime and `libauroraview_window`, which the runtime loads with `dlopen`
//! only when it shows a window. Both sides build against this crate, so the struct layout and the
//! function signatures exist once; [`ABI_VERSION`] guards against a library built from another
//! version of this file. It must stay free of dependencies: the runtime and the window library
//! both link it, and neither may pull the other's dependencies through it.
//!
//! Every function type is `unsafe extern "C"`: a pointer found with `dlsym` is trusted only as far
//! as the version check goes, and each call site states why its arguments are valid.

#![no_std]

use core::ffi::{CStr, c_char, c_void};
use core::marker::{PhantomData, PhantomPinned};

/// Bumped whenever [`AvConfig`] or a function's signature changes.
pub const ABI_VERSION: u32 = 5;

/// The window's side of a running window, opaque to the runtime. Valid from `on_started` until the
/// process exits, and usable from any thread.
#[repr(C)]
pub struct WindowHandle {
    _private: [u8; 0],
    // Neither `Send`, `Sync` nor `Unpin` by default: what may cross threads is said where it does.
    _marker: PhantomData<(*mut u8, PhantomPinned)>,
}

/// The first byte of a page message that is a plugin call (a JSON request follows it): the runtime
/// hands these to its plugins, not to Python.
pub const PLUGIN_PREFIX: u8 = 0x02;

/// A message from the page (a JSON-RPC request or an event): `len` bytes of UTF-8 at `data`, valid
/// for the call only. Called on the window's thread.
pub type OnRequest = unsafe extern "C" fn(ctx: *mut c_void, data: *const u8, len: usize);
/// The window exists; `handle` stays valid until the process exits.
pub type OnStarted = unsafe extern "C" fn(ctx: *mut c_void, handle: *const WindowHandle);
/// The user closed the window: stop serving, then call [`ExitFn`].
pub type OnCloseRequested = unsafe extern "C" fn(ctx: *mut c_void);

/// What the runtime asks the window library to show. Every string is NUL-terminated UTF-8 and
/// outlives the [`RunFn`] call.
#[repr(C)]
pub struct AvConfig {
    pub abi_version: u32,
    pub title: *const c_char,
    pub width: u32,
    pub height: u32,
    pub resizable: bool,
    pub debug: bool,
    /// The directory served as `auroraview://localhost/`.
    pub frontend_dir: *const c_char,
    /// Passed back to every callback.
    pub ctx: *mut c_void,
    pub on_request: OnRequest,
    pub on_started: OnStarted,
    pub on_close_requested: OnCloseRequested,
    /// When not null: answer `api.echo` in the window itself (a benchmark baseline) and write
    /// `api.report`'s params to this path.
    pub bare_echo_report: *const c_char,
    /// The Content-Security-Policy of every page and file the window serves (`[frontend] csp`);
    /// null: the window library's default.
    pub csp: *const c_char,
    /// The answer to a [`DialogFn`] request: one JSON object, `{"token": N, "result": ...}` or
    /// `{"token": N, "error": "..."}`. Called on the window's thread.
    pub on_dialog_result: OnRequest,
    /// One JSON object with the rest of the window's settings (size limits, placement, frame, icon,
    /// the dev server's URL, developer tools); null: all defaults. The window library documents the
    /// fields (`shell::Options`) and ignores unknown ones.
    pub options: *const c_char,
}

/// `av_window_abi_version`: the [`ABI_VERSION`] the library was built with.
pub type AbiVersionFn = unsafe extern "C" fn() -> u32;
/// `av_window_run`: creates the window and runs the event loop on the calling (main) thread. Does
/// not return on success: the process exits with the code given to [`ExitFn`]. Returns non-zero if
/// the window could not be created, after printing why.
pub type RunFn = unsafe extern "C" fn(config: *const AvConfig) -> i32;
/// `av_window_send`: queues `len` bytes of UTF-8 (one response or event line) for the page.
pub type SendFn = unsafe extern "C" fn(handle: *const WindowHandle, data: *const u8, len: usize);
/// `av_window_exit`: ends the event loop; the process exits with `code`.
pub type ExitFn = unsafe extern "C" fn(handle: *const WindowHandle, code: i32);

/// `av_window_dialog`: shows a native dialog described by `len` bytes of JSON at `data`
/// (`{"token": N, "kind": "open_file" | "open_folder" | "save_file" | "message" | "confirm", ...}`)
/// without blocking; its answer comes back through [`AvConfig::on_dialog_result`]. Thread-safe.
pub type DialogFn = unsafe extern "C" fn(handle: *const WindowHandle, data: *const u8, len: usize);

/// `av_window_configure`: changes the running window as `len` bytes of JSON at `data` say (the
/// fields of [`AvConfig::options`] that can change, and `title`, `width`, `height`, `resizable`).
/// Thread-safe.
pub type ConfigureFn = unsafe extern "C" fn(handle: *const WindowHandle, data: *const u8, len: usize);

/// The exported symbols, in the order the runtime looks them up.
pub const SYMBOL_ABI_VERSION: &CStr = c"av_window_abi_version";
pub const SYMBOL_RUN: &CStr = c"av_window_run";
pub const SYMBOL_SEND: &CStr = c"av_window_send";
pub const SYMBOL_EXIT: &CStr = c"av_window_exit";
pub const SYMBOL_DIALOG: &CStr = c"av_window_dialog";
pub const SYMBOL_CONFIGURE: &CStr = c"av_window_configure";

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{align_of, offset_of, size_of};

    /// The layout both sides were built with on 64-bit Linux. A change here is an ABI change:
    /// bump [`ABI_VERSION`] with it.
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn av_config_layout_is_fixed() {
        assert_eq!(offset_of!(AvConfig, abi_version), 0);
        assert_eq!(offset_of!(AvConfig, title), 8);
        assert_eq!(offset_of!(AvConfig, width), 16);
        assert_eq!(offset_of!(AvConfig, height), 20);
        assert_eq!(offset_of!(AvConfig, resizable), 24);
        assert_eq!(offset_of!(AvConfig, debug), 25);
        assert_eq!(offset_of!(AvConfig, frontend_dir), 32);
        assert_eq!(offset_of!(AvConfig, ctx), 40);
        assert_eq!(offset_of!(AvConfig, on_request), 48);
        assert_eq!(offset_of!(AvConfig, on_started), 56);
        assert_eq!(offset_of!(AvConfig, on_close_requested), 64);
        assert_eq!(offset_of!(AvConfig, bare_echo_report), 72);
        assert_eq!(offset_of!(AvConfig, csp), 80);
        assert_eq!(offset_of!(AvConfig, on_dialog_result), 88);
        assert_eq!(offset_of!(AvConfig, options), 96);
        assert_eq!((size_of::<AvConfig>(), align_of::<AvConfig>()), (104, 8));
        assert_eq!(size_of::<WindowHandle>(), 0);
    }
}
