"""Who reads what on the Kubernetes Kafka: the portal's pods everything, agency systems one topic.

The portal's own processes connect to the plain listener, which admits only the portal's pods,
as the ANONYMOUS super user. Agency systems outside the cluster come through the `agencies`
listener (TLS and SCRAM-SHA-512, a KafkaUser each), and their ACLs let them read
requests.request and nothing else: above all not identity.contact, which carries every
account's email address for the notifications service (personal data, no contract topic).
Base and production overlay alike.
"""

from __future__ import annotations

import re

from identity.events import CONTACT_TOPIC
from portal_shared.events.topics import dlq
from portal_testing.manifests import Doc, named, of_kind

# The topic agency systems may read (deploy/README.md, Agency systems on Kafka).
AGENCY_TOPIC = "requests.request"
# The operations that let a principal consume a topic's events.
READING = {"Read", "All"}


def may_read(acl: Doc, topic: str) -> bool:
    """Whether an allowing ACL lets its user consume `topic`, whatever its resource pattern."""
    resource = acl["resource"]
    if resource["type"] != "topic" or acl.get("type", "allow") != "allow":
        return False
    if not READING & set(acl["operations"]):
        return False
    name = resource.get("name", "*")
    if resource.get("patternType", "literal") == "prefix":
        return topic.startswith(name)
    return name in {topic, "*"}


def test_may_read_sees_every_pattern_that_reaches_a_topic() -> None:
    def acl(name: str, pattern: str, *operations: str) -> Doc:
        resource = {"type": "topic", "name": name, "patternType": pattern}
        return {"resource": resource, "operations": list(operations)}

    for reaching in [
        acl(CONTACT_TOPIC, "literal", "Read"),
        acl("*", "literal", "Read"),
        acl("identity.", "prefix", "Read"),
        acl("", "prefix", "All"),
    ]:
        assert may_read(reaching, CONTACT_TOPIC), reaching
    for missing in [
        acl(AGENCY_TOPIC, "literal", "Read", "Describe"),
        acl(CONTACT_TOPIC, "literal", "Describe"),
        acl("requests.", "prefix", "Read"),
        {**acl(CONTACT_TOPIC, "literal", "Read"), "type": "deny"},
    ]:
        assert not may_read(missing, CONTACT_TOPIC), missing


def test_agency_systems_read_request_events_only_over_tls_and_scram(docs: list[Doc]) -> None:
    kafka = named(docs, "Kafka", "portal-kafka")["spec"]["kafka"]
    external = [
        listener
        for listener in kafka["listeners"]
        if listener["type"] not in {"internal", "cluster-ip"}
    ]
    assert external, "agency systems outside the cluster need a listener"
    for listener in external:
        assert listener["tls"] is True
        assert listener["authentication"]["type"] == "scram-sha-512"
    assert kafka["authorization"]["type"] == "simple"
    # ANONYMOUS is the principal of an unauthenticated listener: it may be a super user only
    # while every such listener is internal and admits the portal's own pods alone.
    for listener in kafka["listeners"]:
        if "authentication" not in listener:
            assert listener["type"] == "internal"
            assert listener["networkPolicyPeers"] == [
                {"podSelector": {"matchLabels": {"app.kubernetes.io/part-of": "baikonur-portal"}}}
            ]
    users = of_kind(docs, "KafkaUser")
    assert users
    for user in users:
        name = user["metadata"]["name"]
        code = name.removeprefix("agency-")
        assert name == f"agency-{code}", name
        assert re.fullmatch(r"[a-z0-9-]+", code), name
        assert user["metadata"]["labels"]["strimzi.io/cluster"] == "portal-kafka"
        assert user["spec"]["authentication"] == {"type": "scram-sha-512"}
        acls = user["spec"]["authorization"]["acls"]
        assert all(acl.get("type", "allow") == "allow" for acl in acls)
        granted = {
            (acl["resource"]["type"], acl["resource"]["name"], acl["resource"]["patternType"]): set(
                acl["operations"]
            )
            for acl in acls
        }
        assert granted == {
            ("topic", AGENCY_TOPIC, "literal"): {"Read", "Describe"},
            ("group", f"agency.{code}.", "prefix"): {"Read"},
        }, name
        # Email addresses: whatever ACL an agency user is given later, never this topic.
        for topic in (CONTACT_TOPIC, dlq(CONTACT_TOPIC)):
            assert not [acl for acl in acls if may_read(acl, topic)], (name, topic)
