"""Disclosure control of published figures (domain.md)."""

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from metrics.disclosure import disclosure_controlled


@pytest.mark.parametrize(
    "count, shown",
    [(0, "0"), (1, "*"), (7, "*"), (8, "10"), (12, "10"), (13, "15"), (17, "15"), (18, "20"), (22, "20"), (1002, "1000"), (None, None)],
)
def test_counts(count, shown):
    frame = pl.DataFrame({"people": [count]}, schema={"people": pl.Int64})
    assert disclosure_controlled(frame, ["people"], {})["people"].to_list() == [shown]


def test_rates_on_small_counts_are_hidden():
    frame = pl.DataFrame({"people": [5, 40, 0], "denominator": [50, 6, 30], "pct": [10.0, 12.5, 0.0]})
    controlled = disclosure_controlled(frame, ["people"], {"pct": ["people", "denominator"]})
    assert controlled["pct"].to_list() == ["*", "*", "0.0"]


@given(st.integers(0, 10**6))
def test_a_shown_count_is_within_two_of_the_truth(count):
    shown = disclosure_controlled(pl.DataFrame({"n": [count]}), ["n"], {})["n"][0]
    if shown != "*":
        assert abs(int(shown) - count) <= 2 and int(shown) % 5 == 0
    else:
        assert 1 <= count <= 7
