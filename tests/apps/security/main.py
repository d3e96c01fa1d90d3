import json
import os

from auroraview import WebView


def run():
    view = WebView()
    view.bind_call(
        "api.config", lambda: {"outside": os.environ["SECURITY_OUTSIDE"], "closed": os.environ["SECURITY_CLOSED"]}
    )
    view.bind_call("api.add", lambda a, b: a + b)

    @view.bind_call("api.secret")
    def secret():
        # Only an outside page would call this; the test fails if it ever runs.
        with open(os.environ["SECURITY_MARKER"], "a", encoding="utf-8") as f:
            f.write("api.secret ran\n")
        return "secret"

    @view.bind_call("api.opened")
    def opened():
        """What the xdg-open stub was asked to open so far."""
        try:
            with open(os.environ["XDG_OPEN_LOG"], encoding="utf-8") as f:
                return f.read().splitlines()
        except FileNotFoundError:
            return []

    @view.bind_call("api.report")
    def report(findings):
        with open(os.environ["GUI_REPORT"], "w", encoding="utf-8") as f:
            json.dump(findings, f)
        return True

    view.show()
