"""The rising-risk design, model, explanations and words, on tiny tables and small arrays."""

import datetime as dt
from functools import lru_cache

import duckdb
import numpy as np
import pytest
import skops.io as sio
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from cohorts.hiu import Thresholds
from risk import model as risk_model
from risk.explain import FACTORS, contributions, top_factors
from risk.features import FEATURES, Supplied
from risk.model import Sample, candidates, dump_model, fit_calibrated, load_model, predict, scores_and_order, validate
from risk.samples import LATER_WINDOW, PRACTICE_HOLD_OUT, build_risk_samples, plan_design
from risk.words import top_factors_sql
from tests.spec.test_risk_features import ALL, connection, gp

AS_OF = dt.date(2025, 3, 31)
EVERYTHING = Supplied()


# --- what the data allow ------------------------------------------------------------------------


def test_under_24_months_of_data_gives_no_model_and_says_why():
    design = plan_design(AS_OF, dt.date(2023, 4, 2), EVERYTHING)
    assert design.validation is None and design.features == () and design.dates == {}
    assert "24 months" in design.reason and "2023-04-01" in design.reason


def test_24_months_train_on_the_latest_year_without_the_features_that_need_two():
    design = plan_design(AS_OF, dt.date(2023, 4, 1), EVERYTHING)
    assert design.validation == PRACTICE_HOLD_OUT
    assert set(design.dates) == {"scoring", "training"} and design.dates["training"] == dt.date(2024, 3, 31)
    left_out = {f.name for f in FEATURES if f.history_months > 12}
    assert set(design.left_out) == left_out and "gp_appointments_prior_12m" in left_out
    assert "gp_appointments_12m" in design.features and "hfrs_score" not in design.features


def test_36_months_use_every_feature_with_a_practice_hold_out():
    design = plan_design(AS_OF, dt.date(2022, 4, 1), EVERYTHING)
    assert design.validation == PRACTICE_HOLD_OUT and design.features == tuple(f.name for f in FEATURES)


def test_48_months_validate_on_a_later_time_window():
    design = plan_design(AS_OF, dt.date(2021, 4, 1), EVERYTHING)
    assert design.validation == LATER_WINDOW
    assert design.dates == {"scoring": AS_OF, "training": dt.date(2024, 3, 31), "earlier": dt.date(2023, 3, 31)}
    assert design.outcome_window("training") == (dt.date(2024, 4, 1), AS_OF)
    assert design.outcome_window("earlier") == (dt.date(2023, 4, 1), dt.date(2024, 3, 31))
    assert design.outcome_window("scoring") is None


def test_a_missing_optional_extract_leaves_its_features_out():
    design = plan_design(AS_OF, dt.date(2021, 4, 1), Supplied(social_care=False))
    assert {f for f in design.left_out} == {f.name for f in FEATURES if f.needs == "social_care"}
    assert "not supplied" in design.left_out["social_care_requests_12m"]


def test_feb_29_as_of_dates_chain_back_sensibly():
    design = plan_design(dt.date(2024, 2, 29), dt.date(2020, 1, 1), EVERYTHING)
    assert design.dates["training"] == dt.date(2023, 2, 28)
    assert design.outcome_window("training") == (dt.date(2023, 3, 1), dt.date(2024, 2, 29))


# --- samples: outcome and who is in the target population ---------------------------------------


def test_samples_label_the_year_after_each_feature_date():
    def many(person, start, n):
        return [gp(person, (dt.date.fromisoformat(start) + dt.timedelta(days=k)).isoformat()) for k in range(n)]

    # a: becomes a GP high intensity user in the year to the as-of date; b: already one a year earlier;
    # c: never. Thresholds GP 5.
    events = many("a", "2024-06-01", 6) + many("b", "2023-06-01", 6) + many("b", "2024-06-01", 2) + [gp("c", "2024-05-01")]
    conn = connection(events, people=("a", "b", "c"))
    design = plan_design(AS_OF, dt.date(2022, 4, 1), EVERYTHING)
    build_risk_samples(conn, design, Thresholds(gp=5), ALL)
    rows = {(r[0], r[1]): r[2:] for r in conn.execute("SELECT role, person_id, hiu_now, outcome FROM risk_features").fetchall()}
    assert rows[("training", "a")] == (False, True)
    assert rows[("training", "b")] == (True, False)
    assert rows[("training", "c")] == (False, False)
    assert rows[("scoring", "b")] == (False, None) and rows[("scoring", "a")] == (True, None)


# --- the model ------------------------------------------------------------------------------------


def synthetic(n=4000, seed=0, practices=8) -> Sample:
    """Outcomes driven by the first two features; the third is noise; some values missing."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    X[rng.random(n) < 0.1, 2] = np.nan
    y = (rng.random(n) < 1 / (1 + np.exp(-(1.5 * X[:, 0] + X[:, 1] - 3)))).astype(np.int64)
    ids = np.array([f"p{i:05d}" for i in range(n)], dtype=object)
    return Sample(X, y, ids, np.array([f"P{i % practices}" for i in range(n)], dtype=object), np.zeros(n, bool),
                  X[:, 0], {"sex": np.where(np.arange(n) % 2, "F", "M").astype(object)})


@pytest.mark.parametrize("name", ["gradient_boosting", "logistic_regression"])
def test_a_fit_is_deterministic_for_a_seed_and_reloads_to_the_same_scores(name):
    sample = synthetic()
    first = fit_calibrated(candidates(7)[name], sample, 7)
    again = fit_calibrated(candidates(7)[name], sample, 7)
    np.testing.assert_array_equal(predict(first, sample.X), predict(again, sample.X))
    probability, order = scores_and_order(first, sample.X)
    np.testing.assert_allclose(probability, predict(first, sample.X), rtol=0, atol=1e-12)
    assert np.all(np.diff(probability[np.argsort(order)]) >= -1e-12)  # the order never contradicts the score
    blob, sha = dump_model(first)
    assert len(sha) == 64
    np.testing.assert_array_equal(predict(load_model(blob), sample.X), predict(first, sample.X))
    # in chunks on two threads, the same numbers in the same order as in one piece
    np.testing.assert_array_equal(predict(first, sample.X, chunk=37), first.predict_proba(sample.X)[:, 1])
    np.testing.assert_array_equal(scores_and_order(first, sample.X, chunk=37)[1], order)


def test_with_more_people_than_a_base_model_learns_from_it_is_calibrated_on_other_practices(monkeypatch):
    """Past MAX_FIT_ROWS: one base model fitted on two folds of practices, calibrated on the third."""
    monkeypatch.setattr(risk_model, "MAX_FIT_ROWS", 1000)
    monkeypatch.setattr(risk_model, "CALIBRATED_FIT_ROWS", 1500)
    sample = synthetic(n=4000, practices=12)
    model = fit_calibrated(candidates(7)["logistic_regression"], sample, 7)
    (calibrated,) = model.calibrated_classifiers_
    learned_from = calibrated.estimator.named_steps["scale"].n_samples_seen_
    assert 800 <= learned_from <= 1200  # about two thirds of the 1,500 sampled, never all of them
    probability, order = scores_and_order(model, sample.X)
    np.testing.assert_allclose(probability, predict(model, sample.X), rtol=0, atol=1e-12)
    again = fit_calibrated(candidates(7)["logistic_regression"], sample, 7)
    np.testing.assert_array_equal(predict(again, sample.X), probability)
    # Up to MAX_FIT_ROWS everyone teaches the base model (cross-fitted calibration).
    small = synthetic(n=900, practices=12)
    crossed = fit_calibrated(candidates(7)["logistic_regression"], small, 7)
    assert crossed.calibrated_classifiers_[0].estimator.named_steps["scale"].n_samples_seen_ == 900


def test_a_saved_model_with_an_untrusted_type_is_refused():
    def custom(x):
        return x

    blob = sio.dumps(make_pipeline(FunctionTransformer(custom)))
    with pytest.raises(ValueError, match="not trusted"):
        load_model(blob)


def test_validation_holds_out_whole_practices_and_picks_by_average_precision():
    sample = synthetic(practices=10)
    design = plan_design(AS_OF, dt.date(2022, 4, 1), EVERYTHING)
    result = validate(design, {"training": sample}, seed=3)
    fitted_practices = set(sample.practice) - set(result.held_out.practice)
    assert fitted_practices and set(result.held_out.practice) and not fitted_practices & set(result.held_out.practice)
    assert result.chosen == max(result.auprc, key=result.auprc.get)
    assert set(result.predictions) == set(candidates(0))
    assert all(len(p) == len(result.held_out.y) for p in result.predictions.values())


def test_validation_on_a_later_window_fits_on_the_earlier_year():
    earlier, training = synthetic(seed=1), synthetic(seed=2)
    design = plan_design(AS_OF, dt.date(2021, 4, 1), EVERYTHING)
    result = validate(design, {"earlier": earlier, "training": training}, seed=3)
    assert len(result.held_out.y) == len(training.y)  # all of the later year's target population
    assert "2023-03-31" in result.fitted_on and "2024-03-31" in result.tested_on


# --- explanations ---------------------------------------------------------------------------------


FEATURE_NAMES = ("ed_attendances_6m", "gp_appointments_12m", "age")


@lru_cache(maxsize=None)
def fitted(name: str):
    """One fit per candidate on `synthetic()`, shared by the explanation tests (fits are slow)."""
    return fit_calibrated(candidates(0)[name], synthetic(), 0)


@pytest.mark.parametrize("name", ["gradient_boosting", "logistic_regression"])
def test_contributions_add_up_to_the_base_models_log_odds(name):
    sample, model = synthetic(), fitted(name)
    base = model.calibrated_classifiers_[0].estimator
    terms = contributions(model, sample.X[:200])
    log_odds = base.decision_function(sample.X[:200])
    offset = log_odds - terms.sum(axis=1)
    # every person's terms sum to their log-odds less one constant (the baseline)
    np.testing.assert_allclose(offset, offset[0], atol=1e-6)


@pytest.mark.parametrize("name", ["gradient_boosting", "logistic_regression"])
def test_top_factors_name_only_real_positive_contributions_largest_first(name):
    sample, model = synthetic(), fitted(name)
    sample.X[:50, 0] = 0  # nothing recorded: never named
    X = sample.X[:300]
    chosen = top_factors(model, X, FEATURE_NAMES)
    terms = contributions(model, X)
    factor = [FACTORS.index(f) for f in ("ed_attendances", "gp_appointments", "age")]
    for person, picks in enumerate(chosen):
        named = [p for p in picks if p >= 0]
        assert picks.tolist() == named + [-1] * (3 - len(named))
        values = [terms[person, factor.index(p)] for p in named]
        assert all(v > 0 for v in values) and values == sorted(values, reverse=True)
        for column, p in enumerate(factor):
            recorded = not np.isnan(X[person, column]) and (X[person, column] != 0 or column == 2)
            assert (p in named) == (recorded and terms[person, column] > 0)
    assert (chosen >= 0).any() and not (chosen[:50] == factor[0]).any()


def test_a_factor_sums_the_features_of_one_thing():
    sample, model = synthetic(), fitted("logistic_regression")
    names = ("gp_appointments_3m", "gp_appointments_12m", "age")
    terms = contributions(model, sample.X[:100])
    chosen = top_factors(model, sample.X[:100], names)
    gp, age = FACTORS.index("gp_appointments"), FACTORS.index("age")
    for person, picks in enumerate(chosen):
        gp_total, age_term = terms[person, 0] + terms[person, 1], terms[person, 2]
        age_known = not np.isnan(sample.X[person, 2])
        expected = sorted([(v, f) for v, f, known in ((gp_total, gp, True), (age_term, age, age_known)) if v > 0 and known], reverse=True)
        assert [p for p in picks if p >= 0] == [f for _, f in expected]


def test_words_carry_the_persons_numbers():
    conn = duckdb.connect()
    conn.execute(
        "CREATE TABLE f AS SELECT 'a' AS person_id, 5 AS ed_attendances_12m, 4 AS ed_attendances_6m, "
        "0 AS ed_attendances_prior_12m, 10 AS gp_appointments_12m, 2 AS gp_appointments_6m, 12 AS gp_appointments_prior_12m, "
        "10 AS efi_deficits, 'moderate' AS efi_category, 0.25 AS gp_dna_rate_12m, 2 AS social_care_requests_12m, "
        "0 AS social_care_services_12m, 1 AS social_care_unplanned_reviews_12m, 84 AS age, 1.0 AS female, 2 AS imd_decile, "
        "6.4 AS hfrs_score, 0 AS emergency_admissions_12m, 0 AS emergency_admissions_6m, 0 AS emergency_admissions_prior_12m, "
        "1 AS ambulance_arrivals_12m, 0 AS short_stay_admissions_12m, 3 AS emergency_bed_days_12m, "
        "0 AS ambulance_arrivals_prior_12m, 0 AS short_stay_admissions_prior_12m, 3 AS emergency_bed_days_prior_12m"
    )
    picks = [FACTORS.index(f) for f in ("ed_attendances", "efi_deficits", "social_care")]
    conn.execute(f"CREATE TABLE c AS SELECT 'a' AS person_id, {picks[0]} AS factor_1, {picks[1]} AS factor_2, {picks[2]} AS factor_3")
    features = tuple(f.name for f in FEATURES)
    (words,) = conn.execute(f"SELECT top_factors FROM ({top_factors_sql('f', 'c', features)})").fetchone()
    assert words.split("; ") == [
        "ED attendances rising: 1 to 4 in 6 months",  # 5 in 12 months, 4 of them in the last 6
        "Moderate frailty (10 eFI deficits)",
        "Social care in 12 months: 2 requests, 1 unplanned review",
    ]
    conn.execute(f"UPDATE c SET factor_1 = {FACTORS.index('gp_appointments')}, factor_2 = {FACTORS.index('hfrs_score')}, factor_3 = -1")
    (words,) = conn.execute(f"SELECT top_factors FROM ({top_factors_sql('f', 'c', features)})").fetchone()
    # 12 the year before, 10 in the last 12 months (2 in the last 6): the earlier year is named
    assert words == "GP appointments: 12 in the year before, 10 in the last 12 months; Hospital Frailty Risk Score 6.4 (intermediate)"
    conn.execute("UPDATE f SET gp_appointments_prior_12m = 4")
    (words,) = conn.execute(f"SELECT top_factors FROM ({top_factors_sql('f', 'c', features)})").fetchone()
    assert words.startswith("GP appointments rising: 4 to 10 a year;")
    conn.execute(f"UPDATE c SET factor_1 = {FACTORS.index('emergency_bed_days')}, factor_2 = -1")
    (words,) = conn.execute(f"SELECT top_factors FROM ({top_factors_sql('f', 'c', features)})").fetchone()
    assert words == "Emergency bed days: 3 in 12 months"
    conn.execute(f"UPDATE c SET factor_1 = {FACTORS.index('gp_dna_rate_12m')}, factor_2 = {FACTORS.index('imd_decile')}")
    (words,) = conn.execute(f"SELECT top_factors FROM ({top_factors_sql('f', 'c', features)})").fetchone()
    assert words == "Missed 25% of GP appointments in 12 months; Lives in IMD decile 2 (1 is the most deprived)"


def test_one_practice_without_a_later_window_gives_no_model_and_says_why():
    from risk.steps import model_settings, train

    conn = connection([gp("a", "2024-06-01")], people=("a", "b"))  # everyone at practice P1
    design = plan_design(AS_OF, dt.date(2022, 4, 1), EVERYTHING)
    build_risk_samples(conn, design, Thresholds(), ALL)
    trained = train(conn, design, model_settings(AS_OF, Thresholds(), 0.02))
    assert trained.blob is None and not trained.card["trained"] and "one practice" in trained.card["why_not"]


def _lists_connection(listed: list[tuple[str, int]]):
    """Scores a 0.5, b and c 0.4, x, y, z 0.1 in one neighbourhood of six: the top third is two people."""
    conn = duckdb.connect()
    people = {"a": 0.5, "b": 0.4, "c": 0.4, "x": 0.1, "y": 0.1, "z": 0.1}
    conn.execute("CREATE TABLE person_intensity (person_id VARCHAR, neighbourhood_code VARCHAR, high_intensity_services INT)")
    conn.execute("CREATE TABLE rising_risk_scores (person_id VARCHAR, rising_risk_score DOUBLE, risk_order DOUBLE)")
    conn.execute("CREATE TABLE rising_risk_cohort (person_id VARCHAR, neighbourhood_code VARCHAR, rising_risk_score DOUBLE, risk_rank INT, top_factors VARCHAR)")
    for person, score in people.items():
        conn.execute("INSERT INTO person_intensity VALUES (?, 'n1', 0)", [person])
        conn.execute("INSERT INTO rising_risk_scores VALUES (?, ?, ?)", [person, score, 2.0 if person == "c" else 1.0])
    for person, rank in listed:
        conn.execute("INSERT INTO rising_risk_cohort VALUES (?, 'n1', ?, ?, 'Age 50')", [person, people[person], rank])
    return conn


@pytest.mark.parametrize("listed, problem", [
    ([("a", 1), ("b", 2)], None),
    ([("b", 1), ("c", 2)], "1 people left off who score above the lowest listed"),
    ([("a", 1)], "1 listed, the top share is 2"),
    ([("a", 1), ("b", 3)], "ranks are not 1 to 2"),
])
def test_the_list_audit_recounts_the_top_share(listed, problem):
    from risk.cohort import audit_lists, select_rising_risk

    problems, _ = audit_lists(_lists_connection(listed), 1 / 3)
    assert problems == ([] if problem is None else [f"n1: {problem}"])
    conn = _lists_connection([])
    select_rising_risk(conn, 1 / 3)
    # b and c tie at 0.4; c's base model log-odds are higher, so c is listed
    assert sorted(conn.execute("SELECT person_id, risk_rank FROM rising_risk_selected").fetchall()) == [("a", 1), ("c", 2)]


def test_too_few_outcomes_give_no_model_and_say_why():
    from risk.model import TooFewOutcomes
    from risk.steps import model_settings, train

    sample = synthetic()
    sample.y[:] = 0
    with pytest.raises(TooFewOutcomes):
        fit_calibrated(candidates(0)["gradient_boosting"], sample, 0)
    conn = connection([gp("a", "2024-06-01")], people=("a", "b", "c"))
    conn.execute("INSERT INTO stg_practices SELECT 'P2', 'Other', 'C1', 'PCN', 'north', 'North'")
    conn.execute("UPDATE stg_population SET practice_code = 'P2' WHERE person_id = 'b'")
    design = plan_design(AS_OF, dt.date(2022, 4, 1), EVERYTHING)
    build_risk_samples(conn, design, Thresholds(), ALL)
    trained = train(conn, design, model_settings(AS_OF, Thresholds(), 0.02))
    assert trained.blob is None and "too few outcomes" in trained.card["why_not"]


def test_words_are_valid_sql_whatever_features_the_model_has():
    conn = duckdb.connect()
    columns = ", ".join(f"1 AS {f.name}" for f in FEATURES if f.name not in ("efi_deficits",))
    conn.execute(f"CREATE TABLE f AS SELECT 'a' AS person_id, {columns}, 3 AS efi_deficits, 'fit' AS efi_category")
    conn.execute("CREATE TABLE c AS SELECT 'a' AS person_id, 0 AS factor_1, 1 AS factor_2, 2 AS factor_3")
    for features in ((), tuple(f.name for f in FEATURES if f.history_months <= 12), tuple(f.name for f in FEATURES)):
        conn.execute(f"SELECT * FROM ({top_factors_sql('f', 'c', features)})").fetchall()
