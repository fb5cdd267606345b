"""The soak's settings, from SOAK_* environment variables (see bench.soak), and its fixed names."""

from __future__ import annotations

import os

SECONDS = float(os.environ.get("SOAK_SECONDS", "1800"))
FAULT_EVERY = float(os.environ.get("SOAK_FAULT_EVERY", "20"))
CONCURRENCY = int(os.environ.get("SOAK_CONCURRENCY", "8"))
RATE = float(os.environ.get("SOAK_RATE", "20"))
DRAIN_SECONDS = float(os.environ.get("SOAK_DRAIN_SECONDS", "900"))
KINDS = ("broker cut", "requests serve", "requests worker", "gateway", "checker", "postgres")
# A comma-separated subset of KINDS, e.g. SOAK_FAULTS=postgres to try one kind of fault.
FAULTS = [k.strip() for k in os.environ.get("SOAK_FAULTS", ",".join(KINDS)).split(",")]
RESIDENTS = 20
TOPIC = "requests.request"
CHECKER_GROUP = "soak.requests.request"
READY_WITHIN = 90.0
# How long a resident keeps retrying one submission whose answers are lost.
RETRY_FOR = 120.0
