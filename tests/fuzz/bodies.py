"""Bodies the fuzz and security suites create things with: residents, agencies, state
services and their form (shared by tests/fuzz, tests/security and tests/hostile)."""

from __future__ import annotations

from typing import Any

from portal_testing.oidc import valid_iin

PASSWORD = "steppe-wind-2026"  # every other account's

FORM_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["purpose", "passport_number"],
    "additionalProperties": False,
    "properties": {
        "purpose": {
            "type": "string",
            "enum": ["work", "study", "family"],
            "x-title": {"kk": "Мақсаты", "ru": "Цель", "en": "Purpose"},
        },
        "passport_number": {
            "type": "string",
            "pattern": "^N[0-9]{7}$",
            "x-title": {"kk": "Паспорт", "ru": "Паспорт", "en": "Passport"},
        },
    },
}

GOOD_FORM: dict[str, Any] = {"purpose": "work", "passport_number": "N1234567"}


def resident_body(serial: int) -> dict[str, str]:
    """A resident's registration, with the serial's IIN as login."""
    iin = valid_iin(serial)
    return {
        "iin": iin,
        "given_name": "Aliya",
        "family_name": "Nurlanova",
        "email": f"{iin}@example.kz",
        "phone": "+77011234567",
        "password": PASSWORD,
    }


def agency_body(code: str) -> dict[str, Any]:
    return {
        "code": code,
        "name": {"kk": "Көші-қон қызметі", "ru": "Миграционная служба", "en": "Migration service"},
        "kind": "department",
        "bin": "140740190074",
        "city": "Baikonur",
        "address": "Baikonur, Gagarin street, 12",
        "timezone": "Asia/Qyzylorda",
        "contacts": {"phone": "+7 33622 5 20 00"},
    }


def service_body(code: str, agency_id: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": code,
        "name": {"kk": "Тіркеу", "ru": "Регистрация", "en": "Residence registration"},
        "description": {"kk": "Тіркеу", "ru": "Регистрация", "en": "Registration"},
        "agency_id": agency_id,
        "term_working_days": 5,
        "fee": {"amount": 0, "currency": "KZT"},
        "result": {"kk": "Анықтама", "ru": "Справка", "en": "Certificate"},
        "required_documents": [],
        "refusal_grounds": [
            {
                "code": "false-documents",
                "text": {"kk": "Жалған", "ru": "Подложные", "en": "False documents"},
            }
        ],
        "channels": ["portal"],
        "form_schema": FORM_SCHEMA,
    }
    body.update(overrides)
    return body
