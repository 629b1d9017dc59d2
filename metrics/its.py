"""Interrupted time series: the activity a neighbourhood would have had without its team, from the
trend before its go-live date (domain.md).

A segmented regression of the monthly counts (statsmodels GLM, log link): the population (times a
month's completeness, for bed days still filling in) as offset,
month of year, a trend over the whole series, and from the go-live month a level change and a slope
change counted from 0 at go-live. Poisson, or negative binomial when the counts are overdispersed
(Pearson chi-squared over residual degrees of freedom above `OVERDISPERSED`; frequent attenders make
monthly totals lumpier than Poisson). The counterfactual is the same fitted model with the level and
slope changes set to 0, with the 95% interval of its mean; over several months the interval comes
from draws of the coefficients (their estimated normal distribution), since months share them.
"""

from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass

import numpy as np

from metrics.counterfactual import months_between

MIN_MONTHS_BEFORE = 12  # a trend and a year of seasonality before go-live
MIN_MONTHS_AFTER = 3
MIN_MEAN_COUNT = 5.0  # a month's count of a handful or less: no trend to speak of, and the fit is unstable
OVERDISPERSED = 1.5
DRAWS = 2000


@dataclass
class SegmentedFit:
    family: str  # "poisson" or "negative binomial"
    counterfactual: np.ndarray  # per month: the fitted mean without the changes
    lower: np.ndarray
    upper: np.ndarray
    level_change: float  # rate ratio at go-live
    slope_change: float  # rate ratio per month after go-live
    dispersion: float
    months: list[dt.date]
    observed: np.ndarray
    _params: np.ndarray
    _cov: np.ndarray
    _exog_without: np.ndarray
    _offset: np.ndarray

    def total_draws(self, months: np.ndarray, seed: int = 0) -> np.ndarray:
        """`DRAWS` draws of the counterfactual's sum over the months picked by boolean `months`."""
        rng = np.random.default_rng(seed)
        draws = rng.multivariate_normal(self._params, self._cov, DRAWS, method="cholesky")
        linear = self._exog_without[months] @ draws.T + self._offset[months, None]
        with np.errstate(over="ignore"):
            return np.exp(linear).sum(axis=0)

    def total_interval(self, months: np.ndarray, seed: int = 0) -> tuple[float, float, float]:
        """Sum of the counterfactual over the months picked by boolean `months`, and its 95% interval."""
        totals = self.total_draws(months, seed)
        return float(self.counterfactual[months].sum()), float(np.quantile(totals, 0.025)), float(np.quantile(totals, 0.975))


def segmented_design(months: list[dt.date], go_live: dt.date) -> tuple[np.ndarray, np.ndarray]:
    """(exog, exog without the programme): intercept, trend, month-of-year indicators (the
    earliest month of year the series has is the reference), after go-live (0/1), months since go-live (0 at the go-live month)."""
    first = months[0]
    t = np.array([months_between(first, m) for m in months], dtype=np.float64)
    live = months_between(first, go_live.replace(day=1))
    after = (t >= live).astype(np.float64)
    since = np.where(after > 0, t - live, 0.0)
    seasons = sorted({m.month for m in months})[1:]  # the first month of year present is the reference
    season = np.array([[1.0 if m.month == s else 0.0 for s in seasons] for m in months]).reshape(len(months), len(seasons))
    exog = np.column_stack([np.ones_like(t), t, season, after, since])
    without = exog.copy()
    without[:, -2:] = 0.0
    return exog, without


def fit_segmented(observed: np.ndarray, exposure: np.ndarray, months: list[dt.date], go_live: dt.date) -> SegmentedFit | None:
    """The fit, or None when there is too little series either side of go-live, too little activity
    (under `MIN_MEAN_COUNT` a month), or the fit gives no finite interval."""
    observed, exposure = np.asarray(observed, dtype=np.float64), np.asarray(exposure, dtype=np.float64)
    live = months_between(months[0], go_live.replace(day=1))
    before, after = live, len(months) - live
    if before < MIN_MONTHS_BEFORE or after < MIN_MONTHS_AFTER or (exposure <= 0).any() or observed.mean() < MIN_MEAN_COUNT:
        return None
    import statsmodels.api as sm  # here, not at the top: 3 s of every process that loads the definitions

    exog, without = segmented_design(months, go_live)
    offset = np.log(exposure)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter on near-empty series; the result is checked below
        result = sm.GLM(observed, exog, family=sm.families.Poisson(), offset=offset).fit()
        dispersion = float(result.pearson_chi2 / max(result.df_resid, 1))
        family = "poisson"
        if dispersion > OVERDISPERSED:
            alpha = _negative_binomial_alpha(observed, result.mu)
            result = sm.GLM(observed, exog, family=sm.families.NegativeBinomial(alpha=alpha), offset=offset).fit()
            family = "negative binomial"
        if not np.all(np.isfinite(result.params)):
            return None
        prediction = result.get_prediction(exog=without, offset=offset, which="mean")
        interval = np.asarray(prediction.conf_int(alpha=0.05))
    if not (np.all(np.isfinite(interval)) and np.all(np.isfinite(prediction.predicted))):
        return None
    return SegmentedFit(
        family=family,
        counterfactual=np.asarray(prediction.predicted), lower=interval[:, 0], upper=interval[:, 1],
        level_change=float(np.exp(result.params[-2])), slope_change=float(np.exp(result.params[-1])),
        dispersion=dispersion, months=list(months), observed=observed, _params=np.asarray(result.params), _cov=np.asarray(result.cov_params()),
        _exog_without=without, _offset=offset,
    )


def _negative_binomial_alpha(observed: np.ndarray, mean: np.ndarray) -> float:
    """Method-of-moments NB2 dispersion from the Poisson fit: mean((y - mu)^2 - y) / mean(mu^2)."""
    alpha = float(np.mean((observed - mean) ** 2 - observed) / np.mean(mean**2))
    return max(alpha, 1e-8)
