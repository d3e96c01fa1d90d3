"""The native plugins, called from Python: ``shell``, ``process``, ``dialog`` and ``clipboard``.

They run in the AuroraView runtime (in Rust), the same commands the page calls as
``auroraview.plugins.*``, and are checked against the app's ``[plugins]`` grants: a command the
config does not grant raises :class:`PermissionDenied`, whose message names the key that would
allow it. (``[plugins] python = "trusted"`` lets Python's commands through unchecked.)

Events of processes started with ``process.spawn`` (``process.stdout``, ``process.stderr``:
``{"pid", "line"}``; ``process.exit``: ``{"pid", "code", "signal"}``) reach ``view.on(...)``
handlers as the page's events do, and the page gets them too::

    from auroraview import WebView, plugins

    view = WebView()
    view.on("process.stdout", lambda e: print(e["line"]))
    pid = plugins.process.spawn("ffmpeg", ["-version"])
"""

from __future__ import annotations

import json
import os
import threading

from . import _PLUGINS_FD_ENV as FD_ENV

# Not `from typing import TYPE_CHECKING`: importing typing costs milliseconds of start-up.
TYPE_CHECKING = False

if TYPE_CHECKING:
    import socket
    from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

__all__ = ["PluginError", "PermissionDenied", "InvalidParams", "shell", "process", "dialog", "clipboard", "call"]



class PluginError(Exception):
    """A plugin command failed. ``type`` is the runtime's name for the failure."""

    type = "PluginError"


class PermissionDenied(PluginError):
    """The app's ``[plugins]`` config does not grant this command (or this argument)."""

    type = "PermissionDenied"


class InvalidParams(PluginError, ValueError):
    """The command's arguments do not fit it."""

    type = "InvalidParams"


_ERRORS = {c.type: c for c in (PluginError, PermissionDenied, InvalidParams)}


class _Client:
    """One socket to the runtime's plugin host: calls wait for their answer; events go, in order,
    to the router's event handlers on a thread of their own (so a handler may call a plugin)."""

    def __init__(self, fd: int) -> None:
        import queue
        import socket

        # Already non-inheritable: the package's import made it so.
        self._sock: socket.socket = socket.socket(fileno=fd)
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._seq = 0
        self._waiting: Dict[int, List[Any]] = {}
        self._closed = False
        self._events: "queue.SimpleQueue[Any]" = queue.SimpleQueue()
        threading.Thread(target=self._read, name="auroraview-plugins", daemon=True).start()
        threading.Thread(target=self._dispatch, name="auroraview-plugin-events", daemon=True).start()

    def call(self, method: str, params: Dict[str, Any]) -> Any:
        done = threading.Event()
        slot: List[Any] = [done, None]
        with self._lock:
            if self._closed:
                raise PluginError("the AuroraView runtime closed the plugin connection")
            self._seq += 1
            ident = self._seq
            self._waiting[ident] = slot
        line = json.dumps({"id": ident, "method": method, "params": params}, separators=(",", ":")) + "\n"
        try:
            with self._write_lock:
                self._sock.sendall(line.encode("utf-8"))
        except OSError as exc:
            with self._lock:
                self._waiting.pop(ident, None)
            raise PluginError(f"cannot reach the AuroraView runtime's plugins: {exc}") from None
        done.wait()
        msg = slot[1]
        if msg.get("ok"):
            return msg.get("result")
        error = _ERRORS.get(msg.get("type"), PluginError)
        raise error(str(msg.get("error", "the plugin command failed")))

    def _read(self) -> None:
        reader = self._sock.makefile("rb")
        try:
            for raw in reader:
                try:
                    msg = json.loads(raw)
                except ValueError:
                    continue
                if not isinstance(msg, dict):
                    continue
                if "event" in msg and "id" not in msg:
                    self._events.put((msg["event"], msg.get("data")))
                    continue
                with self._lock:
                    slot = self._waiting.pop(msg.get("id"), None)  # type: ignore[arg-type]
                if slot is not None:
                    slot[1] = msg
                    slot[0].set()
        except OSError:
            pass
        with self._lock:
            self._closed = True
            waiting, self._waiting = self._waiting, {}
        for slot in waiting.values():
            slot[1] = {"ok": False, "type": "PluginError", "error": "the AuroraView runtime closed the plugin connection"}
            slot[0].set()

    def _dispatch(self) -> None:
        from .webview import _router

        while True:
            event, data = self._events.get()
            _router.dispatch_event(event, data)


_client: Optional[_Client] = None
_client_lock = threading.Lock()


def call(method: str, params: Optional[Dict[str, Any]] = None) -> Any:
    """Runs a plugin command by its name (``"shell.open"``) with its params object."""
    global _client
    with _client_lock:
        if _client is None:
            fd = os.environ.get(FD_ENV, "")
            if not fd.isdigit():
                raise PluginError(
                    "plugins run in the AuroraView runtime: run the packed app or `auroraview-pack dev`"
                )
            _client = _Client(int(fd))
    return _client.call(method, params or {})


def _run(program: str, args: Sequence[str], cwd: Optional[str], env: Optional[Mapping[str, str]]) -> Dict[str, Any]:
    params: Dict[str, Any] = {"program": program, "args": [str(a) for a in args]}
    if cwd is not None:
        params["cwd"] = os.fspath(cwd)
    if env is not None:
        params["env"] = dict(env)
    return params


def _some(**fields: Any) -> Dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


class _Shell:
    """``[plugins.shell]``: the system's handlers, finding and running programs."""

    def open(self, url: str) -> None:
        """Opens ``url`` with the system's handler (``open``: URL schemes)."""
        call("shell.open", {"url": url})

    def open_path(self, path: str) -> None:
        """Opens a file or folder with the system's handler (``open_path``: path globs)."""
        call("shell.open_path", {"path": os.fspath(path)})

    def show_in_folder(self, path: str) -> None:
        """Opens the folder holding ``path`` (``show_in_folder``: path globs)."""
        call("shell.show_in_folder", {"path": os.fspath(path)})

    def which(self, name: str) -> Optional[str]:
        """The path of program ``name`` on ``PATH``, or None (``which``: names)."""
        result: Optional[str] = call("shell.which", {"name": name})
        return result

    def execute(
        self,
        program: str,
        args: Sequence[str] = (),
        *,
        cwd: Optional[str] = None,
        env: Optional[Mapping[str, str]] = None,
        stdin: Optional[str] = None,
        timeout_ms: Optional[int] = None,
    ) -> Dict[str, Any]:
        """Runs a program to its end: ``{"code", "signal", "stdout", "stderr"}`` (``execute``:
        programs)."""
        params = _run(program, args, cwd, env)
        params.update(_some(stdin=stdin, timeout_ms=timeout_ms))
        result: Dict[str, Any] = call("shell.execute", params)
        return result

    def spawn(
        self, program: str, args: Sequence[str] = (), *, cwd: Optional[str] = None, env: Optional[Mapping[str, str]] = None
    ) -> int:
        """Starts a program on its own, with no pipes; returns its pid (``spawn``: programs)."""
        return int(call("shell.spawn", _run(program, args, cwd, env))["pid"])

    def get_env(self, name: str) -> Optional[str]:
        """The runtime's value of environment variable ``name`` (``get_env``: names)."""
        result: Optional[str] = call("shell.get_env", {"name": name})
        return result


class _Process:
    """``[plugins.process]``: programs whose output streams as events and that die with the app."""

    def spawn(
        self, program: str, args: Sequence[str] = (), *, cwd: Optional[str] = None, env: Optional[Mapping[str, str]] = None
    ) -> int:
        """Starts a program; returns its pid. Its lines arrive as ``process.stdout`` and
        ``process.stderr`` events, its end as ``process.exit``."""
        return int(call("process.spawn", _run(program, args, cwd, env))["pid"])

    def write(self, pid: int, data: str, close: bool = False) -> None:
        """Writes ``data`` to the process's stdin (then closes it, with ``close``)."""
        call("process.write", {"pid": pid, "data": data, "close": close})

    def kill(self, pid: int) -> None:
        call("process.kill", {"pid": pid})

    def list(self) -> List[Dict[str, Any]]:
        """The running processes started by ``process.spawn``: ``{"pid", "program", "args"}``."""
        result: List[Dict[str, Any]] = call("process.list", {})
        return result


def _filters(filters: Optional[Sequence[Mapping[str, Any]]]) -> Optional[List[Dict[str, Any]]]:
    return None if filters is None else [dict(f) for f in filters]


class _Dialog:
    """``[plugins.dialog]``: native dialogs over the app's window (not in ``--headless`` runs)."""

    def open_file(
        self,
        title: Optional[str] = None,
        filters: Optional[Sequence[Mapping[str, Any]]] = None,
        multiple: bool = False,
        default_path: Optional[str] = None,
    ) -> Union[None, str, List[str]]:
        """The chosen file (a list with ``multiple``), or None when cancelled. ``filters``:
        ``[{"name": "Images", "extensions": ["png", "jpg"]}]``."""
        params = _some(title=title, filters=_filters(filters), default_path=default_path)
        params["multiple"] = multiple
        result: Union[None, str, List[str]] = call("dialog.open_file", params)
        return result

    def open_folder(
        self, title: Optional[str] = None, multiple: bool = False, default_path: Optional[str] = None
    ) -> Union[None, str, List[str]]:
        params = _some(title=title, default_path=default_path)
        params["multiple"] = multiple
        result: Union[None, str, List[str]] = call("dialog.open_folder", params)
        return result

    def save_file(
        self,
        title: Optional[str] = None,
        filters: Optional[Sequence[Mapping[str, Any]]] = None,
        default_path: Optional[str] = None,
        default_name: Optional[str] = None,
    ) -> Optional[str]:
        params = _some(title=title, filters=_filters(filters), default_path=default_path, default_name=default_name)
        result: Optional[str] = call("dialog.save_file", params)
        return result

    def message(self, message: str, title: Optional[str] = None, level: str = "info") -> None:
        """Shows a message until the user closes it. ``level``: info, warning or error."""
        call("dialog.message", _some(message=message, title=title, level=level))

    def confirm(self, message: str, title: Optional[str] = None) -> bool:
        """Asks OK / Cancel; True for OK."""
        return bool(call("dialog.confirm", _some(message=message, title=title)))


class _Clipboard:
    """``[plugins.clipboard]``: the system clipboard's text."""

    def read_text(self) -> Optional[str]:
        result: Optional[str] = call("clipboard.read_text", {})
        return result

    def write_text(self, text: str) -> None:
        call("clipboard.write_text", {"text": text})

    def clear(self) -> None:
        call("clipboard.clear", {})


shell = _Shell()
process = _Process()
dialog = _Dialog()
clipboard = _Clipboard()
