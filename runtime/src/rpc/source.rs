//! Where request lines come from: a channel (the window's event loop, benchmarks) or a pipe
//! (`--headless`).

use crossbeam_channel::{Receiver, TryRecvError};
use std::io::{BufRead, BufReader, Read};
use std::sync::Mutex;

pub enum Next {
    Message(String),
    Empty,
    Closed,
}

pub trait Source: Send + Sync {
    /// A message that is already there, without blocking.
    fn try_next(&self) -> Next;
    /// Blocks until a message arrives or the source ends. Never returns `Empty`.
    fn next(&self) -> Next;
}

impl Source for Box<dyn Source> {
    fn try_next(&self) -> Next {
        (**self).try_next()
    }
    fn next(&self) -> Next {
        (**self).next()
    }
}

/// Messages from a channel: the window's event loop, or a benchmark.
pub struct ChannelSource(pub Receiver<String>);

impl Source for ChannelSource {
    fn try_next(&self) -> Next {
        match self.0.try_recv() {
            Ok(m) => Next::Message(m),
            Err(TryRecvError::Empty) => Next::Empty,
            Err(TryRecvError::Disconnected) => Next::Closed,
        }
    }
    fn next(&self) -> Next {
        self.0.recv().map(Next::Message).unwrap_or(Next::Closed)
    }
}

/// JSON lines from a pipe (`--headless`). Only the leader reads, so the lock is never contended.
pub struct LineSource<R>(Mutex<BufReader<R>>);

impl<R: Read + Send> LineSource<R> {
    pub fn new(input: R) -> Self {
        LineSource(Mutex::new(BufReader::with_capacity(1 << 16, input)))
    }

    fn read_line(reader: &mut BufReader<R>) -> Next {
        let mut line = String::new();
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) => return Next::Closed,
                Ok(_) => {
                    let trimmed = line.trim_end_matches(['\n', '\r']);
                    if trimmed.trim().is_empty() {
                        continue;
                    }
                    let len = trimmed.len();
                    line.truncate(len);
                    return Next::Message(line);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                // A line that is not UTF-8 is passed on as is, for the router to refuse.
                Err(e) if e.kind() == std::io::ErrorKind::InvalidData => return Next::Message("\u{fffd}".into()),
                Err(_) => return Next::Closed,
            }
        }
    }
}

impl<R: Read + Send> Source for LineSource<R> {
    fn try_next(&self) -> Next {
        let mut reader = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if reader.buffer().contains(&b'\n') { Self::read_line(&mut reader) } else { Next::Empty }
    }
    fn next(&self) -> Next {
        Self::read_line(&mut self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}
