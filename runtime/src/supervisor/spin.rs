//! A pipe reader that spins briefly before it sleeps. In the subprocess relay a reply usually
//! arrives tens of microseconds after the request went out; waking a sleeping thread costs about as
//! much on a small VM, on each of the relay's two hops.

use std::io::{self, Read};
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

/// How long a reader polls before it blocks.
const SPIN: Duration = Duration::from_micros(50);

pub struct SpinReader<R> {
    inner: R,
    fd: RawFd,
}

impl<R: AsRawFd> SpinReader<R> {
    pub fn new(inner: R) -> io::Result<Self> {
        let fd = inner.as_raw_fd();
        // SAFETY: fcntl on a descriptor this reader owns through `inner`.
        unsafe {
            let flags = libc::fcntl(fd, libc::F_GETFL);
            if flags < 0 || libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) < 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(SpinReader { inner, fd })
    }
}

impl<R: Read> Read for SpinReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let start = Instant::now();
        loop {
            match self.inner.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if start.elapsed() < SPIN {
                        std::hint::spin_loop();
                        continue;
                    }
                    let mut pfd = libc::pollfd { fd: self.fd, events: libc::POLLIN, revents: 0 };
                    // SAFETY: one valid pollfd; blocks until the pipe is readable or closed.
                    let r = unsafe { libc::poll(&mut pfd, 1, -1) };
                    if r < 0 {
                        let e = io::Error::last_os_error();
                        if e.kind() != io::ErrorKind::Interrupted {
                            return Err(e);
                        }
                    }
                }
                other => return other,
            }
        }
    }
}
