//! The journal a supervised child keeps in memory shared with this process, so that in `--headless`
//! the child can read the client's pipe and write its answers itself (no relay: on a small VM each
//! hop between processes costs about 7 µs, a third of a whole call) and still, when it dies, have
//! its calls in flight failed and the input it had read but not started handed to the next child.
//!
//! The child side is `auroraview._serve.Journal`; this is the layout both follow (u64 words are
//! little-endian):
//! - page 0: header words `handed`, `hi` and `base` (offsets in the whole input stream: bytes given
//!   to workers, bytes read, and the stream offset of the buffer's first byte), `writing` (1 while
//!   a line is being written to the client), `slots` ([`SLOTS`]) and `slot_size` ([`SLOT_SIZE`]),
//!   both written here: the child sizes its worker pool and finds its slots and buffer from them,
//!   so the numbers are defined once;
//! - from page 1, `slots` slots of `slot_size` bytes, one per worker: u64 length (0 when free),
//!   u64 stream offset of the line, then the line it is serving (or `{"id": ...}` for a line too
//!   long for the slot; a call whose id alone does not fit is refused by the child, answered with
//!   an `InvalidRequest` error and never served);
//! - from page 1 + slots × slot_size: the input buffer. Bytes past `hi` are zero, except what a
//!   read delivered just before the child died.
//!
//! Everything a child wrote is read as untrusted: its words may be anything when it died (or if it
//! misbehaved), so every offset is checked and nothing is sized from them beyond the file itself.

use anyhow::{Context, Result};
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::os::unix::fs::FileExt;

const PAGE: u64 = 4096;
/// Byte offsets of the header words.
const HANDED: u64 = 0;
const HI: u64 = 8;
const BASE: u64 = 16;
const WRITING: u64 = 24;
const SLOT_COUNT: u64 = 32;
const SLOT_SIZE_WORD: u64 = 40;
/// Workers a child may run at once, each with its slot.
const SLOTS: u64 = 64;
/// Bytes of one slot: room for a long line or id. Pages of a memfd cost nothing until written, and
/// a slot is written only as far as its line goes.
const SLOT_SIZE: u64 = 64 << 10;
const DATA: u64 = PAGE + SLOTS * SLOT_SIZE;
/// The input buffer a child starts with; it doubles when one line needs more.
const INITIAL: u64 = 1 << 20;
/// Input carried over to the next child at most; a dead child's journal larger than this is not
/// read past it.
const MAX_CARRIED: u64 = 1 << 30;

pub const FD_ENV: &str = "AURORAVIEW_JOURNAL_FD";
pub const CONTROL_ENV: &str = "AURORAVIEW_CONTROL_FD";

pub struct Journal {
    file: File,
}

/// What a dead child left behind.
#[derive(Debug, Default, PartialEq)]
pub struct Remains {
    /// It died while writing a line to the client: the line is incomplete.
    pub mid_line: bool,
    /// The calls it had started and not answered, as it received them.
    pub in_flight: Vec<Vec<u8>>,
    /// Input it had read but not started: the next child reads these first.
    pub unread: Vec<u8>,
}

impl Journal {
    /// A fresh journal whose buffer starts with `unread` (left by the previous child).
    pub fn create(unread: &[u8]) -> Result<Journal> {
        // SAFETY: memfd_create with a valid C string; the returned descriptor is ours.
        let fd = unsafe { libc::memfd_create(c"auroraview-journal".as_ptr(), libc::MFD_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error()).context("creating the backend's journal (memfd_create)");
        }
        // SAFETY: `fd` was just created and is owned by nobody else.
        let file = unsafe { File::from_raw_fd(fd) };
        let size = (unread.len() as u64 * 2).max(INITIAL);
        file.set_len(DATA + size).context("sizing the backend's journal")?;
        file.write_all_at(unread, DATA).context("writing the backend's journal")?;
        file.write_all_at(&(unread.len() as u64).to_le_bytes(), HI).context("writing the backend's journal")?;
        file.write_all_at(&SLOTS.to_le_bytes(), SLOT_COUNT).context("writing the backend's journal")?;
        file.write_all_at(&SLOT_SIZE.to_le_bytes(), SLOT_SIZE_WORD).context("writing the backend's journal")?;
        Ok(Journal { file })
    }

    pub fn fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }

    fn word(&self, at: u64) -> Result<u64> {
        let mut b = [0u8; 8];
        self.file.read_exact_at(&mut b, at).context("reading the backend's journal")?;
        Ok(u64::from_le_bytes(b))
    }

    /// Whether a live child is still working, as far as its journal tells: a call held in a slot,
    /// or input read but not yet handed to a worker. A snapshot of words the child keeps changing.
    pub fn busy(&self) -> Result<bool> {
        if self.word(HI)? > self.word(HANDED)? {
            return Ok(true);
        }
        for slot in 0..SLOTS {
            if self.word(PAGE + slot * SLOT_SIZE)? != 0 {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Reads what the child left. Call only once it is gone.
    pub fn remains(&self) -> Result<Remains> {
        let word = |at: u64| self.word(at);
        let (handed, hi, base, writing) = (word(HANDED)?, word(HI)?, word(BASE)?, word(WRITING)?);
        let size = self.file.metadata().context("reading the backend's journal")?.len().saturating_sub(DATA);
        let mut remains = Remains { mid_line: writing != 0, ..Remains::default() };
        for slot in 0..SLOTS {
            let at = PAGE + slot * SLOT_SIZE;
            let (len, offset) = (word(at)?, word(at + 8)?);
            // A slot whose line lies at or after `handed` was filled just before `handed` moved:
            // that line is still unread, and goes to the next child instead.
            if len == 0 || len > SLOT_SIZE - 16 || offset >= handed {
                continue;
            }
            let mut line = vec![0; len as usize];
            self.file.read_exact_at(&mut line, at + 16).context("reading the backend's journal")?;
            remains.in_flight.push(line);
        }
        // Buffer positions of what was handed out and what was read, each within the buffer, and
        // read never before handed out.
        let size = size.min(MAX_CARRIED);
        let from = handed.saturating_sub(base).min(size);
        let to = hi.saturating_sub(base).clamp(from, size);
        let mut unread = vec![0; (size - from) as usize];
        self.file.read_exact_at(&mut unread, DATA + from).context("reading the backend's journal")?;
        // A read that completed just before the child died: its bytes are there, `hi` not yet moved.
        let read = (to - from) as usize;
        let end = unread[read..].iter().position(|&b| b == 0).map_or(unread.len(), |n| n + read);
        unread.truncate(end);
        remains.unread = unread;
        Ok(remains)
    }
}

/// Sends the supervisor a child's exit code when its entry point finished on its own.
#[cfg_attr(not(feature = "python"), allow(dead_code))]
pub fn finish(control: RawFd, code: u8) {
    // SAFETY: a write of two bytes from a valid buffer to a descriptor named by our supervisor.
    unsafe { libc::write(control, [b'x', code].as_ptr().cast(), 2) };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(j: &Journal, at: u64, v: u64) {
        j.file.write_all_at(&v.to_le_bytes(), at).unwrap();
    }

    fn slot(j: &Journal, n: u64, line: &[u8], offset: u64) {
        j.file.write_all_at(line, PAGE + n * SLOT_SIZE + 16).unwrap();
        put(j, PAGE + n * SLOT_SIZE + 8, offset);
        put(j, PAGE + n * SLOT_SIZE, line.len() as u64);
    }

    #[test]
    fn a_new_journal_holds_the_carried_input_as_read() {
        let j = Journal::create(b"{\"id\":1}\n{\"id\"").unwrap();
        let r = j.remains().unwrap();
        assert_eq!(r, Remains { mid_line: false, in_flight: vec![], unread: b"{\"id\":1}\n{\"id\"".to_vec() });
    }

    #[test]
    fn calls_started_are_in_flight_and_the_rest_is_unread() {
        let j = Journal::create(b"").unwrap();
        let input = b"AAAA{\"id\":1}\n{\"id\":2}\n{\"id\":3}\n{\"i";
        j.file.write_all_at(input, DATA).unwrap();
        // base 100: the buffer's first byte is stream offset 100; 4 bytes were handed out earlier.
        put(&j, BASE, 100);
        put(&j, HI, 100 + input.len() as u64 - 3);
        put(&j, HANDED, 100 + 4 + 9);
        slot(&j, 0, b"{\"id\":0}\n", 90); // from before the last reset, and still held: in flight
        slot(&j, 5, b"{\"id\":1}\n", 104);
        slot(&j, 6, b"{\"id\":2}\n", 113); // filled, but `handed` had not moved past it yet
        put(&j, WRITING, 1);
        let r = j.remains().unwrap();
        assert!(r.mid_line);
        assert_eq!(r.in_flight, vec![b"{\"id\":0}\n".to_vec(), b"{\"id\":1}\n".to_vec()]);
        // Up to `hi`, plus the 3 bytes a read delivered that `hi` does not count yet.
        assert_eq!(r.unread, b"{\"id\":2}\n{\"id\":3}\n{\"i".to_vec());
    }

    #[test]
    fn words_a_dead_child_garbled_are_bounded() {
        let j = Journal::create(b"{\"id\":1}\n").unwrap();
        // `hi` before `handed`, `base` past both, offsets past the end: nothing underflows or
        // reads outside the buffer.
        for (handed, hi, base) in [(100, 3, 0), (5, 1, 9), (u64::MAX, u64::MAX, 0), (0, u64::MAX, 0)] {
            put(&j, HANDED, handed);
            put(&j, HI, hi);
            put(&j, BASE, base);
            let r = j.remains().unwrap();
            assert!(r.unread.len() as u64 <= INITIAL);
        }
        slot(&j, 0, b"x", 0);
        put(&j, PAGE, u64::MAX); // a slot length past its slot
        put(&j, HANDED, 10);
        assert!(j.remains().unwrap().in_flight.is_empty());
    }

    #[test]
    fn the_header_names_the_slot_count_and_size() {
        let j = Journal::create(b"").unwrap();
        assert_eq!(j.word(SLOT_COUNT).unwrap(), SLOTS);
        assert_eq!(j.word(SLOT_SIZE_WORD).unwrap(), SLOT_SIZE);
        assert_eq!(SLOT_SIZE % PAGE, 0, "the child maps whole pages");
    }

    #[test]
    fn a_long_line_in_a_slot_is_in_flight_and_busy_follows_the_slots() {
        let j = Journal::create(b"").unwrap();
        assert!(!j.busy().unwrap());
        let line = format!("{{\"id\":\"{}\",\"method\":\"m\"}}\n", "i".repeat(10_000));
        slot(&j, 63, line.as_bytes(), 0);
        put(&j, HANDED, line.len() as u64);
        put(&j, HI, line.len() as u64);
        assert!(j.busy().unwrap());
        assert_eq!(j.remains().unwrap().in_flight, vec![line.into_bytes()]);
        put(&j, PAGE + 63 * SLOT_SIZE, 0);
        assert!(!j.busy().unwrap());
        put(&j, HI, 1 << 20); // read, not handed out
        assert!(j.busy().unwrap());
    }
}
