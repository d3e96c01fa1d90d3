"""Serving a router over a transport with a pool of worker threads, so a slow handler never delays
other calls.

A transport has ``recv() -> (message or None, spawn)`` and ``send(line)``. ``recv`` blocks until a
message arrives (None once the other side is gone); ``spawn`` is true when no other worker is left
waiting, and the caller then starts one more. The packed runtime's transport (Rust) also decides
which worker reads next, so a single worker serves a stream of fast calls without thread hand-offs.
"""

from __future__ import annotations

import _thread
import sys
# Not `from typing import TYPE_CHECKING`: importing typing costs milliseconds of start-up.
TYPE_CHECKING = False

if TYPE_CHECKING:
    from typing import IO, Any, Callable, Optional, Tuple

    from ._router import Router

#: Calls served at the same time at most; more wait for a worker to finish.
MAX_WORKERS = 64


def serve(router: "Router", transport: "Any") -> None:
    """Serves until the transport closes and every call in flight has been answered.

    Workers are started with ``_thread``: importing ``threading`` would cost start-up time.
    """
    state = {"running": 1, "started": 1}
    limit = getattr(transport, "max_workers", MAX_WORKERS)
    lock = _thread.allocate_lock()
    all_done = _thread.allocate_lock()
    all_done.acquire()

    def worker() -> None:
        recv, send, handle = transport.recv, transport.send, router.handle
        try:
            while True:
                msg, spawn = recv()
                if msg is None:
                    return
                if spawn:
                    start_worker()
                out = handle(msg)
                if out is not None:
                    try:
                        send(out)
                    except UnicodeEncodeError:
                        # A lone surrogate (from a `\ud800` escape in the request) can be in a
                        # JSON string only: written back as that escape.
                        send(out.encode("utf-8", "backslashreplace").decode("utf-8"))
        finally:
            with lock:
                state["running"] -= 1
                if state["running"] == 0:
                    all_done.release()

    def start_worker() -> None:
        with lock:
            if state["started"] >= limit:
                return
            state["started"] += 1
            state["running"] += 1
        _thread.start_new_thread(worker, ())

    start_worker()
    worker()
    all_done.acquire()


#: A handler running longer than this hands reading over to another worker (as in the runtime).
TAKEOVER_AFTER = 0.002


class StdioTransport:
    """JSON lines over a binary input stream and an output fd: development mode and the
    subprocess backend.

    One worker, the leader, reads; it keeps reading while calls are quick, so a stream of calls is
    served without thread hand-offs. When the leader spends longer than ``TAKEOVER_AFTER`` in one
    handler, a watchdog thread makes a waiting worker the leader, so a slow handler never delays
    the calls behind it.
    """

    def __init__(self, infile: "IO[bytes]", outfd: int, journal: "Optional[Journal]" = None,
                 control: "Optional[int]" = None) -> None:
        import os
        import threading
        import time

        self._write = os.write
        self._now = time.monotonic
        self._in = infile  # keeps the descriptor a journal reads from open
        self._journal = journal
        if journal is not None:
            journal.respond = self.send
        #: A journal has a slot per worker: no more workers than slots.
        self.max_workers = journal.slots if journal is not None else MAX_WORKERS
        self._control = control
        self._readline = journal.readline if journal is not None else infile.readline
        self._outfd = outfd
        self._wlock = threading.Lock()
        lock = threading.Lock()
        self._lock = lock
        self._followers = threading.Condition(lock)
        self._watchdog = threading.Condition(lock)
        self._leader: "Optional[int]" = None
        self._in_handler = False
        self._epoch = 0
        self._since = 0.0
        self._waiting = 0
        self._closed = False
        self._parked = False
        threading.Thread(target=self._watch, name="auroraview-watchdog", daemon=True).start()
        if control is not None:
            threading.Thread(
                target=self._answer_heartbeats, args=(control,), name="auroraview-heartbeat", daemon=True
            ).start()

    @classmethod
    def from_process(cls) -> "StdioTransport":
        """Takes stdin/stdout for the protocol and points fds 0 and 1 elsewhere, so nothing a
        handler prints (or a child process inherits) can corrupt the stream."""
        import os

        sys.stdout.flush()
        proto_in = os.fdopen(os.dup(0), "rb")
        proto_out = os.dup(1)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        os.dup2(2, 1)
        journal = control = None
        if "AURORAVIEW_JOURNAL_FD" in os.environ:
            # A supervised child on the client's own pipes (see Journal).
            journal = Journal(int(os.environ.pop("AURORAVIEW_JOURNAL_FD")), proto_in.fileno())
            control = int(os.environ.pop("AURORAVIEW_CONTROL_FD"))
            os.set_inheritable(control, False)
        return cls(proto_in, proto_out, journal, control)

    def _answer_heartbeats(self, control: int) -> None:
        import os

        while True:
            try:
                if not os.read(control, 1):
                    return
                os.write(control, b"p")
            except OSError:
                return

    def finish(self, code: int) -> None:
        """Tells the supervisor the entry point finished on its own, with this exit code."""
        if self._control is not None:
            import os

            os.write(self._control, b"x" + bytes([code & 0xFF]))
        else:
            from ._router import encode_event

            self.send(encode_event("__auroraview_exit__", {"code": code}))

    def recv(self) -> "Tuple[Optional[bytes], bool]":
        me = _thread.get_ident()
        with self._lock:
            while True:
                if self._closed:
                    return None, False
                if self._leader is None or self._leader == me:
                    break
                self._waiting += 1
                self._followers.wait()
                self._waiting -= 1
            self._leader = me
            self._in_handler = False
        line = self._readline()
        while line and line.isspace():
            line = self._readline()
        with self._lock:
            if not line:
                self._closed = True
                self._leader = None
                self._followers.notify_all()
                self._watchdog.notify_all()
                return None, False
            self._in_handler = True
            self._epoch += 1
            self._since = self._now()
            if self._parked:
                self._watchdog.notify()
            return line, self._waiting == 0

    def _watch(self) -> None:
        with self._lock:
            seen = self._epoch
            while not self._closed:
                if not self._in_handler:
                    if self._epoch == seen:
                        self._parked = True
                        self._watchdog.wait()
                        self._parked = False
                    else:
                        seen = self._epoch
                        self._watchdog.wait(TAKEOVER_AFTER)
                    continue
                seen = self._epoch
                remaining = self._since + TAKEOVER_AFTER - self._now()
                if remaining > 0:
                    self._watchdog.wait(remaining)
                    continue
                # The leader is still in the handler it started before the deadline.
                self._leader = None
                self._in_handler = False
                self._followers.notify()

    def send(self, line: str) -> None:
        data = (line + "\n").encode("utf-8")
        journal = self._journal
        with self._wlock:
            if journal is None:
                while data:
                    data = data[self._write(self._outfd, data) :]
                return
            words = journal.words
            words[_WRITING] = 1
            while data:
                data = data[self._write(self._outfd, data) :]
            words[_WRITING] = 0
        if line.startswith('{"id"'):
            journal.answered()



# The journal a supervised child keeps in memory it shares with its supervisor, so the child can
# read the client's pipe and write its answers directly (no relay in between) and still have its
# calls in flight failed, and its unread input handed to the next child, if it dies. The layout is
# mirrored by the runtime's `supervisor/journal.rs`: a page of little-endian u64 header words, the
# worker slots, then the input buffer. The supervisor writes the number of slots and the size of
# one slot into the header; they are defined there alone.
_HANDED, _HI, _BASE, _WRITING, _SLOT_COUNT, _SLOT_SIZE = 0, 1, 2, 3, 4, 5  # header words
_PAGE = 4096


class Journal:
    """Input is read from the pipe straight into the shared buffer, so no byte is ever only in the
    child's private memory. Positions are offsets in the whole input stream: ``handed`` (given to
    workers), ``hi`` (read) and ``base`` (the stream offset of the buffer's first byte); each is one
    aligned word, and every step below leaves a state the supervisor can read. Bytes past ``hi`` are
    zero except what a read delivered just before the child died, which the supervisor takes too.

    A worker's slot (u64 length, 0 when free; u64 stream offset of the line; the line) holds the
    call it is serving until its response has been written. A line too long for a slot is held as
    ``{"id": ...}``; a call whose id alone does not fit is refused: answered with an error (through
    ``respond``, before it counts as handed out) and never served."""

    def __init__(self, fd: int, infd: int) -> None:
        import mmap
        import os
        import threading

        header = mmap.mmap(fd, _PAGE)
        words = memoryview(header).cast("Q")
        slots, slot_size = words[_SLOT_COUNT], words[_SLOT_SIZE]
        words.release()
        header.close()
        if not 1 <= slots <= MAX_WORKERS:
            raise ValueError(f"auroraview: the journal has {slots} slots; this package serves 1 to {MAX_WORKERS}")
        if not _PAGE <= slot_size <= 1 << 24 or slot_size % _PAGE:
            raise ValueError(f"auroraview: the journal's slots have {slot_size} bytes; this package needs whole pages")
        #: Workers at most: each needs a slot.
        self.slots = slots
        self._slot_size = slot_size
        self._room = slot_size - 16  # for the line, after its length and offset
        #: Writes an answer to the client (set by the transport): how a refused call is answered.
        self.respond: "Optional[Callable[[str], None]]" = None
        self._data = _PAGE + slots * slot_size  # where the input buffer starts
        self._meta = meta = mmap.mmap(fd, self._data)
        # The whole file, not just the buffer: a mapping's offset must be a multiple of the
        # machine's page size, and this one can grow (resize) while `meta` stays as it is.
        self._buf = mmap.mmap(fd, os.fstat(fd).st_size)
        self._view = memoryview(self._buf)  # released while the buffer grows
        os.close(fd)
        self.words = memoryview(meta)[:_PAGE].cast("Q")
        self._slot_words = memoryview(meta).cast("Q")
        self._zero = memoryview(bytes(1 << 16))
        self._readv = os.readv
        self._infd = infd
        self._local = threading.local()
        self._free = list(range(slots - 1, -1, -1))
        self._slots_lock = threading.Lock()

    def _clear(self, start: int, end: int) -> None:
        """Zeroes the buffer's bytes ``start..end``."""
        zero, buf, data = self._zero, self._buf, self._data
        start, end = data + start, data + end
        while start < end:
            n = min(end - start, len(zero))
            buf[start : start + n] = zero[:n]
            start += n

    def readline(self) -> bytes:
        """The next line (with its newline), or b"" at the end of input. Called by the leader only."""
        words, buf, data = self.words, self._buf, self._data
        base = words[_BASE]
        handed, hi = words[_HANDED] - base, words[_HI] - base
        searched = handed  # no newline in handed..searched
        while True:
            end = buf.find(b"\n", data + searched, data + hi) + 1
            if end:
                line = buf[data + handed : end]
                held = self._hold(line, base + handed)
                words[_HANDED] = base + end - data
                if held:
                    return line
                handed = searched = end - data  # refused, and answered: on to the next line
                continue
            searched = hi
            if handed == hi and hi:
                # Everything read was handed out: start again at the front.
                if hi <= len(self._zero):
                    buf[data : data + hi] = self._zero[:hi]
                else:
                    self._clear(0, hi)
                base += hi
                words[_BASE] = base
                handed = hi = searched = 0
            elif data + hi == len(buf):
                rest = hi - handed
                if rest < handed:
                    # A partial line at the end of a full buffer moves to the front. Zeroing the
                    # front first keeps a gap of zeros after the new `hi` until the old copy goes.
                    self._clear(0, handed)
                    buf[data : data + rest] = buf[data + handed : data + hi]
                    words[_BASE] = base + handed
                    self._clear(handed, hi)
                    base += handed
                    handed, hi, searched = 0, rest, rest
                else:
                    self._view.release()
                    buf.resize(data + 2 * (len(buf) - data))  # grows the shared file too
                    self._view = memoryview(buf)
                continue
            n = self._readv(self._infd, [self._view[data + hi :]])
            if n == 0:
                line = buf[data + handed : data + hi]
                if line:
                    if not self._hold(line, base + handed):
                        line = b""  # refused, and answered: the input has ended
                    words[_HANDED] = base + hi
                return line
            hi += n
            words[_HI] = base + hi

    def _hold(self, line: bytes, offset: int) -> bool:
        """Holds ``line`` (at stream ``offset``) in the calling worker's slot until it is answered.
        False when the call was refused instead: its id does not fit in a slot."""
        at = getattr(self._local, "at", None)
        if at is None:
            with self._slots_lock:
                at = _PAGE + self._free.pop() * self._slot_size if self._free else -1
            self._local.at = at
        if at < 0:
            return True
        if len(line) > self._room:
            from ._router import answer_id

            ident = answer_id(line)
            line = b"{}" if ident is None else b'{"id":' + ident.encode("utf-8", "backslashreplace") + b"}"
            if len(line) > self._room:
                self._refuse(ident or "null")
                return False
        self._meta[at + 16 : at + 16 + len(line)] = line
        words = self._slot_words
        words[at // 8 + 1] = offset
        words[at // 8] = len(line)
        return True

    def _refuse(self, ident: str) -> None:
        """Answers a call whose id is too long to be held, without serving it."""
        from ._router import _dumps

        limit = self._room - len('{"id":}')
        message = _dumps(f"request id too long: {len(ident)} bytes of JSON, at most {limit} in this mode")
        line = '{"id":' + ident + ',"ok":false,"error":' + message + ',"type":"InvalidRequest"}'
        if self.respond is not None:
            self.respond(line.encode("utf-8", "backslashreplace").decode("utf-8"))

    def answered(self) -> None:
        """The calling worker's response has been written."""
        at = getattr(self._local, "at", -1)
        if at >= 0:
            self._slot_words[at // 8] = 0
