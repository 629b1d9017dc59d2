"""The rising-risk stages as plain functions over the warehouse, in the order the assets run them:
features at each date, the model and its card, everyone's score, the lists. The assets
(`assets/risk.py`) are thin wiring around these; `make bench` times them on their own too."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, replace

import duckdb
import numpy as np
import pyarrow as pa

from cohorts.hiu import Thresholds
from risk import card as model_card
from risk.cohort import build_rising_risk_cohort, select_rising_risk
from risk.explain import TOP_FACTORS, top_factors
from risk.features import BuiltOnTheDate, Supplied
from risk.model import (
    MIN_OUTCOMES, MODEL_VERSION, TooFewOutcomes, candidates, dump_model, fit_calibrated, load_model, load_sample,
    one_thread, scores_and_order, validate,
)
from risk.samples import PRACTICE_HOLD_OUT, Design, build_risk_samples, plan_design

SEED = 20250331  # fixed: the same drop and settings give the same model, scores and lists
FEATURES_TABLE, MODEL_TABLE, HISTORY_TABLE, SCORES_TABLE = (
    "risk_features", "rising_risk_model", "rising_risk_model_history", "rising_risk_scores",
)
SELECTED_TABLE, FACTORS_TABLE, COHORT_TABLE = "rising_risk_selected", "rising_risk_factors", "rising_risk_cohort"


def data_start(conn: duckdb.DuckDBPyConnection) -> dt.date | None:
    """The first day every required activity feed covers (from `feed_coverage`)."""
    return conn.execute("SELECT max(first_date) FROM feed_coverage WHERE required").fetchall()[0][0]


def build_features(conn, as_of: dt.date, thresholds: Thresholds, supplied: Supplied,
                   built_at_as_of: BuiltOnTheDate | None = None) -> Design:
    design = plan_design(as_of, data_start(conn), supplied)
    build_risk_samples(conn, design, thresholds, supplied, table=FEATURES_TABLE, built_at_as_of=built_at_as_of)
    return design


def _practices(conn) -> int:
    return conn.execute(
        f"SELECT count(DISTINCT practice_code) FROM {FEATURES_TABLE} WHERE role = 'training'"
    ).fetchall()[0][0]


def model_settings(as_of: dt.date, thresholds: Thresholds, share: float) -> dict:
    return {
        "as_of": as_of.isoformat(),
        "gp_threshold": thresholds.gp, "ed_threshold": thresholds.ed, "admissions_threshold": thresholds.admissions,
        "rising_risk_share": share,
        "method_version": MODEL_VERSION,
        "seed": SEED,
    }


@dataclass
class Trained:
    card: dict
    chosen: str | None = None
    blob: bytes | None = None
    sha: str | None = None


def train(conn, design: Design, settings: dict) -> Trained:
    """Validate the candidates, refit the chosen one on the training year, and write its card."""
    if design.validation is None:
        return Trained(model_card.no_model_card(design, settings))
    if design.validation == PRACTICE_HOLD_OUT and _practices(conn) < 2:
        reason = (
            "one practice only: with under 48 months of data the model is validated on practices it was not "
            "fitted on, which needs two or more; rising-risk scores are not calculated"
        )
        return Trained(model_card.no_model_card(replace(design, validation=None, reason=reason), settings))
    samples = {role: load_sample(conn, FEATURES_TABLE, role, design.features) for role in ("earlier", "training") if role in design.dates}
    with one_thread():
        try:
            validation = validate(design, samples, SEED)
            model = fit_calibrated(candidates(SEED)[validation.chosen], samples["training"], SEED)
        except TooFewOutcomes as error:
            reason = f"too few outcomes to learn from: {error} (at least {MIN_OUTCOMES} are needed, with these thresholds)"
            return Trained(model_card.no_model_card(replace(design, validation=None, reason=reason), settings))
        blob, sha = dump_model(model)
        return Trained(model_card.build_card(design, validation, settings, SEED), validation.chosen, blob, sha)


def store_model(conn, trained: Trained, design: Design, settings: dict, run_id: str) -> None:
    """One row: the model in use for this run. The history keeps every model a published run used
    (the warehouse carries over from run to run), so the scores of an older run can be reproduced."""
    row = [trained.sha, MODEL_VERSION, trained.chosen, dt.datetime.now(dt.timezone.utc).replace(tzinfo=None), run_id,
           json.dumps(list(design.features)), json.dumps(settings), json.dumps(trained.card), trained.blob]
    columns = ("model_sha256 VARCHAR, method_version VARCHAR, chosen VARCHAR, created_at TIMESTAMP, run_id VARCHAR, "
               "features JSON, settings JSON, card JSON, model BLOB")
    conn.execute(f"CREATE OR REPLACE TABLE {MODEL_TABLE} ({columns})")
    conn.execute(f"INSERT INTO {MODEL_TABLE} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
    conn.execute(f"CREATE TABLE IF NOT EXISTS {HISTORY_TABLE} ({columns})")
    if trained.sha is not None:
        conn.execute(
            f"INSERT INTO {HISTORY_TABLE} SELECT * FROM {MODEL_TABLE} "
            f"WHERE model_sha256 NOT IN (SELECT model_sha256 FROM {HISTORY_TABLE})"
        )


def stored_model(conn, sha: str | None = None):
    """(model or None, its features, its SHA-256): the run's model, or an earlier one by SHA-256."""
    table, where = (HISTORY_TABLE, "WHERE model_sha256 = ?") if sha else (MODEL_TABLE, "")
    found = conn.execute(f"SELECT model_sha256, features, model FROM {table} {where}", [sha] if sha else []).fetchall()
    if not found:
        raise LookupError(f"no stored rising-risk model {sha}")
    sha, features, blob = found[0]
    return (load_model(blob) if blob is not None else None), tuple(json.loads(features)), sha


def score_everyone(conn, model, features: tuple[str, ...], sha: str | None) -> np.ndarray:
    """`rising_risk_scores`: everyone in the population on the as-of date with the probability and the
    base model's log-odds (`risk_order`, which breaks ties in the probability); NULL without a model."""
    scoring = load_sample(conn, FEATURES_TABLE, "scoring", features)
    empty = np.full(len(scoring.person_id), np.nan)
    # Isotonic calibration gives many people the same probability; the base model's log-odds
    # orders them, so who is listed at the cut is decided by the model, not by person ID.
    scores, order = scores_and_order(model, scoring.X) if model is not None else (empty, empty)
    conn.register("scores_frame", pa.table({
        "person_id": pa.array(scoring.person_id, pa.string()),
        "rising_risk_score": pa.array(scores, pa.float64(), mask=np.isnan(scores)),
        "risk_order": pa.array(order, pa.float64(), mask=np.isnan(order)),
    }))
    conn.execute(
        f"CREATE OR REPLACE TABLE {SCORES_TABLE} AS SELECT person_id, rising_risk_score, risk_order, "
        "?::VARCHAR AS model_sha256 FROM scores_frame ORDER BY person_id",
        [sha],
    )
    conn.unregister("scores_frame")
    return scores


def build_lists(conn, as_of: dt.date, share: float, model, features: tuple[str, ...]) -> int:
    """Select each neighbourhood's top share, explain the people selected, and build the lists."""
    selected = select_rising_risk(conn, share, scores=SCORES_TABLE, table=SELECTED_TABLE)
    if model is not None and selected:
        people = load_sample(conn, FEATURES_TABLE, "scoring", features, among=SELECTED_TABLE)
        with one_thread():
            ids, factors = people.person_id, top_factors(model, people.X, features)
    else:
        ids, factors = np.empty(0, dtype=object), np.empty((0, TOP_FACTORS), dtype=np.int64)
    conn.register("factors_frame", pa.table({
        "person_id": pa.array(ids, pa.string()),
        **{f"factor_{k + 1}": pa.array(factors[:, k], pa.int64()) for k in range(TOP_FACTORS)},
    }))
    conn.execute(f"CREATE OR REPLACE TABLE {FACTORS_TABLE} AS SELECT * FROM factors_frame")
    conn.unregister("factors_frame")
    return build_rising_risk_cohort(
        conn, as_of, features, selected=SELECTED_TABLE, factors=FACTORS_TABLE, scores=SCORES_TABLE,
        features_table=FEATURES_TABLE, table=COHORT_TABLE,
    )
