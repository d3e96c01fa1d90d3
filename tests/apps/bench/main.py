import json
import os
import time

from auroraview import WebView


def run():
    view = WebView(title="bench")
    view.bind_call("api.echo", lambda value: value)
    view.bind_call("api.crash", lambda: os._exit(3))
    view.bind_call("api.sleep", lambda ms: time.sleep(ms / 1000))

    @view.bind_call("api.first_answered")
    def first_answered():
        path = os.environ.get("BENCH_FIRST")
        if path:
            with open(path, "w", encoding="utf-8") as f:
                f.write(repr(time.time()))

    @view.bind_call("api.report")
    def report(stats):
        with open(os.environ["BENCH_REPORT"], "w", encoding="utf-8") as f:
            json.dump(stats, f)
        return True

    view.show()
