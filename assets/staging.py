"""Staging: each extract checked against its rules into a typed `stg_<extract>` table and a
`quarantine_<extract>` table, with checks beside them; then the reporting period, whose default
as-of date is the latest *accepted* activity date (a quarantined row never moves it)."""

import datetime as dt


import dagster as dg
import pandera.polars as pa
from dagster_duckdb import DuckDBResource

from assets.metadata import counts_markdown, table_metadata
from cohorts.period import Period, latest_activity_date
from pipeline.resources import WAREHOUSE_POOL
from pipeline.settings import HiuSettings
from pipeline.staging import stage_extract
from schemas.extracts import EXTRACTS, Extract
from pipeline.duck import scalar
from schemas.sql_rules import rows_breaking_rules_sql, staging_columns

PERIOD_TABLE = "reporting_period"
# (staging table, its activity date as a DATE): where the default as-of date comes from.
ACTIVITY_DATES = [
    ("stg_gp_appointments", "appointment_date"),
    ("stg_ed_attendances", "CAST(arrival_datetime AS DATE)"),
    ("stg_admissions", "admission_date"),
]


def read_period(conn) -> tuple[Period, dict]:
    row = conn.sql(f"SELECT * FROM {PERIOD_TABLE}").pl().row(0, named=True)
    return Period(row["as_of"]), row


@dg.asset(
    group_name="staging",
    kinds={"duckdb"},
    pool=WAREHOUSE_POOL,
    deps=[table for table, _ in ACTIVITY_DATES],
    description=(
        "The run's reporting period and thresholds, one row: the as-of date (HIU_AS_OF, or the latest "
        "accepted activity date in the extracts), the 12-month window it ends and the HIU thresholds in force."
    ),
)
def reporting_period(settings: HiuSettings, warehouse: DuckDBResource) -> dg.MaterializeResult:
    with warehouse.get_connection() as conn:
        as_of, source = settings.as_of_date, "HIU_AS_OF"
        if as_of is None:
            as_of, source = latest_activity_date(conn, ACTIVITY_DATES), "latest accepted activity date in the extracts"
        if as_of is None:
            raise ValueError("no as-of date: HIU_AS_OF is not set and the extracts hold no valid activity date")
        period, t = Period(as_of), settings.thresholds
        conn.execute(
            f"""CREATE OR REPLACE TABLE {PERIOD_TABLE} AS SELECT ?::DATE AS as_of, ?::DATE AS window_start,
                ?::DATE AS window_end, ? AS as_of_source, ?::INTEGER AS gp_threshold,
                ?::INTEGER AS ed_threshold, ?::INTEGER AS admissions_threshold""",
            [period.as_of, period.start, period.end, source, t.gp, t.ed, t.admissions],
        )
        metadata = table_metadata(conn, PERIOD_TABLE)
    return dg.MaterializeResult(
        metadata={**metadata, "as_of": str(period.as_of), "window": f"{period.start} to {period.end}", "as_of_source": source}
    )


def staging_asset(extract: Extract) -> dg.AssetsDefinition:
    references = sorted({ref.extract for ref in extract.references})

    @dg.asset(
        name=f"stg_{extract.name}",
        group_name="staging",
        kinds={"duckdb"},
        pool=WAREHOUSE_POOL,
        deps=[f"raw_{extract.name}", *[f"stg_{name}" for name in references]],
        description=(
            f"{extract.description} Rows of `raw_{extract.name}` that meet every rule of "
            f"`schemas.extracts.{extract.model.__name__}`, typed; the rest go to `quarantine_{extract.name}` "
            "with source file, row number, values and reasons."
        ),
    )
    def _stg(context: dg.AssetExecutionContext, warehouse: DuckDBResource) -> dg.MaterializeResult:
        with warehouse.get_connection() as conn:
            counts = stage_extract(conn, extract, today=dt.date.today())
            metadata = table_metadata(conn, f"stg_{extract.name}")
        if counts.quarantined:
            context.log.warning(f"{extract.name}: {counts.quarantined:,} of {counts.read:,} rows quarantined")
        return dg.MaterializeResult(
            metadata={
                **metadata,
                "rows_read": counts.read,
                "rows_accepted": counts.accepted,
                "rows_quarantined": counts.quarantined,
                "quarantine_by_reason": dg.MetadataValue.md(counts_markdown(counts.by_reason)),
            }
        )

    return _stg


def conservation_check(extract: Extract) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=f"stg_{extract.name}",
        name="rows_read_equal_accepted_plus_quarantined",
        blocking=True,
        description="Nothing read is lost: every raw row is either accepted or quarantined.",
    )
    def _check(warehouse: DuckDBResource) -> dg.AssetCheckResult:
        with warehouse.get_connection() as conn:
            read, accepted, quarantined = conn.execute(
                f"""SELECT (SELECT count(*) FROM raw_{extract.name}), (SELECT count(*) FROM stg_{extract.name}),
                           (SELECT count(*) FROM quarantine_{extract.name})"""
            ).fetchall()[0]
        return dg.AssetCheckResult(
            passed=read == accepted + quarantined,
            metadata={"read": read, "accepted": accepted, "quarantined": quarantined},
        )

    return _check


def schema_check(extract: Extract) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=f"stg_{extract.name}",
        name="matches_schema",
        blocking=True,
        description=(
            f"Columns and types as `schemas.extracts.{extract.model.__name__}`; no row breaks any of its rules "
            "(every row, in SQL); the first 10,000 rows validate with pandera itself."
        ),
    )
    def _check(warehouse: DuckDBResource) -> dg.AssetCheckResult:
        expected = [(c.name, c.sql_type) for c in staging_columns(extract)]
        with warehouse.get_connection() as conn:
            actual = [(name, sql_type) for name, sql_type, *_ in conn.execute(f"DESCRIBE stg_{extract.name}").fetchall()]
            broken = scalar(conn, rows_breaking_rules_sql(extract, f"stg_{extract.name}", dt.date.today()))
            sample = conn.sql(f"SELECT * FROM stg_{extract.name} LIMIT 10000").pl()
        problems = []
        if actual != expected:
            problems.append(f"columns {actual} differ from {expected}")
        if broken:
            problems.append(f"{broken} rows break a rule")
        try:
            extract.model.validate(sample, lazy=True)
        except pa.errors.SchemaErrors as error:
            problems.append(str(error.failure_cases.head(20)))
        return dg.AssetCheckResult(passed=not problems, metadata={"problems": "\n".join(problems) or "none"})

    return _check


def unique_id_check(extract: Extract) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=f"stg_{extract.name}",
        name=f"{extract.id_column}_is_unique",
        blocking=True,
        description=f"No two accepted rows share a {extract.id_column}.",
    )
    def _check(warehouse: DuckDBResource) -> dg.AssetCheckResult:
        with warehouse.get_connection() as conn:
            rows, distinct = conn.execute(
                f"SELECT count(*), count(DISTINCT {extract.id_column}) FROM stg_{extract.name}"
            ).fetchall()[0]
        return dg.AssetCheckResult(passed=rows == distinct, metadata={"rows": rows, "distinct_ids": distinct})

    return _check


@dg.asset(
    group_name="staging",
    kinds={"duckdb"},
    pool=WAREHOUSE_POOL,
    deps=[f"stg_{name}" for name in EXTRACTS],
    description="Quarantined rows of every extract counted by extract and reason (one reason per row and rule broken).",
)
def quarantine_summary(warehouse: DuckDBResource) -> dg.MaterializeResult:
    union = " UNION ALL ".join(
        f"SELECT extract, unnest(string_split(reason, '; ')) AS reason FROM quarantine_{name}" for name in EXTRACTS
    )
    with warehouse.get_connection() as conn:
        conn.execute(
            f"""CREATE OR REPLACE TABLE quarantine_summary AS
                SELECT extract, reason, count(*) AS rows FROM ({union})
                GROUP BY ALL ORDER BY extract, rows DESC, reason"""
        )
        by_reason = {f"{e}: {r}": n for e, r, n in conn.execute("SELECT * FROM quarantine_summary").fetchall()}
        metadata = table_metadata(conn, "quarantine_summary", preview_rows=20)
    return dg.MaterializeResult(
        metadata={**metadata, "quarantined_by_reason": dg.MetadataValue.md(counts_markdown(by_reason))}
    )


staging_assets = [staging_asset(extract) for extract in EXTRACTS.values()]
staging_checks = [conservation_check(e) for e in EXTRACTS.values()] + [schema_check(e) for e in EXTRACTS.values()]
staging_checks += [unique_id_check(e) for e in EXTRACTS.values() if e.id_column]
