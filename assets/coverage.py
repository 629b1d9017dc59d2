"""Feed coverage and the reporting period: what each activity feed covers, the as-of date that
every required feed covers, and the months of the window with no or few rows."""

import datetime as dt

import dagster as dg

from assets.factory import PERIOD_TABLE, Step, warehouse_asset, warehouse_check
from assets.metadata import markdown_table
from assets.extracts import extract_supplied
from cohorts.period import Period, window_start
from pipeline.extract_files import ExtractFileError
from metrics.coverage import FEEDS, as_of_problem, build_coverage_gaps, build_feed_coverage, covered_until


@warehouse_asset(
    group="staging",
    preview=True,
    deps=[f"stg_{feed}" for feed in FEEDS],
    description=(
        "Each activity feed's first and last accepted activity date and rows (`feed_coverage`), and its rows by "
        "month for the whole feed and per GP practice (appointments) or hospital provider (admissions) "
        "(`feed_coverage_monthly`). The default as-of date comes from here."
    ),
)
def feed_coverage(step: Step) -> dict:
    build_feed_coverage(step.conn)
    return {"covered_until": str(covered_until(step.conn))}


@warehouse_asset(
    name=PERIOD_TABLE,
    group="staging",
    preview=True,
    deps=["feed_coverage"],
    description=(
        "The run's reporting period and thresholds, one row: the as-of date (HIU_AS_OF, or the last day that "
        "every required activity feed covers), the 12-month window it ends and the HIU thresholds in force. "
        "An as-of date the feeds do not cover fails the run."
    ),
)
def reporting_period(step: Step) -> dict:
    as_of, source = step.settings.as_of_date, "set by --as-of or HIU_AS_OF"
    if as_of is None:
        as_of, source = covered_until(step.conn), "the last day every required activity feed covers"
    problem = as_of_problem(step.conn, as_of) if as_of else "the required activity feeds hold no accepted dates"
    if problem:
        raise ExtractFileError(f"{step.settings.extracts_path}: {problem}; nothing can be counted for that date")
    period, t = Period(as_of), step.settings.thresholds
    step.conn.execute(
        f"""CREATE OR REPLACE TABLE {PERIOD_TABLE} AS SELECT ?::DATE AS as_of, ?::DATE AS window_start,
            ?::DATE AS window_end, ? AS as_of_source, ?::INTEGER AS gp_threshold,
            ?::INTEGER AS ed_threshold, ?::INTEGER AS admissions_threshold""",
        [period.as_of, period.start, period.end, source, t.gp, t.ed, t.admissions],
    )
    step.context.instance.add_run_tags(step.context.run.run_id, run_tags(step.settings, period.as_of.isoformat()))
    return {"as_of": str(period.as_of), "window": f"{period.start} to {period.end}", "as_of_source": source}


def run_tags(settings, as_of: str) -> dict[str, str]:
    """What a run read and wrote, so the UI's run list says which drop and date each run is."""
    return {
        "hiu/extracts": str(settings.extracts_path.resolve()),
        "hiu/output": str(settings.output_path.resolve()),
        "hiu/as_of": as_of,
    }


@warehouse_asset(
    group="staging",
    preview=True,
    deps=[PERIOD_TABLE, "feed_coverage"],
    description=(
        "Months of the 12-month window in which a feed, or one GP practice or hospital provider of it, has no rows "
        "or under half its median month: each undercounts everyone it covers."
    ),
)
def coverage_gaps(step: Step) -> dict:
    look_backs = {}
    if extract_supplied(step.conn, "admission_diagnoses"):  # HFRS reads two years of admissions
        look_backs["admissions"] = (window_start(step.period.as_of, years=2), "HFRS 2-year look-back")
    return {"gaps": build_coverage_gaps(step.conn, step.period, look_backs=look_backs)}


@warehouse_check(
    "coverage_gaps",
    name="window_fully_covered",
    description="WARN when any month of the window has no or few rows for a feed, practice or provider.",
)
def window_fully_covered(step: Step) -> dg.AssetCheckResult:
    gaps = step.conn.sql(
        """SELECT feed, CASE WHEN unit_type = 'all' THEN 'whole feed' ELSE unit_type || ' ' || unit END AS "where",
                  needed_for, string_agg(strftime(month, '%Y-%m') || ' (' || gap || ')', ', ' ORDER BY month) AS months
           FROM coverage_gaps GROUP BY ALL ORDER BY ALL"""
    ).pl()
    if gaps.height == 0:
        return dg.AssetCheckResult(passed=True)
    lines = [f"{feed}, {where}: {months}" for feed, where, _, months in gaps.head(10).rows()]
    if gaps.height > 10:
        lines.append(f"and {gaps.height - 10} more in quality/data_quality.md")
    hint = ""
    last = step.conn.execute(
        "SELECT max(month) FROM coverage_gaps WHERE unit_type = 'all' AND month = date_trunc('month', ?::DATE)", [step.period.as_of]
    ).fetchall()[0][0]
    if last is not None:
        hint = f"\n      hint: the last month of the window is short of rows; an earlier as-of date (--as-of {last - dt.timedelta(days=1)}) may be whole"
    return dg.AssetCheckResult(
        passed=False,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "message": "months with no or few rows, which undercount everyone they cover:\n      " + "\n      ".join(lines) + hint,
            "gaps": dg.MetadataValue.md(markdown_table(gaps)),
        },
    )
