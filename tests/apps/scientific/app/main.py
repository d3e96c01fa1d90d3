"""numpy and pandas in handlers, in a process pool under `spawn`, and in a child Python started
with `sys.executable`. numpy, pandas and multiprocessing are imported on first use, so the app
answers its first call (`__echo__`) without loading them."""

import sys

import work
from auroraview import WebView


def pool(sizes=(10, 100, 1000)):
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as ex:
        return list(ex.map(work.dot, sizes))


def child():
    import subprocess

    code = "import numpy, pandas; print(numpy.linalg.inv(numpy.eye(3) * 2).trace(), pandas.Series([1, 2, 3]).sum())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    return {"code": out.returncode, "out": out.stdout.strip(), "err": out.stderr[-2000:]}


# Method name -> handler. Every entry is bound the same way, so a handler written as `async def`
# (which the router runs on the app's event loop) is added here as one more entry.
HANDLERS = {
    "api.inverse": work.inverse,
    "api.frame": work.summarize,
    "api.pool": pool,
    "api.child": child,
}


def run():
    view = WebView(title="scientific")
    for method, handler in HANDLERS.items():
        view.bind_call(method, handler)
    view.show()
