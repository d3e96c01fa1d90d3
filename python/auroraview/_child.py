"""Running an app's entry point, in every mode: the runtime's embedded interpreter calls
:func:`run`, and a child process (the ``system`` strategy's backend and ``auroraview-pack dev``,
``python3 -m auroraview._child call MODULE FUNCTION [ARGS...]`` or ``... script PATH [ARGS...]``) runs :func:`main`,
which serves JSON lines on stdin/stdout and is supervised by the runtime.

The entry point arrives already parsed by the runtime (``auroraview_overlay::EntryPoint``), so the
rule for reading ``module:function`` exists once. When it finishes on its own (it returned, or
raised SystemExit), a child says so, so the supervisor ends the app instead of restarting a crashed
backend.
"""

from __future__ import annotations

import sys

USAGE = "usage: python -m auroraview._child (call MODULE FUNCTION | script PATH) [ARGS...]"


def _call(entry: "list[str]") -> None:
    if len(entry) == 3 and entry[0] == "call":
        import importlib

        getattr(importlib.import_module(entry[1]), entry[2])()
    elif len(entry) == 2 and entry[0] == "script":
        import runpy

        runpy.run_path(entry[1], run_name="__main__")
    else:
        raise SystemExit(USAGE)
    from . import webview

    # An entry point that returned without showing its window is served too.
    if not webview.was_served():
        webview.serve_forever()


def run(entry: "list[str]") -> int:
    """Runs the entry point and serves until the app ends; returns the app's exit code.

    ``SystemExit(n)`` passes ``n`` through (``None`` is 0, a message is printed and gives 1); any
    other exception prints its traceback and gives 1.
    """
    try:
        _call(entry)
    except SystemExit as exc:
        if exc.code is None:
            return 0
        if isinstance(exc.code, int):
            return exc.code & 0xFF
        print(exc.code, file=sys.stderr)
        return 1
    except BaseException:  # noqa: BLE001 - reported, then the app ends with code 1
        import traceback

        traceback.print_exc()
        return 1
    return 0


def main(argv: "list[str]") -> int:
    from . import _serve, webview

    # The entry point's words, then the app's own arguments (its sys.argv[1:]).
    words = {"call": 3, "script": 2}.get(argv[1] if len(argv) > 1 else "", 0)
    if not words or len(argv) < 1 + words:
        print(USAGE, file=sys.stderr)
        return 2
    entry = argv[1 : 1 + words]
    sys.argv = [argv[0]] + argv[1 + words :]
    transport = _serve.StdioTransport.from_process()
    webview._transport = transport
    code = run(entry)
    transport.finish(code)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
