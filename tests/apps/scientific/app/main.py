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


async def mean_later(values, delay=0.05):
    """A coroutine handler: awaited on the app's event loop, with numpy in it."""
    import asyncio

    import numpy

    await asyncio.sleep(delay)
    return float(numpy.mean(values))


# Method name -> handler. Every entry is bound the same way, `async def` ones included (the router
# awaits them on the app's event loop).
HANDLERS = {
    "api.mean_later": mean_later,
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
