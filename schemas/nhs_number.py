"""NHS numbers: the modulus 11 check, and the one written form the project keeps (10 digits).

An NHS number is nine digits and a check digit. Weight the nine digits 10, 9, ..., 2, sum, take the
remainder on dividing by 11: the check digit is 11 minus that remainder, 0 when that gives 11. When
it gives 10 there is no check digit, so no NHS number is issued with those nine digits. The check
catches any single mistyped digit (11 is prime and no weight is a multiple of it), which is why a
key file that fails it is refused rather than partly used: a wrong digit attaches a list row to
somebody else's record.
"""

from __future__ import annotations

WEIGHTS = (10, 9, 8, 7, 6, 5, 4, 3, 2)
# Synthetic numbers (domain.md): never issued, so a test or demo can never name a real patient.
SYNTHETIC_FIRST = 999_000_0000
SYNTHETIC_LAST = 999_999_9999


def check_digit(first_nine: str) -> int | None:
    """The check digit of nine digits, or None when there is none (remainder 10: never valid)."""
    if len(first_nine) != 9 or not (first_nine.isascii() and first_nine.isdigit()):
        raise ValueError("check_digit takes exactly nine digits")
    check = 11 - sum(int(digit) * weight for digit, weight in zip(first_nine, WEIGHTS)) % 11
    if check == 11:
        return 0
    return None if check == 10 else check


def is_valid_nhs_number(number: str) -> bool:
    """True for ten ASCII digits whose last is the modulus 11 check digit of the first nine."""
    if len(number) != 10 or not (number.isascii() and number.isdigit()):
        return False
    return check_digit(number[:9]) == int(number[9])


def normalise_nhs_number(written: str) -> str:
    """The number as ten digits: spaces (the 3-3-4 display form, `999 123 4564`) and surrounding
    whitespace removed. Nothing else is changed, so a wrong value stays wrong and fails the check."""
    return "".join(written.split())
