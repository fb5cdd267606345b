"""The BIN rule: registration month, entity type, unit type and the check digit."""

from __future__ import annotations

import pytest

from directory.bin_number import bin_problem
from portal_shared.kz import check_digit


def make_bin(yymm: str, entity: str, unit: str) -> str:
    """A BIN with these digits and a correct check digit (some serials have none)."""
    for serial in range(10_000, 10_100):
        first_eleven = f"{yymm}{entity}{unit}{serial:05d}"
        digit = check_digit(first_eleven)
        if digit is not None:
            return first_eleven + str(digit)
    raise AssertionError("no serial gives a check digit")


@pytest.mark.parametrize(
    ("entity", "unit"),
    [
        ("4", "0"),  # resident legal entity, head office
        ("4", "1"),  # its branch
        ("4", "2"),  # its representative office
        ("5", "0"),  # non-resident legal entity
        ("6", "3"),  # joint individual entrepreneur, peasant farm
    ],
)
def test_valid_bins_pass(entity: str, unit: str) -> None:
    assert bin_problem(make_bin("9902", entity, unit)) is None


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("99024070339", "12 digits"),
        ("9902407033977", "12 digits"),
        ("\uff19" * 12, "12 digits"),  # full-width digits pass str.isdigit()
        (make_bin("9900", "4", "0"), "month"),
        (make_bin("9913", "4", "0"), "month"),
        (make_bin("9902", "3", "0"), "entity type"),  # 3 is an IIN's century-and-sex digit
        (make_bin("9902", "7", "0"), "entity type"),
        (make_bin("9902", "4", "4"), "unit type"),
        ("990240703398", "check digit"),
    ],
)
def test_invalid_bins_say_why(value: str, reason: str) -> None:
    problem = bin_problem(value)
    assert problem is not None
    assert reason in str(problem)
