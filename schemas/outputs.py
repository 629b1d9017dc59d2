"""Pandera models of the output files (contract section 4). Field descriptions are the data
dictionary written beside every cohort file, so an INT lead reads the same words the code uses."""

from __future__ import annotations

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
    "gp_appointments_12m": "Attended GP practice appointments in the 12 months to the as-of date.",
    "ed_attendances_12m": "Emergency department attendances in the 12 months (planned follow-ups not counted).",
    "emergency_admissions_12m": "Emergency hospital admissions in the 12 months.",
    "hiu_gp": "GP appointments at or over the GP threshold.",
    "hiu_ed": "ED attendances at or over the ED threshold.",
    "hiu_admissions": "Emergency admissions at or over the admissions threshold.",
    "hfrs_score": "Hospital Frailty Risk Score (people 75 and over).",
    "hfrs_band": "low (under 5), intermediate (5 to 15), high (over 15).",
    "neighbourhood_name": "Name of the Integrated Neighbourhood Team.",
    "pcn_name": "Name of the primary care network.",
    "practice_name": "Name of the GP practice.",
    "imd_decile": "Index of Multiple Deprivation decile, 1 = most deprived.",
}


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
    high_intensity_services: int = pa.Field(ge=1, le=3, description="How many services the person uses at high intensity (1 to 3).")
    himsu: bool = pa.Field(description="High intensity user of multiple services: 2 or more services over threshold.")
    social_care_involved: Optional[bool] = pa.Field(
        nullable=True,
        description="Adult social care request in the 12 months or a service during them; blank when the social care extract was not supplied.",
    )
    efi_score: Optional[float] = pa.Field(nullable=True, ge=0, le=1, description="Electronic frailty index (people 65 and over).")
    efi_category: Optional[str] = pa.Field(nullable=True, isin=EFI_CATEGORIES, description="fit, mild, moderate or severe frailty (eFI).")
    hfrs_score: Optional[float] = pa.Field(nullable=True, ge=0, description=PERSON_COLUMNS["hfrs_score"])
    hfrs_band: Optional[str] = pa.Field(nullable=True, isin=HFRS_BANDS, description=PERSON_COLUMNS["hfrs_band"])
    rising_risk_score: Optional[float] = pa.Field(nullable=True, ge=0, le=1, description="Predicted probability of high intensity use next year.")
    reason: str = pa.Field(description="Which thresholds were met, in words, e.g. 'GP 24 (20+), ED 6 (5+)'.")
    neighbourhood_name: Optional[str] = pa.Field(nullable=True, description=PERSON_COLUMNS["neighbourhood_name"])
    pcn_name: Optional[str] = pa.Field(nullable=True, description=PERSON_COLUMNS["pcn_name"])
    practice_name: Optional[str] = pa.Field(nullable=True, description=PERSON_COLUMNS["practice_name"])
    imd_decile: Optional[int] = pa.Field(nullable=True, ge=1, le=10, description=PERSON_COLUMNS["imd_decile"])

    class Config:
        strict = True
        ordered = True


class ServiceConcentration(pa.DataFrameModel):
    neighbourhood_code: str = pa.Field(description="Neighbourhood code, or ALL for the whole area.")
    neighbourhood_name: Optional[str] = pa.Field(nullable=True, description="Neighbourhood name.")
    service: str = pa.Field(isin=SERVICES, description="gp, ed or admissions (emergency admissions).")
    population: int = pa.Field(ge=0, description="People in the population on the as-of date.")
    hiu_people: int = pa.Field(ge=0, description="People at or over this service's threshold.")
    hiu_people_pct: Optional[float] = pa.Field(nullable=True, ge=0, le=100, description="hiu_people as a percentage of population.")
    activity_total: int = pa.Field(ge=0, description="All counted activity of this service in the 12 months.")
    activity_hiu: int = pa.Field(ge=0, description="Activity of this service's high intensity users.")
    activity_hiu_pct: Optional[float] = pa.Field(nullable=True, ge=0, le=100, description="activity_hiu as a percentage of activity_total.")
    himsu_people: int = pa.Field(ge=0, description="High intensity users of multiple services (the same on each service's row).")
    activity_himsu: int = pa.Field(ge=0, description="Activity of this service by HIMSU people.")
    mean_per_person_all: Optional[float] = pa.Field(nullable=True, ge=0, description="activity_total / population.")
    mean_per_person_himsu: Optional[float] = pa.Field(nullable=True, ge=0, description="activity_himsu / himsu_people.")
    any_hiu_people: int = pa.Field(ge=0, description="People over the threshold of at least one service.")

    class Config:
        strict = True
        ordered = True


def data_dictionary(model: type[pa.DataFrameModel]) -> pl.DataFrame:
    """Column, type and meaning of every column of an output model."""
    schema = model.to_schema()
    return pl.DataFrame(
        {
            "column": list(schema.columns),
            "type": [_plain_type(c.dtype.type) for c in schema.columns.values()],
            "blank_allowed": [c.nullable for c in schema.columns.values()],
            "description": [c.description or "" for c in schema.columns.values()],
        }
    )


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
    efi_score: float = pa.Field(ge=0, le=1, description="Electronic frailty index: deficits present / 36.")
    efi_category: str = pa.Field(isin=EFI_CATEGORIES, description="fit (0-4 deficits), mild (5-8), moderate (9-12), severe (13+).")
    efi_deficits: int = pa.Field(ge=0, le=36, description="How many of the 36 eFI deficits are recorded.")
    housebound: bool = pa.Field(description="Housebound recorded (eFI deficit 16).")
    deficits: str = pa.Field(description="The eFI deficits recorded, in words, separated by semicolons.")
    hfrs_score: Optional[float] = pa.Field(nullable=True, ge=0, le=173.2, description=PERSON_COLUMNS["hfrs_score"])
    hfrs_band: Optional[str] = pa.Field(nullable=True, isin=HFRS_BANDS, description=PERSON_COLUMNS["hfrs_band"])
    gp_appointments_12m: int = pa.Field(ge=0, description=PERSON_COLUMNS["gp_appointments_12m"])
    ed_attendances_12m: int = pa.Field(ge=0, description=PERSON_COLUMNS["ed_attendances_12m"])
    emergency_admissions_12m: int = pa.Field(ge=0, description=PERSON_COLUMNS["emergency_admissions_12m"])
    hiu_gp: bool = pa.Field(description=PERSON_COLUMNS["hiu_gp"])
    hiu_ed: bool = pa.Field(description=PERSON_COLUMNS["hiu_ed"])
    hiu_admissions: bool = pa.Field(description=PERSON_COLUMNS["hiu_admissions"])
    high_intensity_services: int = pa.Field(ge=0, le=3, description="How many services the person uses at high intensity (0 to 3).")
    himsu: bool = pa.Field(description="High intensity user of multiple services.")
    social_care_involved: Optional[bool] = pa.Field(nullable=True, description="Adult social care request or service in the 12 months; blank without social care data.")
    neighbourhood_name: Optional[str] = pa.Field(nullable=True, description=PERSON_COLUMNS["neighbourhood_name"])
    pcn_name: Optional[str] = pa.Field(nullable=True, description=PERSON_COLUMNS["pcn_name"])
    practice_name: Optional[str] = pa.Field(nullable=True, description=PERSON_COLUMNS["practice_name"])
    imd_decile: Optional[int] = pa.Field(nullable=True, ge=1, le=10, description=PERSON_COLUMNS["imd_decile"])

    class Config:
        strict = True
        ordered = True


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
