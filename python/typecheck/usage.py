"""Typed use of the ``auroraview`` package, checked by ``mypy --strict`` in ci/test; not a test.

Binding and decorating must hand back each function with its own type. An annotated assignment
alone would also accept ``Any``, so each kept type is checked twice: assigned where it fits, and
assigned where it does not under ``# type: ignore``, which ``--strict`` reports as unused (an
error) the moment the type degrades to ``Any``.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional

import auroraview
from auroraview import Router, WebView

view = WebView(title="Typed", width=640, height=480, debug=True, frameless=True)


@view.bind_call("api.double")
def double(x: int) -> str:
    return str(2 * x)


def add(a: float, b: float = 0.0) -> float:
    return a + b


added = view.bind_call("api.add", add)

decorated: Callable[[int], str] = double
decorated_wrong: Callable[[str], str] = double  # type: ignore[assignment]
direct: Callable[[float, float], float] = added
direct_wrong: Callable[[str], float] = added  # type: ignore[assignment]
doubled: str = double(21)
double("21")  # type: ignore[arg-type]


@view.on("settings")
def on_settings(data: Dict[str, Any]) -> None:
    view.emit("settings_saved", {"keys": sorted(data)})
    view.emit("saved")


def on_close(data: object) -> None:
    view.off("settings", on_settings)
    view.off("settings")


closing = view.on("close", on_close)

on_decorated: Callable[[Dict[str, Any]], None] = on_settings
on_decorated_wrong: Callable[[int], None] = on_settings  # type: ignore[assignment]
on_direct: Callable[[object], None] = closing
on_direct_wrong: Callable[[object], int] = closing  # type: ignore[assignment]


class Api:
    def greet(self, name: str) -> str:
        return f"hello {name}"


names: List[str] = view.bind_api(Api())
tool_names: List[str] = view.bind_api(Api(), namespace="tools")

router = Router()
router_bound: Callable[[int], str] = router.bind("x.double", double)
router_bound_wrong: Callable[[str], str] = router.bind("x.double", double)  # type: ignore[assignment]
router_on: Callable[[object], None] = router.on("close", on_close)
response: Optional[str] = router.handle('{"id": 1, "method": "x.double", "params": [2]}')
event_response: Optional[str] = router.handle(b'{"event": "close", "data": null}')
methods: List[str] = router.methods()
router.dispatch_event("close", None)
router.off("close", on_close)
router.unbind("x.double")


def main() -> None:
    view.show()

licensed: Optional[Dict[str, Any]] = auroraview.license()
licensed_wrong: int = auroraview.license()  # type: ignore[assignment]
