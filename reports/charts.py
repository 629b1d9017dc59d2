"""The report's charts: matplotlib figures as SVG text to inline in the page, each with the words a
screen reader says instead (`alt`). Colour is never the only carrier: bars are labelled with their
values, lines differ in style and markers, and every chart has a table of its numbers beside it."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import matplotlib.dates as mdates
import polars as pl

from metrics.charts import svg_figure

# Okabe-Ito: told apart with the common colour-vision deficiencies.
BLUE, ORANGE, GREEN, VERMILLION, GREY = "#0072B2", "#E69F00", "#009E73", "#D55E00", "#999999"
FRAILTY_COLOURS = {"fit": "#CFE3F1", "mild": "#7FB2D9", "moderate": "#2F6FA6", "severe": "#0B3A66", "not scored": GREY}
FRAILTY_HATCHES = {"fit": "", "mild": "..", "moderate": "//", "severe": "xx", "not scored": ""}


@dataclass(frozen=True)
class Chart:
    svg: str  # the <svg> element only, to inline
    alt: str  # what it shows, in words


def _inline(svg: str) -> str:
    """matplotlib writes a standalone file (XML declaration, DOCTYPE): keep the <svg> element, and
    only the ids something in it refers to (its clip paths and markers, salted per chart): the
    others ("figure_1", "axes_1") would repeat in every chart of the page."""
    svg = svg[svg.index("<svg"):]
    referenced = set(re.findall(r"#([\w.-]+)", svg))
    return re.sub(r' id="([^"]+)"', lambda m: m.group(0) if m.group(1) in referenced else "", svg)


def _pct(value: float | None) -> str:
    return "not known" if value is None else f"{value:.1f}%"


def concentration_chart(rows: list[dict], salt: str) -> Chart | None:
    """Per service: the high intensity users' share of the people against their share of the activity."""
    rows = [r for r in rows if r["hiu_people_pct"] is not None and r["activity_hiu_pct"] is not None]
    if not rows:
        return None
    names = [r["service_name"] for r in rows]
    positions = list(range(len(rows)))
    with svg_figure(f"{salt}-concentration", (7, 2.8)) as (figure, axis, to_svg):
        height = 0.38
        people = axis.barh([p - height / 2 for p in positions], [r["hiu_people_pct"] for r in rows], height,
                           color=GREY, label="share of the people")
        activity = axis.barh([p + height / 2 for p in positions], [r["activity_hiu_pct"] for r in rows], height,
                             color=BLUE, hatch="//", edgecolor="white", label="share of the activity")
        for bars in (people, activity):
            axis.bar_label(bars, fmt="%.1f%%", padding=3, fontsize=8)
        axis.set_yticks(positions, names)
        axis.invert_yaxis()
        axis.set_xlim(0, 100)
        axis.set_xlabel("% (high intensity users of each service)")
        axis.legend(loc="lower right", fontsize=8, frameon=False)
        axis.spines[["top", "right"]].set_visible(False)
        figure.tight_layout()
        svg = to_svg()
    said = "; ".join(
        f"{r['service_name']}: high intensity users are {_pct(r['hiu_people_pct'])} of the people and have "
        f"{_pct(r['activity_hiu_pct'])} of the activity" for r in rows
    )
    return Chart(_inline(svg), f"Bar chart of how concentrated activity is. {said}.")


def frailty_chart(profile: dict, salt: str) -> Chart | None:
    """Each age band's people split by eFI category, as one stacked bar per band."""
    bands, categories = profile["bands"], profile["categories"]
    if not bands:
        return None
    with svg_figure(f"{salt}-frailty", (7, 2.4)) as (figure, axis, to_svg):
        left = [0.0] * len(bands)
        for category in categories:
            widths = [profile["pct"].get((band, category)) or 0.0 for band in bands]
            bars = axis.barh(bands, widths, left=left, color=FRAILTY_COLOURS[category], hatch=FRAILTY_HATCHES[category],
                             edgecolor="white", label=category)
            axis.bar_label(bars, labels=[f"{w:.0f}%" if w >= 6 else "" for w in widths], label_type="center",
                           fontsize=8, color="black" if category in ("fit", "mild") else "white")
            left = [a + b for a, b in zip(left, widths)]
        axis.invert_yaxis()
        axis.set_xlim(0, 100)
        axis.set_xlabel("% of the age band")
        axis.legend(ncols=len(categories), loc="upper center", bbox_to_anchor=(0.5, -0.35), fontsize=8, frameon=False)
        axis.spines[["top", "right"]].set_visible(False)
        figure.tight_layout()
        svg = to_svg()
    said = "; ".join(
        f"{band}: " + ", ".join(f"{c} {_pct(profile['pct'].get((band, c)))}" for c in categories) for band in bands
    )
    return Chart(_inline(svg), f"Stacked bar chart of frailty (eFI) by age band. {said}.")


def counterfactual_chart(series: pl.DataFrame, title: str, salt: str, go_live: dt.date | None = None) -> Chart:
    """Observed month by month against expected without the programme, with expected's 95% band."""
    months = series["month"].to_list()
    upper = [u if u is not None else e for u, e in zip(series["expected_upper"], series["expected"])]
    with svg_figure(f"{salt}-{title}", (7, 3.0)) as (figure, axis, to_svg):
        axis.fill_between(months, series["expected_lower"], upper, color=ORANGE, alpha=0.25, linewidth=0,
                          label="expected, 95% interval")
        axis.plot(months, series["expected"], color=VERMILLION, linestyle="--", label="expected without the programme")
        axis.plot(months, series["observed"], color=BLUE, marker="o", markersize=3, label="observed")
        if go_live is not None and months[0] <= go_live <= months[-1]:
            axis.axvline(go_live, color="black", linestyle=":", linewidth=1.2, label=f"team live ({go_live:%b %Y})")
        axis.set_ylabel(f"{title} a month", fontsize=8)
        axis.set_ylim(bottom=0, top=max(max(upper), max(series["observed"])) * 1.45 or 1)
        axis.xaxis.set_major_formatter(mdates.DateFormatter("%b %Y"))
        axis.legend(fontsize=8, frameon=False, loc="upper left", ncols=2)
        axis.spines[["top", "right"]].set_visible(False)
        axis.tick_params(labelsize=8)
        figure.autofmt_xdate()
        figure.tight_layout()
        svg = to_svg()
    above = sum(o > u for o, u in zip(series["observed"], upper) if u is not None)
    below = sum(o < lo for o, lo in zip(series["observed"], series["expected_lower"]))
    alt = (
        f"Line chart of {title} a month from {months[0]:%B %Y} to {months[-1]:%B %Y}: observed against "
        f"expected without the programme, with the expected 95% interval as a band. Observed was above the band in "
        f"{above} of {len(months)} months and below it in {below}."
        + (f" The team went live in {go_live:%B %Y}." if go_live is not None and months[0] <= go_live <= months[-1] else "")
    )
    return Chart(_inline(svg), alt)
