import json
import os

from auroraview import WebView


def run():
    view = WebView(title="bench")
    view.bind_call("api.echo", lambda value: value)
    view.bind_call("api.crash", lambda: os._exit(3))

    @view.bind_call("api.report")
    def report(stats):
        with open(os.environ["BENCH_REPORT"], "w", encoding="utf-8") as f:
            json.dump(stats, f)
        return True

    view.show()
