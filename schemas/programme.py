"""Pandera models of the programme metrics (contract section 4): counterfactual activity, the
programme summary, cohort follow-up and the social care profile. As in `schemas.outputs`, the field
descriptions are the data dictionary written beside each file."""

from __future__ import annotations

import datetime as dt
from typing import Optional

import pandera.polars as pa
import polars as pl

MEASURES = ["ed_attendances", "emergency_admissions", "short_stay_admissions", "emergency_bed_days", "ambulance_arrivals"]
AGE_GROUPS = ["all", "65+", "75+"]
METHODS = ["population_standardised", "interrupted_time_series"]
NEIGHBOURHOOD = "Neighbourhood code, or ALL for the whole area."
MEASURE = (
    "ed_attendances (categories 1-3), emergency_admissions (method 2x), short_stay_admissions (emergency, 0 to "
    "{short_stay_max_days} days), emergency_bed_days (of emergency admissions, by admission month; 0 while still in "
    "hospital, so the last months fill in as stays end: their expected is of what can be known so far), "
    "ambulance_arrivals (counted ED attendances arriving by ambulance)."
)
METHOD = (
    "population_standardised: the neighbourhood's baseline rates ({baseline_start} to {baseline_end}) by sex and "
    "five-year age band, with the area's month-of-year pattern, applied to this month's population (for bed "
    "days of the last months, times the share of the baseline's bed days known as long after it). "
    "interrupted_time_series: a segmented Poisson or negative binomial regression of the monthly counts with "
    "the population (times that share) as offset, fitted before and after go-live; expected is the model "
    "without the change."
)


class CounterfactualActivity(pa.DataFrameModel):
    neighbourhood_code: str = pa.Field(description=NEIGHBOURHOOD)
    month: dt.date = pa.Field(description="First day of the calendar month.")
    measure: str = pa.Field(isin=MEASURES, description=MEASURE)
    age_group: str = pa.Field(isin=AGE_GROUPS, description="all, 65+ or 75+: age on the month's first day.")
    method: str = pa.Field(isin=METHODS, description=METHOD)
    population: int = pa.Field(ge=0, description="People in the population on the month's first day (registered, alive).")
    observed: int = pa.Field(ge=0, description="Activity in the month of people registered in the neighbourhood on its date.")
    expected: float = pa.Field(ge=0, description="Activity expected without the programme (see method).")
    avoided: float = pa.Field(description="expected - observed: positive means less activity than expected.")
    expected_lower: float = pa.Field(ge=0, description="95% lower limit of expected: for population_standardised, expected x observed / observed_upper (domain.md); for the time series, of the model's mean.")
    expected_upper: Optional[float] = pa.Field(nullable=True, ge=0, description="95% upper limit of expected (blank for population_standardised when observed is 0).")
    observed_lower: float = pa.Field(ge=0, description="95% lower limit of the observed count (Byar's method).")
    observed_upper: float = pa.Field(ge=0, description="95% upper limit of the observed count (Byar's method).")
    avoided_lower: float = pa.Field(description="95% lower limit of avoided: expected - observed_upper, or for the time series expected_lower - observed.")
    avoided_upper: float = pa.Field(description="95% upper limit of avoided: expected - observed_lower, or for the time series expected_upper - observed.")
    go_live_date: Optional[dt.date] = pa.Field(nullable=True, description="When the neighbourhood team went live (blank: not live, or ALL).")
    after_go_live: Optional[bool] = pa.Field(nullable=True, description="The month is the go-live month or later.")

    class Config:
        strict = True
        ordered = True


class ProgrammeSummary(pa.DataFrameModel):
    neighbourhood_code: str = pa.Field(description="Neighbourhood code, or ALL (for since_go_live: the neighbourhoods with a go-live date, pooled).")
    period: str = pa.Field(isin=["last_12_months", "since_go_live"], description="last_12_months: the 12 months to {last_month} (every neighbourhood); since_go_live: from the go-live month (or the first month after the baseline, if later) to {last_month}.")
    measure: str = pa.Field(isin=MEASURES, description=MEASURE)
    age_group: str = pa.Field(isin=AGE_GROUPS, description="all, 65+ or 75+.")
    method: str = pa.Field(isin=METHODS, description=METHOD + " The time series has no ALL row.")
    go_live_date: Optional[dt.date] = pa.Field(nullable=True, description="When the neighbourhood team went live (blank: not live, or ALL).")
    months: int = pa.Field(ge=0, description="Whole months counted.")
    first_month: dt.date = pa.Field(description="First month counted (for ALL since go-live: the earliest).")
    last_month: dt.date = pa.Field(description="Last month counted.")
    observed: int = pa.Field(ge=0, description="Activity over those months.")
    expected: float = pa.Field(ge=0, description="Activity expected over them without the programme.")
    avoided: float = pa.Field(description="expected - observed.")
    expected_lower: float = pa.Field(ge=0, description="95% lower limit of the activity there would have been without the programme (standardised: expected - 1.96 x the standard deviation of avoided; time series: from draws of its coefficients).")
    expected_upper: float = pa.Field(ge=0, description="95% upper limit of the same.")
    observed_lower: float = pa.Field(ge=0, description="95% lower limit of the summed observed count (Byar's method).")
    observed_upper: float = pa.Field(ge=0, description="95% upper limit of the summed observed count (Byar's method).")
    avoided_lower: float = pa.Field(description="95% lower limit of avoided. Standardised: avoided - 1.96 sd, the sd being sqrt(dispersion x observed + expected_se^2), the period's own variation and the baseline's; time series: expected_lower - observed (the model's interval of its mean only: narrower). An interval that includes 0 shows no change the data can tell from chance.")
    avoided_upper: float = pa.Field(description="95% upper limit of avoided (expected_upper - observed).")
    avoided_pct: Optional[float] = pa.Field(nullable=True, description="avoided as a percentage of expected.")
    dispersion: float = pa.Field(ge=0, description="How much lumpier than independent events the activity is. Standardised: the sum over people of their own total squared, over the total (1: one event a person; bed days come many to a stay), the larger of the neighbourhood's and area_dispersion; time series: the model's Pearson dispersion (a negative binomial model above 1.5).")
    area_dispersion: Optional[float] = pa.Field(nullable=True, ge=1, description="Standardised: the same over the whole area for the period, measure and age group (the published copy shows this and works its limits out from it); blank for the time series.")
    expected_se: Optional[float] = pa.Field(nullable=True, ge=0, description="Standardised: the standard error of expected from the baseline year's own noise (blank for the time series).")

    class Config:
        strict = True
        ordered = True


class CohortFollowup(pa.DataFrameModel):
    neighbourhood_code: str = pa.Field(description=NEIGHBOURHOOD)
    measure: str = pa.Field(isin=["unplanned_activity"], description="unplanned_activity: ED attendances (categories 1-3) plus emergency admissions.")
    cohort_identified_on: dt.date = pa.Field(description="The cohort: high intensity users in the 12 months to this date (as-of minus 12 months), in the population then.")
    comparison_identified_on: Optional[dt.date] = pa.Field(nullable=True, description="The comparison cohort, identified the same way 12 months earlier still (blank when the data do not reach back 36 months).")
    people: int = pa.Field(ge=0, description="People in the cohort.")
    activity_before: int = pa.Field(ge=0, description="Their unplanned activity in the 12 months to cohort_identified_on.")
    activity_after: int = pa.Field(ge=0, description="Their unplanned activity in the 12 months after it.")
    comparison_people: int = pa.Field(ge=0, description="People in the comparison cohort.")
    comparison_activity_before: int = pa.Field(ge=0, description="The comparison cohort's unplanned activity in the 12 months to its date.")
    comparison_activity_after: int = pa.Field(ge=0, description="... and in the 12 months after.")
    change_pct: Optional[float] = pa.Field(nullable=True, description="activity_after against activity_before, percent. A fall is expected whatever the programme does: people picked for a heavy year use less the next (regression to the mean).")
    expected_change_pct: Optional[float] = pa.Field(nullable=True, description="The same change for the comparison cohort: what regression to the mean gives without the programme.")
    net_change_pct: Optional[float] = pa.Field(nullable=True, description="change_pct - expected_change_pct: the change not explained by regression to the mean.")
    net_change_lower: Optional[float] = pa.Field(nullable=True, description="95% lower limit of net_change_pct (bootstrap of people). Blank where a cohort has too few people with activity in the 12 months before for an interval (or no comparison cohort).")
    net_change_upper: Optional[float] = pa.Field(nullable=True, description="95% upper limit of net_change_pct.")
    live_through_followup: Optional[bool] = pa.Field(nullable=True, description="The team went live on or before cohort_identified_on (blank for ALL).")
    net_change_vs_not_live_pct: Optional[float] = pa.Field(nullable=True, description="For live neighbourhoods (and ALL: all live ones pooled): net_change_pct minus that of the neighbourhoods not live, pooled.")
    net_change_vs_not_live_lower: Optional[float] = pa.Field(nullable=True, description="95% lower limit of net_change_vs_not_live_pct (blank as net_change_lower is).")
    net_change_vs_not_live_upper: Optional[float] = pa.Field(nullable=True, description="95% upper limit of net_change_vs_not_live_pct.")

    class Config:
        strict = True
        ordered = True


class SocialCareProfile(pa.DataFrameModel):
    neighbourhood_code: str = pa.Field(description=NEIGHBOURHOOD)
    group: str = pa.Field(isin=["himsu", "hiu_not_himsu", "rest"], description="himsu (high intensity users of 2+ services), hiu_not_himsu (of one service), rest (everyone else in the population with a social care event from {window_start} to {window_end}).")
    people: int = pa.Field(ge=0, description="People in the group.")
    people_in_social_care: int = pa.Field(ge=0, description="Of them, with a social care event from {window_start} to {window_end} or a service open then.")
    people_in_social_care_pct: Optional[float] = pa.Field(nullable=True, ge=0, le=100, description="people_in_social_care as a percentage of people.")
    requests: int = pa.Field(ge=0, description="Social care requests they made in the window.")
    repeat_request_people: int = pa.Field(ge=0, description="People with 2 or more requests in the window.")
    repeat_request_pct: Optional[float] = pa.Field(nullable=True, ge=0, le=100, description="repeat_request_people as a percentage of people_in_social_care.")
    reviews: int = pa.Field(ge=0, description="Social care reviews in the window.")
    unplanned_reviews: int = pa.Field(ge=0, description="Of them, for an unplanned reason ('Unplanned - ...').")
    unplanned_review_pct: Optional[float] = pa.Field(nullable=True, ge=0, le=100, description="unplanned_reviews as a percentage of reviews.")

    class Config:
        strict = True
        ordered = True


def empty_frame(model: type[pa.DataFrameModel]) -> pl.DataFrame:
    """No rows, the model's columns and types: a metric that cannot be calculated this run."""
    return pl.DataFrame(schema={name: column.dtype.type for name, column in model.to_schema().columns.items()})
