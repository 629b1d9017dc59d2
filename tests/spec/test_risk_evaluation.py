"""The rising-risk model's evaluation for the model card (issue 9): AUROC and its fast bootstrap
interval, average precision, Brier, calibration, the top shares and their reach by group. Each
figure is checked against scikit-learn where scikit-learn has it, and the card must be plain JSON."""

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import expit, logit
from sklearn.calibration import calibration_curve
from sklearn.metrics import average_precision_score, precision_score, recall_score, roc_auc_score

from risk.evaluation import (
    _auroc_of_cells,
    _cells,
    _resample,
    _top,
    auprc,
    auroc,
    auroc_interval,
    brier,
    by_group,
    calibration_by_decile,
    calibration_in_the_large,
    evaluate,
    top_k,
    top_share,
)


def drawn(n: int, seed: int = 0, rate: float = -2.0, spread: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """n people, each with a probability and an outcome drawn from it, so the probabilities are
    calibrated and rank people better than chance."""
    rng = np.random.default_rng(seed)
    prob = expit(rate + spread * rng.normal(size=n))
    return (rng.random(n) < prob).astype(int), prob


@st.composite
def tied_cases(draw, weighted: bool = False):
    """Small outcomes, scores from a handful of values (so there are ties), and optional weights,
    with both classes present (and of positive weight)."""
    n = draw(st.integers(2, 40))
    y = np.array(draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)))
    score = np.array(draw(st.lists(st.sampled_from([0.0, 0.25, 0.5, 1.0, 3.0]), min_size=n, max_size=n)))
    weight = None
    if weighted:
        values = st.integers(0, 4) if draw(st.booleans()) else st.floats(0, 5, allow_nan=False)
        weight = np.array(draw(st.lists(values, min_size=n, max_size=n)), dtype=float)
    w = np.ones(n) if weight is None else weight
    if w[y == 1].sum() <= 0 or w[y == 0].sum() <= 0:
        y = np.r_[y, 0, 1]
        score = np.r_[score, 0.5, 0.5]
        weight = None if weight is None else np.r_[weight, 1.0, 1.0]
    return y, score, weight


def plain(value) -> bool:
    """Only Python's own JSON types, all the way down (numpy scalars are not)."""
    if isinstance(value, dict):
        return all(type(k) is str and plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(plain(v) for v in value)
    return type(value) in (int, float, str, bool, type(None))


# --- AUROC ---------------------------------------------------------------------------------------


def test_auroc_of_hand_counted_cases_with_ties_as_half():
    assert auroc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75
    # pairs (positive score, negative score): (1,1) half, (1,2) none, (2,1) one, (2,2) half
    assert auroc([0, 1, 0, 1], [1, 1, 2, 2]) == 0.5
    assert auroc([0, 1], [5, 5]) == 0.5
    assert auroc([1, 0, 1], [3, 2, 1]) == 0.5
    # a weight of 2 counts the person twice
    assert auroc([0, 1, 0], [1, 2, 3], weight=[1, 1, 2]) == auroc([0, 1, 0, 0], [1, 2, 3, 3]) == 1 / 3


@settings(max_examples=120)
@given(tied_cases())
def test_auroc_is_sklearns_with_ties(case):
    y, score, _ = case
    assert auroc(y, score) == pytest.approx(roc_auc_score(y, score), abs=1e-12)


@settings(max_examples=120)
@given(tied_cases(weighted=True))
def test_weighted_auroc_is_sklearns_with_sample_weights(case):
    y, score, weight = case
    assert auroc(y, score, weight) == pytest.approx(roc_auc_score(y, score, sample_weight=weight), abs=1e-9)


@settings(max_examples=100)
@given(tied_cases(), st.data())
def test_an_integer_weight_is_that_many_copies_of_the_person(case, data):
    y, score, _ = case
    counts = np.array(data.draw(st.lists(st.integers(1, 4), min_size=len(y), max_size=len(y))))
    assert auroc(y, score, counts) == pytest.approx(auroc(np.repeat(y, counts), np.repeat(score, counts)), abs=1e-12)


@given(tied_cases())
def test_the_bootstrap_with_every_count_one_reproduces_auroc(case):
    y, score, _ = case
    assert auroc(y, score, weight=np.ones(len(y))) == auroc(y, score)
    cells = _cells(y, score)  # the cell counts of the resample that draws everyone once
    assert cells.sum() == len(y)
    assert _auroc_of_cells(cells) == auroc(y, score)


def test_auroc_is_undefined_with_a_single_class():
    assert auroc([0, 0, 0], [0.1, 0.2, 0.3]) is None
    assert auroc([1, 1], [0.1, 0.2]) is None
    assert auroc([], []) is None
    assert auroc([0, 1], [0.1, 0.2], weight=[1, 0]) is None
    assert auroc_interval([0, 0, 0], [0.1, 0.2, 0.3]) == (None, None)


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError):
        auroc([0, 2], [0.1, 0.2])
    with pytest.raises(ValueError):
        auroc([0, 1], [0.1, float("nan")])
    with pytest.raises(ValueError):
        auroc([0, 1], [0.1])
    with pytest.raises(ValueError):
        auroc([0, 1], [0.1, 0.2], weight=[1, -1])
    with pytest.raises(ValueError):
        brier([0, 1], [0.1, 1.2])


# --- The bootstrap -------------------------------------------------------------------------------


def test_a_resample_is_multinomial_over_the_cells():
    """The Poisson draw made up to exactly n is the ordinary bootstrap: n draws in all, every time
    (whether the Poisson total fell short or overshot), with the multinomial's means, variances
    n p (1 - p) and covariances -n p q (Poisson counts would have variance n p and no covariance)."""
    sizes = np.array([3, 0, 5, 2, 10])
    n, p = sizes.sum(), sizes / sizes.sum()
    rng = np.random.default_rng(1)
    draws = np.array([_resample(rng, sizes, np.cumsum(sizes)) for _ in range(20_000)])
    assert (draws.sum(axis=1) == n).all()
    assert (draws[:, 1] == 0).all()
    assert draws.mean(axis=0) == pytest.approx(n * p, abs=0.05)
    assert draws.var(axis=0) == pytest.approx(n * p * (1 - p), rel=0.05, abs=1e-9)
    assert np.cov(draws[:, 0], draws[:, 4])[0, 1] == pytest.approx(-n * p[0] * p[4], rel=0.1)


def test_the_interval_holds_the_estimate_and_is_the_same_for_a_seed():
    y, prob = drawn(3000)
    point = auroc(y, prob)
    lower, upper = auroc_interval(y, prob, seed=3)
    assert lower < point < upper
    assert auroc_interval(y, prob, seed=3) == (lower, upper)
    assert auroc_interval(y, prob, seed=4) != (lower, upper)
    narrow = auroc_interval(y, prob, level=0.5, seed=3)
    assert lower < narrow[0] < narrow[1] < upper


def test_the_interval_narrows_with_more_people():
    small = auroc_interval(*drawn(1000, seed=1))
    large = auroc_interval(*drawn(20_000, seed=1))
    assert large[1] - large[0] < (small[1] - small[0]) / 2


def test_the_interval_agrees_with_a_bootstrap_that_resamples_people():
    """Against the textbook bootstrap: resample row indices, recompute sklearn's AUROC. The two use
    different random draws, so they agree only to Monte Carlo error."""
    y, prob = drawn(1000, seed=2, rate=-1.0)
    rng = np.random.default_rng(0)
    textbook = []
    for _ in range(500):
        rows = rng.integers(len(y), size=len(y))
        textbook.append(roc_auc_score(y[rows], prob[rows]))
    t_lower, t_upper = np.quantile(textbook, [0.025, 0.975])
    lower, upper = auroc_interval(y, prob, n_boot=500)
    width = t_upper - t_lower
    assert upper - lower == pytest.approx(width, rel=0.15)
    assert abs(lower - t_lower) < 0.2 * width and abs(upper - t_upper) < 0.2 * width


def test_ties_are_resampled_as_ties():
    """A naive ranking (a count) has heavy ties. The interval still holds the estimate."""
    rng = np.random.default_rng(5)
    count = rng.poisson(1.0, size=5000)
    y = (rng.random(5000) < expit(-3 + count)).astype(int)
    lower, upper = auroc_interval(y, count)
    assert lower < auroc(y, count) < upper


# --- Precision, Brier, calibration ---------------------------------------------------------------


def test_auprc_and_brier_are_sklearns():
    y, prob = drawn(500, seed=3)
    assert auprc(y, prob) == pytest.approx(average_precision_score(y, prob))
    assert brier(y, prob) == pytest.approx(np.mean((prob - y) ** 2))
    assert auprc([0, 0], [0.1, 0.2]) is None
    assert brier([0, 0], [0.1, 0.2]) == pytest.approx(0.025)


@pytest.mark.parametrize("n", [1000, 1003, 10, 7])
def test_deciles_add_up_to_the_totals(n):
    y, prob = drawn(n, seed=4)
    rows = calibration_by_decile(y, prob)
    assert [r["decile"] for r in rows] == list(range(1, 11))
    assert sum(r["people"] for r in rows) == n
    assert sum(r["outcomes"] for r in rows) == y.sum()
    assert sum(r["mean_predicted"] * r["people"] for r in rows if r["people"]) == pytest.approx(prob.sum())
    sizes = [r["people"] for r in rows]
    assert max(sizes) - min(sizes) <= 1
    means = [r["mean_predicted"] for r in rows if r["people"]]
    assert means == sorted(means)


def test_deciles_are_sklearns_quantile_bins_when_no_probabilities_tie():
    y, prob = drawn(2000, seed=5)
    assert len(np.unique(prob)) == len(prob)
    observed, predicted = calibration_curve(y, prob, n_bins=10, strategy="quantile")
    rows = calibration_by_decile(y, prob)
    assert [r["observed_rate"] for r in rows] == pytest.approx(observed)
    assert [r["mean_predicted"] for r in rows] == pytest.approx(predicted)


def test_tied_probabilities_are_split_into_deciles_by_input_order():
    rows = calibration_by_decile([1] * 10 + [0] * 90, [0.5] * 100)
    assert [r["outcomes"] for r in rows] == [10] + [0] * 9


def test_calibrated_probabilities_recalibrate_to_slope_one_intercept_zero():
    y, prob = drawn(200_000, seed=6, rate=-1.5)
    fit = calibration_in_the_large(y, prob)
    assert fit["slope"] == pytest.approx(1, abs=0.05)
    assert fit["intercept"] == pytest.approx(0, abs=0.05)
    assert fit["difference"] == pytest.approx(fit["mean_predicted"] - fit["observed_rate"])
    assert abs(fit["difference"]) < 0.005
    overconfident = calibration_in_the_large(y, expit(2 * logit(prob)))
    assert overconfident["slope"] == pytest.approx(0.5, abs=0.05)
    timid = calibration_in_the_large(y, expit(0.5 * logit(prob)))
    assert timid["slope"] == pytest.approx(2, abs=0.1)
    too_high = calibration_in_the_large(y, np.minimum(prob * 1.5, 1))
    assert too_high["difference"] > 0.05


def test_recalibration_is_undefined_for_a_single_class_but_the_rates_are_not():
    fit = calibration_in_the_large([0, 0, 0], [0.1, 0.2, 0.0])
    assert fit["slope"] is None and fit["intercept"] is None
    assert fit["difference"] == pytest.approx(0.1)
    # separated outcomes have no maximum likelihood slope (it runs off to infinity)
    assert calibration_in_the_large([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])["slope"] is None
    assert calibration_in_the_large([1, 0, 1, 0], [0.1, 0.2, 0.2, 0.9])["slope"] is None
    # probabilities of exactly 0 and 1 are clipped before the logit, not infinite
    assert calibration_in_the_large([0, 1, 0, 1, 1], [0.0, 1.0, 0.3, 0.6, 0.2])["slope"] is not None


# --- Top shares and groups -----------------------------------------------------------------------


def test_how_many_a_share_selects():
    assert top_k(1_000_000, 0.05) == 50_000
    assert top_k(1000, 0.01) == 10
    assert top_k(250, 0.01) == 3  # 2.5 rounds up
    assert top_k(249, 0.01) == 2
    assert top_k(10, 0.01) == 1  # never nobody
    assert top_k(5, 1.0) == 5
    assert top_k(0, 0.05) == 0
    with pytest.raises(ValueError):
        top_k(100, 0)


def test_top_share_of_a_hand_counted_case():
    y = [1, 0, 1, 0, 0, 0, 0, 0, 0, 1]
    score = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05]
    assert top_share(y, score, 0.2) == {
        "share": 0.2,
        "selected": 2,
        "captured": 1,
        "ppv": 0.5,
        "sensitivity": 1 / 3,
        "threshold": 0.8,
    }
    assert top_share(y, score, 0.01)["selected"] == 1  # k would round to 0
    assert top_share([0] * 10, score, 0.2)["sensitivity"] is None


def test_ties_at_the_cut_go_to_the_tiebreak_then_the_earlier_row():
    score = [1.0, 2.0, 2.0, 2.0, 0.5]
    assert _top(np.array(score), 2).tolist() == [False, True, True, False, False]
    assert _top(np.array(score), 2, np.array([0, 9, 5, 1, 0])).tolist() == [False, False, True, True, False]
    assert top_share([0, 0, 0, 1, 0], score, 0.4, tiebreak=[0, 9, 5, 1, 0])["captured"] == 1
    assert top_share([0, 0, 0, 1, 0], score, 0.4)["captured"] == 0


@settings(max_examples=120)
@given(tied_cases(), st.sampled_from([0.01, 0.02, 0.05, 0.2, 0.5]))
def test_top_share_is_sklearns_precision_and_recall_of_the_selection(case, share):
    y, score, _ = case
    k = top_k(len(y), share)
    selected = np.zeros(len(y), dtype=bool)
    selected[np.lexsort((np.arange(len(y)), -score))[:k]] = True  # highest score, then earliest row
    assert _top(score, k).tolist() == selected.tolist()
    figures = top_share(y, score, share)
    assert figures["selected"] == k == selected.sum()
    assert figures["captured"] == y[selected].sum()
    assert figures["ppv"] == pytest.approx(precision_score(y, selected))
    assert figures["sensitivity"] == pytest.approx(recall_score(y, selected))


def test_capture_by_group_adds_up_to_the_overall_capture():
    y, prob = drawn(5000, seed=7)
    groups = np.random.default_rng(7).choice(["a", "b", "c", "d"], size=5000)
    rows = by_group(y, prob, groups, shares=(0.02, 0.05))
    assert [r["group"] for r in rows] == ["a", "b", "c", "d"]
    assert sum(r["people"] for r in rows) == 5000 and sum(r["outcomes"] for r in rows) == y.sum()
    for i, share in enumerate((0.02, 0.05)):
        overall = top_share(y, prob, share)
        assert sum(r["top_shares"][i]["selected"] for r in rows) == overall["selected"]
        weighted = sum(r["top_shares"][i]["capture"] * r["outcomes"] for r in rows) / y.sum()
        assert weighted == pytest.approx(overall["sensitivity"])
    for r in rows:
        members = groups == r["group"]
        assert r["auroc"] == pytest.approx(roc_auc_score(y[members], prob[members]))
        assert r["mean_predicted"] == pytest.approx(prob[members].mean())
        assert r["observed_rate"] == pytest.approx(y[members].mean())


def test_a_model_that_misses_one_groups_outcomes_shows_it():
    """Group b's outcomes are scored like the people without one: the model ranks well overall,
    but b's outcomes reach the top 5% only by chance (a's fill half of it)."""
    rng = np.random.default_rng(8)
    groups = np.repeat(["a", "b"], 2000)
    y = (rng.random(4000) < 0.05).astype(int)
    prob = np.where((y == 1) & (groups == "a"), rng.uniform(0.5, 0.9, 4000), rng.uniform(0.0, 0.2, 4000))
    a, b = by_group(y, prob, groups)
    assert a["top_shares"][0]["capture"] > 0.9
    assert b["top_shares"][0]["capture"] < 0.1
    assert b["auroc"] == pytest.approx(0.5, abs=0.1)


def test_single_class_groups_and_a_naive_ranking():
    y = [1, 0, 0, 0, 1, 1]
    score = [5, 1, 2, 3, 4, 4]
    rows = by_group(y, score, [1, 1, 2, 2, 3, 3], is_probability=False)
    assert [r["group"] for r in rows] == [1, 2, 3]
    assert rows[0]["auroc"] == 1.0
    assert rows[1]["auroc"] is None and rows[1]["top_shares"][0]["capture"] is None  # no outcomes
    assert rows[2]["auroc"] is None and rows[2]["outcomes"] == 2  # everyone has the outcome
    assert all("mean_predicted" not in r for r in rows)
    assert plain(rows)


# --- The card ------------------------------------------------------------------------------------


def test_the_card_of_a_model_is_plain_json():
    y, prob = drawn(3000, seed=9)
    groups = np.random.default_rng(9).integers(1, 11, size=3000)  # numpy ints as labels
    card = evaluate(y, prob, groups=groups)
    assert plain(card)
    json.dumps(card, allow_nan=False)
    assert card["people"] == 3000 and card["outcomes"] == y.sum()
    assert card["auroc"] == auroc(y, prob)
    assert (card["auroc_lower"], card["auroc_upper"]) == auroc_interval(y, prob)
    assert card["auprc"] == auprc(y, prob) and card["brier"] == brier(y, prob)
    assert [t["share"] for t in card["top_shares"]] == [0.01, 0.02, 0.05]
    assert card["calibration"]["deciles"] == calibration_by_decile(y, prob)
    assert len(card["by_group"]) == 10


def test_the_card_of_a_naive_ranking_has_the_ranking_figures_only():
    y, prob = drawn(2000, seed=10)
    count = np.round(prob * 20).astype(np.int64)  # last year's activity, say: a count, not a probability
    card = evaluate(y, count, is_probability=False, groups=np.where(count > 3, "high", "low"))
    assert "brier" not in card and "calibration" not in card
    assert card["auroc"] == auroc(y, count) and card["auroc_lower"] < card["auroc"] < card["auroc_upper"]
    assert plain(card)
    json.dumps(card, allow_nan=False)
    with pytest.raises(ValueError):
        evaluate(y, count)  # counts are not probabilities


def test_the_card_when_nobody_has_the_outcome():
    card = evaluate(np.zeros(100, dtype=int), np.linspace(0, 0.5, 100), groups=["x"] * 100)
    assert card["auroc"] is None and card["auroc_lower"] is None and card["auroc_upper"] is None
    assert card["auprc"] is None
    assert card["calibration"]["in_the_large"]["slope"] is None
    assert all(t["sensitivity"] is None and t["ppv"] == 0 for t in card["top_shares"])
    assert card["top_shares"][0]["selected"] == 1
    json.dumps(card, allow_nan=False)
    assert math.isclose(card["brier"], float(np.mean(np.linspace(0, 0.5, 100) ** 2)))
