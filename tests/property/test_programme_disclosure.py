"""The published copies of the programme metrics obey the disclosure rules (domain.md): no count of
1 to 7 is shown, every shown count is 0 or a multiple of 5, and every derived figure (avoided, the
limits, the changes) is worked out from the published counts, hidden when they are."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metrics.counterfactual import byar_limits, with_limits
from metrics.disclosure import SUPPRESSED, published
from metrics.published import PUBLISHED_RULES

COUNTS = st.integers(0, 60)


def shown_counts_are_safe(frame: pl.DataFrame, table: str) -> None:
    for count in PUBLISHED_RULES[table].counts:
        for value in frame[count.column].to_list():
            assert value in (None, SUPPRESSED, "0") or (int(value) % 5 == 0 and int(value) >= 8), (count.column, value)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(COUNTS, st.floats(0, 80)), min_size=2, max_size=2), st.integers(0, 400), st.integers(0, 400))
def test_counterfactual_activity_published_copy(cells, north_population, south_population):
    rows = []
    for month in (dt.date(2024, 5, 1),):
        for (observed, expected), code, population in zip(cells, ("north", "south"), (north_population, south_population)):
            rows.append({"neighbourhood_code": code, "observed": observed, "expected": expected, "population": population})
        rows.append({"neighbourhood_code": "ALL", "observed": sum(c[0] for c in cells), "expected": sum(c[1] for c in cells),
                     "population": north_population + south_population})
    frame = with_limits(pl.DataFrame(rows)).with_columns(
        month=pl.lit(dt.date(2024, 5, 1)), measure=pl.lit("emergency_admissions"), age_group=pl.lit("all"),
        method=pl.lit("population_standardised"), go_live_date=pl.lit(None, pl.Date), after_go_live=pl.lit(None, pl.Boolean),
    )
    copy = published("counterfactual_activity", frame)
    shown_counts_are_safe(copy, "counterfactual_activity")
    for row in copy.iter_rows(named=True):
        if row["observed"] == SUPPRESSED:
            assert all(row[c] == SUPPRESSED for c in ("avoided", "observed_lower", "observed_upper", "avoided_lower", "expected_lower"))
            continue
        # from the published observed count and the expected figure (shown to 1 decimal)
        observed, expected = int(row["observed"]), float(row["expected"])
        lower, upper = byar_limits([observed])
        assert float(row["avoided"]) == pytest.approx(expected - observed, abs=0.11)
        assert float(row["observed_upper"]) == round(float(upper[0]), 1)
        assert float(row["avoided_lower"]) == pytest.approx(expected - float(upper[0]), abs=0.11)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(COUNTS, COUNTS, COUNTS, COUNTS), min_size=3, max_size=3))
def test_social_care_profile_published_copy(groups):
    rows = []
    for code in ("north", "ALL"):
        for name, (people, requests, reviews, unplanned) in zip(("himsu", "hiu_not_himsu", "rest"), groups):
            in_care = people if name == "rest" else people // 2
            repeat = min(in_care, requests // 2)
            rows.append({"neighbourhood_code": code, "group": name, "people": people, "people_in_social_care": in_care,
                         "people_in_social_care_pct": None, "requests": requests if in_care else 0,
                         "repeat_request_people": repeat if in_care else 0, "repeat_request_pct": None,
                         "reviews": reviews if in_care else 0, "unplanned_reviews": min(unplanned, reviews) if in_care else 0,
                         "unplanned_review_pct": None})
    copy = published("social_care_profile", pl.DataFrame(rows))
    shown_counts_are_safe(copy, "social_care_profile")
    for row in copy.iter_rows(named=True):
        if SUPPRESSED in (row["unplanned_reviews"], row["reviews"]):
            assert row["unplanned_review_pct"] in (SUPPRESSED, None)
