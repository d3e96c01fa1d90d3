import json
import os
import threading

import auroraview
from auroraview import WebView

events = []
lock = threading.Lock()


def run():
    view = WebView()

    def record(name):
        def handler(data):
            with lock:
                events.append({"event": name, "data": data})

        return handler

    for name in ("process.stdout", "process.stderr", "process.exit"):
        view.on(name, record(name))

    @view.bind_call("api.plugin")
    def plugin(method, params=None):
        """Any command, through the module's generic call."""
        try:
            return {"ok": True, "result": auroraview.plugins.call(method, params or {})}
        except auroraview.plugins.PluginError as exc:
            return {"ok": False, "type": exc.type, "error": str(exc), "class": type(exc).__name__}

    @view.bind_call("api.typed")
    def typed():
        """The typed wrappers."""
        p = auroraview.plugins
        out = {"which": p.shell.which("sh")}
        out["execute"] = p.shell.execute("sh", ["-c", "cat; echo err >&2"], stdin="piped in")
        pid = p.process.spawn("sh", ["-c", "echo first; echo second"])
        out["pid"] = pid
        try:
            p.shell.open("ftp://example.test/")
        except p.PermissionDenied as exc:
            out["denied"] = str(exc)
        return out

    view.bind_call("api.events", lambda: list(events))
    view.bind_call("api.env", lambda name: os.environ.get(name))
    view.bind_call("api.scenario", lambda: os.environ.get("PLUGINS_SCENARIO", ""))

    @view.bind_call("api.report")
    def report(findings):
        with open(os.environ["PLUGINS_REPORT"], "w", encoding="utf-8") as f:
            json.dump(findings, f)
        return True

    view.show()
