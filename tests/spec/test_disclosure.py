"""Disclosure control of published figures (domain.md): primary rules, rates from published counts,
and secondary suppression where the totals would give a hidden or rounded count away."""

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from metrics.disclosure import Attacker, Count, Figures, Rate, TableRules, controlled_figures, protect, published, shown_count

ONE_COLUMN = TableRules(keys=("neighbourhood_code",), counts=(Count("people"),))


def table(**people: int) -> pl.DataFrame:
    """Neighbourhoods with their counts and the ALL row, summed from them."""
    codes = list(people)
    return pl.DataFrame({"neighbourhood_code": [*codes, "ALL"], "people": [*people.values(), sum(people.values())]})


def recovered(frame: pl.DataFrame, rules: TableRules, secondary: bool = False) -> list[tuple]:
    """Figures an attacker pins to one value from what is published, with or without secondary
    suppression."""
    figures = controlled_figures(frame, rules) if secondary else Figures(frame, rules)
    attacker = Attacker(figures)
    return [(f.key, f.true) for i, f in enumerate(figures.figures) if f.state != "zero" and attacker.pinned(i)]


@pytest.mark.parametrize(
    "count, shown",
    [(0, "0"), (1, "*"), (7, "*"), (8, "10"), (12, "10"), (13, "15"), (17, "15"), (18, "20"), (22, "20"), (1002, "1000"), (None, None)],
)
def test_counts(count, shown):
    assert shown_count(count) == shown


@given(st.integers(0, 10**6))
def test_a_shown_count_is_within_two_of_the_truth(count):
    shown = shown_count(count)
    if shown != "*":
        assert abs(int(shown) - count) <= 2 and int(shown) % 5 == 0
    else:
        assert 1 <= count <= 7


def test_a_small_count_beside_rounded_siblings_can_be_worked_out_without_secondary_suppression():
    # Published 10, 10, *, ALL 15: the total is at most 17 and the parts at least 8 + 8 + 1, so
    # every count, the hidden 1 among them, is given away.
    frame = table(a=8, b=8, c=1)
    assert shown_count(17) == "15"
    assert recovered(frame, ONE_COLUMN) == [(("a",), 8), (("b",), 8), (("c",), 1), (("ALL",), 17)]


def test_secondary_suppression_hides_a_sibling_so_the_small_count_cannot_be_worked_out():
    # 28, 38, 1 and their total 67 are shown 30, 40, *, 65: the hidden one is at most 67 - 28 - 38.
    frame = table(a=28, b=38, c=1)
    assert (("c",), 1) in recovered(frame, ONE_COLUMN)
    assert protect(frame, ONE_COLUMN)["people"].to_list() == ["*", "40", "*", "65"]
    assert recovered(frame, ONE_COLUMN, secondary=True) == []


def test_a_tiny_table_that_an_attacker_who_knows_the_rules_can_solve_is_hidden_whole():
    # 8, 8, 1 (total 17): hiding 8s that the attacker knows to be 8 or more still gives 17 = 8 + 8 + 1.
    frame = table(a=8, b=8, c=1)
    assert protect(frame, ONE_COLUMN)["people"].to_list() == ["*", "*", "*", "*"]
    assert recovered(frame, ONE_COLUMN, secondary=True) == []


def test_rounded_counts_all_at_the_top_of_their_range_give_themselves_away_and_are_protected():
    # 12, 12, 12, 12 are each shown 10, their total 48 is shown 50: only 12 each fits.
    frame = table(a=12, b=12, c=12, d=12)
    assert len(recovered(frame, ONE_COLUMN)) == 5
    assert protect(frame, ONE_COLUMN)["people"].to_list() == ["*", "10", "10", "10", "50"]
    assert recovered(frame, ONE_COLUMN, secondary=True) == []


def test_an_ordinary_table_is_left_alone():
    controlled = protect(table(a=120, b=95, c=3, d=44), ONE_COLUMN)
    assert controlled["people"].to_list() == ["120", "95", "*", "45", "260"]


def test_rates_are_computed_from_the_published_counts_and_hidden_with_them():
    rules = TableRules(
        keys=("neighbourhood_code",),
        counts=(Count("people"), Count("population")),
        rates=(Rate("pct", "people", "population"),),
        at_most=(("people", "population"),),
    )
    frame = pl.DataFrame({
        "neighbourhood_code": ["a", "b", "c", "ALL"],
        "people": [32, 5, 0, 37],
        "population": [144, 300, 50, 494],
        "pct": [22.22, 1.67, 0.0, 7.49],
    })
    controlled = protect(frame, rules)
    # a: 30 of 145 shown, so 20.69%, never the 22.22% of the true 32 of 144 that gives 32 away
    assert controlled["pct"].to_list() == ["20.69", "*", "0.0", "7.07"]


def test_activity_of_a_few_people_is_hidden_whatever_its_size():
    rules = TableRules(
        keys=("neighbourhood_code",),
        counts=(Count("himsu_people"), Count("activity_himsu", of_people="himsu_people")),
        rates=(Rate("mean", "activity_himsu", "himsu_people", scale=1, decimals=3),),
    )
    frame = pl.DataFrame({
        "neighbourhood_code": ["a", "b", "ALL"],
        "himsu_people": [2, 40, 42],
        "activity_himsu": [90, 1400, 1490],
        "mean": [45.0, 35.0, 35.476],
    })
    controlled = protect(frame, rules)
    assert controlled["activity_himsu"].to_list()[0] == "*"
    assert controlled["mean"].to_list()[0] == "*"
    # the total minus b leaves a's activity only to within 4 either side: it cannot be worked out
    assert recovered(frame, rules, secondary=True) == []


def test_a_table_without_rules_is_refused():
    with pytest.raises(KeyError, match="no disclosure rules"):
        published("cohort_list", pl.DataFrame({"neighbourhood_code": ["a"]}))
