"""The counterfactual tables as published: `counterfactual_activity` (both methods, month by month,
with limits) and `programme_summary` (activity avoided over the last 12 months and since each
neighbourhood's go-live, with intervals that carry the baseline's noise).

The standardised rows come from `metrics.counterfactual`; the interrupted time series rows are fitted
here per neighbourhood with a go-live date, measure and age group (`metrics.its`). Both tables are
aggregates: the only inputs are monthly counts and populations of whole neighbourhoods.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import polars as pl

from cohorts.period import month_start, months_before
from metrics.counterfactual import (
    ALL, INTERRUPTED_TIME_SERIES, POPULATION_STANDARDISED, Months, TotalPeriod, baseline_months,
    byar_limits, series_sql, standardised_totals, with_limits, with_total_limits,
)
from metrics.its import fit_segmented

COLUMNS = (
    "neighbourhood_code", "month", "measure", "age_group", "method", "population", "observed", "expected", "avoided",
    "expected_lower", "expected_upper", "observed_lower", "observed_upper", "avoided_lower", "avoided_upper",
    "go_live_date", "after_go_live",
)
SUMMARY_COLUMNS = (
    "neighbourhood_code", "period", "measure", "age_group", "method", "go_live_date", "months", "first_month",
    "last_month", "observed", "expected", "avoided", "expected_lower", "expected_upper", "observed_lower",
    "observed_upper", "avoided_lower", "avoided_upper", "avoided_pct", "dispersion", "area_dispersion",
    "expected_se",
)
SEED = 20240201


def go_live_dates(conn: duckdb.DuckDBPyConnection, practices: str = "stg_practices") -> dict[str, dt.date | None]:
    """Each neighbourhood's go-live date (the earliest its practices give; None: not live)."""
    return dict(conn.execute(
        f"SELECT neighbourhood_code, min(int_go_live_date) FROM {practices} GROUP BY 1 ORDER BY 1"
    ).fetchall())


def _go_live_frame(go_live: dict[str, dt.date | None]) -> pl.DataFrame:
    return pl.DataFrame(
        {"neighbourhood_code": list(go_live), "go_live_date": list(go_live.values())},
        schema={"neighbourhood_code": pl.String, "go_live_date": pl.Date},
    )


def _with_go_live(frame: pl.DataFrame, go_live: dict[str, dt.date | None]) -> pl.DataFrame:
    return frame.join(_go_live_frame(go_live), on="neighbourhood_code", how="left").with_columns(
        after_go_live=pl.when(pl.col("go_live_date").is_null()).then(None)
        .otherwise(pl.col("month") >= pl.col("go_live_date").dt.month_start())
    )


def interrupted_time_series(
    conn: duckdb.DuckDBPyConnection, baseline_start: dt.date, last_month: dt.date, go_live: dict[str, dt.date | None],
    cells: str = "counterfactual_cells", completeness: str | None = None,
) -> tuple[pl.DataFrame, dict]:
    """ITS rows (months after the baseline) for every neighbourhood with a go-live date, and the fits
    by (neighbourhood, measure, age group), None where the series is too short either side. The
    offset is the population times the month's `completeness`, where given: a month whose bed days
    are still filling in is not read as a fall."""
    live = {code: day for code, day in go_live.items() if day is not None}
    if not live:
        return pl.DataFrame(), {}
    codes = ", ".join(f"'{code}'" for code in live)
    series = conn.sql(
        f"SELECT * FROM ({series_sql(cells, completeness)}) WHERE neighbourhood_code IN ({codes}) AND month <= DATE '{last_month}' "
        "ORDER BY neighbourhood_code, measure, age_group, month"
    ).pl()
    _, baseline_last = baseline_months(baseline_start)
    parts, fits = [], {}
    for (code, measure, group), rows in series.group_by("neighbourhood_code", "measure", "age_group", maintain_order=True):
        months = rows["month"].to_list()
        fit = fit_segmented(rows["observed"].to_numpy(), rows["exposure"].to_numpy(), months, live[code])
        fits[(code, measure, group)] = fit
        if fit is None:
            continue
        keep = np.array([m > baseline_last for m in months])
        observed = rows["observed"].to_numpy()[keep]
        lower, upper = byar_limits(observed)
        expected, e_lower, e_upper = fit.counterfactual[keep], fit.lower[keep], fit.upper[keep]
        parts.append(pl.DataFrame({
            "neighbourhood_code": code, "month": rows["month"].filter(pl.Series(keep)), "measure": measure,
            "age_group": group, "method": INTERRUPTED_TIME_SERIES,
            "population": rows["population"].filter(pl.Series(keep)), "observed": observed, "expected": expected,
            "avoided": expected - observed, "expected_lower": e_lower, "expected_upper": e_upper,
            "observed_lower": lower, "observed_upper": upper,
            "avoided_lower": e_lower - observed, "avoided_upper": e_upper - observed,
        }))
    return (pl.concat(parts) if parts else pl.DataFrame()), fits


def build_counterfactual_activity(
    conn: duckdb.DuckDBPyConnection, baseline_start: dt.date, last_month: dt.date, go_live: dict[str, dt.date | None],
    standardised: str = "counterfactual_standardised", cells: str = "counterfactual_cells",
    completeness: str | None = None,
) -> tuple[pl.DataFrame, dict]:
    """Both methods' rows in the published column order, and the ITS fits."""
    rows = with_limits(conn.sql(f"SELECT * FROM {standardised}").pl()).with_columns(method=pl.lit(POPULATION_STANDARDISED))
    its, fits = interrupted_time_series(conn, baseline_start, last_month, go_live, cells, completeness)
    frames = [rows.select(c for c in COLUMNS if c in rows.columns)]
    if its.height:
        frames.append(its.select(frames[0].columns).cast(dict(frames[0].schema)))
    frame = _with_go_live(pl.concat(frames), go_live)
    order = [pl.col("neighbourhood_code") == ALL, "neighbourhood_code", "measure", "age_group", "method", "month"]
    return frame.select(COLUMNS).sort(order), fits


LAST_12_MONTHS, SINCE_GO_LIVE = "last_12_months", "since_go_live"


def summary_periods(months: Months, go_live: dict[str, dt.date | None]) -> list[TotalPeriod]:
    """The last 12 reported months for every neighbourhood (fewer when fewer follow the baseline),
    and the months from each go-live month (not before the first reported month) to the last."""
    first_reported = months_before(months.baseline_last, -1)
    last_12 = max(months_before(months.last, 11), first_reported)
    periods = [TotalPeriod(LAST_12_MONTHS, code, last_12, months.last) for code in go_live]
    for code, day in go_live.items():
        if day is not None and month_start(day) <= months.last:
            periods.append(TotalPeriod(SINCE_GO_LIVE, code, max(month_start(day), first_reported), months.last))
    return periods


def _its_totals(periods: list[TotalPeriod], fits: dict) -> pl.DataFrame:
    """The time series' totals over each period of a neighbourhood with a fit: observed, the
    counterfactual and its interval from draws of the coefficients (of the mean: the observed count
    is what it is)."""
    rows = []
    for period in periods:
        for (code, measure, group), fit in fits.items():
            if fit is None or code != period.neighbourhood_code:
                continue
            picked = np.array([period.first <= m <= period.last for m in fit.months])
            expected, low, high = fit.total_interval(picked, seed=SEED)
            if not (np.isfinite(low) and np.isfinite(high)):  # draws too wide to sum: the months' own limits, added
                low, high = float(fit.lower[picked].sum()), float(fit.upper[picked].sum())
            observed = int(fit.observed[picked].sum())
            lower, upper = byar_limits(np.array([observed]))
            rows.append({
                "period": period.name, "neighbourhood_code": code, "measure": measure, "age_group": group,
                "method": INTERRUPTED_TIME_SERIES, "months": int(picked.sum()), "first_month": period.first,
                "last_month": period.last, "observed": observed, "expected": expected, "avoided": expected - observed,
                "expected_lower": low, "expected_upper": high, "observed_lower": float(lower[0]),
                "observed_upper": float(upper[0]), "avoided_lower": low - observed, "avoided_upper": high - observed,
                "dispersion": fit.dispersion, "area_dispersion": None, "expected_se": None,
            })
    return pl.DataFrame(rows, schema_overrides={"expected_se": pl.Float64, "area_dispersion": pl.Float64}) if rows else pl.DataFrame()


def programme_summary(
    conn: duckdb.DuckDBPyConnection, months: Months, go_live: dict[str, dt.date | None], fits: dict,
    cell_table: str = "counterfactual_cell_expected",
) -> pl.DataFrame:
    """Activity avoided per period (`last_12_months`: every neighbourhood and ALL; `since_go_live`:
    neighbourhoods with a go-live date, and ALL for them pooled), measure, age group and method,
    with its 95% interval.

    population_standardised: the interval carries the baseline's own noise (each rate came from one
    year of counts) and counts people, not events, as what varies (`standardised_totals`), not
    only the Poisson noise of the observed count with expected fixed (Byar, as the monthly rows give
    it): summed over a year, a neighbourhood with no programme is otherwise often "significant".
    interrupted_time_series (neighbourhoods with a fit, no ALL): the counterfactual's interval
    from draws of the model's coefficients."""
    periods = summary_periods(months, go_live)
    standardised = standardised_totals(conn, periods, cell_table)
    standardised = with_total_limits(standardised).with_columns(method=pl.lit(POPULATION_STANDARDISED))
    frames = [standardised.select(c for c in SUMMARY_COLUMNS if c in standardised.columns)]
    its = _its_totals(periods, fits)
    if its.height:
        frames.append(its.select(frames[0].columns).cast(dict(frames[0].schema)))
    return pl.concat(frames).join(_go_live_frame(go_live), on="neighbourhood_code", how="left").with_columns(
        avoided_pct=pl.when(pl.col("expected") > 0).then(100 * pl.col("avoided") / pl.col("expected")),
    ).select(SUMMARY_COLUMNS).sort(
        pl.col("neighbourhood_code") == ALL, "neighbourhood_code", pl.col("period") != LAST_12_MONTHS, "measure",
        "age_group", "method",
    )
