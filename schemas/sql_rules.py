"""Compile the pandera extract models into DuckDB SQL.

The models in `schemas.extracts` declare each column's type, nullability and checks once. Here the
same declarations become SQL: an expression that turns the raw text into the typed value, and a
list of (predicate, reason) pairs that are TRUE when a row breaks a rule. DuckDB evaluates them over
millions of rows at scan speed; pandera is still the reference that tests hold staging tables to.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from schemas.extracts import Extract

DATE_PATTERN = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
# A `T` separator is accepted too; Parquet timestamps cast to text may carry fractions of a second.
TIMESTAMP_PATTERN = r"[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?"
INTEGER_PATTERN = r"-?[0-9]{1,18}"


@dataclass(frozen=True)
class ColumnSql:
    name: str
    sql_type: str
    typed: str  # expression over the raw text column giving the typed value (NULL when it fails)
    type_error: str | None  # reason when the raw text is present but does not parse


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: object) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def column_sql(name: str, dtype: pl.DataType, source: str) -> ColumnSql:
    """How the raw text `source` becomes a value of the model's type."""
    if dtype == pl.Date:
        return ColumnSql(
            name,
            "DATE",
            f"CASE WHEN regexp_full_match({source}, '{DATE_PATTERN}') THEN TRY_CAST({source} AS DATE) END",
            f"{name} is not a valid YYYY-MM-DD date",
        )
    if isinstance(dtype, pl.Datetime):
        return ColumnSql(
            name,
            "TIMESTAMP",
            f"CASE WHEN regexp_full_match({source}, '{TIMESTAMP_PATTERN}') "
            f"THEN TRY_CAST(replace({source}, 'T', ' ') AS TIMESTAMP) END",
            f"{name} is not a valid YYYY-MM-DD HH:MM:SS timestamp",
        )
    if dtype.is_integer():
        return ColumnSql(
            name,
            "BIGINT",
            f"CASE WHEN regexp_full_match({source}, '{INTEGER_PATTERN}') THEN TRY_CAST({source} AS BIGINT) END",
            f"{name} is not a whole number",
        )
    if dtype == pl.String:
        return ColumnSql(name, "VARCHAR", source, None)
    raise TypeError(f"no SQL rule for column {name} of type {dtype}")


def check_sql(column: str, check_name: str, stats: dict) -> list[tuple[str, str]]:
    """(broken-when predicate over the typed column, reason) for one pandera check."""
    col = quote_ident(column)
    if check_name == "isin":
        values = ", ".join(quote_literal(v) for v in stats["allowed_values"])
        return [(f"{col} NOT IN ({values})", f"{column} is not an allowed value")]
    if check_name == "str_matches":
        return [(f"NOT regexp_full_match({col}, {quote_literal(stats['pattern'])})", f"{column} has the wrong format")]
    if check_name == "str_length":
        rules = []
        if stats.get("min_value") is not None:
            rules.append((f"length({col}) < {int(stats['min_value'])}", f"{column} is too short"))
        if stats.get("max_value") is not None:
            rules.append((f"length({col}) > {int(stats['max_value'])}", f"{column} is too long"))
        return rules
    if check_name == "greater_than_or_equal_to":
        return [(f"{col} < {stats['min_value']}", f"{column} is below {stats['min_value']}")]
    if check_name == "less_than_or_equal_to":
        return [(f"{col} > {stats['max_value']}", f"{column} is above {stats['max_value']}")]
    raise ValueError(f"check {check_name} on {column} has no SQL translation; add one here")


@dataclass(frozen=True)
class ExtractSql:
    columns: list[ColumnSql]
    rules: list[tuple[str, str]]  # (broken-when predicate over typed columns, reason)


def raw_column(name: str) -> str:
    """How compiled SQL names a raw text column: beside the typed one of the same name."""
    return quote_ident(f"raw:{name}")


def staging_columns(extract: Extract) -> list[ColumnSql]:
    """The typed columns of `stg_<extract>`, in model order, computed from the raw_column()s."""
    return [
        column_sql(name, column.dtype.type, raw_column(name))
        for name, column in extract.model.to_schema().columns.items()
    ]


def rows_breaking_rules_sql(extract: Extract, table: str, today: dt.date) -> str:
    """Count the rows of a typed table that break any rule of the extract: the same compiled rules,
    with each typed value standing in for its raw text."""
    compiled = compile_extract(extract, today)
    as_raw = ", ".join(f"CAST({quote_ident(c.name)} AS VARCHAR) AS {raw_column(c.name)}" for c in compiled.columns)
    broken = " OR ".join(f"coalesce({predicate}, false)" for predicate, _ in compiled.rules)
    return f"SELECT count(*) FROM (SELECT *, {as_raw} FROM {table}) WHERE {broken}"


def staging_types(extract: Extract) -> dict[str, str]:
    """Column -> DuckDB type of `stg_<extract>`."""
    return {c.name: c.sql_type for c in staging_columns(extract)}


def compile_extract(extract: Extract, today: dt.date) -> ExtractSql:
    schema = extract.model.to_schema()
    columns = staging_columns(extract)
    rules: list[tuple[str, str]] = []
    for sql, (name, column) in zip(columns, schema.columns.items(), strict=True):
        raw = raw_column(name)
        if not column.nullable:
            rules.append((f"{raw} IS NULL", f"{name} is missing"))
        if sql.type_error:
            rules.append((f"{raw} IS NOT NULL AND {quote_ident(name)} IS NULL", sql.type_error))
        for check in column.checks:
            rules.extend(check_sql(name, check.name, check.statistics))
    today_sql = f"DATE '{today.isoformat()}'"
    for rule in extract.row_rules:
        rules.append((rule.broken_when.format(today=today_sql), rule.reason))
    for ref in extract.references:
        rules.append(
            (
                f"{quote_ident(ref.column)} NOT IN (SELECT {quote_ident(ref.target_column)} FROM stg_{ref.extract})",
                f"{ref.column} not found in {ref.extract}",
            )
        )
    return ExtractSql(columns, rules)
