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

__all__ = ["Router", "WebView", "__version__", "license"]
__version__ = "0.1.0"


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
