"""Why a person's score is high: the three things pushing it up most, in words.

Contributions are exact attributions of the base model's log-odds (the calibration after it is a
monotone rescaling, so what raises the log-odds raises the probability): SHAP values of the
gradient boosting (`shap.TreeExplainer`, which sums exactly to the model's output), or for the
logistic regression its exact terms, coefficient x (transformed value - its training mean). Features
of one thing (GP appointments over 3, 6 and 12 months and their trend) are summed into one factor:
Shapley values add up, so the group's contribution is the sum of its members'. Only factors that push
the score up (a contribution above zero) are named, at most three, largest first.
"""

from __future__ import annotations

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.pipeline import Pipeline

from risk.features import FEATURES, SOCIAL_CARE_MEASURES, TREND_MEASURES, YEAR_MEASURES

TOP_FACTORS = 3
ALWAYS_NAMED = ("age", "female", "imd_decile")


def _factor_of(feature: str) -> str:
    for measure in TREND_MEASURES + YEAR_MEASURES:
        if feature.startswith(measure + "_"):
            return measure
    if any(feature.startswith(m) for m in SOCIAL_CARE_MEASURES):
        return "social_care"
    return feature


# Factors in a fixed order; each groups the features named after it.
FACTORS: tuple[str, ...] = tuple(dict.fromkeys(_factor_of(f.name) for f in FEATURES))


def factor_matrix(features: tuple[str, ...]) -> np.ndarray:
    """0/1 matrix (features x FACTORS) summing feature contributions into factor contributions."""
    matrix = np.zeros((len(features), len(FACTORS)))
    for i, name in enumerate(features):
        matrix[i, FACTORS.index(_factor_of(name))] = 1.0
    return matrix


def contributions(model: CalibratedClassifierCV, X: np.ndarray) -> np.ndarray:
    """Per person and feature: its contribution to the base model's log-odds (people x features)."""
    base = model.calibrated_classifiers_[0].estimator
    if isinstance(base, Pipeline):
        impute, transform, scale, linear = (base.named_steps[k] for k in ("impute", "arcsinh", "scale", "model"))
        z = scale.transform(transform.transform(impute.transform(X)))  # mean 0 over the fitting data
        terms = z * linear.coef_[0]
        n = X.shape[1]
        by_feature = terms[:, :n].copy()
        # missing-value indicators belong to the feature they flag
        for column, feature in enumerate(impute.indicator_.features_ if impute.indicator_ is not None else []):
            by_feature[:, feature] += terms[:, n + column]
        return by_feature
    import shap  # imported here: it is slow to import and only this step needs it

    values = shap.TreeExplainer(base).shap_values(X)
    return np.asarray(values[1] if isinstance(values, list) else values)


def top_factors(model: CalibratedClassifierCV, X: np.ndarray, features: tuple[str, ...]) -> np.ndarray:
    """Per person, indices into FACTORS of up to three factors with positive contributions and
    something recorded, largest first; -1 where fewer than three qualify (people x 3, int)."""
    if len(X) == 0:
        return np.empty((0, TOP_FACTORS), dtype=np.int64)
    matrix = factor_matrix(features)
    by_factor = contributions(model, X) @ matrix
    # A factor the person has nothing recorded for (no eFI score under 65, no ED attendance) may move
    # the score, but "none" is no reason an INT lead can act on: it is not named. Age, sex and
    # deprivation are named whenever known.
    always = np.array([name in ALWAYS_NAMED for name in features])
    recorded = ~np.isnan(X) & ((X != 0) | always)
    by_factor = np.where(recorded.astype(float) @ matrix > 0, by_factor, -np.inf)
    order = np.argsort(-by_factor, axis=1, kind="stable")[:, :TOP_FACTORS]
    positive = np.take_along_axis(by_factor, order, axis=1) > 0
    return np.where(positive, order, -1)
