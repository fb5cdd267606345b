"""The merged OpenAPI document as client teams use it: validated by openapi-spec-validator,
turned into a Python client by openapi-python-client and into TypeScript types by
openapi-typescript (type-checked by `tsc --strict`), each without a warning and with a typed
success answer for every operation; and the AsyncAPI document read by the AsyncAPI parser."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from gateway.docs import GATEWAY_RESPONSES, operation_id_collisions
from gateway.settings import GatewaySettings
from portal_shared.openapi import BEARER
from portal_shared.scopes import OAUTH2, SCOPES
from tests.api.conftest import BIN, CLIENTS, prefixes, run

METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
# Operations whose success body has no declared type: none (identity's OAuth endpoints build
# their answers with authlib, and document them with models: RFC 6749 token response, JWK
# Set, RFC 7662 introspection, RFC 7009's empty object).
KNOWN_UNTYPED: set[str] = set()


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def successes(operation: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s: r for s, r in operation["responses"].items() if s.startswith("2")}


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def test_operation_ids_are_unique_human_and_camel_case(
    openapi_documents: dict[str, dict[str, Any]],
    merged_openapi: dict[str, Any],
    gateway_settings: GatewaySettings,
) -> None:
    assert not operation_id_collisions(openapi_documents, prefixes(gateway_settings))
    ids = [op["operationId"] for _, _, op in operations(merged_openapi)]
    assert len(ids) == len(set(ids)), Counter(ids).most_common(3)
    assert all(re.fullmatch(r"[a-z][a-zA-Z0-9]*", i) for i in ids), ids
    assert {"listAgencies", "registerAgency", "submitRequest", "publishService"} <= set(ids)
    assert {"getMe", "issueToken", "getJwks", "getUserinfo", "endSession"} <= set(ids)
    # FastAPI's default (`list_agencies_api_v1_agencies_get`) spells the path and method.
    assert not [i for i in ids if "Api" in i or i.endswith(("Get", "Post", "Patch"))]


def test_schema_names_and_titles_are_unique(merged_openapi: dict[str, Any]) -> None:
    schemas = merged_openapi["components"]["schemas"]
    titles = Counter(s["title"] for s in schemas.values() if "title" in s)
    assert not [t for t, n in titles.items() if n > 1]
    # The two services' fees and audit pages stay apart, each under its own name.
    assert {"AuditPage", "CatalogAuditPage"} <= set(schemas)
    assert schemas["CatalogAuditPage"]["title"] == "CatalogAuditPage"


def test_the_merged_document_is_valid_openapi(merged_openapi: dict[str, Any]) -> None:
    validate(merged_openapi)
    refs = set(re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', json.dumps(merged_openapi)))
    assert refs <= set(merged_openapi["components"]["schemas"])


def test_security_follows_what_each_operation_needs(merged_openapi: dict[str, Any]) -> None:
    schemes = merged_openapi["components"]["securitySchemes"]
    flows = schemes[OAUTH2]["flows"]
    issuer = merged_openapi["servers"][0]["url"] + "/auth"
    assert flows["authorizationCode"]["authorizationUrl"] == issuer + "/authorize"
    assert flows["clientCredentials"]["tokenUrl"] == issuer + "/token"
    assert set(flows["authorizationCode"]["scopes"]) == set(SCOPES)
    assert "PKCE" in schemes[OAUTH2]["description"]
    assert schemes[BEARER] == {**schemes[BEARER], "type": "http", "scheme": "bearer"}
    by_id = {op["operationId"]: op for _, _, op in operations(merged_openapi)}
    # Anyone may read the agencies; writes need a token; a catalog read takes one if given
    # (an administrator also sees drafts).
    assert "security" not in by_id["listAgencies"]
    assert by_id["registerAgency"]["security"] == [{OAUTH2: ["agencies:write"]}, {BEARER: []}]
    assert {} in by_id["getService"]["security"]
    for method, path, operation in operations(merged_openapi):
        security = operation.get("security")
        if security and {} not in security:
            assert {"401", "403"} <= set(operation["responses"]), f"{method} {path}"
        for requirement in security or []:
            assert set(requirement) <= set(schemes)
            for scope in requirement.get(OAUTH2, []):
                assert scope in SCOPES


def test_every_status_is_documented_with_a_problem(merged_openapi: dict[str, Any]) -> None:
    for method, path, operation in operations(merged_openapi):
        responses = operation["responses"]
        assert set(GATEWAY_RESPONSES) <= set(responses), f"{method} {path}"
        for status, response in responses.items():
            if status[0] not in "45":
                continue
            assert all(c.get("schema") for c in response["content"].values()), f"{method} {path}"
            # OAuth's endpoints answer in their standards' shapes (RFC 6749 `error`) or
            # show the sign-in page again; everything else answers a problem.
            if not path.startswith("/auth/") or status in GATEWAY_RESPONSES:
                schema = response["content"]["application/problem+json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Problem"}, f"{method} {path}"
    submit = merged_openapi["paths"]["/api/v1/requests"]["post"]["responses"]
    assert submit["200"]["content"] == submit["201"]["content"]
    assert "Idempotent-Replayed" in submit["200"]["headers"]


def untyped_in(operation: dict[str, Any]) -> list[str]:
    """Success statuses whose body has no declared type."""
    out = []
    for status, response in successes(operation).items():
        schemas = [c.get("schema") for c in (response.get("content") or {}).values()]
        if not schemas or any(not s for s in schemas):
            out.append(status)
    return out


def test_every_operation_has_a_typed_success_answer(merged_openapi: dict[str, Any]) -> None:
    untyped = {op["operationId"] for _, _, op in operations(merged_openapi) if untyped_in(op)}
    assert untyped <= KNOWN_UNTYPED, sorted(untyped - KNOWN_UNTYPED)
    assert all(successes(op) for _, _, op in operations(merged_openapi))


def test_openapi_python_client_generates_a_typed_client(
    merged_openapi: dict[str, Any], tmp_path: Path
) -> None:
    source = tmp_path / "openapi.json"
    source.write_text(json.dumps(merged_openapi))
    generate = [str(BIN / "openapi-python-client"), "generate", "--meta", "none"]
    done = run([*generate, "--path", str(source), "--output-path", "client"], tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "warning" not in output.lower(), output
    modules = {p.stem: p.read_text() for p in (tmp_path / "client" / "api").rglob("*.py")}
    typed, untyped = [], []
    for _, _, operation in operations(merged_openapi):
        name = operation["operationId"]
        code = modules[snake(name)]
        for status in successes(operation):
            parsed = re.search(rf"response_{status} = (.*)", code)
            assert parsed, f"{name} parses no {status}"
            if parsed.group(1) in ("response.json()", "cast(Any, None)"):
                untyped.append(name)
            else:
                typed.append(name)
    assert not set(untyped) - KNOWN_UNTYPED, sorted(set(untyped) - KNOWN_UNTYPED)
    assert len(set(typed)) == len(operations(merged_openapi)) - len(KNOWN_UNTYPED)


def test_openapi_typescript_types_check_under_tsc_strict(
    merged_openapi: dict[str, Any], node_modules: Path, tmp_path: Path
) -> None:
    generated = CLIENTS / "generated"
    generated.mkdir(exist_ok=True)
    source = tmp_path / "openapi.json"
    source.write_text(json.dumps(merged_openapi))
    node = str(BIN / "node")
    cli = node_modules / "openapi-typescript" / "bin" / "cli.js"
    done = run([node, str(cli), str(source), "-o", str(generated / "portal.d.ts")], CLIENTS)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "warn" not in output.lower(), output
    assert "error" not in output.lower(), output
    # One compile-time assertion per success answer: its body type is neither any,
    # unknown nor never. tsc fails the build on the first operation that lost its type.
    lines = [
        'import type { operations } from "./portal";',
        "type IsAny<T> = 0 extends 1 & T ? true : false;",
        "type Typed<T> = IsAny<T> extends true ? false : unknown extends T ? false"
        " : [T] extends [never] ? false : true;",
        "function typed<T extends true>(): T | undefined { return undefined; }",
    ]
    checked = 0
    for _, _, operation in operations(merged_openapi):
        name = operation["operationId"]
        if name in KNOWN_UNTYPED:
            continue
        for status, response in successes(operation).items():
            for media_type in response["content"]:
                body = f'operations["{name}"]["responses"][{status}]["content"]["{media_type}"]'
                lines.append(f"typed<Typed<{body}>>();")
                checked += 1
    (generated / "check.ts").write_text("\n".join(lines) + "\n")
    tsc = node_modules / "typescript" / "bin" / "tsc"
    done = run([node, str(tsc), "-p", "tsconfig.json"], CLIENTS)
    assert done.returncode == 0, done.stdout + done.stderr
    assert checked >= len(operations(merged_openapi)) - len(KNOWN_UNTYPED)


def test_the_asyncapi_document_is_accepted_by_the_asyncapi_parser(
    merged_asyncapi: dict[str, Any], node_modules: Path, tmp_path: Path
) -> None:
    servers, channels = merged_asyncapi["servers"], merged_asyncapi["channels"]
    assert servers["kafka"]["protocol"] == "kafka"
    assert servers["kafka"]["security"] == []
    # Agency systems read requests.request, and only that, over TLS with SCRAM-SHA-512.
    agencies = servers["agencies"]
    assert agencies["protocol"] == "kafka-secure"
    (scheme,) = agencies["security"]
    name = scheme["$ref"].rsplit("/", 1)[1]
    assert merged_asyncapi["components"]["securitySchemes"][name]["type"] == "scramSha512"
    readable = {
        c["address"] for c in channels.values() if {"$ref": "#/servers/agencies"} in c["servers"]
    }
    assert readable == {"requests.request"}
    assert all({"$ref": "#/servers/kafka"} in channel["servers"] for channel in channels.values())
    source = tmp_path / "asyncapi.json"
    source.write_text(json.dumps(merged_asyncapi))
    done = run([str(BIN / "node"), "validate-asyncapi.mjs", str(source)], CLIENTS)
    assert done.returncode == 0, done.stdout + done.stderr
    # Every channel the services publish (identity.contact joined with notifications).
    assert f"valid: {len(merged_asyncapi['channels'])} channels" in done.stdout
    assert len(merged_asyncapi["channels"]) >= 6


def test_every_example_matches_its_schema(merged_openapi: dict[str, Any]) -> None:
    schemas = merged_openapi["components"]["schemas"]
    checked = []
    for name, schema in schemas.items():
        for example in schema.get("examples", []):
            root = {"$ref": f"#/components/schemas/{name}", "components": {"schemas": schemas}}
            errors = [e.message for e in Draft202012Validator(root).iter_errors(example)]
            assert not errors, f"{name}: {errors}"
            checked.append(name)
    # Bodies sent and answered by the directory and the catalog carry examples.
    assert {"AgencyCreate", "AgencyRead", "StateServiceCreate", "DraftRead"} <= set(checked)
