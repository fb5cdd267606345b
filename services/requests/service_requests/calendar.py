"""The working-day calendar behind every due date, as Kazakhstan counts working days.

This is the one place that decides whether a day is a working day, and it asks the
`holidays` package's own calendar (`is_working_day`): weekends, public holidays and
their observed (moved) days off, and the weekend days that a Government decree made
working days when it moved a day off (2024-05-04 and 2025-01-05, say). Decrees newer
than the installed package, and an agency's own arrangements, come in as `Transfers`
(from settings), for the whole country or for one agency, and win over the package.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache
from uuid import UUID
from zoneinfo import ZoneInfo

import holidays
from pydantic import BaseModel, ConfigDict, Field

DEFAULT_TIMEZONE = "Asia/Almaty"


class Transfers(BaseModel):
    """Days that break the weekday rule: working days on a weekend or holiday, and days off
    on an ordinary weekday."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    working_days: frozenset[date] = Field(default_factory=frozenset)
    days_off: frozenset[date] = Field(default_factory=frozenset)

    def merged(self, other: Transfers) -> Transfers:
        return Transfers(
            working_days=self.working_days | other.working_days,
            days_off=self.days_off | other.days_off,
        )


@lru_cache(maxsize=1)
def _kz_holidays() -> holidays.HolidayBase:
    # The package fills years lazily on lookup; one shared instance keeps what it computed.
    return holidays.country_holidays("KZ")


def national_working_day(day: date) -> bool:
    """Whether `day` is a working day by the package's calendar of Kazakhstan."""
    kz = _kz_holidays()
    if day.year + 1 not in kz.years:
        # A decree for next year may make a weekend day of this year a working day (the
        # package lists 2013-12-28 under 2014): have next year's list before asking.
        kz.get(date(day.year + 1, 1, 1))
    return bool(kz.is_working_day(day))


class Calendar:
    """Working days in Kazakhstan, with optional transfers on top of the package's."""

    # Due dates computed, by (start, term): every submission of a day asks the same few.
    _KEPT = 4096

    def __init__(self, transfers: Transfers | None = None) -> None:
        self.transfers = transfers or Transfers()
        self._due: dict[tuple[date, int], date] = {}

    def is_working_day(self, day: date) -> bool:
        if day in self.transfers.days_off:
            return False
        if day in self.transfers.working_days:
            return True
        return national_working_day(day)

    def add_working_days(self, start: date, count: int) -> date:
        """The `count`-th working day after `start` (start itself never counts). A term of 0
        (a service rendered on the day, such as an address certificate) is due on `start`,
        or on the next working day when `start` is a day off."""
        due = self._due.get((start, count))
        if due is None:
            due = self._count(start, count)
            if len(self._due) >= self._KEPT:
                self._due.clear()
            self._due[(start, count)] = due
        return due

    def _count(self, start: date, count: int) -> date:
        # Day by day: terms are days to weeks, and each answer is kept.
        if count < 0:
            raise ValueError("a term cannot be negative")
        if count == 0:
            day = start
            while not self.is_working_day(day):
                day += timedelta(days=1)
            return day
        day = start
        left = count
        while left:
            day += timedelta(days=1)
            if self.is_working_day(day):
                left -= 1
        return day

    def due_date(self, submitted_at: datetime, term_working_days: int, timezone: str) -> date:
        """The due date of a submission: counted from its local date in the agency's zone."""
        local = submitted_at.astimezone(zone(timezone)).date()
        return self.add_working_days(local, term_working_days)


def zone(name: str) -> ZoneInfo:
    """The agency's zone, or the contract's default when the name is unknown here."""
    try:
        return ZoneInfo(name)
    except (ValueError, KeyError):  # ZoneInfoNotFoundError is a KeyError
        return ZoneInfo(DEFAULT_TIMEZONE)


class CalendarBook:
    """Calendars per agency: the country's transfers, plus the agency's own."""

    def __init__(
        self, national: Transfers | None = None, agencies: dict[UUID, Transfers] | None = None
    ) -> None:
        self.national = national or Transfers()
        self.agencies = agencies or {}
        self._national_calendar = Calendar(self.national)

    @classmethod
    def from_settings(cls, raw: dict[str, Transfers]) -> CalendarBook:
        """`raw` maps "*" (the whole country) or an agency id to its transfers."""
        national = raw.get("*")
        agencies = {UUID(key): value for key, value in raw.items() if key != "*"}
        return cls(national, agencies)

    def for_agency(self, agency_id: UUID) -> Calendar:
        own = self.agencies.get(agency_id)
        if own is None:
            return self._national_calendar
        return Calendar(self.national.merged(own))
