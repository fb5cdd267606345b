"""Demo data for `make run`: the agencies working in Baikonur, under their ministries.

Ids are derived from codes (CONTRIBUTING.md, "Demo data"), so other services
refer to these agencies without asking. The names are modelled on the real
bodies' names; the BINs, addresses and phone numbers are made up (with valid
check digits) and belong to no one.
"""

# Names and addresses are Kazakh and Russian text, where Cyrillic letters that look
# Latin are the point, not a mistake.
# ruff: noqa: RUF001

from __future__ import annotations

import uuid
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col, select

from directory import service
from directory.models import Agency
from directory.schemas import AgencyCreate
from portal_shared.auth import Principal

log = structlog.get_logger(__name__)

SEEDER = Principal(subject="seed-demo", client_id="directory-seed-demo")
BAIKONUR_TZ = "Asia/Qyzylorda"  # Baikonur keeps UTC+5, as Kyzylorda region does
ASTANA_TZ = "Asia/Almaty"


def agency_id(code: str) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"urn:baikonur-portal:agency:{code}")


_DAY = {"open": "09:00", "close": "18:30", "breaks": [{"start": "13:00", "end": "14:30"}]}
OFFICE_HOURS: dict[str, Any] = dict.fromkeys(("mon", "tue", "wed", "thu", "fri"), _DAY)
# Public service centres also open on Saturday mornings.
PSC_HOURS: dict[str, Any] = {
    **OFFICE_HOURS,
    "sat": {"open": "09:00", "close": "13:00", "breaks": []},
}

# (code, parent code, kind, bin, kk, ru, en): parents come before their children.
_MINISTRIES: list[tuple[str, str | None, str, str, str, str, str]] = [
    ("KZ-MJ", None, "ministry", "050340518509",
     "Қазақстан Республикасы Әділет министрлігі",
     "Министерство юстиции Республики Казахстан",
     "Ministry of Justice of the Republic of Kazakhstan"),
    ("KZ-MVD", None, "ministry", "990240703397",
     "Қазақстан Республикасы Ішкі істер министрлігі",
     "Министерство внутренних дел Республики Казахстан",
     "Ministry of Internal Affairs of the Republic of Kazakhstan"),
    ("KZ-MF", None, "ministry", "000640764874",
     "Қазақстан Республикасы Қаржы министрлігі",
     "Министерство финансов Республики Казахстан",
     "Ministry of Finance of the Republic of Kazakhstan"),
    ("KZ-MF-KGD", "KZ-MF", "committee", "990940282405",
     "Қазақстан Республикасы Қаржы министрлігінің Мемлекеттік кірістер комитеті",
     "Комитет государственных доходов Министерства финансов Республики Казахстан",
     "State Revenue Committee of the Ministry of Finance of the Republic of Kazakhstan"),
    ("KZ-MTSZN", None, "ministry", "990240569387",
     "Қазақстан Республикасы Еңбек және халықты әлеуметтік қорғау министрлігі",
     "Министерство труда и социальной защиты населения Республики Казахстан",
     "Ministry of Labour and Social Protection of the Population of the Republic of Kazakhstan"),
    ("KZ-MSH", None, "ministry", "070240316440",
     "Қазақстан Республикасы Ауыл шаруашылығы министрлігі",
     "Министерство сельского хозяйства Республики Казахстан",
     "Ministry of Agriculture of the Republic of Kazakhstan"),
    ("KZ-MSH-LAND", "KZ-MSH", "committee", "000940557423",
     "Қазақстан Республикасы Ауыл шаруашылығы министрлігінің Жер ресурстарын басқару комитеті",
     "Комитет по управлению земельными ресурсами Министерства сельского хозяйства"
     " Республики Казахстан",
     "Land Resources Management Committee of the Ministry of Agriculture"
     " of the Republic of Kazakhstan"),
    ("KZ-MCRIAP", None, "ministry", "991040163269",
     "Қазақстан Республикасы Цифрлық даму, инновациялар және аэроғарыш өнеркәсібі министрлігі",
     "Министерство цифрового развития, инноваций и аэрокосмической промышленности"
     " Республики Казахстан",
     "Ministry of Digital Development, Innovation and Aerospace Industry"
     " of the Republic of Kazakhstan"),
    ("KZ-GOV4C", "KZ-MCRIAP", "state_corporation", "021140823386",
     "«Азаматтарға арналған үкімет» мемлекеттік корпорациясы",
     "Государственная корпорация «Правительство для граждан»",
     "State Corporation \"Government for Citizens\""),
    ("KZ-MP", None, "ministry", "991040768486",
     "Қазақстан Республикасы Оқу-ағарту министрлігі",
     "Министерство просвещения Республики Казахстан",
     "Ministry of Education of the Republic of Kazakhstan"),
    ("KZ-MZ", None, "ministry", "070140290777",
     "Қазақстан Республикасы Денсаулық сақтау министрлігі",
     "Министерство здравоохранения Республики Казахстан",
     "Ministry of Health of the Republic of Kazakhstan"),
    ("KZ-MPS", None, "ministry", "990940175558",
     "Қазақстан Республикасы Өнеркәсіп және құрылыс министрлігі",
     "Министерство промышленности и строительства Республики Казахстан",
     "Ministry of Industry and Construction of the Republic of Kazakhstan"),
]  # fmt: skip

# (code, parent code, kind, bin, kk, ru, en, address)
_BAIKONUR: list[tuple[str, str, str, str, str, str, str, str]] = [
    ("BKR-JUSTICE", "KZ-MJ", "department", "140740190074",
     "Байқоңыр қаласының Әділет департаменті",
     "Департамент юстиции города Байконыр",
     "Department of Justice of Baikonur",
     "г. Байконыр, ул. Гагарина, 12"),
    ("BKR-CIVREG", "BKR-JUSTICE", "division", "180240749306",
     "Байқоңыр қаласының азаматтық хал актілерін тіркеу бөлімі",
     "Отдел регистрации актов гражданского состояния города Байконыр",
     "Civil Registry Office of Baikonur",
     "г. Байконыр, ул. Гагарина, 12"),
    ("BKR-POLICE", "KZ-MVD", "department", "140940894910",
     "Байқоңыр қаласының Полиция департаменті",
     "Департамент полиции города Байконыр",
     "Police Department of Baikonur",
     "г. Байконыр, ул. Королёва, 5"),
    ("BKR-MIGRATION", "BKR-POLICE", "division", "120240763310",
     "Байқоңыр қаласы Полиция департаментінің Көші-қон қызметі басқармасы",
     "Управление миграционной службы Департамента полиции города Байконыр",
     "Migration Service of the Police Department of Baikonur",
     "г. Байконыр, ул. Королёва, 5"),
    ("BKR-REVENUE", "KZ-MF-KGD", "department", "181140247248",
     "Байқоңыр қаласы бойынша Мемлекеттік кірістер басқармасы",
     "Управление государственных доходов по городу Байконыр",
     "State Revenue Office of Baikonur",
     "г. Байконыр, пр. Абая, 20"),
    ("BKR-LAND", "KZ-MSH-LAND", "division", "140240718933",
     "Байқоңыр қаласының жер қатынастары бөлімі",
     "Отдел земельных отношений города Байконыр",
     "Land Relations Office of Baikonur",
     "г. Байконыр, ул. Неделина, 3"),
    ("BKR-SOCIAL", "KZ-MTSZN", "division", "101040079126",
     "Байқоңыр қаласының жұмыспен қамту және әлеуметтік қорғау бөлімі",
     "Отдел занятости и социальной защиты города Байконыр",
     "Employment and Social Protection Office of Baikonur",
     "г. Байконыр, ул. Ленина, 8"),
    ("BKR-PSC", "KZ-GOV4C", "public_service_centre", "180440651666",
     "Байқоңыр қаласының Халыққа қызмет көрсету орталығы",
     "Центр обслуживания населения города Байконыр",
     "Public Service Centre of Baikonur (Government for Citizens)",
     "г. Байконыр, пр. Абая, 9"),
    ("BKR-EDUCATION", "KZ-MP", "division", "180740412752",
     "Байқоңыр қаласының білім бөлімі",
     "Отдел образования города Байконыр",
     "Education Office of Baikonur",
     "г. Байконыр, ул. Титова, 4"),
    ("BKR-ARCHITECTURE", "KZ-MPS", "division", "161040594995",
     "Байқоңыр қаласының сәулет және қала құрылысы бөлімі",
     "Отдел архитектуры и градостроительства города Байконыр",
     "Architecture and Urban Planning Office of Baikonur",
     "г. Байконыр, ул. Неделина, 3"),
    ("BKR-HEALTH", "KZ-MZ", "division", "140540326612",
     "Байқоңыр қаласының денсаулық сақтау бөлімі",
     "Отдел здравоохранения города Байконыр",
     "Health Office of Baikonur",
     "г. Байконыр, ул. Янгеля, 15"),
]  # fmt: skip


def demo_agencies() -> list[tuple[uuid.UUID, AgencyCreate]]:
    """Every demo agency with its derived id, parents before children."""
    out: list[tuple[uuid.UUID, AgencyCreate]] = []
    for n, (code, parent, kind, bin_, kk, ru, en) in enumerate(_MINISTRIES):
        body = {
            "code": code,
            "name": {"kk": kk, "ru": ru, "en": en},
            "kind": kind,
            "parent_id": agency_id(parent) if parent else None,
            "bin": bin_,
            "city": "Astana",
            "address": f"Astana, Mangilik El avenue, {8 + n}",
            "timezone": ASTANA_TZ,
            "working_hours": OFFICE_HOURS,
            "contacts": {"phone": f"+7 7172 74 {10 + n:02d} 00", "website": "https://www.gov.kz"},
        }
        out.append((agency_id(code), AgencyCreate.model_validate(body)))
    for n, (code, parent, kind, bin_, kk, ru, en, address) in enumerate(_BAIKONUR):
        body = {
            "code": code,
            "name": {"kk": kk, "ru": ru, "en": en},
            "kind": kind,
            "parent_id": agency_id(parent),
            "bin": bin_,
            "city": "Baikonur",
            "address": address,
            "timezone": BAIKONUR_TZ,
            "working_hours": PSC_HOURS if code == "BKR-PSC" else OFFICE_HOURS,
            "contacts": {
                "phone": f"+7 33622 5 {20 + n:02d} 00",
                "email": f"{code.removeprefix('BKR-').lower()}@baikonur.example.kz",
                "website": "https://www.gov.kz",
            },
        }
        out.append((agency_id(code), AgencyCreate.model_validate(body)))
    return out


async def seed(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    """Register the demo agencies that are missing; returns how many were added.

    Agencies already there are left as they are (an administrator may have edited
    them), so running the seed again changes nothing and emits no events.
    """
    added = 0
    async with sessionmaker() as session, session.begin():
        present = set((await session.execute(select(col(Agency.id)))).scalars().all())
        for the_id, body in demo_agencies():
            if the_id in present:
                continue
            await service.register_agency(session, body, by=SEEDER, agency_id=the_id)
            added += 1
    log.info("demo_agencies_seeded", added=added)
    return added
