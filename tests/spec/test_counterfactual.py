"""Counterfactual activity (domain.md, Derbyshire): the population denominator, observed activity by
neighbourhood of registration, indirect standardisation, Byar's limits, the months reported, and
the interrupted time series; each rule on tiny hand-made tables."""

import datetime as dt

import duckdb
import numpy as np
import polars as pl
import pytest

from metrics.counterfactual import (
    ALL, BaselineError, baseline_months, build_completeness, build_counterfactual_cells, build_population_standardised,
    byar_limits, plan_months, series_sql, with_limits,
)
from metrics.its import fit_segmented
from metrics.population import build_monthly_population

D = dt.date


def months(first: D, count: int) -> list[D]:
    return [D(first.year + (first.month - 1 + i) // 12, (first.month - 1 + i) % 12 + 1, 1) for i in range(count)]


# --- Byar's limits: the worked examples of domain.md (OHID Fingertips technical guidance) --------


@pytest.mark.parametrize(
    "observed, expected, limits, ratio",
    [(50, 40, (37.108, 65.920), (0.9277, 1.6480)), (2300, 2600, (2206.954, 2395.961), (0.8488, 0.9215))],
)
def test_byar_limits_match_the_worked_examples(observed, expected, limits, ratio):
    lower, upper = byar_limits(np.array([observed]))
    assert (round(lower[0], 3), round(upper[0], 3)) == limits
    assert (round(lower[0] / expected, 4), round(upper[0] / expected, 4)) == ratio


def test_byar_lower_limit_of_nothing_is_nothing():
    lower, upper = byar_limits(np.array([0, 1]))
    assert lower[0] == 0 and 3.6 < upper[0] < 3.8 and 0 < lower[1] < 1


def test_limits_of_expected_and_avoided_follow_domain_md():
    frame = with_limits(pl.DataFrame({"observed": [50, 0], "expected": [40.0, 3.0]}))
    row, none = frame.row(0, named=True), frame.row(1, named=True)
    assert row["avoided"] == -10
    assert round(row["expected_lower"], 2) == round(40 * 50 / 65.920, 2) and round(row["expected_upper"], 2) == round(40 * 50 / 37.108, 2)
    assert round(row["avoided_lower"], 3) == round(40 - 65.920, 3) and round(row["avoided_upper"], 3) == round(40 - 37.108, 3)
    assert none["expected_upper"] is None and none["expected_lower"] == 0  # nothing observed: no upper limit


# --- the months -------------------------------------------------------------------------------


def test_the_baseline_is_the_first_whole_year_and_rows_follow_it():
    months_ = plan_months(D(2025, 3, 31), D(2022, 4, 1), None)
    assert (months_.baseline_first, months_.baseline_last, months_.last, months_.reported) == (
        D(2022, 4, 1), D(2023, 3, 1), D(2025, 3, 1), 24)
    assert baseline_months(D(2022, 4, 15)) == (D(2022, 5, 1), D(2023, 4, 1))  # a part month is not a month
    assert plan_months(D(2025, 3, 30), D(2022, 4, 1), None).last == D(2025, 2, 1)  # March is not over on the 30th


def test_a_baseline_the_data_do_not_cover_fails_saying_so():
    with pytest.raises(BaselineError, match="before the first whole month"):
        plan_months(D(2025, 3, 31), D(2022, 4, 1), D(2021, 1, 1))
    with pytest.raises(BaselineError, match="no month after its baseline"):
        plan_months(D(2025, 3, 31), D(2022, 4, 1), D(2024, 6, 1))
    assert plan_months(D(2023, 3, 31), D(2022, 4, 1), None) is None  # 12 months of data: nothing after the baseline


# --- the population month by month --------------------------------------------------------------


def population_connection(people: list[dict]) -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect()
    conn.execute("CREATE TABLE stg_practices AS SELECT 'P1' AS practice_code, 'north' AS neighbourhood_code")
    base = {"sex": "F", "birth_year": 1950, "birth_month": 6, "practice_code": "P1", "registration_start": D(2000, 1, 1),
            "registration_end": None, "date_of_death": None}
    rows = [{"person_id": f"p{i}", **base, **person} for i, person in enumerate(people)]
    conn.register("people", pl.DataFrame(rows, schema={
        "person_id": pl.String, "sex": pl.String, "birth_year": pl.Int64, "birth_month": pl.Int64, "practice_code": pl.String,
        "registration_start": pl.Date, "registration_end": pl.Date, "date_of_death": pl.Date}))
    conn.execute("CREATE TABLE stg_population AS SELECT * FROM people")
    return conn


def test_population_counts_people_on_each_months_first_day_at_their_age_then():
    conn = population_connection([
        {},  # 74 until June 2025, then 75
        {"registration_start": D(2025, 2, 1)},  # counted from February
        {"registration_start": D(2025, 2, 2)},  # from March (not in on 1 February)
        {"date_of_death": D(2025, 3, 1)},  # gone on the day she died
        {"registration_end": D(2025, 2, 15)},  # moved away
    ])
    build_monthly_population(conn, D(2025, 1, 1), D(2025, 7, 1))
    rows = conn.execute("SELECT month, age_band, population FROM monthly_population ORDER BY 1, 2").fetchall()
    assert rows == [
        (D(2025, 1, 1), "70-74", 3), (D(2025, 2, 1), "70-74", 4), (D(2025, 3, 1), "70-74", 3),
        (D(2025, 4, 1), "70-74", 3), (D(2025, 5, 1), "70-74", 3), (D(2025, 6, 1), "75-79", 3), (D(2025, 7, 1), "75-79", 3),
    ]


# --- indirect standardisation ---------------------------------------------------------------------


def standardised(baseline_population: int, later_population: int, baseline_activity: int, later_activity: int,
                 age_band: str = "75-79") -> pl.DataFrame:
    """One neighbourhood, one cell: a baseline year then a year, activity spread evenly over months."""
    conn = duckdb.connect()
    rows = []
    for i, month in enumerate(months(D(2022, 4, 1), 24)):
        later = month >= D(2023, 4, 1)
        total = later_activity if later else baseline_activity
        rows.append({"neighbourhood_code": "north", "month": month, "sex": "F", "age_band": age_band,
                     "population": later_population if later else baseline_population,
                     "emergency_admissions": total // 12 + (total % 12 if i % 12 == 11 else 0)})
    frame = pl.DataFrame(rows)
    conn.register("frame", frame)
    conn.execute("CREATE TABLE monthly_population AS SELECT neighbourhood_code, month, sex, age_band, population FROM frame")
    conn.execute(
        "CREATE TABLE monthly_neighbourhood_activity AS SELECT neighbourhood_code, month, sex, age_band, "
        "emergency_admissions, 0 AS ed_attendances, 0 AS short_stay_admissions, "
        "0 AS emergency_bed_days, 0 AS ambulance_arrivals FROM frame"
    )
    build_counterfactual_cells(conn)
    build_population_standardised(conn, D(2022, 4, 1), D(2024, 3, 1))
    return conn.sql(
        "SELECT age_group, sum(observed)::BIGINT AS observed, sum(expected) AS expected FROM counterfactual_standardised "
        "WHERE neighbourhood_code = 'north' AND measure = 'emergency_admissions' GROUP BY 1 ORDER BY 1"
    ).pl()


def test_derbyshire_over_75s_grew_12_8_percent_and_admissions_6_percent():
    """domain.md: 'a prevention of approximately 2,300 ED attendances and 1,600 non-elective
    admissions' on baselines of about 27,700 and 23,500."""
    for baseline, growth, published in ((23_500, 1.06, 1_600), (27_700, 1.045, 2_300)):
        rows = standardised(10_000, 11_280, baseline, round(baseline * growth)).rows_by_key("age_group", named=True, unique=True)
        avoided = rows["75+"]["expected"] - rows["75+"]["observed"]
        assert rows["75+"]["expected"] == pytest.approx(baseline * 1.128, rel=1e-9)
        assert abs(avoided - published) < 50, avoided
        assert rows["all"] == rows["75+"] and rows["65+"] == rows["75+"]


def test_a_young_cell_is_in_no_older_age_group_whose_rows_are_zeros():
    rows = standardised(1000, 1000, 120, 120, age_band="40-44").rows_by_key("age_group", named=True, unique=True)
    assert rows["all"]["observed"] == 120 and rows["all"]["expected"] == pytest.approx(120)
    assert (rows["65+"]["observed"], rows["65+"]["expected"], rows["75+"]["observed"], rows["75+"]["expected"]) == (0, 0, 0, 0)


def test_sparse_cells_are_shrunk_towards_the_areas_rate():
    """A neighbourhood of one person with 12 admissions in the baseline year does not expect 12 a
    year from everyone it later has: its rate leans on the area's."""
    conn = duckdb.connect()
    rows = []
    for month in months(D(2022, 4, 1), 24):
        rows.append({"neighbourhood_code": "tiny", "month": month, "population": 1 if month < D(2023, 4, 1) else 100,
                     "emergency_admissions": 1 if month < D(2023, 4, 1) else 0})
        rows.append({"neighbourhood_code": "big", "month": month, "population": 10_000, "emergency_admissions": 20})
    frame = pl.DataFrame(rows).with_columns(sex=pl.lit("M"), age_band=pl.lit("80-84"))
    conn.register("frame", frame)
    conn.execute("CREATE TABLE monthly_population AS SELECT neighbourhood_code, month, sex, age_band, population FROM frame")
    conn.execute(
        "CREATE TABLE monthly_neighbourhood_activity AS SELECT neighbourhood_code, month, sex, age_band, emergency_admissions, "
        "0 AS ed_attendances, 0 AS short_stay_admissions, 0 AS emergency_bed_days, 0 AS ambulance_arrivals FROM frame"
    )
    build_counterfactual_cells(conn)
    build_population_standardised(conn, D(2022, 4, 1), D(2024, 3, 1))
    expected = dict(conn.execute(
        "SELECT neighbourhood_code, sum(expected) FROM counterfactual_standardised WHERE measure = 'emergency_admissions' "
        "AND age_group = 'all' GROUP BY 1"
    ).fetchall())
    own_rate, area_rate = 1.0, 240 / (12 * 10_000)
    assert area_rate * 1200 < expected["tiny"] < own_rate * 1200 / 10  # far nearer the area's rate than its own
    assert expected["big"] == pytest.approx(240, rel=0.01)
    assert expected[ALL] == pytest.approx(expected["tiny"] + expected["big"])


# --- bed days still filling in ---------------------------------------------------------------------


def spells_connection(spells: list[tuple[D, D | None]]) -> duckdb.DuckDBPyConnection:
    """One woman (70-74 through the baseline) with these emergency spells (admitted, discharged)."""
    conn = population_connection([{}])
    conn.register("spells", pl.DataFrame(
        [{"person_id": "p0", "service": "admission", "emergency": True, "event_date": admitted, "event_end_date": discharged,
          "length_of_stay_days": None if discharged is None else (discharged - admitted).days}
         for admitted, discharged in spells],
        schema={"person_id": pl.String, "service": pl.String, "emergency": pl.Boolean, "event_date": pl.Date,
                "event_end_date": pl.Date, "length_of_stay_days": pl.Int64}))
    conn.execute("CREATE TABLE person_events AS SELECT * FROM spells")
    return conn


def test_a_months_bed_days_are_as_complete_as_the_baselines_were_as_long_after():
    """Of a baseline March's spells, those discharged by the baseline's data end moved on by as many
    months as the reported March is after the baseline's: the share of its bed days the data could
    show so far. A month long enough ago is whole; a month the baseline had no bed days in, too."""
    conn = spells_connection([
        (D(2023, 3, 5), D(2023, 3, 8)),     # 3 days, home a week into March
        (D(2023, 3, 20), D(2023, 4, 9)),    # 20 days, home in April
        (D(2023, 2, 10), D(2023, 4, 11)),   # 60 days from February
        (D(2022, 12, 1), None),             # still in hospital: no length, no part
    ])
    build_completeness(conn, D(2022, 4, 1), D(2025, 3, 1), data_end=D(2025, 3, 31))
    share = dict(conn.execute("SELECT month, completeness FROM counterfactual_completeness WHERE age_band = '70-74'").fetchall())
    assert share[D(2025, 3, 1)] == pytest.approx(3 / 23)  # 24 months on: 2023-04-09 + 24 months is after the end
    assert share[D(2024, 3, 1)] == 1.0  # 12 months on: both home by then
    assert share[D(2025, 2, 1)] == 0.0  # a 60-day stay from 10 February is not over by 31 March
    assert share[D(2024, 2, 1)] == 1.0
    assert D(2024, 12, 1) not in share and D(2025, 1, 1) not in share  # no bed days to go by: taken as whole


def test_expected_bed_days_of_a_month_still_filling_in_are_what_can_be_known():
    conn = duckdb.connect()
    rows = [{"neighbourhood_code": "north", "month": month, "sex": "F", "age_band": "80-84", "population": 1000,
             "emergency_bed_days": 100} for month in months(D(2022, 4, 1), 24)]
    conn.register("frame", pl.DataFrame(rows))
    conn.execute("CREATE TABLE monthly_population AS SELECT neighbourhood_code, month, sex, age_band, population FROM frame")
    conn.execute(
        "CREATE TABLE monthly_neighbourhood_activity AS SELECT neighbourhood_code, month, sex, age_band, emergency_bed_days, "
        "0 AS ed_attendances, 0 AS emergency_admissions, 0 AS short_stay_admissions, 0 AS ambulance_arrivals FROM frame"
    )
    conn.execute("CREATE TABLE completeness AS SELECT DATE '2024-03-01' AS month, '80-84' AS age_band, "
                 "'emergency_bed_days' AS measure, 0.25 AS completeness")
    build_counterfactual_cells(conn)
    build_population_standardised(conn, D(2022, 4, 1), D(2024, 3, 1), completeness="completeness")
    expected = dict(conn.execute(
        "SELECT month, expected FROM counterfactual_standardised WHERE neighbourhood_code = 'north' "
        "AND measure = 'emergency_bed_days' AND age_group = 'all'").fetchall())
    assert expected[D(2024, 3, 1)] == pytest.approx(25) and expected[D(2024, 2, 1)] == pytest.approx(100)
    exposure = dict(conn.execute(
        f"SELECT month, exposure FROM ({series_sql('counterfactual_cells', 'completeness')}) "
        "WHERE measure = 'emergency_bed_days' AND age_group = 'all'").fetchall())
    assert exposure[D(2024, 3, 1)] == pytest.approx(250) and exposure[D(2024, 2, 1)] == pytest.approx(1000)


# --- interrupted time series ----------------------------------------------------------------------


def simulated(effect: float, seed: int):
    rng = np.random.default_rng(seed)
    series = months(D(2022, 4, 1), 36)
    population = 200_000 * (1 + 0.002 * np.arange(36))
    t = np.arange(36)
    go_live = D(2024, 1, 1)
    after = np.array([m >= go_live for m in series])
    season = 0.1 * np.cos(2 * np.pi * np.array([m.month for m in series]) / 12)
    without = population * 0.004 * np.exp(0.002 * t + season)
    observed = rng.poisson(without * np.where(after, 1 - effect, 1))
    return fit_segmented(observed, population, series, go_live), observed, without, after


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_time_series_finds_a_level_change_put_into_it(seed):
    fit, observed, without, after = simulated(0.2, seed)
    assert fit.level_change == pytest.approx(0.8, abs=0.08)
    total, low, high = fit.total_interval(after, seed=seed)
    truth = without[after].sum()
    assert low < truth < high and abs(total - truth) / (truth - observed[after].sum()) < 0.35


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_time_series_finds_no_change_where_there_is_none(seed):
    fit, observed, _, after = simulated(0.0, seed)
    total, low, high = fit.total_interval(after, seed=seed)
    assert low < observed[after].sum() < high  # avoided's interval holds 0


def test_the_time_series_needs_a_year_before_and_three_months_after():
    series = months(D(2023, 4, 1), 24)
    assert fit_segmented(np.full(24, 50), np.full(24, 1e4), series, D(2024, 1, 1)) is None  # 9 months before
    assert fit_segmented(np.full(24, 50), np.full(24, 1e4), series, D(2025, 2, 1)) is None  # 2 months after
    assert fit_segmented(np.full(24, 50), np.full(24, 1e4), series, D(2024, 6, 1)) is not None


def test_the_interval_z_is_the_normal_quantile_to_the_last_bit():
    from scipy.stats import norm

    from metrics.counterfactual import Z

    assert Z == float(norm.ppf(0.975))
