"""Each service's AsyncAPI 3.0 fragment: its topic, event types and payload schemas.

A service declares its events as pydantic models (`ServiceSpec.events`); this
module turns them into `/asyncapi.json`, which the gateway merges with the
other services' into the portal's one AsyncAPI document.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

CLOUDEVENT_HEADERS: dict[str, Any] = {
    "type": "object",
    "description": "CloudEvents 1.0, Kafka binary content mode",
    "required": ["ce_id", "ce_specversion", "ce_source", "ce_type", "ce_time", "content-type"],
    "properties": {
        "ce_id": {"type": "string", "description": "unique per event; consumers dedupe by it"},
        "ce_specversion": {"type": "string", "const": "1.0"},
        "ce_source": {"type": "string"},
        "ce_type": {"type": "string"},
        "ce_time": {"type": "string", "format": "date-time"},
        "ce_subject": {"type": "string", "description": "the aggregate's id"},
        "ce_requestid": {"type": "string", "description": "the HTTP request that caused it"},
        "content-type": {"type": "string", "const": "application/json"},
    },
}


def _message_name(event_type: str) -> str:
    return event_type.replace(".", "_")


# The topics that agency systems outside the cluster may read through the agencies'
# listener (deploy/k8s/base/kafka.yaml, port 9094): their KafkaUsers' ACLs
# (agency-users.yaml) allow reading these and nothing else.
AGENCY_TOPICS = frozenset({"requests.request"})
AGENCY_SECURITY_SCHEME = "agencyScram"


def kafka_servers(bootstrap_servers: str) -> dict[str, Any]:
    """The broker's two listeners as AsyncAPI servers: the portal's own (no authentication,
    no TLS, reachable only from the portal's pods) and the agencies' (TLS and SCRAM-SHA-512
    per agency system), whose address the deployment gives."""
    host = bootstrap_servers.split(",")[0].strip()
    return {
        "kafka": {
            "host": host,
            "protocol": "kafka",
            "description": (
                "The portal's own listener (bootstrap servers: "
                f"{bootstrap_servers}). PLAINTEXT, no authentication: reachable only from"
                " the portal's pods, never from the Internet."
            ),
            "security": [],
        },
        "agencies": {
            "host": "{bootstrap}",
            "protocol": "kafka-secure",
            "description": (
                "The listener for agency systems outside the cluster: TLS, and SCRAM-SHA-512"
                " with the credentials of the agency system's KafkaUser, which may read"
                " requests.request in its own consumer-group prefix and nothing else. The"
                " topic carries every agency's events (ids and statuses, no personal data);"
                " a system that may see only its own agency's events uses webhooks."
                " deploy/README.md shows how to connect with a stock Kafka client."
            ),
            "variables": {
                "bootstrap": {
                    "default": "kafka-agencies.example.kz:9094",
                    "description": (
                        "The agencies listener's bootstrap address: the Kafka resource's"
                        " status.listeners[name=agencies].bootstrapServers"
                    ),
                }
            },
            "security": [{"$ref": f"#/components/securitySchemes/{AGENCY_SECURITY_SCHEME}"}],
        },
    }


SECURITY_SCHEMES: dict[str, Any] = {
    AGENCY_SECURITY_SCHEME: {
        "type": "scramSha512",
        "description": (
            "SASL/SCRAM-SHA-512 over TLS with the user name and password of the agency"
            " system's KafkaUser (its Secret, made by Strimzi's User Operator)."
        ),
    }
}


def asyncapi_fragment(
    *,
    title: str,
    topics: Mapping[str, Mapping[str, type[BaseModel]]],
    bootstrap_servers: str = "localhost:9092",
) -> dict[str, Any]:
    """`topics` maps a topic to its event types and each type's payload model."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for topic, events in topics.items():
        channel_id = topic.replace(".", "_")
        refs: dict[str, Any] = {}
        for event_type, model in events.items():
            name = _message_name(event_type)
            schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            for def_name, definition in schema.pop("$defs", {}).items():
                schemas[def_name] = definition
            schemas[model.__name__] = schema
            messages[name] = {
                "name": event_type,
                "title": event_type,
                "contentType": "application/json",
                "headers": CLOUDEVENT_HEADERS,
                "payload": {"$ref": f"#/components/schemas/{model.__name__}"},
                "bindings": {"kafka": {"key": {"type": "string", "description": "aggregate id"}}},
            }
            refs[name] = {"$ref": f"#/components/messages/{name}"}
        servers = ["kafka", "agencies"] if topic in AGENCY_TOPICS else ["kafka"]
        channels[channel_id] = {
            "address": topic,
            "servers": [{"$ref": f"#/servers/{server}"} for server in servers],
            "description": f"Events of the {topic} aggregate; dead letters go to {topic}.dlq",
            "messages": refs,
        }
        operations[f"publish_{channel_id}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "messages": [{"$ref": f"#/channels/{channel_id}/messages/{m}"} for m in refs],
        }
    return {
        "asyncapi": "3.0.0",
        "info": {"title": title, "version": "1.0.0"},
        "servers": kafka_servers(bootstrap_servers),
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": messages,
            "schemas": schemas,
            "securitySchemes": SECURITY_SCHEMES,
        },
    }
