//! Where lines for the frontend go: the protocol's stdout, the window, or a channel.

use std::fs::File;
use std::io::{self, Write};
use std::sync::Mutex;

/// Takes one response or event line (without its newline).
pub type Sink = Box<dyn Fn(&str) -> io::Result<()> + Send + Sync>;

/// A sink writing each line, with its newline, in one write.
pub fn line_writer(output: File) -> Sink {
    let output = Mutex::new(output);
    Box::new(move |line: &str| {
        let mut buf = Vec::with_capacity(line.len() + 1);
        buf.extend_from_slice(line.as_bytes());
        buf.push(b'\n');
        output.lock().unwrap_or_else(|e| e.into_inner()).write_all(&buf)
    })
}
