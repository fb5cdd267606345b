"""What the edge's JSON-body bounds (portal_shared.bodies) cost per request, beside the parse
FastAPI does anyway: a typical ~2 KB submission body, and a 1 MiB one at the size limit.

Prints microseconds per body and the ratio to `json.loads` (FastAPI's own parse); the
check is one orjson parse and one walk over the containers, so it should stay within a
small multiple of that parse at any size.
"""

from __future__ import annotations

import functools
import json
import timeit
import uuid
from collections.abc import Callable

from portal_shared.bodies import JsonLimits, check_json


def _submission() -> bytes:
    form = {
        f"field_{i}": {"value": "Some text a resident typed " * 2, "n": i, "ok": True}
        for i in range(20)
    }
    form["address"] = {"city": "Baikonur", "street": "Korolev", "house": "1", "flat": 12}
    return json.dumps({"service_id": str(uuid.uuid4()), "form_data": form}).encode()


def _large() -> bytes:
    items = [{"name": "x" * 80, "values": list(range(20))} for _ in range(4500)]
    return json.dumps({"form_data": {"rows": items}}).encode()


def _per_call(fn: Callable[[], object], number: int) -> float:
    return min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e6


def run() -> None:
    limits = JsonLimits()
    for name, body, number in (("submission", _submission(), 5000), ("large", _large(), 5)):
        checked = _per_call(functools.partial(check_json, body, limits), number)
        parsed = _per_call(functools.partial(json.loads, body), number)
        print(
            f"{name:>10} {len(body):>9} bytes  check {checked:9.1f} us"
            f"  json.loads {parsed:9.1f} us  ratio {checked / parsed:4.2f}"
        )


if __name__ == "__main__":
    run()
