"""The model card: what the rising-risk model is for, how it was checked, and how well it does.

`metrics/rising_risk_model.json` holds every figure; `.md` says the same in words and tables, with
the calibration chart beside it (`rising_risk_calibration.svg`). The figures are for the model as
validated (fitted one window earlier, or on other practices) on people it never saw, against the
obvious ranking by current activity (GP + 10 x ED + 25 x emergency admissions in the last 12 months)
that any analyst could build without a model. They are aggregates over the validation population:
no person's row is in the card.
"""

from __future__ import annotations


import numpy as np
from jinja2 import Environment, PackageLoader, StrictUndefined

from metrics.charts import svg_figure
from risk.evaluation import by_group, evaluate
from risk.features import FEATURE_BY_NAME
from risk.model import Validation, one_thread
from risk.samples import Design

SHARES = (0.01, 0.02, 0.05)
IMPORTANCE_ROWS = 10_000  # a seeded sample of the validation population: enough to rank features
IMPORTANCE_REPEATS = 3

INTENDED_USE = (
    "To help an Integrated Neighbourhood Team find, among the people who are not high intensity users yet, "
    "those most likely to become one in the next 12 months, so that someone can look at their care before a "
    "crisis. It ranks people; a clinician or care coordinator decides whether and how to reach out."
)
LIMITS = [
    "A score is a probability for people like this person, not a prediction about them: most people on the list "
    "will not become high intensity users, and some who do were never on it.",
    "It learns from the activity recorded in these extracts only. Activity elsewhere (another area's hospital, "
    "private care, care not recorded) is invisible to it, and a practice or provider whose data are incomplete "
    "makes its people look lower risk (see quality/data_quality.md).",
    "It is validated on the past. If services change (a new pathway, the programme itself reducing activity), "
    "the model's calibration drifts; the card of every run shows it again on the latest year.",
    "It must not be used to deny or ration care, or for people outside the population it was trained on.",
    "Check the figures by age, sex and deprivation below before relying on it for a group: a group whose "
    "observed rate differs from its mean predicted probability is under- or over-served by the ranking.",
    "Contributions ('top factors') explain the model, not the person's health: they say which of their recorded "
    "numbers raised the score most, not why their need is rising.",
]


def build_card(design: Design, validation: Validation, settings: dict, seed: int) -> dict:
    held = validation.held_out
    probability = validation.predictions[validation.chosen]
    model_figures = evaluate(held.y, probability, is_probability=True, shares=SHARES, seed=seed)
    naive_figures = evaluate(held.y, held.naive, is_probability=False, shares=SHARES, seed=seed)
    return {
        "title": "Rising-risk model card",
        "trained": True,
        "problem": _problem(design),
        "design": {
            "validation": design.validation,
            "fitted_on": validation.fitted_on,
            "tested_on": validation.tested_on,
            "feature_dates": {role: day.isoformat() for role, day in design.dates.items()},
            "data_start": design.data_start.isoformat() if design.data_start else None,
        },
        "features": [{"name": f, "words": FEATURE_BY_NAME[f].words} for f in design.features],
        "features_left_out": design.left_out,
        "candidates": {name: _round(value) for name, value in validation.auprc.items()},
        "chosen": validation.chosen,
        "model": model_figures,
        "naive": naive_figures,
        "comparison": _comparison(model_figures, naive_figures),
        "permutation_importance": _importance(validation, design.features, seed),
        "fairness": {
            name: by_group(held.y, probability, labels, shares=(0.05,)) for name, labels in held.groups.items()
        },
        "intended_use": INTENDED_USE,
        "limits": LIMITS,
        "settings": settings,
    }


def no_model_card(design: Design, settings: dict) -> dict:
    return {
        "title": "Rising-risk model card",
        "trained": False,
        "why_not": design.reason,
        "problem": _problem(design),
        "intended_use": INTENDED_USE,
        "limits": LIMITS,
        "settings": settings,
    }


def _problem(design: Design) -> dict:
    return {
        "target_population": "People in the population on the feature date who are not high intensity users in "
        "the 12 months to it.",
        "outcome": "High intensity use (one or more services at or over its threshold) in the 12 months after the "
        "feature date.",
        "training": "Features as at the as-of date minus 12 months, outcomes in the 12 months to the as-of date.",
        "validation": "Fitted one window earlier (features as at as-of minus 24 months) and tested on the training "
        "window when the data reach back far enough; otherwise fitted on some practices and tested on the others. "
        "Never a random split of people.",
        "scoring": "Everyone in the population as at the as-of date.",
        "as_of": design.as_of.isoformat(),
    }


def _comparison(model: dict, naive: dict) -> dict:
    """Percentage points more of the new high intensity users that the model's top share holds."""
    out = {}
    for m, n in zip(model["top_shares"], naive["top_shares"]):
        out[f"top_{_pct(m['share'])}"] = {
            "model_sensitivity_pct": _round(100 * m["sensitivity"]),
            "naive_sensitivity_pct": _round(100 * n["sensitivity"]),
            "difference_points": _round(100 * (m["sensitivity"] - n["sensitivity"])),
        }
    return out


def _importance(validation: Validation, features: tuple[str, ...], seed: int) -> list[dict]:
    held = validation.held_out
    if not held.y.any() or held.y.all():
        return []
    from joblib import parallel_backend
    from sklearn.inspection import permutation_importance  # here: 1.5 s to import, for one step
    from sklearn.metrics import get_scorer

    average_precision = get_scorer("average_precision")

    def score(estimator, X, y) -> float:
        # each worker thread's own one-thread limit: OpenMP's limit is per thread, and a worker
        # left at two would spin against the other (see `one_thread`)
        with one_thread():
            return average_precision(estimator, X, y)

    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(len(held.y), min(IMPORTANCE_ROWS, len(held.y)), replace=False))
    # Two threads, each permuting its own features: the predictions release the GIL, so the 90
    # predictions take half the time on two cores, with the same importances.
    with parallel_backend("threading"):
        result = permutation_importance(
            validation.models[validation.chosen], held.X[rows], held.y[rows], scoring=score,
            n_repeats=IMPORTANCE_REPEATS, random_state=seed, n_jobs=2,
        )
    ranked = sorted(zip(features, result.importances_mean, result.importances_std), key=lambda r: (-r[1], r[0]))
    return [{"feature": f, "words": FEATURE_BY_NAME[f].words, "mean": _round(m, 4), "std": _round(s, 4)} for f, m, s in ranked]


def headline(card: dict) -> dict:
    """The card's headline figures as numbers, for the asset's metadata (the UI plots them across runs)."""
    model, comparison = card["model"], card["comparison"]
    return {
        "auroc": model["auroc"],
        "auroc_lower": model["auroc_lower"],
        "auroc_upper": model["auroc_upper"],
        "auprc": model["auprc"],
        "brier": model["brier"],
        "naive_auroc": card["naive"]["auroc"],
        "top_5pct_sensitivity_pct": comparison["top_5pct"]["model_sensitivity_pct"],
        "naive_top_5pct_sensitivity_pct": comparison["top_5pct"]["naive_sensitivity_pct"],
        "top_5pct_points_over_naive": comparison["top_5pct"]["difference_points"],
        "chosen": card["chosen"],
        "validation": card["design"]["validation"],
    }


def _pct(share: float) -> str:
    return f"{share * 100:g}pct"


def _round(value, places: int = 2):
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else round(float(value), places)


_ENV = Environment(loader=PackageLoader("risk", "templates"), undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def render_markdown(card: dict) -> str:
    return _ENV.get_template("model_card.md.j2").render(card=card, pct=lambda x: "" if x is None else f"{100 * x:.1f}%")


def calibration_svg(card: dict) -> str | None:
    """Mean predicted probability against the observed rate by decile, the diagonal for reference."""
    if not card.get("trained"):
        return None
    deciles = card["model"]["calibration"]["deciles"]
    predicted = [d["mean_predicted"] * 100 for d in deciles]
    observed = [d["observed_rate"] * 100 for d in deciles]
    with svg_figure("rising-risk", (5.5, 4.5)) as (figure, axes, to_svg):
        top = max(predicted + observed + [1.0]) * 1.08
        axes.plot([0, top], [0, top], color="#777777", linestyle="--", linewidth=1, label="Perfect calibration")
        axes.plot(predicted, observed, marker="o", color="#005eb8", label="Model, by decile of predicted risk")
        axes.set_xlim(0, top)
        axes.set_ylim(0, top)
        axes.set_xlabel("Mean predicted probability (%)")
        axes.set_ylabel("Observed: became a high intensity user (%)")
        axes.set_title("Calibration on the validation population")
        axes.legend(loc="upper left", frameon=False)
        figure.tight_layout()
        return to_svg()
