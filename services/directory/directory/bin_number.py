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

from portal_shared.kz import has_valid_check_digit

ENTITY_TYPES = {"4": "resident legal entity", "5": "non-resident legal entity", "6": "joint IE"}
UNIT_TYPES = {"0": "head office", "1": "branch", "2": "representative office", "3": "farm"}


def bin_problem(value: str) -> str | None:
    """Why `value` is not a valid BIN, or None if it is one."""
    if len(value) != 12 or not value.isascii() or not value.isdigit():
        return "a BIN is exactly 12 digits"
    if not 1 <= int(value[2:4]) <= 12:
        return f"digits 3-4 of a BIN are the registration month (01-12), not {value[2:4]}"
    if value[4] not in ENTITY_TYPES:
        return (
            f"digit 5 of a BIN is the entity type (4 resident, 5 non-resident legal entity,"
            f" 6 joint individual entrepreneur), not {value[4]}"
        )
    if value[5] not in UNIT_TYPES:
        return (
            f"digit 6 of a BIN is the unit type (0 head office, 1 branch,"
            f" 2 representative office, 3 peasant farm), not {value[5]}"
        )
    if not has_valid_check_digit(value):
        return "the BIN's check digit (its last digit) does not match the other eleven"
    return None
