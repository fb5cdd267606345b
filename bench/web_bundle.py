"""The web app's weight: gzipped JavaScript a resident's first page loads, against the 300 kB
budget (issue 21). Builds the app with `make web` (nothing when up to date), then follows
what `web/dist/index.html` loads at once: its module script and the chunks that script
imports statically. Pages loaded on demand (the application form and its form library,
the officer's pages) are listed apart, since the first page never fetches them.
"""

from __future__ import annotations

import gzip
import re
import subprocess
from pathlib import Path

from bench.harness import ratio_table

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "web" / "dist"
BUDGET_KB = 300.0
_SCRIPT = re.compile(r'<script[^>]+src="/([^"]+\.js)"')
_PRELOAD = re.compile(r'<link[^>]+rel="modulepreload"[^>]+href="/([^"]+\.js)"')
_STATIC_IMPORT = re.compile(r'(?:^|[;}\s])import\s*(?:[\w*{}\s,$]+from\s*)?"\./([^"]+\.js)"')


def gzipped_kb(path: Path) -> float:
    return len(gzip.compress(path.read_bytes(), 9)) / 1000


def first_page() -> list[Path]:
    html = (DIST / "index.html").read_text()
    pending = _SCRIPT.findall(html) + _PRELOAD.findall(html)
    seen: list[Path] = []
    while pending:
        path = DIST / pending.pop()
        if path in seen:
            continue
        seen.append(path)
        for name in _STATIC_IMPORT.findall(path.read_text()):
            pending.append(str(path.parent.relative_to(DIST) / name))
    return seen


def run() -> None:
    subprocess.run(["make", "-s", "web"], cwd=ROOT, check=True, capture_output=True)
    first = first_page()
    first_kb = sum(gzipped_kb(p) for p in first)
    later = [p for p in sorted((DIST / "assets").glob("*.js")) if p not in first]
    rows = [("budget: first page, gzipped JS (kB)", [BUDGET_KB])]
    rows.append((f"first page ({len(first)} files)", [first_kb]))
    rows += [(f"  on demand: {p.name}", [gzipped_kb(p)]) for p in later]
    print(ratio_table("web app JavaScript, gzip -9, kB (ratio to the budget)", ["kB"], rows))
