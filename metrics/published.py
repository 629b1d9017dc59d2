"""The disclosure rules of every file in `metrics/published/`: which columns are counts, which are
rates of them, and how the figures of the file hang together, including what the definitions
imply (a high intensity user of GP services has at least the threshold's appointments). That is
what an attacker would use to work out a hidden figure, so `metrics.disclosure` audits against
exactly this. A file without rules is refused."""

from __future__ import annotations

import math

import numpy as np
import polars as pl

from metrics.counterfactual import POPULATION_STANDARDISED, Z, byar_limits
from metrics.disclosure import ALL, Count, Derived, Rate, Relation, TableRules

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

def _byar(observed: int, upper: bool) -> float:
    lower_limit, upper_limit = byar_limits(np.array([observed]))
    return float((upper_limit if upper else lower_limit)[0])


def _expected_limit(row: dict, upper: bool) -> float | None:
    """domain.md: expected x observed / the observed count's limit (standardised); the model's
    interval of its mean (time series)."""
    if row["method"] != POPULATION_STANDARDISED:
        return row["expected_upper" if upper else "expected_lower"]
    limit = _byar(row["observed"], upper=not upper)
    return None if limit == 0 else row["expected"] * row["observed"] / limit


def _avoided_limit(row: dict, upper: bool) -> float | None:
    if row["method"] != POPULATION_STANDARDISED:
        bound = row["expected_upper" if upper else "expected_lower"]
        return None if bound is None else bound - row["observed"]
    return row["expected"] - _byar(row["observed"], upper=not upper)


def _limits_derived(counts: tuple[str, ...]) -> tuple[Derived, ...]:
    """Expected as modelled (to 1 decimal); avoided and every limit from the published observed count,
    so that none of them gives the true count back."""
    values = ("method", "expected", "expected_lower", "expected_upper")
    return (
        Derived("expected", (), lambda r: r["expected"], values=("expected",)),
        Derived("avoided", counts, lambda r: r["expected"] - r["observed"], values=("expected",)),
        Derived("expected_lower", counts, lambda r: _expected_limit(r, upper=False), values=values),
        Derived("expected_upper", counts, lambda r: _expected_limit(r, upper=True), values=values),
        Derived("observed_lower", counts, lambda r: _byar(r["observed"], upper=False)),
        Derived("observed_upper", counts, lambda r: _byar(r["observed"], upper=True)),
        Derived("avoided_lower", counts, lambda r: _avoided_limit(r, upper=False), values=values),
        Derived("avoided_upper", counts, lambda r: _avoided_limit(r, upper=True), values=values),
    )


AGE_NESTING = (("75+", "65+"), ("65+", "all"))
PART_OF = (("short_stay_admissions", "emergency_admissions"), ("ambulance_arrivals", "ed_attendances"))


def _nesting_relations(frame: pl.DataFrame, when: str, counts: tuple[str, ...]) -> tuple[dict, list[Relation]]:
    """The standardised rows by (neighbourhood, `when`, measure, age group), and what the domain says
    of them whatever the table: an older age group is within a wider one (each of `counts`); short
    stays are emergency admissions; ambulance arrivals are ED attendances. (Not that a longer stay
    adds 3 or more bed days: a stay not over by the end of the data has none yet.)"""
    rows = {(r["neighbourhood_code"], r[when], r["measure"], r["age_group"]): r
            for r in frame.filter(pl.col("method") == POPULATION_STANDARDISED).iter_rows(named=True)}
    relations: list[Relation] = []
    for (code, at, measure, group), row in rows.items():
        for part, whole in AGE_NESTING:
            if group == part and (code, at, measure, whole) in rows:
                wider = rows[(code, at, measure, whole)]
                relations += [([(1, count, row), (-1, count, wider)], -INF, 0) for count in counts]
        for part, whole in PART_OF:
            if measure == part and (code, at, whole, group) in rows:
                relations.append(([(1, "observed", row), (-1, "observed", rows[(code, at, whole, group)])], -INF, 0))
    return rows, relations


def counterfactual_relations(frame: pl.DataFrame, thresholds, big: float) -> list[Relation]:
    """Month by month, as `_nesting_relations` gives (people too: the population nests by age)."""
    return _nesting_relations(frame, "month", ("observed", "population"))[1]


COUNTERFACTUAL_ACTIVITY = TableRules(
    keys=("neighbourhood_code", "month", "measure", "age_group", "method"),
    counts=(Count("population"), Count("observed", of_people="population")),
    derived=_limits_derived(("observed",)),
    # the same figure on both methods' rows; the population on every measure's
    same_within={
        "observed": ("neighbourhood_code", "month", "measure", "age_group"),
        "population": ("neighbourhood_code", "month", "age_group"),
    },
    relations=counterfactual_relations,
)

def _total_sd(row: dict) -> float:
    return float(np.sqrt(row["area_dispersion"] * row["observed"] + row["expected_se"] ** 2))


def _summary_expected_limit(row: dict, upper: bool) -> float | None:
    """The summary's standardised limits: expected -/+ 1.96 sd of avoided (`with_total_limits`), the sd
    from the published observed count; the time series' from its draws."""
    if row["method"] != POPULATION_STANDARDISED:
        return row["expected_upper" if upper else "expected_lower"]
    return row["expected"] + Z * _total_sd(row) if upper else max(row["expected"] - Z * _total_sd(row), 0.0)


def _summary_avoided_limit(row: dict, upper: bool) -> float | None:
    if row["method"] != POPULATION_STANDARDISED:
        bound = row["expected_upper" if upper else "expected_lower"]
        return None if bound is None else bound - row["observed"]
    sign = 1 if upper else -1
    return row["expected"] - row["observed"] + sign * Z * _total_sd(row)


def summary_relations(frame: pl.DataFrame, thresholds, big: float) -> list[Relation]:
    """As `_nesting_relations` gives, within each period; and a neighbourhood's two periods end on
    the same month, so the shorter one's activity is within the longer one's. Every relation must
    hold for the true figures (the audit fails the run, infeasible, when one does not)."""
    rows, relations = _nesting_relations(frame, "period", ("observed",))
    for (code, period, measure, group), row in rows.items():
        other = (code, "last_12_months", measure, group)
        # (not for ALL: since go-live it pools only the live neighbourhoods, over 12 months their all)
        if period == "since_go_live" and code != ALL and other in rows:
            shorter, longer = (row, rows[other]) if row["months"] <= rows[other]["months"] else (rows[other], row)
            relations.append(([(1, "observed", shorter), (-1, "observed", longer)], -INF, 0))
    return relations


_SUMMARY_VALUES = ("method", "expected", "expected_lower", "expected_upper", "area_dispersion", "expected_se")
PROGRAMME_SUMMARY = TableRules(
    keys=("neighbourhood_code", "period", "measure", "age_group", "method"),
    counts=(Count("observed"),),
    derived=(
        Derived("expected", (), lambda r: r["expected"], values=("expected",)),
        Derived("avoided", ("observed",), lambda r: r["expected"] - r["observed"], values=("expected",)),
        Derived("expected_lower", ("observed",), lambda r: _summary_expected_limit(r, upper=False), values=_SUMMARY_VALUES),
        Derived("expected_upper", ("observed",), lambda r: _summary_expected_limit(r, upper=True), values=_SUMMARY_VALUES),
        Derived("observed_lower", ("observed",), lambda r: _byar(r["observed"], upper=False)),
        Derived("observed_upper", ("observed",), lambda r: _byar(r["observed"], upper=True)),
        Derived("avoided_lower", ("observed",), lambda r: _summary_avoided_limit(r, upper=False), values=_SUMMARY_VALUES),
        Derived("avoided_upper", ("observed",), lambda r: _summary_avoided_limit(r, upper=True), values=_SUMMARY_VALUES),
        Derived("avoided_pct", ("observed",), lambda r: 100 * (r["expected"] - r["observed"]) / r["expected"] if r["expected"] else None,
                values=("expected",)),
        # the whole area's (the same on every neighbourhood's row), hidden with the count
        Derived("dispersion", ("observed",), lambda r: r["area_dispersion"] if r["method"] == POPULATION_STANDARDISED
                else r["dispersion"], values=("method", "dispersion", "area_dispersion")),
        Derived("area_dispersion", ("observed",), lambda r: r["area_dispersion"], values=("area_dispersion",)),
        Derived("expected_se", ("observed",), lambda r: r["expected_se"], values=("expected_se",)),
    ),
    same_within={"observed": ("neighbourhood_code", "period", "measure", "age_group")},
    relations=summary_relations,
)


def _change(before: str, after: str):
    return lambda r: 100 * (r[after] - r[before]) / r[before] if r[before] else None


FOLLOWUP_PEOPLE = ("people", "comparison_people")
COHORT_FOLLOWUP = TableRules(
    keys=("neighbourhood_code", "measure"),
    counts=(
        Count("people"),
        Count("activity_before", of_people="people"),
        Count("activity_after", of_people="people"),
        Count("comparison_people"),
        Count("comparison_activity_before", of_people="comparison_people"),
        Count("comparison_activity_after", of_people="comparison_people"),
    ),
    derived=(
        Derived("change_pct", ("activity_before", "activity_after"), _change("activity_before", "activity_after")),
        Derived("expected_change_pct", ("comparison_activity_before", "comparison_activity_after"),
                _change("comparison_activity_before", "comparison_activity_after")),
        Derived(
            "net_change_pct",
            ("activity_before", "activity_after", "comparison_activity_before", "comparison_activity_after"),
            lambda r: None if not (r["activity_before"] and r["comparison_activity_before"]) else
            _change("activity_before", "activity_after")(r) - _change("comparison_activity_before", "comparison_activity_after")(r),
        ),
        # Bootstrap limits and the comparison with neighbourhoods not live come from people's rows: shown
        # (to 1 decimal) only where both cohorts have 8 or more people.
        *(Derived(c, FOLLOWUP_PEOPLE, lambda r, c=c: r[c], values=(c,)) for c in (  # None stays blank
            "net_change_lower", "net_change_upper", "net_change_vs_not_live_pct", "net_change_vs_not_live_lower",
            "net_change_vs_not_live_upper",
        )),
    ),
)


def social_care_relations(frame: pl.DataFrame, thresholds, big: float) -> list[Relation]:
    relations: list[Relation] = []
    for row in frame.iter_rows(named=True):
        relations += [
            ([(1, "requests", row), (-2, "repeat_request_people", row)], 0, INF),  # each repeat requester made 2+
            ([(1, "requests", row), (-big, "people_in_social_care", row)], -INF, 0),  # nobody in care, no requests
            ([(1, "reviews", row), (-big, "people_in_social_care", row)], -INF, 0),
        ]
        if row["group"] == "rest":  # the rest are, by definition, people in social care
            relations.append(([(1, "people", row), (-1, "people_in_social_care", row)], 0, 0))
    return relations


SOCIAL_CARE_PROFILE = TableRules(
    keys=("neighbourhood_code", "group"),
    counts=(
        Count("people"),
        Count("people_in_social_care"),
        Count("requests", of_people="people_in_social_care"),
        Count("repeat_request_people"),
        Count("reviews", of_people="people_in_social_care"),
        Count("unplanned_reviews", of_people="people_in_social_care"),
    ),
    rates=(
        Rate("people_in_social_care_pct", "people_in_social_care", "people"),
        Rate("repeat_request_pct", "repeat_request_people", "people_in_social_care"),
        Rate("unplanned_review_pct", "unplanned_reviews", "reviews"),
    ),
    at_most=(
        ("people_in_social_care", "people"),
        ("repeat_request_people", "people_in_social_care"),
        ("unplanned_reviews", "reviews"),
    ),
    relations=social_care_relations,
)

PUBLISHED_RULES = {
    "service_concentration": SERVICE_CONCENTRATION,
    "frailty_summary": FRAILTY_SUMMARY,
    "counterfactual_activity": COUNTERFACTUAL_ACTIVITY,
    "programme_summary": PROGRAMME_SUMMARY,
    "cohort_followup": COHORT_FOLLOWUP,
    "social_care_profile": SOCIAL_CARE_PROFILE,
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
