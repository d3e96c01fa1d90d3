"""Handlers that report what the packed app sees, for the end-to-end tests."""

import os
import sys
import time

import helper
from auroraview import WebView

view = WebView(title="probe")


@view.bind_call("api.env")
def env():
    data_dir = os.environ.get("PROBE_DATA", "")
    with open(os.path.join(data_dir, "greeting.txt"), encoding="utf-8") as f:
        greeting = f.read().strip()
    return {
        "setting": os.environ.get("PROBE_SETTING"),
        "packed": os.environ.get("AURORAVIEW_PACKED"),
        "resources_dir": os.environ.get("AURORAVIEW_RESOURCES_DIR"),
        "python_path": os.environ.get("AURORAVIEW_PYTHON_PATH"),
        "greeting": greeting,
        "prefix": sys.prefix,
        "executable": sys.executable,
        "path": sys.path,
        "helper": helper.describe(),
        "thread": __import__("threading").main_thread().name,
        "pyenv_visible": os.path.exists(os.path.expanduser("~/.pyenv/versions")),
    }


@view.bind_call("api.imports")
def imports():
    import ctypes
    import decimal
    import json
    import sqlite3
    import ssl
    import zlib

    mods = [ctypes, decimal, json, sqlite3, ssl, zlib]
    return {m.__name__: getattr(m, "__file__", "built-in") for m in mods}


@view.bind_call("api.markup")
def markup(text):
    import markupsafe
    from markupsafe import _speedups

    return {"escaped": str(markupsafe.escape(text)), "speedups": _speedups.__file__}


@view.bind_call("api.data")
def data():
    import probe_data

    return probe_data.read_all()


@view.bind_call("api.boom")
def boom():
    raise ValueError("boom happened")


@view.bind_call("api.sleep")
def sleep(seconds):
    time.sleep(seconds)
    return "slept"


@view.bind_call("api.echo")
def echo(value):
    return value


@view.bind_call("api.print")
def stray_print():
    print("stray print from a handler")
    sys.stdout.write("stray write\n")
    sys.stdout.flush()
    os.write(1, b"raw write to fd 1\n")
    os.system("echo from a child process")
    return "printed"


@view.bind_call("api.big")
def big(n):
    return "x" * n


@view.bind_call("api.emit")
def emit(name):
    view.emit(name, {"from": "python"})
    return "emitted"


@view.bind_call("api.crash")
def crash(code):
    os._exit(code)


@view.bind_call("api.hang")
def hang():
    import signal

    # The whole process stops (no heartbeat is answered); the loop keeps this call from returning
    # in the moment before the signal lands.
    os.kill(os.getpid(), signal.SIGSTOP)
    while True:
        time.sleep(1)


@view.bind_call("api.ignore_term")
def ignore_term():
    import signal

    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    return True


@view.bind_call("api.pid")
def pid():
    return os.getpid()


@view.on("ping")
def on_ping(data):
    view.emit("pong", data)


def run():
    if os.environ.get("PROBE_EXIT"):
        raise SystemExit(int(os.environ["PROBE_EXIT"]))
    view.show()
