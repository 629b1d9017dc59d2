"""Check raw rows against the extract rules: accepted rows into typed `stg_<extract>`, the rest into
`quarantine_<extract>` with their source file, row number, raw values and every reason.

Nothing read is lost: rows read = rows accepted + rows quarantined, always (an asset check says so
on every run). Of rows sharing an id, the first valid one (files in name order, rows in file order)
is accepted and later ones are quarantined as repeats.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb

from pipeline.extract_files import SOURCE_COLUMNS
from schemas.extracts import Extract
from schemas.sql_rules import compile_extract, quote_ident, quote_literal
from pipeline.duck import row_count


@dataclass(frozen=True)
class StagingCounts:
    extract: str
    read: int
    accepted: int
    quarantined: int
    by_reason: dict[str, int]


def stage_extract(conn: duckdb.DuckDBPyConnection, extract: Extract, as_of: dt.date) -> StagingCounts:
    raw_table, stg_table, quarantine_table = f"raw_{extract.name}", f"stg_{extract.name}", f"quarantine_{extract.name}"
    compiled = compile_extract(extract, as_of)
    raw_columns = [
        row[0] for row in conn.execute(f"DESCRIBE {raw_table}").fetchall() if row[0] not in SOURCE_COLUMNS
    ]
    raw_struct = ", ".join(f"{quote_ident(c)} := {quote_ident(c)}" for c in raw_columns)
    typed = ", ".join(f"{c.typed} AS {quote_ident(c.name)}" for c in compiled.columns)
    reasons = ", ".join(f"CASE WHEN {pred} THEN {quote_literal(reason)} END" for pred, reason in compiled.rules)
    if extract.id_column:
        id_col = quote_ident(extract.id_column)
        repeat_rank = f"CASE WHEN len(_reasons) = 0 THEN row_number() OVER (PARTITION BY len(_reasons) = 0, {id_col} ORDER BY _row_order) ELSE 1 END"
    else:
        repeat_rank = "1"
    checked = f"{extract.name}__checked"
    conn.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {checked} AS
        WITH typed AS (
            SELECT _source_file, _source_row, _row_order, _raw, {typed}
            FROM (SELECT *, struct_pack({raw_struct}) AS _raw FROM {raw_table})
        ),
        judged AS (
            SELECT *, list_filter([{reasons}], lambda r: r IS NOT NULL) AS _reasons FROM typed
        )
        SELECT *, {repeat_rank} AS _repeat_rank FROM judged
        """
    )
    model_columns = ", ".join(f"CAST({quote_ident(c.name)} AS {c.sql_type}) AS {quote_ident(c.name)}" for c in compiled.columns)
    conn.execute(
        f"""
        CREATE OR REPLACE TABLE {stg_table} AS
        SELECT {model_columns} FROM {checked}
        WHERE len(_reasons) = 0 AND _repeat_rank = 1
        """
    )
    repeat_reason = quote_literal(f"repeated {extract.id_column}") if extract.id_column else "NULL"
    conn.execute(
        f"""
        CREATE OR REPLACE TABLE {quarantine_table} AS
        SELECT {quote_literal(extract.name)} AS extract, _source_file AS source_file, _source_row AS source_row,
               CASE WHEN len(_reasons) > 0 THEN array_to_string(_reasons, '; ') ELSE {repeat_reason} END AS reason,
               _raw.*
        FROM {checked}
        WHERE len(_reasons) > 0 OR _repeat_rank > 1
        ORDER BY _row_order
        """
    )
    conn.execute(f"DROP TABLE {checked}")
    read = row_count(conn, raw_table)
    accepted = row_count(conn, stg_table)
    by_reason = dict(
        conn.execute(
            f"SELECT reason, count(*) FROM {quarantine_table} GROUP BY reason ORDER BY count(*) DESC, reason"
        ).fetchall()
    )
    return StagingCounts(extract.name, read, accepted, sum(by_reason.values()), by_reason)
