"""The BIN (business identification number) of a Kazakhstan legal entity: what its digits mean.

A BIN has twelve digits, `YYMM T S NNNNN C`:

- `YYMM`: year and month of state registration (month 01-12);
- `T`, the 5th digit, the kind of entity: 4 a resident legal entity, 5 a
  non-resident legal entity, 6 an individual entrepreneur in joint (partnership) form;
- `S`, the 6th digit, the kind of unit: 0 head office, 1 branch, 2 representative
  office, 3 peasant or farm enterprise operating as a joint venture;
- `NNNNN`: a serial number;
- `C`: the check digit, computed exactly as for the IIN (`portal_shared.kz`).

Source: the Law of the Republic of Kazakhstan of 12 January 2007 No. 223-III
"On national registers of identification numbers" and the rules for forming
identification numbers adopted under it, which fix this structure for BINs;
the check-digit algorithm is the one the IIN uses (see `portal_shared.kz`).
"""

from __future__ import annotations

from portal_shared.i18n import Message
from portal_shared.kz import has_valid_check_digit

ENTITY_TYPES = {"4": "resident legal entity", "5": "non-resident legal entity", "6": "joint IE"}
UNIT_TYPES = {"0": "head office", "1": "branch", "2": "representative office", "3": "farm"}


def bin_problem(value: str) -> Message | None:
    """Why `value` is not a valid BIN (in every language), or None if it is one."""
    if len(value) != 12 or not value.isascii() or not value.isdigit():
        return Message("validation.bin-length")
    if not 1 <= int(value[2:4]) <= 12:
        return Message("validation.bin-month", {"digits": value[2:4]})
    if value[4] not in ENTITY_TYPES:
        return Message("validation.bin-entity", {"digit": value[4]})
    if value[5] not in UNIT_TYPES:
        return Message("validation.bin-unit", {"digit": value[5]})
    if not has_valid_check_digit(value):
        return Message("validation.bin-check-digit")
    return None
