"""The resident's IIN (Kazakhstan's individual identification number): what makes one valid.

Digits 1-6 are the birth date (YYMMDD), digit 7 the century and sex (1/2: 1800s,
3/4: 1900s, 5/6: 2000s; odd for men), digits 8-11 a serial number and digit 12
the check digit shared with the BIN (`portal_shared.kz`). A pure function, so
it can be compared with the reference implementation on many numbers quickly.
"""

from __future__ import annotations

import datetime as dt

from portal_shared.i18n import Message
from portal_shared.kz import check_digit

_CENTURY = {1: 1800, 2: 1800, 3: 1900, 4: 1900, 5: 2000, 6: 2000}


def iin_problem(iin: str) -> Message | None:
    """Why `iin` is not a valid IIN (in every language), or None if it is."""
    # isdigit() accepts non-ASCII digits such as '²'; an IIN is ASCII only.
    if len(iin) != 12 or not iin.isascii() or not iin.isdigit():
        return Message("validation.iin-length")
    century = _CENTURY.get(int(iin[6]))
    if century is None:
        return Message("validation.iin-century")
    try:
        dt.date(century + int(iin[0:2]), int(iin[2:4]), int(iin[4:6]))
    except ValueError:
        return Message("validation.iin-birth-date")
    expected = check_digit(iin[:11])
    if expected is None:
        return Message("validation.iin-never-issued")
    if expected != int(iin[11]):
        return Message("validation.iin-check-digit")
    return None


def birth_date(iin: str) -> dt.date:
    """The birth date encoded in a valid IIN."""
    return dt.date(_CENTURY[int(iin[6])] + int(iin[0:2]), int(iin[2:4]), int(iin[4:6]))


def is_valid_iin(iin: str) -> bool:
    return iin_problem(iin) is None
