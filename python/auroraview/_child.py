"""Runs an app's entry point in a child process that serves JSON lines on stdin/stdout: the
``system`` strategy's backend (``python3 -m auroraview._child ENTRY``), supervised by the packed
executable. ENTRY is ``module:function`` or a script path, run as ``__main__``.

When the entry point finishes on its own (it returned, or raised SystemExit), the last line on
stdout says so, so the supervisor ends the app instead of restarting a crashed backend.
"""

from __future__ import annotations

import sys


def _run(entry: str) -> None:
    if ":" in entry and not entry.endswith(".py"):
        import importlib

        module, function = entry.split(":", 1)
        getattr(importlib.import_module(module), function)()
    else:
        import runpy

        runpy.run_path(entry, run_name="__main__")
    from . import webview

    if not webview.was_served():
        webview.serve_forever()


def main(argv: "list[str]") -> int:
    if len(argv) != 2:
        print("usage: python -m auroraview._child MODULE:FUNCTION|SCRIPT.py", file=sys.stderr)
        return 2
    from . import _serve, webview

    transport = _serve.StdioTransport.from_process()
    webview._transport = transport
    code = 0
    try:
        _run(argv[1])
    except SystemExit as exc:
        if exc.code is None:
            code = 0
        elif isinstance(exc.code, int):
            code = exc.code
        else:
            print(exc.code, file=sys.stderr)
            code = 1
    except BaseException:  # noqa: BLE001 - reported, then the app ends with code 1
        import traceback

        traceback.print_exc()
        code = 1
    transport.finish(code)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
