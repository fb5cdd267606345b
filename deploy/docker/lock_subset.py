"""Print the part of requirements.lock that some packages need, pins and hashes verbatim.

`python lock_subset.py requirements.lock portal-identity portal-shared` keeps
every entry whose `# via` chain leads to one of the named packages, so an image
installs only its own share of the one lock file (no test or lint tools) with
`pip install --require-hashes --no-deps`. Standard library only: it runs in the
image's build stage before anything is installed.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

_NAME = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)")


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def parse(text: str) -> tuple[dict[str, list[str]], dict[str, set[str]]]:
    """Entries (name -> their lines) and who pulls each in (name -> `via` names)."""
    entries: dict[str, list[str]] = {}
    parents: dict[str, set[str]] = {}
    current: str | None = None
    in_via = False
    for line in text.splitlines():
        match = _NAME.match(line)
        if match:
            current = normalise(match.group(1))
            entries[current] = [line]
            parents[current] = set()
            in_via = False
            continue
        if current is None:
            continue
        stripped = line.strip()
        if stripped.startswith("--hash") or stripped.endswith("\\"):
            entries[current].append(line)
        elif stripped.startswith("# via"):
            rest = stripped.removeprefix("# via").strip()
            in_via = not rest
            if rest:
                parents[current].add(normalise(rest))
        elif in_via and stripped.startswith("#"):
            parents[current].add(normalise(stripped.lstrip("#").strip()))
    return entries, parents


def subset(text: str, roots: list[str]) -> str:
    entries, parents = parse(text)
    needed = {normalise(r) for r in roots}
    changed = True
    while changed:
        changed = False
        for name, via in parents.items():
            if name not in needed and via & needed:
                needed.add(name)
                changed = True
    kept = [line for name in entries if name in needed for line in entries[name]]
    return "\n".join(kept) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        sys.stderr.write("usage: lock_subset.py LOCKFILE PACKAGE...\n")
        return 2
    sys.stdout.write(subset(Path(argv[1]).read_text(), argv[2:]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
