"""`python -m bench [name ...]`: run every benchmark in this package, or the named ones.

A benchmark is a module here with a `run() -> None` function; helper modules
(upstreams, shared plumbing) have none and are skipped.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from collections.abc import Callable
from pathlib import Path


def benchmarks() -> dict[str, Callable[[], None]]:
    found: dict[str, Callable[[], None]] = {}
    for module in pkgutil.iter_modules([str(Path(__file__).parent)]):
        if module.name.startswith("_"):
            continue
        loaded = importlib.import_module(f"bench.{module.name}")
        run = getattr(loaded, "run", None)
        if callable(run):
            found[module.name] = run
    return found


def main(names: list[str]) -> int:
    available = benchmarks()
    unknown = [n for n in names if n not in available]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(available)}")
        return 2
    for name in names or sorted(available):
        print(f"== {name} ==", flush=True)
        available[name]()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
