"""Sending the hostile suite's calls, judging each answer, and counting them by status.

Every answer must be below 500, and every 4xx a problem (application/problem+json with
`type`, `title`, `status` equal to the answer's and a non-empty `detail`). Identity's OAuth
endpoints answer as RFC 6749 says instead: application/json with `error`, or the login form
again as HTML. A call the HTTP client refuses to send (a NUL in a header) counts as
`unsent`: nothing reached the portal.
"""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from typing import Any

import httpx

from tests.hostile.inputs import Case

# Calls made by the suite: (caller, status or "unsent") -> count; printed at the end.
LEDGER: Counter[tuple[str, str]] = Counter()
# Seconds spent waiting for answers, by family of input.
SECONDS: defaultdict[str, float] = defaultdict(float)
PROBLEM_FIELDS = ("type", "title", "status", "detail")


def send(
    client: httpx.Client, caller: str, case: Case, token: dict[str, str]
) -> httpx.Response | None:
    headers = {**case.headers, **token}
    if case.content is not None:
        headers.setdefault("Content-Type", "application/json")
    started = time.monotonic()
    try:
        response = client.request(
            case.operation.method,
            case.path,
            params=case.query,
            headers=headers,
            content=case.content,
        )
    except (httpx.LocalProtocolError, httpx.InvalidURL, UnicodeEncodeError):
        LEDGER[caller, "unsent"] += 1
        return None
    LEDGER[caller, str(response.status_code)] += 1
    SECONDS[case.family] += time.monotonic() - started
    return response


def _oauth(case: Case) -> bool:
    return case.operation.path.startswith("/auth/")


def faults(case: Case, response: httpx.Response) -> list[str]:
    """What is wrong with an answer, in words; empty when it is right."""
    status = response.status_code
    if status >= 500:
        return [f"answered {status}: {response.text[:300]!r}"]
    if status < 400:
        return []
    content_type = response.headers.get("content-type", "")
    if _oauth(case) and content_type.startswith("text/html"):
        return []
    try:
        body: Any = json.loads(response.content)
    except ValueError:
        return [f"{status} is not JSON ({content_type}): {response.text[:200]!r}"]
    if not isinstance(body, dict):
        return [f"{status} answered {body!r:.200}"]
    if _oauth(case) and content_type.startswith("application/json"):
        return [] if isinstance(body.get("error"), str) else [f"{status} without `error`"]
    wrong = []
    if not content_type.startswith("application/problem+json"):
        wrong.append(f"{status} answered {content_type!r}, not a problem")
    missing = [f for f in PROBLEM_FIELDS if f not in body]
    if missing:
        wrong.append(f"{status} problem without {missing}: {response.text[:200]!r}")
    elif body["status"] != status or not str(body["detail"]).strip():
        wrong.append(f"{status} problem with status {body['status']!r} or an empty detail")
    return wrong


def summary() -> list[str]:
    """The ledger as lines: calls per caller and status, and the totals."""
    if not LEDGER:
        return []
    callers = sorted({caller for caller, _ in LEDGER})
    statuses = sorted({status for _, status in LEDGER})
    lines = ["calls by caller and status: " + ", ".join(statuses)]
    for caller in callers:
        counts = " ".join(f"{s}={LEDGER[caller, s]}" for s in statuses if LEDGER[caller, s])
        lines.append(f"  {caller}: {sum(LEDGER[caller, s] for s in statuses)} ({counts})")
    totals = Counter()  # type: Counter[str]
    for (_, status), count in LEDGER.items():
        totals[status] += count
    lines.append(f"  total: {sum(totals.values())} " + str(dict(sorted(totals.items()))))
    slowest = sorted(SECONDS.items(), key=lambda item: -item[1])[:6]
    waits = ", ".join(f"{family} {seconds:.0f}s" for family, seconds in slowest)
    lines.append(f"  most time waiting for answers: {waits}")
    return lines
