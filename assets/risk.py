"""Rising risk: features at three dates, the model and its card, everyone's score, and the lists.

The model's numbers leave the warehouse only as aggregates: the card (figures over hundreds of
people) and the per-neighbourhood lists, which are patient-level files for direct care like the
high intensity lists.
"""

import json

import dagster as dg
import numpy as np

from assets.extracts import extract_supplied
from assets.factory import PERIOD_TABLE, Step, failed, warehouse_asset, warehouse_check
from assets.model_checks import matches_model
from risk import card as model_card
from risk.features import BuiltOnTheDate, Supplied
from risk.cohort import audit_lists
from risk.samples import plan_design
from risk.steps import (
    COHORT_TABLE, FEATURES_TABLE, SCORES_TABLE, build_features, build_lists, data_start, model_settings,
    score_everyone, store_model, stored_model, train,
)
from schemas.outputs import RisingRiskCohort


def _supplied(step: Step) -> Supplied:
    return Supplied(
        social_care=extract_supplied(step.conn, "social_care_events"),
        efi=extract_supplied(step.conn, "gp_coded_events") and extract_supplied(step.conn, "gp_medications"),
        hfrs=extract_supplied(step.conn, "admission_diagnoses"),
    )


@warehouse_asset(
    group="risk",
    deps=["person_events", "person_register", "efi_scores", PERIOD_TABLE, "feed_coverage", "frailty_reference_lists",
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
    # the as-of date's register and eFI are the run's own (`person_register`, `efi_scores`)
    design = build_features(step.conn, step.period.as_of, step.thresholds, _supplied(step), BuiltOnTheDate())
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
    design = plan_design(step.period.as_of, data_start(step.conn), _supplied(step))
    settings = model_settings(step.period.as_of, step.thresholds, step.settings.rising_risk_share)
    trained = train(step.conn, design, settings)
    store_model(step.conn, trained, design, settings, step.context.run.run_id)
    card = dg.MetadataValue.md(model_card.render_markdown(trained.card))
    if trained.blob is None:
        why = trained.card["why_not"]
        step.log.warning(f"rising risk not modelled: {why}")
        return {"trained": False, "why_no_model": why, "card": card}
    return {"trained": True, "model_sha256": trained.sha, **model_card.headline(trained.card), "card": card}


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
    scores = score_everyone(step.conn, model, features, sha)
    scored = scores[~np.isnan(scores)]
    return {"people": len(scores), "scored": int(len(scored)), **({"mean_score": float(scored.mean())} if len(scored) else {})}


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
    build_lists(step.conn, step.period.as_of, step.settings.rising_risk_share, model, features)
    per = dict(step.conn.execute(f"SELECT neighbourhood_code, count(*) FROM {COHORT_TABLE} GROUP BY 1 ORDER BY 1").fetchall())
    return {"people": sum(per.values()), "by_neighbourhood": dg.MetadataValue.json(per), "share": step.settings.rising_risk_share}


rising_risk_cohort_matches_schema = matches_model(rising_risk_cohort, "rising_risk_cohort", RisingRiskCohort)


@warehouse_check(
    rising_risk_cohort,
    name="rising_risk_lists_are_the_top_share",
    description=(
        "Each neighbourhood's list holds exactly its top share of non-high-intensity people by score, recounted "
        "from `rising_risk_scores` and `person_intensity`: as many as the share, nobody left out who scores above "
        "the lowest listed, ranks 1 to that number, and no current high intensity user or stranger on it."
    ),
)
def rising_risk_lists_are_the_top_share(step: Step) -> dg.AssetCheckResult:
    problems, unexplained = audit_lists(step.conn, step.settings.rising_risk_share, SCORES_TABLE, COHORT_TABLE)
    if problems:
        return failed("rising-risk lists: " + "; ".join(problems))
    return dg.AssetCheckResult(passed=True, metadata={"listed_without_a_factor": unexplained})


@warehouse_check(
    rising_risk_model,
    name="rising_risk_model_trained",
    description=(
        "WARN when no rising-risk model could be trained (under 24 months of activity, one practice with under 48, "
        "too few outcomes), saying why, or when it ranks no better than current activity on the validation population."
    ),
)
def rising_risk_model_trained(step: Step) -> dg.AssetCheckResult:
    ((card_json,),) = step.conn.execute("SELECT card FROM rising_risk_model").fetchall()
    card = json.loads(card_json)
    if not card["trained"]:
        message = f"no rising-risk scores in this run: {card['why_not']}"
    else:
        top = card["comparison"]["top_5pct"]
        model_auroc, naive_auroc = card["model"]["auroc"], card["naive"]["auroc"]
        if top["difference_points"] > 0 and (model_auroc or 0) > (naive_auroc or 0):
            return dg.AssetCheckResult(passed=True, metadata={"top_5pct_points_over_naive": top["difference_points"]})
        message = (
            f"the rising-risk model does no better than ranking by current activity on the validation population "
            f"(top 5%: {top['model_sensitivity_pct']}% against {top['naive_sensitivity_pct']}% of new high intensity "
            f"users; AUROC {model_auroc} against {naive_auroc}): read metrics/rising_risk_model.md before using the lists"
        )
    return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.WARN, metadata={"message": message})
