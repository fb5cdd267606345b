"""The Kubernetes manifests: parsed, and checked for what keeps production safe.

Every file under deploy/k8s is parsed; the base is checked as written and, when
`kubectl` is installed, the production overlay as Kustomize renders it. Each
Deployment must have probes, limits and a non-root security context; the
network policies must leave only the gateway reachable from outside and let
each service reach only its own database and Kafka; topics, partitions and
autoscaling limits must agree with each other and with the contract.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from portal_embedded.processes import (
    GATEWAY,
    PROCESSES,
    SERVICES,
    PortalProcess,
    settings_env_names,
)
from portal_shared.events.topics import CONTRACT_TOPICS, with_dead_letters
from portal_shared.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
Doc = dict[str, Any]
# Variables a manifest sets only to build another one (DATABASE_URL from DB_PASSWORD).
HELPER_VARIABLES = {"DB_PASSWORD"}


def load(path: Path) -> list[Doc]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def base_docs() -> list[Doc]:
    kustomization = load(K8S / "base" / "kustomization.yaml")[0]
    return [d for name in kustomization["resources"] for d in load(K8S / "base" / name)]


def rendered(overlay: str) -> list[Doc]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: the overlay cannot be rendered here")
    out = subprocess.run(
        [kubectl, "kustomize", str(K8S / "overlays" / overlay)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [d for d in yaml.safe_load_all(out) if d is not None]


@pytest.fixture(params=["base", "production"], scope="module")
def docs(request: pytest.FixtureRequest) -> list[Doc]:
    return base_docs() if request.param == "base" else rendered(request.param)


def of_kind(docs: list[Doc], kind: str) -> list[Doc]:
    return [d for d in docs if d["kind"] == kind]


def named(docs: list[Doc], kind: str, name: str) -> Doc:
    (found,) = [d for d in of_kind(docs, kind) if d["metadata"]["name"] == name]
    return found


def workloads(docs: list[Doc]) -> Iterator[tuple[str, Doc]]:
    """(name, pod template) of every Deployment and Job."""
    for d in docs:
        if d["kind"] in {"Deployment", "Job"}:
            yield d["metadata"]["name"], d["spec"]["template"]


def selects(selector: Doc, labels: dict[str, str]) -> bool:
    wanted = selector.get("matchLabels", {})
    return all(labels.get(k) == v for k, v in wanted.items())


def policies_for(docs: list[Doc], labels: dict[str, str], kind: str) -> list[Doc]:
    return [
        p
        for p in of_kind(docs, "NetworkPolicy")
        if selects(p["spec"]["podSelector"], labels) and kind in p["spec"]["policyTypes"]
    ]


def test_every_manifest_parses_with_a_kind() -> None:
    files = sorted(K8S.rglob("*.yaml"))
    assert len(files) >= 10
    for path in files:
        for doc in load(path):
            assert doc.get("apiVersion"), path
            assert doc.get("kind"), path
            # Secrets come from the operators (CloudNativePG) or the cluster's secret store.
            assert doc["kind"] != "Secret", f"{path} commits a Secret"


def test_the_kustomizations_name_files_that_exist() -> None:
    for kustomization in K8S.rglob("kustomization.yaml"):
        doc = load(kustomization)[0]
        for entry in doc.get("resources", []) + [
            p["path"] for p in doc.get("patches", []) if "path" in p
        ]:
            assert (kustomization.parent / entry).exists(), f"{kustomization}: {entry}"


def test_every_deployment_has_probes_limits_and_a_non_root_context(docs: list[Doc]) -> None:
    deployments = of_kind(docs, "Deployment")
    assert {d["metadata"]["name"] for d in deployments} == {p.name for p in PROCESSES}
    for name, template in workloads(docs):
        pod = template["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] != 0, name
        assert pod["automountServiceAccountToken"] is False, name
        for container in pod["containers"]:
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, name
            assert security["readOnlyRootFilesystem"] is True, name
            assert security["capabilities"]["drop"] == ["ALL"], name
            limits = container["resources"]["limits"]
            requests = container["resources"]["requests"]
            assert {"cpu", "memory"} <= limits.keys(), name
            assert {"cpu", "memory"} <= requests.keys(), name
    for deployment in deployments:
        process = next(p for p in PROCESSES if p.name == deployment["metadata"]["name"])
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        (port,) = container["ports"]
        assert port["containerPort"] == process.default_port
        assert container["readinessProbe"]["httpGet"]["port"] == port["name"]


@pytest.mark.parametrize("process", PROCESSES, ids=lambda p: p.name)
def test_each_process_has_a_service_budget_and_autoscaler(
    docs: list[Doc], process: PortalProcess
) -> None:
    deployment = named(docs, "Deployment", process.name)
    selector = deployment["spec"]["selector"]
    service = named(docs, "Service", process.name)
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["selector"] == selector["matchLabels"]
    assert named(docs, "PodDisruptionBudget", process.name)["spec"]["selector"] == selector
    hpa = named(docs, "HorizontalPodAutoscaler", process.name)
    assert hpa["spec"]["scaleTargetRef"]["name"] == process.name
    # A budget of one unavailable pod needs at least two to keep serving during a drain.
    assert hpa["spec"]["minReplicas"] >= 2


@pytest.mark.parametrize("process", SERVICES, ids=lambda p: p.name)
def test_each_service_migrates_its_own_database_in_a_job(
    docs: list[Doc], process: PortalProcess
) -> None:
    job = named(docs, "Job", f"{process.name}-migrate")
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["migrate"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    env = {e["name"]: e for e in container["env"]}
    cluster = f"{process.name}-pg"
    assert f"@{cluster}-rw:5432/{process.database}" in env["DATABASE_URL"]["value"]
    assert env["DB_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == f"{cluster}-app"
    initdb = named(docs, "Cluster", cluster)["spec"]["bootstrap"]["initdb"]
    assert initdb == {"database": process.database, "owner": process.database}


def test_network_policies_leave_only_the_gateway_reachable_from_outside(
    docs: list[Doc],
) -> None:
    exposed: set[str] = set()
    for name, template in workloads(docs):
        labels = template["metadata"]["labels"]
        ingress_policies = policies_for(docs, labels, "Ingress")
        # A deny-all ingress policy covers the pod: an empty rule list.
        assert any(p["spec"].get("ingress") == [] for p in ingress_policies), name
        for policy in ingress_policies:
            for rule in policy["spec"].get("ingress", []):
                peers = rule.get("from")
                if not peers or any(
                    "ipBlock" in peer or "namespaceSelector" in peer for peer in peers
                ):
                    exposed.add(labels["app.kubernetes.io/name"])
    assert exposed == {GATEWAY.name}


@pytest.mark.parametrize("process", PROCESSES, ids=lambda p: p.name)
def test_each_process_reaches_only_its_own_database_and_kafka(
    docs: list[Doc], process: PortalProcess
) -> None:
    labels = named(docs, "Deployment", process.name)["spec"]["template"]["metadata"]["labels"]
    egress = policies_for(docs, labels, "Egress")
    assert any(p["spec"].get("egress") == [] for p in egress), "deny-all egress first"
    peers = [
        peer for p in egress for rule in p["spec"].get("egress", []) for peer in rule.get("to", [])
    ]
    databases = {
        peer["podSelector"]["matchLabels"]["cnpg.io/cluster"]
        for peer in peers
        if "cnpg.io/cluster" in peer.get("podSelector", {}).get("matchLabels", {})
    }
    assert databases == ({f"{process.name}-pg"} if process.database else set())
    kafka = [
        p for p in peers if "strimzi.io/cluster" in p.get("podSelector", {}).get("matchLabels", {})
    ]
    # The gateway too: its token verifier reads the identity service's revocations.
    assert bool(kafka) == (process.database is not None or process.name == "gateway")
    for peer in peers:
        # Outside the namespace only DNS; nothing may reach an arbitrary address.
        assert "ipBlock" not in peer
        if "namespaceSelector" in peer:
            assert peer["podSelector"]["matchLabels"] == {"k8s-app": "kube-dns"}


@pytest.mark.parametrize("process", SERVICES, ids=lambda p: p.name)
def test_each_database_admits_only_its_own_service(docs: list[Doc], process: PortalProcess) -> None:
    cluster = f"{process.name}-pg"
    policies = policies_for(docs, {"cnpg.io/cluster": cluster}, "Ingress")
    assert policies
    admitted = {
        peer["podSelector"]["matchLabels"].get("app.kubernetes.io/name")
        for p in policies
        for rule in p["spec"]["ingress"]
        for peer in rule["from"]
        if "podSelector" in peer and "namespaceSelector" not in peer
    }
    assert admitted == {process.name, None}  # None: the cluster's own instances


def test_topics_partitions_and_autoscaling_agree(docs: list[Doc]) -> None:
    topics = of_kind(docs, "KafkaTopic")
    assert sorted(t["spec"]["topicName"] for t in topics) == sorted(
        with_dead_letters(CONTRACT_TOPICS)
    )
    partitions = {t["spec"]["partitions"] for t in topics}
    assert len(partitions) == 1
    (count,) = partitions
    config = named(docs, "ConfigMap", "portal-config")["data"]
    assert int(config["KAFKA_PARTITIONS"]) == count
    kafka = of_kind(docs, "Kafka")[0]["spec"]["kafka"]
    assert kafka["config"]["auto.create.topics.enable"] is False
    assert int(config["KAFKA_REPLICATION_FACTOR"]) == kafka["config"]["default.replication.factor"]
    assert {t["spec"]["replicas"] for t in topics} == {int(config["KAFKA_REPLICATION_FACTOR"])}
    # A consumer replica beyond the partition count would sit idle.
    for hpa in of_kind(docs, "HorizontalPodAutoscaler"):
        assert hpa["spec"]["maxReplicas"] <= count
    assert config["KAFKA_IDEMPOTENCE"] == "true"
    assert config["PORTAL_ENV"] == "production"


@pytest.mark.parametrize("process", PROCESSES, ids=lambda p: p.name)
def test_every_variable_set_is_one_the_process_reads(
    docs: list[Doc], process: PortalProcess
) -> None:
    config = named(docs, "ConfigMap", "portal-config")["data"]
    assert set(config) <= settings_env_names(ServiceSettings), (
        "the shared ConfigMap holds only shared settings"
    )
    reads = process.env_names()
    if not reads:
        pytest.skip(f"{process.name} has no settings module yet")
    (container,) = named(docs, "Deployment", process.name)["spec"]["template"]["spec"]["containers"]
    set_here = {e["name"] for e in container["env"]} - HELPER_VARIABLES
    assert set_here <= reads, f"{process.name} does not read {sorted(set_here - reads)}"
