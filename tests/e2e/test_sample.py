"""The committed sample drop: it is what `hiu generate` makes, and the whole pipeline on it writes
every output file with exactly the people the counting rules say."""

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest

from pipeline.generate import generate_drop
from pipeline.runner import materialize_all
from pipeline.settings import HiuSettings
from schemas.extracts import EXTRACTS
from schemas.outputs import HiuCohort, ServiceConcentration
from tests.oracle import expected_people, read_extract

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample"
# The arguments `make sample` uses; change both together.
SAMPLE_ARGS = {"population": 20000, "seed": 20250331}


def test_sample_is_small_enough_to_commit():
    size = sum(p.stat().st_size for p in SAMPLE.rglob("*") if p.is_file())
    assert size <= 20 * 1024 * 1024


def test_regenerating_the_sample_gives_the_same_content(tmp_path):
    generate_drop(out=tmp_path, progress=False, **SAMPLE_ARGS)
    committed = sorted(str(p.relative_to(SAMPLE)) for p in SAMPLE.rglob("*") if p.is_file())
    regenerated = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert regenerated == committed
    for name in EXTRACTS:
        assert read_extract(tmp_path, name).equals(read_extract(SAMPLE, name)), name


def cohort_files(out: Path) -> pl.DataFrame:
    return pl.concat([pl.read_parquet(p) for p in sorted(out.glob("neighbourhoods/*/hiu_cohort.parquet"))])


def test_every_neighbourhood_gets_its_files(sample_run):
    practices = read_extract(SAMPLE, "practices")
    for code in practices["neighbourhood_code"].unique():
        folder = sample_run / "neighbourhoods" / code
        for name in ("hiu_cohort.parquet", "hiu_cohort.csv", "hiu_cohort_dictionary.csv"):
            assert (folder / name).is_file(), folder / name
        parquet = pl.read_parquet(folder / "hiu_cohort.parquet")
        csv = pl.read_csv(folder / "hiu_cohort.csv", infer_schema=False)
        assert csv.height == parquet.height and csv.columns == parquet.columns
        assert set(parquet["neighbourhood_code"]) <= {code}
        HiuCohort.validate(parquet)


def test_cohort_is_exactly_what_the_counting_rules_say(sample_run):
    manifest = json.loads((sample_run / "manifest.json").read_text())
    expected = expected_people(SAMPLE, dt.date.fromisoformat(manifest["as_of"]))
    expected = expected.filter(pl.col("high_intensity_services") >= 1).sort("person_id")
    actual = cohort_files(sample_run).select(expected.columns).sort("person_id")
    assert expected.height > 100  # a sample worth testing on
    assert actual.equals(expected)


def test_service_concentration_agrees_with_the_cohort(sample_run):
    concentration = pl.read_parquet(sample_run / "metrics/service_concentration.parquet")
    ServiceConcentration.validate(concentration)
    cohort = cohort_files(sample_run)
    whole = {r["service"]: r for r in concentration.filter(pl.col("neighbourhood_code") == "ALL").iter_rows(named=True)}
    assert whole["gp"]["hiu_people"] == cohort["hiu_gp"].sum()
    assert whole["admissions"]["activity_hiu"] == cohort.filter("hiu_admissions")["emergency_admissions_12m"].sum()
    assert whole["ed"]["himsu_people"] == cohort["himsu"].sum()
    assert whole["gp"]["any_hiu_people"] == cohort.height


def test_manifest_accounts_for_every_input_and_output(sample_run):
    manifest = json.loads((sample_run / "manifest.json").read_text())
    inputs = {Path(entry["path"]).resolve() for entry in manifest["inputs"]}
    assert inputs == {p.resolve() for p in SAMPLE.rglob("*") if p.is_file()}
    for name, counts in manifest["extracts"].items():
        assert counts["rows_read"] == counts["rows_accepted"] + counts["rows_quarantined"], name
        assert counts["supplied"], name
    for entry in manifest["outputs"]:
        path = sample_run / entry["path"]
        if path.suffix == ".parquet":
            assert pl.read_parquet(path).height == entry["rows"], entry["path"]


def test_frailty_lists_and_scores_in_every_neighbourhood(sample_run):
    from schemas.outputs import FrailtyCohort, FrailtySummary

    cohort = cohort_files(sample_run)
    scored = cohort.filter(pl.col("age") >= 65)
    assert scored["efi_score"].null_count() == 0 and scored["efi_category"].null_count() == 0
    assert cohort.filter(pl.col("age") < 65)["efi_score"].null_count() == cohort.filter(pl.col("age") < 65).height
    assert cohort.filter(pl.col("age") >= 75)["hfrs_band"].null_count() == 0
    assert cohort.filter(pl.col("age") < 75)["hfrs_score"].null_count() == cohort.filter(pl.col("age") < 75).height

    frail = []
    for folder in sorted((sample_run / "neighbourhoods").iterdir()):
        frame = FrailtyCohort.validate(pl.read_parquet(folder / "frailty_cohort.parquet"))
        assert set(frame["neighbourhood_code"]) <= {folder.name}
        assert frame.filter(~pl.col("efi_category").is_in(["moderate", "severe"]) & ~pl.col("housebound")).height == 0
        assert (folder / "frailty_cohort_dictionary.csv").exists()
        frail.append(frame)
    frail = pl.concat(frail)
    # Housebound people are on the list because of deficit 16, in words.
    assert frail.filter(pl.col("housebound"))["deficits"].str.contains("Housebound").all()

    summary = FrailtySummary.validate(pl.read_parquet(sample_run / "metrics/frailty_summary.parquet"))
    whole = summary.filter(pl.col("neighbourhood_code") == "ALL")
    moderate_or_severe = whole.filter(pl.col("efi_category").is_in(["moderate", "severe"]))["people"].sum()
    assert moderate_or_severe == frail.filter(pl.col("efi_category").is_in(["moderate", "severe"])).height
    population = pl.read_parquet(sample_run / "metrics/service_concentration.parquet")["population"].max()
    assert 0.015 < moderate_or_severe / population < 0.05  # about 3% of everyone (issue 4)
    by_age = whole.group_by("age_band").agg(
        (pl.col("people").filter(pl.col("efi_category").is_in(["moderate", "severe"])).sum() / pl.col("people").sum()).alias("share")
    ).sort("age_band")
    assert by_age["share"].is_sorted()  # rising steeply with age


def test_published_copies_are_disclosure_controlled(sample_run):
    for table, count_columns in [("frailty_summary", ["people", "hiu_people"]), ("service_concentration", ["population", "hiu_people", "himsu_people"])]:
        published = pl.read_csv(sample_run / f"metrics/published/{table}.csv", infer_schema=False)
        exact = pl.read_parquet(sample_run / f"metrics/{table}.parquet")
        assert published.height == exact.height and published.columns == exact.columns
        for column in count_columns:
            for shown, true in zip(published[column], exact[column], strict=True):
                # 1-7 always hidden; others rounded, or hidden as well so that no hidden one can be worked out
                assert shown == "*" if 1 <= true <= 7 else (shown == "*" or (int(shown) % 5 == 0 and abs(int(shown) - true) <= 2))


def test_frailty_scores_are_exactly_as_defined_for_every_listed_person(sample_run):
    from pipeline.reference_data import EFI_DEFICIT_CODES, HFRS_ICD10_WEIGHTS
    from tests.oracle import expected_frailty

    as_of = dt.date.fromisoformat(json.loads((sample_run / "manifest.json").read_text())["as_of"])
    expected = expected_frailty(SAMPLE, as_of, EFI_DEFICIT_CODES, HFRS_ICD10_WEIGHTS)
    listed = cohort_files(sample_run).select(
        "person_id",
        (pl.col("efi_score") * 36).round(0).cast(pl.Int64).alias("efi_deficits"),
        "efi_category",
        (pl.col("hfrs_score") * 10).round(0).cast(pl.Int64).alias("hfrs_tenths"),
    )
    assert listed.filter(pl.col("efi_deficits").is_not_null()).height > 100
    assert listed.sort("person_id").equals(expected.join(listed.select("person_id"), on="person_id").sort("person_id"))
    frail = pl.concat([pl.read_parquet(p) for p in sorted(sample_run.glob("neighbourhoods/*/frailty_cohort.parquet"))])
    frail_expected = expected.join(frail.select("person_id"), on="person_id").select("person_id", "efi_deficits").sort("person_id")
    assert frail.select("person_id", "efi_deficits").sort("person_id").equals(frail_expected)


def test_counterfactual_observed_activity_and_population_are_as_the_files_give_them(sample_run):
    """The monthly observed counts and populations behind every standardised row, recounted by the
    oracle from the extracts (registration on each event's date, age on each month's first day)."""
    from tests.oracle import expected_monthly_activity

    published = pl.read_parquet(sample_run / "metrics" / "counterfactual_activity.parquet").filter(
        pl.col("method") == "population_standardised", pl.col("neighbourhood_code") != "ALL",
        pl.col("measure").is_in(["ed_attendances", "emergency_admissions"]),
    )
    assert published.height > 0
    ours = published.pivot("measure", index=["neighbourhood_code", "month", "age_group", "population"], values="observed")
    expected = expected_monthly_activity(SAMPLE, published["month"].min(), published["month"].max())
    keys = ["neighbourhood_code", "month", "age_group"]
    columns = [*keys, "population", "ed_attendances", "emergency_admissions"]
    assert ours.select(columns).sort(keys).equals(expected.select(columns).sort(keys))
