import json
import os
import time

from auroraview import WebView

seen = []


def run():
    if os.environ.get("GUI_EXIT"):
        time.sleep(1)  # the window is up by then
        raise SystemExit(int(os.environ["GUI_EXIT"]))
    view = WebView()
    view.bind_call("api.add", lambda a, b: a + b)
    view.bind_call("api.sleep", lambda s: time.sleep(s) or "slept")

    @view.bind_call("api.boom")
    def boom():
        raise ValueError("kaboom")

    @view.bind_call("api.emit_tick")
    def emit_tick():
        view.emit("tick", {"n": 41})
        return True

    view.on("page_event", seen.append)
    view.bind_call("api.seen", lambda: seen)

    @view.bind_call("api.report")
    def report(findings):
        with open(os.environ["GUI_REPORT"], "w", encoding="utf-8") as f:
            json.dump(findings, f)
        return True

    view.show()
    # Runs once the window is closed.
    with open(os.environ["GUI_CLOSED"], "w", encoding="utf-8") as f:
        f.write("closed")
