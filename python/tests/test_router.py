import io
import json
import os
import threading
import time

from auroraview import Router
from auroraview._serve import StdioTransport, serve


def call(router, method, params=None, with_params=True, msg_id=1):
    msg = {"id": msg_id, "method": method}
    if with_params:
        msg["params"] = params
    return json.loads(router.handle(json.dumps(msg)))


def test_params_mapping():
    r = Router()
    r.bind("f", lambda *a, **k: {"args": list(a), "kwargs": k})
    assert call(r, "f", {"x": 1})["result"] == {"args": [], "kwargs": {"x": 1}}
    assert call(r, "f", [1, 2])["result"] == {"args": [1, 2], "kwargs": {}}
    assert call(r, "f", None)["result"] == {"args": [], "kwargs": {}}
    assert call(r, "f", with_params=False)["result"] == {"args": [], "kwargs": {}}
    assert call(r, "f", "one")["result"] == {"args": ["one"], "kwargs": {}}
    assert call(r, "f", 5)["result"] == {"args": [5], "kwargs": {}}


def test_exception_becomes_error_response():
    r = Router()

    def boom():
        raise ValueError("bad value")

    r.bind("boom", boom)
    out = call(r, "boom")
    assert out["ok"] is False and out["id"] == 1
    assert out["error"] == "bad value"
    assert out["type"] == "ValueError"
    assert "boom" in out["traceback"]


def test_unknown_method_and_malformed():
    r = Router()
    out = call(r, "nope")
    assert out == {"id": 1, "ok": False, "error": "unknown method 'nope'", "type": "MethodNotFound"}
    assert json.loads(r.handle("{not json"))["type"] == "ParseError"
    assert json.loads(r.handle("[1, 2]"))["type"] == "ParseError"
    assert json.loads(r.handle('{"id": 3}'))["type"] == "InvalidRequest"


def test_unserializable_result():
    r = Router()
    r.bind("obj", lambda: object())
    out = call(r, "obj")
    assert out["ok"] is False and "not JSON-serializable" in out["error"]


def test_events_and_builtins():
    r = Router()
    seen = []
    r.on("ping", seen.append)
    r.on("ping", lambda d: 1 / 0)  # a failing handler does not stop the others
    r.on("ping", lambda d: seen.append(("second", d)))
    assert r.handle(json.dumps({"event": "ping", "data": {"n": 1}})) is None
    assert seen == [{"n": 1}, ("second", {"n": 1})]
    r.bind("api.a", lambda: 1)
    assert call(r, "__methods__")["result"] == ["api.a"]
    assert call(r, "__echo__", {"x": [1]})["result"] == {"x": [1]}


def test_slow_handler_does_not_block_others():
    r = Router()
    r.bind("slow", lambda: time.sleep(1.0) or "slow")
    r.bind("echo", lambda x: x)
    lines = [json.dumps({"id": "s", "method": "slow"}), json.dumps({"id": "e", "method": "echo", "params": [7]})]
    rd = io.BytesIO(("\n".join(lines) + "\n").encode())
    out_r, out_w = os.pipe()
    t = threading.Thread(target=serve, args=(r, StdioTransport(rd, out_w)))
    t.start()
    t.join(10)
    os.close(out_w)
    with os.fdopen(out_r, "rb") as f:
        ids = [json.loads(line)["id"] for line in f.read().splitlines()]
    assert ids == ["e", "s"]


def test_codec_edge_cases():
    r = Router()
    r.bind("nan", lambda: float("nan"))
    r.bind("cycle", lambda: (lambda l: (l.append(l), l)[1])([]))
    r.bind("text", lambda: "héllo \u2028 \"q\"")
    assert call(r, "nan")["ok"] is False
    assert call(r, "cycle")["ok"] is False
    assert call(r, "text")["result"] == "héllo \u2028 \"q\""
    assert json.loads(r.handle('  {"id": 1, "method": "text"}  '))["ok"] is True
    assert json.loads(r.handle('{"id": 1, "method": "text"} trailing'))["type"] == "ParseError"
    assert json.loads(r.handle(b'{"id": 2, "method": "text"}'))["id"] == 2


def test_async_handlers_are_awaited_on_one_loop_that_lives_for_the_app():
    import asyncio
    import threading
    import time

    r = Router()
    loops = []

    async def add(a, b):
        await asyncio.sleep(0.01)
        loops.append(asyncio.get_running_loop())
        return a + b

    async def fails():
        await asyncio.sleep(0)
        raise KeyError("missing")

    r.bind("api.add", add)
    r.bind("api.fails", fails)
    assert json.loads(r.handle('{"id": 1, "method": "api.add", "params": [2, 3]}')) == {"id": 1, "ok": True, "result": 5}
    assert json.loads(r.handle('{"id": 2, "method": "api.add", "params": {"a": 1, "b": 1}}'))["result"] == 2
    assert loops[0] is loops[1], "one loop for the app"
    failed = json.loads(r.handle('{"id": 3, "method": "api.fails"}'))
    assert failed["ok"] is False and failed["type"] == "KeyError" and "missing" in failed["error"]

    # A slow coroutine holds up no other call: four 0.3 s calls from four workers take ~0.3 s.
    async def slow():
        await asyncio.sleep(0.3)
        return "done"

    r.bind("api.slow", slow)
    out = []
    start = time.monotonic()
    workers = [threading.Thread(target=lambda: out.append(r.handle('{"id": 4, "method": "api.slow"}'))) for _ in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert len(out) == 4 and all(json.loads(o)["result"] == "done" for o in out)
    assert time.monotonic() - start < 1.0


def test_async_event_listeners_run_on_the_loop():
    import asyncio
    import threading

    r = Router()
    seen = threading.Event()

    async def listener(data):
        await asyncio.sleep(0)
        if data == {"x": 1}:
            seen.set()

    r.on("clicked", listener)
    assert r.handle('{"event": "clicked", "data": {"x": 1}}') is None
    assert seen.wait(5)
