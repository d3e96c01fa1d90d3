//! `--headless`: JSON lines on stdin/stdout. The protocol takes private copies of fds 0 and 1, and
//! fd 1 is then pointed at stderr (fd 0 at /dev/null), so nothing a handler, a C extension or a
//! child process prints can corrupt the stream.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

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

/// The protocol's ends of stdin and stdout, taken from fds 0 and 1.
pub struct Stdio {
    pub input: File,
    pub output: File,
}

/// Takes fds 0 and 1 for the protocol. Call before any other thread starts.
pub fn take() -> io::Result<Stdio> {
    let input = dup_cloexec(0)?;
    let output = dup_cloexec(1)?;
    let devnull = File::open("/dev/null")?;
    dup2(devnull.as_raw_fd(), 0)?;
    dup2(2, 1)?;
    Ok(Stdio { input: File::from(input), output: File::from(output) })
}
