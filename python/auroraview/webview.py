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


#: ``WebView(...)`` keyword arguments that change the window, beyond title, size and resizable.
WINDOW_OPTIONS = (
    "min_width",
    "min_height",
    "max_width",
    "max_height",
    "center",
    "x",
    "y",
    "always_on_top",
    "decorations",
    "fullscreen",
    "maximized",
)

#: A line for the runtime, not the page: the JSON after it changes the window.
_WINDOW_PREFIX = "\x01window "


def _change_window(change: "dict[str, Any]") -> None:
    """Sends ``change`` to the window, when this Python's lines reach one (not ``--headless``)."""
    import os

    if change and os.environ.get("AURORAVIEW_WINDOW") == "1":
        import json

        _get_transport().send(_WINDOW_PREFIX + json.dumps(change))


#: WebViews created and not shown yet; an app that exits leaving one warns (a forgotten ``show()``).
_unshown: "set[int]" = set()


def _warn_unshown() -> None:
    if _unshown:
        import sys

        print(
            "auroraview: a WebView was created but show() was never called, so no window opened;"
            " call view.show() after binding the handlers",
            file=sys.stderr,
        )


class WebView:
    """A window showing the app's frontend.

    The packed app's window starts as ``auroraview.pack.toml`` says; the arguments given here
    (``title``, ``width``, ``height``, ``resizable`` and the ``WINDOW_OPTIONS``: size limits,
    ``center``/``x``/``y``, ``always_on_top``, ``decorations``, ``fullscreen``, ``maximized``)
    change it when ``show()`` is called.
    """

    def __init__(
        self,
        title: Optional[str] = None,
        width: Optional[int] = None,
        height: Optional[int] = None,
        url: Optional[str] = None,
        html: Optional[str] = None,
        debug: Optional[bool] = None,
        resizable: Optional[bool] = None,
        **options: Any,
    ) -> None:
        unknown = sorted(k for k in options if k not in WINDOW_OPTIONS)
        if unknown:
            raise TypeError(
                f"WebView() got unknown options {', '.join(unknown)}; the window takes {', '.join(WINDOW_OPTIONS)}"
            )
        given = {"title": title, "width": width, "height": height, "resizable": resizable}
        self._change = {k: v for k, v in given.items() if v is not None}
        self._change.update({k: v for k, v in options.items() if v is not None})
        self.title = title if title is not None else "AuroraView"
        self.width = width if width is not None else 800
        self.height = height if height is not None else 600
        self.url = url
        self.html = html
        self.debug = bool(debug)
        self.resizable = True if resizable is None else resizable
        self.options = options
        self._router = _router
        if not _unshown:
            import atexit

            atexit.unregister(_warn_unshown)
            atexit.register(_warn_unshown)
        _unshown.add(id(self))

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

    # -- the window -------------------------------------------------------------------------

    def set_title(self, title: str) -> None:
        """Changes the window's title."""
        self.title = title
        _change_window({"title": title})

    # -- life -------------------------------------------------------------------------------

    def show(self) -> None:
        """Serves the page's calls until the window closes (or, headless, stdin ends).

        Run directly with ``python main.py`` (not packed, not under the runtime), this hands the run
        to ``auroraview-pack dev``, which opens the window.
        """
        _unshown.discard(id(self))
        if _transport is None and not _in_runtime():
            _run_through_runtime()
        _change_window(self._change)
        serve_forever()
