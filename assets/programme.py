"""Is the programme making a difference: counterfactual activity, cohort follow-up and the social
care profile (the `programme` asset group). Every table here is an aggregate over neighbourhoods;
the person-level table behind the follow-up stays in the warehouse."""

import base64
import datetime as dt

import dagster as dg
import polars as pl

from assets.extracts import extract_supplied
from assets.factory import PERIOD_TABLE, Step, failed, warehouse_asset, warehouse_check
from assets.metadata import markdown_table
from assets.model_checks import matches_model
from metrics.charts import svg_figure
from metrics.counterfactual import (
    ALL, COUNTERFACTUAL_MEASURES, POPULATION_STANDARDISED, build_baseline_squares, build_completeness,
    build_counterfactual_cells, build_neighbourhood_activity, build_population_standardised, plan_months,
)
from metrics.followup import build_cohort_followup, build_followup_people, covered_cohorts
from metrics.population import build_monthly_population
from metrics.programme import (
    LAST_12_MONTHS, SINCE_GO_LIVE, build_counterfactual_activity, go_live_dates, programme_summary,
)
from metrics.social_care_profile import build_social_care_profile
from risk.steps import data_start
from schemas.programme import CohortFollowup, CounterfactualActivity, ProgrammeSummary, SocialCareProfile, empty_frame

COVERAGE = [PERIOD_TABLE, "feed_coverage"]


def programme_months(step: Step):
    start = step.settings.baseline_start
    return plan_months(step.period.as_of, data_start(step.conn), dt.date.fromisoformat(start) if start else None)


def admissions_end(step: Step) -> dt.date:
    """The last day the admissions feed covers: spells still open then have no bed days yet."""
    row = step.conn.execute("SELECT last_date FROM feed_coverage WHERE feed = 'admissions'").fetchone()
    return row[0] if row and row[0] is not None else step.period.as_of


def _write(step: Step, table: str, frame: pl.DataFrame) -> None:
    step.conn.register(f"{table}_frame", frame.to_arrow())
    step.conn.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM {table}_frame")
    step.conn.unregister(f"{table}_frame")


@warehouse_asset(
    group="programme",
    deps=["stg_population", "stg_practices", *COVERAGE],
    description=(
        "The denominator of every rate: people in the population on each month's first day by neighbourhood, "
        "sex and five-year age band (age on that day), from the first month of the counterfactual baseline to "
        "the last whole month to the as-of date."
    ),
)
def monthly_population(step: Step) -> dict:
    months = programme_months(step)
    if months is None:
        step.conn.execute("CREATE OR REPLACE TABLE monthly_population (neighbourhood_code VARCHAR, month DATE, sex VARCHAR, age_band VARCHAR, population BIGINT)")
        return {"months": 0}
    build_monthly_population(step.conn, months.baseline_first, months.last)
    return {"months": months.reported + 12, "first_month": str(months.baseline_first), "last_month": str(months.last)}


@warehouse_asset(
    group="programme",
    deps=["person_events", "stg_population", "stg_practices", *COVERAGE],
    description=(
        "Counterfactual measures (ED attendances, emergency admissions, short stays, emergency bed days, "
        "ambulance arrivals) by neighbourhood, month, sex and five-year age band: each event in the "
        "neighbourhood of the practice its person was registered with on its date."
    ),
)
def monthly_neighbourhood_activity(step: Step) -> dict:
    months = programme_months(step)
    if months is None:
        measures = ", ".join(f"{m} BIGINT" for m in COUNTERFACTUAL_MEASURES)
        step.conn.execute(
            "CREATE OR REPLACE TABLE monthly_neighbourhood_activity "
            f"(neighbourhood_code VARCHAR, month DATE, sex VARCHAR, age_band VARCHAR, {measures})"
        )
        return {"months": 0}
    build_neighbourhood_activity(step.conn, months.baseline_first, months.last)
    return {"months": months.reported + 12}


def _chart(frame: pl.DataFrame, title: str) -> str:
    """Observed against expected with the observed count's 95% band, as an inline SVG image."""
    months = frame["month"].to_list()
    with svg_figure("counterfactual", (7, 3.2)) as (figure, axis, to_svg):
        axis.fill_between(months, frame["observed_lower"], frame["observed_upper"], alpha=0.25, label="observed, 95% interval")
        axis.plot(months, frame["observed"], marker="o", markersize=3, label="observed")
        axis.plot(months, frame["expected"], linestyle="--", label="expected (baseline rates)")
        axis.set_title(title, fontsize=10)
        axis.legend(fontsize=8, frameon=False)
        axis.tick_params(labelsize=8)
        figure.autofmt_xdate()
        figure.tight_layout()
        svg = to_svg()
    encoded = base64.b64encode(svg.encode()).decode()
    return f"![{title}](data:image/svg+xml;base64,{encoded})"


@warehouse_asset(
    group="programme",
    model=CounterfactualActivity,
    preview=True,
    kinds=("duckdb", "statsmodels"),
    # person_events: the limits of the summary count people, not events, as what varies
    deps=["monthly_population", "monthly_neighbourhood_activity", "person_events", "stg_population", "stg_practices",
          *COVERAGE],
    description=(
        "Activity each neighbourhood (and ALL) would have had month by month without the programme: "
        "population_standardised (baseline rates by sex and age band applied to the population now, Byar limits) "
        "and, where a go-live date is known, an interrupted time series (statsmodels). Also `programme_summary`: "
        "activity avoided over the last 12 months and since go-live, with limits that carry the baseline's noise."
    ),
)
def counterfactual_activity(step: Step) -> dict:
    months = programme_months(step)
    go_live = go_live_dates(step.conn)
    if months is None:
        why = "the data hold no month after a whole 12-month baseline"
        step.log.warning(f"counterfactual activity not calculated: {why}")
        _write(step, "counterfactual_activity", empty_frame(CounterfactualActivity))
        _write(step, "programme_summary", empty_frame(ProgrammeSummary))
        return {"why_none": why}
    build_counterfactual_cells(step.conn)
    squares = "counterfactual_baseline_squares"
    build_baseline_squares(step.conn, months.baseline_first, table=squares)
    completeness = "counterfactual_completeness"
    build_completeness(step.conn, months.baseline_first, months.last, admissions_end(step), table=completeness)
    build_population_standardised(step.conn, months.baseline_first, months.last, squares=squares, completeness=completeness)
    frame, fits = build_counterfactual_activity(step.conn, months.baseline_first, months.last, go_live,
                                                completeness=completeness)
    _write(step, "counterfactual_activity", frame)
    summary = programme_summary(step.conn, months, go_live, fits)
    _write(step, "programme_summary", summary)
    area = frame.filter(pl.col("neighbourhood_code") == ALL, pl.col("method") == POPULATION_STANDARDISED, pl.col("age_group") == "65+")
    charts = {
        f"chart_{measure}_65_plus": dg.MetadataValue.md(
            _chart(area.filter(pl.col("measure") == measure).sort("month"), f"Whole area, 65 and over: {measure.replace('_', ' ')}")
        )
        for measure in ("emergency_admissions", "ed_attendances")
    }
    standardised = summary.filter(pl.col("method") == POPULATION_STANDARDISED)
    headline = standardised.filter(
        pl.col("age_group") == "65+", pl.col("measure").is_in(["ed_attendances", "emergency_admissions"]),
    ).select(
        "neighbourhood_code", "period", "measure", "go_live_date", "months", "observed", pl.col("expected").round(0),
        pl.col("avoided").round(0), pl.col("avoided_lower").round(0), pl.col("avoided_upper").round(0),
    )
    whole_area = standardised.filter(pl.col("neighbourhood_code") == ALL, pl.col("age_group") == "all")
    return {
        "baseline": f"{months.baseline_first} to {months.baseline_last}",
        "months_reported": months.reported,
        "neighbourhoods_live": sum(day is not None for day in go_live.values()),
        # aggregates of whole neighbourhoods: plotted across runs in the UI
        **{f"avoided_{period}_{m}": float(whole_area.filter(pl.col("measure") == m, pl.col("period") == period)["avoided"].sum())
           for period in (LAST_12_MONTHS, SINCE_GO_LIVE) for m in ("ed_attendances", "emergency_admissions")},
        "programme_summary_65_plus": dg.MetadataValue.md(markdown_table(headline)),
        **charts,
    }


counterfactual_activity_matches_schema = matches_model(counterfactual_activity, "counterfactual_activity", CounterfactualActivity)


@warehouse_check(
    counterfactual_activity,
    name="counterfactual_activity_adds_up",
    description=(
        "Recounted from `monthly_population` and `monthly_neighbourhood_activity`: every neighbourhood has a "
        "population_standardised row for every reported month, measure and age group; ALL is the sum of the "
        "neighbourhoods (observed, expected, population); 75+ is within 65+ within all."
    ),
)
def counterfactual_activity_adds_up(step: Step) -> dg.AssetCheckResult:
    problems = [row[0] for row in step.conn.execute(
        f"""
        WITH s AS (SELECT * FROM counterfactual_activity WHERE method = '{POPULATION_STANDARDISED}'),
        sums AS (
            SELECT month, measure, age_group, sum(observed) AS observed, sum(expected) AS expected, sum(population) AS population
            FROM s WHERE neighbourhood_code <> '{ALL}' GROUP BY ALL
        ),
        whole AS (SELECT * FROM s WHERE neighbourhood_code = '{ALL}'),
        grid AS (
            SELECT n.neighbourhood_code, m.month, x.measure, g.age_group
            FROM (SELECT DISTINCT neighbourhood_code FROM monthly_population) n
            CROSS JOIN (SELECT DISTINCT month FROM s) m
            CROSS JOIN (SELECT DISTINCT measure FROM s) x
            CROSS JOIN (SELECT unnest(['all', '65+', '75+']) AS age_group) g
        )
        SELECT 'ALL is not the sum of the neighbourhoods for ' || count(*) || ' rows'
        FROM sums JOIN whole USING (month, measure, age_group)
        WHERE sums.observed <> whole.observed OR sums.population <> whole.population
           OR abs(sums.expected - whole.expected) > 1e-6 * greatest(1, whole.expected)
        HAVING count(*) > 0
        UNION ALL
        SELECT count(*) || ' neighbourhood, month, measure and age group rows missing'
        FROM grid ANTI JOIN s USING (neighbourhood_code, month, measure, age_group)
        HAVING count(*) > 0
        UNION ALL
        SELECT 'an older age group has more people or activity than a wider one in ' || count(*) || ' rows'
        FROM s a JOIN s b USING (neighbourhood_code, month, measure)
        WHERE ((a.age_group = '75+' AND b.age_group = '65+') OR (a.age_group = '65+' AND b.age_group = 'all'))
          AND (a.observed > b.observed OR a.population > b.population)
        HAVING count(*) > 0
        UNION ALL
        SELECT 'observed activity does not match monthly_neighbourhood_activity for ' || count(*) || ' months'
        FROM (
            SELECT month, sum(ed_attendances) AS ed, sum(emergency_admissions) AS admissions
            FROM monthly_neighbourhood_activity GROUP BY month
        ) a JOIN (
            SELECT month, sum(observed) FILTER (WHERE measure = 'ed_attendances') AS ed,
                   sum(observed) FILTER (WHERE measure = 'emergency_admissions') AS admissions
            FROM s WHERE neighbourhood_code = '{ALL}' AND age_group = 'all' GROUP BY month
        ) b USING (month)
        WHERE a.ed <> b.ed OR a.admissions <> b.admissions
        HAVING count(*) > 0
        """
    ).fetchall()]
    if problems:
        return failed("counterfactual_activity: " + "; ".join(problems))
    return dg.AssetCheckResult(passed=True)


programme_summary_matches_schema = matches_model(counterfactual_activity, "programme_summary", ProgrammeSummary)


@warehouse_asset(
    group="programme",
    model=CohortFollowup,
    preview=True,
    deps=["person_events", "stg_population", "stg_practices", *COVERAGE],
    description=(
        "The high intensity users identified as at as-of - 12 months and their unplanned activity (ED + emergency "
        "admissions) in the 12 months before and after, by neighbourhood; the same for the cohort identified 12 "
        "months earlier, whose fall is what regression to the mean gives on its own; the net change with a "
        "bootstrap interval. A before/after fall in a high-use cohort is not an effect on its own."
    ),
)
def cohort_followup(step: Step) -> dict:
    cohorts = covered_cohorts(step.period.as_of, data_start(step.conn))
    build_followup_people(step.conn, step.period.as_of, step.thresholds, cohorts)
    frame = build_cohort_followup(step.conn, go_live_dates(step.conn))
    if "current" not in cohorts:
        why = "the activity data do not cover the 12 months before as-of minus 12 months"
        step.log.warning(f"cohort follow-up not calculated: {why}")
        _write(step, "cohort_followup", empty_frame(CohortFollowup))
        return {"why_none": why}
    if "earlier" not in cohorts:
        step.log.warning("cohort follow-up: no comparison cohort (the data do not reach 36 months back), so no "
                         "expected change: the change shown includes regression to the mean")
    types = {name: column.dtype.type for name, column in CohortFollowup.to_schema().columns.items()}
    _write(step, "cohort_followup", frame.cast(types))
    whole = frame.filter(pl.col("neighbourhood_code") == ALL).row(0, named=True)
    return {
        "cohort_people": whole["people"],
        "change_pct": whole["change_pct"],
        "expected_change_pct": whole["expected_change_pct"],
        "net_change_pct": whole["net_change_pct"],
        "regression_to_the_mean": (
            f"The cohort's unplanned activity changed by {_pct(whole['change_pct'])}; the cohort identified a year "
            f"earlier changed by {_pct(whole['expected_change_pct'])} with no programme: that fall is regression to "
            f"the mean. Net of it: {_pct(whole['net_change_pct'])}."
        ),
    }


def _pct(value) -> str:
    return "n/a" if value is None else f"{value:+.1f}%"


cohort_followup_matches_schema = matches_model(cohort_followup, "cohort_followup", CohortFollowup)


@warehouse_asset(
    group="programme",
    model=SocialCareProfile,
    preview=True,
    deps=["person_events", "person_intensity", *COVERAGE],
    description=(
        "HIMSU, other high intensity users and the rest of the social care population, by neighbourhood and ALL: "
        "how many are in social care, their requests and repeat requesters, reviews and unplanned reviews in the "
        "12-month window."
    ),
)
def social_care_profile(step: Step) -> dict:
    build_social_care_profile(step.conn, step.period)
    whole = step.conn.sql(
        f"""SELECT "group", people, people_in_social_care, round(people_in_social_care_pct, 1) AS in_social_care_pct,
                   round(repeat_request_pct, 1) AS repeat_request_pct, round(unplanned_review_pct, 1) AS unplanned_review_pct
            FROM social_care_profile WHERE neighbourhood_code = '{ALL}'"""
    ).pl()
    supplied = extract_supplied(step.conn, "social_care_events")
    return {"whole_area": dg.MetadataValue.md(markdown_table(whole)), "social_care_supplied": supplied}


social_care_profile_matches_schema = matches_model(social_care_profile, "social_care_profile", SocialCareProfile)
