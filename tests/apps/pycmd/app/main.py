"""Uses sys.executable the ways Python programs do: subprocess with -c, -m, a script and stdin,
flags, and multiprocessing under spawn and forkserver."""

import multiprocessing
import os
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor

import work
from auroraview import WebView


def python(*args, stdin=None):
    out = subprocess.run([sys.executable, *args], input=stdin, capture_output=True, text=True, timeout=60)
    return {"code": out.returncode, "out": out.stdout.strip(), "err": out.stderr[-2000:]}


def script():
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "script.py")
        with open(path, "w") as f:
            f.write("import sys, work\nprint(work.square(int(sys.argv[1])))\n")
        return python(path, "4")


def pool(method):
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context(method)) as ex:
        return list(ex.map(work.square, range(6)))


async def shared_loop(delay):
    import asyncio

    await asyncio.sleep(delay)
    return id(asyncio.get_running_loop())


def run():
    view = WebView()
    view.bind_call("api.executable", lambda: sys.executable)
    view.bind_call("api.command", lambda: python("-c", "import sys, work; print(work.square(7), '%d.%d' % sys.version_info[:2])"))
    view.bind_call("api.module", lambda: python("-m", "work", "5"))
    view.bind_call("api.script", script)
    view.bind_call("api.stdin", lambda: python("-", stdin="print(6 * 7)"))
    view.bind_call("api.flags", lambda: python("-I", "-B", "-u", "-c", "import sys; print(sys.flags.isolated, sys.flags.dont_write_bytecode)"))
    view.bind_call("api.exit", lambda: python("-c", "raise SystemExit(3)"))
    view.bind_call("api.pool", pool)
    view.bind_call("api.pid", os.getpid)
    view.bind_call("api.async", shared_loop)
    view.show()
