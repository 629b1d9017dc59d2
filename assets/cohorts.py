"""Cohorts: high intensity use flags for everyone, and the HIU cohort itself."""

import dagster as dg

from assets.factory import Step, warehouse_asset
from assets.model_checks import matches_model
from cohorts.hiu import build_hiu_cohort, build_person_intensity
from schemas.outputs import HiuCohort


@warehouse_asset(
    group="cohorts",
    deps=["person_activity_12m"],
    description=(
        "Every registered person with high intensity flags per service (thresholds from the reporting "
        "period), the number of services over threshold, HIMSU, and the reason in words."
    ),
)
def person_intensity(step: Step) -> dict:
    thresholds = step.thresholds
    build_person_intensity(step.conn, thresholds)
    by_services = step.conn.execute(
        "SELECT high_intensity_services, count(*) FROM person_intensity GROUP BY 1 ORDER BY 1"
    ).fetchall()
    return {
        "thresholds": dg.MetadataValue.json(vars(thresholds)),
        "people_by_services_over_threshold": dg.MetadataValue.json({str(k): v for k, v in by_services}),
    }


@warehouse_asset(
    group="cohorts",
    model=HiuCohort,
    deps=["person_intensity", "efi_scores", "hfrs_scores", "rising_risk_scores"],
    description=(
        "The high intensity user cohort: one row per person in the population who is over the threshold "
        "of at least one service, with frailty scores and rising-risk score, in the columns of "
        "`schemas.outputs.HiuCohort`."
    ),
)
def hiu_cohort(step: Step) -> dict:
    build_hiu_cohort(
        step.conn, as_of=step.period.as_of, efi="efi_scores", hfrs="hfrs_scores", rising_risk="rising_risk_scores"
    )
    hiu, himsu = step.conn.execute("SELECT count(*), count(*) FILTER (WHERE himsu) FROM hiu_cohort").fetchall()[0]
    return {"hiu_people": hiu, "himsu_people": himsu}


hiu_cohort_matches_schema = matches_model(hiu_cohort, "hiu_cohort", HiuCohort)
