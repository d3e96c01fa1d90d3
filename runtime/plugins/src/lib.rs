//! The native plugins beside the web view: `shell`, `process`, `dialog` and `clipboard`. The page
//! calls them directly (the window hands its plugin messages to [`Host::page_request`]) and the
//! Python backend forwards its commands over a socket ([`Host::connect_python`]). Every call is
//! checked against the app's `[plugins]` grants first ([`auroraview_overlay::plugins`]): nothing is
//! allowed that the config does not grant.
//!
//! Wire format, both ways the same as the app's JSON-RPC: a request `{"id", "method":
//! "shell.open", "params": {...}}`, a response `{"id", "ok": true, "result"}` or `{"id", "ok":
//! false, "error", "type"}` (`type` is `PermissionDenied`, `InvalidParams` or `PluginError`), and
//! events `{"event": "process.stdout", "data": {...}}` sent to the page and to every Python
//! connection.

mod clipboard;
mod dialog;
mod process;
mod shell;

use auroraview_overlay::plugins::{Caller, Plugins, Vars};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// The environment variable that gives a Python backend the descriptor of its plugin socket.
pub const FD_ENV: &str = "AURORAVIEW_PLUGINS_FD";

/// The longest request line a Python connection may send.
const MAX_LINE: u64 = 16 << 20;

/// Why a call failed; `kind` becomes the error's `type` on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub kind: &'static str,
    pub message: String,
}

impl Failure {
    fn denied(message: String) -> Failure {
        Failure { kind: "PermissionDenied", message }
    }
    fn params(message: String) -> Failure {
        Failure { kind: "InvalidParams", message }
    }
    fn plugin(message: impl Into<String>) -> Failure {
        Failure { kind: "PluginError", message: message.into() }
    }
}

type Outcome = Result<Value, Failure>;
/// Where a call's result goes.
type Reply = Box<dyn FnOnce(Outcome) + Send>;
/// A line for the page, or for the window's dialog function.
pub type LineFn = Arc<dyn Fn(&str) + Send + Sync>;

/// The plugins of one app process.
pub struct Host {
    grants: Plugins,
    vars: Vars,
    page: Mutex<Option<LineFn>>,
    dialogs: Mutex<Option<LineFn>>,
    waiting_dialogs: Mutex<HashMap<u64, Reply>>,
    next_token: AtomicU64,
    python: Mutex<Vec<Arc<Connection>>>,
    processes: process::Table,
    clipboard: clipboard::Clipboard,
}

/// One Python backend's socket.
struct Connection {
    writer: Mutex<UnixStream>,
}

impl Connection {
    fn send(&self, line: &str) -> bool {
        let mut w = lock(&self.writer);
        w.write_all(line.as_bytes()).and_then(|_| w.write_all(b"\n")).is_ok()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Host {
    /// `grants` from the manifest; `vars` the values of `$HOME`, `$EXTRACT_DIR`, ... for scopes.
    pub fn new(grants: Plugins, vars: Vars) -> Arc<Host> {
        Arc::new(Host {
            grants,
            vars,
            page: Mutex::new(None),
            dialogs: Mutex::new(None),
            waiting_dialogs: Mutex::new(HashMap::new()),
            next_token: AtomicU64::new(1),
            python: Mutex::new(Vec::new()),
            processes: process::Table::default(),
            clipboard: clipboard::Clipboard::default(),
        })
    }

    /// Lines for the page (responses to its calls, and events) go to `sink` from now on.
    pub fn set_page(&self, sink: LineFn) {
        *lock(&self.page) = Some(sink);
    }

    /// Dialogs are shown by `show`, which gets one JSON request (with a `token`) and answers
    /// later through [`Host::dialog_result`]. Without it, dialog commands fail: the run has no window.
    pub fn set_dialogs(&self, show: LineFn) {
        *lock(&self.dialogs) = Some(show);
    }

    /// The window's answer to a dialog request: `{"token", "result"}` or `{"token", "error"}`.
    pub fn dialog_result(&self, line: &str) {
        let Ok(msg) = serde_json::from_str::<Value>(line) else { return };
        let Some(token) = msg["token"].as_u64() else { return };
        let Some(reply) = lock(&self.waiting_dialogs).remove(&token) else { return };
        match msg.get("error").and_then(Value::as_str) {
            Some(e) => reply(Err(Failure::plugin(e))),
            None => reply(Ok(msg.get("result").cloned().unwrap_or(Value::Null))),
        }
    }

    /// A plugin message from the app's page: one JSON request, answered through the page's sink.
    pub fn page_request(self: &Arc<Self>, line: &str) {
        let host = self.clone();
        self.request(Caller::Page, line, move |response| {
            if let Some(page) = lock(&host.page).clone() {
                page(&response);
            }
        });
    }

    /// A new Python connection: returns the descriptor for the backend (pass it in [`FD_ENV`]);
    /// this end is served on a thread of its own until the backend closes it.
    pub fn connect_python(self: &Arc<Self>) -> std::io::Result<OwnedFd> {
        let (ours, theirs) = UnixStream::pair()?;
        let conn = Arc::new(Connection { writer: Mutex::new(ours.try_clone()?) });
        lock(&self.python).push(conn.clone());
        let host = self.clone();
        std::thread::Builder::new().name("auroraview-plugins".into()).spawn(move || {
            let mut reader = BufReader::new(ours);
            let mut line = Vec::new();
            loop {
                line.clear();
                match (&mut reader).take(MAX_LINE).read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                if line.last() != Some(&b'\n') {
                    // Longer than any request may be: this connection is not to be trusted further.
                    break;
                }
                let text = String::from_utf8_lossy(&line);
                let conn = conn.clone();
                host.request(Caller::Python, text.trim_end(), move |response| {
                    conn.send(&response);
                });
            }
            lock(&host.python).retain(|c| !Arc::ptr_eq(c, &conn));
        })?;
        Ok(theirs.into())
    }

    /// Sends an event to the page and to every Python backend.
    fn emit(&self, event: &str, data: Value) {
        let line = json!({"event": event, "data": data}).to_string();
        if let Some(page) = lock(&self.page).clone() {
            page(&line);
        }
        lock(&self.python).retain(|c| c.send(&line));
    }

    /// Parses a request and runs it off the calling thread (the page's arrive on the UI thread);
    /// `respond` gets the response line.
    fn request(self: &Arc<Self>, caller: Caller, line: &str, respond: impl FnOnce(String) + Send + 'static) {
        let msg: Value = match serde_json::from_str(line) {
            Ok(v @ Value::Object(_)) => v,
            _ => return, // not a request: nothing to answer
        };
        let id = msg.get("id").cloned().unwrap_or(Value::Null);
        let reply: Reply = Box::new(move |outcome| {
            let line = match outcome {
                Ok(result) => json!({"id": id, "ok": true, "result": result}),
                Err(f) => json!({"id": id, "ok": false, "error": f.message, "type": f.kind}),
            };
            respond(line.to_string());
        });
        let Some(method) = msg.get("method").and_then(Value::as_str).map(str::to_string) else {
            return reply(Err(Failure::params("a plugin request names its method".into())));
        };
        let params = msg.get("params").cloned().unwrap_or(Value::Null);
        let host = self.clone();
        let spawned = std::thread::Builder::new().name("auroraview-plugin-call".into()).spawn(move || {
            host.call(caller, &method, params, reply);
        });
        if let Err(e) = spawned {
            eprintln!("auroraview: cannot run a plugin call: {e}");
        }
    }

    /// Runs one command for `caller` and hands the outcome to `reply` (now, or when a dialog closes).
    fn call(self: &Arc<Self>, caller: Caller, method: &str, params: Value, reply: Reply) {
        if method.starts_with("dialog.") {
            return self.dialog(caller, method, params, reply);
        }
        reply(self.run(caller, method, params));
    }

    fn run(self: &Arc<Self>, caller: Caller, method: &str, params: Value) -> Outcome {
        match method {
            "shell.open" => shell::open(self, caller, parse(method, params)?),
            "shell.open_path" => shell::open_path(self, caller, parse(method, params)?),
            "shell.show_in_folder" => shell::show_in_folder(self, caller, parse(method, params)?),
            "shell.which" => shell::which(self, caller, parse(method, params)?),
            "shell.execute" => shell::execute(self, caller, parse(method, params)?),
            "shell.spawn" => shell::spawn(self, caller, parse(method, params)?),
            "shell.get_env" => shell::get_env(self, caller, parse(method, params)?),
            "process.spawn" => process::spawn(self, caller, parse(method, params)?),
            "process.write" => process::write(self, caller, parse(method, params)?),
            "process.kill" => process::kill(self, caller, parse(method, params)?),
            "process.list" => {
                self.allow(caller, method, "")?;
                Ok(self.processes.list())
            }
            "clipboard.read_text" | "clipboard.write_text" | "clipboard.clear" => {
                self.allow(caller, method, "")?;
                clipboard::run(&self.clipboard, method, params)
            }
            _ => Err(Failure::params(format!(
                "unknown plugin command {method:?}; see \"Plugins and permissions\" in the README"
            ))),
        }
    }

    fn dialog(self: &Arc<Self>, caller: Caller, method: &str, params: Value, reply: Reply) {
        let request = match self.allow(caller, method, "").and_then(|_| dialog::request(method, params)) {
            Ok(r) => r,
            Err(f) => return reply(Err(f)),
        };
        let Some(show) = lock(&self.dialogs).clone() else {
            return reply(Err(Failure::plugin(format!("{method} needs the app's window, and this run has none"))));
        };
        let token = self.next_token.fetch_add(1, Ordering::Relaxed);
        lock(&self.waiting_dialogs).insert(token, reply);
        let mut request = request;
        request["token"] = token.into();
        show(&request.to_string());
    }

    /// Whether `caller` may run `command` on `arg`.
    fn allow(&self, caller: Caller, command: &str, arg: &str) -> Result<(), Failure> {
        self.grants.check(caller, command, arg, &self.vars).map_err(|d| Failure::denied(d.0))
    }
}

/// A command's params, refused with a message naming the command when they do not fit.
fn parse<T: DeserializeOwned>(method: &str, params: Value) -> Result<T, Failure> {
    let params = if params.is_null() { json!({}) } else { params };
    serde_json::from_value(params).map_err(|e| Failure::params(format!("{method}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use auroraview_overlay::plugins::Grant;
    use std::sync::mpsc;

    fn host(grants: &[(&str, Grant)]) -> Arc<Host> {
        let grants =
            Plugins { grants: grants.iter().map(|(k, g)| (k.to_string(), g.clone())).collect(), ..Default::default() };
        Host::new(grants, Vars::default())
    }

    fn ask(host: &Arc<Host>, line: &str) -> Value {
        let (tx, rx) = mpsc::channel();
        host.request(Caller::Page, line, move |r| tx.send(r).unwrap());
        serde_json::from_str(&rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap()).unwrap()
    }

    #[test]
    fn denied_calls_name_the_key() {
        let h = host(&[]);
        let r = ask(&h, r#"{"id":1,"method":"shell.which","params":{"name":"sh"}}"#);
        assert_eq!(r["ok"], false);
        assert_eq!(r["type"], "PermissionDenied");
        assert!(r["error"].as_str().unwrap().contains("[plugins.shell] which"), "{r}");
    }

    #[test]
    fn granted_calls_run_and_bad_params_are_named() {
        let h = host(&[("shell.which", Grant::Scopes(vec!["sh".into()])), ("shell.execute", Grant::All(true))]);
        let r = ask(&h, r#"{"id":"a","method":"shell.which","params":{"name":"sh"}}"#);
        assert_eq!(r["id"], "a");
        assert!(r["result"].as_str().unwrap().ends_with("/sh"), "{r}");
        let r = ask(
            &h,
            r#"{"id":2,"method":"shell.execute","params":{"program":"sh","args":["-c","echo hi; echo err >&2; exit 3"]}}"#,
        );
        assert_eq!(r["result"], json!({"code": 3, "signal": null, "stdout": "hi\n", "stderr": "err\n"}));
        let r = ask(&h, r#"{"id":3,"method":"shell.execute","params":{"prog":"sh"}}"#);
        assert_eq!(r["type"], "InvalidParams");
        assert!(r["error"].as_str().unwrap().contains("shell.execute"), "{r}");
        let r = ask(&h, r#"{"id":4,"method":"shell.nope"}"#);
        assert_eq!(r["type"], "InvalidParams");
    }

    #[test]
    fn dialogs_without_a_window_fail_and_with_one_come_back() {
        let h = host(&[("dialog", Grant::All(true))]);
        let r = ask(&h, r#"{"id":1,"method":"dialog.confirm","params":{"message":"sure?"}}"#);
        assert_eq!(r["type"], "PluginError");
        let shown = Arc::new(Mutex::new(Vec::new()));
        let (s, h2) = (shown.clone(), h.clone());
        h.set_dialogs(Arc::new(move |req: &str| {
            s.lock().unwrap().push(req.to_string());
            let token = serde_json::from_str::<Value>(req).unwrap()["token"].clone();
            h2.dialog_result(&json!({"token": token, "result": true}).to_string());
        }));
        let r = ask(&h, r#"{"id":2,"method":"dialog.confirm","params":{"message":"sure?"}}"#);
        assert_eq!(r["result"], true);
        assert!(shown.lock().unwrap()[0].contains("\"kind\":\"confirm\""));
    }
}
