"""AuroraView: bind Python functions for a web frontend to call.

The same code runs in development (``python main.py``) and packed into one executable by
``auroraview-pack``::

    from auroraview import WebView

    def run():
        view = WebView(title="My App")

        @view.bind_call("api.get_samples")
        def get_samples():
            return [1, 2, 3]

        view.show()
"""

from __future__ import annotations

# Not `from typing import TYPE_CHECKING`: importing typing costs milliseconds of start-up.
TYPE_CHECKING = False

from ._router import Router
from .webview import WebView

if TYPE_CHECKING:
    from typing import Any, Dict, Optional

    from . import plugins as plugins

__all__ = ["Router", "WebView", "__version__", "license", "plugins"]
__version__ = "0.1.0"


# The variable that names the runtime's plugin socket (auroraview.plugins connects to it).
_PLUGINS_FD_ENV = "AURORAVIEW_PLUGINS_FD"


def _keep_plugin_socket_private() -> None:
    """The runtime hands a child backend its plugin socket as an inheritable descriptor; the
    app's own subprocesses must not get it."""
    import os

    fd = os.environ.get(_PLUGINS_FD_ENV, "")
    if fd.isdigit():
        try:
            os.set_inheritable(int(fd), False)
        except OSError:
            pass


_keep_plugin_socket_private()


def __getattr__(name: str) -> Any:
    # `auroraview.plugins` without importing it at start-up.
    if name == "plugins":
        import importlib

        return importlib.import_module(".plugins", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def license() -> Optional[Dict[str, Any]]:
    """The payload of the license token the app was started with: ``app``, ``licensee``,
    ``issued_at`` (Unix seconds), ``expires`` (``YYYY-MM-DD``, absent for a token that never
    expires) and ``features`` (a list of strings). ``None`` for an app packed without
    ``[license] type = "token"``, and in development.

    The runtime verified the token's signature, app and expiry before Python started, and passes
    the payload in ``AURORAVIEW_LICENSE_PAYLOAD``.
    """
    import json
    import os

    text = os.environ.get("AURORAVIEW_LICENSE_PAYLOAD")
    if not text or os.environ.get("AURORAVIEW_PACKED") != "1":
        return None
    payload = json.loads(text)
    return payload if isinstance(payload, dict) else None
