//! Where request lines come from: a channel (the window's event loop, benchmarks) or a pipe
//! (`--headless`).

use crossbeam_channel::{Receiver, TryRecvError};
use std::io::{BufRead, BufReader, Read};
use std::sync::Mutex;

/// One request: text, or the bytes of a line that is not UTF-8, which Python gets as `bytes` and
/// answers with a `ParseError` (carrying the line's id, when it has one).
#[derive(Debug, PartialEq)]
pub enum Message {
    Text(String),
    Bytes(Vec<u8>),
}

pub enum Next {
    Message(Message),
    Empty,
    Closed,
}

pub trait Source: Send + Sync {
    /// A message that is already there, without blocking.
    fn try_next(&self) -> Next;
    /// Blocks until a message arrives or the source ends. Never returns `Empty`.
    fn next(&self) -> Next;
    /// Whether a message is already waiting, without taking it: a guess, cheap enough for the
    /// watchdog to ask while a handler runs (never blocks, may say no when unsure).
    fn pending(&self) -> bool;
}

impl Source for Box<dyn Source> {
    fn try_next(&self) -> Next {
        (**self).try_next()
    }
    fn next(&self) -> Next {
        (**self).next()
    }
    fn pending(&self) -> bool {
        (**self).pending()
    }
}

/// Messages from a channel: the window's event loop, or a benchmark.
pub struct ChannelSource(pub Receiver<String>);

impl Source for ChannelSource {
    fn try_next(&self) -> Next {
        match self.0.try_recv() {
            Ok(m) => Next::Message(Message::Text(m)),
            Err(TryRecvError::Empty) => Next::Empty,
            Err(TryRecvError::Disconnected) => Next::Closed,
        }
    }
    fn next(&self) -> Next {
        self.0.recv().map(|m| Next::Message(Message::Text(m))).unwrap_or(Next::Closed)
    }
    fn pending(&self) -> bool {
        !self.0.is_empty()
    }
}

/// JSON lines from a pipe (`--headless`). Only the leader reads, so the lock is never contended.
pub struct LineSource<R>(Mutex<BufReader<R>>);

impl<R: Read + Send> LineSource<R> {
    pub fn new(input: R) -> Self {
        LineSource(Mutex::new(BufReader::with_capacity(1 << 16, input)))
    }

    fn read_line(reader: &mut BufReader<R>) -> Next {
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) => return Next::Closed,
                Ok(_) => {
                    while line.last().is_some_and(|&b| b == b'\n' || b == b'\r') {
                        line.pop();
                    }
                    if line.iter().all(u8::is_ascii_whitespace) {
                        continue;
                    }
                    // What `read_line` would do, without losing a line that is not UTF-8: it is
                    // passed on as is, for the router to refuse with its id.
                    return Next::Message(match String::from_utf8(line) {
                        Ok(text) => Message::Text(text),
                        Err(e) => Message::Bytes(e.into_bytes()),
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
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
    fn pending(&self) -> bool {
        // Lines already read into the buffer; a reader busy reading is not asked.
        self.0.try_lock().is_ok_and(|reader| reader.buffer().contains(&b'\n'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8]) -> Vec<Message> {
        let source = LineSource::new(input);
        let mut out = Vec::new();
        while let Next::Message(m) = source.next() {
            out.push(m);
        }
        out
    }

    #[test]
    fn lines_are_text_and_a_line_that_is_not_utf8_comes_as_its_bytes() {
        let got = lines(b"{\"id\":1}\r\n\n  \n{\"id\":\"\xff\"}\n\xe2\x82\xac last");
        assert_eq!(
            got,
            [
                Message::Text("{\"id\":1}".into()),
                Message::Bytes(b"{\"id\":\"\xff\"}".to_vec()),
                Message::Text("\u{20ac} last".into()),
            ]
        );
    }
}
