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


# Field metadata. DETAIL marks a column the counts do not need (contract section 3): a value that
# breaks its rule, or is missing, is a data-quality warning and is read as null; the row stays.
# REQUIRED marks a column the files must carry although the typed table may hold nulls in it.
# CODE marks a code that spreadsheets and typed files turn into numbers: `21.0` is read as `21`, and
# with a width, `1` as `01`.
DETAIL, REQUIRED, CODE = "detail", "required", "code_width"


def detail(required: bool = False, **checks) -> object:
    """A column whose bad values are warnings: see DETAIL."""
    return pa.Field(nullable=True, metadata={DETAIL: True, REQUIRED: required}, **checks)


def code(width: int = 0, **checks) -> object:
    return pa.Field(metadata={CODE: width}, **checks)


class Practices(pa.DataFrameModel):
    practice_code: str = pa.Field(str_matches=PRACTICE_CODE, unique=True)
    practice_name: Optional[str] = detail(required=True)
    pcn_code: Optional[str] = detail(required=True)
    pcn_name: Optional[str] = detail(required=True)
    neighbourhood_code: str = pa.Field(str_matches=NEIGHBOURHOOD_CODE)
    neighbourhood_name: Optional[str] = detail(required=True)
    int_go_live_date: Optional[dt.date] = detail()
    # The integrated care board: a partitioned deployment runs each ICB alone (pipeline.partitions).
    icb_code: Optional[str] = detail(str_matches=NEIGHBOURHOOD_CODE)


class Population(pa.DataFrameModel):
    person_id: str = pa.Field(unique=True, str_length={"min_value": 1, "max_value": 64})
    sex: Optional[str] = detail(required=True, isin=["F", "M", "U"])
    # The upper bound (the as-of year) depends on the run: see the row rules below.
    birth_year: int = pa.Field(ge=1890)
    birth_month: int = pa.Field(ge=1, le=12)
    practice_code: str
    lsoa_code: Optional[str] = detail(str_matches=LSOA_CODE)
    imd_decile: Optional[int] = detail(ge=1, le=10)
    registration_start: dt.date
    registration_end: Optional[dt.date] = pa.Field(nullable=True)
    date_of_death: Optional[dt.date] = pa.Field(nullable=True)


class GpAppointments(pa.DataFrameModel):
    appointment_id: str = pa.Field(unique=True)
    person_id: str
    appointment_date: dt.date
    appt_status: str = pa.Field(isin=codes.APPT_STATUS)
    appt_mode: Optional[str] = detail(required=True, isin=codes.APPT_MODE)
    hcp_type: Optional[str] = detail(required=True, isin=codes.HCP_TYPE)
    practice_code: Optional[str] = detail(required=True)


class EdAttendances(pa.DataFrameModel):
    attendance_id: str = pa.Field(unique=True)
    person_id: str
    arrival_datetime: dt.datetime
    department_type: Optional[str] = pa.Field(
        nullable=True, isin=codes.ED_DEPARTMENT_TYPE, metadata={DETAIL: True, REQUIRED: True, CODE: 2}
    )
    attendance_category: str = code(isin=codes.ED_ATTENDANCE_CATEGORY)
    arrival_mode: Optional[str] = detail(required=True, str_matches=SNOMED_CODE)
    departure_datetime: Optional[dt.datetime] = detail()


class Admissions(pa.DataFrameModel):
    spell_id: str = pa.Field(unique=True)
    person_id: str
    admission_date: dt.date
    discharge_date: Optional[dt.date] = pa.Field(nullable=True)
    admission_method: str = code(isin=codes.ADMISSION_METHOD)
    discharge_destination: Optional[str] = pa.Field(nullable=True, metadata={DETAIL: True, CODE: 0})
    provider_code: Optional[str] = detail(required=True)


class AdmissionDiagnoses(pa.DataFrameModel):
    spell_id: str
    # HFRS takes every position, so a bad position is a warning.
    diagnosis_position: Optional[int] = detail(required=True, ge=1)
    icd10_code: str = pa.Field(str_matches=ICD10_CODE)


class SocialCareEvents(pa.DataFrameModel):
    event_id: str = pa.Field(unique=True)
    person_id: str
    event_type: str = pa.Field(isin=codes.SOCIAL_CARE_EVENT_TYPE)
    event_start_date: dt.date
    event_end_date: Optional[dt.date] = pa.Field(nullable=True)
    request_route_of_access: Optional[str] = detail()
    service_type: Optional[str] = detail()
    review_reason: Optional[str] = detail()
    event_outcome: Optional[str] = detail()


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
    `{today}` is the run date: nothing can have happened after it.

    A contract rule rejects the row. A plausibility rule (`warn=True`) keeps it, counts a warning,
    and reads the columns in `nulls` as null, because they cannot be used."""

    broken_when: str
    reason: str
    warn: bool = False
    nulls: tuple[str, ...] = ()


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
    # The date each row's activity happened on (a typed SQL expression), for activity feeds: it
    # cannot be after the run date, and after the person's death it is a warning.
    activity_date: str | None = None
    description: str = ""

    @property
    def columns(self) -> list[str]:
        return list(self.model.to_schema().columns)

    @property
    def required_columns(self) -> list[str]:
        """Columns every file must carry: the contract's non-nullable ones."""
        return [
            name for name, column in self.model.to_schema().columns.items()
            if not column.nullable or (column.metadata or {}).get(REQUIRED)
        ]

    @property
    def person_level(self) -> bool:
        return any(ref.column == "person_id" for ref in self.references) or self.name == "population"


def _person(extract: str = "population") -> Reference:
    return Reference("person_id", extract, "person_id")


def _not_future(column: str) -> RowRule:
    """A date after the run cannot have happened: it is a bad date (contract section 3)."""
    return RowRule(f"CAST({column} AS DATE) > {{today}}", f"{column} is in the future")


BIRTH = "TRY_CAST(printf('%04d-%02d-01', birth_year, birth_month) AS DATE)"  # TRY_CAST: a bad month must not fail the scan

EXTRACTS: dict[str, Extract] = {
    e.name: e
    for e in [
        Extract(
            "practices",
            Practices,
            required=True,
            id_column="practice_code",
            row_rules=(
                # ALL names the whole area in every metric table.
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
                # accepted activity, after staging, so the bound here is the run date.
                RowRule("birth_year > year({today})", "birth_year is in the future"),
                # Plausibility only (contract section 3): the person and their counts stand.
                RowRule(f"registration_start < {BIRTH}", "registration_start before birth", warn=True),
                RowRule("registration_end < registration_start", "registration_end before registration_start", warn=True),
                RowRule(f"date_of_death < {BIRTH}", "date_of_death before birth", warn=True),
                RowRule("date_of_death < registration_start", "date_of_death before registration_start", warn=True),
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
            activity_date="appointment_date",
            description="GP appointments (GPAD).",
        ),
        Extract(
            "ed_attendances",
            EdAttendances,
            required=True,
            id_column="attendance_id",
            references=(_person(),),
            row_rules=(
                RowRule(
                    "departure_datetime < arrival_datetime", "departure_datetime before arrival_datetime",
                    warn=True, nulls=("departure_datetime",),
                ),
                _not_future("arrival_datetime"),
            ),
            activity_date="CAST(arrival_datetime AS DATE)",
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
            activity_date="admission_date",
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
                RowRule("event_end_date < event_start_date", "event_end_date before event_start_date", warn=True),
                _not_future("event_start_date"),
            ),
            activity_date="event_start_date",
            description="Adult social care client level data (CLD).",
        ),
        Extract(
            "gp_coded_events",
            GpCodedEvents,
            required=False,
            references=(_person(),),
            row_rules=(_not_future("event_date"),),
            activity_date="event_date",
            description="GP coded events (SNOMED CT) for the electronic frailty index.",
        ),
        Extract(
            "gp_medications",
            GpMedications,
            required=False,
            references=(_person(),),
            row_rules=(_not_future("issue_date"),),
            activity_date="issue_date",
            description="GP medicine issues (BNF) for the polypharmacy deficit.",
        ),
    ]
}

# The activity feeds that every count needs: the default as-of date is the last day all of them cover.
REQUIRED_ACTIVITY = ("gp_appointments", "ed_attendances", "admissions")
