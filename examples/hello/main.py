"""Hello: the smallest AuroraView app. Runs unchanged with `python main.py` and packed."""

import os
import platform
import sys

from auroraview import WebView


def run():
    view = WebView(title="Hello AuroraView", width=800, height=600)

    @view.bind_call("api.greet")
    def greet(name="world"):
        return f"Hello, {name}!"

    @view.bind_call("api.add")
    def add(a, b):
        return a + b

    @view.bind_call("api.info")
    def info():
        return {
            "python": platform.python_version(),
            "prefix": sys.prefix,
            "packed": os.environ.get("AURORAVIEW_PACKED") == "1",
        }

    @view.on("clicked")
    def clicked(data):
        view.emit("clicked_back", {"count": (data or {}).get("count", 0) + 1})

    view.show()


if __name__ == "__main__":
    run()
