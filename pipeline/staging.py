"""Check raw rows against the extract rules: accepted rows into typed `stg_<extract>`, the rest into
`quarantine_<extract>` with their source file, row number, raw values and every reason.

Nothing read is lost: rows read = rows accepted + rows quarantined, always (an asset check says so
on every run). Of rows sharing an id, the first valid one (files in name order, rows in file order)
is accepted and later ones are quarantined as repeats. Only contract rules reject a row; warnings
(plausibility, or a bad value in a column the counts do not need) keep it, and every warning and
normalisation is counted by extract, rule and file in `data_quality_findings`.

Tens of millions of rows pass through here, so only the rows with a finding are kept between
passes; accepted rows are typed straight from the raw table into staging.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb

from pipeline.duck import row_count
from pipeline.extract_files import FILE_ORDER_STRIDE, SOURCE_COLUMNS
from schemas.extracts import Extract
from schemas.sql_rules import (
    ExtractSql,
    compile_extract,
    fix_column,
    normalised_text,
    quote_ident,
    quote_literal,
    raw_column,
    text_column,
    typed_rows,
)

FINDINGS_TABLE = "data_quality_findings"
COUNTS_TABLE = "staging_counts"
DEATH = quote_ident("death:date")
NO_TEXT = "[]::VARCHAR[]"


@dataclass(frozen=True)
class StagingCounts:
    extract: str
    read: int
    accepted: int
    quarantined: int
    warned: int  # accepted rows with one or more warnings
    normalised: int  # rows read with one or more values normalised
    by_reason: dict[str, int]

    @property
    def quarantined_share(self) -> float:
        return self.quarantined / self.read if self.read else 0.0


# The function repeated ids are first grouped by: DuckDB's 64-bit hash (a test makes it collide).
ID_HASH = "hash"


def _typed_rows(raw_table: str, compiled: ExtractSql) -> str:
    """Every raw row with, per column, its text as read, its normalised text and its typed value."""
    texts = ", ".join(f"{quote_ident(c.name)} AS {text_column(c.name)}" for c in compiled.columns)
    return f"({typed_rows(f'SELECT _row_order, {texts} FROM {raw_table}', compiled.columns)})"


def _knows_deaths(extract: Extract) -> bool:
    """Activity of a person who has a population row: activity after their death is a warning."""
    return bool(extract.activity_date) and any((r.column, r.extract) == ("person_id", "population") for r in extract.references)


def _checked_rows(typed_rows: str, extract: Extract, compiled: ExtractSql) -> tuple[str, list[tuple[str, str]]]:
    """Typed rows joined to what their references point at (and to the person's date of death);
    and (predicate, reason expression) for each reference. A reference to a rejected row says why
    that row was rejected (the root cause), not just "not found"."""
    joins, rules = [], []
    deaths = _knows_deaths(extract)
    for i, (column, target_extract, target) in enumerate(compiled.references):
        found, cause = quote_ident(f"ref:{i}"), quote_ident(f"cause:{i}")
        col = quote_ident(column)
        # The person's date of death comes with the population reference: one join, not two.
        death = (
            f", max(date_of_death) AS {DEATH}" if deaths and (column, target_extract) == ("person_id", "population") else ""
        )
        joins.append(
            f"LEFT JOIN (SELECT {quote_ident(target)} AS {found}{death} FROM stg_{target_extract} GROUP BY 1) r{i} "
            f"ON r{i}.{found} = t.{col}"
        )
        joins.append(
            f"""LEFT JOIN (
                SELECT {normalised_text(quote_ident(target))} AS {quote_ident(f'id:{i}')},
                       {quote_literal(f'{column} rejected in {target_extract} (')} || replace(min(reason), '; ', ', ') || ')' AS {cause}
                FROM quarantine_{target_extract} GROUP BY 1
            ) c{i} ON c{i}.{quote_ident(f'id:{i}')} = t.{col}"""
        )
        rules.append((f"{col} IS NOT NULL AND {found} IS NULL", f"coalesce({cause}, {quote_literal(f'{column} not found in {target_extract}')})"))
    return f"(SELECT * FROM {typed_rows} t {' '.join(joins)})", rules


def _text_list(cases: list[str]) -> str:
    return f"list_filter([{', '.join(cases)}], lambda r: r IS NOT NULL)" if cases else NO_TEXT


def stage_extract(
    conn: duckdb.DuckDBPyConnection, extract: Extract, today: dt.date, date_format: str | None = None
) -> StagingCounts:
    """`today`: the run date; rows dated after it are quarantined. `date_format`: the strptime
    layout of this extract's dates when they are not YYYY-MM-DD (a setting, never guessed)."""
    name = extract.name
    raw_table, stg_table, quarantine_table = f"raw_{name}", f"stg_{name}", f"quarantine_{name}"
    compiled = compile_extract(extract, today, date_format)
    typed = _typed_rows(raw_table, compiled)
    checked, reference_rules = _checked_rows(typed, extract, compiled)
    findings, rejected = f"{name}__findings", f"{name}__rejected"

    rejection_rules = [(f.predicate, quote_literal(f.reason)) for f in compiled.rejections] + reference_rules
    warning_rules = [(f.predicate, quote_literal(f.reason)) for f in compiled.warnings]
    if _knows_deaths(extract):
        warning_rules.append((f"{extract.activity_date} > {DEATH}", "'activity after date_of_death'"))
    fix_rules = [(f"{fix_column(c.name)} IS NOT NULL", f"{quote_literal(c.name + ': ')} || {fix_column(c.name)}")
                 for c in compiled.columns]
    rejections, warnings = (
        [f"CASE WHEN {predicate} THEN {reason} END" for predicate, reason in rules] for rules in (rejection_rules, warning_rules)
    )
    fixes = [label for _, label in fix_rules]  # `||` with a NULL is NULL: no fix, no label
    # A row has a finding when any rule's predicate is true: a plain OR, cheap on every row, where
    # building the three lists on every row cost a third of the pass (they are built for these only).
    any_finding = " OR ".join(f"({predicate})" for predicate, _ in rejection_rules + warning_rules + fix_rules) or "false"

    # Pass 1: rows with any finding: reasons to reject, warnings, normalisations.
    conn.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {findings} AS
        SELECT _row_order, {_text_list(rejections)} AS rejections, {_text_list(warnings)} AS warnings,
               {_text_list(fixes)} AS fixes
        FROM {checked}
        WHERE {any_finding}
        """
    )
    conn.execute(
        f"""CREATE OR REPLACE TEMP TABLE {rejected} AS
            SELECT _row_order, array_to_string(rejections, '; ') AS reason FROM {findings} WHERE len(rejections) > 0"""
    )
    # Pass 2: of valid rows sharing an id, all but the first are repeats.
    if extract.id_column:
        id_col = raw_column(extract.id_column)
        # NOT MATERIALIZED: read twice rather than tens of millions of (row, id) pairs kept in between.
        # The ids are grouped by their 64-bit hash (half the cost of grouping the text); the few
        # rows whose hash repeats are then told apart by the id itself, so a collision rejects nothing.
        conn.execute(
            f"""
            INSERT INTO {rejected}
            WITH valid AS NOT MATERIALIZED (
                SELECT _row_order, {id_col} AS id FROM {typed}
                WHERE _row_order NOT IN (SELECT _row_order FROM {rejected}) AND {id_col} IS NOT NULL
            ), repeated_hashes AS (
                SELECT {ID_HASH}(id) AS id_hash FROM valid GROUP BY 1 HAVING count(*) > 1
            )
            SELECT _row_order, {quote_literal(f"repeated {extract.id_column}")}
            FROM (
                SELECT _row_order, row_number() OVER (PARTITION BY id ORDER BY _row_order) AS occurrence
                FROM valid WHERE {ID_HASH}(id) IN (SELECT id_hash FROM repeated_hashes)
            )
            WHERE occurrence > 1
            """
        )
    # Pass 3: everything else, typed; a value a warning found unusable is null.
    typed_columns = ", ".join(
        f"CAST({compiled.kept(c.name)} AS {c.sql_type}) AS {quote_ident(c.name)}" for c in compiled.columns
    )
    conn.execute(
        f"""
        CREATE OR REPLACE TABLE {stg_table} AS
        SELECT {typed_columns} FROM {typed}
        WHERE _row_order NOT IN (SELECT _row_order FROM {rejected})
        """
    )
    raw_columns = [r[0] for r in conn.execute(f"DESCRIBE {raw_table}").fetchall() if r[0] not in SOURCE_COLUMNS]
    values = ", ".join(f"raw.{quote_ident(c)}" for c in raw_columns)
    # Nothing rejected: the quarantine's columns without reading the raw rows again.
    nothing = "" if row_count(conn, rejected) else "LIMIT 0"
    conn.execute(
        f"""
        CREATE OR REPLACE TABLE {quarantine_table} AS
        SELECT {quote_literal(name)} AS extract, raw._source_file AS source_file, raw._source_row AS source_row,
               rejected.reason, {values}
        FROM {raw_table} raw JOIN {rejected} rejected USING (_row_order)
        ORDER BY raw._row_order {nothing}
        """
    )
    _record_findings(conn, name, findings, rejected)
    warned, normalised = conn.execute(
        f"""SELECT count(*) FILTER (WHERE len(warnings) > 0 AND _row_order NOT IN (SELECT _row_order FROM {rejected})),
                   count(*) FILTER (WHERE len(fixes) > 0)
            FROM {findings}"""
    ).fetchall()[0]
    conn.execute(f"DROP TABLE {findings}")
    conn.execute(f"DROP TABLE {rejected}")
    by_reason = dict(
        conn.execute(
            f"SELECT reason, count(*) FROM {quarantine_table} GROUP BY reason ORDER BY count(*) DESC, reason"
        ).fetchall()
    )
    read, accepted = row_count(conn, raw_table), row_count(conn, stg_table)
    counts = StagingCounts(name, read, accepted, sum(by_reason.values()), warned, normalised, by_reason)
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {COUNTS_TABLE} (extract VARCHAR PRIMARY KEY, rows_read BIGINT, rows_accepted BIGINT, "
        "rows_quarantined BIGINT, rows_warned BIGINT, rows_normalised BIGINT)"
    )
    conn.execute(f"DELETE FROM {COUNTS_TABLE} WHERE extract = ?", [name])
    conn.execute(f"INSERT INTO {COUNTS_TABLE} VALUES (?, ?, ?, ?, ?, ?)", [name, read, accepted, counts.quarantined, warned, normalised])
    return counts


def _record_findings(conn: duckdb.DuckDBPyConnection, extract: str, findings: str, rejected: str) -> None:
    """Counts of normalisations (every row read), warnings (accepted rows) and quarantine reasons,
    by extract, file (its index in name order) and rule: what the data-quality report shows."""
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {FINDINGS_TABLE} "
        "(extract VARCHAR, file_index BIGINT, kind VARCHAR, rule VARCHAR, rows BIGINT)"
    )
    conn.execute(f"DELETE FROM {FINDINGS_TABLE} WHERE extract = ?", [extract])
    file_index = f"_row_order // {FILE_ORDER_STRIDE}"
    conn.execute(
        f"""
        INSERT INTO {FINDINGS_TABLE}
        SELECT ?, file_index, kind, rule, count(*) FROM (
            SELECT {file_index} AS file_index, 'normalisation' AS kind, unnest(fixes) AS rule FROM {findings}
            UNION ALL
            SELECT {file_index}, 'warning', unnest(warnings) FROM {findings}
            WHERE _row_order NOT IN (SELECT _row_order FROM {rejected})
            UNION ALL
            SELECT {file_index}, 'quarantine', unnest(string_split(reason, '; ')) FROM {rejected}
        )
        GROUP BY ALL
        """,
        [extract],
    )
