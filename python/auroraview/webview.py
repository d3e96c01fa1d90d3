"""``WebView``: the app's handle on its window. Bind Python functions for the page to call, listen
to and emit events, and ``show()``.

Packed (``AURORAVIEW_PACKED=1``), the runtime embeds Python and provides the ``_auroraview_runtime``
transport; ``show()`` serves calls until the app shuts down. Unpacked, ``show()`` serves the same
JSON lines on stdin/stdout.
"""

from __future__ import annotations

# Not `from typing import TYPE_CHECKING`: importing typing costs milliseconds of start-up.
TYPE_CHECKING = False

from . import _serve
from ._router import Router, encode_event

if TYPE_CHECKING:
    from typing import Any, Callable, List, Optional, Union, overload

    from ._router import Handler, HandlerT

#: One router per process: every WebView of the app answers the same page.
_router = Router()
_transport: "Any" = None
_served = False


def _get_transport() -> Any:
    global _transport
    if _transport is None:
        import os

        if "AURORAVIEW_JOURNAL_FD" in os.environ:
            # A supervised child serving the client's pipes directly.
            _transport = _serve.StdioTransport.from_process()
            return _transport
        try:
            import _auroraview_runtime  # type: ignore[import-not-found]  # provided by the packed runtime
        except ImportError:
            _transport = _serve.StdioTransport.from_process()
        else:
            _transport = _auroraview_runtime
    return _transport


def _run_through_runtime() -> None:
    """``python main.py`` in a developer's environment: hand the run to ``auroraview-pack dev``,
    which shows the window and runs this app's Python under the runtime. Returns only when that is
    not possible, after saying how to make it possible."""
    import os
    import shutil
    import sys

    if os.environ.get("AURORAVIEW_NO_DEV_RUNTIME"):
        return
    script_dir = os.path.dirname(os.path.abspath(sys.argv[0])) if sys.argv and sys.argv[0] else os.getcwd()
    config = None
    for d in (script_dir, os.getcwd()):
        candidate = os.path.join(d, "auroraview.pack.toml")
        if os.path.isfile(candidate):
            config = candidate
            break
    pack = os.environ.get("AURORAVIEW_PACK") or shutil.which("auroraview-pack")
    if config and pack:
        args = [pack, "dev", "--config", config] + (["--headless"] if "--headless" in sys.argv[1:] else [])
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(pack, args)
    missing = []
    if not config:
        missing.append(f"no auroraview.pack.toml beside {sys.argv[0] or 'the script'} or in {os.getcwd()}")
    if not pack:
        missing.append("auroraview-pack is not on PATH (and AURORAVIEW_PACK is not set)")
    print(
        "auroraview: to show this app's window, run it through the AuroraView runtime:\n"
        + "".join(f"  - {m}\n" for m in missing)
        + "  Build the tools with `cargo build --release` in the AuroraView repository and put its\n"
        "  target/release directory on PATH (or set AURORAVIEW_PACK=/path/to/auroraview-pack), then run\n"
        "  `python main.py` again or `auroraview-pack dev`.\n"
        "auroraview: serving JSON-RPC on stdin/stdout meanwhile.",
        file=sys.stderr,
    )


def _in_runtime() -> bool:
    """Whether the runtime runs this Python: embedded (its module exists) or as its child."""
    try:
        import _auroraview_runtime  # noqa: F401
    except ImportError:
        import os

        return bool(os.environ.get("AURORAVIEW_PACKED") or os.environ.get("AURORAVIEW_DEV"))
    return True


def serve_forever() -> None:
    """Serves calls until the app shuts down. Called by ``show()``, and by the runtime when an entry
    point returns without calling it."""
    global _served
    _served = True
    _serve.serve(_router, _get_transport())


def was_served() -> bool:
    return _served


class WebView:
    """A window showing the app's frontend.

    Size, title and resizability of the packed app come from ``auroraview.pack.toml``; the
    arguments here are kept for the development run and for code shared with other hosts.
    """

    def __init__(
        self,
        title: str = "AuroraView",
        width: int = 800,
        height: int = 600,
        url: Optional[str] = None,
        html: Optional[str] = None,
        debug: Optional[bool] = None,
        resizable: bool = True,
        **options: Any,
    ) -> None:
        self.title = title
        self.width = width
        self.height = height
        self.url = url
        self.html = html
        self.debug = bool(debug)
        self.resizable = resizable
        self.options = options
        self._router = _router

    # -- calls ------------------------------------------------------------------------------

    # Overloads for type checkers only (`typing` is not imported at run time): binding, directly or
    # as a decorator, returns the function itself, so it keeps its type.
    if TYPE_CHECKING:

        @overload
        def bind_call(self, method: str, func: None = None) -> Callable[[HandlerT], HandlerT]: ...
        @overload
        def bind_call(self, method: str, func: HandlerT) -> HandlerT: ...

    def bind_call(
        self, method: str, func: Optional[HandlerT] = None
    ) -> Union[HandlerT, Callable[[HandlerT], HandlerT]]:
        """Makes ``func`` answer ``auroraview.call(method, params)``.

        Use as ``view.bind_call("api.x", func)`` or as a decorator ``@view.bind_call("api.x")``.
        A params object becomes keyword arguments, an array positional arguments, null or no params
        no arguments, and any other value one argument.
        """
        if func is None:

            def decorator(f: HandlerT) -> HandlerT:
                return self._router.bind(method, f)

            return decorator
        return self._router.bind(method, func)

    def bind_api(self, obj: Any, namespace: str = "api") -> List[str]:
        """Binds every public method of ``obj`` as ``<namespace>.<name>``; returns the names."""
        names = []
        for name in dir(obj):
            if name.startswith("_"):
                continue
            attr = getattr(obj, name)
            if callable(attr):
                self._router.bind(f"{namespace}.{name}", attr)
                names.append(f"{namespace}.{name}")
        return names

    # -- events -----------------------------------------------------------------------------

    if TYPE_CHECKING:

        @overload
        def on(self, event: str, handler: None = None) -> Callable[[HandlerT], HandlerT]: ...
        @overload
        def on(self, event: str, handler: HandlerT) -> HandlerT: ...

    def on(
        self, event: str, handler: Optional[HandlerT] = None
    ) -> Union[HandlerT, Callable[[HandlerT], HandlerT]]:
        """Runs ``handler(data)`` when the page emits ``event``. Also usable as a decorator."""
        if handler is None:

            def decorator(f: HandlerT) -> HandlerT:
                return self._router.on(event, f)

            return decorator
        return self._router.on(event, handler)

    def off(self, event: str, handler: Optional[Handler] = None) -> None:
        self._router.off(event, handler)

    def emit(self, event: str, data: Any = None) -> None:
        """Sends ``{"event", "data"}`` to the page (to stdout in ``--headless``)."""
        _get_transport().send(encode_event(event, data))

    # -- life -------------------------------------------------------------------------------

    def show(self) -> None:
        """Serves the page's calls until the window closes (or, headless, stdin ends).

        Run directly with ``python main.py`` (not packed, not under the runtime), this hands the run
        to ``auroraview-pack dev``, which opens the window.
        """
        if _transport is None and not _in_runtime():
            _run_through_runtime()
        serve_forever()
