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
    let window = WindowBuilder::new()
        .with_title(&settings.title)
        .with_inner_size(LogicalSize::new(settings.width, settings.height))
        .with_resizable(settings.resizable)
        .build(event_loop)
        .context("creating the window")?;
    let debug = settings.debug;
    let policy = Rc::new(Policy::new(&[protocol::APP_ORIGIN], debug)?);
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
                Ok(msg) => match msg.strip_prefix(policy::OPEN_PREFIX) {
                    Some(url) => policy::open_external(url, debug),
                    None => on_message(msg),
                },
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
    #[cfg(target_os = "linux")]
    keep_top_level_on_the_app(&webview, policy);
    Ok((window, webview))
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
