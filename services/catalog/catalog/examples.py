"""Examples for the catalog's OpenAPI document (`json_schema_extra`), modelled on the demo
service `residence-registration`: generated clients and the docs page show them as request
and response bodies."""

# Kazakh and Russian texts are Cyrillic on purpose.
# ruff: noqa: RUF001

from __future__ import annotations

from typing import Any


def _texts(kk: str, ru: str, en: str) -> dict[str, str]:
    return {"kk": kk, "ru": ru, "en": en}


_FORM_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["applicant_iin", "move_in_date"],
    "properties": {
        "applicant_iin": {
            "type": "string",
            "pattern": "^[0-9]{12}$",
            "x-title": {
                "kk": "Өтініш берушінің ЖСН",
                "ru": "ИИН заявителя",
                "en": "Applicant's IIN",
            },
        },
        "move_in_date": {
            "type": "string",
            "format": "date",
            "x-title": _texts("Көшіп келген күні", "Дата заселения", "Move-in date"),
        },
    },
    "additionalProperties": False,
}

STANDARD: dict[str, Any] = {
    "name": {
        "kk": "Тұрғылықты жері бойынша тіркеу",
        "ru": "Регистрация по месту жительства",
        "en": "Registration of residence",
    },
    "description": {
        "kk": "Байқоңыр қаласында тұрақты тұрғылықты жері бойынша тіркеу",
        "ru": "Регистрация граждан по постоянному месту жительства в городе Байконыр",
        "en": "Registration of citizens at their permanent residence in Baikonur",
    },
    "agency_id": "cd65420d-bd15-5369-8cdd-dcd466e9ee26",
    "term_working_days": 1,
    "fee": {"amount": 0, "currency": "KZT"},
    "result": {
        "kk": "Тіркеу туралы мәлімет",
        "ru": "Сведения о регистрации",
        "en": "Registration record",
    },
    "required_documents": [
        {
            "code": "identity-document",
            "name": {
                "kk": "Жеке басын куәландыратын құжат",
                "ru": "Удостоверение личности",
                "en": "Identity document",
            },
        }
    ],
    "refusal_grounds": [
        {
            "code": "false-documents",
            "text": {
                "kk": "Жалған құжаттар",
                "ru": "Недостоверные документы",
                "en": "False documents",
            },
        }
    ],
    "channels": ["portal", "psc"],
    "form_schema": _FORM_SCHEMA,
}

SERVICE_CREATE: dict[str, Any] = {"code": "residence-registration", **STANDARD}

SERVICE_UPDATE: dict[str, Any] = {
    "term_working_days": 2,
    "fee": {"amount": 1966, "currency": "KZT"},
}

WITHDRAW: dict[str, Any] = {"reason": "Replaced by the proactive service"}

SERVICE_READ: dict[str, Any] = {
    "id": "3f1c2a7e-6a43-5b8e-9a51-0c7d8e2b4f10",
    **SERVICE_CREATE,
    "status": "published",
    "version": 1,
    "published_at": "2026-01-15T05:00:00Z",
    "updated_at": "2026-01-15T05:00:00Z",
}

DRAFT_READ: dict[str, Any] = {
    **SERVICE_READ,
    "revision": 3,
    "has_unpublished_changes": True,
}
