"""Compile the pandera extract models into DuckDB SQL.

The models in `schemas.extracts` declare each column's type, nullability and checks once. Here the
same declarations become SQL, in three layers over the raw text of a row:

1. normalised text: what a value means when it has one meaning (contract section 2): surrounding
   whitespace removed, `NULL`/`NA`/empty text as null, `1950.0` as `1950`, `1` as department type
   `01`, SQL Server and `T`-separated timestamps, explicit offsets converted to England clock time;
   each change is labelled so that staging can count it;
2. the typed value (NULL when the text does not parse);
3. findings: (predicate, reason) pairs that are TRUE when a row breaks a rule. A contract rule
   rejects the row; a rule on a column the counts do not need (a DETAIL column) or a plausibility
   row rule is a warning: the row stays and the unusable value is read as null.

DuckDB evaluates them over millions of rows at scan speed; pandera is still the reference that
tests and checks hold staging tables to.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import polars as pl

from schemas.extracts import CODE, DETAIL, REQUIRED, Extract

DATE_PATTERN = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
# SQL Server writes dates as midnight timestamps: `2024-03-31 00:00:00.000`.
MIDNIGHT_PATTERN = DATE_PATTERN + r"[ T]00:00(:00(\.0+)?)?"
# A `T` or a space, with or without seconds or fractions of a second.
TIMESTAMP_PATTERN = DATE_PATTERN + r"[ T][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?"
CANONICAL_TIMESTAMP = DATE_PATTERN + r" [0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?"
OFFSET_PATTERN = r" ?(Z|[+-][0-9]{2}(:?[0-9]{2})?)"
INTEGER_PATTERN = r"-?[0-9]{1,18}"
WHOLE_FLOAT_PATTERN = r"-?[0-9]{1,18}\.0+"
# Clock time in England, where the records are made.
LOCAL_TIME_ZONE = "Europe/London"
NULL_TEXTS = ("", "NULL", "NA")
WHITESPACE = " \t\r\n"


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: object) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def trimmed_column(name: str) -> str:
    """How compiled SQL names a column's text with surrounding whitespace removed."""
    return quote_ident(f"trimmed:{name}")


def clean_column(name: str) -> str:
    """How compiled SQL names a column's text trimmed and with the null words read as null."""
    return quote_ident(f"clean:{name}")


def fix_column(name: str) -> str:
    """How compiled SQL names the label of the normalisation a column's value had (NULL: none)."""
    return quote_ident(f"fix:{name}")


def raw_column(name: str) -> str:
    """How compiled SQL names a column's normalised text: beside the typed one of the same name."""
    return quote_ident(f"raw:{name}")


def text_column(name: str) -> str:
    """How compiled SQL names a column's text exactly as read."""
    return quote_ident(f"text:{name}")


@dataclass(frozen=True)
class ColumnSql:
    name: str
    sql_type: str
    normalised: str  # expression over clean_column(name) giving the normalised text
    typed: str  # expression over raw_column(name) giving the typed value (NULL when it fails)
    fix: str  # expression labelling the normalisation applied (NULL when none)
    type_error: str | None  # reason when the text is present but does not parse
    detail: bool = False  # a column the counts do not need: its bad values are warnings
    required: bool = True  # a value must be present


def _matches(value: str, pattern: str) -> str:
    return f"regexp_full_match({value}, {quote_literal(pattern)})"


def _trimmed(text: str) -> str:
    """Surrounding whitespace removed. `trim` with a character list costs about 0.3 s per million
    values, which at tens of millions of rows and every column was most of staging; only a value
    whose first or last character is at or below a space can need it (a false alarm only trims for
    nothing)."""
    return f"CASE WHEN ord({text}) <= 32 OR ord({text}[-1]) <= 32 THEN trim({text}, {quote_literal(WHITESPACE)}) ELSE {text} END"


def _nulled(trimmed: str) -> str:
    """The null words read as null; only a value of at most four characters can be one."""
    nulls = ", ".join(quote_literal(v) for v in NULL_TEXTS)
    longest = max(len(v) for v in NULL_TEXTS)
    return f"CASE WHEN strlen({trimmed}) > {longest} THEN {trimmed} WHEN upper({trimmed}) IN ({nulls}) THEN NULL ELSE {trimmed} END"


def normalised_text(text: str) -> str:
    """Surrounding whitespace removed, and the null words read as null, in one expression (for a
    key read once; staging computes the two steps as columns, `typed_rows`)."""
    return _nulled(_trimmed(text))


def _whole_float_as_integer(value: str) -> str:
    return f"CASE WHEN {_matches(value, WHOLE_FLOAT_PATTERN)} THEN regexp_replace({value}, '\\.0+$', '') ELSE {value} END"


def column_sql(
    name: str, dtype: pl.DataType, metadata: dict | None = None, nullable: bool = False, date_format: str | None = None
) -> ColumnSql:
    """How the text of column `name` becomes a value of the model's type. `date_format` (strptime)
    names the layout of dates that are not YYYY-MM-DD, for a file that uses one (never guessed)."""
    metadata = metadata or {}
    text, raw, clean = text_column(name), raw_column(name), clean_column(name)
    detail = bool(metadata.get(DETAIL))
    required = (not nullable) or bool(metadata.get(REQUIRED))
    common_fix = (
        f"WHEN {text} IS NOT NULL AND {raw} IS NULL THEN 'NULL, NA or empty text read as null' "
        f"WHEN {text} <> {raw} AND {trimmed_column(name)} = {raw} THEN 'surrounding whitespace removed' "
    )

    def made(sql_type, normalised, typed, specific_fix, type_error):
        fix = f"CASE {common_fix}{specific_fix} END"
        return ColumnSql(name, sql_type, normalised, typed, fix, type_error, detail, required)

    if dtype == pl.Date:
        typed = (
            f"CASE WHEN {_matches(raw, DATE_PATTERN)} THEN TRY_CAST({raw} AS DATE) "
            f"WHEN {_matches(raw, MIDNIGHT_PATTERN)} THEN TRY_CAST(left({raw}, 10) AS DATE) "
            + (f"WHEN {raw} IS NOT NULL THEN TRY_CAST(try_strptime({raw}, {quote_literal(date_format)}) AS DATE) " if date_format else "")
            + "END"
        )
        # The length first: a midnight timestamp has 16 characters or more, a plain date 10, and the
        # regular expression on every value of tens of millions was a fifth of a staging pass.
        fix = f"WHEN strlen({raw}) >= 16 AND {_matches(raw, MIDNIGHT_PATTERN)} THEN 'midnight timestamp read as a date' "
        if date_format:
            fix += f"WHEN NOT {_matches(raw, DATE_PATTERN)} AND {quote_ident(name)} IS NOT NULL THEN 'date read as {date_format}' "
        error = f"{name} is not a valid YYYY-MM-DD date" + (f" or {date_format}" if date_format else "")
        return made("DATE", clean, typed, fix, error)
    if isinstance(dtype, pl.Datetime):
        as_text = f"replace({raw}, 'T', ' ')"
        typed = (
            f"CASE WHEN {_matches(raw, TIMESTAMP_PATTERN)} THEN TRY_CAST({as_text} AS TIMESTAMP) "
            f"WHEN {_matches(raw, TIMESTAMP_PATTERN + OFFSET_PATTERN)} "
            f"THEN timezone('{LOCAL_TIME_ZONE}', TRY_CAST(regexp_replace({as_text}, ' ([+-]|Z)', '\\1') AS TIMESTAMPTZ)) "
            + (
                f"WHEN {raw} IS NOT NULL THEN coalesce(try_strptime({raw}, {quote_literal(date_format + ' %H:%M:%S')}), "
                f"try_strptime({raw}, {quote_literal(date_format + ' %H:%M')})) "
                if date_format else ""
            )
            + "END"
        )
        fix = (
            # Most timestamps are already as the contract writes them: one match says so, not three.
            f"WHEN {_matches(raw, CANONICAL_TIMESTAMP)} THEN NULL "
            f"WHEN {_matches(raw, TIMESTAMP_PATTERN + OFFSET_PATTERN)} THEN 'offset converted to England clock time' "
            f"WHEN {_matches(raw, TIMESTAMP_PATTERN)} AND NOT {_matches(raw, CANONICAL_TIMESTAMP)} "
            "THEN 'timestamp with a T or without seconds' "
        )
        if date_format:
            fix += f"WHEN NOT {_matches(raw, TIMESTAMP_PATTERN)} AND {quote_ident(name)} IS NOT NULL THEN 'timestamp read as {date_format}' "
        error = f"{name} is not a valid YYYY-MM-DD HH:MM:SS timestamp"
        return made("TIMESTAMP", clean, typed, fix, error)
    if dtype.is_integer():
        normalised = _whole_float_as_integer(clean)
        typed = f"CASE WHEN {_matches(raw, INTEGER_PATTERN)} THEN TRY_CAST({raw} AS BIGINT) END"
        fix = f"WHEN {_matches(clean, WHOLE_FLOAT_PATTERN)} THEN 'whole-number float read as an integer' "
        return made("BIGINT", normalised, typed, fix, f"{name} is not a whole number")
    if dtype == pl.String:
        width = metadata.get(CODE)
        if width is None:
            return made("VARCHAR", clean, raw, "", None)
        # A code that a spreadsheet or a typed file turned into a number: 21.0 is 21, and a
        # fixed-width code that lost its leading zeros (department type 1) is 01.
        normalised = _whole_float_as_integer(clean)
        fix = f"WHEN {_matches(clean, WHOLE_FLOAT_PATTERN)} THEN 'whole-number float read as a code' "
        if width:
            unpadded = f"[0-9]{{1,{width - 1}}}"
            normalised = f"CASE WHEN {_matches(normalised, unpadded)} THEN lpad({normalised}, {width}, '0') ELSE {normalised} END"
            fix = f"WHEN {_matches(clean, unpadded)} THEN 'leading zero restored' " + fix
        return made("VARCHAR", normalised, raw, fix, None)
    raise TypeError(f"no SQL rule for column {name} of type {dtype}")


def typed_rows(texts: str, columns: list[ColumnSql]) -> str:
    """The rows of query `texts`, which names each column's text as read `text_column(name)`, with a
    layer of columns added per step: trimmed, clean, normalised (`raw_column`), typed (the column's
    own name) and the normalisation's label (`fix_column`). Each step names the one below instead of
    repeating its expression: written out, a code's normalisation held its text's nine times over,
    and DuckDB's parsing and planning of those expressions took longer than staging a small drop's
    rows. A query that reads no column of a layer does not compute it (DuckDB drops unused columns)."""
    layers = [
        (lambda c: _trimmed(text_column(c.name)), trimmed_column),
        (lambda c: _nulled(trimmed_column(c.name)), clean_column),
        (lambda c: c.normalised, raw_column),
        (lambda c: c.typed, quote_ident),
        (lambda c: c.fix, fix_column),
    ]
    sql = texts
    for expression, named in layers:
        sql = f"SELECT *, {', '.join(f'{expression(c)} AS {named(c.name)}' for c in columns)} FROM ({sql})"
    return sql


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
class Finding:
    """A predicate over typed columns, TRUE when a row breaks the rule."""

    predicate: str
    reason: str
    warn: bool = False  # a warning keeps the row; a rejection quarantines it
    nulls: tuple[str, ...] = ()  # columns read as null when a warning applies


@dataclass(frozen=True)
class ExtractSql:
    columns: list[ColumnSql]
    findings: list[Finding]
    references: list[tuple[str, str, str]] = field(default_factory=list)  # (column, extract, target column)

    @property
    def rejections(self) -> list[Finding]:
        return [f for f in self.findings if not f.warn]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.warn]

    def kept(self, column: str) -> str:
        """The staged value of `column`: its typed value, or NULL when a warning says it is unusable."""
        unusable = [f"coalesce({f.predicate}, false)" for f in self.warnings if column in f.nulls]
        if not unusable:
            return quote_ident(column)
        return f"CASE WHEN {' OR '.join(unusable)} THEN NULL ELSE {quote_ident(column)} END"


def staging_columns(extract: Extract, date_format: str | None = None) -> list[ColumnSql]:
    """The typed columns of `stg_<extract>`, in model order."""
    return [
        column_sql(name, column.dtype.type, column.metadata, column.nullable, date_format)
        for name, column in extract.model.to_schema().columns.items()
    ]


def staging_types(extract: Extract) -> dict[str, str]:
    """Column -> DuckDB type of `stg_<extract>`."""
    return {c.name: c.sql_type for c in staging_columns(extract)}


def reference_predicate(column: str, extract: str, target: str) -> str:
    return f"{quote_ident(column)} NOT IN (SELECT {quote_ident(target)} FROM stg_{extract})"


def compile_extract(extract: Extract, today: dt.date, date_format: str | None = None) -> ExtractSql:
    schema = extract.model.to_schema()
    columns = staging_columns(extract, date_format)
    findings: list[Finding] = []
    for sql, (name, column) in zip(columns, schema.columns.items(), strict=True):
        raw = raw_column(name)
        nulls = (name,) if sql.detail else ()
        if sql.required:
            findings.append(Finding(f"{raw} IS NULL", f"{name} is missing", sql.detail, nulls))
        if sql.type_error:
            findings.append(Finding(f"{raw} IS NOT NULL AND {quote_ident(name)} IS NULL", sql.type_error, sql.detail, nulls))
        for check in column.checks:
            for predicate, reason in check_sql(name, check.name, check.statistics):
                findings.append(Finding(predicate, reason, sql.detail, nulls))
    today_sql = f"DATE '{today.isoformat()}'"
    for rule in extract.row_rules:
        findings.append(Finding(rule.broken_when.format(today=today_sql), rule.reason, rule.warn, rule.nulls))
    references = [(ref.column, ref.extract, ref.target_column) for ref in extract.references]
    return ExtractSql(columns, findings, references)


def rows_breaking_rules_sql(extract: Extract, table: str, today: dt.date) -> str:
    """Count the rows of a typed table that break any contract rule of the extract: the compiled
    rules, with each typed value standing in for its text: a re-reading of what staging accepted,
    by the rules alone, without the passes' joins and lists. The schema check applies it to a sample
    of the staged rows (`assets.staging.schema_check`)."""
    compiled = compile_extract(extract, today)
    as_raw = ", ".join(f"CAST({quote_ident(c.name)} AS VARCHAR) AS {raw_column(c.name)}" for c in compiled.columns)
    predicates = [f.predicate for f in compiled.rejections] + [reference_predicate(*r) for r in compiled.references]
    broken = " OR ".join(f"coalesce({p}, false)" for p in predicates)
    return f"SELECT count(*) FROM (SELECT *, {as_raw} FROM {table}) WHERE {broken}"
