//! Diagnostics on stderr through `tracing`. Filtered by `RUST_LOG` (e.g. `RUST_LOG=debug`);
//! `AURORAVIEW_LOG` is an alias for it, and an app packed with `window.debug = true` logs at debug
//! level by default. With none of these no subscriber is installed, so a disabled `debug!` costs
//! one check of a static level and never formats its arguments.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::time::Uptime;

pub fn init(debug: bool) {
    let from_env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let Some(directives) =
        from_env("RUST_LOG").or_else(|| from_env("AURORAVIEW_LOG")).or_else(|| debug.then(|| "debug".to_string()))
    else {
        return;
    };
    let filter = EnvFilter::try_new(&directives).unwrap_or_else(|e| {
        eprintln!("auroraview: ignoring the log filter {directives:?} ({e}); logging at debug level");
        EnvFilter::new("debug")
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_timer(Uptime::default())
        .with_ansi(false)
        .try_init();
}
