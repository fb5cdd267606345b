"""The fuzz suite's answers per operation and status, over the session: the fuzz portal's
limits are raised so that schemathesis tests the logic, not the rate limits, and the 429s
it met are printed at the end (tests/fuzz/conftest.py) to show it."""

from __future__ import annotations

from collections import Counter

# ("<component> <METHOD path>", status) -> answers
ANSWERS: Counter[tuple[str, int]] = Counter()
