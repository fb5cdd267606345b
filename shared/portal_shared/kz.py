"""Kazakhstan's 12-digit identification numbers: the check digit the IIN and BIN share.

The rule (the Ministry of Justice's IIN/BIN standard): weights 1..11 over the
first 11 digits, mod 11; if that gives 10, weights 3..11,1,2, mod 11; a second
10 means no number is ever issued with those digits. Which digits mean what
differs (birth date and sex for an IIN, registration month and entity type for
a BIN): the identity and directory services check those.
"""

from __future__ import annotations

_FIRST = tuple(range(1, 12))
_SECOND = (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2)


def check_digit(first_eleven: str) -> int | None:
    """The 12th digit for these 11 digits, or None if no valid number starts with them."""
    if len(first_eleven) != 11 or not first_eleven.isdigit():
        raise ValueError("expected 11 digits")
    digits = [int(c) for c in first_eleven]
    for weights in (_FIRST, _SECOND):
        value = sum(d * w for d, w in zip(digits, weights, strict=True)) % 11
        if value != 10:
            return value
    return None


def has_valid_check_digit(number: str) -> bool:
    """True if `number` is 12 digits whose last digit is the check digit of the rest."""
    if len(number) != 12 or not number.isdigit():
        return False
    return check_digit(number[:11]) == int(number[11])
