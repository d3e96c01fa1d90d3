"""The baseline `ci/bench` compares against: a bare JSON-lines server doing the same handler work
(parse, look up, call, serialise, write) with the same codec calls as the auroraview router, run
with `python3 -S`."""

import json
import json.decoder
import json.encoder
import sys

handlers = {"api.echo": lambda value: value}
scan = json.decoder.JSONDecoder().scan_once
encode = json.encoder.c_make_encoder(None, None, json.encoder.encode_basestring, None, ":", ",", False, False, False)
out = sys.stdout
for line in sys.stdin:
    msg = scan(line, 0)[0]
    result = handlers[msg["method"]](*msg["params"])
    out.write("".join(encode({"id": msg["id"], "ok": True, "result": result}, 0)) + "\n")
    out.flush()
