"""Properties of the modulus 11 check, against an independent statement of it."""

from hypothesis import given
from hypothesis import strategies as st

from schemas.nhs_number import check_digit, is_valid_nhs_number

ten_digits = st.text(alphabet="0123456789", min_size=10, max_size=10)
nine_digits = st.text(alphabet="0123456789", min_size=9, max_size=9)


def weighted_total(number: str) -> int:
    """The check restated: the nine digits weighted 10 to 2, plus the check digit weighted 1, are a
    multiple of 11 (check = 11 - remainder, and a check of 10 is not a digit, so never passes)."""
    return sum(int(d) * w for d, w in zip(number, range(10, 0, -1)))


@given(ten_digits)
def test_accepted_exactly_when_the_check_digit_is_right(number):
    assert is_valid_nhs_number(number) == (weighted_total(number) % 11 == 0)


@given(nine_digits)
def test_every_nine_digits_with_a_check_digit_make_a_valid_number(first_nine):
    digit = check_digit(first_nine)
    valid = [d for d in range(10) if is_valid_nhs_number(first_nine + str(d))]
    assert valid == ([] if digit is None else [digit])


@given(nine_digits, st.integers(0, 9), st.integers(1, 9))
def test_changing_any_one_digit_of_a_valid_number_makes_it_fail(first_nine, position, change):
    digit = check_digit(first_nine)
    if digit is None:
        return
    number = first_nine + str(digit)
    assert is_valid_nhs_number(number)
    mistyped = number[:position] + str((int(number[position]) + change) % 10) + number[position + 1:]
    assert not is_valid_nhs_number(mistyped)
