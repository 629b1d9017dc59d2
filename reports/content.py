"""What a neighbourhood's report says, read from the files of the run folder: the lists in the
neighbourhood's folder and the metrics in `metrics/`. Reading the files rather than the warehouse
means the report cannot say anything its folder does not hold."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from schemas.outputs import EFI_CATEGORIES, SERVICES

SERVICE_NAMES = {"gp": "GP appointments", "ed": "ED attendances", "admissions": "Emergency admissions"}
CHART_MEASURES = {"ed_attendances": "ED attendances", "emergency_admissions": "Emergency admissions"}
SUMMARY_MEASURES = {
    "ed_attendances": "ED attendances",
    "emergency_admissions": "Emergency admissions",
    "short_stay_admissions": "Short-stay emergency admissions",
    "emergency_bed_days": "Emergency bed days",
    "ambulance_arrivals": "Ambulance arrivals at ED",
}
METHOD_NAMES = {"population_standardised": "standardised to the baseline year",
                "interrupted_time_series": "interrupted time series"}
STANDARDISED = "population_standardised"
TOP_PRACTICES = 10

# What each file of a neighbourhood folder holds, in the words of the folder's guide.
LISTS = {
    "hiu_cohort": "High intensity users: people at or over the threshold of at least one service.",
    "frailty_cohort": "Frailty: people aged 65 and over with moderate or severe frailty (eFI), or housebound.",
    "rising_risk_cohort": "Rising risk: people not high intensity users now, most likely to become one next year.",
}
FORMATS = {
    ".xlsx": "the list to open in Excel, with readable headings and an About sheet (who is on it, how to share it)",
    ".csv": "the same rows for other tools",
    ".parquet": "the same rows for analysts",
    "_dictionary.csv": "what every column means",
}


@dataclass(frozen=True)
class ListFile:
    stem: str
    about: str
    people: int
    files: list[tuple[str, str]]  # (file name, what it is)


def _one_neighbourhood(path: Path, code: str) -> pl.DataFrame:
    return pl.scan_parquet(path).filter(pl.col("neighbourhood_code") == code).collect()


def list_files(folder: Path) -> list[ListFile]:
    """The folder's lists: how many people each holds and its files."""
    found = []
    for stem, about in LISTS.items():
        parquet = folder / f"{stem}.parquet"
        if not parquet.exists():
            continue
        people = pl.scan_parquet(parquet).select(pl.len()).collect().item()
        files = [(f"{stem}{suffix}", words) for suffix, words in FORMATS.items() if (folder / f"{stem}{suffix}").exists()]
        found.append(ListFile(stem, about, people, files))
    return found


def cohort_sizes(folder: Path) -> dict:
    """High intensity users by service and HIMSU, from the neighbourhood's list."""
    path = folder / "hiu_cohort.parquet"
    if not path.exists():
        return dict.fromkeys(("any", "gp", "ed", "admissions", "himsu"), 0)
    counts = pl.scan_parquet(path).select(
        pl.len().alias("any"),
        pl.col("hiu_gp").sum().alias("gp"),
        pl.col("hiu_ed").sum().alias("ed"),
        pl.col("hiu_admissions").sum().alias("admissions"),
        pl.col("himsu").sum().alias("himsu"),
    ).collect().row(0, named=True)
    return {key: int(value or 0) for key, value in counts.items()}


def top_practices(folder: Path, limit: int = TOP_PRACTICES) -> list[dict]:
    """The practices with the most high intensity users (ties by practice code)."""
    path = folder / "hiu_cohort.parquet"
    if not path.exists():
        return []
    return (
        pl.scan_parquet(path)
        .group_by("practice_code")
        .agg(pl.col("practice_name").first(), pl.len().alias("hiu_people"), pl.col("himsu").sum().alias("himsu_people"))
        .sort(["hiu_people", "practice_code"], descending=[True, False])
        .head(limit)
        .collect()
        .to_dicts()
    )


def concentration(metrics: Path, code: str) -> list[dict]:
    frame = _one_neighbourhood(metrics / "service_concentration.parquet", code)
    by_service = {row["service"]: row for row in frame.iter_rows(named=True)}
    return [{**by_service[s], "service_name": SERVICE_NAMES[s]} for s in SERVICES if s in by_service]


def frailty_profile(metrics: Path, code: str) -> dict:
    """People aged 65 and over by age band and eFI category: {"bands": [...], "categories": [...],
    "people": {(band, category): n}, "pct": {(band, category): %}}."""
    frame = _one_neighbourhood(metrics / "frailty_summary.parquet", code)
    bands = sorted(set(frame["age_band"]), key=["65-74", "75-84", "85+"].index)
    categories = [c for c in [*EFI_CATEGORIES, "not scored"] if c in set(frame["efi_category"])]
    # the summary has no row for a band and category with nobody in it: that is 0 people, 0%
    people = {(band, category): 0 for band in bands for category in categories}
    pct = {(band, category): 0.0 for band in bands for category in categories}
    for r in frame.iter_rows(named=True):
        people[(r["age_band"], r["efi_category"])] = r["people"]
        pct[(r["age_band"], r["efi_category"])] = r["people_pct_of_age_band"]
    return {"bands": bands, "categories": categories, "people": people, "pct": pct}


def counterfactual_series(metrics: Path, code: str) -> dict[str, pl.DataFrame]:
    """Month by month, all ages, standardised: observed against expected with its interval."""
    frame = _one_neighbourhood(metrics / "counterfactual_activity.parquet", code).filter(
        (pl.col("method") == STANDARDISED) & (pl.col("age_group") == "all")
    )
    return {
        measure: frame.filter(pl.col("measure") == measure).sort("month")
        for measure in CHART_MEASURES
        if frame.filter(pl.col("measure") == measure).height
    }


PERIODS = ("since_go_live", "last_12_months")


def programme_summary(metrics: Path, code: str) -> list[dict]:
    """All ages, by period (since go-live first, where the team is live), measure and method."""
    frame = _one_neighbourhood(metrics / "programme_summary.parquet", code).filter(pl.col("age_group") == "all")
    rows = []
    for period in PERIODS:
        for measure, name in SUMMARY_MEASURES.items():
            for method, method_name in METHOD_NAMES.items():
                picked = frame.filter((pl.col("period") == period) & (pl.col("measure") == measure) & (pl.col("method") == method))
                rows += [{**row, "measure_name": name, "method_name": method_name} for row in picked.iter_rows(named=True)]
    return rows


def go_live(metrics: Path, code: str) -> dt.date | None:
    """When the neighbourhood's team went live, as the counterfactual file gives it."""
    frame = _one_neighbourhood(metrics / "counterfactual_activity.parquet", code).select(pl.col("go_live_date").min())
    return frame.item() if frame.height else None


def followup(metrics: Path, code: str) -> dict | None:
    frame = _one_neighbourhood(metrics / "cohort_followup.parquet", code).filter(pl.col("measure") == "unplanned_activity")
    return frame.row(0, named=True) if frame.height else None


def neighbourhood_content(run_dir: Path, code: str) -> dict:
    """Everything one report shows, from the files of `run_dir`."""
    folder, metrics = run_dir / "neighbourhoods" / code, run_dir / "metrics"
    services = concentration(metrics, code)
    return {
        "lists": list_files(folder),
        "sizes": cohort_sizes(folder),
        "population": services[0]["population"] if services else 0,
        "concentration": services,
        "practices": top_practices(folder),
        "frailty": frailty_profile(metrics, code),
        "series": counterfactual_series(metrics, code),
        "summary": programme_summary(metrics, code),
        "followup": followup(metrics, code),
        "go_live": go_live(metrics, code),
    }
