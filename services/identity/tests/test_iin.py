"""Acceptance 3: the IIN rule agrees with the reference kz-iin-validator package on 100,000+
deterministically generated numbers, valid and invalid; and residents see why one is refused."""

from __future__ import annotations

import random

from kz_iin_validator import validate_iin

from identity.iin import iin_problem, is_valid_iin
from portal_shared.kz import check_digit


def _reference(iin: str) -> bool:
    try:
        validate_iin(iin)
    except Exception:
        return False
    return True


def _numbers(rng: random.Random, count: int) -> list[str]:
    """A mix: plausible numbers with the right check digit, with a wrong one, with a bad
    date or century digit, and plain random digits."""
    out = []
    for i in range(count):
        kind = i % 4
        yy, mm, dd = rng.randint(0, 99), rng.randint(1, 12), rng.randint(1, 31)
        century = rng.randint(1, 6) if kind != 2 else rng.randint(0, 9)
        if kind == 2:
            mm, dd = rng.randint(0, 19), rng.randint(0, 39)
        first = f"{yy:02d}{mm:02d}{dd:02d}{century}{rng.randint(0, 9999):04d}"
        if kind == 3:
            out.append(f"{rng.randint(0, 10**12 - 1):012d}")
            continue
        digit = check_digit(first)
        if kind == 1 or digit is None:
            digit = rng.randint(0, 9)
        out.append(first + str(digit))
    return out


def test_agrees_with_reference_on_100k_numbers() -> None:
    numbers = _numbers(random.Random(20261125), 120_000)
    results = [(n, is_valid_iin(n), _reference(n)) for n in numbers]
    disagreements = [(n, ours, ref) for n, ours, ref in results if ours != ref]
    assert disagreements == []
    valid = sum(1 for _, ours, _ in results if ours)
    # Both sides of the rule are exercised in quantity.
    assert valid > 20_000
    assert len(results) - valid > 20_000


def test_second_ten_means_never_issued() -> None:
    rng = random.Random(7)
    while True:
        first = f"900101{rng.randint(3, 4)}{rng.randint(0, 9999):04d}"
        if check_digit(first) is None:
            break
    for last in "0123456789":
        assert str(iin_problem(first + last)) == "no IIN is ever issued with these first 11 digits"


def test_problems_are_explained() -> None:
    assert str(iin_problem("12345")) == "an IIN is exactly 12 digits"
    assert str(iin_problem("\uff19" * 12)) == "an IIN is exactly 12 digits"
    assert "century" in str(iin_problem("900101700001"))
    assert "birth date" in str(iin_problem("900231300001"))
