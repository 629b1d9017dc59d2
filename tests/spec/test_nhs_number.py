"""The modulus 11 check of NHS numbers (schemas.nhs_number), on worked examples."""

import pytest

from schemas.nhs_number import SYNTHETIC_FIRST, SYNTHETIC_LAST, check_digit, is_valid_nhs_number, normalise_nhs_number


@pytest.mark.parametrize(
    "number",
    [
        "9434765919",  # NHS Digital's own example: 9*10+4*9+3*8+4*7+7*6+6*5+5*4+9*3+1*2 = 299, 299 % 11 = 2, 11-2 = 9
        "9990000018",  # synthetic range: 9*10+9*9+9*8+1*2 = 245, 245 % 11 = 3, 11-3 = 8
        "4010232137",
        "9876543210",  # remainder 0: 11-0 = 11, written 0
    ],
)
def test_valid_numbers_pass(number):
    assert is_valid_nhs_number(number)


@pytest.mark.parametrize(
    "number, why",
    [
        ("9434765918", "wrong check digit"),
        ("9434765991", "two digits swapped"),
        ("9991234564", "remainder 10: 999123456 weighs 320, 320 % 11 = 1, 11-1 = 10, no check digit"),
        ("1234567890", "remainder 10 as well: 123456789 weighs 210, 210 % 11 = 1"),
        ("943476591", "nine digits"),
        ("94347659190", "eleven digits"),
        ("943 476 5919", "spaces are the caller's to remove"),
        ("943476591X", "not digits"),
        ("９４３４７６５９１９", "full-width digits are not ASCII"),
        ("", "empty"),
    ],
)
def test_invalid_numbers_fail(number, why):
    assert not is_valid_nhs_number(number), why


@pytest.mark.parametrize("first_nine", ["999123456", "123456789", "999000000"])
def test_nine_digits_with_remainder_10_have_no_check_digit(first_nine):
    assert check_digit(first_nine) is None
    assert not any(is_valid_nhs_number(first_nine + str(d)) for d in range(10))


def test_check_digit_takes_nine_digits_only():
    for bad in ("12345678", "1234567890", "12345678a"):
        with pytest.raises(ValueError):
            check_digit(bad)


def test_written_forms_are_normalised_to_ten_digits():
    assert normalise_nhs_number(" 943 476 5919 ") == "9434765919"
    assert normalise_nhs_number("943\u00a0476\u00a05919") == "9434765919"  # a spreadsheet's no-break spaces
    assert normalise_nhs_number("943-476-5919") == "943-476-5919"  # anything else is left to fail the check


def test_the_synthetic_range_is_999():
    assert (SYNTHETIC_FIRST, SYNTHETIC_LAST) == (9990000000, 9999999999)
