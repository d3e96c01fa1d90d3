//! Who may talk to Python, and where the window may go: the window's side of the trust boundary
//! "only the app's own page reaches Python". Knows nothing of wry, so it is tested on its own.
//!
//! * A message is accepted only if it starts with the window's secret (128 random bits, made when
//!   the window is created and known only to the bridge, which is injected into the top frame of
//!   pages on an allowed origin) and the web view's page is on an allowed origin. An iframe can
//!   post to WebKit's message handler, and the handler cannot tell frames apart, but it cannot read
//!   the bridge's closure, so it never has the secret.
//! * Navigation stays on the allowed origins. Links, `target=_blank` and `window.open` to `http`,
//!   `https` and `mailto` URLs are handed to the system browser; anything else off the origins
//!   is refused.

use anyhow::{Context, Result};
use std::io::Read;

/// The bridge's source; `__AURORAVIEW_SECRET__` and `__AURORAVIEW_ORIGINS__` are filled in.
const BRIDGE: &str = include_str!("bridge.js");

/// A control message from the bridge (after the secret): the page can now receive.
pub const READY: &str = "\u{1}ready";
/// A control message from the bridge: hand the URL that follows to the system browser.
pub const OPEN_PREFIX: &str = "\u{1}open ";
/// A control message from the bridge with developer tools on: the page's console output or an
/// uncaught error, `{"level", "message", "at"}`.
pub const CONSOLE_PREFIX: &str = "\u{1}console ";

pub struct Policy {
    /// `scheme://host[:port]`, lowercase, without a trailing slash.
    origins: Vec<String>,
    secret: String,
    pub debug: bool,
    /// The bridge prints the page's console on the terminal and reloads on F5 / Ctrl+R.
    pub dev_tools: bool,
}

/// Why a message was dropped.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// It did not carry the window's secret: it came from an iframe, or from page script that
    /// bypassed the bridge.
    NoSecret,
    /// The web view shows a page that is not on an allowed origin.
    ForeignPage(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::NoSecret => {
                f.write_str("it did not come from the app page's bridge (an iframe, or a script around it)")
            }
            Refusal::ForeignPage(url) => write!(f, "the window shows {url:?}, which is not the app's"),
        }
    }
}

/// What to do with a navigation of the web view.
#[derive(Debug, PartialEq, Eq)]
pub enum Navigation {
    /// One of the app's own pages, or something only frames load (`about:`, `data:`, `blob:`),
    /// or a web page that may be a frame's: a top-level one is stopped when its response arrives.
    Allow,
    /// Refused in the window, and handed to the system browser.
    External,
    /// Refused.
    Refuse,
}

impl Policy {
    /// The policy of a new window: its origins (the app's; a later change adds a dev server's) and a
    /// fresh secret.
    pub fn new(origins: &[&str], debug: bool) -> Result<Policy> {
        let mut bytes = [0u8; 16];
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut bytes))
            .context("reading /dev/urandom for the window's secret")?;
        Ok(Policy::with_secret(origins, hex(&bytes), debug))
    }

    fn with_secret(origins: &[&str], secret: String, debug: bool) -> Policy {
        let origins = origins.iter().filter_map(|o| origin_of(o)).collect();
        Policy { origins, secret, debug, dev_tools: false }
    }

    /// The bridge for the top frame, with this window's secret and origins.
    pub fn bridge_script(&self) -> String {
        let origins = serde_json::to_string(&self.origins).unwrap_or_else(|_| "[]".into());
        BRIDGE
            .replace("\"__AURORAVIEW_SECRET__\"", &format!("\"{}\"", self.secret))
            .replace("__AURORAVIEW_ORIGINS__", &origins)
            .replace("__AURORAVIEW_DEV_TOOLS__", if self.dev_tools { "true" } else { "false" })
    }

    /// Whether `url` is on one of the allowed origins.
    pub fn is_app_url(&self, url: &str) -> bool {
        origin_of(url).is_some_and(|o| self.origins.contains(&o))
    }

    /// The message the bridge sent, without its secret, if `body` came from the bridge of a page on
    /// an allowed origin (`page_url`: the web view's URL when it arrived).
    pub fn admit<'a>(&self, page_url: &str, body: &'a str) -> Result<&'a str, Refusal> {
        let secret = self.secret.as_bytes();
        let head = body.as_bytes().get(..secret.len()).ok_or(Refusal::NoSecret)?;
        // Constant time, though nothing a frame could measure depends on it.
        if head.iter().zip(secret).fold(0u8, |acc, (a, b)| acc | (a ^ b)) != 0 {
            return Err(Refusal::NoSecret);
        }
        if !self.is_app_url(page_url) {
            return Err(Refusal::ForeignPage(page_url.to_string()));
        }
        // The secret is ASCII, so this is a character boundary.
        Ok(&body[secret.len()..])
    }

    /// The decision for a navigation of the web view (top frame or subframe: WebKitGTK's policy
    /// signal does not say which) to `url`.
    pub fn navigation(&self, url: &str) -> Navigation {
        if self.is_app_url(url) {
            return Navigation::Allow;
        }
        let scheme = url.split_once(':').map(|(s, _)| s.to_ascii_lowercase()).unwrap_or_default();
        match scheme.as_str() {
            // What frames and the app's own pages make; a top-level one is no app page, so the
            // bridge is not installed and its messages are dropped.
            "about" | "data" | "blob" => Navigation::Allow,
            // A frame's page is allowed; on Linux a top-level one is stopped at its response
            // (shell.rs), elsewhere here.
            "http" | "https" if cfg!(target_os = "linux") => Navigation::Allow,
            "http" | "https" => Navigation::External,
            // Links and window.open to mailto: are handed over by the bridge; a frame cannot.
            _ => Navigation::Refuse,
        }
    }

    /// The secret, for tests of the bridge script.
    #[cfg(test)]
    fn secret(&self) -> &str {
        &self.secret
    }
}

/// A console line from the bridge as the terminal shows it: `page console.error: text (at)`.
pub fn console_line(json: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(json).unwrap_or_default();
    let field =
        |k: &str| v[k].as_str().unwrap_or("").chars().filter(|c| *c == '\n' || !c.is_control()).collect::<String>();
    let (level, message, at) = (field("level"), field("message"), field("at"));
    let level = match level.as_str() {
        "uncaught" => "uncaught error".to_string(),
        "unhandledrejection" => "unhandled rejection".to_string(),
        l => format!("console.{l}"),
    };
    // The app's own URLs are shown by their path, as a file:line.
    let at = at.strip_prefix(crate::protocol::APP_ORIGIN).unwrap_or(&at);
    if at.is_empty() { format!("page {level}: {message}") } else { format!("page {level}: {message} ({at})") }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `scheme://host[:port]` of a hierarchical URL, lowercase, without default ports; None for URLs
/// without an authority (`about:`, `data:`, `mailto:`) or with an empty host. Only the origins of
/// URLs WebKit reports (already normalised) are compared, never parsed for anything else.
pub fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once(':')?;
    let valid_scheme = scheme.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    let rest = rest.strip_prefix("//")?;
    if !valid_scheme {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    // Userinfo (`user:pass@`) is not part of the origin.
    let hostport = authority.rsplit_once('@').map(|(_, h)| h).unwrap_or(authority).to_ascii_lowercase();
    let scheme = scheme.to_ascii_lowercase();
    let hostport = match (scheme.as_str(), hostport.rsplit_once(':')) {
        ("http", Some((h, "80"))) | ("https", Some((h, "443"))) => h.to_string(),
        _ => hostport,
    };
    let host = hostport.strip_suffix(':').unwrap_or(&hostport);
    if host.is_empty() || host.starts_with(':') {
        return None;
    }
    Some(format!("{scheme}://{host}"))
}

/// `url` if it may be handed to the system browser: `http`/`https` with a host, or `mailto`, with
/// no whitespace or control characters (it becomes one argument of `xdg-open`, never a shell's).
pub fn external_url(url: &str) -> Option<&str> {
    if url.is_empty() || url.len() > 8192 || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    let (scheme, rest) = url.split_once(':')?;
    match scheme.to_ascii_lowercase().as_str() {
        "http" | "https" => origin_of(url).map(|_| url),
        "mailto" if !rest.is_empty() => Some(url),
        _ => None,
    }
}

/// Hands `url` (checked with [`external_url`]) to the system browser: `xdg-open URL` (macOS:
/// `open`), started without a shell and waited for on a thread of its own, never the UI thread's.
pub fn open_external(url: &str, debug: bool) {
    let Some(url) = external_url(url) else {
        if debug {
            eprintln!("auroraview: not handing {url:?} to the browser: only http, https and mailto URLs are");
        }
        return;
    };
    let program = if cfg!(target_os = "macos") { "open" } else { "xdg-open" };
    if debug {
        eprintln!("auroraview: opening {url} in the system browser");
    }
    let url = url.to_string();
    let spawned = std::thread::Builder::new().name("auroraview-open".into()).spawn(move || {
        let child = std::process::Command::new(program)
            .arg(&url)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .spawn();
        match child {
            Ok(mut child) => {
                let _ = child.wait();
            }
            Err(e) => eprintln!("auroraview: cannot open {url} in the system browser ({program}: {e})"),
        }
    });
    if let Err(e) = spawned {
        eprintln!("auroraview: cannot open a URL in the system browser: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy::with_secret(&["auroraview://localhost/"], "0123456789abcdef0123456789abcdef".into(), false)
    }

    #[test]
    fn secrets_are_random_and_long() {
        let (a, b) = (Policy::new(&["auroraview://localhost"], false).unwrap(), Policy::new(&[], false).unwrap());
        assert_eq!(a.secret().len(), 32);
        assert!(a.secret().bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a.secret(), b.secret());
    }

    #[test]
    fn origins() {
        for (url, origin) in [
            ("auroraview://localhost/", Some("auroraview://localhost")),
            ("auroraview://localhost", Some("auroraview://localhost")),
            ("AuroraView://LocalHost/a/b?c#d", Some("auroraview://localhost")),
            ("auroraview://localhost:80/", Some("auroraview://localhost:80")),
            ("auroraview://localhost@evil.example/", Some("auroraview://evil.example")),
            ("auroraview://localhost.evil.example/", Some("auroraview://localhost.evil.example")),
            ("http://127.0.0.1:5999/x", Some("http://127.0.0.1:5999")),
            ("http://example.com:80/", Some("http://example.com")),
            ("https://example.com:443", Some("https://example.com")),
            ("https://[::1]:443/", Some("https://[::1]")),
            ("http://[::1]/", Some("http://[::1]")),
            ("about:blank", None),
            ("data:text/html,hi", None),
            ("mailto:a@b.c", None),
            ("blob:auroraview://localhost/uuid", None),
            ("http:///path", None),
            ("", None),
            ("1http://x/", None),
        ] {
            assert_eq!(origin_of(url).as_deref(), origin, "{url}");
        }
    }

    #[test]
    fn only_the_bridge_of_an_app_page_is_admitted() {
        let p = policy();
        let secret = p.secret().to_string();
        let page = "auroraview://localhost/index.html";
        let msg = format!("{secret}{{\"id\":\"av1\",\"method\":\"api.x\"}}");
        assert_eq!(p.admit(page, &msg), Ok("{\"id\":\"av1\",\"method\":\"api.x\"}"));
        assert_eq!(p.admit(page, &format!("{secret}{READY}")), Ok(READY));
        assert_eq!(p.admit(page, "{\"id\":\"x\",\"method\":\"api.secret\"}"), Err(Refusal::NoSecret));
        assert_eq!(p.admit(page, ""), Err(Refusal::NoSecret));
        let mut wrong = secret.clone().into_bytes();
        wrong[31] = if wrong[31] == b'0' { b'1' } else { b'0' };
        assert_eq!(p.admit(page, &format!("{}{{}}", String::from_utf8(wrong).unwrap())), Err(Refusal::NoSecret));
        assert_eq!(p.admit(page, &secret[..31]), Err(Refusal::NoSecret));
        // Not even with the secret from a page on another origin.
        for foreign in ["http://127.0.0.1:5999/", "about:blank", "", "auroraview://other/"] {
            assert_eq!(p.admit(foreign, &msg), Err(Refusal::ForeignPage(foreign.into())), "{foreign}");
        }
        // Multi-byte text right after the secret.
        assert_eq!(p.admit(page, &format!("{secret}é")), Ok("é"));
        assert_eq!(p.admit(page, "ééééééééééééééééé"), Err(Refusal::NoSecret));
    }

    #[test]
    fn navigation_stays_on_the_app() {
        let p = policy();
        assert_eq!(p.navigation("auroraview://localhost/other.html"), Navigation::Allow);
        for frame_only in ["about:blank", "about:srcdoc", "data:text/html,x", "blob:auroraview://localhost/1"] {
            assert_eq!(p.navigation(frame_only), Navigation::Allow, "{frame_only}");
        }
        for refused in ["file:///etc/passwd", "auroraview://other/", "ftp://x/", "mailto:a@b.c", "javascript:1", "x"] {
            assert_eq!(p.navigation(refused), Navigation::Refuse, "{refused}");
        }
        let web = if cfg!(target_os = "linux") { Navigation::Allow } else { Navigation::External };
        assert_eq!(p.navigation("https://example.com/"), web);
    }

    #[test]
    fn only_web_and_mail_urls_go_to_the_browser() {
        for ok in ["http://127.0.0.1:5999/", "https://example.com/a?b#c", "mailto:someone@example.com", "HTTPS://x/"] {
            assert_eq!(external_url(ok), Some(ok), "{ok}");
        }
        for no in [
            "file:///etc/passwd",
            "javascript:alert(1)",
            "auroraview://localhost/",
            "http:///x",
            "http://a b/",
            "http://x/\n--help",
            "mailto:",
            "-v",
            "",
            "ftp://example.com/",
        ] {
            assert_eq!(external_url(no), None, "{no:?}");
        }
    }

    #[test]
    fn the_bridge_carries_the_secret_and_origins() {
        let p = policy();
        let js = p.bridge_script();
        assert!(js.contains(&format!("\"{}\"", p.secret())));
        assert!(js.contains("[\"auroraview://localhost\"]"));
        assert!(!js.contains("__AURORAVIEW_"));
    }
}
