"""Due dates: the calendar against the holidays package's own working-day count over a
grid of start days and terms, the decree-moved working weekend days, and the transfers
newer than the package."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

import holidays
import pytest
from pydantic import ValidationError

from service_requests.calendar import Calendar, CalendarBook, Transfers
from service_requests.settings import RequestsSettings

KZ = holidays.country_holidays("KZ", years=range(2023, 2029))


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


@pytest.mark.parametrize("year", [2024, 2025, 2026])
def test_every_start_day_and_term_agrees_with_the_package_s_count(year: int) -> None:
    # The term-th working day after `start` is a working day, with exactly `term` working
    # days from the day after `start` to it; a term of 0 is the first working day from
    # `start` on.
    calendar = Calendar()
    for start in days(date(year, 1, 1), date(year, 12, 31)):
        for term in range(31):
            due = calendar.add_working_days(start, term)
            assert KZ.is_working_day(due), (start, term, due)
            if term == 0:
                assert KZ.get_working_days_count(start, due) == 1, (start, due)
            else:
                assert KZ.get_working_days_count(start + timedelta(days=1), due) == term, (
                    start,
                    term,
                    due,
                )


@pytest.mark.parametrize(
    ("start", "term", "due"),
    [
        # Decree-moved working days: Friday 3 January 2025 off, Sunday the 5th worked;
        # Wednesday 8 May 2024 off, Saturday the 4th worked.
        (date(2025, 1, 2), 1, date(2025, 1, 5)),
        (date(2025, 1, 2), 2, date(2025, 1, 6)),
        (date(2024, 5, 3), 1, date(2024, 5, 4)),
        (date(2024, 5, 4), 0, date(2024, 5, 4)),
        (date(2024, 5, 6), 1, date(2024, 5, 10)),
    ],
)
def test_decree_moved_working_days_count(start: date, term: int, due: date) -> None:
    assert Calendar().add_working_days(start, term) == due


@pytest.mark.parametrize(
    ("start", "term", "due"),
    [
        # New Year: 31 Dec is a Thursday; 1-2 Jan are holidays, 3-4 Jan a weekend, 7 Jan
        # Orthodox Christmas.
        (date(2025, 12, 31), 1, date(2026, 1, 5)),
        (date(2025, 12, 31), 3, date(2026, 1, 8)),
        # Nauryz: 21-23 March and the days off moved from the weekend, 24-25 March.
        (date(2026, 3, 20), 1, date(2026, 3, 26)),
        (date(2026, 3, 19), 5, date(2026, 3, 31)),
        # The May holidays: 1, 7, 9 (observed on the 11th) May.
        (date(2026, 4, 30), 1, date(2026, 5, 4)),
        (date(2026, 5, 6), 2, date(2026, 5, 12)),
        (date(2026, 4, 30), 10, date(2026, 5, 19)),
    ],
)
def test_known_holiday_stretches(start: date, term: int, due: date) -> None:
    assert Calendar().add_working_days(start, term) == due


def test_the_local_date_in_the_agency_zone_starts_the_count() -> None:
    # 19:30 UTC on Friday 6 March is already Saturday the 7th in Almaty (UTC+5).
    late_friday = datetime(2026, 3, 6, 19, 30, tzinfo=UTC)
    assert Calendar().due_date(late_friday, 1, "Asia/Almaty") == date(2026, 3, 10)
    assert Calendar().due_date(late_friday, 1, "UTC") == date(2026, 3, 10)
    early_friday = datetime(2026, 3, 6, 10, 0, tzinfo=UTC)
    # From Friday the 6th: Monday 9 March is the observed Women's Day.
    assert Calendar().due_date(early_friday, 1, "Asia/Almaty") == date(2026, 3, 10)
    thursday_evening = datetime(2026, 3, 5, 19, 30, tzinfo=UTC)
    assert Calendar().due_date(thursday_evening, 1, "Asia/Almaty") == date(2026, 3, 10)
    assert Calendar().due_date(thursday_evening, 1, "UTC") == date(2026, 3, 6)


def test_transferred_working_saturday_and_extra_day_off() -> None:
    # A Government decree may make a Saturday a working day and move the day off.
    transfers = Transfers(working_days=frozenset({date(2026, 1, 3)}))
    assert Calendar(transfers).add_working_days(date(2026, 1, 2), 1) == date(2026, 1, 3)
    assert Calendar().add_working_days(date(2026, 1, 2), 1) == date(2026, 1, 5)
    off = Transfers(days_off=frozenset({date(2026, 1, 5)}))
    assert Calendar(off).add_working_days(date(2026, 1, 2), 1) == date(2026, 1, 6)


def test_an_agency_calendar_adds_its_own_transfers_to_the_country_s() -> None:
    agency = uuid4()
    book = CalendarBook.from_settings(
        {
            "*": Transfers(working_days=frozenset({date(2026, 1, 3)})),
            str(agency): Transfers(days_off=frozenset({date(2026, 1, 3)})),
        }
    )
    assert book.for_agency(uuid4()).add_working_days(date(2026, 1, 2), 1) == date(2026, 1, 3)
    assert book.for_agency(agency).add_working_days(date(2026, 1, 2), 1) == date(2026, 1, 5)


def test_a_same_day_service_is_due_on_the_day_or_the_next_working_day() -> None:
    calendar = Calendar()
    assert calendar.add_working_days(date(2026, 3, 2), 0) == date(2026, 3, 2)  # a Monday
    # A Saturday before a holiday Monday: due on the first working day after both.
    saturday = date(2026, 3, 7)
    assert calendar.add_working_days(saturday, 0) == KZ.get_nth_working_day(saturday, 0)
    assert calendar.add_working_days(saturday, 0) == date(2026, 3, 10)
    with pytest.raises(ValueError, match="negative"):
        calendar.add_working_days(saturday, -1)


def test_transfers_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "CALENDAR_TRANSFERS", '{"*": {"working_days": ["2026-01-03"], "days_off": []}}'
    )
    settings = RequestsSettings()
    book = CalendarBook.from_settings(settings.calendar_transfers)
    assert book.for_agency(uuid4()).add_working_days(date(2026, 1, 2), 1) == date(2026, 1, 3)
    monkeypatch.setenv("CALENDAR_TRANSFERS", '{"migration": {}}')
    with pytest.raises(ValidationError, match="neither"):
        RequestsSettings()
