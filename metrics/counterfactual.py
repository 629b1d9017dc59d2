"""Counterfactual activity: how much activity each neighbourhood would have had, month by month, if
its baseline rates had held for its population as it is now (domain.md, Derbyshire).

Observed activity (`build_neighbourhood_activity`): the measures of `cohorts.events` (contract
counting) by neighbourhood, calendar month, sex and five-year age band, each event counted in the
neighbourhood of the practice its person was registered with on the event's date, the person aged
on the month's first day (as the population of `metrics.population` is).

Expected activity, `population_standardised` (`build_population_standardised`): indirect
standardisation. The baseline is the 12 whole months from `HIU_BASELINE_START`. Each
neighbourhood's rate for each sex and age band is its baseline activity over its person-months,
shrunk towards the whole area's rate for that sex and band by `PRIOR_PERSON_MONTHS` (a cell of 100
people for the year is half its own rate, half the area's; one of thousands nearly all its own).
The month of year enters through the area's baseline pattern (its activity in each month against
what its year-round rates give for that month's population), so a January is compared with the
baseline January without resting on one month of one small cell. Expected = rate x month factor x
each later month's population, summed over the cells of an age group; for bed days of the last
months, whose stays are still ending, times the share the baseline's would have shown as long after
it (`build_completeness`). 95% limits by Byar's method on the observed count with expected fixed
(`byar_limits`).

Every row is an aggregate over a neighbourhood's population; no person's row leaves the warehouse.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb
import numpy as np
import polars as pl

from cohorts.events import counted_by_any_measure, measure_columns
from cohorts.period import month_end, month_start, months_before, sql_date
from cohorts.register import in_population_on
from metrics.population import AGE_GROUPS, UNKNOWN_AGE, age_band_sql, age_on, band_youngest_sql, months_sql
from pipeline.duck import row_count
from schemas.sql_rules import quote_literal


def exact_sum(expression: str) -> str:
    """SQL: the sum of a DOUBLE expression, added up in fixed point (12 decimal places) so that the
    order the engine's threads add the rows in cannot change the last digits: a rerun on the same
    data writes the same bytes."""
    return f"sum(({expression})::DECIMAL(38, 12))::DOUBLE"

ALL = "ALL"
COUNTERFACTUAL_MEASURES = (
    "ed_attendances", "emergency_admissions", "short_stay_admissions", "emergency_bed_days", "ambulance_arrivals",
)
POPULATION_STANDARDISED, INTERRUPTED_TIME_SERIES = "population_standardised", "interrupted_time_series"
BASELINE_MONTHS = 12
PRIOR_PERSON_MONTHS = 1200.0  # 100 people for a year
Z = 1.959963984540054  # scipy.stats.norm.ppf(0.975), to the last bit (a test holds it)


def baseline_months(baseline_start: dt.date) -> tuple[dt.date, dt.date]:
    """First days of the baseline's first and last months: the 12 whole months from the start (a
    start within a month begins at the next month's first day)."""
    first = baseline_start if baseline_start.day == 1 else month_end(baseline_start) + dt.timedelta(days=1)
    return first, months_before(first, -(BASELINE_MONTHS - 1))


class BaselineError(ValueError):
    """The baseline asked for (HIU_BASELINE_START) is not covered by the activity data."""


@dataclass(frozen=True)
class Months:
    """The months of the counterfactual metrics: the baseline's first and last, and the last month
    reported (the last the as-of date covers whole). Rows cover the months after the baseline."""

    baseline_first: dt.date
    baseline_last: dt.date
    last: dt.date

    @property
    def reported(self) -> int:
        return max(months_between(self.baseline_last, self.last), 0)


def months_between(first: dt.date, later: dt.date) -> int:
    return (later.year - first.year) * 12 + later.month - first.month


def plan_months(as_of: dt.date, data_start: dt.date | None, baseline_start: dt.date | None) -> Months | None:
    """The months for this run, None when the data hold no month after a whole baseline year.
    Raises BaselineError when HIU_BASELINE_START asks for a baseline the data do not cover."""
    if data_start is None:
        return None
    first_whole = data_start if data_start.day == 1 else month_end(data_start) + dt.timedelta(days=1)
    start = baseline_start or first_whole
    first, last = baseline_months(start)
    if first < first_whole:
        raise BaselineError(
            f"HIU_BASELINE_START {start} asks for a baseline from {first}, before the first whole month every activity "
            f"feed covers ({first_whole}): use {first_whole} or later"
        )
    reported = last_whole_month(as_of)
    if months_between(last, reported) < 1:
        if baseline_start is not None:
            raise BaselineError(
                f"HIU_BASELINE_START {start} leaves no month after its baseline ({first} to {month_end(last)}) up to "
                f"the as-of date {as_of}"
            )
        return None
    return Months(first, last, reported)


def last_whole_month(as_of: dt.date) -> dt.date:
    """The first day of the last month the as-of date covers whole."""
    return month_start(as_of) if as_of == month_end(as_of) else month_start(month_start(as_of) - dt.timedelta(days=1))


def person_activity_sql(
    first_month: dt.date, last_month: dt.date, events: str = "person_events", population: str = "stg_population",
    practices: str = "stg_practices",
) -> str:
    """SQL: person_id, neighbourhood_code, month, sex, age_band and each of `COUNTERFACTUAL_MEASURES`,
    per person and month from `first_month` to `last_month`: each event in the neighbourhood of the
    practice its person was registered with on its date, the person aged on the month's first day."""
    window = f"e.event_date BETWEEN {sql_date(month_start(first_month))} AND {sql_date(month_end(last_month))}"
    month = "CAST(date_trunc('month', e.event_date) AS DATE)"
    return f"""
        SELECT e.person_id, pr.neighbourhood_code, {month} AS month, coalesce(p.sex, 'U') AS sex,
               {age_band_sql(age_on(month))} AS age_band,
               {measure_columns(measures=COUNTERFACTUAL_MEASURES)}
        FROM {events} e
        JOIN {population} p USING (person_id)
        JOIN {practices} pr USING (practice_code)
        WHERE {window} AND ({counted_by_any_measure(COUNTERFACTUAL_MEASURES)}) AND {in_population_on('e.event_date')}
        GROUP BY ALL
    """


def build_neighbourhood_activity(
    conn: duckdb.DuckDBPyConnection,
    first_month: dt.date,
    last_month: dt.date,
    events: str = "person_events",
    population: str = "stg_population",
    practices: str = "stg_practices",
    table: str = "monthly_neighbourhood_activity",
) -> int:
    """`table`: neighbourhood_code, month, sex, age_band and each of `COUNTERFACTUAL_MEASURES`."""
    sums = ", ".join(f"sum({m})::BIGINT AS {m}" for m in COUNTERFACTUAL_MEASURES)
    conn.execute(
        f"""
        CREATE OR REPLACE TABLE {table} AS
        SELECT neighbourhood_code, month, sex, age_band, {sums}
        FROM ({person_activity_sql(first_month, last_month, events, population, practices)})
        GROUP BY ALL
        ORDER BY neighbourhood_code, month, sex, age_band
        """
    )
    return row_count(conn, table)


def _person_squares_sql(activity: str, groups: str) -> str:
    """SQL over `activity` (person-level rows with the measure columns): per `groups` and measure,
    the sum over people of the square of their activity (their own total within the group)."""
    per_person = ", ".join(f"sum({m}) AS {m}" for m in COUNTERFACTUAL_MEASURES)
    return f"""
        WITH people AS (SELECT {groups}, person_id, {per_person} FROM {activity} GROUP BY ALL),
        long AS (UNPIVOT people ON {", ".join(COUNTERFACTUAL_MEASURES)} INTO NAME measure VALUE activity)
        SELECT {groups}, measure, sum(activity * activity)::DOUBLE AS squares FROM long GROUP BY ALL
    """


def build_baseline_squares(
    conn: duckdb.DuckDBPyConnection,
    baseline_start: dt.date,
    events: str = "person_events",
    population: str = "stg_population",
    practices: str = "stg_practices",
    table: str = "counterfactual_baseline_squares",
) -> int:
    """`table`: neighbourhood_code, sex, age_band, measure, squares: each baseline cell's sum over
    people of their baseline activity squared, the variance of the cell's count when people, not
    events, are what vary (a person with 12 admissions in the baseline year may have none the next)."""
    first, last = baseline_months(baseline_start)
    conn.execute(
        f"""
        CREATE OR REPLACE TABLE {table} AS
        SELECT * FROM ({_person_squares_sql(f"({person_activity_sql(first, last, events, population, practices)})",
                                            "neighbourhood_code, sex, age_band")})
        ORDER BY ALL
        """
    )
    return row_count(conn, table)


# Measures whose latest months are still filling in on the day the data end: a spell's bed days are
# known only once it is discharged (an open spell adds 0), so a month just before that day holds
# fewer bed days than it will. Its expected is made as incomplete, like with like (see below).
STILL_FILLING_IN = ("emergency_bed_days",)


def build_completeness(
    conn: duckdb.DuckDBPyConnection,
    baseline_start: dt.date,
    last_month: dt.date,
    data_end: dt.date,
    events: str = "person_events",
    population: str = "stg_population",
    table: str = "counterfactual_completeness",
) -> int:
    """`table`: month, age_band, measure, completeness: for every reported month (after the
    baseline, to `last_month`) and measure of `STILL_FILLING_IN`, the share of the baseline's bed
    days in the same month of year, by age band (stays lengthen with age), that would have been known
    as many months after the baseline's data end (`data_end`, the last day the admissions feed
    covers) as the month is after the baseline month: of an April 2022 spell, the bed days known by
    31 March 2023 stand for an April 2023 spell's known by 31 March 2024. Expected activity in a
    month times this is what the data can show of it so far; 1 for months long enough ago."""
    first, last = baseline_months(baseline_start)
    reported_first = months_before(last, -1)
    if reported_first > last_month:
        conn.execute(f"CREATE OR REPLACE TABLE {table} (month DATE, age_band VARCHAR, measure VARCHAR, completeness DOUBLE)")
        return 0
    baseline_month = "CAST(date_trunc('month', e.event_date) AS DATE)"
    branches = " UNION ALL ".join(
        f"""SELECT r.month, s.age_band, '{measure}' AS measure,
                   coalesce(coalesce(sum(s.{measure}) FILTER (
                       WHERE s.ended + to_months(datediff('month', s.baseline_month, r.month)) <= {sql_date(data_end)}
                   ), 0) / nullif(sum(s.{measure}), 0), 1.0) AS completeness
            FROM reported r JOIN spells s ON month(s.baseline_month) = month(r.month)
            GROUP BY ALL"""
        for measure in STILL_FILLING_IN
    )
    conn.execute(
        f"""
        CREATE OR REPLACE TABLE {table} AS
        WITH spells AS (
            SELECT {baseline_month} AS baseline_month, {age_band_sql(age_on(baseline_month))} AS age_band,
                   e.event_end_date AS ended, {measure_columns(measures=STILL_FILLING_IN)}
            FROM {events} e JOIN {population} p USING (person_id)
            WHERE e.event_date BETWEEN {sql_date(first)} AND {sql_date(month_end(last))}
              AND e.event_end_date IS NOT NULL AND ({counted_by_any_measure(STILL_FILLING_IN)})
              AND {in_population_on('e.event_date')}
            GROUP BY ALL
        ),
        reported AS ({months_sql(reported_first, last_month)})
        {branches}
        ORDER BY ALL
        """
    )
    return row_count(conn, table)


def _age_group_filter(group: str) -> str:
    youngest = AGE_GROUPS[group]
    if youngest == 0:
        return "TRUE"
    return f"age_band <> '{UNKNOWN_AGE}' AND {band_youngest_sql('age_band')} >= {youngest}"


def build_counterfactual_cells(
    conn: duckdb.DuckDBPyConnection,
    activity: str = "monthly_neighbourhood_activity",
    population: str = "monthly_population",
    table: str = "counterfactual_cells",
) -> int:
    """`table`: neighbourhood_code, month, sex, age_band, measure, population, observed: one row per
    population cell and measure (a cell with activity but nobody in it on the month's first day, a
    person registered later that month, keeps its activity with a population of 0)."""
    filled = ", ".join(f"coalesce(a.{m}, 0) AS {m}" for m in COUNTERFACTUAL_MEASURES)
    conn.execute(
        f"""
        CREATE OR REPLACE TABLE {table} AS
        WITH cells AS (
            SELECT neighbourhood_code, month, sex, age_band, coalesce(p.population, 0) AS population, {filled}
            FROM {population} p FULL JOIN {activity} a USING (neighbourhood_code, month, sex, age_band)
        )
        UNPIVOT cells ON {", ".join(COUNTERFACTUAL_MEASURES)} INTO NAME measure VALUE observed
        """
    )
    return row_count(conn, table)


def age_groups_sql(cells: str) -> str:
    """SQL: the rows of `cells` once per age group they belong to, with column age_group."""
    return " UNION ALL ".join(
        f"SELECT '{group}' AS age_group, * FROM {cells} WHERE {_age_group_filter(group)}" for group in AGE_GROUPS
    )


def series_sql(cells: str = "counterfactual_cells", completeness: str | None = None) -> str:
    """SQL: neighbourhood_code, month, measure, age_group, population, observed and exposure (the
    population, times the month's `completeness` where given), every month of the cells."""
    exposed = (
        f"(SELECT l.*, l.population * coalesce(c.completeness, 1) AS exposure FROM {cells} l "
        f"LEFT JOIN {completeness} c USING (month, age_band, measure))"
        if completeness else f"(SELECT *, population AS exposure FROM {cells})"
    )
    return f"""
        SELECT neighbourhood_code, month, measure, age_group, sum(population)::BIGINT AS population,
               sum(observed)::BIGINT AS observed, {exact_sum("exposure")} AS exposure
        FROM ({age_groups_sql(exposed)}) GROUP BY ALL
    """


def build_population_standardised(
    conn: duckdb.DuckDBPyConnection,
    baseline_start: dt.date,
    last_month: dt.date,
    cells: str = "counterfactual_cells",
    table: str = "counterfactual_standardised",
    cell_table: str = "counterfactual_cell_expected",
    squares: str | None = None,
    completeness: str | None = None,
) -> int:
    """`table`: neighbourhood_code (and ALL), month, measure, age_group, population, observed,
    expected, for every month after the baseline to `last_month` (see the module). With
    `completeness` (`build_completeness`), a month's expected is of what the data can show so far.

    `cell_table` keeps the cells behind it, baseline months included: neighbourhood_code, month,
    sex, age_band, measure, population, observed, expected, weight (population x month factor x
    completeness) and
    rate_variance (the variance of the cell's baseline rate, people varying: `squares` over the
    squared person-months; with `squares` None, each event as if its own person's: Poisson), from
    which `standardised_totals` works out how uncertain a total of expected activity is."""
    first, last = baseline_months(baseline_start)
    squares_of = (
        f"LEFT JOIN {squares} q USING (neighbourhood_code, sex, age_band, measure)" if squares
        else "LEFT JOIN (SELECT NULL AS squares) q ON FALSE"
    )
    poisson = "" if squares else "sum(b.observed), "
    completeness_of = (
        f"LEFT JOIN {completeness} c ON c.month = l.month AND c.age_band = l.age_band AND c.measure = l.measure"
        if completeness else "LEFT JOIN (SELECT NULL AS completeness) c ON FALSE"
    )
    conn.execute(
        f"""
        CREATE OR REPLACE TABLE {cell_table} AS
        WITH baseline AS (SELECT * FROM {cells} WHERE month BETWEEN {sql_date(first)} AND {sql_date(last)}),
        cell_squares AS (
            SELECT b.neighbourhood_code, b.sex, b.age_band, b.measure,
                   coalesce(any_value(q.squares), {poisson}0) AS squares
            FROM baseline b {squares_of}
            GROUP BY ALL
        ),
        area AS (
            SELECT b.sex, b.age_band, b.measure, sum(b.observed) / nullif(sum(b.population), 0) AS rate,
                   any_value(q.squares) / power(nullif(sum(b.population), 0), 2) AS rate_variance
            FROM baseline b
            JOIN (SELECT sex, age_band, measure, sum(squares) AS squares FROM cell_squares GROUP BY ALL) q
              USING (sex, age_band, measure)
            GROUP BY ALL
        ),
        own AS (
            SELECT b.neighbourhood_code, b.sex, b.age_band, b.measure, sum(b.population) AS person_months,
                   any_value(q.squares) AS squares,
                   (sum(b.observed) + {PRIOR_PERSON_MONTHS} * any_value(coalesce(a.rate, 0)))
                   / (sum(b.population) + {PRIOR_PERSON_MONTHS}) AS rate
            FROM baseline b JOIN area a USING (sex, age_band, measure)
            JOIN cell_squares q USING (neighbourhood_code, sex, age_band, measure)
            GROUP BY ALL
        ),
        -- The area's month-of-year pattern: its baseline activity in that month against what its
        -- year-round rates give for that month's population.
        season AS (
            SELECT b.measure, month(b.month) AS month_of_year,
                   coalesce(sum(b.observed) / nullif({exact_sum("b.population * a.rate")}, 0), 1) AS factor
            FROM baseline b JOIN area a USING (sex, age_band, measure)
            GROUP BY ALL
        ),
        weighted AS (
            SELECT l.neighbourhood_code, l.month, l.sex, l.age_band, l.measure, l.population, l.observed,
                   l.population * coalesce(s.factor, 1) * coalesce(c.completeness, 1) AS weight,
                   -- a group the baseline never had (nobody of that sex and band then): the area's rate
                   coalesce(o.rate, a.rate, 0) AS rate,
                   -- the shrunk rate's count part, (own activity) / (person-months + prior)
                   coalesce(o.squares / power(o.person_months + {PRIOR_PERSON_MONTHS}, 2),
                            a.rate_variance, 0) AS rate_variance
            FROM {cells} l
            LEFT JOIN own o ON o.neighbourhood_code = l.neighbourhood_code AND o.sex = l.sex AND o.age_band = l.age_band
                 AND o.measure = l.measure
            LEFT JOIN area a ON a.sex = l.sex AND a.age_band = l.age_band AND a.measure = l.measure
            LEFT JOIN season s ON s.measure = l.measure AND s.month_of_year = month(l.month)
            {completeness_of}
            WHERE l.month >= {sql_date(first)} AND l.month <= {sql_date(last_month)}
        )
        SELECT neighbourhood_code, month, sex, age_band, measure, population, observed,
               weight * rate AS expected, weight, rate_variance
        FROM weighted
        ORDER BY neighbourhood_code, month, measure, sex, age_band
        """
    )
    conn.execute(
        f"""
        CREATE OR REPLACE TABLE {table} AS
        WITH cells_expected AS (SELECT * FROM {cell_table} WHERE month > {sql_date(last)}),
        summed AS (
            SELECT neighbourhood_code, month, measure, age_group, sum(population)::BIGINT AS population,
                   sum(observed)::BIGINT AS observed, {exact_sum("expected")} AS expected
            FROM ({age_groups_sql("cells_expected")}) GROUP BY ALL
        ),
        -- every neighbourhood, month, measure and age group: a group with nobody in it has zeros
        grid AS (
            SELECT n.neighbourhood_code, m.month, x.measure, g.age_group
            FROM (SELECT DISTINCT neighbourhood_code FROM {cells}) n
            CROSS JOIN (SELECT DISTINCT month FROM cells_expected) m
            CROSS JOIN (SELECT DISTINCT measure FROM {cells}) x
            CROSS JOIN (SELECT unnest({list(AGE_GROUPS)}) AS age_group) g
        ),
        by_neighbourhood AS (
            SELECT neighbourhood_code, month, measure, age_group, coalesce(population, 0)::BIGINT AS population,
                   coalesce(observed, 0)::BIGINT AS observed, coalesce(expected, 0.0) AS expected
            FROM grid LEFT JOIN summed USING (neighbourhood_code, month, measure, age_group)
        )
        SELECT * FROM by_neighbourhood
        UNION ALL
        SELECT '{ALL}', month, measure, age_group, sum(population)::BIGINT, sum(observed)::BIGINT, {exact_sum("expected")}
        FROM by_neighbourhood GROUP BY ALL
        ORDER BY neighbourhood_code = '{ALL}', neighbourhood_code, month, measure, age_group
        """
    )
    return row_count(conn, table)


@dataclass(frozen=True)
class TotalPeriod:
    """Months first to last (first days) of one neighbourhood, summed as one total named `name`."""

    name: str
    neighbourhood_code: str
    first: dt.date
    last: dt.date


def standardised_totals(
    conn: duckdb.DuckDBPyConnection, periods: list[TotalPeriod], cell_table: str = "counterfactual_cell_expected",
    events: str = "person_events", population: str = "stg_population", practices: str = "stg_practices",
) -> pl.DataFrame:
    """Per period, neighbourhood (and ALL: the neighbourhoods of that period added), measure and age
    group: months, first_month, last_month, observed, expected, dispersion, area_dispersion, expected_se.

    The people, not the events, are what vary from year to year: a frequent attender's 30
    attendances come and go together, a long stay's bed days too. So a total's variance is the sum
    over people of their own total squared; over the total that is the dispersion, and a total
    varies as dispersion x its count. expected_se, the
    standard error of expected from the baseline year's own noise, is the same for the baseline
    counts each cell's rate came from: sum over cells of (population x month factors over the
    period)^2 x Var(rate)."""
    if not periods:
        return pl.DataFrame()
    values = ", ".join(
        f"({quote_literal(p.name)}, {quote_literal(p.neighbourhood_code)}, {sql_date(p.first)}, {sql_date(p.last)})"
        for p in periods
    )
    first, last = min(p.first for p in periods), max(p.last for p in periods)
    frame = conn.sql(
        f"""
        WITH periods AS (SELECT * FROM (VALUES {values}) p(period, neighbourhood_code, first_month, last_month)),
        picked AS (
            SELECT p.period, p.first_month, p.last_month, c.*
            FROM {cell_table} c JOIN periods p
              ON c.neighbourhood_code = p.neighbourhood_code AND c.month BETWEEN p.first_month AND p.last_month
        ),
        per_rate AS (  -- one baseline rate: the cells of a neighbourhood, sex, band and measure
            SELECT period, first_month, last_month, neighbourhood_code, sex, age_band, measure,
                   sum(observed) AS observed, {exact_sum("expected")} AS expected,
                   power({exact_sum("weight")}, 2) * any_value(rate_variance) AS expected_variance
            FROM picked GROUP BY ALL
        ),
        grouped AS (
            SELECT period, neighbourhood_code, measure, age_group, any_value(first_month) AS first_month,
                   any_value(last_month) AS last_month, sum(observed)::BIGINT AS observed, {exact_sum("expected")} AS expected,
                   {exact_sum("expected_variance")} AS expected_variance
            FROM ({age_groups_sql("per_rate")}) GROUP BY ALL
        ),
        activity AS (
            SELECT p.period, a.* FROM ({person_activity_sql(first, last, events, population, practices)}) a
            JOIN periods p ON a.neighbourhood_code = p.neighbourhood_code AND a.month BETWEEN p.first_month AND p.last_month
        ),
        observed_squares AS ({_person_squares_sql(f"({age_groups_sql('activity')})", "period, neighbourhood_code, age_group")}),
        -- ALL: a person's activity across the neighbourhoods of the period is one total (a move is not two people)
        area_squares AS ({_person_squares_sql(f"({age_groups_sql('activity')})", "period, age_group")}),
        whole AS (
            SELECT g.*, coalesce(q.squares, 0) AS observed_variance
            FROM grouped g LEFT JOIN observed_squares q USING (period, neighbourhood_code, measure, age_group)
        )
        SELECT * FROM whole
        UNION ALL
        SELECT w.*, coalesce(q.squares, 0) AS observed_variance
        FROM (
            SELECT period, '{ALL}' AS neighbourhood_code, measure, age_group, min(first_month) AS first_month,
                   max(last_month) AS last_month, sum(observed)::BIGINT AS observed, {exact_sum("expected")} AS expected,
                   {exact_sum("expected_variance")} AS expected_variance
            FROM whole GROUP BY period, measure, age_group
        ) w LEFT JOIN area_squares q USING (period, measure, age_group)
        """
    ).pl()
    months = pl.DataFrame(
        [{"period": p.name, "neighbourhood_code": p.neighbourhood_code, "months": months_between(p.first, p.last) + 1}
         for p in periods],
        schema={"period": pl.String, "neighbourhood_code": pl.String, "months": pl.Int64},
    )
    months = pl.concat([months, months.group_by("period").agg(pl.col("months").max()).with_columns(
        neighbourhood_code=pl.lit(ALL)).select(months.columns)])
    frame = frame.join(months, on=["period", "neighbourhood_code"], how="left").with_columns(
        expected_se=pl.col("expected_variance").sqrt()).drop("expected_variance")
    # How lumpy the activity is: people's squared totals over the total. A neighbourhood's interval
    # takes the larger of its own and the whole area's (its own alone is noisy where it is small; the
    # area's alone is too narrow where its people are lumpier than the area's). The published copy
    # shows and uses only the area's (`area_dispersion`): a neighbourhood's own, beside its rounded
    # count, would say how much of it one person had (it is never above the count).
    lumpiness = pl.when(pl.col("observed") > 0).then(pl.col("observed_variance") / pl.col("observed")).otherwise(1.0)
    area = frame.filter(pl.col("neighbourhood_code") == ALL).select(
        "period", "measure", "age_group", area_dispersion=lumpiness.clip(lower_bound=1.0))
    return (
        frame.join(area, on=["period", "measure", "age_group"], how="left")
        .with_columns(dispersion=pl.max_horizontal(lumpiness, "area_dispersion"))
        .drop("observed_variance")
    )


def with_total_limits(frame: pl.DataFrame, z: float = Z) -> pl.DataFrame:
    """`frame` (observed, expected, dispersion, expected_se: totals over periods) with avoided and
    its 95% limits carrying both sources of noise (normal: totals of many events): the observed
    total varies as dispersion x observed, expected by expected_se; the counterfactual's limits
    (observed + avoided's, not below 0) and Byar's limits of the observed count."""
    if frame.is_empty():
        return frame
    lower, upper = byar_limits(frame["observed"].to_numpy())
    sd = (pl.col("dispersion") * pl.col("observed") + pl.col("expected_se") ** 2).sqrt()
    return frame.with_columns(
        avoided=pl.col("expected") - pl.col("observed"),
        avoided_lower=pl.col("expected") - pl.col("observed") - z * sd,
        avoided_upper=pl.col("expected") - pl.col("observed") + z * sd,
        expected_lower=(pl.col("expected") - z * sd).clip(lower_bound=0),
        expected_upper=pl.col("expected") + z * sd,
        observed_lower=pl.Series(lower),
        observed_upper=pl.Series(upper),
    )


def byar_limits(observed: np.ndarray, z: float = Z) -> tuple[np.ndarray, np.ndarray]:
    """Byar's approximation to the exact Poisson 95% limits of an observed count (OHID Fingertips
    technical guidance): lower = O (1 - 1/(9O) - z/(3 sqrt O))^3, upper = (O+1) (1 - 1/(9(O+1)) +
    z/(3 sqrt(O+1)))^3; the lower limit of 0 is 0."""
    o = np.asarray(observed, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        lower = np.where(o > 0, o * (1 - 1 / (9 * o) - z / (3 * np.sqrt(o))) ** 3, 0.0)
    upper = (o + 1) * (1 - 1 / (9 * (o + 1)) + z / (3 * np.sqrt(o + 1))) ** 3
    return lower, upper


def with_limits(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` (observed, expected) with avoided = expected - observed and the 95% limits: of the
    observed count (Byar), of expected as domain.md gives them (E x O / limit: the expected counts
    the observed one is consistent with), and of avoided (expected minus each limit of observed)."""
    lower, upper = byar_limits(frame["observed"].to_numpy())
    expected, observed = frame["expected"].to_numpy(), frame["observed"].to_numpy().astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        expected_upper = np.where(lower > 0, expected * observed / lower, np.nan)
    return frame.with_columns(
        avoided=pl.Series(expected - observed),
        observed_lower=pl.Series(lower),
        observed_upper=pl.Series(upper),
        expected_lower=pl.Series(expected * observed / upper),
        expected_upper=pl.Series(expected_upper).fill_nan(None),
        avoided_lower=pl.Series(expected - upper),
        avoided_upper=pl.Series(expected - lower),
    )
