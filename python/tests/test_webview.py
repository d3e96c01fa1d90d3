"""The Python `WebView`'s own checks: unknown options are refused, and a script that never calls
`show()` says so when it exits instead of exiting silently."""

import os
import subprocess
import sys

import pytest

from auroraview import WebView

PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(code):
    env = dict(os.environ, PYTHONPATH=PACKAGE)
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)


def test_unknown_option_is_a_type_error_naming_it():
    with pytest.raises(TypeError, match="frameless"):
        WebView(title="t", frameless=True)


def test_forgotten_show_warns_at_exit():
    out = run("from auroraview import WebView\nv = WebView(title='t')\nv.bind_call('api.x', lambda: 1)\n")
    assert out.returncode == 0, out.stderr
    assert "show() was never called" in out.stderr


def test_no_webview_no_warning():
    out = run("import auroraview\n")
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""
