//! `--headless`: JSON lines on stdin/stdout. The protocol takes private copies of fds 0 and 1, and
//! fd 1 is then pointed at stderr (fd 0 at /dev/null), so nothing a handler, a C extension or a
//! child process prints can corrupt the stream.

use std::fs::File;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

fn dup_cloexec(fd: i32) -> io::Result<OwnedFd> {
    // SAFETY: F_DUPFD_CLOEXEC on a descriptor of this process returns a new descriptor we own.
    let new = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
    if new < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `new` is a fresh descriptor owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

fn dup2(from: i32, to: i32) -> io::Result<()> {
    // SAFETY: dup2 between descriptors of this process; `to` is a standard descriptor we replace.
    if unsafe { libc::dup2(from, to) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Where lines for the frontend go: the protocol's stdout, the window, or a channel.
pub type Sink = Box<dyn Fn(&str) -> io::Result<()> + Send + Sync>;

/// Returns (protocol input, protocol output). Call before any other thread starts.
pub fn take_stdio() -> io::Result<(File, File)> {
    let input = dup_cloexec(0)?;
    let output = dup_cloexec(1)?;
    let devnull = File::open("/dev/null")?;
    use std::os::fd::AsRawFd;
    dup2(devnull.as_raw_fd(), 0)?;
    dup2(2, 1)?;
    Ok((File::from(input), File::from(output)))
}

/// A sink writing each line, with its newline, in one write.
pub fn line_writer(output: File) -> Sink {
    use std::io::Write;
    let output = std::sync::Mutex::new(output);
    Box::new(move |line: &str| {
        let mut buf = Vec::with_capacity(line.len() + 1);
        buf.extend_from_slice(line.as_bytes());
        buf.push(b'\n');
        output.lock().unwrap_or_else(|e| e.into_inner()).write_all(&buf)
    })
}
