"""Rendering the reports: Jinja2 templates in `reports/templates/` (autoescaped: a practice called
`<b>` is shown as written), charts from `reports.charts` inlined, nothing fetched from anywhere."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from reports import charts
from reports.content import CHART_MEASURES, neighbourhood_content

REPORT = "report.html"
INDEX = "index.html"

_ENV = Environment(
    loader=PackageLoader("reports", "templates"),
    autoescape=select_autoescape(["html", "j2"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def count(value) -> str:
    """A count with thousands separators, a dash when not known."""
    return "–" if value is None else f"{int(value):,}"


def pct(value, places: int = 1) -> str:
    return "–" if value is None else f"{value:.{places}f}%"


def number(value, places: int = 1) -> str:
    return "–" if value is None else f"{value:,.{places}f}"


def signed(value, places: int = 1) -> str:
    return "–" if value is None else f"{value:+,.{places}f}"


def long_date(value) -> str:
    """'2025-03-31' as '31 March 2025'; words (no baseline) as they are."""
    try:
        day = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return f"{day.day} {day:%B %Y}"


def month_name(value) -> str:
    try:
        return f"{dt.date.fromisoformat(str(value)):%B %Y}"
    except ValueError:
        return str(value)


_ENV.filters.update(count=count, pct=pct, number=number, signed=signed, long_date=long_date, month_name=month_name)


def verdict(lower: float | None, upper: float | None) -> str:
    """What the interval of the follow-up's net change says, in words."""
    if lower is None or upper is None:
        return ""
    if lower <= 0 <= upper:
        return "The interval includes 0: no change beyond regression to the mean that the data can tell from chance."
    if upper < 0:
        return ("The interval is below 0: the cohort's activity fell by more than regression to the mean gives "
                "(not proof of the team's work on its own).")
    return "The interval is above 0: the cohort's activity fell by less than regression to the mean alone gives."


def render_report(run_dir: Path, code: str, name: str | None, terms: dict, not_supplied: list[str] = ()) -> str:
    """`not_supplied`: what each optional extract missing from this run leaves blank, in words."""
    content = neighbourhood_content(run_dir, code)
    salt = f"report-{code}"
    figures = {
        "concentration": charts.concentration_chart(content["concentration"], salt),
        "frailty": charts.frailty_chart(content["frailty"], salt),
        "series": [
            (CHART_MEASURES[measure], charts.counterfactual_chart(series, CHART_MEASURES[measure], salt, content["go_live"]))
            for measure, series in content["series"].items()
        ],
    }
    return _ENV.get_template("report.html.j2").render(
        code=code, name=name or code, terms=terms, charts=figures, verdict=verdict, not_supplied=list(not_supplied),
        **content
    )


def render_index(neighbourhoods: list[dict], metric_files: list[str], terms: dict) -> str:
    """`neighbourhoods`: code and name; `metric_files`: paths from the root. No counts: the index
    sits beside `metrics/published/`, and exact counts next to it would undo its rounding."""
    published = [p for p in metric_files if p.startswith("metrics/published/")]
    return _ENV.get_template("index.html.j2").render(
        neighbourhoods=neighbourhoods, published=published, exact=[p for p in metric_files if p not in published],
        terms=terms)


def write_reports(run_dir: Path, neighbourhoods: dict[str, str | None], terms: dict,
                  not_supplied: list[str] = ()) -> dict[str, int]:
    """`neighbourhoods/<code>/report.html` for each neighbourhood and `index.html` at the root of
    `run_dir`; returns each report's size in bytes."""
    sizes, listed = {}, []
    for code, name in neighbourhoods.items():
        html = render_report(run_dir, code, name, terms, not_supplied)
        path = run_dir / "neighbourhoods" / code / REPORT
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(html, encoding="utf-8")
        sizes[code] = len(html.encode())
        listed.append({"code": code, "name": name or code})
    metric_files = sorted(
        str(p.relative_to(run_dir)) for p in (run_dir / "metrics").rglob("*")
        if p.is_file() and p.suffix in (".csv", ".md", ".svg", ".json")
    ) if (run_dir / "metrics").exists() else []
    extra = [str(p.relative_to(run_dir)) for p in sorted((run_dir / "quality").glob("*.md"))] if (run_dir / "quality").exists() else []
    (run_dir / INDEX).write_text(render_index(listed, metric_files + extra, terms), encoding="utf-8")
    return sizes

