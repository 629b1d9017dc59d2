"""The disclosure rules of every file in `metrics/published/`: which columns are counts, which are
rates of them, and how the figures of the file hang together (what an attacker would use to work
out a hidden one). `metrics.disclosure.published` applies them; a file without rules is refused."""

from __future__ import annotations

from metrics.disclosure import Count, Rate, TableRules

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
)

FRAILTY_SUMMARY = TableRules(
    keys=("neighbourhood_code", "age_band", "efi_category"),
    counts=(
        Count("people"),
        Count("age_band_people"),
        Count("hiu_people"),
        Count("gp_appointments_12m", of_people="people"),
        Count("ed_attendances_12m", of_people="people"),
        Count("emergency_admissions_12m", of_people="people"),
    ),
    rates=(Rate("people_pct_of_age_band", "people", "age_band_people"),),
    same_within={"age_band_people": ("neighbourhood_code", "age_band")},
    sums=(("age_band_people", "people"),),
    at_most=(("hiu_people", "people"),),
)

PUBLISHED_RULES = {
    "service_concentration": SERVICE_CONCENTRATION,
    "frailty_summary": FRAILTY_SUMMARY,
}
