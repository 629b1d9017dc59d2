"""The rising-risk model: two scikit-learn candidates, calibrated, chosen on held-out data.

Candidates: histogram gradient boosting (handles missing values itself: a feature of an extract not
supplied, or a score someone is too young for) and an L2-regularised logistic regression on
arcsinh-transformed counts with missing-value indicators. Each is wrapped in
`CalibratedClassifierCV` with folds of whole practices, so its probabilities are calibrated on data
its base model did not see (`fit_calibrated`); either way there is one base model, whose
contributions explain a person's score exactly (see `risk.explain`).

The model is fitted on everyone in the population at the feature date (so that a current high
intensity user gets a score too: the chance of staying one), while selection and every figure of
the model card use the target population, people not high intensity users yet. At most
`MAX_FIT_ROWS` people, a seeded uniform sample, teach a base model: beyond that the candidates gain
little (held-out average precision 0.230 at 100,000 people, 0.235 at 200,000, on a 1M-person drop)
and the fits would dominate the run.

Persistence: `skops`, which loads only the types it is told to trust (no pickle, no arbitrary code).
"""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import duckdb
import numpy as np
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score
from sklearn.model_selection import GroupShuffleSplit, StratifiedGroupKFold, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from threadpoolctl import threadpool_limits

from risk.samples import LATER_WINDOW, Design

def one_thread():
    """Run scikit-learn's OpenMP and BLAS on one thread. Measured on this project's 2-core machine:
    with the other core idle, two threads fit 100,000 people 1.6 times faster (0.8 s against 1.25 s);
    with it busy (another job, a test run, DuckDB), a fit of 54,000 people took 12 to 48 s on two
    threads against 0.8 s on one, as OpenMP's threads spin waiting for each other. One thread costs a
    second or two at most and never sixty times over."""
    return threadpool_limits(limits=1)


MAX_FIT_ROWS = 100_000  # the most people a base model learns from
CALIBRATED_FIT_ROWS = 3 * MAX_FIT_ROWS // 2  # ... with a third as many more, in other practices, to calibrate it
HOLD_OUT_SHARE = 0.3  # of practices, when there is no later window to validate on
CALIBRATION_FOLDS = 3
ISOTONIC_MIN_OUTCOMES = 500  # fewer outcomes than this: a sigmoid (Platt) calibration, which needs less data
MODEL_VERSION = "rising-risk-1"  # the method; a fitted model is identified by the hash of its file


def candidates(seed: int) -> dict[str, object]:
    return {
        "gradient_boosting": HistGradientBoostingClassifier(
            # 80 trees at 0.1 rank as well as 150 at 0.08 (held-out average precision 0.232 both, 1M-person
            # drop) and score a million people in half the time: every tree is paid for again at each
            # prediction, permutation and SHAP explanation.
            max_iter=80, learning_rate=0.1, max_leaf_nodes=15, min_samples_leaf=40, l2_regularization=1.0,
            early_stopping=False, random_state=seed,
        ),
        "logistic_regression": Pipeline([
            ("impute", SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)),
            ("arcsinh", FunctionTransformer(np.arcsinh)),
            ("scale", StandardScaler()),
            ("model", LogisticRegression(C=0.1, max_iter=2000)),
        ]),
    }


@dataclass
class Sample:
    """One role's rows as arrays: features (NaN for missing), outcome, and who they are."""

    X: np.ndarray
    y: np.ndarray | None
    person_id: np.ndarray
    practice: np.ndarray  # practice as a number, in practice-code order
    hiu_now: np.ndarray
    naive: np.ndarray  # the obvious ranking: GP + 10 x ED + 25 x emergency admissions, last 12 months
    groups: dict[str, np.ndarray]  # age band, sex, IMD quintile: for the fairness figures (not when scoring)

    def subset(self, keep: np.ndarray) -> "Sample":
        return Sample(
            self.X[keep], None if self.y is None else self.y[keep], self.person_id[keep], self.practice[keep],
            self.hiu_now[keep], self.naive[keep], {k: v[keep] for k, v in self.groups.items()},
        )

    @property
    def target(self) -> "Sample":
        """The target population: not high intensity users at the feature date."""
        return self.subset(~self.hiu_now)


AGE_BANDS = "CASE WHEN age IS NULL THEN 'unknown' WHEN age < 18 THEN '0-17' WHEN age < 40 THEN '18-39' WHEN age < 65 THEN '40-64' WHEN age < 75 THEN '65-74' ELSE '75+' END"


def load_sample(
    conn: duckdb.DuckDBPyConnection, table: str, role: str, features: tuple[str, ...], among: str | None = None
) -> Sample:
    """A role's rows (only the people of table `among` when given), ordered by person_id."""
    among_people = f"AND person_id IN (SELECT person_id FROM {among})" if among else ""
    columns = ", ".join(f"coalesce(CAST({f} AS DOUBLE), 'NaN'::DOUBLE) AS {f}" for f in features)
    # Practices as numbers in code order (numpy sorts a million strings slowly, and the splits by
    # practice sort them again and again); the groups only where the card reports on them.
    groups = "" if role == "scoring" else (
        f", {AGE_BANDS} AS age_band, sex, "
        "coalesce('quintile ' || CAST((imd_decile + 1) // 2 AS VARCHAR), 'unknown') AS imd_quintile"
    )
    # (Numbering the few practices and joining them on costs half what dense_rank() over a million
    # rows does; the same numbers, a missing practice last.)
    data = conn.execute(
        f"""WITH numbered AS (
                SELECT practice_code, row_number() OVER (ORDER BY practice_code NULLS LAST) AS practice
                FROM (SELECT DISTINCT practice_code FROM {table} WHERE role = $role {among_people}))
            SELECT person_id, n.practice, hiu_now,
                   coalesce(CAST(outcome AS INTEGER), -1) AS outcome,
                   (gp_appointments_12m + 10 * ed_attendances_12m + 25 * emergency_admissions_12m)::DOUBLE AS naive
                   {groups}{", " + columns if columns else ""}
            FROM {table} f LEFT JOIN numbered n ON f.practice_code IS NOT DISTINCT FROM n.practice_code
            WHERE role = $role {among_people} ORDER BY person_id""",
        {"role": role},
    ).fetchnumpy()
    # Column by column into a column-major array: half the copying of np.column_stack, and the
    # trees predict from it faster too.
    X = np.empty((len(data["person_id"]), len(features)), dtype=np.float64, order="F")
    for i, f in enumerate(features):
        X[:, i] = data[f]
    y = np.asarray(data["outcome"], dtype=np.int64)
    return Sample(
        X=X, y=None if role == "scoring" else y, person_id=np.asarray(data["person_id"], dtype=object),
        practice=np.asarray(data["practice"], dtype=np.int64), hiu_now=np.asarray(data["hiu_now"], dtype=bool),
        naive=np.asarray(data["naive"], dtype=np.float64),
        groups={g: np.asarray(data[g], dtype=object) for g in ("age_band", "sex", "imd_quintile") if g in data},
    )


def _fit_rows(n: int, seed: int) -> np.ndarray:
    """All rows, or a seeded uniform sample of `CALIBRATED_FIT_ROWS` of them."""
    if n <= CALIBRATED_FIT_ROWS:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, CALIBRATED_FIT_ROWS, replace=False))


MIN_OUTCOMES = 20  # fewer people becoming high intensity users than this: nothing to learn from


class TooFewOutcomes(ValueError):
    pass


def fit_calibrated(estimator, sample: Sample, seed: int) -> CalibratedClassifierCV:
    """`estimator` calibrated on people its base model did not learn from, in folds of whole
    practices balanced for outcomes (folds of people when there are under three practices, or when a
    practice fold would hold no outcome).

    Up to `MAX_FIT_ROWS` people: cross-fitted, so everyone both teaches the base model and calibrates
    it (three fits for out-of-fold scores, then one on all: four fits). More people (a seeded sample of `CALIBRATED_FIT_ROWS` at most): one fold of practices is
    kept back to calibrate a base model fitted on the other two, one fit of as many people; the same
    held-out calibration, at a quarter of the cost where the fits would dominate the run."""
    rows = _fit_rows(len(sample.y), seed)
    X, y, practice = sample.X[rows], sample.y[rows], sample.practice[rows]
    if y.sum() < MIN_OUTCOMES:
        raise TooFewOutcomes(f"{int(y.sum())} of the {len(y):,} people it would learn from became high intensity users")
    folds = []
    if len(np.unique(practice)) >= CALIBRATION_FOLDS:
        folds = list(StratifiedGroupKFold(CALIBRATION_FOLDS, shuffle=True, random_state=seed).split(X, y, practice))
    if not folds or any(len(np.unique(y[fit])) < 2 or len(np.unique(y[test])) < 2 for fit, test in folds):
        folds = list(StratifiedKFold(CALIBRATION_FOLDS, shuffle=True, random_state=seed).split(X, y))
    method = "isotonic" if y.sum() >= ISOTONIC_MIN_OUTCOMES else "sigmoid"
    # One split given with ensemble=True: the base fitted on its first part, calibrated on the second.
    held_out = len(y) > MAX_FIT_ROWS
    cv, ensemble = (folds[:1], True) if held_out else (folds, False)
    with one_thread():
        return CalibratedClassifierCV(clone(estimator), method=method, cv=cv, ensemble=ensemble).fit(X, y)


@dataclass
class Validation:
    """Held-out predictions of each candidate on the target population, and the choice."""

    design: str
    chosen: str
    held_out: Sample  # target population of the held-out part
    predictions: dict[str, np.ndarray]  # candidate -> probability
    models: dict[str, CalibratedClassifierCV]  # candidate -> fitted on the fitting part
    auprc: dict[str, float]
    fitted_on: str  # words: what the validated candidates were fitted on
    tested_on: str


def validate(design: Design, samples: dict[str, Sample], seed: int) -> Validation:
    """Fit every candidate on one part and compare them on the other; choose by average precision
    (the ranking's quality where it matters, at the top)."""
    if design.validation == LATER_WINDOW:
        fit, test = samples["earlier"], samples["training"].target
        fitted_on = f"features as at {design.dates['earlier']}, outcomes to {design.dates['training']}"
        tested_on = f"features as at {design.dates['training']}, outcomes to {design.as_of}"
    else:
        training = samples["training"]
        practices = np.unique(training.practice)
        if len(practices) < 2:
            raise NotEnoughPractices(f"{len(practices)} practice: a hold-out of whole practices needs two or more")
        split = GroupShuffleSplit(n_splits=1, test_size=HOLD_OUT_SHARE, random_state=seed)
        fit_rows, test_rows = next(split.split(training.X, training.y, training.practice))
        fit, test = training.subset(fit_rows), training.subset(test_rows).target
        held = len(np.unique(test.practice))
        fitted_on = f"features as at {design.dates['training']}, {len(practices) - held} practices"
        tested_on = f"the other {held} practices (target population), outcomes to {design.as_of}"
    # The candidates are fitted at once, one on each core (each fit is seeded and independent, so
    # the models are the same either way; most of a fit runs with the GIL released).
    names, estimators = zip(*candidates(seed).items())
    predictions, models, auprc = {}, {}, {}
    for name, model in zip(names, on_two_threads(lambda estimator: fit_calibrated(estimator, fit, seed), estimators)):
        models[name], predictions[name] = model, predict(model, test.X)
        auprc[name] = float(average_precision_score(test.y, predictions[name])) if test.y.any() else float("nan")
    ranked = sorted(auprc, key=lambda name: (-np.nan_to_num(auprc[name], nan=-1.0), name))
    return Validation(design.validation, ranked[0], test, predictions, models, auprc, fitted_on, tested_on)


class NotEnoughPractices(ValueError):
    pass


def on_two_threads(function, items) -> list:
    """[function(item) for item in items], on two threads: trees fit and predict with the GIL
    released, so the work takes about half the time on two cores. Each thread holds OpenMP to one
    thread of its own (OpenMP's limit is per thread; see `one_thread`), inside the caller's own
    limit, so that every limit restores to the same value, whichever thread ends first."""
    def one(item):
        with one_thread():
            return function(item)

    with one_thread(), ThreadPoolExecutor(2) as pool:
        return list(pool.map(one, items))


def _by_chunks(function, X: np.ndarray, chunk: int) -> np.ndarray:
    """`function` over X's chunks of rows, concatenated, on two threads."""
    return np.concatenate(on_two_threads(lambda start: function(X[start:start + chunk]), range(0, len(X), chunk)))


def predict(model: CalibratedClassifierCV, X: np.ndarray, chunk: int = 250_000) -> np.ndarray:
    """Probabilities in chunks, so a million people never need more than two chunks' working memory."""
    if len(X) == 0:
        return np.empty(0)
    return _by_chunks(lambda part: model.predict_proba(part)[:, 1], X, chunk)


def scores_and_order(model: CalibratedClassifierCV, X: np.ndarray, chunk: int = 250_000) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities and the base model's log-odds (the same order, without the ties isotonic
    calibration makes), from one pass of the base model: the calibrator maps the log-odds to the
    probability exactly as `predict_proba` does (a test holds them equal)."""
    if len(X) == 0:
        return np.empty(0), np.empty(0)
    fitted = model.calibrated_classifiers_[0]
    order = _by_chunks(fitted.estimator.decision_function, X, chunk)
    return np.clip(fitted.calibrators[0].predict(order), 0.0, 1.0), order


# Types a saved model may contain beyond skops' defaults: exactly these, nothing picked from the file.
TRUSTED_TYPES = [
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn._loss.loss.HalfBinomialLoss",
    "sklearn._loss.link.LogitLink",
    "sklearn._loss.link.Interval",
    "numpy.dtype",
    "numpy.arcsinh",
]


def dump_model(model: CalibratedClassifierCV) -> tuple[bytes, str]:
    """The model as skops bytes, and their SHA-256: the saved file's identity (skops names its
    members by object id, so the same fit saved twice differs in bytes; the scores do not)."""
    import skops.io as sio  # here: skops loads sklearn's test helpers (and pytest), 2 s of every process

    blob = sio.dumps(model)
    return blob, hashlib.sha256(blob).hexdigest()


def load_model(blob: bytes) -> CalibratedClassifierCV:
    """Load a saved model, refusing any type not in `TRUSTED_TYPES` or skops' own safe list."""
    import skops.io as sio

    untrusted = [t for t in sio.get_untrusted_types(data=blob) if t not in TRUSTED_TYPES]
    if untrusted:
        raise ValueError(f"the saved model holds types that are not trusted: {', '.join(untrusted)}")
    return sio.loads(blob, trusted=TRUSTED_TYPES)
