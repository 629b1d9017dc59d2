"""The disclosure rules of every file in `metrics/published/`: which columns are counts, which are
rates of them, and how the figures of the file hang together, including what the definitions
imply (a high intensity user of GP services has at least the threshold's appointments). That is
what an attacker would use to work out a hidden figure, so `metrics.disclosure` audits against
exactly this. A file without rules is refused."""

from __future__ import annotations

import math

import numpy as np
import polars as pl

from metrics.disclosure import Count, Rate, Relation, TableRules

INF = np.inf
SERVICE_ACTIVITY = {"gp": "gp_appointments_12m", "ed": "ed_attendances_12m", "admissions": "emergency_admissions_12m"}


def _threshold(thresholds, service: str) -> int:
    return {"gp": thresholds.gp, "ed": thresholds.ed, "admissions": thresholds.admissions}[service]


def service_concentration_relations(frame: pl.DataFrame, thresholds, big: float) -> list[Relation]:
    relations: list[Relation] = []
    common = math.lcm(thresholds.gp, thresholds.ed, thresholds.admissions)
    for _, rows in frame.group_by("neighbourhood_code", maintain_order=True):
        rows = rows.to_dicts()
        first = rows[0]
        for row in rows:
            t = _threshold(thresholds, row["service"])
            relations += [
                ([(1, "activity_hiu", row), (-t, "hiu_people", row)], 0, INF),  # each over the threshold
                # everyone else under it
                ([(1, "activity_total", row), (-1, "activity_hiu", row), (-(t - 1), "population", row), (t - 1, "hiu_people", row)], -INF, 0),
                ([(1, "activity_hiu", row), (-big, "hiu_people", row)], -INF, 0),  # no users, no activity
                ([(1, "activity_himsu", row), (-big, "himsu_people", row)], -INF, 0),
                # HIMSU under this service's threshold have less than it
                ([(1, "activity_himsu", row), (-1, "activity_hiu", row), (-(t - 1), "himsu_people", row)], -INF, 0),
            ]
        users = [(1, "hiu_people", row) for row in rows]
        relations += [
            (users + [(-1, "any_hiu_people", first)], 0, INF),  # each user over one service at least
            (users + [(-1, "any_hiu_people", first), (-1, "himsu_people", first)], 0, INF),  # HIMSU over two
            (users + [(-1, "any_hiu_people", first), (-2, "himsu_people", first)], -INF, 0),  # nobody over four
            (
                [(common // _threshold(thresholds, row["service"]), "activity_himsu", row) for row in rows]
                + [(-2 * common, "himsu_people", first)],
                0,
                INF,
            ),
        ]
    return relations


def frailty_summary_relations(frame: pl.DataFrame, thresholds, big: float) -> list[Relation]:
    relations: list[Relation] = []
    common = math.lcm(thresholds.gp, thresholds.ed, thresholds.admissions)
    for row in frame.iter_rows(named=True):
        over_one = [(common // _threshold(thresholds, s), column, row) for s, column in SERVICE_ACTIVITY.items()]
        relations.append((over_one + [(-common, "hiu_people", row)], 0, INF))
        for service, column in SERVICE_ACTIVITY.items():  # people who are not users are under every threshold
            t = _threshold(thresholds, service)
            relations.append(([(1, column, row), (-(t - 1), "people", row), (t - 1 - big, "hiu_people", row)], -INF, 0))
    return relations


NEIGHBOURHOOD = ("neighbourhood_code",)

SERVICE_CONCENTRATION = TableRules(
    keys=("neighbourhood_code", "service"),
    counts=(
        Count("population"),
        Count("hiu_people"),
        Count("activity_total", of_people="population"),
        Count("activity_hiu", of_people="hiu_people"),
        Count("himsu_people"),
        Count("activity_himsu", of_people="himsu_people"),
        Count("any_hiu_people"),
    ),
    rates=(
        Rate("hiu_people_pct", "hiu_people", "population"),
        Rate("activity_hiu_pct", "activity_hiu", "activity_total"),
        Rate("mean_per_person_all", "activity_total", "population", scale=1, decimals=3),
        Rate("mean_per_person_himsu", "activity_himsu", "himsu_people", scale=1, decimals=3),
    ),
    # the same people on each service's row of a neighbourhood
    same_within={"population": NEIGHBOURHOOD, "himsu_people": NEIGHBOURHOOD, "any_hiu_people": NEIGHBOURHOOD},
    at_most=(
        ("hiu_people", "any_hiu_people"),
        ("himsu_people", "any_hiu_people"),
        ("any_hiu_people", "population"),
        ("activity_hiu", "activity_total"),
        ("activity_himsu", "activity_total"),
    ),
    relations=service_concentration_relations,
)

FRAILTY_SUMMARY = TableRules(
    keys=("neighbourhood_code", "age_band", "efi_category"),
    counts=(
        Count("people"),
        Count("hiu_people"),
        Count("gp_appointments_12m", of_people="people"),
        Count("ed_attendances_12m", of_people="people"),
        Count("emergency_admissions_12m", of_people="people"),
    ),
    # of the published people of the neighbourhood's age band: hidden when any of them is
    rates=(Rate("people_pct_of_age_band", "people", None, within=("neighbourhood_code", "age_band")),),
    at_most=(("hiu_people", "people"),),
    relations=frailty_summary_relations,
)

PUBLISHED_RULES = {
    "service_concentration": SERVICE_CONCENTRATION,
    "frailty_summary": FRAILTY_SUMMARY,
}


STAR = (
    "* means hidden: a count of 1 to 7, activity of 1 to 7 people, or a figure hidden so that another "
    "cannot be worked out from it."
)


def published_dictionary(dictionary: pl.DataFrame, table: str) -> pl.DataFrame:
    """The data dictionary of a published copy: its counts and rates are text, and say how."""
    rules = PUBLISHED_RULES[table]
    counts = {c.column for c in rules.counts}
    rates = {r.column: r for r in rules.rates}

    def note(column: str) -> str:
        if column in counts:
            return "Text: 0, * or the count rounded to the nearest 5 (totals rounded after adding up). " + STAR
        if column in rates:
            rate = rates[column]
            base = rate.denominator or f"the published {rate.numerator} of its {', '.join(rate.within[1:])}"
            return (
                f"Text: worked out from the published (rounded) {rate.numerator} and {base}, so it can differ from "
                "the exact figure, most where the counts are small; * where a count it needs is hidden."
            )
        return ""

    controlled = sorted(counts | set(rates))
    return dictionary.with_columns(
        pl.when(pl.col("column").is_in(controlled)).then(pl.lit("text")).otherwise(pl.col("type")).alias("type"),
        pl.col("column").map_elements(note, return_dtype=pl.String).alias("in_the_published_copy"),
    ).drop("in_the_csv")
