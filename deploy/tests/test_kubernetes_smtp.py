"""The Kubernetes manifests' email path, and the gateway's upstreams.

The notifications service is the one process that talks to something outside the cluster:
the SMTP relay. Only its serving pods may, only on the SMTP ports (587 and 25), only to
the relay's address (an ipBlock, which test_kubernetes.py refuses everywhere else), and
they read where the relay is from a ConfigMap and its login from an optional Secret. The
gateway is told every service's address. Base and production overlay alike.
"""

from __future__ import annotations

import ipaddress

from portal_embedded.processes import GATEWAY, PROCESSES, SERVICES
from portal_testing.manifests import Doc, named

SMTP_PORTS = {25, 587}
NOTIFICATIONS = next(p for p in SERVICES if p.name == "notifications")


def pod_labels(docs: list[Doc]) -> dict[str, dict[str, str]]:
    """The pod labels of every Deployment and Job, by the workload's name."""
    return {
        d["metadata"]["name"]: d["spec"]["template"]["metadata"]["labels"]
        for d in docs
        if d["kind"] in {"Deployment", "Job"}
    }


def selects(policy: Doc, labels: dict[str, str]) -> bool:
    wanted = policy["spec"]["podSelector"].get("matchLabels", {})
    return all(labels.get(k) == v for k, v in wanted.items())


def test_only_the_notifications_pods_reach_the_smtp_relay_on_its_ports(docs: list[Doc]) -> None:
    policy = named(docs, "NetworkPolicy", "smtp")
    reaching = {name for name, labels in pod_labels(docs).items() if selects(policy, labels)}
    # The serving pods send; the migration Job needs no mail.
    assert reaching == {NOTIFICATIONS.name}
    assert policy["spec"]["policyTypes"] == ["Egress"]
    (rule,) = policy["spec"]["egress"]
    assert {(p["protocol"], p["port"]) for p in rule["ports"]} <= {("TCP", p) for p in SMTP_PORTS}
    for peer in rule["to"]:
        assert peer.keys() == {"ipBlock"}
        network = ipaddress.ip_network(peer["ipBlock"]["cidr"])
        # The relay's address or a small range of relays, never the internet.
        assert network.prefixlen >= 24, network
    for other in (d for d in docs if d["kind"] == "NetworkPolicy" and d is not policy):
        for egress in other["spec"].get("egress", []):
            assert not any("ipBlock" in peer for peer in egress.get("to", [])), other
            ports = {p.get("port") for p in egress.get("ports", [])}
            assert not ports & SMTP_PORTS, other["metadata"]["name"]


def test_notifications_reads_the_relay_from_config_and_its_login_from_a_secret(
    docs: list[Doc],
) -> None:
    reads = NOTIFICATIONS.env_names()
    smtp = named(docs, "ConfigMap", "notifications-smtp")["data"]
    assert {"SMTP_HOST", "SMTP_PORT", "SMTP_STARTTLS", "EMAIL_FROM"} <= smtp.keys() <= reads
    assert int(smtp["SMTP_PORT"]) in SMTP_PORTS
    deployment = named(docs, "Deployment", NOTIFICATIONS.name)
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert {"configMapRef": {"name": "notifications-smtp"}} in container["envFrom"]
    env = {e["name"]: e for e in container["env"]}
    for name, key in (("SMTP_USERNAME", "username"), ("SMTP_PASSWORD", "password")):
        # Optional: a relay that needs no login needs no Secret.
        assert env[name]["valueFrom"]["secretKeyRef"] == {
            "name": "notifications-smtp",
            "key": key,
            "optional": True,
        }
    # Nothing else is configured for the relay: another process never sees its login.
    for process in PROCESSES:
        if process is not NOTIFICATIONS:
            (other,) = named(docs, "Deployment", process.name)["spec"]["template"]["spec"][
                "containers"
            ]
            assert not {e["name"] for e in other["env"]} & {"SMTP_USERNAME", "SMTP_PASSWORD"}


def test_the_gateway_knows_every_service_and_may_reach_it(docs: list[Doc]) -> None:
    (container,) = named(docs, "Deployment", GATEWAY.name)["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    policy = named(docs, "NetworkPolicy", GATEWAY.name)
    allowed = {
        (peer["podSelector"]["matchLabels"].get("app.kubernetes.io/name"), port["port"])
        for rule in policy["spec"]["egress"]
        for peer in rule["to"]
        for port in rule["ports"]
    }
    for service in SERVICES:
        assert env[f"{service.name.upper()}_URL"] == f"http://{service.name}:{service.default_port}"
        assert (service.name, service.default_port) in allowed
