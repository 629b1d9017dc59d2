"""The BCP figures of issue 3, read back from a run's output files, with their bands."""

from __future__ import annotations

from pathlib import Path

import polars as pl

# figure -> (low, high); percentages 0-100
BANDS = {
    "gp_hiu_people_pct": (3.2, 4.2),
    "gp_hiu_activity_pct": (18, 24),
    "ed_hiu_people_pct": (0.3, 0.5),
    "ed_hiu_activity_pct": (9.5, 14),
    "admissions_hiu_people_pct": (0.55, 0.85),
    "admissions_hiu_activity_pct": (24, 32),
    "any_hiu_people_pct": (4.3, 5.3),
    "himsu_people_pct": (0.07, 0.11),
    "himsu_mean_gp": (31, 41),
    "himsu_mean_ed": (7.5, 10.5),
    "himsu_mean_admissions": (4.5, 6.5),
    "mean_gp": (4.6, 5.8),
    "mean_ed": (0.27, 0.37),
    "mean_admissions": (0.085, 0.115),
    "himsu_social_care_pct": (38, 62),
}


def figures(output_dir: Path) -> dict[str, float]:
    concentration = pl.read_parquet(output_dir / "metrics/service_concentration.parquet")
    whole = {row["service"]: row for row in concentration.filter(pl.col("neighbourhood_code") == "ALL").iter_rows(named=True)}
    cohort = pl.concat(
        [pl.read_parquet(p) for p in sorted(output_dir.glob("neighbourhoods/*/hiu_cohort.parquet"))], how="vertical"
    )
    himsu = cohort.filter(pl.col("himsu"))
    population = whole["gp"]["population"]
    result = {}
    for service in ("gp", "ed", "admissions"):
        result[f"{service}_hiu_people_pct"] = whole[service]["hiu_people_pct"]
        result[f"{service}_hiu_activity_pct"] = whole[service]["activity_hiu_pct"]
        result[f"himsu_mean_{service}"] = whole[service]["mean_per_person_himsu"]
        result[f"mean_{service}"] = whole[service]["mean_per_person_all"]
    result["any_hiu_people_pct"] = 100 * whole["gp"]["any_hiu_people"] / population
    result["himsu_people_pct"] = 100 * whole["gp"]["himsu_people"] / population
    result["himsu_social_care_pct"] = 100 * himsu["social_care_involved"].mean() if himsu.height else float("nan")
    result["population"] = population
    result["himsu_people"] = whole["gp"]["himsu_people"]
    return result


def in_band(name: str, value: float) -> bool:
    low, high = BANDS[name]
    return low <= value <= high
