"""What create_service_app writes into every service's OpenAPI document: operationIds from
handler names, security from each route's dependencies, scopes declared on a route, the
token statuses and the replay of an idempotent write."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header

from portal_shared.app import ServiceSpec, create_service_app
from portal_shared.auth import OptionalPrincipalDep, Principal, PrincipalDep
from portal_shared.openapi import BEARER
from portal_shared.scopes import OAUTH2, SCOPES_KEY, require_scope
from portal_shared.settings import ServiceSettings

router = APIRouter(prefix="/api/v1/widgets")


@router.get("")
async def list_widgets(principal: OptionalPrincipalDep) -> list[str]:
    return []


@router.post("", status_code=201)
async def create_widget(
    admin: Annotated[Principal, Depends(require_scope("services:write", roles=("admin",)))],
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> str:
    return "made"


@router.get("/mine", dependencies=[Depends(require_scope("requests:read"))])
async def read_my_widgets(principal: PrincipalDep) -> list[str]:
    return []


@router.post(
    "/{widget_id}/polish",
    dependencies=[Depends(require_scope("requests:write", roles=("officer",)))],
)
async def polish_widget(widget_id: int) -> str:
    return "shiny"


@router.get("/count")
async def count_widgets() -> int:
    return 0


def document() -> dict[str, Any]:
    spec = ServiceSpec(
        name="widgets",
        title="Widgets",
        description="",
        settings=ServiceSettings(),
        routers=[router],
    )
    return create_service_app(spec).openapi()


def test_operation_ids_are_the_handlers_names_in_camel_case() -> None:
    ids = {op["operationId"] for item in document()["paths"].values() for op in item.values()}
    assert ids == {"listWidgets", "createWidget", "readMyWidgets", "polishWidget", "countWidgets"}


def test_security_follows_the_routes_dependencies_and_declared_scopes() -> None:
    paths = document()["paths"]
    anyone: list[dict[str, list[str]]] = [{OAUTH2: []}, {BEARER: []}]
    optional = [*anyone, {}]
    assert paths["/api/v1/widgets"]["get"]["security"] == optional
    assert paths["/api/v1/widgets"]["post"]["security"] == [
        {OAUTH2: ["services:write"]},
        {BEARER: []},
    ]
    polish = paths["/api/v1/widgets/{widget_id}/polish"]["post"]
    assert polish["security"] == [{OAUTH2: ["requests:write"]}, {BEARER: []}]
    mine = paths["/api/v1/widgets/mine"]["get"]
    assert mine["security"] == [{OAUTH2: ["requests:read"]}, {BEARER: []}]
    assert SCOPES_KEY not in mine
    assert "security" not in paths["/api/v1/widgets/count"]["get"]
    for operation in (mine, paths["/api/v1/widgets"]["post"]):
        assert {"401", "403"} <= set(operation["responses"])


def test_a_write_with_an_idempotency_key_documents_its_replay() -> None:
    responses = document()["paths"]["/api/v1/widgets"]["post"]["responses"]
    assert responses["200"]["content"] == responses["201"]["content"]
    assert "Idempotent-Replayed" in responses["200"]["headers"]


def test_security_schemes_point_at_the_issuer() -> None:
    schemes = document()["components"]["securitySchemes"]
    issuer = ServiceSettings().issuer
    assert schemes[OAUTH2]["flows"]["authorizationCode"]["tokenUrl"] == issuer + "/token"
    assert schemes[BEARER]["bearerFormat"] == "JWT"
