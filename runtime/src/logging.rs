//! Verbose lifecycle lines on stderr, on when the app was packed with `window.debug = true` or
//! runs with `AURORAVIEW_LOG=debug`. Off, they cost one relaxed atomic load.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

static ON: AtomicBool = AtomicBool::new(false);
static START: OnceLock<Instant> = OnceLock::new();

pub fn init(debug: bool) {
    START.get_or_init(Instant::now);
    let env = std::env::var("AURORAVIEW_LOG").map(|v| v.eq_ignore_ascii_case("debug")).unwrap_or(false);
    ON.store(debug || env, Ordering::Relaxed);
}

pub fn enabled() -> bool {
    ON.load(Ordering::Relaxed)
}

pub fn line(args: std::fmt::Arguments) {
    let ms = START.get().map(|s| s.elapsed().as_secs_f64() * 1e3).unwrap_or(0.0);
    eprintln!("auroraview [{ms:8.1} ms] {args}");
}

/// `debug!("...", args)`: a lifecycle line when verbose logging is on.
macro_rules! debug {
    ($($arg:tt)*) => {
        if $crate::log::enabled() {
            $crate::log::line(format_args!($($arg)*));
        }
    };
}
pub(crate) use debug;
