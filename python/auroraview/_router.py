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
    from typing import Any, Callable, Dict, List, Optional, Tuple, TypeVar

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
        raw = raw.decode("utf-8", "replace")
    try:
        obj, end = _scan(raw, 0)
    except StopIteration:
        return json.loads(raw)  # raises the precise error (or handles leading whitespace)
    if end != len(raw) and raw[end:].strip():
        return json.loads(raw)
    return obj

def _error(msg_id: "Any", message: str, kind: str, tb: "Optional[str]" = None) -> str:
    out: "Dict[str, Any]" = {"id": msg_id, "ok": False, "error": message, "type": kind}
    if tb is not None:
        out["traceback"] = tb
    return _dumps(out)


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
        """Dispatches one message; returns the response line, or None for an event."""
        try:
            msg = _loads(raw)
        except ValueError as exc:
            return _error(None, f"malformed message: {exc}", "ParseError")
        if not isinstance(msg, dict):
            return _error(None, "malformed message: expected a JSON object", "ParseError")
        if "method" not in msg:
            if "event" in msg:
                self.dispatch_event(msg["event"], msg.get("data"))
                return None
            return _error(msg.get("id"), "malformed message: no `method` or `event`", "InvalidRequest")
        msg_id = msg.get("id")
        method = msg["method"]
        func = self._calls.get(method) if isinstance(method, str) else None
        if func is None:
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
        except Exception as exc:  # noqa: BLE001 - every handler error becomes a response
            import traceback

            return _error(msg_id, str(exc) or type(exc).__name__, type(exc).__name__, traceback.format_exc())
        try:
            return _dumps({"id": msg_id, "ok": True, "result": result})
        except Exception as exc:  # noqa: BLE001 - TypeError, ValueError (NaN) or RecursionError (cycle)
            return _error(msg_id, f"result of {method!r} is not JSON-serializable: {exc}", "TypeError")

    def dispatch_event(self, event: Any, data: Any) -> None:
        for handler in list(self._events.get(event, ())):
            try:
                handler(data)
            except Exception:  # noqa: BLE001 - an event handler's error must not stop the others
                import traceback

                print(f"auroraview: handler for event {event!r} failed:", file=sys.stderr)
                traceback.print_exc()


def encode_event(event: str, data: Any = None) -> str:
    return _dumps({"event": event, "data": data})
