"""Hostile input: no message ends the app. The router answers everything it is given (too deep, not
UTF-8, not an object, handlers raising SystemExit...) with one JSON line and never raises, and the
journal of a supervised child holds or refuses calls with ids of any length."""

import json
import os
import random
import struct
import threading
import time

import pytest

from auroraview import Router, _serve
from auroraview._router import answer_id, recover_id
from auroraview._serve import StdioTransport, serve


class Boom(BaseException):
    pass


class BadStr(Exception):
    def __str__(self):
        raise RuntimeError("no str")


def router():
    r = Router()
    r.bind("echo", lambda *a, **k: [list(a), k])
    r.bind("exit", lambda code=3: (_ for _ in ()).throw(SystemExit(code)))
    r.bind("interrupt", lambda: (_ for _ in ()).throw(KeyboardInterrupt()))
    r.bind("boom", lambda: (_ for _ in ()).throw(Boom("base")))
    r.bind("badstr", lambda: (_ for _ in ()).throw(BadStr()))
    r.bind("nan", lambda: float("nan"))
    r.bind("obj", lambda: object())
    r.on("ev", lambda data: (_ for _ in ()).throw(SystemExit(1)))
    return r


def answer(r, raw):
    out = r.handle(raw)
    assert isinstance(out, str), (raw, out)
    return json.loads(out)


def test_deep_nesting_is_a_parse_error_carrying_the_id():
    r = router()
    # Deeper than any CPython's limit: 3.9-3.11 stop at the recursion limit (1000), 3.12 and 3.13
    # at their C recursion limit (up to 10 000).
    for depth in (20_000, 100_000):
        out = answer(r, "[" * depth + "]" * depth)
        assert (out["id"], out["ok"], out["type"]) == (None, False, "ParseError")
        line = '{"id": "deep", "method": "echo", "params": ' + "[" * depth + "]" * depth + "}"
        out = answer(r, line)
        assert (out["id"], out["type"]) == ("deep", "ParseError"), out
        assert "recursion" in out["error"]
        out = answer(r, line.encode())
        assert (out["id"], out["type"]) == ("deep", "ParseError")
    # Still serving.
    assert answer(r, '{"id": 1, "method": "echo", "params": [1]}')["result"] == [[1], {}]


def test_invalid_utf8_bytes_are_a_parse_error_carrying_the_id():
    r = router()
    out = answer(r, b'{"id": "u", "method": "echo", "params": ["\xff\xfe"]}\n')
    assert (out["id"], out["ok"], out["type"]) == ("u", False, "ParseError")
    assert "utf-8" in out["error"]
    assert answer(r, b'{"method": "echo", "id": 42, "x": "\xc3"}')["id"] == 42
    assert answer(r, b"\xff\xfe\xfd")["id"] is None
    # Valid UTF-8 bytes are served as before.
    assert answer(r, '{"id": 2, "method": "echo", "params": ["é"]}'.encode())["result"] == [["é"], {}]


def test_non_objects_are_parse_errors():
    r = router()
    for raw in ('[{"id": 1, "method": "echo"}]', '"text"', "5", "null", "true", "", "   ", "{"):
        out = answer(r, raw)
        assert (out["id"], out["ok"], out["type"]) == (None, False, "ParseError"), raw


@pytest.mark.parametrize(
    "method, kind",
    [("exit", "SystemExit"), ("interrupt", "KeyboardInterrupt"), ("boom", "Boom"), ("badstr", "BadStr")],
)
def test_a_handler_raising_any_base_exception_gets_an_error_answer(method, kind):
    r = router()
    out = answer(r, json.dumps({"id": "h", "method": method}))
    assert (out["id"], out["ok"], out["type"]) == ("h", False, kind)
    assert out["error"]
    assert kind in out["traceback"]
    assert answer(r, '{"id": 1, "method": "echo"}')["ok"] is True


def test_an_event_handler_raising_system_exit_does_not_end_anything(capsys):
    r = router()
    seen = []
    r.on("ev", seen.append)
    assert r.handle('{"event": "ev", "data": 1}') is None
    assert seen == [1], "the handlers after the failing one still ran"
    assert "SystemExit" in capsys.readouterr().err
    # Event names that are not strings (unhashable ones too) are ignored.
    for raw in ('{"event": [1], "data": 0}', '{"event": {"a": 1}}', '{"event": null}'):
        assert r.handle(raw) is None


def test_the_id_is_recovered_from_what_does_not_parse():
    cases = {
        '{"id": "t", "method": "x", "params": [1,': "t",
        '{"method": "x", "id": 12, "params": {': 12,
        '  {"id" : 1.5 , "method": ': 1.5,
        '{"p": "}\\"{", "id": "after-a-tricky-string", ': "after-a-tricky-string",
        '{"params": {"id": 3}, "method": ': None,  # not the top-level id
        '{"method": "id", "x": ': None,  # "id" as a value
        '{"id": NaN, "method": ': None,
        '{"id": [1, 2], "method": ': None,
        '{"id": true, "method": ': None,
        '{"id": ': None,
        '[{"id": 1}': None,
        '{"id": "' + "x" * 10000 + '", "method": ': "x" * 10000,
    }
    for raw, expected in cases.items():
        assert recover_id(raw) == expected, raw
        assert answer(Router(), raw)["id"] == expected, raw


def test_ids_the_router_cannot_encode_still_get_an_answer():
    r = router()
    for raw in ('{"id": NaN, "method": "__ping__"}', '{"id": -Infinity, "method": "echo", "params": [1]}'):
        out = answer(r, raw)
        assert (out["id"], out["ok"], out["type"]) == (None, False, "InvalidRequest"), raw
    out = answer(r, '{"id": 7, "method": [1]}')
    assert (out["id"], out["type"]) == (7, "InvalidRequest")
    # A lone surrogate escape makes a lone surrogate: answered (the transport escapes it again).
    assert answer(r, '{"id": "\\ud800", "method": "__ping__"}')["id"] == "\ud800"


def test_a_worker_escapes_lone_surrogates_a_transport_cannot_write():
    """The runtime's `send` refuses a str with lone surrogates; the answer goes out escaped."""
    r = Router()
    r.bind("echo", lambda x: x)
    sent = []

    class Strict:
        def __init__(self, lines):
            self.lines = list(lines)

        def recv(self):
            return (self.lines.pop(0) if self.lines else None), False

        def send(self, line):
            line.encode("utf-8")  # UnicodeEncodeError, as the runtime's `send`
            sent.append(line)

    serve(r, Strict(['{"id": "\\udc80", "method": "echo", "params": ["\\ud800"]}', '{"id": 2, "method": "echo", "params": [2]}']))
    assert [json.loads(line) for line in sent] == [
        {"id": "\udc80", "ok": True, "result": "\ud800"},
        {"id": 2, "ok": True, "result": 2},
    ]


def test_stdio_transport_serves_hostile_lines_and_keeps_going():
    r = router()
    lines = [
        b'{"id": "d", "method": "echo", "params": ' + b"[" * 20_000 + b"]" * 20_000 + b"}",
        b'{"id": "u", "method": "echo", "params": ["\xff"]}',
        b'{"id": "x", "method": "exit"}',
        b'{"id": "k", "method": "interrupt"}',
        b'{"event": [1]}',
        b'{"id": "s", "method": "echo", "params": ["\\ud800"]}',
        b'{"id": "ok", "method": "echo", "params": [1]}',
    ]
    import io

    out_r, out_w = os.pipe()
    t = threading.Thread(target=serve, args=(r, StdioTransport(io.BytesIO(b"\n".join(lines) + b"\n"), out_w)))
    t.start()
    t.join(10)
    assert not t.is_alive()
    os.close(out_w)
    with os.fdopen(out_r, "rb") as f:
        got = {m["id"]: m for m in map(json.loads, f.read().splitlines())}
    assert got["d"]["type"] == got["u"]["type"] == "ParseError"
    assert (got["x"]["type"], got["k"]["type"]) == ("SystemExit", "KeyboardInterrupt")
    assert got["s"]["result"] == [["\ud800"], {}]
    assert got["ok"]["result"] == [[1], {}]


# -- the journal of a supervised child ---------------------------------------------------------

SLOTS, SLOT_SIZE = 4, 64 << 10
DATA = _serve._PAGE + SLOTS * SLOT_SIZE


def journal():
    fd = os.memfd_create("journal-hostile")
    os.ftruncate(fd, DATA + (1 << 20))
    os.pwrite(fd, struct.pack("<2Q", SLOTS, SLOT_SIZE), 4 * 8)
    reader, writer = os.pipe()
    j = _serve.Journal(os.dup(fd), reader)
    answers = []
    j.respond = answers.append
    return fd, j, writer, answers


def held(fd, slot=0):
    at = _serve._PAGE + slot * SLOT_SIZE
    length = struct.unpack("<Q", os.pread(fd, 8, at))[0]
    return os.pread(fd, length, at + 16)


def feed(writer, data):
    threading.Thread(target=lambda: (os.write(writer, data), os.close(writer))).start()


@pytest.mark.skipif(not hasattr(os, "memfd_create"), reason="Linux only")
def test_a_long_id_is_held_whole_and_one_too_long_for_a_slot_is_refused():
    fd, j, writer, answers = journal()
    long_id, huge_id = "L" * 10_000, "H" * 70_000
    lines = [
        json.dumps({"id": long_id, "method": "crash"}).encode() + b"\n",
        json.dumps({"id": huge_id, "method": "crash", "params": [1]}).encode() + b"\n",
        b'{"id": "after", "method": "echo"}\n',
    ]
    feed(writer, b"".join(lines))
    slot = 0  # the first worker's
    assert j.readline() == lines[0]
    assert held(fd, slot) == lines[0], "a 10 KB id fits with its whole line"
    j.answered()
    # The huge id is answered with an error and never handed out; the next line is.
    assert j.readline() == lines[2]
    assert len(answers) == 1
    refused = json.loads(answers[0])
    assert (refused["id"], refused["ok"], refused["type"]) == (huge_id, False, "InvalidRequest")
    assert held(fd, slot) == lines[2]
    assert j.readline() == b""


@pytest.mark.skipif(not hasattr(os, "memfd_create"), reason="Linux only")
def test_long_lines_that_do_not_parse_are_held_as_the_id_the_router_answers_with():
    fd, j, writer, answers = journal()
    pad = "p" * 70_000
    lines = [
        b'{"id": "deep", "params": ["' + pad.encode() + b'", ' + b"[" * 50_000 + b"]" * 50_000 + b"]}\n",
        b'{"id": "bytes", "params": ["' + pad.encode() + b'\xff"]}\n',
        b'{"params": ["' + pad.encode() + b'"], "id": "\\ud800"}\n',
        b'{"params": ["' + pad.encode() + b'"]}\n',
        b"[" * 70_000 + b"\n",
    ]
    feed(writer, b"".join(lines))
    slot = 0
    for line, expected in zip(lines, [b'{"id":"deep"}', b'{"id":"bytes"}', b'{"id":"\\ud800"}', b"{}", b"{}"]):
        assert j.readline() == line
        assert held(fd, slot) == expected
        j.answered()
    assert answers == []
    assert answer_id(b'{"id": NaN}') is None


# -- seeded mutation fuzz of the parser --------------------------------------------------------

VALID = [
    {"id": 1, "method": "echo", "params": [1, "two", None, True, 3.5]},
    {"id": "av17", "method": "echo", "params": {"name": "Ada", "tags": ["x", "y"], "n": {"m": [1, {"k": 2}]}}},
    {"id": 2, "method": "__ping__"},
    {"id": 3, "method": "__echo__", "params": {"a": "é\u2028\"\\", "b": [[], {}]}},
    {"id": "x-4", "method": "__methods__", "params": None},
    {"id": 5, "method": "exit", "params": [7]},
    {"id": 6, "method": "interrupt"},
    {"id": 7, "method": "boom"},
    {"id": 8, "method": "nan"},
    {"id": 9, "method": "obj"},
    {"id": 10, "method": "nope", "params": "one"},
    {"id": 11.5, "method": "echo", "params": ["\U0001f600" * 3, -1e300, 12345678901234567890]},
    {"event": "ev", "data": {"n": 1}},
]
TEXTS = [json.dumps(m) for m in VALID] + [json.dumps(m, separators=(",", ":"), ensure_ascii=False) for m in VALID]


def mutate(rng, text):
    kind = rng.randrange(6)
    if kind == 0:  # byte flips: may leave the text invalid UTF-8
        data = bytearray(text.encode("utf-8"))
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        return bytes(data)
    if kind == 1:  # truncation
        return text[: rng.randrange(len(text))]
    if kind == 2:  # deep nesting, balanced or not, anywhere
        depth = rng.choice([10, 500, 999, 1001, 3000, 20000])
        at = rng.randrange(len(text) + 1)
        inner = "[" * depth + ("]" * depth if rng.random() < 0.5 else "")
        if rng.random() < 0.5:
            inner = '{"a":' * depth + "1" + "}" * depth
        return text[:at] + inner + text[at:]
    if kind == 3:  # random unicode, lone surrogates included, raw or escaped
        at = rng.randrange(len(text) + 1)
        chars = []
        for _ in range(rng.randint(1, 8)):
            cp = rng.choice([rng.randrange(0x20, 0x80), rng.randrange(0x80, 0x800), rng.randrange(0xD800, 0xE000),
                             rng.randrange(0x10000, 0x110000), rng.randrange(0, 0x20)])
            chars.append(chr(cp) if rng.random() < 0.5 else "\\u%04x" % min(cp, 0xFFFF))
        return text[:at] + "".join(chars) + text[at:]
    if kind == 4:  # splice two valid messages
        other = rng.choice(TEXTS)
        return text[: rng.randrange(len(text) + 1)] + other[rng.randrange(len(other) + 1) :]
    # values replaced by extreme ones
    swap = rng.choice(['NaN', 'Infinity', '-0', '1e999', '"' + "z" * 5000 + '"', "[]", "{}", "null", '"\\ud800"'])
    for key in ('"id": ', '"params": ', '"method": '):
        if key in text and rng.random() < 0.6:
            at = text.index(key) + len(key)
            end = text.find(",", at)
            text = text[:at] + swap + (text[end:] if end > 0 else "}")
    return text


def parses_as_event(raw):
    try:
        msg = json.loads(raw)
    except (ValueError, RecursionError):
        return False
    return isinstance(msg, dict) and "method" not in msg and "event" in msg


def test_mutated_requests_always_get_one_json_answer():
    rng = random.Random(20240607)
    r = router()
    r.on("ev", lambda data: None)
    import contextlib
    import io

    started = time.monotonic()
    kinds = {}
    with contextlib.redirect_stderr(io.StringIO()):  # the failing event handler's tracebacks
        for case in range(12_000):
            raw = mutate(rng, rng.choice(TEXTS))
            out = r.handle(raw)
            if out is None:
                assert parses_as_event(raw), (case, raw)
                continue
            assert "\n" not in out, (case, raw)
            msg = json.loads(out)
            assert isinstance(msg, dict) and "id" in msg, (case, raw, out)
            if msg["ok"] is False:
                assert isinstance(msg["error"], str) and isinstance(msg["type"], str), (case, raw, out)
                kinds[msg["type"]] = kinds.get(msg["type"], 0) + 1
            else:
                assert msg["ok"] is True and "result" in msg, (case, raw, out)
                kinds["ok"] = kinds.get("ok", 0) + 1
    assert time.monotonic() - started < 10
    # The mutations reach every kind of answer.
    for kind in ("ok", "ParseError", "InvalidRequest", "MethodNotFound", "SystemExit", "KeyboardInterrupt"):
        assert kinds.get(kind), kinds
