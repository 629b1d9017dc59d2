"""The data-quality report: per extract, what was read, normalised, quarantined and warned about,
how complete each column is, and what each feed covers month by month; plus the drop's files that
are no extract. Built from the warehouse's staging tables, as counts only (no patient-level row),
so it can go beside the outputs, into Dagster metadata and to the data team."""

from __future__ import annotations

import duckdb
import jinja2

from cohorts.period import Period
from schemas.extracts import EXTRACTS
from schemas.sql_rules import quote_ident


def _rows(conn, sql: str, params: list | None = None) -> list[tuple]:
    return conn.execute(sql, params or []).fetchall()


def build_report(conn: duckdb.DuckDBPyConnection, period: Period, extracts_dir: str) -> dict:
    """The whole report as plain data (the JSON file)."""
    inventory = {r[0]: r[1:] for r in _rows(conn, "SELECT extract, present, absent_columns FROM extract_inventory")}
    counts = {r[0]: r[1:] for r in _rows(conn, "SELECT * FROM staging_counts")}
    coverage = {r[0]: r[1:] for r in _rows(conn, "SELECT feed, rows, first_date, last_date FROM feed_coverage")}
    report = {
        "extracts_dir": extracts_dir,
        "as_of": period.as_of.isoformat(),
        "window_start": period.start.isoformat(),
        "window_end": period.end.isoformat(),
        "ignored_files": [r[0] for r in _rows(conn, "SELECT path FROM extract_drop ORDER BY path")],
        "extracts": {},
        "coverage_gaps": [
            {"feed": f, "unit_type": t, "unit": u, "month": m.isoformat(), "rows": n, "median_rows": med, "gap": g, "needed_for": why}
            for f, t, u, m, n, med, g, why in _rows(conn, "SELECT * FROM coverage_gaps")
        ],
    }
    for name, extract in EXTRACTS.items():
        present, absent = inventory.get(name, (False, []))
        read, accepted, quarantined, warned, normalised = counts.get(name, (0, 0, 0, 0, 0))
        files = dict(_rows(conn, "SELECT file_index, path FROM extract_files WHERE extract = ?", [name]))

        def by(kind: str, with_file: bool = False):
            rows = _rows(
                conn,
                "SELECT file_index, rule, rows FROM data_quality_findings WHERE extract = ? AND kind = ? ORDER BY rows DESC, rule",
                [name, kind],
            )
            if with_file:
                return [{"rule": rule, "file": files.get(i, str(i)), "rows": n} for i, rule, n in rows]
            totals: dict[str, int] = {}
            for _, rule, n in rows:
                totals[rule] = totals.get(rule, 0) + n
            return totals

        entry = {
            "supplied": bool(present),
            "required": extract.required,
            "files": [{"path": p, "rows": n} for p, n in _rows(conn, "SELECT path, rows FROM extract_files WHERE extract = ? ORDER BY file_index", [name])],
            "absent_columns": list(absent or []),
            "rows_read": read,
            "rows_accepted": accepted,
            "rows_quarantined": quarantined,
            "quarantined_share": round(quarantined / read, 4) if read else 0.0,
            "rows_warned": warned,
            "rows_normalised": normalised,
            "normalisations": by("normalisation"),
            "quarantine_by_reason": by("quarantine"),
            "warnings": by("warning", with_file=True),
            "completeness": _completeness(conn, name, extract.columns, accepted),
        }
        if name in coverage:
            rows, first, last = coverage[name]
            monthly = _rows(
                conn, "SELECT month, rows FROM feed_coverage_monthly WHERE feed = ? AND unit_type = 'all' ORDER BY month", [name]
            )
            entry["coverage"] = {
                "first_date": first.isoformat() if first else None,
                "last_date": last.isoformat() if last else None,
                "rows_by_month": {m.strftime("%Y-%m"): n for m, n in monthly},
            }
        report["extracts"][name] = entry
    return report


def _completeness(conn, extract: str, columns: list[str], accepted: int) -> dict[str, float | None]:
    """Share of accepted rows with a value, per column."""
    if not accepted:
        return {c: None for c in columns}
    counted = ", ".join(f"count({quote_ident(c)})" for c in columns)
    values = _rows(conn, f"SELECT {counted} FROM stg_{extract}")[0]
    return {c: round(v / accepted, 4) for c, v in zip(columns, values, strict=True)}


MARKDOWN = jinja2.Environment(trim_blocks=True, lstrip_blocks=True, autoescape=False).from_string(
    """# Data quality

Extracts from `{{ r.extracts_dir }}`; as-of date {{ r.as_of }}, window {{ r.window_start }} to {{ r.window_end }}.

Rows that break a rule of the data contract are quarantined (`quarantine/<extract>.parquet`). Values with one
meaning are normalised and counted. Anything else implausible is a **warning**: the row is kept and an unusable
value is read as blank.

| extract | supplied | rows read | accepted | quarantined | warned | normalised |
| --- | --- | ---: | ---: | ---: | ---: | ---: |
{% for name, e in r.extracts.items() %}
| {{ name }} | {{ "yes" if e.supplied else ("**no (required)**" if e.required else "no") }} | {{ "{:,}".format(e.rows_read) }} | {{ "{:,}".format(e.rows_accepted) }} | {{ "{:,}".format(e.rows_quarantined) }} ({{ "%.1f" % (100 * e.quarantined_share) }}%) | {{ "{:,}".format(e.rows_warned) }} | {{ "{:,}".format(e.rows_normalised) }} |
{% endfor %}
{% if r.ignored_files %}

Files in the drop that are not data and were ignored: {% for f in r.ignored_files %}`{{ f }}`{{ ", " if not loop.last }}{% endfor %}.
{% endif %}
{% if r.coverage_gaps %}

## Months with no or few rows

Each undercounts everyone it covers.

| feed | where | month | rows | median month | needed for |
| --- | --- | --- | ---: | ---: | --- |
{% for g in r.coverage_gaps %}
| {{ g.feed }} | {{ "whole feed" if g.unit_type == "all" else g.unit_type ~ " " ~ g.unit }} | {{ g.month[:7] }} | {{ g.rows }} | {{ g.median_rows }} | {{ g.needed_for }} |
{% endfor %}
{% endif %}
{% for name, e in r.extracts.items() if e.supplied %}

## {{ name }}

{% for f in e.files %}
- `{{ f.path }}`: {{ "{:,}".format(f.rows) }} rows
{% endfor %}
{% if e.absent_columns %}
- Columns not in the files (blank for every row): {{ e.absent_columns | join(", ") }}
{% endif %}
{% if e.coverage %}
- Activity from {{ e.coverage.first_date }} to {{ e.coverage.last_date }}
{% endif %}
{% if e.normalisations %}

Normalised:

| value | rows |
| --- | ---: |
{% for rule, n in e.normalisations.items() %}
| {{ rule }} | {{ "{:,}".format(n) }} |
{% endfor %}
{% endif %}
{% if e.quarantine_by_reason %}

Quarantined:

| reason | rows |
| --- | ---: |
{% for rule, n in e.quarantine_by_reason.items() %}
| {{ rule }} | {{ "{:,}".format(n) }} |
{% endfor %}
{% endif %}
{% if e.warnings %}

Warnings:

| warning | file | rows |
| --- | --- | ---: |
{% for w in e.warnings %}
| {{ w.rule }} | `{{ w.file }}` | {{ "{:,}".format(w.rows) }} |
{% endfor %}
{% endif %}

Completeness (share of accepted rows with a value): {% for c, v in e.completeness.items() %}{{ c }} {{ "-" if v is none else "%.1f%%" % (100 * v) }}{{ ", " if not loop.last }}{% endfor %}.
{% if e.coverage and e.coverage.rows_by_month %}

Rows by month: {% for m, n in e.coverage.rows_by_month.items() %}{{ m }} {{ "{:,}".format(n) }}{{ ", " if not loop.last }}{% endfor %}.
{% endif %}
{% endfor %}
"""
)


def render_markdown(report: dict) -> str:
    return MARKDOWN.render(r=report)
