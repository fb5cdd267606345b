// The IIN check, ported from services/identity/identity/iin.py (and the check digit of
// shared/portal_shared/kz.py), so a resident sees a mistake as they type, before the API does.

const FIRST = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
const SECOND = [3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2];
const CENTURY: Record<string, number> = { "1": 1800, "2": 1800, "3": 1900, "4": 1900, "5": 2000, "6": 2000 };

/** The 12th digit for these 11 digits, or null if no number is issued with them. */
export function checkDigit(firstEleven: string): number | null {
  const digits = [...firstEleven].map(Number);
  for (const weights of [FIRST, SECOND]) {
    const value = digits.reduce((sum, d, i) => sum + d * weights[i], 0) % 11;
    if (value !== 10) return value;
  }
  return null;
}

/** Why `iin` is not valid (a translation key), or null if it is. */
export type IinProblem = "iin.length" | "iin.century" | "iin.date" | "iin.never" | "iin.check";

export function iinProblem(iin: string): IinProblem | null {
  if (!/^[0-9]{12}$/.test(iin)) return "iin.length";
  const century = CENTURY[iin[6]];
  if (century === undefined) return "iin.century";
  const year = century + Number(iin.slice(0, 2));
  const month = Number(iin.slice(2, 4));
  const day = Number(iin.slice(4, 6));
  const date = new Date(Date.UTC(year, month - 1, day));
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) {
    return "iin.date";
  }
  const expected = checkDigit(iin.slice(0, 11));
  if (expected === null) return "iin.never";
  if (expected !== Number(iin[11])) return "iin.check";
  return null;
}
