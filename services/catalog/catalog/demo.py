"""The demo state services of `make run`, read from demo_services.yaml and checked.

The data is a file a person edits (texts in three languages, form schemas); this
module turns each entry into the body the catalog's API would accept, and checks
it the way the API does (StateServiceCreate, then the form schema rules), so a
mistake in the file fails on load, naming the service, before a seed writes
anything.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

import yaml
from pydantic import Field, ValidationError

from catalog.errors import InvalidFormSchema
from catalog.formschema import check_form_schema, localize_form_schema
from catalog.schemas import Channel, Code, Localized, ShortCode, StateServiceCreate, Strict

# Inside the package, so the wheel and the image carry it (hatch ships package data).
DATA_FILE = "demo_services.yaml"


class DemoDataError(ValueError):
    """demo_services.yaml does not describe valid services (a bug in the file)."""


def agency_id(code: str) -> uuid.UUID:
    """The directory's id of an agency: derived from its code, as CONTRIBUTING.md says."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"urn:baikonur-portal:agency:{code}")


class DemoEntry(Strict):
    """A service as the file writes it: documents and grounds by code, the fee in MRP."""

    code: Code
    agency_code: str = Field(min_length=1)
    name: Localized
    description: Localized
    term_working_days: int
    fee_mrp: Decimal = Field(ge=0)
    result: Localized
    required_documents: list[ShortCode]
    refusal_grounds: list[ShortCode]
    channels: list[Channel]
    form_schema: dict[str, Any]


class DemoFile(Strict):
    """The whole file."""

    mrp_kzt: Decimal = Field(gt=0, description="The monthly calculation index, in KZT")
    documents: dict[ShortCode, Localized]
    refusal_grounds: dict[ShortCode, Localized]
    services: list[DemoEntry]


@dataclass(frozen=True)
class DemoService:
    """A demo service: the agency code the seed waits for, and the body it creates."""

    agency_code: str
    body: StateServiceCreate


def _named(kind: str, codes: list[str], known: dict[str, Localized], key: str) -> list[Any]:
    unknown = [c for c in codes if c not in known]
    if unknown:
        raise DemoDataError(f"unknown {kind}: {', '.join(unknown)}")
    return [{"code": c, key: known[c].model_dump()} for c in codes]


def _service(data: DemoFile, entry: DemoEntry) -> DemoService:
    body = StateServiceCreate.model_validate(
        {
            "code": entry.code,
            "name": entry.name.model_dump(),
            "description": entry.description.model_dump(),
            "agency_id": agency_id(entry.agency_code),
            "term_working_days": entry.term_working_days,
            "fee": {"amount": data.mrp_kzt * entry.fee_mrp, "currency": "KZT"},
            "result": entry.result.model_dump(),
            "required_documents": _named(
                "documents", entry.required_documents, data.documents, "name"
            ),
            "refusal_grounds": _named(
                "refusal grounds", entry.refusal_grounds, data.refusal_grounds, "text"
            ),
            "channels": entry.channels,
            # Generic JSON Schema tools show `title`: the English one, so the file need
            # not repeat it beside each x-title.
            "form_schema": localize_form_schema(entry.form_schema, "en"),
        }
    )
    check_form_schema(body.form_schema)
    return DemoService(agency_code=entry.agency_code, body=body)


def load_demo_services(text: str) -> tuple[DemoService, ...]:
    """The services `text` (the YAML of demo_services.yaml) describes, each checked."""
    try:
        data = DemoFile.model_validate(yaml.safe_load(text))
    except (yaml.YAMLError, ValidationError) as exc:
        raise DemoDataError(f"{DATA_FILE}: {exc}") from exc
    services = []
    for entry in data.services:
        try:
            services.append(_service(data, entry))
        except (DemoDataError, ValidationError, InvalidFormSchema) as exc:
            raise DemoDataError(f"{DATA_FILE}, service {entry.code}: {exc}") from exc
    codes = [s.body.code for s in services]
    if len(set(codes)) != len(codes):
        raise DemoDataError(f"{DATA_FILE}: a service code repeats")
    return tuple(services)


@cache
def demo_services() -> tuple[DemoService, ...]:
    """The demo services, in the file's order (read once)."""
    return load_demo_services(resources.files("catalog").joinpath(DATA_FILE).read_text("utf-8"))
