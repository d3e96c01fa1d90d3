//! The window itself: the one module that touches tao and wry. Lines for the page arrive through
//! [`Handle::send`] from any thread and wake the event loop through an `EventLoopProxy`; everything
//! queued by then is delivered to the page in one `evaluate_script`.

use crate::protocol;
use anyhow::{Context, Result};
use auroraview_window_abi::{OnCloseRequested, OnRequest, OnStarted, WindowHandle};
use std::cell::RefCell;
use std::ffi::c_void;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tao::dpi::LogicalSize;
use tao::event::{Event, WindowEvent};
use tao::event_loop::{ControlFlow, EventLoopBuilder, EventLoopProxy};
use tao::window::WindowBuilder;
use wry::WebViewBuilder;
use wry::http::{Response, header::CONTENT_TYPE};

const BRIDGE: &str = include_str!("bridge.js");

/// How long Python gets to finish after the window is closed before the process exits anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub enum UserEvent {
    /// Lines are waiting in the outbox.
    Outgoing,
    /// The app is done: exit with this code.
    Exit(i32),
    /// The window was closed and Python did not finish in time.
    ShutdownTimeout,
}

/// Responses and events from Python, waiting for the event loop. The first line into an empty
/// outbox wakes the loop; lines added before it runs go in the same batch.
struct Outbox {
    lines: Mutex<Vec<String>>,
    proxy: Mutex<EventLoopProxy<UserEvent>>,
}

impl Outbox {
    fn push(&self, line: &str) {
        let mut lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        lines.push(line.to_string());
        if lines.len() == 1 {
            let _ = self.proxy.lock().unwrap_or_else(|e| e.into_inner()).send_event(UserEvent::Outgoing);
        }
    }

    /// Wakes the loop for lines that are waiting (held while the page loaded).
    fn wake(&self) {
        if !self.lines.lock().unwrap_or_else(|e| e.into_inner()).is_empty() {
            let _ = self.proxy.lock().unwrap_or_else(|e| e.into_inner()).send_event(UserEvent::Outgoing);
        }
    }

    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.lines.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// What the runtime gets to talk to the window from its own threads.
pub struct Handle {
    outbox: Arc<Outbox>,
}

impl Handle {
    /// The pointer the runtime holds: the ABI's opaque type, pointing at this `Handle`.
    fn as_abi(&'static self) -> *const WindowHandle {
        (self as *const Handle).cast()
    }

    /// # Safety
    /// `handle` must come from [`Handle::as_abi`] (handles live until the process exits).
    pub unsafe fn from_abi(handle: *const WindowHandle) -> &'static Handle {
        // SAFETY: the caller guarantees `handle` is a leaked `Handle`.
        unsafe { &*handle.cast::<Handle>() }
    }

    pub fn send(&self, line: &str) {
        self.outbox.push(line);
    }

    pub fn exit(&self, code: i32) {
        let _ = self.outbox.proxy.lock().unwrap_or_else(|e| e.into_inner()).send_event(UserEvent::Exit(code));
    }
}

pub struct Settings {
    pub title: String,
    pub width: u32,
    pub height: u32,
    pub resizable: bool,
    pub debug: bool,
    pub frontend: PathBuf,
}

/// The runtime's callbacks and the context they get back. Used on the window's thread only.
#[derive(Clone, Copy)]
pub struct Callbacks {
    pub ctx: *mut c_void,
    pub on_request: OnRequest,
    pub on_started: OnStarted,
    pub on_close_requested: OnCloseRequested,
}

impl Callbacks {
    fn request(&self, body: &str) {
        // SAFETY: the runtime gave `ctx` with these callbacks for the life of the window, and
        // `body` is valid UTF-8 for the duration of the call.
        unsafe { (self.on_request)(self.ctx, body.as_ptr(), body.len()) }
    }

    fn started(&self, handle: &'static Handle) {
        // SAFETY: as in `request`; the handle is leaked, so it stays valid.
        unsafe { (self.on_started)(self.ctx, handle.as_abi()) }
    }

    fn close_requested(&self) {
        // SAFETY: as in `request`.
        unsafe { (self.on_close_requested)(self.ctx) }
    }
}

/// Creates the window and runs the event loop. Never returns on success: the process exits with
/// the code given to [`Handle::exit`].
pub fn run(settings: Settings, cb: Callbacks) -> Result<()> {
    let event_loop = EventLoopBuilder::<UserEvent>::with_user_event().build();
    let outbox = Arc::new(Outbox { lines: Mutex::new(Vec::new()), proxy: Mutex::new(event_loop.create_proxy()) });
    // Lives until the process exits: the runtime's threads hold it.
    let handle: &'static Handle = Box::leak(Box::new(Handle { outbox: outbox.clone() }));

    // The page's messages go to the runtime until the window closes.
    let open = Rc::new(RefCell::new(true));
    let page_ready = Rc::new(RefCell::new(false));
    let ipc_open = open.clone();
    let ipc_ready = page_ready.clone();
    let ready_outbox = outbox.clone();
    let (window, webview) = build(&event_loop, &settings, move |body| {
        if body == "\u{1}ready" {
            *ipc_ready.borrow_mut() = true;
            // Deliver whatever Python sent while the page was loading.
            ready_outbox.wake();
            return;
        }
        if *ipc_open.borrow() {
            cb.request(&body);
        }
    })?;
    cb.started(handle);

    let shutdown_proxy = event_loop.create_proxy();
    let mut closing = false;
    event_loop.run(move |event, _, control_flow| {
        *control_flow = ControlFlow::Wait;
        match event {
            Event::UserEvent(UserEvent::Outgoing) => {
                if !*page_ready.borrow() {
                    return; // kept in the outbox until the page announces itself
                }
                let lines = outbox.take();
                if !lines.is_empty() {
                    let script = format!("window.__auroraview_dispatch([{}])", lines.join(","));
                    if let Err(e) = webview.evaluate_script(&script) {
                        eprintln!("auroraview: delivering to the page failed: {e}");
                    }
                }
            }
            Event::WindowEvent { event: WindowEvent::CloseRequested, .. } if !closing => {
                closing = true;
                window.set_visible(false);
                *open.borrow_mut() = false;
                // The runtime ends Python's serving loop; code after show() runs, then it exits.
                cb.close_requested();
                let proxy = shutdown_proxy.clone();
                std::thread::spawn(move || {
                    std::thread::sleep(SHUTDOWN_GRACE);
                    let _ = proxy.send_event(UserEvent::ShutdownTimeout);
                });
            }
            Event::UserEvent(UserEvent::Exit(code)) => {
                *control_flow = ControlFlow::ExitWithCode(code);
            }
            Event::UserEvent(UserEvent::ShutdownTimeout) => {
                eprintln!("auroraview: Python did not finish within {SHUTDOWN_GRACE:?} of the window closing");
                *control_flow = ControlFlow::ExitWithCode(0);
            }
            _ => {}
        }
    })
}

/// `--bench-bare-webview`: the same window, page and bridge, but the IPC handler answers
/// `api.echo` itself on the main thread, with no Python and no channels. `ci/bench` runs the page's
/// benchmark against it and against the real app, side by side. `api.report` writes its params to
/// `report` and exits.
pub fn run_bare_echo(settings: Settings, report: PathBuf) -> Result<()> {
    let event_loop = EventLoopBuilder::<UserEvent>::with_user_event().build();
    let webview_cell: Rc<RefCell<Option<wry::WebView>>> = Rc::new(RefCell::new(None));
    let ipc_webview = webview_cell.clone();
    let (_window, webview) = build(&event_loop, &settings, move |body| {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(&body) else { return };
        if msg["method"] == "api.report" {
            let _ = std::fs::write(&report, msg["params"][0].to_string());
            std::process::exit(0);
        }
        let result = msg["params"].get(0).cloned().unwrap_or_default();
        let reply = serde_json::json!({"id": msg["id"], "ok": true, "result": result});
        if let Some(wv) = ipc_webview.borrow().as_ref() {
            let _ = wv.evaluate_script(&format!("window.__auroraview_dispatch([{reply}])"));
        }
    })?;
    *webview_cell.borrow_mut() = Some(webview);
    event_loop.run(move |event, _, control_flow| {
        *control_flow = ControlFlow::Wait;
        if let Event::WindowEvent { event: WindowEvent::CloseRequested, .. } = event {
            *control_flow = ControlFlow::Exit;
        }
    })
}

/// The window and its web view: the bridge injected, `frontend` served over `auroraview://`,
/// the page's messages handed to `on_message`.
fn build(
    event_loop: &tao::event_loop::EventLoop<UserEvent>,
    settings: &Settings,
    on_message: impl Fn(String) + 'static,
) -> Result<(tao::window::Window, wry::WebView)> {
    let window = WindowBuilder::new()
        .with_title(&settings.title)
        .with_inner_size(LogicalSize::new(settings.width, settings.height))
        .with_resizable(settings.resizable)
        .build(event_loop)
        .context("creating the window")?;
    let frontend = protocol::canonical_root(&settings.frontend);
    let builder = WebViewBuilder::new()
        .with_initialization_script(BRIDGE)
        .with_custom_protocol(protocol::SCHEME.into(), move |_id, request| {
            let reply = protocol::serve(&frontend, request.uri().path());
            Response::builder()
                .status(reply.status)
                .header(CONTENT_TYPE, reply.mime)
                .body(std::borrow::Cow::Owned(reply.body))
                .unwrap_or_else(|_| Response::new(std::borrow::Cow::Borrowed(&b""[..])))
        })
        .with_ipc_handler(move |request| on_message(request.into_body()))
        .with_devtools(settings.debug)
        .with_url(protocol::START_URL);
    #[cfg(target_os = "linux")]
    let webview = {
        use tao::platform::unix::WindowExtUnix;
        use wry::WebViewBuilderExtUnix;
        builder.build_gtk(window.default_vbox().context("the window has no GTK container")?)
    };
    #[cfg(not(target_os = "linux"))]
    let webview = builder.build(&window);
    let webview = webview.context("creating the web view")?;
    Ok((window, webview))
}
