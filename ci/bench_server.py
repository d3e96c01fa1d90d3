"""The baseline `ci/bench` compares against: a bare JSON-lines server doing the same handler work
(parse, look up, call, serialise, write), run with `python3 -S`."""

import json
import sys

handlers = {"api.echo": lambda value: value}
dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
out = sys.stdout
for line in sys.stdin:
    msg = json.loads(line)
    result = handlers[msg["method"]](*msg["params"])
    out.write(dumps({"id": msg["id"], "ok": True, "result": result}) + "\n")
    out.flush()
