"""Cohort follow-up: are the people a team started with using less unplanned care, net of what
regression to the mean gives on its own?

The cohort: the high intensity users (the run's thresholds) among the people in the population on
`as_of - 12 months`, in the neighbourhood of their practice then; their unplanned activity (ED
attendances plus emergency admissions, contract counting) in the 12 months to that date and the 12
after (to the as-of date), wherever they went and whether or not they died. People picked for a high
year use less the next year whatever anyone does: most heavy years are partly bad luck. So the
same is measured for the cohort identified 12 months earlier still (before any team went live, in
the usual case), and its change is the expected change without a programme: `net_change_pct =
change_pct - expected_change_pct`, with a 95% percentile bootstrap interval (people
resampled within each cohort). Where some neighbourhoods were live through the follow-up year and
others were not, `net_change_vs_not_live_pct` compares each with the not-live ones pooled.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import polars as pl

from cohorts.events import person_counts_sql
from cohorts.hiu import Thresholds
from cohorts.period import months_before, window_start_months
from cohorts.register import build_person_register
from metrics.counterfactual import ALL

MEASURE = "unplanned_activity"
UNPLANNED = ("ed_attendances", "emergency_admissions")
COHORTS = {"current": 12, "earlier": 24}  # months before the as-of date the cohort is identified
RESAMPLES = 999
SEED = 20240301


def identified_on(as_of: dt.date, cohort: str) -> dt.date:
    return months_before(as_of, COHORTS[cohort])


def covered_cohorts(as_of: dt.date, data_start: dt.date | None) -> tuple[str, ...]:
    """The cohorts whose year before identification the activity data cover whole."""
    if data_start is None:
        return ()
    return tuple(c for c in COHORTS if data_start <= window_start_months(identified_on(as_of, c), 12))


def build_followup_people(
    conn: duckdb.DuckDBPyConnection, as_of: dt.date, thresholds: Thresholds, cohorts: tuple[str, ...] = tuple(COHORTS),
    events: str = "person_events", population: str = "stg_population", practices: str = "stg_practices",
    table: str = "cohort_followup_people",
) -> int:
    """`table`: cohort, identified_on, person_id, neighbourhood_code, before, after (unplanned activity
    in the 12 months to and after the identification date), for the `cohorts` named."""
    t = thresholds
    parts = ["SELECT NULL::VARCHAR AS cohort, NULL::DATE AS identified_on, NULL::VARCHAR AS person_id, "
             "NULL::VARCHAR AS neighbourhood_code, NULL::BIGINT AS before, NULL::BIGINT AS after WHERE false"]
    for cohort in cohorts:
        day = identified_on(as_of, cohort)
        register = f"{table}_{cohort}_register"
        build_person_register(conn, day, population=population, practices=practices, table=register)
        year_before = person_counts_sql(events, window_start_months(day, 12), day,
                                        measures=("gp_appointments",) + UNPLANNED, social_care_states=False)
        after_end = months_before(day, -12)
        year_after = person_counts_sql(events, day + dt.timedelta(days=1), after_end, measures=UNPLANNED,
                                       social_care_states=False)
        parts.append(
            f"""SELECT '{cohort}' AS cohort, DATE '{day}' AS identified_on, r.person_id, r.neighbourhood_code,
                       (b.ed_attendances + b.emergency_admissions)::BIGINT AS before,
                       coalesce(a.ed_attendances + a.emergency_admissions, 0)::BIGINT AS after
                FROM {register} r JOIN ({year_before}) b USING (person_id)
                LEFT JOIN ({year_after}) a USING (person_id)
                WHERE b.gp_appointments >= {t.gp} OR b.ed_attendances >= {t.ed} OR b.emergency_admissions >= {t.admissions}"""
        )
    conn.execute(f"CREATE OR REPLACE TABLE {table} AS " + " UNION ALL ".join(parts) + " ORDER BY cohort, person_id")
    for cohort in cohorts:
        conn.execute(f"DROP TABLE {table}_{cohort}_register")
    return conn.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]


def _change(before: np.ndarray | float, after: np.ndarray | float) -> np.ndarray | float:
    """Percent change from the before total(s) to the after: +inf from nothing to something, NaN
    from nothing to nothing."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return 100 * (np.asarray(after, dtype=np.float64) - before) / before


def _change_pct(before: np.ndarray, after: np.ndarray) -> float:
    return _change(before.sum(), after.sum())


def _resampled_sums(rng: np.random.Generator, before: np.ndarray, after: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The before and after totals of `RESAMPLES` ordinary bootstrap resamples of one group of people.

    The change only needs the two totals, and people with the same (before, after) pair are
    interchangeable, so a resample of the n people with replacement is how many of each distinct
    pair it drew: Multinomial(n, pair counts / n), exactly the ordinary bootstrap. A cohort of a
    million people has a few hundred distinct pairs, so this draws a few hundred counts per resample
    where drawing every person costs a million (seconds per neighbourhood, against milliseconds)."""
    pairs, counts = np.unique(np.column_stack([before, after]), axis=0, return_counts=True)
    drawn = rng.multinomial(len(before), counts / counts.sum(), size=RESAMPLES).astype(np.float64)
    return drawn @ pairs[:, 0], drawn @ pairs[:, 1]


def _interval(groups: list[tuple[np.ndarray, np.ndarray]], statistic) -> tuple[float | None, float | None]:
    """95% percentile bootstrap interval of `statistic(*changes)` over independent groups of people,
    each (before, after), resampled within each group. None when a group has under two people or no
    activity before; when some resample's statistic is undefined (a group drawn with no activity
    before or after: no change to measure); or when a limit is infinite (more than 2.5% of
    resamples drew a group with activity after but none before, an infinite rise)."""
    if any(len(b) < 2 or b.sum() == 0 for b, _ in groups):
        return None, None
    rng = np.random.default_rng(SEED)
    changes = [_change(*_resampled_sums(rng, before, after)) for before, after in groups]
    with np.errstate(invalid="ignore"):  # inf - inf: undefined, as below
        replicates = statistic(*changes)
        if np.isnan(replicates).any():
            return None, None
        low, high = np.percentile(replicates, [2.5, 97.5])
    return (float(low), float(high)) if np.isfinite(low) and np.isfinite(high) else (None, None)


def build_cohort_followup(
    conn: duckdb.DuckDBPyConnection, go_live: dict[str, dt.date | None], people: str = "cohort_followup_people",
) -> pl.DataFrame:
    """One row per neighbourhood (and ALL) for the `unplanned_activity` measure (see the module)."""
    rows = conn.sql(f"SELECT * FROM {people}").pl()
    if not rows.filter(pl.col("cohort") == "current").height:
        return pl.DataFrame()
    current_day = rows.filter(pl.col("cohort") == "current")["identified_on"].max()

    def arrays(frame: pl.DataFrame, cohort: str) -> tuple[np.ndarray, np.ndarray]:
        part = frame.filter(pl.col("cohort") == cohort)
        return part["before"].to_numpy().astype(np.float64), part["after"].to_numpy().astype(np.float64)

    def live(code: str) -> bool | None:
        day = go_live.get(code)
        return None if code == ALL else (day is not None and current_day is not None and day <= current_day)

    not_live_codes = [c for c in go_live if live(c) is False]
    not_live = rows.filter(pl.col("neighbourhood_code").is_in(not_live_codes))
    out = []
    for code in [*sorted(go_live), ALL]:
        mine = rows if code == ALL else rows.filter(pl.col("neighbourhood_code") == code)
        current, earlier = arrays(mine, "current"), arrays(mine, "earlier")
        change, expected = _change_pct(*current), _change_pct(*earlier)
        low, high = _interval([current, earlier], lambda c, e: c - e)
        row = {
            "neighbourhood_code": code, "measure": MEASURE, "cohort_identified_on": current_day,
            "comparison_identified_on": rows.filter(pl.col("cohort") == "earlier")["identified_on"].max(),
            "people": len(current[0]), "activity_before": int(current[0].sum()), "activity_after": int(current[1].sum()),
            "comparison_people": len(earlier[0]), "comparison_activity_before": int(earlier[0].sum()),
            "comparison_activity_after": int(earlier[1].sum()),
            "change_pct": _finite(change), "expected_change_pct": _finite(expected),
            "net_change_pct": _finite(change - expected), "net_change_lower": low, "net_change_upper": high,
            "live_through_followup": live(code),
            "net_change_vs_not_live_pct": None, "net_change_vs_not_live_lower": None, "net_change_vs_not_live_upper": None,
        }
        compared = rows.filter(pl.col("neighbourhood_code").is_in([c for c in go_live if live(c)])) if code == ALL else mine
        if not_live_codes and (live(code) or (code == ALL and len(not_live_codes) < len(go_live))):
            groups = [arrays(compared, "current"), arrays(compared, "earlier"), arrays(not_live, "current"), arrays(not_live, "earlier")]
            difference = (_change_pct(*groups[0]) - _change_pct(*groups[1])) - (_change_pct(*groups[2]) - _change_pct(*groups[3]))
            low, high = _interval(groups, lambda a, b, c, d: (a - b) - (c - d))
            row.update(net_change_vs_not_live_pct=_finite(difference), net_change_vs_not_live_lower=low,
                       net_change_vs_not_live_upper=high)
        out.append(row)
    return pl.DataFrame(out, infer_schema_length=None)


def _finite(value) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None
