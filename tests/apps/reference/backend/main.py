"""A small app for the reference-format config tests (tests/tests/reference_config.rs)."""

import os

from auroraview import WebView

view = WebView(title="reference")


@view.bind_call("api.add")
def add(a, b):
    return a + b


@view.bind_call("api.env")
def env():
    data = os.path.join(os.environ["AURORAVIEW_RESOURCES_DIR"], "data", "greeting.txt")
    with open(data, encoding="utf-8") as f:
        greeting = f.read().strip()
    return {"app_env": os.environ.get("APP_ENV"), "greeting": greeting}


def run():
    view.show()
