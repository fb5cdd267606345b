"""`make soak`: the requests path under mixed load and random faults, then exactly-once checks.

`python -m bench.soak` starts its own portal on free ports: an embedded PostgreSQL, a
broker that every client reaches through a TCP proxy this process can cut, the requests
service as two processes (`serve` for HTTP, `worker` for the outbox relay and consumers),
the gateway, and a checker: an idempotent consumer of requests.request (portal_shared's
EventConsumer, deduplicating by ce_id) that records every effect it applies in a database
of its own. The directory's and catalog's events for one published service are produced
the way those services would.

For SOAK_SECONDS (default 1800) residents submit (each with an Idempotency-Key, retried
with the same key when the answer is lost) and officers and applicants walk the requests
through the workflow, all through the gateway, while a fault is injected every
SOAK_FAULT_EVERY seconds (default 20, jittered): the broker cut for a few seconds, a
SIGKILL and restart of the requests `serve`, its `worker`, the gateway or the checker,
or a PostgreSQL restart. Then everything is restored and the outbox drains.

Checks, each printed with its count; any violation exits non-zero:
- every accepted submission (201) exists exactly once, and no submission (one
  Idempotency-Key, however often retried) made two requests;
- every request has exactly one `submitted` event on requests.request (repeats on the
  wire are allowed only with the same ce_id), and every transition in its history has
  exactly one event;
- the checker applied every event exactly once, no event twice;
- per request, the events were applied in the order of the request's history.

SOAK_FAULTS (default all: broker cut, requests serve, requests worker, gateway, checker,
postgres) picks the kinds of fault; SOAK_RATE (default 20 submissions/s in all, each
followed by about three workflow actions: a steady load rather than the most the
machine can take, which the checker, applying every event on the same two cores, could
not keep up with for 30 minutes), SOAK_CONCURRENCY (default 8 submitters; officers are
half as many) and SOAK_DRAIN_SECONDS (default 900; the drain ends as soon as everything
is caught up, and gives up early after two minutes without progress) tune the run. The
gateway's rate limits are raised (one address, many residents); the output says so.

Modules: config (the SOAK_* settings), procs (the child processes), checker (the
idempotent consumer that records what it applies), load (residents and officers),
checks (drain, read back, and the exactly-once and order checks), run (the whole
run with its faults) and __main__ (the command line).
"""
