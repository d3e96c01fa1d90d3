//! Carrying JSON-RPC lines between the page (or a headless client) and whoever answers them.
//! Nothing here knows Python or windows: a [`source::Source`] yields request lines, a
//! [`sink::Sink`] takes response and event lines, and the [`dispatch::Dispatcher`] decides which
//! worker reads next.

// Workers reading requests: only Python in this process has them.
#[cfg(feature = "python")]
pub mod dispatch;
pub mod sink;
#[cfg(feature = "python")]
pub mod source;
pub mod stdio;
