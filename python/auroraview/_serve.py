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
    from typing import IO, Any, Optional, Tuple

    from ._router import Router

#: Calls served at the same time at most; more wait for a worker to finish.
MAX_WORKERS = 64


def serve(router: "Router", transport: "Any") -> None:
    """Serves until the transport closes and every call in flight has been answered.

    Workers are started with ``_thread``: importing ``threading`` would cost start-up time.
    """
    state = {"running": 1, "started": 1}
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
                    send(out)
        finally:
            with lock:
                state["running"] -= 1
                if state["running"] == 0:
                    all_done.release()

    def start_worker() -> None:
        with lock:
            if state["started"] >= MAX_WORKERS:
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

    def __init__(self, infile: "IO[bytes]", outfd: int) -> None:
        import os
        import threading
        import time

        self._write = os.write
        self._now = time.monotonic
        self._in = infile
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
        return cls(proto_in, proto_out)

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
        line = self._in.readline()
        while line and not line.strip():
            line = self._in.readline()
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
        with self._wlock:
            while data:
                data = data[self._write(self._outfd, data) :]
