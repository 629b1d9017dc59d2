"""Check raw rows against the extract rules: accepted rows into typed `stg_<extract>`, the rest into
`quarantine_<extract>` with their source file, row number, raw values and every reason.

Nothing read is lost: rows read = rows accepted + rows quarantined, always (an asset check says so
on every run). Of rows sharing an id, the first valid one (files in name order, rows in file order)
is accepted and later ones are quarantined as repeats.

Tens of millions of rows pass through here, so only the failing rows' order keys and reasons are
kept between passes; accepted rows are typed straight from the raw table into staging.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb

from pipeline.duck import row_count
from pipeline.extract_files import SOURCE_COLUMNS
from schemas.extracts import Extract
from schemas.sql_rules import ExtractSql, compile_extract, quote_ident, quote_literal, raw_column


@dataclass(frozen=True)
class StagingCounts:
    extract: str
    read: int
    accepted: int
    quarantined: int
    by_reason: dict[str, int]


def _checked_rows(raw_table: str, compiled: ExtractSql) -> str:
    """Every raw row with its raw text (as raw_column(name)) and typed value (as name) side by side."""
    raws = ", ".join(f"{quote_ident(c.name)} AS {raw_column(c.name)}" for c in compiled.columns)
    typed = ", ".join(f"{c.typed} AS {quote_ident(c.name)}" for c in compiled.columns)
    return f"(SELECT *, {typed} FROM (SELECT _row_order, {raws} FROM {raw_table}))"


def stage_extract(conn: duckdb.DuckDBPyConnection, extract: Extract, today: dt.date) -> StagingCounts:
    """`today`: the run date; rows dated after it are quarantined."""
    name = extract.name
    raw_table, stg_table, quarantine_table = f"raw_{name}", f"stg_{name}", f"quarantine_{name}"
    compiled = compile_extract(extract, today)
    checked = _checked_rows(raw_table, compiled)
    reasons = ", ".join(f"CASE WHEN {pred} THEN {quote_literal(reason)} END" for pred, reason in compiled.rules)
    rejected = f"{name}__rejected"

    # Pass 1: rows that break a rule, with every reason.
    conn.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {rejected} AS
        SELECT _row_order, array_to_string(reasons, '; ') AS reason
        FROM (SELECT _row_order, list_filter([{reasons}], lambda r: r IS NOT NULL) AS reasons FROM {checked})
        WHERE len(reasons) > 0
        """
    )
    # Pass 2: of valid rows sharing an id, all but the first are repeats.
    if extract.id_column:
        id_col = quote_ident(extract.id_column)
        conn.execute(
            f"""
            INSERT INTO {rejected}
            WITH valid AS (
                SELECT _row_order, {id_col} AS id FROM {raw_table}
                WHERE _row_order NOT IN (SELECT _row_order FROM {rejected})
            ), repeated_ids AS (
                SELECT id FROM valid GROUP BY id HAVING count(*) > 1
            )
            SELECT _row_order, {quote_literal(f"repeated {extract.id_column}")}
            FROM (
                SELECT _row_order, row_number() OVER (PARTITION BY id ORDER BY _row_order) AS occurrence
                FROM valid WHERE id IN (SELECT id FROM repeated_ids)
            )
            WHERE occurrence > 1
            """
        )
    # Pass 3: everything else, typed.
    typed_columns = ", ".join(f"CAST({quote_ident(c.name)} AS {c.sql_type}) AS {quote_ident(c.name)}" for c in compiled.columns)
    conn.execute(
        f"""
        CREATE OR REPLACE TABLE {stg_table} AS
        SELECT {typed_columns} FROM {checked}
        WHERE _row_order NOT IN (SELECT _row_order FROM {rejected})
        """
    )
    raw_columns = [r[0] for r in conn.execute(f"DESCRIBE {raw_table}").fetchall() if r[0] not in SOURCE_COLUMNS]
    values = ", ".join(f"raw.{quote_ident(c)}" for c in raw_columns)
    conn.execute(
        f"""
        CREATE OR REPLACE TABLE {quarantine_table} AS
        SELECT {quote_literal(name)} AS extract, raw._source_file AS source_file, raw._source_row AS source_row,
               rejected.reason, {values}
        FROM {raw_table} raw JOIN {rejected} rejected USING (_row_order)
        ORDER BY raw._row_order
        """
    )
    conn.execute(f"DROP TABLE {rejected}")
    by_reason = dict(
        conn.execute(
            f"SELECT reason, count(*) FROM {quarantine_table} GROUP BY reason ORDER BY count(*) DESC, reason"
        ).fetchall()
    )
    read, accepted = row_count(conn, raw_table), row_count(conn, stg_table)
    return StagingCounts(name, read, accepted, sum(by_reason.values()), by_reason)
