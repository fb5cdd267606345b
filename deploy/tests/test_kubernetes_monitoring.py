"""The portal's monitoring on Kubernetes: every process scraped, alerts and a dashboard that
read only what the code exports.

Each process has a ServiceMonitor on its Service's port and Prometheus is let through the
deny-all policy to it; every alert rule and dashboard query parses as PromQL and reads only
series the processes register (importing each process's app registers its metrics, as it does
in the process), and together they cover what deploy/README.md (Monitoring) promises. Base and
production overlay alike.
"""

from __future__ import annotations

import importlib
import json
from typing import Any

import promql_parser
from prometheus_client import REGISTRY

from portal_embedded.processes import PROCESSES
from portal_testing.manifests import K8S, Doc, named, of_kind, rendered


def test_each_process_is_scraped(docs: list[Doc]) -> None:
    monitors = of_kind(docs, "ServiceMonitor")
    for process in PROCESSES:
        service = named(docs, "Service", process.name)
        (monitor,) = [
            m
            for m in monitors
            if m["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
        ]
        (endpoint,) = monitor["spec"]["endpoints"]
        assert endpoint["path"] == "/metrics"
        assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
        # Prometheus must be let through the deny-all policy to the process's port.
        deployment = named(docs, "Deployment", process.name)
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        policy = named(docs, "NetworkPolicy", "allow-prometheus")
        selector = policy["spec"]["podSelector"]["matchLabels"]
        assert selector.items() <= labels.items()
        (rule,) = policy["spec"]["ingress"]
        assert {"protocol": "TCP", "port": process.default_port} in rule["ports"]


def test_the_grafana_dashboard_is_in_the_manifests() -> None:
    (dashboard,) = [
        d
        for d in of_kind(rendered("production"), "ConfigMap")
        if d["metadata"]["labels"].get("grafana_dashboard") == "1"
    ]
    assert json.loads(dashboard["data"]["grafana-dashboard.json"])["uid"] == "baikonur-portal"


# Series Prometheus makes itself rather than scraping them from a process.
PROMETHEUS_SERIES = {"up"}
# What the alerts must cover (deploy/README.md, Monitoring): the series each one reads.
ALERTED = {
    "portal_outbox_oldest_unsent_age_seconds",  # oldest unsent outbox row
    "portal_consumer_lag_messages",  # consumer lag
    "portal_events_consumed_total",  # dead letters (outcome="dead_lettered")
    "portal_requests_overdue_open",  # overdue requests
    "portal_http_requests_total",  # 5xx ratio
    "portal_http_request_duration_seconds_bucket",  # p99 latency
}


def exported_series() -> set[str]:
    """Every series name the processes can serve on /metrics: importing each process's app
    registers its metrics, as it does in the process itself."""
    for process in PROCESSES:
        importlib.import_module(f"{process.package}.app")
    suffixes = {
        "counter": ("_total", "_created"),
        "gauge": ("",),
        "histogram": ("_bucket", "_count", "_sum", "_created"),
        "summary": ("", "_count", "_sum", "_created"),
    }
    return {
        family.name + suffix
        for family in REGISTRY.collect()
        for suffix in suffixes.get(family.type, ("",))
    }


def series_in(expr: str) -> set[str]:
    """The series names a PromQL expression reads; a syntax error fails here."""
    names: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            names.add(node.name)

    promql_parser.walk(promql_parser.parse(expr), visit)
    return names


def alert_rules(docs: list[Doc]) -> list[Doc]:
    return [
        rule
        for doc in of_kind(docs, "PrometheusRule")
        for group in doc["spec"]["groups"]
        for rule in group["rules"]
    ]


def dashboard_queries() -> list[str]:
    dashboard = json.loads((K8S / "base" / "grafana-dashboard.json").read_text())
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]


def test_alerts_cover_the_portal_and_read_only_metrics_the_code_exports(docs: list[Doc]) -> None:
    exported = exported_series() | PROMETHEUS_SERIES
    rules = alert_rules(docs)
    read: set[str] = set()
    for rule in rules:
        names = series_in(rule["expr"])
        assert names <= exported, f"{rule['alert']} reads {sorted(names - exported)}"
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        read |= names
    assert read >= ALERTED, f"no alert on {sorted(ALERTED - read)}"
    assert len({r["alert"] for r in rules}) == len(rules)


def test_the_dashboard_shows_only_metrics_the_code_exports() -> None:
    exported = exported_series() | PROMETHEUS_SERIES
    queries = dashboard_queries()
    shown = set().union(*(series_in(q) for q in queries))
    assert shown <= exported, sorted(shown - exported)
    assert shown >= ALERTED, f"no panel for {sorted(ALERTED - shown)}"
