"""The gateway's shared rate limits on Kubernetes: one Valkey that only the gateway reaches.

Every gateway replica (two to the autoscaler's maximum) must count in the same
Redis, or each caller's budget is multiplied by the replica count; the store
holds short-lived counters only, so it is one pod without a volume, locked down
like every portal pod (test_kubernetes.py checks its security context).
"""

from __future__ import annotations

from portal_testing.manifests import base_docs, named


def test_every_gateway_replica_points_at_the_one_redis() -> None:
    docs = base_docs()
    (gateway,) = named(docs, "Deployment", "gateway")["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in gateway["env"]}
    service = named(docs, "Service", "redis")
    (port,) = service["spec"]["ports"]
    assert env["REDIS_URL"] == f"redis://redis:{port['port']}/0"
    redis = named(docs, "Deployment", "redis")
    assert service["spec"]["selector"] == redis["spec"]["selector"]["matchLabels"]
    # One store for all: a second pod would be a second, separate set of counters.
    assert redis["spec"]["replicas"] == 1
    (container,) = redis["spec"]["template"]["spec"]["containers"]
    assert container["image"].startswith("valkey/valkey:")
    # Counters only: no snapshot, no append-only file to write to a read-only root.
    args = container["args"]
    assert args[args.index("--save") + 1] == ""
    assert args[args.index("--appendonly") + 1] == "no"


def test_only_the_gateway_reaches_redis() -> None:
    docs = base_docs()
    policy = named(docs, "NetworkPolicy", "redis")
    assert policy["spec"]["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "redis"}
    (rule,) = policy["spec"]["ingress"]
    assert rule["from"] == [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "gateway"}}}]
    assert rule["ports"] == [{"protocol": "TCP", "port": 6379}]
    assert policy["spec"]["egress"] == []
    gateway_egress = named(docs, "NetworkPolicy", "gateway")["spec"]["egress"]
    assert {
        "to": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "redis"}}}],
        "ports": [{"protocol": "TCP", "port": 6379}],
    } in gateway_egress
