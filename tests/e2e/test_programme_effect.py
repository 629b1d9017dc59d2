"""The counterfactual metrics find a known effect on generated data, and none where none was put
(issue 10): `hiu generate` cuts a known number of the ED attendances and emergency admissions of
people 65 and over once their neighbourhood is live and reports how many; the whole pipeline runs
on the drop; `programme_summary` must find that number over the last 12 months where it was cut,
and intervals holding 0 where nothing was."""

from __future__ import annotations


import polars as pl
import pytest

from pipeline.generate import generate_drop
from pipeline.runner import materialize_all
from pipeline.settings import HiuSettings

POPULATION, SEED, EFFECT = 40_000, 4242, 0.3
UNPLANNED = ("ed_attendances", "emergency_admissions")


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[pl.DataFrame, dict]:
    folder = tmp_path_factory.mktemp("programme_effect")
    generated = generate_drop(POPULATION, SEED, folder / "drop", progress=False, programme_effect=EFFECT)
    settings = HiuSettings(extracts_dir=str(folder / "drop"), output_dir=str(folder / "out"),
                           warehouse=str(folder / "w.duckdb"))
    outcome = materialize_all(settings)
    assert outcome.ok, outcome.failures
    summary = pl.read_parquet(folder / "out" / "metrics" / "programme_summary.parquet").filter(
        pl.col("method") == "population_standardised", pl.col("period") == "last_12_months",
        pl.col("measure").is_in(UNPLANNED),
    )
    return summary, generated["programme"]["last_12_months"]


def test_the_cut_is_found_where_it_was_made(run):
    summary, injected = run
    treated = sorted(injected)
    assert len(treated) >= 3
    rows = summary.filter(pl.col("neighbourhood_code").is_in(treated), pl.col("age_group") == "65+")
    for measure in UNPLANNED:
        put = sum(services.get(measure, 0) for services in injected.values())
        found = rows.filter(pl.col("measure") == measure)["avoided"].sum()
        assert put > 100 and abs(found - put) <= 0.35 * put, (measure, found, put)


def test_nothing_is_found_where_nothing_was_done(run):
    summary, injected = run
    untreated = summary.filter(pl.col("go_live_date").is_null(), pl.col("neighbourhood_code") != "ALL")
    assert untreated["neighbourhood_code"].n_unique() >= 1 and not set(untreated["neighbourhood_code"]) & set(injected)
    outside = untreated.filter((pl.col("avoided_lower") > 0) | (pl.col("avoided_upper") < 0))
    assert outside.height == 0, outside.select("neighbourhood_code", "measure", "age_group", "avoided", "avoided_lower",
                                                "avoided_upper")
