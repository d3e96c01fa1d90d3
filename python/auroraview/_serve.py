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


class StdioTransport:
    """JSON lines over a pair of file objects: development mode and the subprocess backend."""

    def __init__(self, infile: "IO[str]", outfile: "IO[str]") -> None:
        self._in = infile
        self._out = outfile
        self._rlock = _thread.allocate_lock()
        self._wlock = _thread.allocate_lock()
        self._idle = 0
        self._closed = False

    @classmethod
    def from_process(cls) -> "StdioTransport":
        """Takes stdin/stdout for the protocol and points fds 0 and 1 elsewhere, so nothing a
        handler prints (or a child process inherits) can corrupt the stream."""
        import os

        sys.stdout.flush()
        proto_in = os.fdopen(os.dup(0), "r", encoding="utf-8", newline="\n")
        proto_out = os.fdopen(os.dup(1), "w", encoding="utf-8", newline="\n")
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        os.dup2(2, 1)
        return cls(proto_in, proto_out)

    def recv(self) -> "Tuple[Optional[str], bool]":
        with self._wlock:
            self._idle += 1
        with self._rlock:
            line = None if self._closed else self._in.readline()
            while line is not None and line.strip() == "" and line:
                line = self._in.readline()
            if not line:
                self._closed = True
                line = None
        with self._wlock:
            self._idle -= 1
            spawn = line is not None and self._idle == 0
        return line, spawn

    def send(self, line: str) -> None:
        with self._wlock:
            self._out.write(line + "\n")
            self._out.flush()
