"""The counterfactual tables as published: `counterfactual_activity` (both methods, month by month,
with limits) and `programme_summary` (activity avoided since each neighbourhood's go-live).

The standardised rows come from `metrics.counterfactual`; the interrupted time series rows are fitted
here per neighbourhood with a go-live date, measure and age group (`metrics.its`). Both tables are
aggregates: the only inputs are monthly counts and populations of whole neighbourhoods.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import polars as pl

from metrics.counterfactual import (
    ALL, INTERRUPTED_TIME_SERIES, POPULATION_STANDARDISED, baseline_months, byar_limits, series_sql, with_limits,
)
from metrics.its import fit_segmented

COLUMNS = (
    "neighbourhood_code", "month", "measure", "age_group", "method", "population", "observed", "expected", "avoided",
    "expected_lower", "expected_upper", "observed_lower", "observed_upper", "avoided_lower", "avoided_upper",
    "go_live_date", "after_go_live",
)
SUMMARY_COLUMNS = (
    "neighbourhood_code", "measure", "age_group", "method", "go_live_date", "months", "first_month", "last_month",
    "observed", "expected", "avoided", "expected_lower", "expected_upper", "observed_lower", "observed_upper",
    "avoided_lower", "avoided_upper", "avoided_pct",
)
SEED = 20240201


def go_live_dates(conn: duckdb.DuckDBPyConnection, practices: str = "stg_practices") -> dict[str, dt.date | None]:
    """Each neighbourhood's go-live date (the earliest its practices give; None: not live)."""
    return dict(conn.execute(
        f"SELECT neighbourhood_code, min(int_go_live_date) FROM {practices} GROUP BY 1 ORDER BY 1"
    ).fetchall())


def _with_go_live(frame: pl.DataFrame, go_live: dict[str, dt.date | None]) -> pl.DataFrame:
    dates = pl.DataFrame(
        {"neighbourhood_code": list(go_live), "go_live_date": list(go_live.values())},
        schema={"neighbourhood_code": pl.String, "go_live_date": pl.Date},
    )
    return frame.join(dates, on="neighbourhood_code", how="left").with_columns(
        after_go_live=pl.when(pl.col("go_live_date").is_null()).then(None)
        .otherwise(pl.col("month") >= pl.col("go_live_date").dt.month_start())
    )


def interrupted_time_series(
    conn: duckdb.DuckDBPyConnection, baseline_start: dt.date, last_month: dt.date, go_live: dict[str, dt.date | None],
    cells: str = "counterfactual_cells",
) -> tuple[pl.DataFrame, dict]:
    """ITS rows (months after the baseline) for every neighbourhood with a go-live date, and the fits
    by (neighbourhood, measure, age group), None where the series is too short either side."""
    live = {code: day for code, day in go_live.items() if day is not None}
    if not live:
        return pl.DataFrame(), {}
    codes = ", ".join(f"'{code}'" for code in live)
    series = conn.sql(
        f"SELECT * FROM ({series_sql(cells)}) WHERE neighbourhood_code IN ({codes}) AND month <= DATE '{last_month}' "
        "ORDER BY neighbourhood_code, measure, age_group, month"
    ).pl()
    _, baseline_last = baseline_months(baseline_start)
    parts, fits = [], {}
    for (code, measure, group), rows in series.group_by("neighbourhood_code", "measure", "age_group", maintain_order=True):
        months = rows["month"].to_list()
        fit = fit_segmented(rows["observed"].to_numpy(), rows["population"].to_numpy(), months, live[code])
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
) -> tuple[pl.DataFrame, dict]:
    """Both methods' rows in the published column order, and the ITS fits."""
    rows = with_limits(conn.sql(f"SELECT * FROM {standardised}").pl()).with_columns(method=pl.lit(POPULATION_STANDARDISED))
    its, fits = interrupted_time_series(conn, baseline_start, last_month, go_live, cells)
    frames = [rows.select(c for c in COLUMNS if c in rows.columns)]
    if its.height:
        frames.append(its.select(frames[0].columns).cast(dict(frames[0].schema)))
    frame = _with_go_live(pl.concat(frames), go_live)
    order = [pl.col("neighbourhood_code") == ALL, "neighbourhood_code", "measure", "age_group", "method", "month"]
    return frame.select(COLUMNS).sort(order), fits


def programme_summary(activity: pl.DataFrame, fits: dict) -> pl.DataFrame:
    """Per neighbourhood with a go-live date, measure, age group and method: the months from go-live,
    observed and expected activity over them, avoided with its 95% interval (Byar on the summed
    observed count for the standardised method; coefficient draws for the time series)."""
    after = activity.filter(pl.col("after_go_live").fill_null(False))
    summed = after.group_by("neighbourhood_code", "measure", "age_group", "method", "go_live_date", maintain_order=True).agg(
        months=pl.len().cast(pl.Int64), first_month=pl.col("month").min(), last_month=pl.col("month").max(),
        observed=pl.col("observed").sum(), expected=pl.col("expected").sum(),
    )
    summed = with_limits(summed)
    its_limits = []
    for row in summed.filter(pl.col("method") == INTERRUPTED_TIME_SERIES).iter_rows(named=True):
        fit = fits.get((row["neighbourhood_code"], row["measure"], row["age_group"]))
        months = activity.filter(
            pl.col("neighbourhood_code") == row["neighbourhood_code"], pl.col("measure") == row["measure"],
            pl.col("age_group") == row["age_group"], pl.col("method") == INTERRUPTED_TIME_SERIES,
        )
        n = len(fit.counterfactual)
        post = np.zeros(n, dtype=bool)
        post[n - months.height:] = months["after_go_live"].to_numpy().astype(bool)
        _, low, high = fit.total_interval(post, seed=SEED)
        if not (np.isfinite(low) and np.isfinite(high)):  # draws too wide to sum: the months' own limits, added
            low, high = float(months["expected_lower"].filter(months["after_go_live"]).sum()), float(
                months["expected_upper"].filter(months["after_go_live"]).sum())
        its_limits.append({**{k: row[k] for k in ("neighbourhood_code", "measure", "age_group", "method")},
                           "its_lower": low, "its_upper": high})
    if its_limits:  # the time series' own interval of the expected total, and avoided from it
        summed = summed.join(pl.DataFrame(its_limits), on=["neighbourhood_code", "measure", "age_group", "method"], how="left")
        summed = summed.with_columns(
            expected_lower=pl.coalesce("its_lower", "expected_lower"), expected_upper=pl.coalesce("its_upper", "expected_upper"),
            avoided_lower=pl.coalesce(pl.col("its_lower") - pl.col("observed"), "avoided_lower"),
            avoided_upper=pl.coalesce(pl.col("its_upper") - pl.col("observed"), "avoided_upper"),
        ).drop("its_lower", "its_upper")
    return summed.with_columns(
        avoided_pct=pl.when(pl.col("expected") > 0).then(100 * pl.col("avoided") / pl.col("expected")),
    ).select(SUMMARY_COLUMNS).sort("neighbourhood_code", "measure", "age_group", "method")
