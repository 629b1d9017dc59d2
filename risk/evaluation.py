"""Evaluation of the rising-risk model for its model card: how well it ranks people, how well its
probabilities are calibrated, and whom a list made from it would reach.

The validation set is everyone with a known outcome, up to a million people, and the card has to be
quick to remake. AUROC is the one figure with a bootstrap interval, so it is the one figure written
here by hand: the scores are sorted once into "cells" (for each distinct score held by someone with
the outcome, the negatives below it and above the previous one, the negatives tied with it, and the
positives at it), AUROC is a cumulative sum over the cells, and each bootstrap replicate is the same
sum over resampled cell counts. That means no sort per replicate, and the work grows with the number
of people with the outcome, not with everyone. Everything else comes from scikit-learn or scipy.

A naive ranking (last year's activity, say) is a score but not a probability. It gets the ranking
figures only (AUROC, average precision, the top shares). Brier and calibration need a probability.
A figure that is undefined, such as AUROC when nobody has the outcome, is None rather than a crash
or a NaN, so `evaluate` returns a dict that `json.dumps` can write as it is."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import optimize, special
from sklearn.metrics import average_precision_score, brier_score_loss

SHARES = (0.01, 0.02, 0.05)  # the top shares of the population the card reports
GROUP_SHARES = (0.05,)  # the overall top shares whose reach is counted per group
N_BOOT = 200
LEVEL = 0.95
DECILES = 10
# probabilities are clipped this far from 0 and 1 before the logit in the recalibration fit
LOGIT_CLIP = 1e-12


def _outcomes(y) -> np.ndarray:
    """`y` as a 1-D int8 array of 0s and 1s. Anything else is an error."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"outcomes must be one-dimensional, not of shape {y.shape}")
    if not ((y == 0) | (y == 1)).all():
        raise ValueError("outcomes must be 0 or 1")
    return y.astype(np.int8)


def _scores(score, n: int) -> np.ndarray:
    """`score` as a float array, one finite value per person."""
    score = np.asarray(score, dtype=float)
    if score.shape != (n,):
        raise ValueError(f"expected {n} scores, one per outcome, not an array of shape {score.shape}")
    if not np.isfinite(score).all():
        raise ValueError("scores must be finite")
    return score


def _probabilities(prob, n: int) -> np.ndarray:
    """`prob` as a float array of probabilities, one per person."""
    prob = _scores(prob, n)
    if n and (prob.min() < 0 or prob.max() > 1):
        raise ValueError("probabilities must be between 0 and 1")
    return prob


def _rate(part: float, whole: float) -> float | None:
    return float(part / whole) if whole else None


# --- AUROC ---------------------------------------------------------------------------------------


def _cells(y: np.ndarray, score: np.ndarray, weight: np.ndarray | None = None) -> np.ndarray:
    """The totals AUROC depends on, from one sort of the scores. For each distinct score with a
    positive, in ascending order, there are three cells: the negatives scored below it (and above
    the previous such score), the negatives tied with it, and the positives at it. One last cell holds
    the negatives above the highest. The cells hold counts (int64) without `weight`, and weighted
    totals with it."""
    order = np.argsort(score, kind="stable")
    ranked, outcome = score[order], y[order]
    new = np.ones(len(ranked), dtype=bool)
    new[1:] = ranked[1:] != ranked[:-1]
    group = np.cumsum(new) - 1  # the distinct score each person has, 0 the lowest
    n_groups = int(group[-1]) + 1 if len(group) else 0
    if weight is None:
        pos = np.bincount(group[outcome == 1], minlength=n_groups)
        neg = np.bincount(group[outcome == 0], minlength=n_groups)
    else:
        w = weight[order]
        pos = np.bincount(group, weights=w * outcome, minlength=n_groups)
        neg = np.bincount(group, weights=w * (1 - outcome), minlength=n_groups)
    has = pos > 0
    before = np.cumsum(has) - has  # distinct scores with a positive strictly below each one
    cells = np.bincount(3 * before + has, weights=neg, minlength=3 * int(has.sum()) + 1)
    cells[3 * before[has] + 2] = pos[has]
    return cells.astype(np.int64) if weight is None else cells


def _auroc_of_cells(cells: np.ndarray) -> float | None:
    """AUROC from cell totals (`_cells`). It is the chance that a random positive outscores a random
    negative, with ties counted as half. None without positives or without negatives."""
    gap, tied, pos = cells[:-1].reshape(-1, 3).T
    positives = pos.sum()
    negatives = gap.sum() + tied.sum() + cells[-1]
    if positives <= 0 or negatives <= 0:
        return None
    below = np.cumsum(gap + tied) - tied
    # an elementwise sum, not `@`: a BLAS dot call on a small vector can cost milliseconds in
    # thread start-up, and it runs 200 times per interval
    return float((pos * (below + tied / 2)).sum() / (positives * negatives))


def auroc(y, score, weight=None) -> float | None:
    """Exact AUROC (the Mann-Whitney statistic), with ties counted as half. `weight` gives each
    person a non-negative sample weight: an integer weight counts the person that many times, so a
    bootstrap resample is a set of weights. None when there are no positives or no negatives."""
    y = _outcomes(y)
    score = _scores(score, len(y))
    if weight is not None:
        weight = np.asarray(weight, dtype=float)
        if weight.shape != y.shape or not np.isfinite(weight).all() or (weight < 0).any():
            raise ValueError("weights must be finite, non-negative and one per outcome")
    return _auroc_of_cells(_cells(y, score, weight))


def _resample(rng: np.random.Generator, sizes: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Counts per cell of one ordinary bootstrap resample: the n = sizes.sum() people drawn with
    replacement, counted by cell, which is Multinomial(n, sizes / n) exactly. `ends` is
    cumsum(sizes).

    How it is drawn: each cell gets an independent Poisson(size) count. That is a resample of
    Poisson(n) people, each drawn independently. The total is then made n, by removing surplus draws
    chosen at random or by making the missing draws afresh. Either way the result is n independent
    draws. This costs one Poisson variate per cell plus about sqrt(n) more draws. numpy's multinomial
    needs one binomial per cell and is several times slower; drawing every person is slower still."""
    n = int(ends[-1])
    counts = rng.poisson(sizes)
    drawn = int(counts.sum())
    if drawn > n:
        removed = rng.choice(drawn, size=drawn - n, replace=False, shuffle=False)
        counts -= np.bincount(np.searchsorted(np.cumsum(counts), removed, side="right"), minlength=len(counts))
    elif drawn < n:
        added = rng.integers(n, size=n - drawn)
        counts += np.bincount(np.searchsorted(ends, added, side="right"), minlength=len(counts))
    return counts


def _auroc_with_interval(
    y: np.ndarray, score: np.ndarray, n_boot: int, seed: int, level: float
) -> tuple[float | None, float | None, float | None]:
    """AUROC and its bootstrap percentile interval, all from one sort."""
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, not {level}")
    cells = _cells(y, score)
    point = _auroc_of_cells(cells)
    if point is None or n_boot < 1:
        return point, None, None
    rng = np.random.default_rng(seed)
    live = np.flatnonzero(cells)  # an empty cell stays empty in every resample: draw only the rest
    sizes = cells[live]
    ends = np.cumsum(sizes)
    resampled = np.zeros_like(cells)
    replicates = []
    for _ in range(n_boot):
        resampled[live] = _resample(rng, sizes, ends)
        replicates.append(_auroc_of_cells(resampled))
    kept = [r for r in replicates if r is not None]  # a resample with one class only has no AUROC
    if not kept:
        return point, None, None
    lower, upper = np.quantile(kept, [(1 - level) / 2, (1 + level) / 2])
    return point, float(lower), float(upper)


def auroc_interval(
    y, score, n_boot: int = N_BOOT, seed: int = 0, level: float = LEVEL
) -> tuple[float | None, float | None]:
    """The bootstrap percentile interval of AUROC (95% by default). This is the ordinary bootstrap:
    each replicate resamples the n people with replacement, so each person's count is multinomial,
    and the replicate's AUROC is the weighted AUROC under those counts. The counts are drawn summed
    by cell (see `_cells`, `_resample`), which is exact because AUROC depends on the counts only
    through those sums. A replicate that happens to draw one class only is left out. The result is the
    same for the same seed. (None, None) when AUROC itself is undefined."""
    y = _outcomes(y)
    _, lower, upper = _auroc_with_interval(y, _scores(score, len(y)), n_boot, seed, level)
    return lower, upper


# --- Precision, Brier, calibration ---------------------------------------------------------------


def auprc(y, score) -> float | None:
    """Average precision (scikit-learn's step-wise area under the precision-recall curve). None when
    nobody has the outcome."""
    y = _outcomes(y)
    score = _scores(score, len(y))
    return float(average_precision_score(y, score)) if y.any() else None


def brier(y, prob) -> float | None:
    """The Brier score, mean (prob - y)^2, from scikit-learn. None for no people."""
    y = _outcomes(y)
    prob = _probabilities(prob, len(y))
    return float(brier_score_loss(y, prob, labels=[0, 1])) if len(y) else None


def calibration_by_decile(y, prob) -> list[dict]:
    """Ten groups by predicted probability, decile 1 the lowest. The groups are equal in size, or
    within one person of it: decile d is positions n(d-1)//10 to nd//10 of a stable sort by
    probability, so people with tied probabilities are split by their order in the input. Each group
    gives people, mean_predicted, observed_rate and outcomes (a count). The rates are None in an empty
    decile, which only happens with fewer than ten people."""
    y = _outcomes(y)
    prob = _probabilities(prob, len(y))
    order = np.argsort(prob, kind="stable")
    ranked, outcome = prob[order], y[order]
    edges = np.arange(DECILES + 1) * len(y) // DECILES
    rows = []
    for decile, (start, end) in enumerate(zip(edges[:-1], edges[1:]), start=1):
        people = int(end - start)
        outcomes = int(outcome[start:end].sum())
        rows.append(
            {
                "decile": decile,
                "people": people,
                "mean_predicted": _rate(ranked[start:end].sum(), people),
                "observed_rate": _rate(outcomes, people),
                "outcomes": outcomes,
            }
        )
    return rows


def _recalibration(y: np.ndarray, prob: np.ndarray) -> tuple[float | None, float | None]:
    """Intercept and slope of the logistic recalibration logit P(y=1) = a + b logit(prob). This is a
    maximum likelihood fit by Newton's method (scipy, trust-exact with the exact gradient and
    Hessian), starting from the perfect calibration a=0, b=1. (None, None) when there is no
    maximum, which happens with a single class or when the probabilities separate the outcomes
    (every positive at or above every negative, or the reverse), so that the slope runs off to
    infinity. Also (None, None) when the fit does not converge."""
    if len(y) == 0 or y.min() == y.max():
        return None, None
    x = special.logit(np.clip(prob, LOGIT_CLIP, 1 - LOGIT_CLIP))
    positive, negative = x[y == 1], x[y == 0]
    if negative.max() <= positive.min() or positive.max() <= negative.min():
        return None, None
    outcome = y.astype(float)

    def loss(beta: np.ndarray) -> float:
        eta = beta[0] + beta[1] * x
        return float(np.mean(np.logaddexp(0.0, eta) - outcome * eta))

    def gradient(beta: np.ndarray) -> np.ndarray:
        residual = special.expit(beta[0] + beta[1] * x) - outcome
        return np.array([residual.mean(), (residual * x).mean()])

    def hessian(beta: np.ndarray) -> np.ndarray:
        p = special.expit(beta[0] + beta[1] * x)
        w = p * (1 - p)
        wx = (w * x).mean()
        return np.array([[w.mean(), wx], [wx, (w * x * x).mean()]])

    fit = optimize.minimize(loss, np.array([0.0, 1.0]), jac=gradient, hess=hessian, method="trust-exact")
    if not fit.success or not np.isfinite(fit.x).all():
        return None, None
    return float(fit.x[0]), float(fit.x[1])


def calibration_in_the_large(y, prob) -> dict:
    """Mean predicted probability, observed rate, and difference (mean predicted minus observed,
    so positive means over-prediction), with the slope and intercept of a logistic recalibration
    (`_recalibration`). A well calibrated model has a difference near 0, slope near 1 and intercept
    near 0. A slope below 1 means overconfident probabilities (too extreme), and above 1 means too
    timid. The intercept is fitted jointly with the slope, so it is not the intercept fitted with
    the slope fixed at 1."""
    y = _outcomes(y)
    prob = _probabilities(prob, len(y))
    mean_predicted = _rate(prob.sum(), len(y))
    observed_rate = _rate(y.sum(), len(y))
    intercept, slope = _recalibration(y, prob)
    return {
        "mean_predicted": mean_predicted,
        "observed_rate": observed_rate,
        "difference": None if mean_predicted is None else mean_predicted - observed_rate,
        "slope": slope,
        "intercept": intercept,
    }


# --- Who the list reaches ------------------------------------------------------------------------


def top_k(n: int, share: float) -> int:
    """How many people the top `share` of n is: the nearest whole number, halves rounded up, at least
    1 (so that a tiny share of a small group still selects someone), and at most n."""
    if not 0 < share <= 1:
        raise ValueError(f"share must be in (0, 1], not {share}")
    return min(n, max(1, math.floor(share * n + 0.5)))


def _top(score: np.ndarray, k: int, tiebreak: np.ndarray | None = None) -> np.ndarray:
    """A mask of the k people with the highest scores. This is O(n), by partition, not a sort. Ties at
    the cut go to the lowest `tiebreak` first (pass a negated key to prefer the highest), then to the
    earliest row."""
    n = len(score)
    if k >= n:
        return np.ones(n, dtype=bool)
    chosen = np.zeros(n, dtype=bool)
    if k <= 0:
        return chosen
    cut = np.partition(score, n - k)[n - k]  # the k-th highest score
    chosen = score > cut
    tied = np.flatnonzero(score == cut)
    if tiebreak is not None:
        tied = tied[np.argsort(tiebreak[tied], kind="stable")]
    chosen[tied[: k - int(chosen.sum())]] = True
    return chosen


def _tiebreak(tiebreak, n: int) -> np.ndarray | None:
    if tiebreak is None:
        return None
    tiebreak = np.asarray(tiebreak)
    if tiebreak.shape != (n,):
        raise ValueError(f"expected {n} tiebreak keys, one per outcome, not an array of shape {tiebreak.shape}")
    return tiebreak


def top_share(y, score, share: float, tiebreak=None) -> dict:
    """The top `share` of people by score (`top_k` people, with ties at the cut settled as `_top`
    does). Gives share, selected (people), captured (outcomes among them), ppv (captured / selected),
    sensitivity (captured / all outcomes, None when there are no outcomes) and threshold (the lowest
    score selected)."""
    y = _outcomes(y)
    score = _scores(score, len(y))
    k = top_k(len(y), share)
    chosen = _top(score, k, _tiebreak(tiebreak, len(y)))
    captured = int(y[chosen].sum())
    return {
        "share": float(share),
        "selected": k,
        "captured": captured,
        "ppv": _rate(captured, k),
        "sensitivity": _rate(captured, int(y.sum())),
        "threshold": float(score[chosen].min()) if k else None,
    }


def by_group(
    y, prob, groups, shares: Sequence[float] = GROUP_SHARES, is_probability: bool = True, tiebreak=None
) -> list[dict]:
    """One row per group label, in sorted label order. Each row gives people, outcomes, observed
    rate, mean predicted (only for a probability; set against the observed rate, that is the
    calibration within the group), AUROC within the group (None when the group has a single class),
    and one entry per share of the OVERALL top share. That selection is made on the whole population
    and then counted in the group: selected (the group's people in it), captured (the group's
    outcomes in it), and capture (captured / the group's outcomes). A model that misses one group's
    outcomes shows a low capture there. The captures, weighted by the groups' outcomes, add up to the
    overall sensitivity. Labels must be sortable by numpy (e.g. no None mixed with strings)."""
    y = _outcomes(y)
    score = _probabilities(prob, len(y)) if is_probability else _scores(prob, len(y))
    groups = np.asarray(groups)
    if groups.shape != y.shape:
        raise ValueError(f"expected {len(y)} group labels, one per outcome, not an array of shape {groups.shape}")
    key = _tiebreak(tiebreak, len(y))
    chosen = [(float(s), _top(score, top_k(len(y), s), key)) for s in shares]
    labels, code = np.unique(groups, return_inverse=True)
    order = np.argsort(code, kind="stable")
    bounds = np.searchsorted(code[order], np.arange(len(labels) + 1))
    rows = []
    for g, label in enumerate(labels.tolist()):
        members = order[bounds[g] : bounds[g + 1]]
        outcome = y[members]
        people, outcomes = len(members), int(outcome.sum())
        row = {"group": label, "people": people, "outcomes": outcomes, "observed_rate": _rate(outcomes, people)}
        if is_probability:
            row["mean_predicted"] = _rate(score[members].sum(), people)
        row["auroc"] = _auroc_of_cells(_cells(outcome, score[members]))
        row["top_shares"] = []
        for share, mask in chosen:
            picked = mask[members]
            captured = int(outcome[picked].sum())
            row["top_shares"].append(
                {
                    "share": share,
                    "selected": int(picked.sum()),
                    "captured": captured,
                    "capture": _rate(captured, outcomes),
                }
            )
        rows.append(row)
    return rows


# --- The card ------------------------------------------------------------------------------------


def evaluate(
    y,
    score,
    is_probability: bool = True,
    shares: Sequence[float] = SHARES,
    seed: int = 0,
    groups=None,
    group_shares: Sequence[float] = GROUP_SHARES,
    n_boot: int = N_BOOT,
    level: float = LEVEL,
    tiebreak=None,
) -> dict:
    """Every figure of the model card in one JSON-ready dict (plain ints, floats, None, lists). It
    always has people, outcomes, outcome_rate, auroc with auroc_lower and auroc_upper (`level`
    bootstrap interval, `n_boot` replicates, `seed`), auprc and top_shares (one `top_share` per
    share). For a probability it also has brier and calibration (in_the_large and deciles). With
    `groups` it has by_group (`by_group` over `group_shares`). A naive ranking
    (is_probability=False) gets the ranking figures only."""
    y = _outcomes(y)
    n = len(y)
    score = _probabilities(score, n) if is_probability else _scores(score, n)
    point, lower, upper = _auroc_with_interval(y, score, n_boot, seed, level)
    outcomes = int(y.sum())
    card = {
        "is_probability": bool(is_probability),
        "people": n,
        "outcomes": outcomes,
        "outcome_rate": _rate(outcomes, n),
        "auroc": point,
        "auroc_lower": lower,
        "auroc_upper": upper,
        "auroc_level": float(level),
        "n_boot": int(n_boot),
        "seed": int(seed),
        "auprc": auprc(y, score),
        "top_shares": [top_share(y, score, share, tiebreak) for share in shares],
    }
    if is_probability:
        card["brier"] = brier(y, score)
        card["calibration"] = {
            "in_the_large": calibration_in_the_large(y, score),
            "deciles": calibration_by_decile(y, score),
        }
    if groups is not None:
        card["by_group"] = by_group(y, score, groups, group_shares, is_probability, tiebreak)
    return card
