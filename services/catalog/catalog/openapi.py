"""The catalog's additions to its OpenAPI document: the one-language shape of its reads.

FastAPI documents one response model per operation; a read that honours
`?lang=` (or Accept-Language) answers either the three-language shape or the
flat one, so those operations' 200 responses are rewritten as `anyOf` the two.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

from catalog.schemas import StateServiceFlat, StateServiceFlatPage

_REF = "#/components/schemas/"
_FLAT: dict[str, type[BaseModel]] = {
    "StateServiceRead": StateServiceFlat,
    "StateServicePage": StateServiceFlatPage,
}


def document_languages(app: FastAPI) -> None:
    base = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = base()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in _FLAT.values():
            model_schema = model.model_json_schema(
                ref_template=_REF + "{model}", mode="serialization"
            )
            for name, definition in model_schema.pop("$defs", {}).items():
                components.setdefault(name, definition)
            components[model.__name__] = model_schema
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                names = {p.get("name") for p in operation.get("parameters", [])}
                content = (
                    operation.get("responses", {})
                    .get("200", {})
                    .get("content", {})
                    .get("application/json")
                )
                if "lang" not in names or not content:
                    continue
                ref = content.get("schema", {}).get("$ref", "")
                flat = _FLAT.get(ref.removeprefix(_REF))
                if flat is not None:
                    content["schema"] = {"anyOf": [{"$ref": ref}, {"$ref": _REF + flat.__name__}]}
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
