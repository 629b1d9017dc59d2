"""Pandera models of the extract files (contract section 2): the one place their rules live.

Each model describes the *typed* staging table. The ingest compiles the same models into DuckDB
SQL predicates (`schemas.sql_rules`) so that millions of rows are checked at scan speed; tests
validate staging tables against the models with pandera itself.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Optional

import pandera.polars as pa
from schemas import codes

PRACTICE_CODE = r"^[A-Z0-9]{3,10}$"
NEIGHBOURHOOD_CODE = r"^[A-Za-z0-9_-]{1,64}$"
LSOA_CODE = r"^E01[0-9]{6}$"
SNOMED_CODE = r"^[0-9]{6,18}$"
BNF_CODE = r"^[0-9]{2}[0-9A-Z]{0,13}$"
# J18.9, J189 and J18X are all accepted (contract): a letter, two digits, then up to two more
# characters with an optional dot after the third.
ICD10_CODE = r"^[A-Z][0-9]{2}\.?[0-9A-Z]{0,2}$"


class Practices(pa.DataFrameModel):
    practice_code: str = pa.Field(str_matches=PRACTICE_CODE, unique=True)
    practice_name: str
    pcn_code: str
    pcn_name: str
    neighbourhood_code: str = pa.Field(str_matches=NEIGHBOURHOOD_CODE)
    neighbourhood_name: str
    int_go_live_date: Optional[dt.date] = pa.Field(nullable=True)


class Population(pa.DataFrameModel):
    person_id: str = pa.Field(unique=True, str_length={"min_value": 1, "max_value": 64})
    sex: str = pa.Field(isin=["F", "M", "U"])
    # The upper bound (the as-of year) depends on the run: see PERSON_RULES.
    birth_year: int = pa.Field(ge=1890)
    birth_month: int = pa.Field(ge=1, le=12)
    practice_code: str
    lsoa_code: Optional[str] = pa.Field(str_matches=LSOA_CODE, nullable=True)
    imd_decile: Optional[int] = pa.Field(ge=1, le=10, nullable=True)
    registration_start: dt.date
    registration_end: Optional[dt.date] = pa.Field(nullable=True)
    date_of_death: Optional[dt.date] = pa.Field(nullable=True)


class GpAppointments(pa.DataFrameModel):
    appointment_id: str = pa.Field(unique=True)
    person_id: str
    appointment_date: dt.date
    appt_status: str = pa.Field(isin=codes.APPT_STATUS)
    appt_mode: str = pa.Field(isin=codes.APPT_MODE)
    hcp_type: str = pa.Field(isin=codes.HCP_TYPE)
    practice_code: str


class EdAttendances(pa.DataFrameModel):
    attendance_id: str = pa.Field(unique=True)
    person_id: str
    arrival_datetime: dt.datetime
    department_type: str = pa.Field(isin=codes.ED_DEPARTMENT_TYPE)
    attendance_category: str = pa.Field(isin=codes.ED_ATTENDANCE_CATEGORY)
    arrival_mode: str = pa.Field(str_matches=SNOMED_CODE)
    departure_datetime: Optional[dt.datetime] = pa.Field(nullable=True)


class Admissions(pa.DataFrameModel):
    spell_id: str = pa.Field(unique=True)
    person_id: str
    admission_date: dt.date
    discharge_date: Optional[dt.date] = pa.Field(nullable=True)
    admission_method: str = pa.Field(isin=codes.ADMISSION_METHOD)
    discharge_destination: Optional[str] = pa.Field(nullable=True)
    provider_code: str


class AdmissionDiagnoses(pa.DataFrameModel):
    spell_id: str
    diagnosis_position: int = pa.Field(ge=1)
    icd10_code: str = pa.Field(str_matches=ICD10_CODE)


class SocialCareEvents(pa.DataFrameModel):
    event_id: str = pa.Field(unique=True)
    person_id: str
    event_type: str = pa.Field(isin=codes.SOCIAL_CARE_EVENT_TYPE)
    event_start_date: dt.date
    event_end_date: Optional[dt.date] = pa.Field(nullable=True)
    request_route_of_access: Optional[str] = pa.Field(nullable=True)
    service_type: Optional[str] = pa.Field(nullable=True)
    review_reason: Optional[str] = pa.Field(nullable=True)
    event_outcome: Optional[str] = pa.Field(nullable=True)


class GpCodedEvents(pa.DataFrameModel):
    person_id: str
    event_date: dt.date
    snomed_code: str = pa.Field(str_matches=SNOMED_CODE)


class GpMedications(pa.DataFrameModel):
    person_id: str
    issue_date: dt.date
    bnf_code: str = pa.Field(str_matches=BNF_CODE)


@dataclass(frozen=True)
class RowRule:
    """A rule over a row that a column check cannot express, as a DuckDB predicate that is TRUE
    when the row breaks it. Columns are referenced by name as typed values (see sql_rules);
    `{today}` is the run date: nothing can have happened after it."""

    broken_when: str
    reason: str


@dataclass(frozen=True)
class Reference:
    """`column` must name an accepted row of another extract."""

    column: str
    extract: str
    target_column: str


@dataclass(frozen=True)
class Extract:
    name: str
    model: type[pa.DataFrameModel]
    required: bool
    id_column: str | None = None
    references: tuple[Reference, ...] = ()
    row_rules: tuple[RowRule, ...] = ()
    description: str = ""

    @property
    def columns(self) -> list[str]:
        return list(self.model.to_schema().columns)


def _person(extract: str = "population") -> Reference:
    return Reference("person_id", extract, "person_id")


def _not_future(column: str) -> RowRule:
    """Activity cannot be dated after the run: a typo like 2031 must not become the as-of date."""
    return RowRule(f"CAST({column} AS DATE) > {{today}}", f"{column} is in the future")


EXTRACTS: dict[str, Extract] = {
    e.name: e
    for e in [
        Extract(
            "practices",
            Practices,
            required=True,
            id_column="practice_code",
            row_rules=(
                # ALL names the whole area in service_concentration.
                RowRule("upper(neighbourhood_code) = 'ALL'", "neighbourhood_code ALL is reserved for the whole area"),
            ),
            description="GP practices with their PCN and Integrated Neighbourhood Team.",
        ),
        Extract(
            "population",
            Population,
            required=True,
            id_column="person_id",
            references=(Reference("practice_code", "practices", "practice_code"),),
            row_rules=(
                # The contract bounds birth_year by the as-of year. The as-of date is derived from
                # accepted activity, after staging, so the bound here is the run date; and nobody
                # is registered before birth, so everyone in the population on the as-of date was
                # born by then (and no age is negative).
                RowRule("birth_year > year({today})", "birth_year is in the future"),
                RowRule(
                    "registration_start < TRY_CAST(printf('%04d-%02d-01', birth_year, birth_month) AS DATE)",
                    "registration_start before birth",
                ),
                RowRule("registration_end < registration_start", "registration_end before registration_start"),
                # TRY_CAST, not make_date: a bad birth month must not fail the whole scan.
                RowRule(
                    "date_of_death < TRY_CAST(printf('%04d-%02d-01', birth_year, birth_month) AS DATE)",
                    "date_of_death before birth",
                ),
            ),
            description="Registered population, one row per person.",
        ),
        Extract(
            "gp_appointments",
            GpAppointments,
            required=True,
            id_column="appointment_id",
            references=(_person(),),
            row_rules=(_not_future("appointment_date"),),
            description="GP appointments (GPAD).",
        ),
        Extract(
            "ed_attendances",
            EdAttendances,
            required=True,
            id_column="attendance_id",
            references=(_person(),),
            row_rules=(
                RowRule("departure_datetime < arrival_datetime", "departure_datetime before arrival_datetime"),
                _not_future("arrival_datetime"),
            ),
            description="Emergency department attendances (ECDS).",
        ),
        Extract(
            "admissions",
            Admissions,
            required=True,
            id_column="spell_id",
            references=(_person(),),
            row_rules=(
                RowRule("discharge_date < admission_date", "discharge_date before admission_date"),
                _not_future("admission_date"),
                _not_future("discharge_date"),
            ),
            description="Hospital provider spells (SUS/HES APC).",
        ),
        Extract(
            "admission_diagnoses",
            AdmissionDiagnoses,
            required=False,
            references=(Reference("spell_id", "admissions", "spell_id"),),
            description="ICD-10 diagnoses of each spell.",
        ),
        Extract(
            "social_care_events",
            SocialCareEvents,
            required=False,
            id_column="event_id",
            references=(_person(),),
            row_rules=(
                RowRule("event_end_date IS NULL AND event_type <> 'Service'", "only Service events may be open"),
                RowRule("event_end_date < event_start_date", "event_end_date before event_start_date"),
                _not_future("event_start_date"),
            ),
            description="Adult social care client level data (CLD).",
        ),
        Extract(
            "gp_coded_events",
            GpCodedEvents,
            required=False,
            references=(_person(),),
            row_rules=(_not_future("event_date"),),
            description="GP coded events (SNOMED CT) for the electronic frailty index.",
        ),
        Extract(
            "gp_medications",
            GpMedications,
            required=False,
            references=(_person(),),
            row_rules=(_not_future("issue_date"),),
            description="GP medicine issues (BNF) for the polypharmacy deficit.",
        ),
    ]
}
