"""Staging: each extract checked against its rules into a typed `stg_<extract>` table and a
`quarantine_<extract>` table, with the checks beside them: nothing lost, the contract's rules hold
on what was accepted, ids unique, and not too much quarantined (an ERROR that stops the run before
anything is published, naming the file and the reasons) or warned about (a WARN)."""

import datetime as dt

import dagster as dg
import pandera.polars as pa

from assets.extracts import FILES_TABLE, INVENTORY_TABLE
from assets.factory import Step, failed, warehouse_asset, warehouse_check
from assets.metadata import counts_markdown
from pipeline.duck import row_count, scalar
from pipeline.staging import COUNTS_TABLE, FINDINGS_TABLE, stage_extract
from schemas.extracts import EXTRACTS, Extract
from schemas.sql_rules import quote_ident, rows_breaking_rules_sql, staging_columns

# Quarantined values that look like a day and a month in some order: the file needs a date format.
DAY_MONTH_YEAR = r"^[0-9]{1,2}[/.-][0-9]{1,2}[/.-][0-9]{2,4}"
# Messages list one file (or hint) a line, indented under the fault, as `hiu run` prints them.
DETAIL_SEPARATOR = "\n      "


def staging_asset(extract: Extract):
    references = sorted({ref.extract for ref in extract.references})

    @warehouse_asset(
        name=f"stg_{extract.name}",
        group="staging",
        deps=[f"raw_{extract.name}", *[f"stg_{name}" for name in references]],
        description=(
            f"{extract.description} Rows of `raw_{extract.name}` that meet every contract rule of "
            f"`schemas.extracts.{extract.model.__name__}`, normalised and typed; the rest go to "
            f"`quarantine_{extract.name}` with source file, row number, values and reasons. Warnings "
            "(implausible values, bad values in columns the counts do not need) keep the row."
        ),
    )
    def _stg(step: Step) -> dict:
        counts = stage_extract(step.conn, extract, dt.date.today(), step.settings.date_format(extract.name))
        if counts.quarantined:
            step.log.warning(f"{extract.name}: {counts.quarantined:,} of {counts.read:,} rows quarantined")
        return {
            "rows_read": counts.read,
            "rows_accepted": counts.accepted,
            "rows_quarantined": counts.quarantined,
            "rows_warned": counts.warned,
            "rows_normalised": counts.normalised,
            "quarantined_share": round(counts.quarantined_share, 4),
            "quarantine_by_reason": dg.MetadataValue.md(counts_markdown(counts.by_reason)),
            "warnings_by_rule": dg.MetadataValue.md(counts_markdown(findings_by_rule(step.conn, extract.name, "warning"))),
            "normalisations": dg.MetadataValue.md(counts_markdown(findings_by_rule(step.conn, extract.name, "normalisation"))),
        }

    return _stg


def findings_by_rule(conn, extract: str, kind: str) -> dict[str, int]:
    return dict(
        conn.execute(
            f"SELECT rule, sum(rows)::BIGINT FROM {FINDINGS_TABLE} WHERE extract = ? AND kind = ? GROUP BY rule ORDER BY 2 DESC, 1",
            [extract, kind],
        ).fetchall()
    )


def findings_by_file(conn, extract: str, kind: str, limit: int = 3) -> list[str]:
    """'file: reason (rows), ...' for the commonest findings of each file."""
    rows = conn.execute(
        f"""SELECT coalesce(f.path, 'file ' || q.file_index), q.rule, q.rows
            FROM {FINDINGS_TABLE} q LEFT JOIN {FILES_TABLE} f ON f.extract = q.extract AND f.file_index = q.file_index
            WHERE q.extract = ? AND q.kind = ?
            QUALIFY row_number() OVER (PARTITION BY q.file_index ORDER BY q.rows DESC, q.rule) <= ?
            ORDER BY 1, 3 DESC""",
        [extract, kind, limit],
    ).fetchall()
    by_file: dict[str, list[str]] = {}
    for path, rule, count in rows:
        by_file.setdefault(path, []).append(f"{rule} ({count:,})")
    return [f"{path}: {', '.join(rules)}" for path, rules in by_file.items()]


def date_format_hints(conn, extract: Extract) -> list[str]:
    """A hint for each date column whose quarantined values look like DD/MM/YYYY (or MM/DD/YYYY):
    which is which is never guessed, so the file's format must be named."""
    hints = []
    for column in staging_columns(extract):
        if column.sql_type not in ("DATE", "TIMESTAMP"):
            continue
        looks = scalar(
            conn,
            f"SELECT count(*) FROM quarantine_{extract.name} WHERE regexp_matches(trim({quote_ident(column.name)}), ?)",
            [DAY_MONTH_YEAR],
        )
        if looks:
            hints.append(
                f"hint: {looks:,} values of {column.name} look like DD/MM/YYYY or MM/DD/YYYY, which is ambiguous: name the "
                f"file's format, e.g. HIU_DATE_FORMATS={extract.name}=%d/%m/%Y"
            )
    return hints


def quarantine_check(extract: Extract):
    @warehouse_check(
        f"stg_{extract.name}",
        name="quarantine_within_limit",
        description=(
            "ERROR (the run stops before anything is published) when more than HIU_MAX_QUARANTINE_SHARE of "
            "the rows read are quarantined" + (", or when no row is accepted" if extract.required else "")
            + "; WARN when any row is. The message names each file and its commonest reasons."
        ),
    )
    def _check(step: Step) -> dg.AssetCheckResult:
        conn, limit = step.conn, step.settings.max_quarantine_share
        # Rows read as staging counted them: a second count of the raw view would parse every CSV again.
        read = scalar(conn, f"SELECT rows_read FROM {COUNTS_TABLE} WHERE extract = ?", [extract.name]) or 0
        accepted = scalar(conn, f"SELECT count(*) FROM stg_{extract.name}")
        quarantined = read - accepted
        share = quarantined / read if read else 0.0
        metadata = {"rows_read": read, "rows_quarantined": quarantined, "quarantined_share": round(share, 4), "limit": limit}
        details = DETAIL_SEPARATOR.join(findings_by_file(conn, extract.name, "quarantine") + date_format_hints(conn, extract))
        if extract.required and accepted == 0:
            sources = [r[0] for r in conn.execute(
                f"SELECT path FROM {FILES_TABLE} WHERE extract = ? ORDER BY file_index", [extract.name]
            ).fetchall()] or [str(step.settings.extracts_path / extract.name)]
            where = details or f"{', '.join(sources)}: {read:,} rows"
            return failed(f"required extract {extract.name} has no accepted rows, so nothing can be counted:{DETAIL_SEPARATOR}{where}", **metadata)
        if share > limit:
            return failed(
                f"{extract.name}: {share:.1%} of {read:,} rows quarantined, more than HIU_MAX_QUARANTINE_SHARE "
                f"({limit:.0%}):{DETAIL_SEPARATOR}{details}",
                **metadata,
            )
        if quarantined:
            return dg.AssetCheckResult(
                passed=False,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"message": f"{extract.name}: {quarantined:,} of {read:,} rows quarantined:{DETAIL_SEPARATOR}{details}", **metadata},
            )
        return dg.AssetCheckResult(passed=True, metadata=metadata)

    return _check


def warning_check(extract: Extract):
    @warehouse_check(
        f"stg_{extract.name}",
        name="warnings_reported",
        description=(
            "WARN when accepted rows carry data-quality warnings (implausible values, or bad values in columns the "
            "counts do not need, read as null), or when nullable columns are not in the files at all; the rows stay "
            "and are counted in quality/data_quality.md."
        ),
    )
    def _check(step: Step) -> dg.AssetCheckResult:
        by_rule = findings_by_rule(step.conn, extract.name, "warning")
        accepted = scalar(step.conn, f"SELECT count(*) FROM stg_{extract.name}")
        absent = scalar(step.conn, f"SELECT absent_columns FROM {INVENTORY_TABLE} WHERE extract = ?", [extract.name]) or []
        metadata = {"warnings_by_rule": dg.MetadataValue.md(counts_markdown(by_rule)), "rows_accepted": accepted}
        if not by_rule and not (absent and accepted):
            return dg.AssetCheckResult(passed=True, metadata=metadata)
        details = findings_by_file(step.conn, extract.name, "warning")
        if absent and accepted:
            # Allowed by the contract, but a missing date_of_death keeps the dead on the lists.
            details.append(f"columns not in the files, blank for every row: {', '.join(absent)}")
        details = DETAIL_SEPARATOR.join(details)
        return dg.AssetCheckResult(
            passed=False,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"message": f"{extract.name}: data-quality warnings (rows kept):{DETAIL_SEPARATOR}{details}", **metadata},
        )

    return _check


def conservation_check(extract: Extract):
    @warehouse_check(
        f"stg_{extract.name}",
        name="rows_read_equal_accepted_plus_quarantined",
        description="Nothing read is lost: every raw row is either accepted or quarantined.",
    )
    def _check(step: Step) -> dg.AssetCheckResult:
        read, accepted, quarantined = step.conn.execute(
            f"""SELECT (SELECT count(*) FROM raw_{extract.name}), (SELECT count(*) FROM stg_{extract.name}),
                       (SELECT count(*) FROM quarantine_{extract.name})"""
        ).fetchall()[0]
        metadata = {"read": read, "accepted": accepted, "quarantined": quarantined}
        if read != accepted + quarantined:
            return failed(f"{extract.name}: {read:,} rows read but {accepted:,} accepted and {quarantined:,} quarantined", **metadata)
        return dg.AssetCheckResult(passed=True, metadata=metadata)

    return _check


SCHEMA_SAMPLE_ROWS = 10_000


def schema_check(extract: Extract):
    @warehouse_check(
        f"stg_{extract.name}",
        name="matches_schema",
        description=(
            f"Columns and types as `schemas.extracts.{extract.model.__name__}`; of at most {SCHEMA_SAMPLE_ROWS:,} accepted "
            "rows spread evenly over the table (every row of a smaller table), none breaks a contract rule re-read from "
            "its typed values in SQL, and all validate with pandera itself. A sample finds a fault of staging's passes "
            "that touches many rows, not one row in a million: the passes apply the same rules to every row."
        ),
    )
    def _check(step: Step) -> dg.AssetCheckResult:
        expected = [(c.name, c.sql_type) for c in staging_columns(extract)]
        table, sampled = f"stg_{extract.name}", f"stg_{extract.name}__sample"
        actual = [(name, sql_type) for name, sql_type, *_ in step.conn.execute(f"DESCRIBE {table}").fetchall()]
        # A sample, not every row: staging's first pass applied these rules to every row it accepted,
        # and reading tens of millions again cost more than the table's own typing. Every n-th row
        # from the first: the same rows every run, spread over the table, found by row id (0 to
        # rows - 1 straight after staging's CREATE TABLE) where a random sample reads every row.
        rows = row_count(step.conn, table)
        picked = "" if rows <= SCHEMA_SAMPLE_ROWS else f"WHERE rowid % {-(-rows // SCHEMA_SAMPLE_ROWS)} = 0"
        step.conn.execute(f"CREATE OR REPLACE TEMP TABLE {sampled} AS SELECT * FROM {table} {picked}")
        broken = scalar(step.conn, rows_breaking_rules_sql(extract, sampled, dt.date.today()))
        sample = step.conn.sql(f"SELECT * FROM {sampled}").pl()
        step.conn.execute(f"DROP TABLE {sampled}")
        problems = []
        if actual != expected:
            problems.append(f"columns {actual} differ from {expected}")
        if broken:
            problems.append(f"{broken:,} sampled accepted rows break a contract rule")
        try:
            extract.model.validate(sample, lazy=True)
        except pa.errors.SchemaErrors as error:
            problems.append(pandera_summary(error))
        if problems:
            return failed(f"{table}: " + "; ".join(problems))
        return dg.AssetCheckResult(passed=True, metadata={"message": "none"})

    return _check


def pandera_summary(error: pa.errors.SchemaErrors) -> str:
    """Which column broke which check how many times: never the values, which are patient-level."""
    cases = error.failure_cases
    counts = cases.group_by(["column", "check"]).len().sort("len", descending=True).rows() if cases.height else []
    return ", ".join(f"{column} {check} ({n:,} rows)" for column, check, n in counts) or str(error).splitlines()[0]


def unique_id_check(extract: Extract):
    @warehouse_check(
        f"stg_{extract.name}",
        name=f"{extract.id_column}_is_unique",
        description=f"No two accepted rows share a {extract.id_column}.",
    )
    def _check(step: Step) -> dg.AssetCheckResult:
        rows, distinct = step.conn.execute(
            f"SELECT count(*), count(DISTINCT {extract.id_column}) FROM stg_{extract.name}"
        ).fetchall()[0]
        metadata = {"rows": rows, "distinct_ids": distinct}
        if rows != distinct:
            return failed(f"stg_{extract.name}: {rows - distinct:,} accepted rows repeat a {extract.id_column}", **metadata)
        return dg.AssetCheckResult(passed=True, metadata=metadata)

    return _check


@warehouse_asset(
    group="staging",
    preview=True,
    deps=[f"stg_{name}" for name in EXTRACTS],
    description="Quarantined rows of every extract counted by extract and reason (one reason per row and rule broken).",
)
def quarantine_summary(step: Step) -> dict:
    union = " UNION ALL ".join(
        f"SELECT extract, unnest(string_split(reason, '; ')) AS reason FROM quarantine_{name}" for name in EXTRACTS
    )
    step.conn.execute(
        f"""CREATE OR REPLACE TABLE quarantine_summary AS
            SELECT extract, reason, count(*) AS rows FROM ({union})
            GROUP BY ALL ORDER BY extract, rows DESC, reason"""
    )
    by_reason = {f"{e}: {r}": n for e, r, n in step.conn.execute("SELECT * FROM quarantine_summary").fetchall()}
    rows = sum(row_count(step.conn, f"quarantine_{name}") for name in EXTRACTS)  # a row once, whatever it broke
    return {"rows_quarantined": rows, "quarantined_by_reason": dg.MetadataValue.md(counts_markdown(by_reason))}


staging_assets = [staging_asset(extract) for extract in EXTRACTS.values()]
staging_checks = [
    check(extract)
    for extract in EXTRACTS.values()
    for check in (quarantine_check, warning_check, conservation_check, schema_check)
]
staging_checks += [unique_id_check(e) for e in EXTRACTS.values() if e.id_column]
