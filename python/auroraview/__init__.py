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

from ._router import Router
from .webview import WebView

__all__ = ["Router", "WebView", "__version__"]
__version__ = "0.1.0"
