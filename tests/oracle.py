"""A second, independent implementation of the counting rules (contract section 5) in Polars,
straight from a clean drop's files. The end-to-end tests hold the pipeline's outputs to it, person
by person; it shares no code with cohorts/ on purpose."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl


def read_extract(drop: Path, name: str) -> pl.DataFrame:
    paths = [drop / f"{name}.parquet", drop / f"{name}.csv"]
    files = [p for p in paths if p.exists()] or sorted((drop / name).glob("*"))
    frames = [
        pl.read_parquet(f) if f.suffix == ".parquet" else pl.read_csv(f, infer_schema=False) for f in files
    ]
    return pl.concat([f.select(pl.all().cast(pl.String)) for f in frames], how="diagonal")


def _date(column: str) -> pl.Expr:
    return pl.col(column).str.slice(0, 10).str.to_date("%Y-%m-%d")


def expected_people(drop: Path, as_of: dt.date, gp: int = 20, ed: int = 5, admissions: int = 3) -> pl.DataFrame:
    # as_of - 1 year + 1 day; a year before 29 February is 28 February.
    day = 28 if (as_of.month, as_of.day) == (2, 29) else as_of.day
    start = as_of.replace(year=as_of.year - 1, day=day) + dt.timedelta(days=1)
    practices = read_extract(drop, "practices")
    population = read_extract(drop, "population").with_columns(
        _date("registration_start").alias("start"),
        _date("registration_end").alias("end"),
        _date("date_of_death").alias("death"),
        pl.col("birth_year").cast(pl.Int64),
        pl.col("birth_month").cast(pl.Int64),
    )
    registered = population.filter(
        (pl.col("start") <= as_of)
        & (pl.col("end").is_null() | (pl.col("end") > as_of))
        & (pl.col("death").is_null() | (pl.col("death") > as_of))
    ).with_columns(
        (as_of.year - pl.col("birth_year") - (pl.col("birth_month") > as_of.month).cast(pl.Int64)).alias("age")
    )

    def in_window(frame: pl.DataFrame, column: str) -> pl.DataFrame:
        return frame.filter(_date(column).is_between(start, as_of))

    gp_counts = (
        in_window(read_extract(drop, "gp_appointments"), "appointment_date")
        .filter(pl.col("appt_status") == "Attended")
        .group_by("person_id")
        .len("gp_appointments_12m")
    )
    ed_counts = (
        in_window(read_extract(drop, "ed_attendances"), "arrival_datetime")
        .filter(pl.col("attendance_category").is_in(["1", "2", "3"]))
        .group_by("person_id")
        .len("ed_attendances_12m")
    )
    admission_counts = (
        in_window(read_extract(drop, "admissions"), "admission_date")
        .filter(pl.col("admission_method").str.starts_with("2"))
        .group_by("person_id")
        .len("emergency_admissions_12m")
    )
    social_care = read_extract(drop, "social_care_events").with_columns(
        _date("event_start_date").alias("start"), _date("event_end_date").alias("end")
    )
    involved = social_care.filter(
        ((pl.col("event_type") == "Request") & pl.col("start").is_between(start, as_of))
        | (
            (pl.col("event_type") == "Service")
            & (pl.col("start") <= as_of)
            & (pl.col("end").is_null() | (pl.col("end") >= start))
        )
    ).select("person_id").unique().with_columns(pl.lit(True).alias("social_care_involved"))

    def said(flag: str, label: str, column: str, threshold: int) -> pl.Expr:
        return pl.when(pl.col(flag)).then(pl.format(f"{label} {{}} ({threshold}+)", pl.col(column)))

    people = (
        registered.join(practices, on="practice_code", how="inner")
        .join(gp_counts, on="person_id", how="left")
        .join(ed_counts, on="person_id", how="left")
        .join(admission_counts, on="person_id", how="left")
        .with_columns(pl.col("^.*_12m$").fill_null(0).cast(pl.Int64))
        .with_columns(
            (pl.col("gp_appointments_12m") >= gp).alias("hiu_gp"),
            (pl.col("ed_attendances_12m") >= ed).alias("hiu_ed"),
            (pl.col("emergency_admissions_12m") >= admissions).alias("hiu_admissions"),
        )
        .with_columns(
            pl.sum_horizontal(pl.col("hiu_gp", "hiu_ed", "hiu_admissions").cast(pl.Int64)).alias("high_intensity_services")
        )
        .with_columns((pl.col("high_intensity_services") >= 2).alias("himsu"))
        .join(involved, on="person_id", how="left")
        .with_columns(
            pl.col("social_care_involved").fill_null(False),
            pl.concat_str(
                [
                    said("hiu_gp", "GP", "gp_appointments_12m", gp),
                    said("hiu_ed", "ED", "ed_attendances_12m", ed),
                    said("hiu_admissions", "emergency admissions", "emergency_admissions_12m", admissions),
                ],
                separator=", ",
                ignore_nulls=True,
            ).alias("reason"),
        )
    )
    return people.select(
        "person_id", "neighbourhood_code", "pcn_code", "practice_code", "age", "sex",
        "gp_appointments_12m", "ed_attendances_12m", "emergency_admissions_12m",
        "hiu_gp", "hiu_ed", "hiu_admissions", "high_intensity_services", "himsu", "social_care_involved", "reason",
    )


def expected_frailty(drop: Path, as_of: dt.date, efi_codes: Path, hfrs_weights: Path) -> pl.DataFrame:
    """eFI deficits and category (65+) and HFRS in whole tenths (75+) for everyone in the population."""
    people = expected_people(drop, as_of).select("person_id", "age")
    day = 28 if (as_of.month, as_of.day) == (2, 29) else as_of.day
    year_ago = as_of.replace(year=as_of.year - 1, day=day) + dt.timedelta(days=1)
    two_years_ago = as_of.replace(year=as_of.year - 2, day=day) + dt.timedelta(days=1)

    codes = pl.read_csv(efi_codes, infer_schema=False).select(pl.col("deficit_number").cast(pl.Int64), "snomed_code")
    coded = (
        read_extract(drop, "gp_coded_events")
        .filter(_date("event_date") <= as_of)
        .join(codes, on="snomed_code")
        .select("person_id", "deficit_number")
    )
    polypharmacy = (
        read_extract(drop, "gp_medications")
        .filter(_date("issue_date").is_between(year_ago, as_of))
        .filter(pl.col("bnf_code").str.slice(0, 2).is_in([f"{c:02d}" for c in range(1, 16)]))
        .group_by("person_id")
        .agg(pl.col("bnf_code").str.slice(0, 9).n_unique().alias("substances"))
        .filter(pl.col("substances") >= 5)
        .select("person_id", pl.lit(26, pl.Int64).alias("deficit_number"))
    )
    deficits = pl.concat([coded, polypharmacy]).unique().group_by("person_id").len("efi_deficits")

    weights = pl.read_csv(hfrs_weights, infer_schema=False).select(
        "icd10_3char", pl.col("points").str.replace(".", "", literal=True).cast(pl.Int64).alias("tenths")
    )
    spells = read_extract(drop, "admissions").filter(_date("admission_date").is_between(two_years_ago, as_of))
    hfrs = (
        read_extract(drop, "admission_diagnoses")
        .join(spells.select("spell_id", "person_id"), on="spell_id")
        .select("person_id", pl.col("icd10_code").str.replace(".", "", literal=True).str.to_uppercase().str.slice(0, 3).alias("icd10_3char"))
        .unique()
        .join(weights, on="icd10_3char")
        .group_by("person_id")
        .agg(pl.col("tenths").sum().alias("hfrs_tenths"))
    )
    return (
        people.join(deficits, on="person_id", how="left")
        .join(hfrs, on="person_id", how="left")
        .with_columns(
            pl.when(pl.col("age") >= 65).then(pl.col("efi_deficits").fill_null(0)).alias("efi_deficits"),
            pl.when(pl.col("age") >= 75).then(pl.col("hfrs_tenths").fill_null(0)).alias("hfrs_tenths"),
        )
        .with_columns(
            pl.when(pl.col("efi_deficits") <= 4).then(pl.lit("fit"))
            .when(pl.col("efi_deficits") <= 8).then(pl.lit("mild"))
            .when(pl.col("efi_deficits") <= 12).then(pl.lit("moderate"))
            .when(pl.col("efi_deficits").is_not_null()).then(pl.lit("severe"))
            .alias("efi_category")
        )
        .select("person_id", "efi_deficits", "efi_category", "hfrs_tenths")
    )


AGE_GROUPS = {"all": 0, "65+": 65, "75+": 75}


def _registered_on(day: pl.Expr) -> pl.Expr:
    return (
        (pl.col("start") <= day)
        & (pl.col("end").is_null() | (pl.col("end") > day))
        & (pl.col("death").is_null() | (pl.col("death") > day))
    )


def expected_monthly_activity(drop: Path, first_month: dt.date, last_month: dt.date) -> pl.DataFrame:
    """neighbourhood_code, month, age_group, population (people in the population on the month's
    first day, aged then), ed_attendances and emergency_admissions (each counted in the
    neighbourhood of its person's practice when the person was in the population on its date,
    aged on the month's first day): what `counterfactual_activity` observes, from the files."""
    practices = read_extract(drop, "practices").select("practice_code", "neighbourhood_code")
    people = read_extract(drop, "population").with_columns(
        _date("registration_start").alias("start"), _date("registration_end").alias("end"),
        _date("date_of_death").alias("death"), pl.col("birth_year").cast(pl.Int64), pl.col("birth_month").cast(pl.Int64),
    ).join(practices, on="practice_code").select("person_id", "neighbourhood_code", "start", "end", "death",
                                                 "birth_year", "birth_month")
    age = pl.col("month").dt.year() - pl.col("birth_year") - (pl.col("birth_month") > pl.col("month").dt.month()).cast(pl.Int64)

    def by_group(frame: pl.DataFrame, value: str) -> pl.DataFrame:
        return pl.concat([
            frame.filter(age >= youngest).group_by("neighbourhood_code", "month").agg(pl.len().alias(value))
            .with_columns(age_group=pl.lit(group)) for group, youngest in AGE_GROUPS.items()
        ])

    months = pl.DataFrame({"month": pl.date_range(first_month, last_month, "1mo", eager=True)})
    population = by_group(people.join(months, how="cross").filter(_registered_on(pl.col("month"))), "population")

    def events(name: str, column: str, counted: pl.Expr, value: str) -> pl.DataFrame:
        rows = read_extract(drop, name).filter(counted).select("person_id", _date(column).alias("day"))
        rows = rows.filter(pl.col("day").is_between(first_month, last_month.replace(day=28) + dt.timedelta(days=4)))
        rows = rows.with_columns(month=pl.col("day").dt.truncate("1mo")).filter(pl.col("month") <= last_month)
        return by_group(rows.join(people, on="person_id").filter(_registered_on(pl.col("day"))), value)

    ed = events("ed_attendances", "arrival_datetime", pl.col("attendance_category").is_in(["1", "2", "3"]), "ed_attendances")
    admissions = events("admissions", "admission_date", pl.col("admission_method").str.starts_with("2"), "emergency_admissions")
    keys = ["neighbourhood_code", "month", "age_group"]
    return (
        population.join(ed, on=keys, how="full", coalesce=True).join(admissions, on=keys, how="full", coalesce=True)
        .with_columns(pl.col("population", "ed_attendances", "emergency_admissions").fill_null(0).cast(pl.Int64))
        .sort(keys)
    )
