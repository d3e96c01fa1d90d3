//! The window itself: the one module that touches tao and wry. Lines for the page arrive through
//! [`Handle::send`] from any thread and wake the event loop through an `EventLoopProxy`; everything
//! queued by then is delivered to the page in one `evaluate_script`. What the page may do (reach
//! Python, navigate, open windows) is decided by [`policy`](crate::policy).

use crate::policy::{self, Navigation, Policy};
use crate::protocol;
use anyhow::{Context, Result};
use auroraview_window_abi::{OnCloseRequested, OnRequest, OnStarted, WindowHandle};
use std::cell::RefCell;
use std::ffi::c_void;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;
use tao::dpi::LogicalSize;
use tao::event::{Event, WindowEvent};
use tao::event_loop::{ControlFlow, EventLoopBuilder, EventLoopProxy};
use tao::window::WindowBuilder;
use wry::http::{Request, Response, header::RANGE};
use wry::{NewWindowResponse, RequestAsyncResponder, WebViewBuilder};

/// Threads reading the frontend's files for the `auroraview://` scheme, so a big file never holds
/// up the UI thread (which delivers every call's answer).
const FILE_WORKERS: usize = 4;

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
    /// Show this dialog request (the `dialog` plugin).
    Dialog(String),
    /// Change the window (JSON of a [`Change`]).
    Configure(String),
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

    pub fn dialog(&self, request: &str) {
        let event = UserEvent::Dialog(request.to_string());
        let _ = self.outbox.proxy.lock().unwrap_or_else(|e| e.into_inner()).send_event(event);
    }

    pub fn configure(&self, change: &str) {
        let event = UserEvent::Configure(change.to_string());
        let _ = self.outbox.proxy.lock().unwrap_or_else(|e| e.into_inner()).send_event(event);
    }
}

/// The window settings beyond the ABI's fixed fields: [`auroraview_window_abi::AvConfig::options`].
/// Unknown fields are ignored, so a runtime may send more than this library knows.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(default)]
pub struct Options {
    pub min_width: Option<u32>,
    pub min_height: Option<u32>,
    pub max_width: Option<u32>,
    pub max_height: Option<u32>,
    /// Centre on the monitor (unless `x`/`y` place the window).
    pub center: bool,
    pub x: Option<i32>,
    pub y: Option<i32>,
    pub always_on_top: bool,
    /// `Some(false)`: frameless.
    pub decorations: Option<bool>,
    pub fullscreen: bool,
    pub maximized: bool,
    /// A PNG file for the window's icon.
    pub icon: Option<PathBuf>,
    /// Load the page from this dev server (its origin may reach Python) instead of the frontend.
    pub dev_url: Option<String>,
    /// The page's console and uncaught errors go to stderr; F5 / Ctrl+R reload.
    pub dev_tools: bool,
}

/// A change to the running window, from Python (`WebView(...)` arguments, `set_title`): every field
/// left out stays as it is.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct Change {
    title: Option<String>,
    width: Option<u32>,
    height: Option<u32>,
    resizable: Option<bool>,
    min_width: Option<u32>,
    min_height: Option<u32>,
    max_width: Option<u32>,
    max_height: Option<u32>,
    center: Option<bool>,
    x: Option<i32>,
    y: Option<i32>,
    always_on_top: Option<bool>,
    decorations: Option<bool>,
    fullscreen: Option<bool>,
    maximized: Option<bool>,
}

/// The largest window size taken from a page or a config (as the packer checks).
const MAX_SIDE: u32 = 16384;

fn side(v: Option<u32>) -> Option<u32> {
    v.filter(|v| (1..=MAX_SIDE).contains(v))
}

fn size_limit(w: Option<u32>, h: Option<u32>, fill: u32) -> Option<LogicalSize<u32>> {
    let (w, h) = (side(w), side(h));
    (w.is_some() || h.is_some()).then(|| LogicalSize::new(w.unwrap_or(fill), h.unwrap_or(fill)))
}

fn centre(window: &tao::window::Window) {
    if let Some(monitor) = window.current_monitor() {
        let (m, size, origin) = (monitor.size(), window.outer_size(), monitor.position());
        let x = origin.x + (m.width as i32 - size.width as i32).max(0) / 2;
        let y = origin.y + (m.height as i32 - size.height as i32).max(0) / 2;
        window.set_outer_position(tao::dpi::PhysicalPosition::new(x, y));
    }
}

/// Applies a [`Change`] from Python to the window and to `now` (its size limits as they stand, so
/// a change of one limit keeps the others); a malformed one is reported and ignored.
fn apply(window: &tao::window::Window, json: &str, now: &mut Options) {
    let change: Change = match serde_json::from_str(json) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("auroraview: ignored a window change from Python: {e}");
            return;
        }
    };
    if let Some(title) = &change.title {
        window.set_title(title);
    }
    if let Some(r) = change.resizable {
        window.set_resizable(r);
    }
    if change.min_width.is_some() || change.min_height.is_some() {
        now.min_width = change.min_width.or(now.min_width);
        now.min_height = change.min_height.or(now.min_height);
        window.set_min_inner_size(size_limit(now.min_width, now.min_height, 1));
    }
    if change.max_width.is_some() || change.max_height.is_some() {
        now.max_width = change.max_width.or(now.max_width);
        now.max_height = change.max_height.or(now.max_height);
        window.set_max_inner_size(size_limit(now.max_width, now.max_height, MAX_SIDE));
    }
    if let (Some(w), Some(h)) = (side(change.width), side(change.height)) {
        window.set_inner_size(LogicalSize::new(w, h));
    } else if change.width.is_some() || change.height.is_some() {
        let now = window.inner_size().to_logical::<u32>(window.scale_factor());
        let size = LogicalSize::new(side(change.width).unwrap_or(now.width), side(change.height).unwrap_or(now.height));
        window.set_inner_size(size);
    }
    if let Some(d) = change.decorations {
        window.set_decorations(d);
    }
    if let Some(top) = change.always_on_top {
        window.set_always_on_top(top);
    }
    if let Some(m) = change.maximized {
        window.set_maximized(m);
    }
    if let Some(f) = change.fullscreen {
        window.set_fullscreen(f.then_some(tao::window::Fullscreen::Borderless(None)));
    }
    match (change.x, change.y) {
        (Some(x), Some(y)) => window.set_outer_position(tao::dpi::LogicalPosition::new(x, y)),
        _ if change.center == Some(true) => centre(window),
        _ => {}
    }
}

pub struct Settings {
    pub title: String,
    pub width: u32,
    pub height: u32,
    pub resizable: bool,
    pub debug: bool,
    pub frontend: PathBuf,
    /// The Content-Security-Policy of every response; None: [`protocol::DEFAULT_CSP`].
    pub csp: Option<String>,
    pub options: Options,
}

/// The runtime's callbacks and the context they get back. Used on the window's thread only.
#[derive(Clone, Copy)]
pub struct Callbacks {
    pub ctx: *mut c_void,
    pub on_request: OnRequest,
    pub on_started: OnStarted,
    pub on_close_requested: OnCloseRequested,
    pub on_dialog_result: OnRequest,
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

    fn dialog_result(&self, body: &str) {
        // SAFETY: as in `request`.
        unsafe { (self.on_dialog_result)(self.ctx, body.as_ptr(), body.len()) }
    }
}

/// Creates the window and runs the event loop. Never returns on success: the process exits with
/// the code given to [`Handle::exit`].
pub fn run(settings: Settings, cb: Callbacks) -> Result<()> {
    open_display()?;
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
        if body == policy::READY {
            *ipc_ready.borrow_mut() = true;
            // Deliver whatever Python sent while the page was loading.
            ready_outbox.wake();
            return;
        }
        if *ipc_open.borrow() {
            cb.request(body);
        }
    })?;
    cb.started(handle);

    let shutdown_proxy = event_loop.create_proxy();
    let mut closing = false;
    let mut options = settings.options.clone();
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
            Event::UserEvent(UserEvent::Dialog(request)) => {
                #[cfg(target_os = "linux")]
                {
                    use gtk::prelude::Cast;
                    use tao::platform::unix::WindowExtUnix;
                    let parent = window.gtk_window().upcast_ref::<gtk::Window>().clone();
                    crate::dialog::show(&parent, &request, move |answer| cb.dialog_result(&answer));
                }
                #[cfg(not(target_os = "linux"))]
                {
                    let token =
                        serde_json::from_str::<serde_json::Value>(&request).unwrap_or_default()["token"].clone();
                    let answer = serde_json::json!({"token": token, "error": "dialogs are shown on Linux only"});
                    cb.dialog_result(&answer.to_string());
                }
            }
            Event::UserEvent(UserEvent::Configure(change)) => apply(&window, &change, &mut options),
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
    open_display()?;
    let event_loop = EventLoopBuilder::<UserEvent>::with_user_event().build();
    let webview_cell: Rc<RefCell<Option<wry::WebView>>> = Rc::new(RefCell::new(None));
    let ipc_webview = webview_cell.clone();
    let (_window, webview) = build(&event_loop, &settings, move |body| {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(body) else { return };
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

/// The window and its web view: the bridge injected into the top frame, `frontend` served over
/// `auroraview://` from worker threads, navigation kept on the app, and the messages of the app's
/// page (only those) handed to `on_message`.
fn build(
    event_loop: &tao::event_loop::EventLoop<UserEvent>,
    settings: &Settings,
    on_message: impl Fn(&str) + 'static,
) -> Result<(tao::window::Window, wry::WebView)> {
    let o = &settings.options;
    let mut builder = WindowBuilder::new()
        .with_title(&settings.title)
        .with_inner_size(LogicalSize::new(settings.width, settings.height))
        .with_resizable(settings.resizable)
        .with_always_on_top(o.always_on_top)
        .with_decorations(o.decorations.unwrap_or(true))
        .with_maximized(o.maximized)
        // Shown once built: what is set before the window is mapped (always on top) reaches the
        // X server as its initial state, with or without a window manager.
        .with_visible(false);
    if let Some(min) = size_limit(o.min_width, o.min_height, 1) {
        builder = builder.with_min_inner_size(min);
    }
    if let Some(max) = size_limit(o.max_width, o.max_height, MAX_SIDE) {
        builder = builder.with_max_inner_size(max);
    }
    if let (Some(x), Some(y)) = (o.x, o.y) {
        builder = builder.with_position(tao::dpi::LogicalPosition::new(x, y));
    }
    if o.fullscreen {
        builder = builder.with_fullscreen(Some(tao::window::Fullscreen::Borderless(None)));
    }
    let window = builder.build(event_loop).context("creating the window")?;
    if o.center && (o.x.is_none() || o.y.is_none()) {
        centre(&window);
    }
    if let Some(icon) = &o.icon {
        set_icon(&window, icon);
    }
    let debug = settings.debug;
    let start_url = o.dev_url.as_deref().unwrap_or(protocol::START_URL);
    let origins: Vec<&str> = [protocol::APP_ORIGIN].into_iter().chain(o.dev_url.as_deref()).collect();
    let mut policy = Policy::new(&origins, debug)?;
    // The runtime turns them on for `dev` and for debug builds.
    policy.dev_tools = o.dev_tools;
    let policy = Rc::new(policy);
    let files = file_server(protocol::canonical_root(&settings.frontend), settings.csp.clone())?;
    let (ipc_policy, nav_policy, popup_policy) = (policy.clone(), policy.clone(), policy.clone());
    let builder = WebViewBuilder::new()
        .with_initialization_script_for_main_only(policy.bridge_script(), true)
        .with_asynchronous_custom_protocol(protocol::SCHEME.into(), move |_id, request, responder| {
            files(request, responder)
        })
        .with_ipc_handler(move |request| {
            // On WebKitGTK the request's URI is the web view's, whichever frame posted.
            let page = request.uri().to_string();
            match ipc_policy.admit(&page, request.body()) {
                Ok(msg) => {
                    if let Some(url) = msg.strip_prefix(policy::OPEN_PREFIX) {
                        policy::open_external(url, debug)
                    } else if let Some(line) = msg.strip_prefix(policy::CONSOLE_PREFIX) {
                        if ipc_policy.dev_tools {
                            eprintln!("{}", policy::console_line(line));
                        }
                    } else {
                        on_message(msg)
                    }
                }
                Err(why) if debug => eprintln!("auroraview: dropped a message to Python: {why}"),
                Err(_) => {}
            }
        })
        .with_navigation_handler(move |url| match nav_policy.navigation(&url) {
            Navigation::Allow => true,
            Navigation::External => {
                policy::open_external(&url, debug);
                false
            }
            Navigation::Refuse => {
                if debug {
                    eprintln!("auroraview: refused to navigate to {url}");
                }
                false
            }
        })
        // target=_blank and window.open: the window opens no second window. (The bridge hands the
        // app page's own to the browser; these are the ones a user opened from a frame.)
        .with_new_window_req_handler(move |url, _features| {
            if popup_policy.is_app_url(&url) {
                if debug {
                    eprintln!("auroraview: refused to open {url} in a new window");
                }
            } else {
                policy::open_external(&url, debug);
            }
            NewWindowResponse::Deny
        })
        .with_devtools(settings.debug)
        .with_url(start_url);
    #[cfg(target_os = "linux")]
    let webview = {
        use tao::platform::unix::WindowExtUnix;
        use wry::WebViewBuilderExtUnix;
        builder.build_gtk(window.default_vbox().context("the window has no GTK container")?)
    };
    #[cfg(not(target_os = "linux"))]
    let webview = builder.build(&window);
    let webview = webview.context("creating the web view")?;
    window.set_visible(true);
    #[cfg(target_os = "linux")]
    keep_top_level_on_the_app(&webview, policy);
    Ok((window, webview))
}

/// Connects to the display before tao does (tao panics when it cannot).
fn open_display() -> Result<()> {
    #[cfg(target_os = "linux")]
    {
        let named = |k: &str| std::env::var_os(k).is_some_and(|v| !v.is_empty());
        if !named("DISPLAY") && !named("WAYLAND_DISPLAY") {
            anyhow::bail!("cannot open a display (DISPLAY/WAYLAND_DISPLAY unset); use --headless");
        }
        if gtk::init().is_err() {
            let display = std::env::var("WAYLAND_DISPLAY")
                .ok()
                .filter(|v| !v.is_empty())
                .or_else(|| std::env::var("DISPLAY").ok())
                .unwrap_or_default();
            anyhow::bail!("cannot open the display {display:?}; check DISPLAY/WAYLAND_DISPLAY, or use --headless");
        }
    }
    Ok(())
}

/// The window's icon from a PNG file; one that cannot be read is reported and left out.
fn set_icon(window: &tao::window::Window, path: &Path) {
    #[cfg(target_os = "linux")]
    {
        use gtk::prelude::GtkWindowExt;
        use tao::platform::unix::WindowExtUnix;
        match gtk::gdk_pixbuf::Pixbuf::from_file(path) {
            Ok(pixbuf) => window.gtk_window().set_icon(Some(&pixbuf)),
            Err(e) => eprintln!("auroraview: cannot use the icon {}: {e}", path.display()),
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (window, path);
}

/// WebKitGTK asks the navigation handler about frames and the top frame alike, without saying
/// which, so a web page is allowed there (a frame may load it). This stops the top frame from
/// leaving the app: a response for the top frame from anywhere but the app's origins is refused
/// before it replaces the page (a GET is handed to the browser instead), and a top-level load that
/// failed off the app shows no error page in its place.
#[cfg(target_os = "linux")]
fn keep_top_level_on_the_app(webview: &wry::WebView, policy: Rc<Policy>) {
    use webkit2gtk::glib::prelude::Cast;
    use webkit2gtk::{
        LoadEvent, NetworkError, PolicyDecisionExt, PolicyDecisionType, PolicyError, ResponsePolicyDecision,
        ResponsePolicyDecisionExt, URIRequestExt, WebViewExt,
    };
    use wry::WebViewExtUnix;
    let view = webview.webview();
    let debug = policy.debug;
    let response_policy = policy.clone();
    view.connect_decide_policy(move |_, decision, kind| {
        if kind != PolicyDecisionType::Response {
            return false;
        }
        let Some(response) = decision.downcast_ref::<ResponsePolicyDecision>() else { return false };
        if !response.is_main_frame_main_resource() {
            return false;
        }
        let request = response.request();
        let url = request.as_ref().and_then(|r| r.uri()).map(|u| u.to_string()).unwrap_or_default();
        if response_policy.is_app_url(&url) {
            return false;
        }
        decision.ignore();
        let get = request.and_then(|r| r.http_method()).is_none_or(|m| m.eq_ignore_ascii_case("GET"));
        if get {
            policy::open_external(&url, debug);
        } else if debug {
            eprintln!("auroraview: refused to leave the app for {url}");
        }
        true
    });
    view.connect_load_failed(move |_, _event: LoadEvent, url, error| {
        if policy.is_app_url(url) {
            return false;
        }
        let refused_here = error.kind::<PolicyError>().is_some()
            || error.matches(NetworkError::Cancelled)
            || error.kind::<webkit2gtk::PluginError>().is_some();
        if !refused_here {
            policy::open_external(url, debug);
        }
        true
    });
}

/// The `auroraview://` handler: hands each request to one of [`FILE_WORKERS`] threads, which read
/// the file (or the requested range of it) and answer with `csp` (or the default) as its policy.
fn file_server(
    root: PathBuf,
    csp: Option<String>,
) -> Result<impl Fn(Request<Vec<u8>>, RequestAsyncResponder) + Send + Sync + 'static> {
    type Job = (Request<Vec<u8>>, RequestAsyncResponder);
    let (tx, rx) = mpsc::channel::<Job>();
    let rx = Arc::new(Mutex::new(rx));
    let root: Arc<Path> = root.into();
    let csp: Arc<str> = csp.as_deref().unwrap_or(protocol::DEFAULT_CSP).into();
    for n in 0..FILE_WORKERS {
        let (rx, root, csp) = (rx.clone(), root.clone(), csp.clone());
        std::thread::Builder::new()
            .name(format!("auroraview-files-{n}"))
            .spawn(move || {
                loop {
                    let job = rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
                    let Ok((request, responder)) = job else { break };
                    answer(&root, &csp, request, responder);
                }
            })
            .context("starting the frontend's file threads")?;
    }
    Ok(move |request, responder| {
        let _ = tx.send((request, responder));
    })
}

/// Serves one request of the `auroraview://` scheme.
fn answer(root: &Path, csp: &str, request: Request<Vec<u8>>, responder: RequestAsyncResponder) {
    let reply = if request.uri().host().is_some_and(|h| h.eq_ignore_ascii_case("localhost")) {
        let range = request.headers().get(RANGE).and_then(|v| v.to_str().ok());
        protocol::serve(root, request.uri().path(), range)
    } else {
        protocol::not_found() // another host: nothing is served there
    };
    let mut response = Response::builder().status(reply.status);
    for (name, value) in reply.headers(csp) {
        response = response.header(name, value.as_ref());
    }
    let response = response.body(reply.body).unwrap_or_else(|e| {
        eprintln!("auroraview: cannot answer {}: {e}", request.uri());
        let mut r = Response::new(Vec::new());
        *r.status_mut() = wry::http::StatusCode::INTERNAL_SERVER_ERROR;
        r
    });
    responder.respond(response);
}
