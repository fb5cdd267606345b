"""Examples for the directory's OpenAPI document (`json_schema_extra`), modelled on the demo
data: generated clients and the docs page show them as request and response bodies."""

# Kazakh and Russian names are Cyrillic on purpose.
# ruff: noqa: RUF001

from __future__ import annotations

from typing import Any

_DAY = {"open": "09:00", "close": "18:30", "breaks": [{"start": "13:00", "end": "14:30"}]}

AGENCY_CREATE: dict[str, Any] = {
    "code": "BKR-MIGRATION",
    "name": {
        "kk": "Байқоңыр қаласы Полиция департаментінің Көші-қон қызметі басқармасы",
        "ru": "Управление миграционной службы Департамента полиции города Байконыр",
        "en": "Migration Service of the Police Department of Baikonur",
    },
    "kind": "division",
    "parent_id": "6db5dab5-ad56-5652-9352-4562df2c53d2",
    "bin": "120240763310",
    "city": "Байконыр",
    "address": "г. Байконыр, ул. Королёва, 5",
    "timezone": "Asia/Qyzylorda",
    "working_hours": dict.fromkeys(("mon", "tue", "wed", "thu", "fri"), _DAY),
    "contacts": {"phone": "+73362214000", "email": "migration@baikonur.example.kz"},
}

AGENCY_UPDATE: dict[str, Any] = {
    "address": "г. Байконыр, ул. Королёва, 7",
    "contacts": {"phone": "+73362214001"},
}

DEACTIVATION: dict[str, Any] = {"cascade": False}

AGENCY_READ: dict[str, Any] = {
    "id": "cd65420d-bd15-5369-8cdd-dcd466e9ee26",
    **AGENCY_CREATE,
    "working_hours": {
        **dict.fromkeys(("mon", "tue", "wed", "thu", "fri"), _DAY),
        **dict.fromkeys(("sat", "sun")),
    },
    "contacts": {**AGENCY_CREATE["contacts"], "website": None},
    "status": "active",
    "version": 1,
    "created_at": "2026-01-15T04:00:00Z",
    "updated_at": "2026-01-15T04:00:00Z",
}

AGENCY_NODE: dict[str, Any] = {**AGENCY_READ, "children": []}
