"""Cohort follow-up (regression to the mean netted out) and the social care profile, on tiny
hand-made tables."""

import datetime as dt

import duckdb
import numpy as np
import polars as pl
import pytest

from cohorts.period import Period
from metrics.followup import build_cohort_followup, covered_cohorts
from metrics.social_care_profile import build_social_care_profile

D = dt.date


def followup(rows: list[tuple], go_live: dict) -> pl.DataFrame:
    conn = duckdb.connect()
    frame = pl.DataFrame(rows, schema=["cohort", "identified_on", "person_id", "neighbourhood_code", "before", "after"], orient="row")
    conn.register("people", frame)
    conn.execute("CREATE TABLE cohort_followup_people AS SELECT * FROM people")
    return build_cohort_followup(conn, go_live)


def cohort(name: str, code: str, pairs: list[tuple[int, int]], start: int = 0) -> list[tuple]:
    day = D(2024, 3, 31) if name == "current" else D(2023, 3, 31)
    return [(name, day, f"{name}{code}{start + i}", code, b, a) for i, (b, a) in enumerate(pairs)]


def test_a_fall_as_big_as_the_earlier_cohorts_is_no_net_change():
    rows = cohort("current", "north", [(10, 6)] * 20) + cohort("earlier", "north", [(10, 6)] * 20)
    row = followup(rows, {"north": None}).filter(pl.col("neighbourhood_code") == "north").row(0, named=True)
    assert (row["people"], row["activity_before"], row["activity_after"]) == (20, 200, 120)
    assert row["change_pct"] == pytest.approx(-40) and row["expected_change_pct"] == pytest.approx(-40)
    assert row["net_change_pct"] == pytest.approx(0)
    assert row["net_change_lower"] <= 0 <= row["net_change_upper"]


def test_a_fall_beyond_regression_to_the_mean_shows_with_its_interval():
    rng = np.random.default_rng(1)
    current = [(10, int(a)) for a in rng.poisson(4, 200)]  # -60%
    earlier = [(10, int(a)) for a in rng.poisson(7, 200)]  # -30%: what selection alone gives
    rows = cohort("current", "north", current) + cohort("earlier", "north", earlier)
    row = followup(rows, {"north": D(2024, 1, 1)}).filter(pl.col("neighbourhood_code") == "north").row(0, named=True)
    assert row["net_change_pct"] == pytest.approx(-30, abs=5)
    assert row["net_change_lower"] < row["net_change_pct"] < row["net_change_upper"] < 0


def test_a_cohort_most_of_whom_had_nothing_before_gets_no_interval_and_the_card_says_why(recwarn):
    """Three people, two with no activity before: some resamples have no activity before at all, so
    no change to measure. No interval (not a half-computed one), no warning, and the card says why."""
    from cohorts.hiu import Thresholds
    from metrics.cards import cohort_followup_card

    rows = (cohort("current", "north", [(0, 1), (0, 2), (4, 1)]) + cohort("earlier", "north", [(3, 1)] * 30)
            + cohort("current", "south", [(3, 1), (3, 0)] * 15) + cohort("earlier", "south", [(3, 2), (3, 1)] * 15))
    frame = followup(rows, {"north": None, "south": None})
    north, south = (frame.filter(pl.col("neighbourhood_code") == c).row(0, named=True) for c in ("north", "south"))
    assert north["net_change_pct"] is not None and north["net_change_lower"] is None and north["net_change_upper"] is None
    assert south["net_change_lower"] < south["net_change_pct"] < south["net_change_upper"]  # the rest still has one
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)], [str(w.message) for w in recwarn]
    card = cohort_followup_card(frame.with_columns(pl.exclude("live_through_followup").cast(pl.String)), D(2025, 3, 31), Thresholds())
    assert "| north | no | 3 |" in card and "(no interval) |" in card
    assert "too few people in a cohort had any unplanned activity in the 12 months before" in card


def test_a_few_resamples_with_nothing_before_still_give_an_interval():
    """25 people, 20 of them with nothing before: about 4 of 999 resamples draw only those 20, an
    infinite rise. Under 2.5% of them, they sit in the top tail and the limits stay finite."""
    rows = (cohort("current", "north", [(0, 1)] * 20 + [(3, 1)] * 5)
            + cohort("earlier", "north", [(3, 1), (3, 2)] * 15))
    north = followup(rows, {"north": None}).filter(pl.col("neighbourhood_code") == "north").row(0, named=True)
    assert north["net_change_lower"] is not None and north["net_change_upper"] is not None
    assert north["net_change_lower"] < north["net_change_pct"] < north["net_change_upper"]


def test_live_neighbourhoods_are_compared_with_those_not_live():
    rows = (cohort("current", "live", [(10, 5)] * 30) + cohort("earlier", "live", [(10, 7)] * 30)
            + cohort("current", "waiting", [(10, 7)] * 30) + cohort("earlier", "waiting", [(10, 7)] * 30))
    frame = followup(rows, {"live": D(2023, 6, 1), "waiting": None})
    live, waiting, whole = (frame.filter(pl.col("neighbourhood_code") == c).row(0, named=True) for c in ("live", "waiting", "ALL"))
    assert live["live_through_followup"] is True and waiting["live_through_followup"] is False
    assert live["net_change_pct"] == pytest.approx(-20) and waiting["net_change_pct"] == pytest.approx(0)
    assert live["net_change_vs_not_live_pct"] == pytest.approx(-20) and waiting["net_change_vs_not_live_pct"] is None
    assert whole["people"] == 60 and whole["net_change_vs_not_live_pct"] == pytest.approx(-20)


def test_a_cohort_needs_the_year_before_it_covered():
    assert covered_cohorts(D(2025, 3, 31), D(2022, 4, 1)) == ("current", "earlier")
    assert covered_cohorts(D(2025, 3, 31), D(2022, 5, 1)) == ("current",)
    assert covered_cohorts(D(2025, 3, 31), D(2023, 5, 1)) == ()
    assert followup([], {}).height == 0


# --- social care profile ------------------------------------------------------------------------


def test_social_care_profile_counts_each_group_and_the_rest_of_social_care():
    conn = duckdb.connect()
    conn.execute("""CREATE TABLE person_intensity AS SELECT * FROM (VALUES
        ('h1', 'north', 2, true), ('h2', 'north', 2, true), ('u1', 'north', 1, false), ('r1', 'north', 0, false),
        ('r2', 'north', 0, false), ('n1', 'north', 0, false)) t(person_id, neighbourhood_code, high_intensity_services, himsu)""")
    events = [
        ("h1", "2024-05-01", "Request", None, None), ("h1", "2024-06-01", "Request", None, None),
        ("h1", "2024-07-01", "Review", None, True), ("h1", "2024-08-01", "Review", None, False),
        ("u1", "2023-01-01", "Service", None, None),  # open through the window: in social care, no request
        ("r1", "2024-05-01", "Request", None, None), ("r1", "2024-09-01", "Review", None, False),
        ("r2", "2023-05-01", "Request", None, None),  # before the window: not in social care
        ("n1", "2024-05-01", "Assessment", None, None),  # any event in the window counts
    ]
    conn.register("e", pl.DataFrame(
        [(p, D.fromisoformat(d), "social_care", t, end, u) for p, d, t, end, u in events],
        schema={"person_id": pl.String, "event_date": pl.Date, "service": pl.String, "event_type": pl.String,
                "event_end_date": pl.Date, "unplanned": pl.Boolean}, orient="row"))
    conn.execute("CREATE TABLE person_events AS SELECT * FROM e")
    build_social_care_profile(conn, Period(D(2025, 3, 31)))
    rows = conn.sql("SELECT * FROM social_care_profile WHERE neighbourhood_code = 'north'").pl().rows_by_key("group", named=True, unique=True)
    assert (rows["himsu"]["people"], rows["himsu"]["people_in_social_care"], rows["himsu"]["requests"],
            rows["himsu"]["repeat_request_people"], rows["himsu"]["reviews"], rows["himsu"]["unplanned_reviews"]) == (2, 1, 2, 1, 2, 1)
    assert rows["himsu"]["repeat_request_pct"] == 100 and rows["himsu"]["unplanned_review_pct"] == 50
    assert (rows["hiu_not_himsu"]["people"], rows["hiu_not_himsu"]["people_in_social_care"]) == (1, 1)
    assert (rows["rest"]["people"], rows["rest"]["people_in_social_care"], rows["rest"]["requests"]) == (2, 2, 1)
    whole = conn.sql("SELECT sum(people) FROM social_care_profile WHERE neighbourhood_code = 'ALL'").fetchall()[0][0]
    assert whole == 5


def test_the_followup_card_says_a_fall_is_not_an_effect_and_shows_the_published_figures():
    from cohorts.hiu import Thresholds
    from metrics.cards import cohort_followup_card
    from metrics.disclosure import published

    rows = (cohort("current", "north", [(3, 1)] * 40) + cohort("earlier", "north", [(3, 1)] * 30)
            + cohort("current", "south", [(4, 2)] * 3) + cohort("earlier", "south", [(4, 2)] * 3))
    safe = published("cohort_followup", followup(rows, {"north": None, "south": None}))
    card = cohort_followup_card(safe, D(2025, 3, 31), Thresholds())
    assert "is not, on its own, an effect of the programme" in card and "regression to the mean" in card
    north = safe.filter(pl.col("neighbourhood_code") == "north").row(0, named=True)
    assert f"| north | no | {north['people']} | {north['change_pct']} |" in card
    assert "| south | no | * |" in card  # 3 people: hidden in the card as in the published file


def test_the_followup_interval_is_the_ordinary_bootstrap_of_people():
    """The interval resamples counts of distinct (before, after) pairs, which is resampling people
    with replacement exactly: scipy's own bootstrap of the people gives the same interval, up to the
    resampling noise of 999 resamples."""
    from scipy.stats import bootstrap

    from metrics.followup import _interval

    rng = np.random.default_rng(3)
    current = (rng.poisson(3, 400).astype(float), rng.poisson(2, 400).astype(float))
    earlier = (rng.poisson(3, 300).astype(float), rng.poisson(2.5, 300).astype(float))

    def change(b, a, axis=-1):
        return 100 * (a.sum(axis=axis) - b.sum(axis=axis)) / b.sum(axis=axis)

    ours = _interval([current, earlier], lambda c, e: c - e)
    picked = [np.arange(400), np.arange(300)]
    theirs = bootstrap(picked, lambda i, j, axis=-1: change(*[x[i] for x in current], axis) - change(*[x[j] for x in earlier], axis),
                       n_resamples=9999, method="percentile", vectorized=True, random_state=np.random.default_rng(1)).confidence_interval
    width = theirs.high - theirs.low
    assert abs(ours[0] - theirs.low) < 0.1 * width and abs(ours[1] - theirs.high) < 0.1 * width, (ours, theirs)
