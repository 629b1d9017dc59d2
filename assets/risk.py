"""Rising risk: features at three dates, the model and its card, everyone's score, and the lists.

The model's numbers leave the warehouse only as aggregates: the card (figures over hundreds of
people) and the per-neighbourhood lists, which are patient-level files for direct care like the
high intensity lists.
"""

import datetime as dt
import json

import dagster as dg
import numpy as np
import pyarrow as pa

from assets.extracts import extract_supplied
from assets.factory import PERIOD_TABLE, Step, failed, warehouse_asset, warehouse_check
from assets.model_checks import matches_model
from risk import card as model_card
from risk.cohort import build_rising_risk_cohort, select_rising_risk
from risk.explain import top_factors
from risk.features import Supplied
from risk.model import MODEL_VERSION, dump_model, fit_calibrated, load_model, load_sample, predict, validate, candidates
from risk.samples import Design, build_risk_samples, plan_design
from schemas.outputs import RisingRiskCohort

SEED = 20250331  # fixed: the same drop and settings give the same model, scores and lists
FEATURES_TABLE, MODEL_TABLE, HISTORY_TABLE, SCORES_TABLE = (
    "risk_features", "rising_risk_model", "rising_risk_model_history", "rising_risk_scores",
)


def _supplied(step: Step) -> Supplied:
    return Supplied(
        social_care=extract_supplied(step.conn, "social_care_events"),
        efi=extract_supplied(step.conn, "gp_coded_events") and extract_supplied(step.conn, "gp_medications"),
        hfrs=extract_supplied(step.conn, "admission_diagnoses"),
    )


def _data_start(step: Step) -> dt.date | None:
    """The first day every required activity feed covers."""
    return step.conn.execute("SELECT max(first_date) FROM feed_coverage WHERE required").fetchone()[0]


def _design(step: Step) -> Design:
    return plan_design(step.period.as_of, _data_start(step), _supplied(step))


@warehouse_asset(
    group="risk",
    deps=["person_events", "person_register", PERIOD_TABLE, "feed_coverage", "frailty_reference_lists",
          "stg_gp_coded_events", "stg_gp_medications", "stg_admissions", "stg_admission_diagnoses"],
    description=(
        "Rising-risk features for everyone in the population at each feature date (as-of, as-of - 12 months, "
        "and as-of - 24 months when the data reach back far enough), with whether each person was a high "
        "intensity user then and, for the earlier dates, whether they were one in the 12 months after. Counts "
        "by service over 3, 6 and 12 months and the 12 before, the trend, GP DNA rate, ambulance arrivals, "
        "short-stay admissions and bed days, age, sex, IMD, eFI, HFRS, social care; all dated up to the "
        "feature date only."
    ),
)
def risk_features(step: Step) -> dict:
    design = _design(step)
    build_risk_samples(step.conn, design, step.thresholds, _supplied(step))
    rows = dict(step.conn.execute(f"SELECT role, count(*) FROM {FEATURES_TABLE} GROUP BY 1 ORDER BY 1").fetchall())
    if design.reason:
        step.log.warning(f"rising risk not modelled: {design.reason}")
    return {
        "validation": design.validation or "none",
        "feature_dates": dg.MetadataValue.json({role: day.isoformat() for role, day in design.dates.items()}),
        "features_used": len(design.features),
        "features_left_out": dg.MetadataValue.json(design.left_out),
        "rows_by_role": dg.MetadataValue.json(rows),
        **({"why_no_model": design.reason} if design.reason else {}),
    }


@warehouse_asset(
    group="risk",
    table=False,
    kinds=("duckdb", "scikit-learn"),
    deps=["risk_features"],
    description=(
        "The rising-risk model: gradient boosting and a logistic regression, each calibrated on whole-practice "
        "folds, compared on a later time window (or held-out practices), the better refitted on the latest "
        "year. Stored as skops bytes in `rising_risk_model` (and by its SHA-256 in `rising_risk_model_history`) "
        "with its design, features and settings; its card's figures are this asset's metadata."
    ),
)
def rising_risk_model(step: Step) -> dict:
    design = _design(step)
    settings = _model_settings(step)
    if design.validation is None:
        card = model_card.no_model_card(design, settings)
        _store(step, design, settings, card, None, None, None)
        step.log.warning(f"rising risk not modelled: {design.reason}")
        return {"trained": False, "why_no_model": design.reason, "card": dg.MetadataValue.md(model_card.render_markdown(card))}
    samples = {role: load_sample(step.conn, FEATURES_TABLE, role, design.features) for role in ("earlier", "training") if role in design.dates}
    validation = validate(design, samples, SEED)
    model = fit_calibrated(candidates(SEED)[validation.chosen], samples["training"], SEED)
    blob, sha = dump_model(model)
    card = model_card.build_card(design, validation, settings, SEED)
    _store(step, design, settings, card, validation.chosen, blob, sha)
    return {"trained": True, "model_sha256": sha, **model_card.headline(card), "card": dg.MetadataValue.md(model_card.render_markdown(card))}


def _model_settings(step: Step) -> dict:
    t = step.thresholds
    return {
        "as_of": step.period.as_of.isoformat(),
        "gp_threshold": t.gp, "ed_threshold": t.ed, "admissions_threshold": t.admissions,
        "rising_risk_share": step.settings.rising_risk_share,
        "method_version": MODEL_VERSION,
        "seed": SEED,
    }


def _store(step: Step, design: Design, settings: dict, card: dict, chosen, blob, sha) -> None:
    """One row: the model in use for this run. The history keeps every model a run has published
    (the warehouse carries over from run to run), so older scores can be reproduced."""
    row = [sha, MODEL_VERSION, chosen, dt.datetime.now(dt.timezone.utc).replace(tzinfo=None), step.context.run.run_id,
           json.dumps(list(design.features)), json.dumps(settings), json.dumps(card), blob]
    columns = ("model_sha256 VARCHAR, method_version VARCHAR, chosen VARCHAR, created_at TIMESTAMP, run_id VARCHAR, "
               "features JSON, settings JSON, card JSON, model BLOB")
    step.conn.execute(f"CREATE OR REPLACE TABLE {MODEL_TABLE} ({columns})")
    step.conn.execute(f"INSERT INTO {MODEL_TABLE} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
    step.conn.execute(f"CREATE TABLE IF NOT EXISTS {HISTORY_TABLE} ({columns})")
    if sha is not None:
        step.conn.execute(
            f"INSERT INTO {HISTORY_TABLE} SELECT * FROM {MODEL_TABLE} WHERE model_sha256 NOT IN (SELECT model_sha256 FROM {HISTORY_TABLE})"
        )


def stored_model(conn):
    """(model or None, its features, its SHA-256) as stored by `rising_risk_model`."""
    sha, features, blob = conn.execute(f"SELECT model_sha256, features, model FROM {MODEL_TABLE}").fetchone()
    return (load_model(blob) if blob is not None else None), tuple(json.loads(features)), sha


@warehouse_asset(
    group="risk",
    deps=["rising_risk_model"],
    description=(
        "`rising_risk_scores`: everyone in the population on the as-of date with their probability of being a "
        "high intensity user in the next 12 months (null when no model could be trained) and the model's SHA-256."
    ),
)
def rising_risk_scores(step: Step) -> dict:
    model, features, sha = stored_model(step.conn)
    scoring = load_sample(step.conn, FEATURES_TABLE, "scoring", features)
    scores = predict(model, scoring.X) if model is not None else np.full(len(scoring.person_id), np.nan)
    frame = pa.table({"person_id": pa.array(scoring.person_id, pa.string()),
                      "rising_risk_score": pa.array(scores, pa.float64(), mask=np.isnan(scores))})
    step.conn.register("scores_frame", frame)
    step.conn.execute(
        f"CREATE OR REPLACE TABLE {SCORES_TABLE} AS SELECT person_id, rising_risk_score, ?::VARCHAR AS model_sha256 "
        "FROM scores_frame ORDER BY person_id",
        [sha],
    )
    step.conn.unregister("scores_frame")
    scored = scores[~np.isnan(scores)]
    return {
        "people": len(scores),
        "scored": int(len(scored)),
        **({"mean_score": float(scored.mean())} if len(scored) else {}),
    }


@warehouse_asset(
    group="risk",
    model=RisingRiskCohort,
    deps=["rising_risk_scores", "person_intensity", "efi_scores", "hfrs_scores"],
    description=(
        "The rising-risk list: per neighbourhood, the top HIU_RISING_RISK_SHARE (default 2%) of the people who "
        "are not high intensity users now, by score, with their rank and the three things raising their score "
        "most, in words (from SHAP values or the logistic regression's terms)."
    ),
)
def rising_risk_cohort(step: Step) -> dict:
    model, features, _ = stored_model(step.conn)
    selected = select_rising_risk(step.conn, step.settings.rising_risk_share, scores=SCORES_TABLE, table="rising_risk_selected")
    if model is not None and selected:
        people = load_sample(step.conn, FEATURES_TABLE, "scoring", features, among="rising_risk_selected")
        factors = top_factors(model, people.X, features)
    else:
        people, factors = None, np.empty((0, 3), dtype=np.int64)
    ids = people.person_id if people is not None else np.empty(0, dtype=object)
    step.conn.register("factors_frame", pa.table({
        "person_id": pa.array(ids, pa.string()),
        **{f"factor_{k + 1}": pa.array(factors[:, k], pa.int64()) for k in range(3)},
    }))
    step.conn.execute("CREATE OR REPLACE TABLE rising_risk_factors AS SELECT * FROM factors_frame")
    step.conn.unregister("factors_frame")
    build_rising_risk_cohort(step.conn, step.period.as_of, features, features_table=FEATURES_TABLE)
    per = dict(step.conn.execute("SELECT neighbourhood_code, count(*) FROM rising_risk_cohort GROUP BY 1 ORDER BY 1").fetchall())
    return {"people": sum(per.values()), "by_neighbourhood": dg.MetadataValue.json(per),
            "share": step.settings.rising_risk_share}


rising_risk_cohort_matches_schema = matches_model(rising_risk_cohort, "rising_risk_cohort", RisingRiskCohort)


@warehouse_check(
    rising_risk_cohort,
    name="rising_risk_lists_are_the_top_share",
    description=(
        "Each neighbourhood's list holds exactly its top share of non-high-intensity people by score, recounted "
        "from `rising_risk_scores` and `person_intensity`; no current high intensity user is on it; every listed "
        "person has at least one named factor."
    ),
)
def rising_risk_lists_are_the_top_share(step: Step) -> dg.AssetCheckResult:
    share = step.settings.rising_risk_share
    rows = step.conn.execute(
        f"""
        WITH eligible AS (
            SELECT i.neighbourhood_code, s.person_id, s.rising_risk_score
            FROM person_intensity i JOIN {SCORES_TABLE} s USING (person_id)
            WHERE i.high_intensity_services = 0 AND s.rising_risk_score IS NOT NULL
        ), expected AS (
            SELECT neighbourhood_code, greatest(1, floor(count(*) * {share} + 0.5))::BIGINT AS k, count(*) AS n FROM eligible GROUP BY 1
        ), listed AS (
            SELECT c.neighbourhood_code, count(*) AS listed,
                   count(*) FILTER (WHERE i.high_intensity_services > 0) AS hiu,
                   count(*) FILTER (WHERE c.top_factors = '') AS unexplained,
                   min(c.rising_risk_score) AS lowest
            FROM rising_risk_cohort c JOIN person_intensity i USING (person_id) GROUP BY 1
        )
        SELECT e.neighbourhood_code, e.k, coalesce(l.listed, 0), coalesce(l.hiu, 0), coalesce(l.unexplained, 0),
               (SELECT count(*) FROM eligible x WHERE x.neighbourhood_code = e.neighbourhood_code
                  AND x.rising_risk_score > l.lowest) AS above_lowest
        FROM expected e LEFT JOIN listed l USING (neighbourhood_code) ORDER BY 1
        """
    ).fetchall()
    problems = []
    for code, k, listed, hiu, unexplained, above in rows:
        if listed != k:
            problems.append(f"{code}: {listed} listed, the top share is {k}")
        if hiu:
            problems.append(f"{code}: {hiu} current high intensity users listed")
        if above is not None and above >= k:
            problems.append(f"{code}: {above} people score above the lowest listed, more than the list holds")
    if problems:
        return failed("rising-risk lists: " + "; ".join(problems))
    return dg.AssetCheckResult(
        passed=True, metadata={"neighbourhoods": len(rows), "listed_without_a_factor": sum(r[4] for r in rows)}
    )
