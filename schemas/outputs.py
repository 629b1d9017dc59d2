"""Pandera models of the output files (contract section 4). Field descriptions are the data
dictionary written beside every cohort file, so an INT lead reads the same words the code uses.

Descriptions may name the run's numbers as `{gp_threshold}`, `{ed_threshold}`,
`{admissions_threshold}`, `{window_start}`, `{window_end}` and `{as_of}`: `data_dictionary` fills
them in, so the dictionary of a file says "20 or more", not "at or over the threshold"."""

from __future__ import annotations

import datetime as dt
from typing import Optional

import pandera.polars as pa
import polars as pl

from schemas.extracts import NEIGHBOURHOOD_CODE

EFI_CATEGORIES = ["fit", "mild", "moderate", "severe"]
HFRS_BANDS = ["low", "intermediate", "high"]
SERVICES = ["gp", "ed", "admissions"]


# Words for the columns the person-level lists share: one description each, so every data
# dictionary an INT lead opens says the same thing.
PERSON_COLUMNS = {
    "person_id": "Pseudonymised person identifier (never an NHS number).",
    "neighbourhood_code": "Integrated Neighbourhood Team of the person's practice.",
    "pcn_code": "Primary care network of the person's practice.",
    "practice_code": "GP practice the person is registered with on the as-of date.",
    "sex": "F, M or U (unknown).",
    "gp_appointments_12m": "Attended GP practice appointments from {window_start} to {window_end}.",
    "ed_attendances_12m": "Emergency department attendances (categories 1-3: planned follow-ups not counted) from {window_start} to {window_end}.",
    "emergency_admissions_12m": "Emergency hospital admissions (admission method 2x) from {window_start} to {window_end}.",
    "hiu_gp": "GP appointments are {gp_threshold} or more (true; Yes in the workbook).",
    "hiu_ed": "ED attendances are {ed_threshold} or more (true; Yes in the workbook).",
    "hiu_admissions": "Emergency admissions are {admissions_threshold} or more (true; Yes in the workbook).",
    "hfrs_score": "Hospital Frailty Risk Score from admissions in the 2 years to {as_of} (people 75 and over; blank below 75, or for everyone when admission diagnoses were not supplied).",
    "hfrs_band": "low (under 5), intermediate (5 to 15), high (over 15).",
    "neighbourhood_name": "Name of the Integrated Neighbourhood Team.",
    "pcn_name": "Name of the primary care network.",
    "practice_name": "Name of the GP practice.",
    "imd_decile": "Index of Multiple Deprivation decile, 1 = most deprived.",
    "social_care_involved": "Adult social care request from {window_start} to {window_end} or a service during them; blank when the social care extract was not supplied.",
    "as_of_date": "The date this list is as of: counts cover {window_start} to {window_end}.",
}

# Readable headings for the workbooks, one per column of any list.
HEADINGS = {
    "person_id": "Person ID",
    "practice_name": "Practice",
    "age": "Age",
    "sex": "Sex",
    "reason": "Why on the list",
    "gp_appointments_12m": "GP appointments (12 months)",
    "ed_attendances_12m": "ED attendances (12 months)",
    "emergency_admissions_12m": "Emergency admissions (12 months)",
    "high_intensity_services": "Services used at high intensity",
    "himsu": "High use of multiple services",
    "hiu_gp": "High GP use",
    "hiu_ed": "High ED use",
    "hiu_admissions": "High emergency admissions",
    "social_care_involved": "Adult social care involved",
    "efi_score": "eFI score",
    "efi_category": "Frailty (eFI)",
    "efi_deficits": "eFI deficits (of 36)",
    "deficits": "Deficits recorded",
    "housebound": "Housebound",
    "hfrs_score": "HFRS score",
    "hfrs_band": "Hospital frailty risk (HFRS)",
    "rising_risk_score": "Rising risk score",
    "risk_rank": "Rank in neighbourhood",
    "top_factors": "What raises the score most",
    "imd_decile": "Deprivation decile (IMD)",
    "pcn_name": "Primary care network",
    "neighbourhood_name": "Neighbourhood",
    "practice_code": "Practice code",
    "pcn_code": "PCN code",
    "neighbourhood_code": "Neighbourhood code",
    "as_of_date": "As-of date",
}
# Workbook column order: who and why first, codes last (the CSV and Parquet keep the model's order).
WORKBOOK_FIRST = ("person_id", "practice_name", "age", "sex", "reason")
WORKBOOK_LAST = (
    "rising_risk_score", "pcn_name", "neighbourhood_name", "practice_code", "pcn_code", "neighbourhood_code", "as_of_date",
)
DECIMALS = "decimals"  # Field metadata: scores shown to this many places in the CSV and workbook


def rounded_for_display(decimals: int) -> dict:
    return {DECIMALS: decimals}


class HiuCohort(pa.DataFrameModel):
    person_id: str = pa.Field(unique=True, description=PERSON_COLUMNS["person_id"])
    neighbourhood_code: str = pa.Field(
        str_matches=NEIGHBOURHOOD_CODE, description=PERSON_COLUMNS["neighbourhood_code"]
    )
    pcn_code: Optional[str] = pa.Field(nullable=True, description=PERSON_COLUMNS["pcn_code"])
    practice_code: str = pa.Field(description=PERSON_COLUMNS["practice_code"])
    age: Optional[int] = pa.Field(nullable=True, ge=0, le=140, description="Age in whole years on the as-of date (blank when the birth month is after it).")
    sex: str = pa.Field(isin=["F", "M", "U"], description=PERSON_COLUMNS["sex"])
    gp_appointments_12m: int = pa.Field(ge=0, description=PERSON_COLUMNS["gp_appointments_12m"])
    ed_attendances_12m: int = pa.Field(
        ge=0, description=PERSON_COLUMNS["ed_attendances_12m"]
    )
    emergency_admissions_12m: int = pa.Field(ge=0, description=PERSON_COLUMNS["emergency_admissions_12m"])
    hiu_gp: bool = pa.Field(description=PERSON_COLUMNS["hiu_gp"])
    hiu_ed: bool = pa.Field(description=PERSON_COLUMNS["hiu_ed"])
    hiu_admissions: bool = pa.Field(description=PERSON_COLUMNS["hiu_admissions"])
    high_intensity_services: int = pa.Field(ge=1, le=3, description="How many services the person uses at high intensity (1 to 3; GP {gp_threshold}+, ED {ed_threshold}+, emergency admissions {admissions_threshold}+).")
    himsu: bool = pa.Field(description="High intensity user of multiple services: 2 or more services over threshold (GP {gp_threshold}+, ED {ed_threshold}+, emergency admissions {admissions_threshold}+).")
    social_care_involved: Optional[bool] = pa.Field(
        nullable=True,
        description=PERSON_COLUMNS["social_care_involved"],
    )
    efi_score: Optional[float] = pa.Field(
        nullable=True, ge=0, le=1, metadata=rounded_for_display(2),
        description="Electronic frailty index: deficits recorded / 36 (people 65 and over; blank below 65, or for everyone when GP coded events were not supplied).",
    )
    efi_category: Optional[str] = pa.Field(nullable=True, isin=EFI_CATEGORIES, description="fit (0-4 deficits), mild (5-8), moderate (9-12) or severe (13+) frailty (eFI); blank when efi_score is.")
    hfrs_score: Optional[float] = pa.Field(nullable=True, ge=0, metadata=rounded_for_display(1), description=PERSON_COLUMNS["hfrs_score"])
    hfrs_band: Optional[str] = pa.Field(nullable=True, isin=HFRS_BANDS, description=PERSON_COLUMNS["hfrs_band"])
    rising_risk_score: Optional[float] = pa.Field(
        nullable=True, ge=0, le=1, metadata=rounded_for_display(3),
        description=(
            "Predicted probability (0 to 1) of being a high intensity user in the 12 months after {as_of} too, "
            "from the rising-risk model (metrics/rising_risk_model.md); blank for everyone when the data were too "
            "short to train it."
        ),
    )
    reason: str = pa.Field(description="Which thresholds were met, in words, e.g. 'GP 24 ({gp_threshold}+), ED 6 ({ed_threshold}+)'.")
    neighbourhood_name: Optional[str] = pa.Field(nullable=True, description=PERSON_COLUMNS["neighbourhood_name"])
    pcn_name: Optional[str] = pa.Field(nullable=True, description=PERSON_COLUMNS["pcn_name"])
    practice_name: Optional[str] = pa.Field(nullable=True, description=PERSON_COLUMNS["practice_name"])
    imd_decile: Optional[int] = pa.Field(nullable=True, ge=1, le=10, description=PERSON_COLUMNS["imd_decile"])
    as_of_date: dt.date = pa.Field(description=PERSON_COLUMNS["as_of_date"])

    class Config:
        strict = True
        ordered = True


class ServiceConcentration(pa.DataFrameModel):
    neighbourhood_code: str = pa.Field(description="Neighbourhood code, or ALL for the whole area.")
    neighbourhood_name: Optional[str] = pa.Field(nullable=True, description="Neighbourhood name.")
    service: str = pa.Field(isin=SERVICES, description="gp, ed or admissions (emergency admissions).")
    population: int = pa.Field(ge=0, description="People in the population on the as-of date.")
    hiu_people: int = pa.Field(ge=0, description="People at or over this service's threshold (GP {gp_threshold}+, ED {ed_threshold}+, emergency admissions {admissions_threshold}+).")
    hiu_people_pct: Optional[float] = pa.Field(nullable=True, ge=0, le=100, description="hiu_people as a percentage of population.")
    activity_total: int = pa.Field(ge=0, description="All counted activity of this service from {window_start} to {window_end}.")
    activity_hiu: int = pa.Field(ge=0, description="Activity of this service's high intensity users.")
    activity_hiu_pct: Optional[float] = pa.Field(nullable=True, ge=0, le=100, description="activity_hiu as a percentage of activity_total.")
    himsu_people: int = pa.Field(ge=0, description="High intensity users of multiple services (the same on each service's row).")
    activity_himsu: int = pa.Field(ge=0, description="Activity of this service by HIMSU people.")
    mean_per_person_all: Optional[float] = pa.Field(nullable=True, ge=0, description="activity_total / population.")
    mean_per_person_himsu: Optional[float] = pa.Field(nullable=True, ge=0, description="activity_himsu / himsu_people.")
    any_hiu_people: int = pa.Field(ge=0, description="People over the threshold of at least one service (GP {gp_threshold}+, ED {ed_threshold}+, emergency admissions {admissions_threshold}+).")

    class Config:
        strict = True
        ordered = True


CSV_GUARD = (
    "Formula guard: in the CSV only, a value starting with =, +, -, @, a tab or a carriage return gets a ' in front "
    "(Parquet and workbook unchanged)."
)


def data_dictionary(model: type[pa.DataFrameModel], terms: dict) -> pl.DataFrame:
    """Column, heading, type and meaning of every column of an output model, with the run's numbers
    (`terms`: thresholds, window, as-of date) written into the meanings, and what the CSV does to
    the column (the formula guard on text, rounding of scores)."""
    schema = model.to_schema()
    columns = schema.columns.values()
    return pl.DataFrame(
        {
            "column": [c.name for c in columns],
            "heading": [HEADINGS.get(c.name, c.name) for c in columns],
            "type": [_plain_type(c.dtype.type) for c in columns],
            "blank_allowed": [c.nullable for c in columns],
            "description": [(c.description or "").format(**terms) for c in columns],
            "in_the_csv": [_csv_note(c) for c in columns],
        }
    )


def _csv_note(column) -> str:
    decimals = (column.metadata or {}).get(DECIMALS)
    if decimals is not None:
        return f"Rounded to {decimals} decimal places in the CSV and workbook; full precision in the Parquet."
    if column.dtype.type == pl.String:
        return CSV_GUARD
    return ""


def display_decimals(model: type[pa.DataFrameModel]) -> dict[str, int]:
    """Columns shown rounded in the CSV and workbook, and to how many places."""
    return {
        name: column.metadata[DECIMALS]
        for name, column in model.to_schema().columns.items()
        if column.metadata and DECIMALS in column.metadata
    }


def workbook_columns(model: type[pa.DataFrameModel]) -> list[tuple[str, str]]:
    """(column, heading) in the order of the workbook's list sheet: every column of the model once.
    A model may name its own first columns (Config metadata `workbook_first`)."""
    schema = model.to_schema()
    names = list(schema.columns)
    first = [n for n in (getattr(model.__config__, "metadata", None) or {}).get("workbook_first", WORKBOOK_FIRST) if n in names]
    last = [n for n in WORKBOOK_LAST if n in names and n not in first]
    middle = [n for n in names if n not in first and n not in last]
    return [(n, HEADINGS[n]) for n in first + middle + last]


def _plain_type(dtype: pl.DataType) -> str:
    if dtype == pl.Boolean:
        return "true/false"
    if dtype.is_integer():
        return "whole number"
    if dtype.is_float():
        return "number"
    if dtype == pl.Date:
        return "date (YYYY-MM-DD)"
    return "text"



class FrailtyCohort(pa.DataFrameModel):
    person_id: str = pa.Field(unique=True, description=PERSON_COLUMNS["person_id"])
    neighbourhood_code: str = pa.Field(str_matches=NEIGHBOURHOOD_CODE, description=PERSON_COLUMNS["neighbourhood_code"])
    pcn_code: Optional[str] = pa.Field(nullable=True, description=PERSON_COLUMNS["pcn_code"])
    practice_code: str = pa.Field(description=PERSON_COLUMNS["practice_code"])
    age: int = pa.Field(ge=65, le=140, description="Age in whole years on the as-of date (65 and over).")
    sex: str = pa.Field(isin=["F", "M", "U"], description=PERSON_COLUMNS["sex"])
    efi_score: float = pa.Field(ge=0, le=1, metadata=rounded_for_display(2), description="Electronic frailty index: deficits recorded / 36.")
    efi_category: str = pa.Field(isin=EFI_CATEGORIES, description="fit (0-4 deficits), mild (5-8), moderate (9-12), severe (13+).")
    efi_deficits: int = pa.Field(ge=0, le=36, description="How many of the 36 eFI deficits are recorded.")
    housebound: bool = pa.Field(description="Housebound recorded (eFI deficit 16).")
    deficits: str = pa.Field(description="The eFI deficits recorded, in words, separated by semicolons.")
    hfrs_score: Optional[float] = pa.Field(nullable=True, ge=0, le=173.2, metadata=rounded_for_display(1), description=PERSON_COLUMNS["hfrs_score"])
    hfrs_band: Optional[str] = pa.Field(nullable=True, isin=HFRS_BANDS, description=PERSON_COLUMNS["hfrs_band"])
    gp_appointments_12m: int = pa.Field(ge=0, description=PERSON_COLUMNS["gp_appointments_12m"])
    ed_attendances_12m: int = pa.Field(ge=0, description=PERSON_COLUMNS["ed_attendances_12m"])
    emergency_admissions_12m: int = pa.Field(ge=0, description=PERSON_COLUMNS["emergency_admissions_12m"])
    hiu_gp: bool = pa.Field(description=PERSON_COLUMNS["hiu_gp"])
    hiu_ed: bool = pa.Field(description=PERSON_COLUMNS["hiu_ed"])
    hiu_admissions: bool = pa.Field(description=PERSON_COLUMNS["hiu_admissions"])
    high_intensity_services: int = pa.Field(ge=0, le=3, description="How many services the person uses at high intensity (0 to 3; GP {gp_threshold}+, ED {ed_threshold}+, emergency admissions {admissions_threshold}+).")
    himsu: bool = pa.Field(description="High intensity user of multiple services: 2 or more services over threshold.")
    social_care_involved: Optional[bool] = pa.Field(nullable=True, description=PERSON_COLUMNS["social_care_involved"])
    neighbourhood_name: Optional[str] = pa.Field(nullable=True, description=PERSON_COLUMNS["neighbourhood_name"])
    pcn_name: Optional[str] = pa.Field(nullable=True, description=PERSON_COLUMNS["pcn_name"])
    practice_name: Optional[str] = pa.Field(nullable=True, description=PERSON_COLUMNS["practice_name"])
    imd_decile: Optional[int] = pa.Field(nullable=True, ge=1, le=10, description=PERSON_COLUMNS["imd_decile"])
    as_of_date: dt.date = pa.Field(description=PERSON_COLUMNS["as_of_date"])

    class Config:
        strict = True
        ordered = True


class RisingRiskCohort(pa.DataFrameModel):
    person_id: str = pa.Field(unique=True, description=PERSON_COLUMNS["person_id"])
    neighbourhood_code: str = pa.Field(str_matches=NEIGHBOURHOOD_CODE, description=PERSON_COLUMNS["neighbourhood_code"])
    pcn_code: Optional[str] = pa.Field(nullable=True, description=PERSON_COLUMNS["pcn_code"])
    practice_code: str = pa.Field(description=PERSON_COLUMNS["practice_code"])
    age: Optional[int] = pa.Field(nullable=True, ge=0, le=140, description="Age in whole years on the as-of date.")
    sex: str = pa.Field(isin=["F", "M", "U"], description=PERSON_COLUMNS["sex"])
    rising_risk_score: float = pa.Field(
        ge=0, le=1, metadata=rounded_for_display(3),
        description=(
            "Predicted probability (0 to 1) of becoming a high intensity user (GP {gp_threshold}+, ED {ed_threshold}+ "
            "or emergency admissions {admissions_threshold}+ in a year) in the 12 months after {as_of}: 0.150 means "
            "about 15 in 100 people with this score. From the rising-risk model, metrics/rising_risk_model.md."
        ),
    )
    risk_rank: int = pa.Field(ge=1, description="Rank by score among this neighbourhood's people who are not high intensity users now (1 = highest).")
    top_factors: str = pa.Field(
        description=(
            "Up to three things raising this person's score most, largest first, with their numbers: 'ED attendances "
            "rising: 1 to 4 in 6 months' means 1 in the 6 months before and 4 in the last 6 (to {as_of}). From the "
            "model's exact attributions (SHAP values, or the terms of the logistic regression); only factors that "
            "raise the score are named."
        ),
    )
    gp_appointments_12m: int = pa.Field(ge=0, description=PERSON_COLUMNS["gp_appointments_12m"])
    ed_attendances_12m: int = pa.Field(ge=0, description=PERSON_COLUMNS["ed_attendances_12m"])
    emergency_admissions_12m: int = pa.Field(ge=0, description=PERSON_COLUMNS["emergency_admissions_12m"])
    efi_category: Optional[str] = pa.Field(nullable=True, isin=EFI_CATEGORIES, description="fit (0-4 deficits), mild (5-8), moderate (9-12) or severe (13+) frailty (eFI, people 65 and over); blank below 65 or without GP coded events.")
    hfrs_band: Optional[str] = pa.Field(nullable=True, isin=HFRS_BANDS, description=PERSON_COLUMNS["hfrs_band"] + " Blank below 75 or without admission diagnoses.")
    social_care_involved: Optional[bool] = pa.Field(nullable=True, description=PERSON_COLUMNS["social_care_involved"])
    neighbourhood_name: Optional[str] = pa.Field(nullable=True, description=PERSON_COLUMNS["neighbourhood_name"])
    pcn_name: Optional[str] = pa.Field(nullable=True, description=PERSON_COLUMNS["pcn_name"])
    practice_name: Optional[str] = pa.Field(nullable=True, description=PERSON_COLUMNS["practice_name"])
    imd_decile: Optional[int] = pa.Field(nullable=True, ge=1, le=10, description=PERSON_COLUMNS["imd_decile"])
    as_of_date: dt.date = pa.Field(description=PERSON_COLUMNS["as_of_date"])

    class Config:
        strict = True
        ordered = True
        metadata = {"workbook_first": ("risk_rank", "person_id", "practice_name", "age", "sex", "rising_risk_score", "top_factors")}


class FrailtySummary(pa.DataFrameModel):
    neighbourhood_code: str = pa.Field(description="Neighbourhood code, or ALL for the whole area.")
    neighbourhood_name: Optional[str] = pa.Field(nullable=True, description="Neighbourhood name.")
    age_band: str = pa.Field(isin=["65-74", "75-84", "85+"], description="Age on the as-of date.")
    efi_category: str = pa.Field(isin=[*EFI_CATEGORIES, "not scored"], description="eFI category; 'not scored' without GP coded data.")
    people: int = pa.Field(ge=0, description="People in this neighbourhood, age band and category.")
    people_pct_of_age_band: Optional[float] = pa.Field(nullable=True, ge=0, le=100, description="people as a percentage of the neighbourhood's age band.")
    hiu_people: int = pa.Field(ge=0, description="Of them, high intensity users of any service.")
    gp_appointments_12m: int = pa.Field(ge=0, description="Their attended GP appointments in the 12 months.")
    ed_attendances_12m: int = pa.Field(ge=0, description="Their ED attendances in the 12 months.")
    emergency_admissions_12m: int = pa.Field(ge=0, description="Their emergency admissions in the 12 months.")

    class Config:
        strict = True
        ordered = True
