"""Rising risk end to end: on a drop the model has never seen, with the following year kept back,
its ranking beats the obvious one; every neighbourhood gets a list with readable factors; with too
little history the run still succeeds and says why there are no scores."""

import datetime as dt
import json
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest

from cohorts.events import person_counts_sql
from pipeline.generate import generate_drop
from pipeline.runner import materialize_all
from pipeline.settings import HiuSettings
from risk.evaluation import top_share
from risk.model import load_sample, predict
from risk.steps import stored_model

AS_OF = dt.date(2024, 3, 31)  # three years of data before it; the year after it is kept back
KEPT_BACK = (dt.date(2024, 4, 1), dt.date(2025, 3, 31))


def run(folder: Path, drop: Path, as_of: dt.date | None = None, warnings: list | None = None) -> Path:
    settings = HiuSettings(
        extracts_dir=str(drop), output_dir=str(folder / "out"), warehouse=str(folder / "w.duckdb"),
        as_of=as_of.isoformat() if as_of else None,
    )
    outcome = materialize_all(settings)
    assert outcome.ok, outcome.failures
    if warnings is not None:
        warnings.extend(outcome.warnings)
    return folder


@pytest.fixture(scope="module")
def unseen(tmp_path_factory):
    """A drop of four years from a seed the project never tuned on; the pipeline sees three."""
    folder = tmp_path_factory.mktemp("rising_risk")
    generate_drop(population=30_000, seed=987, out=folder / "drop", months=48, progress=False)
    return run(folder, folder / "drop", AS_OF)


def test_the_ranking_beats_current_activity_on_the_year_it_never_saw(unseen):
    conn = duckdb.connect(str(unseen / "w.duckdb"), read_only=True)
    rows = conn.execute(
        f"""
        SELECT s.rising_risk_score,
               i.gp_appointments_12m + 10 * i.ed_attendances_12m + 25 * i.emergency_admissions_12m AS naive,
               coalesce(o.gp_appointments >= 20 OR o.ed_attendances >= 5 OR o.emergency_admissions >= 3, false) AS became
        FROM person_intensity i JOIN rising_risk_scores s USING (person_id)
        LEFT JOIN ({person_counts_sql('person_events', *KEPT_BACK)}) o USING (person_id)
        WHERE i.high_intensity_services = 0
        """
    ).fetchnumpy()
    became = np.asarray(rows["became"], dtype=int)
    assert became.sum() > 200  # enough new high intensity users for the comparison to mean something
    model = top_share(became, np.asarray(rows["rising_risk_score"]), 0.05)["sensitivity"]
    naive = top_share(became, np.asarray(rows["naive"], dtype=float), 0.05)["sensitivity"]
    assert model - naive >= 0.04, (model, naive)


def test_the_card_shows_discrimination_calibration_fairness_and_the_naive_comparison(unseen):
    card = json.loads((unseen / "out" / "metrics" / "rising_risk_model.json").read_text())
    assert card["trained"] and card["design"]["validation"] == "hold-out of whole practices"
    model = card["model"]
    assert model["auroc_lower"] <= model["auroc"] <= model["auroc_upper"] and model["auroc"] > card["naive"]["auroc"]
    assert len(model["calibration"]["deciles"]) == 10
    assert sum(d["people"] for d in model["calibration"]["deciles"]) == model["people"]
    assert set(card["fairness"]) == {"age_band", "sex", "imd_quintile"}
    assert card["comparison"]["top_5pct"]["difference_points"] >= 4
    markdown = (unseen / "out" / "metrics" / "rising_risk_model.md").read_text()
    for words in ("AUROC", "Calibration", "Fairness", "Ranking by current activity", "Intended use", "Limits"):
        assert words in markdown
    assert (unseen / "out" / "metrics" / "rising_risk_calibration.svg").read_text().startswith("<?xml")


def test_every_neighbourhood_has_its_list_with_readable_factors(unseen):
    out = unseen / "out"
    conn = duckdb.connect(str(unseen / "w.duckdb"), read_only=True)
    eligible = dict(conn.execute(
        "SELECT neighbourhood_code, count(*) FROM person_intensity WHERE high_intensity_services = 0 GROUP BY 1"
    ).fetchall())
    for code, people in eligible.items():
        frame = pl.read_parquet(out / "neighbourhoods" / code / "rising_risk_cohort.parquet")
        assert frame.height == max(1, int(np.floor(people * 0.02 + 0.5)))
        assert frame["risk_rank"].to_list() == list(range(1, frame.height + 1))
        assert frame["rising_risk_score"].is_sorted(descending=True)
        assert (frame["top_factors"].str.len_chars() > 0).mean() > 0.95
        assert frame["as_of_date"].unique().to_list() == [AS_OF]
        assert (out / "neighbourhoods" / code / "rising_risk_cohort.xlsx").is_file()
    factors = pl.concat(pl.read_parquet(p) for p in out.glob("neighbourhoods/*/rising_risk_cohort.parquet"))["top_factors"]
    assert factors.str.contains("GP appointments").any() and not factors.str.contains("None|null|nan").any()
    hiu = pl.concat(pl.read_parquet(p) for p in out.glob("neighbourhoods/*/hiu_cohort.parquet"))
    assert hiu["rising_risk_score"].null_count() == 0 and hiu["rising_risk_score"].is_between(0, 1).all()


def test_the_stored_model_reproduces_the_runs_scores(unseen):
    conn = duckdb.connect(str(unseen / "w.duckdb"), read_only=True)
    (sha,) = conn.execute("SELECT DISTINCT model_sha256 FROM rising_risk_scores").fetchone()
    model, features, found = stored_model(conn, sha)  # from the history, by the scores' model
    assert found == sha and model is not None
    scoring = load_sample(conn, "risk_features", "scoring", features)
    stored = dict(conn.execute("SELECT person_id, rising_risk_score FROM rising_risk_scores").fetchall())
    np.testing.assert_allclose(predict(model, scoring.X), [stored[p] for p in scoring.person_id], rtol=0, atol=1e-12)


def test_with_four_years_the_model_is_validated_on_a_later_window(tmp_path):
    # The design follows the months of history, not the number of people: a small drop says so.
    generate_drop(population=3_000, seed=5, out=tmp_path / "drop", months=48, progress=False)
    run(tmp_path, tmp_path / "drop")  # default as-of: the end of the drop, 48 months in
    card = json.loads((tmp_path / "out" / "metrics" / "rising_risk_model.json").read_text())
    assert card["design"]["validation"] == "later time window"
    assert card["design"]["feature_dates"]["earlier"] == "2023-03-31"


def test_under_24_months_the_run_succeeds_without_scores_and_says_why(tmp_path):
    generate_drop(population=3_000, seed=5, out=tmp_path / "drop", months=20, progress=False)
    warnings: list[str] = []
    run(tmp_path, tmp_path / "drop", warnings=warnings)
    assert any("rising_risk_model_trained" in w and "24 months" in w for w in warnings), warnings
    out = tmp_path / "out"
    card = json.loads((out / "metrics" / "rising_risk_model.json").read_text())
    assert card["trained"] is False and "24 months" in card["why_not"]
    assert "No model was trained" in (out / "metrics" / "rising_risk_model.md").read_text()
    hiu = pl.concat(pl.read_parquet(p) for p in out.glob("neighbourhoods/*/hiu_cohort.parquet"))
    assert hiu.height and hiu["rising_risk_score"].null_count() == hiu.height
    lists = list(out.glob("neighbourhoods/*/rising_risk_cohort.parquet"))
    assert lists and all(pl.read_parquet(p).height == 0 for p in lists)
