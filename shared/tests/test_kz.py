"""The IIN/BIN check digit, on numbers worked by hand from the published rule."""

from __future__ import annotations

import pytest

from portal_shared.kz import check_digit, has_valid_check_digit


def test_first_pass_weights() -> None:
    # 1*1+2*0+3*0+... for 10000000000: 1 mod 11 = 1
    assert check_digit("10000000000") == 1


def test_second_pass_when_first_gives_ten() -> None:
    # 0000000000 then 1 at position 10: first pass 10 -> second pass weight 1 -> 1
    assert check_digit("00000000010") == 1


def test_never_issued_when_both_passes_give_ten() -> None:
    # position 1 (w1=1, w2=3): digit 10 impossible; find one by search and check the rule holds
    never = next(f"{n:011d}" for n in range(10**6) if check_digit(f"{n:011d}") is None)
    digits = [int(c) for c in never]
    assert sum(d * w for d, w in zip(digits, range(1, 12), strict=True)) % 11 == 10
    assert not any(has_valid_check_digit(never + str(d)) for d in range(10))


@pytest.mark.parametrize("bad", ["", "12345678901", "1234567890123", "12345678901a"])
def test_malformed_numbers_are_invalid(bad: str) -> None:
    assert not has_valid_check_digit(bad)
