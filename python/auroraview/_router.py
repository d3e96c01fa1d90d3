"""The JSON-RPC router: turns one request line into one response line.

It knows nothing of windows, threads or transports, so it is tested on its own. Requests are
``{"id", "method", "params"}``; responses ``{"id", "ok": true, "result"}`` or ``{"id", "ok": false,
"error": message, "type": exception type, "traceback": text}``. Events, in both directions, are
``{"event", "data"}``.
"""

from __future__ import annotations

import json
import json.decoder
import json.encoder
import sys
# Not `from typing import TYPE_CHECKING`: importing typing costs milliseconds of start-up.
TYPE_CHECKING = False

if TYPE_CHECKING:
    import re
    from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple, TypeVar

    Handler = Callable[..., Any]
    #: A handler's own type, which binding and decorating keep.
    HandlerT = TypeVar("HandlerT", bound=Handler)


def _unserializable(obj: "Any") -> "Any":
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


# The C encoder and scanner called directly: `json.dumps`/`json.loads` rebuild or re-check them on
# every call, which costs more than the work itself for small messages.
_c_encoder = getattr(json.encoder, "c_make_encoder", None)
if _c_encoder is not None:
    _encode = _c_encoder(None, _unserializable, json.encoder.encode_basestring, None, ":", ",", False, False, False)

    def _dumps(obj: "Any") -> str:
        return "".join(_encode(obj, 0))

else:  # pragma: no cover - CPython always has _json
    _encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)

    def _dumps(obj: "Any") -> str:
        return _encoder.encode(obj)

# Set by JSONDecoder.__init__, but not declared by the type stubs.
_scan: "Callable[[str, int], Tuple[Any, int]]" = json.decoder.JSONDecoder().scan_once  # type: ignore[attr-defined]


def _loads(raw: "str | bytes") -> "Any":
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8")  # invalid UTF-8 raises UnicodeDecodeError, a ValueError
    try:
        obj, end = _scan(raw, 0)
    except StopIteration:
        return json.loads(raw)  # raises the precise error (or handles leading whitespace)
    if end != len(raw) and raw[end:].strip():
        return json.loads(raw)
    return obj


# The error path only: strings and brackets of a message that did not parse, found without parsing.
_tokens: "Optional[Callable[[str, int], Iterator[re.Match[str]]]]" = None


def recover_id(raw: "str | bytes") -> "Any":
    """The id of a message that could not be parsed (too deep, not UTF-8, cut off...), so that its
    error can still carry it: the value of the top-level ``"id"`` member of what starts as a JSON
    object, if that is a string or a finite number; None otherwise. Scans in Python: for the error
    path only."""
    global _tokens
    try:
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8", "replace")
        start = len(raw) - len(raw.lstrip())
        if raw[start : start + 1] != "{":
            return None
        if _tokens is None:
            import re  # already imported by json

            _tokens = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]').finditer
        depth = 0
        for m in _tokens(raw, start):
            tok = m.group()
            if tok == "{" or tok == "[":
                depth += 1
            elif tok == "}" or tok == "]":
                depth -= 1
                if depth <= 0:
                    return None
            elif depth == 1 and tok == '"id"':
                pos = m.end()
                while raw[pos : pos + 1].isspace():
                    pos += 1
                if raw[pos : pos + 1] != ":":
                    continue  # a value "id", not the key
                pos += 1
                while raw[pos : pos + 1].isspace():
                    pos += 1
                value = _scan(raw, pos)[0]
                if isinstance(value, str) or (
                    isinstance(value, (int, float)) and not isinstance(value, bool) and value - value == 0
                ):
                    return value
                return None
    except Exception:  # noqa: BLE001 - StopIteration, ValueError, RecursionError: no id to recover
        pass
    return None


def answer_id(raw: bytes) -> "Optional[str]":
    """The id the router answers ``raw`` with, as JSON text, or None if it answers with none (no
    id, or an id it cannot encode). For a supervised child's journal, which records this instead of
    a line too long for its slot."""
    try:
        msg = _loads(raw)
    except (ValueError, RecursionError):
        msg_id = recover_id(raw)
    else:
        msg_id = msg.get("id") if isinstance(msg, dict) else None
    if msg_id is None:
        return None
    try:
        return _dumps(msg_id)
    except Exception:  # noqa: BLE001 - NaN, too deep: answered with a null id
        return None


def _error(msg_id: "Any", message: str, kind: str, tb: "Optional[str]" = None) -> str:
    out: "Dict[str, Any]" = {"id": msg_id, "ok": False, "error": message, "type": kind}
    if tb is not None:
        out["traceback"] = tb
    return _dumps(out)


def _describe(exc: BaseException) -> str:
    try:
        return str(exc) or type(exc).__name__
    except Exception:  # noqa: BLE001 - an exception whose __str__ fails
        return type(exc).__name__


def _failed(msg: "Dict[str, Any]", exc: BaseException) -> str:
    """The answer to a message the router could not answer otherwise (an id it cannot encode, a
    value nested too deeply to encode): an error, with the message's id when that can be encoded."""
    msg_id = msg.get("id")
    try:
        _dumps(msg_id)
    except Exception:  # noqa: BLE001 - NaN, too deep, ...
        msg_id = None
    try:
        return _error(msg_id, f"malformed message: {_describe(exc)}", "InvalidRequest")
    except Exception:  # noqa: BLE001 - a message that cannot be encoded either
        return _error(None, "malformed message", "InvalidRequest")


class _EventLoop:
    """The one asyncio event loop of the app, on a thread of its own, started with the first
    `async def` handler: every coroutine handler and listener runs on it, so they can share
    clients, locks and tasks. A call waits for its coroutine on the worker that took it (the GIL is
    released meanwhile, and the dispatcher hands reading to another worker), so a slow coroutine
    holds up no other call, and the answer leaves from that worker as a sync handler's would."""

    def __init__(self) -> None:
        import asyncio
        import threading

        self._asyncio = asyncio
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, name="auroraview-asyncio", daemon=True).start()

    def _submit(self, awaitable: "Any") -> "Any":
        asyncio = self._asyncio
        coro = awaitable if asyncio.iscoroutine(awaitable) else _awaiting(awaitable)
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, awaitable: "Any") -> "Any":
        """Runs `awaitable` on the loop and returns its result (or raises its exception)."""
        return self._submit(awaitable).result()

    def start(self, awaitable: "Any", event: str) -> None:
        """Runs an event listener's coroutine without waiting; its exception is printed."""

        def done(future: "Any") -> None:
            if not future.cancelled() and future.exception() is not None:
                exc = future.exception()
                import traceback

                print(f"auroraview: handler for event {event!r} failed:", file=sys.stderr)
                traceback.print_exception(type(exc), exc, exc.__traceback__)

        self._submit(awaitable).add_done_callback(done)


async def _awaiting(awaitable: "Any") -> "Any":
    return await awaitable


_event_loop: "Optional[_EventLoop]" = None
_event_loop_lock = None


def event_loop() -> "_EventLoop":
    """The app's event loop, started on first use."""
    global _event_loop, _event_loop_lock
    if _event_loop is None:
        if _event_loop_lock is None:
            import _thread

            _event_loop_lock = _thread.allocate_lock()
        with _event_loop_lock:
            if _event_loop is None:
                _event_loop = _EventLoop()
    return _event_loop


class Router:
    """Method and event handlers, and the dispatch of one raw message."""

    def __init__(self) -> None:
        self._calls: "Dict[str, Handler]" = {}
        self._events: "Dict[str, List[Handler]]" = {}

    def bind(self, method: str, func: HandlerT) -> HandlerT:
        if not isinstance(method, str) or not method:
            raise ValueError("method name must be a non-empty string")
        if not callable(func):
            raise TypeError(f"handler for {method!r} is not callable")
        self._calls[method] = func
        return func

    def unbind(self, method: str) -> None:
        self._calls.pop(method, None)

    def on(self, event: str, handler: HandlerT) -> HandlerT:
        self._events.setdefault(event, []).append(handler)
        return handler

    def off(self, event: str, handler: Optional[Handler] = None) -> None:
        if handler is None:
            self._events.pop(event, None)
        elif handler in self._events.get(event, []):
            self._events[event].remove(handler)

    def methods(self) -> List[str]:
        return sorted(self._calls)

    def handle(self, raw: "str | bytes") -> Optional[str]:
        """Dispatches one message; returns the response line, or None for an event.

        Never raises: whatever the message (not JSON, not UTF-8, nested too deeply, ...) and
        whatever the handler raises (SystemExit and KeyboardInterrupt too), the caller gets an
        answer, and no message can end the app."""
        try:
            msg = _loads(raw)
        except (ValueError, RecursionError) as exc:
            return _error(recover_id(raw), f"malformed message: {_describe(exc)}", "ParseError")
        if not isinstance(msg, dict):
            return _error(None, "malformed message: expected a JSON object", "ParseError")
        try:
            if "method" not in msg:
                if "event" in msg:
                    event = msg["event"]
                    if isinstance(event, str):
                        self.dispatch_event(event, msg.get("data"))
                    return None
                return _error(msg.get("id"), "malformed message: no `method` or `event`", "InvalidRequest")
            msg_id = msg.get("id")
            method = msg["method"]
            func = self._calls.get(method) if isinstance(method, str) else None
            if func is None:
                if not isinstance(method, str):
                    return _error(msg_id, "malformed message: `method` is not a string", "InvalidRequest")
                if method == "__methods__":
                    return _dumps({"id": msg_id, "ok": True, "result": self.methods()})
                if method == "__ping__":
                    return _dumps({"id": msg_id, "ok": True, "result": "pong"})
                if method == "__echo__":
                    return _dumps({"id": msg_id, "ok": True, "result": msg.get("params")})
                return _error(msg_id, f"unknown method {method!r}", "MethodNotFound")
            params = msg.get("params")
            try:
                if params is None:
                    result = func()
                elif isinstance(params, dict):
                    result = func(**params)
                elif isinstance(params, list):
                    result = func(*params)
                else:
                    result = func(params)
                if hasattr(type(result), "__await__"):
                    # An `async def` handler: awaited on the app's event loop.
                    result = event_loop().run(result)
            except BaseException as exc:  # noqa: BLE001 - every handler error becomes a response,
                # SystemExit and KeyboardInterrupt too: a handler cannot end the app
                import traceback

                tb = traceback.format_exc()
                # Where the developer looks, in every mode; the page gets it too.
                try:
                    print(f"auroraview: handler for {method!r} failed:\n{tb}", end="", file=sys.stderr, flush=True)
                except Exception:  # noqa: BLE001 - stderr closed
                    pass
                return _error(msg_id, _describe(exc), type(exc).__name__, tb)
            try:
                return _dumps({"id": msg_id, "ok": True, "result": result})
            except BaseException as exc:  # noqa: BLE001 - TypeError, ValueError (NaN), RecursionError (cycle)
                return _error(msg_id, f"result of {method!r} is not JSON-serializable: {_describe(exc)}", "TypeError")
        except BaseException as exc:  # noqa: BLE001 - the message itself cannot be answered as is
            return _failed(msg, exc)

    def dispatch_event(self, event: Any, data: Any) -> None:
        for handler in list(self._events.get(event, ())):
            try:
                outcome = handler(data)
                if hasattr(type(outcome), "__await__"):
                    event_loop().start(outcome, event)
            except BaseException:  # noqa: BLE001 - an event handler's error must not stop the
                # others, nor end the app (SystemExit, KeyboardInterrupt)
                try:
                    import traceback

                    print(f"auroraview: handler for event {event!r} failed:", file=sys.stderr)
                    traceback.print_exc()
                except Exception:  # noqa: BLE001 - stderr closed
                    pass


def encode_event(event: str, data: Any = None) -> str:
    return _dumps({"event": event, "data": data})
