"""Contract sections 2 and 3: reading a drop, quarantining bad rows, refusing unreadable files."""

import duckdb
import polars as pl
import pytest

from pipeline.extract_files import ExtractFileError, find_extract_files
from schemas.extracts import EXTRACTS
from tests.drops import complete_rows, stage_drop, write_csv, write_drop

ME = {"person_id": "p1"}


def staged(tmp_path, **extracts):
    conn = duckdb.connect()
    counts = stage_drop(conn, write_drop(tmp_path, **extracts))
    return conn, counts


def quarantine(conn, extract) -> list[tuple]:
    return conn.execute(f"SELECT source_row, reason FROM quarantine_{extract} ORDER BY source_row").fetchall()


# --- repeated ids and unknown references --------------------------------------------------------


def test_first_of_repeated_ids_is_accepted_later_ones_quarantined(tmp_path):
    conn, counts = staged(
        tmp_path,
        population=[ME],
        gp_appointments=[
            {"appointment_id": "a1", "person_id": "p1", "appointment_date": "2025-01-01"},
            {"appointment_id": "a1", "person_id": "p1", "appointment_date": "2025-02-02"},
            {"appointment_id": "a1", "person_id": "p1", "appointment_date": "2025-03-03"},
        ],
    )
    assert conn.execute("SELECT appointment_date::VARCHAR FROM stg_gp_appointments").fetchall() == [("2025-01-01",)]
    assert quarantine(conn, "gp_appointments") == [(2, "repeated appointment_id"), (3, "repeated appointment_id")]


def test_ids_whose_hashes_collide_are_told_apart_by_the_id(tmp_path, monkeypatch):
    """Repeats are found by grouping the ids' hashes first; a hash shared by different ids (here
    every id of the same length collides) must reject nothing: only a repeated id is a repeat."""
    import pipeline.staging

    monkeypatch.setattr(pipeline.staging, "ID_HASH", "length")
    rows = [{"appointment_id": i, "person_id": "p1", "appointment_date": "2025-01-01"} for i in ("a1", "b2", "c3", "b2")]
    conn, counts = staged(tmp_path, population=[ME], gp_appointments=rows)
    assert counts["gp_appointments"].accepted == 3
    assert quarantine(conn, "gp_appointments") == [(4, "repeated appointment_id")]


def test_repeated_ids_across_files_keep_the_first_file_in_name_order(tmp_path):
    write_drop(tmp_path, population=[ME])
    (tmp_path / "gp_appointments.csv").unlink()
    columns = EXTRACTS["gp_appointments"].columns
    for name, date in [("2025-02.csv", "2025-02-01"), ("2025-01.csv", "2025-01-01")]:
        rows = complete_rows("gp_appointments", [{"appointment_id": "a1", "person_id": "p1", "appointment_date": date}])
        write_csv(tmp_path / "gp_appointments" / name, columns, rows)
    conn = duckdb.connect()
    stage_drop(conn, tmp_path)
    assert conn.execute("SELECT appointment_date::VARCHAR FROM stg_gp_appointments").fetchall() == [("2025-01-01",)]
    ((source_file, reason),) = conn.execute("SELECT source_file, reason FROM quarantine_gp_appointments").fetchall()
    assert source_file.endswith("2025-02.csv") and reason == "repeated appointment_id"


def test_an_invalid_first_row_does_not_block_a_valid_repeat(tmp_path):
    conn, _ = staged(
        tmp_path,
        population=[ME],
        gp_appointments=[
            {"appointment_id": "a1", "person_id": "p1", "appointment_date": "2025-13-01"},
            {"appointment_id": "a1", "person_id": "p1", "appointment_date": "2025-01-01"},
        ],
    )
    assert conn.execute("SELECT count(*) FROM stg_gp_appointments").fetchall() == [(1,)]
    assert quarantine(conn, "gp_appointments") == [(1, "appointment_date is not a valid YYYY-MM-DD date")]


def test_events_for_unknown_people_are_quarantined(tmp_path):
    conn, counts = staged(
        tmp_path,
        population=[ME],
        gp_appointments=[{"person_id": "p1"}, {"person_id": "stranger"}],
        ed_attendances=[{"person_id": "stranger"}],
        admissions=[{"person_id": "stranger"}],
        social_care_events=[{"person_id": "stranger"}],
        gp_coded_events=[{"person_id": "stranger"}],
        gp_medications=[{"person_id": "stranger"}],
    )
    for extract in ["gp_appointments", "ed_attendances", "admissions", "social_care_events", "gp_coded_events", "gp_medications"]:
        assert [r for _, r in quarantine(conn, extract)] == ["person_id not found in population"], extract
    assert counts["gp_appointments"].accepted == 1


def test_events_of_a_quarantined_person_are_quarantined_with_the_root_cause(tmp_path):
    conn, _ = staged(
        tmp_path, population=[{**ME, "birth_month": "13", "registration_start": None}], gp_appointments=[{"person_id": "p1"}]
    )
    assert quarantine(conn, "population") == [(1, "birth_month is above 12; registration_start is missing")]
    assert quarantine(conn, "gp_appointments") == [
        (1, "person_id rejected in population (birth_month is above 12, registration_start is missing)")
    ]


def test_root_causes_chain_through_practices_population_and_activity(tmp_path):
    conn, _ = staged(
        tmp_path,
        practices=[{"neighbourhood_code": "../x"}],
        population=[ME],
        gp_appointments=[{"person_id": "p1"}],
    )
    ((_, reason),) = quarantine(conn, "gp_appointments")
    assert reason == (
        "person_id rejected in population (practice_code rejected in practices (neighbourhood_code has the wrong format))"
    )


@pytest.mark.parametrize(
    "code, reason",
    [("../x", "neighbourhood_code has the wrong format"), ("all", "neighbourhood_code ALL is reserved for the whole area")],
)
def test_unsafe_or_reserved_neighbourhood_codes_are_quarantined(tmp_path, code, reason):
    conn, _ = staged(tmp_path, practices=[{"neighbourhood_code": code}], population=[ME])
    assert quarantine(conn, "practices") == [(1, reason)]
    assert quarantine(conn, "population") == [(1, f"practice_code rejected in practices ({reason})")]


def test_person_at_unknown_practice_is_quarantined(tmp_path):
    conn, _ = staged(tmp_path, population=[{**ME, "practice_code": "NOPE1"}])
    assert quarantine(conn, "population") == [(1, "practice_code not found in practices")]


def test_diagnoses_of_unknown_spells_are_quarantined(tmp_path):
    conn, _ = staged(
        tmp_path,
        population=[ME],
        admissions=[{"spell_id": "s1", "person_id": "p1"}],
        admission_diagnoses=[{"spell_id": "s1"}, {"spell_id": "s2"}],
    )
    assert quarantine(conn, "admission_diagnoses") == [(2, "spell_id not found in admissions")]


# --- row rules ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "extract, row, reason",
    [
        ("population", {"birth_year": "1889"}, "birth_year is below 1890"),
        ("population", {"birth_year": "2999", "registration_start": "2999-12-01"}, "birth_year is in the future"),
        ("gp_appointments", {"appointment_date": "2999-01-01"}, "appointment_date is in the future"),
        ("ed_attendances", {"arrival_datetime": "2999-01-01 10:00:00"}, "arrival_datetime is in the future"),
        ("admissions", {"admission_date": "2999-01-01", "discharge_date": None}, "admission_date is in the future"),
        ("population", {"birth_month": "13"}, "birth_month is above 12"),
        ("population", {"birth_month": "6.5"}, "birth_month is not a whole number"),
        ("population", {"registration_start": None}, "registration_start is missing"),
        ("population", {"registration_start": "01/02/2020"}, "registration_start is not a valid YYYY-MM-DD date"),
        ("population", {"person_id": "x" * 65}, "person_id is too long"),
        ("gp_appointments", {"appt_status": "attended"}, "appt_status is not an allowed value"),
        ("gp_appointments", {"appointment_date": "2024-02-30"}, "appointment_date is not a valid YYYY-MM-DD date"),
        ("gp_appointments", {"appointment_date": "2024-2-3"}, "appointment_date is not a valid YYYY-MM-DD date"),
        ("gp_appointments", {"appointment_date": "2025-01-15 09:30:00"}, "appointment_date is not a valid YYYY-MM-DD date"),
        ("ed_attendances", {"attendance_category": "5"}, "attendance_category is not an allowed value"),
        ("ed_attendances", {"arrival_datetime": "2025-01-01"}, "arrival_datetime is not a valid YYYY-MM-DD HH:MM:SS timestamp"),
        ("admissions", {"admission_method": "26"}, "admission_method is not an allowed value"),
        ("admissions", {"discharge_date": "2025-01-14"}, "discharge_date before admission_date"),
        ("social_care_events", {"event_type": "Assessment", "event_end_date": None}, "only Service events may be open"),
        ("gp_coded_events", {"snomed_code": "SCT123"}, "snomed_code has the wrong format"),
    ],
)
def test_row_breaking_a_contract_rule_is_quarantined_with_its_reason(tmp_path, extract, row, reason):
    target = {**ME, **row} if extract == "population" else {"person_id": "p1", **row}
    extracts = {"population": [target]} if extract == "population" else {"population": [ME], extract: [target]}
    conn, counts = staged(tmp_path, **extracts)
    assert quarantine(conn, extract) == [(1, reason)]
    assert counts[extract].read == counts[extract].accepted + counts[extract].quarantined


def findings(conn, extract, kind):
    return dict(conn.execute(
        "SELECT rule, rows FROM data_quality_findings WHERE extract = ? AND kind = ? ORDER BY rule", [extract, kind]
    ).fetchall())


# A bad value in a column the counts do not need, or an implausible row that no contract rule
# covers: the row stays, the warning is counted, and an unusable value is read as null.
@pytest.mark.parametrize(
    "extract, row, warning, column",
    [
        ("population", {"sex": "1"}, "sex is not an allowed value", "sex"),
        ("population", {"sex": None}, "sex is missing", "sex"),
        ("population", {"imd_decile": "0"}, "imd_decile is below 1", "imd_decile"),
        ("population", {"imd_decile": "five"}, "imd_decile is not a whole number", "imd_decile"),
        ("population", {"lsoa_code": "W01000001"}, "lsoa_code has the wrong format", "lsoa_code"),
        ("population", {"birth_year": "2001", "registration_start": "2000-01-01"}, "registration_start before birth", None),
        ("population", {"registration_end": "1999-12-31"}, "registration_end before registration_start", None),
        ("population", {"date_of_death": "1960-05-31"}, "date_of_death before birth", None),
        ("population", {"date_of_death": "1999-12-31"}, "date_of_death before registration_start", None),
        ("gp_appointments", {"appt_mode": "Carrier pigeon"}, "appt_mode is not an allowed value", "appt_mode"),
        ("gp_appointments", {"hcp_type": None}, "hcp_type is missing", "hcp_type"),
        ("ed_attendances", {"department_type": "06"}, "department_type is not an allowed value", "department_type"),
        ("ed_attendances", {"arrival_mode": "by bus"}, "arrival_mode has the wrong format", "arrival_mode"),
        (
            "ed_attendances",
            {"departure_datetime": "2025-01-15 09:00:00"},
            "departure_datetime before arrival_datetime",
            "departure_datetime",
        ),
        ("admission_diagnoses", {"diagnosis_position": "0"}, "diagnosis_position is below 1", "diagnosis_position"),
        ("social_care_events", {"event_end_date": "2025-01-01"}, "event_end_date before event_start_date", None),
        ("practices", {"pcn_name": None}, "pcn_name is missing", "pcn_name"),
        ("practices", {"int_go_live_date": "soon"}, "int_go_live_date is not a valid YYYY-MM-DD date", "int_go_live_date"),
    ],
)
def test_a_value_the_counts_do_not_need_is_a_warning_and_the_row_stays(tmp_path, extract, row, warning, column):
    extracts = {"population": [{**ME, **row}]} if extract == "population" else {"population": [ME]}
    if extract == "admission_diagnoses":
        extracts["admissions"] = [{"spell_id": "s1", "person_id": "p1"}]
        extracts[extract] = [{"spell_id": "s1", **row}]
    elif extract == "practices":
        extracts[extract] = [row]
    elif extract != "population":
        extracts[extract] = [{"person_id": "p1", **row}]
    conn, counts = staged(tmp_path, **extracts)
    assert counts[extract].quarantined == 0 and counts[extract].accepted == 1
    assert counts[extract].warned == 1 and findings(conn, extract, "warning")[warning] == 1
    if column:
        assert conn.execute(f"SELECT {column} FROM stg_{extract}").fetchall() == [(None,)]
    assert counts["population"].accepted == 1


def test_activity_after_death_is_a_warning(tmp_path):
    conn, counts = staged(
        tmp_path,
        population=[{**ME, "date_of_death": "2025-01-01"}],
        gp_appointments=[{"person_id": "p1", "appointment_date": "2024-12-31"}, {"person_id": "p1", "appointment_date": "2025-01-02"}],
    )
    assert counts["gp_appointments"].accepted == 2
    assert findings(conn, "gp_appointments", "warning") == {"activity after date_of_death": 1}


# Values with one meaning are read as that meaning, and the normalisation is counted.
@pytest.mark.parametrize(
    "extract, row, column, value, normalisation",
    [
        ("gp_appointments", {"appt_status": " Attended "}, "appt_status", "Attended", "surrounding whitespace removed"),
        ("gp_appointments", {"appointment_date": "2024-03-31 00:00:00.000"}, "appointment_date", "2024-03-31", "midnight timestamp read as a date"),
        ("gp_appointments", {"appointment_date": "2024-03-31T00:00"}, "appointment_date", "2024-03-31", "midnight timestamp read as a date"),
        ("population", {"birth_year": "1950.0"}, "birth_year", "1950", "whole-number float read as an integer"),
        ("population", {"imd_decile": "NULL"}, "imd_decile", None, "NULL, NA or empty text read as null"),
        ("population", {"lsoa_code": "NA"}, "lsoa_code", None, "NULL, NA or empty text read as null"),
        ("ed_attendances", {"department_type": "1"}, "department_type", "01", "leading zero restored"),
        ("ed_attendances", {"department_type": "3.0"}, "department_type", "03", "whole-number float read as a code"),
        ("ed_attendances", {"attendance_category": "2.0"}, "attendance_category", "2", "whole-number float read as a code"),
        ("ed_attendances", {"arrival_datetime": "2025-01-15T10:00:00"}, "arrival_datetime", "2025-01-15 10:00:00", "timestamp with a T or without seconds"),
        ("ed_attendances", {"arrival_datetime": "2025-01-15 10:00"}, "arrival_datetime", "2025-01-15 10:00:00", "timestamp with a T or without seconds"),
        ("ed_attendances", {"arrival_datetime": "2025-07-01 09:00:00+00:00"}, "arrival_datetime", "2025-07-01 10:00:00", "offset converted to England clock time"),
        ("ed_attendances", {"arrival_datetime": "2025-01-15T10:00Z"}, "arrival_datetime", "2025-01-15 10:00:00", "offset converted to England clock time"),
        ("ed_attendances", {"arrival_datetime": "2025-07-01 10:00:00+0100"}, "arrival_datetime", "2025-07-01 10:00:00", "offset converted to England clock time"),
        ("ed_attendances", {"arrival_datetime": "2025-07-01 10:00:00 +0100"}, "arrival_datetime", "2025-07-01 10:00:00", "offset converted to England clock time"),
        ("ed_attendances", {"arrival_datetime": "2025-01-15 10:00:00 Z"}, "arrival_datetime", "2025-01-15 10:00:00", "offset converted to England clock time"),
        ("admissions", {"admission_method": "21.0"}, "admission_method", "21", "whole-number float read as a code"),
    ],
)
def test_values_with_one_meaning_are_normalised_and_counted(tmp_path, extract, row, column, value, normalisation):
    target = {**ME, **row} if extract == "population" else {"person_id": "p1", **row}
    extracts = {"population": [target]} if extract == "population" else {"population": [ME], extract: [target]}
    conn, counts = staged(tmp_path, **extracts)
    assert counts[extract].accepted == 1 and counts[extract].normalised == 1
    assert conn.execute(f"SELECT CAST({column} AS VARCHAR) FROM stg_{extract}").fetchall() == [(value,)]
    assert findings(conn, extract, "normalisation") == {f"{column}: {normalisation}": 1}


def test_an_ambiguous_date_is_never_guessed_but_a_named_format_reads_it(tmp_path):
    rows = [{"person_id": "p1", "appointment_date": "03/04/2024"}, {"person_id": "p1", "appointment_date": "31/03/2024"}]
    write_drop(tmp_path, population=[ME], gp_appointments=rows)
    conn = duckdb.connect()
    counts = stage_drop(conn, tmp_path)
    assert counts["gp_appointments"].quarantined == 2
    counts = stage_drop(conn, tmp_path, date_formats={"gp_appointments": "%d/%m/%Y"})
    assert counts["gp_appointments"].accepted == 2
    dates = conn.execute("SELECT appointment_date::VARCHAR FROM stg_gp_appointments ORDER BY 1").fetchall()
    assert dates == [("2024-03-31",), ("2024-04-03",)]


@pytest.mark.parametrize(
    "header, hint",
    [
        ("SPELL_ID,PERSON_ID,ADMISSION_DATE,ADMISSION_METHOD,PROVIDER_CODE", "'SPELL_ID' for spell_id"),
        ("s1,p1,2025-01-01,21,RDZ", "the first line looks like data"),
    ],
)
def test_a_header_that_does_not_match_says_why(tmp_path, header, hint):
    write_drop(tmp_path, population=[ME])
    (tmp_path / "admissions.csv").write_text(header + "\ns1,p1,2025-01-01,21,RDZ\n")
    assert hint in stage_expecting_error(tmp_path)


def test_a_repeated_header_column_is_named(tmp_path):
    write_drop(tmp_path, population=[ME])
    path = tmp_path / "gp_appointments.csv"
    path.write_text(path.read_text().replace("practice_code\n", "practice_code,hcp_type\n", 1))
    assert "repeated column names in the header: hcp_type" in stage_expecting_error(tmp_path)


def test_every_broken_rule_is_listed(tmp_path):
    conn, _ = staged(tmp_path, population=[{**ME, "birth_year": "1700", "birth_month": "0", "registration_start": "x"}])
    ((_, reason),) = quarantine(conn, "population")
    assert reason == "birth_year is below 1890; birth_month is below 1; registration_start is not a valid YYYY-MM-DD date"


def test_quarantine_keeps_the_raw_values_and_extra_columns(tmp_path):
    write_drop(tmp_path, population=[ME])
    path = tmp_path / "gp_appointments.csv"
    path.write_text(
        "appointment_id,person_id,appointment_date,appt_status,appt_mode,hcp_type,practice_code,note\n"
        "a1,p1,31/01/2025,Attended,Telephone,GP,P001,typed by hand\n"
    )
    conn = duckdb.connect()
    stage_drop(conn, tmp_path)
    row = conn.sql("SELECT * FROM quarantine_gp_appointments").pl().row(0, named=True)
    assert row["appointment_date"] == "31/01/2025" and row["note"] == "typed by hand"
    assert row["source_file"] == str(path) and row["source_row"] == 1


def test_empty_cells_are_null_and_optional(tmp_path):
    conn, counts = staged(tmp_path, population=[{**ME, "lsoa_code": None, "imd_decile": None}])
    assert counts["population"].accepted == 1


# --- layouts and formats -----------------------------------------------------------------------


def test_columns_in_any_order_and_parquet_files_are_read(tmp_path):
    write_drop(tmp_path, population=[ME])
    rows = complete_rows("gp_appointments", [{"person_id": "p1"}])
    frame = pl.DataFrame(rows).select(list(reversed(EXTRACTS["gp_appointments"].columns)))
    frame = frame.with_columns(pl.col("appointment_date").str.to_date())
    (tmp_path / "gp_appointments.csv").unlink()
    frame.write_parquet(tmp_path / "gp_appointments.parquet")
    conn = duckdb.connect()
    counts = stage_drop(conn, tmp_path)
    assert counts["gp_appointments"].accepted == 1


def test_a_folder_mixing_csv_and_parquet_is_unioned(tmp_path):
    write_drop(tmp_path, population=[ME])
    (tmp_path / "gp_appointments.csv").unlink()
    columns = EXTRACTS["gp_appointments"].columns
    write_csv(tmp_path / "gp_appointments" / "a.csv", columns, complete_rows("gp_appointments", [{"person_id": "p1", "appointment_id": "x"}]))
    pl.DataFrame(complete_rows("gp_appointments", [{"person_id": "p1", "appointment_id": "y"}])).write_parquet(
        tmp_path / "gp_appointments" / "b.parquet"
    )
    (tmp_path / "gp_appointments" / ".DS_Store").write_bytes(b"\x00")
    conn = duckdb.connect()
    assert stage_drop(conn, tmp_path)["gp_appointments"].accepted == 2


def test_header_only_file_is_an_empty_extract(tmp_path):
    conn, counts = staged(tmp_path, population=[ME])
    assert counts["gp_appointments"].read == 0


# --- whole-file problems -------------------------------------------------------------------------


def stage_expecting_error(folder):
    with pytest.raises(ExtractFileError) as error:
        stage_drop(duckdb.connect(), folder)
    return str(error.value)


def test_missing_required_column_names_file_and_column(tmp_path):
    write_drop(tmp_path, population=[ME])
    (tmp_path / "admissions.csv").write_text("spell_id,person_id,admission_date\ns1,p1,2025-01-01\n")
    message = stage_expecting_error(tmp_path)
    assert "admissions.csv" in message and "admission_method" in message


def test_empty_file_is_refused(tmp_path):
    write_drop(tmp_path, population=[ME])
    (tmp_path / "ed_attendances.csv").write_text("")
    assert "ed_attendances.csv: the file is empty" in stage_expecting_error(tmp_path)


def test_non_utf8_file_is_refused(tmp_path):
    write_drop(tmp_path, population=[ME])
    path = tmp_path / "practices.csv"
    path.write_bytes(path.read_bytes() + "P002,Caf\u00e9 Surgery,PCN1,N,north,North,\n".encode("latin-1"))
    message = stage_expecting_error(tmp_path)
    assert "practices.csv" in message and "CSV" in message


def test_wrong_number_of_fields_is_refused_naming_the_file(tmp_path):
    write_drop(tmp_path, population=[ME])
    path = tmp_path / "practices.csv"
    path.write_text(path.read_text() + "P002,too,few\n")
    assert "practices.csv: cannot be read as CSV" in stage_expecting_error(tmp_path)


def test_file_that_is_not_parquet_is_refused(tmp_path):
    write_drop(tmp_path, population=[ME])
    (tmp_path / "admissions.csv").unlink()
    (tmp_path / "admissions.parquet").write_text("spell_id,person_id\n")
    assert "admissions.parquet: cannot be read as Parquet" in stage_expecting_error(tmp_path)


def test_other_file_types_in_an_extract_folder_are_refused(tmp_path):
    (tmp_path / "gp_appointments").mkdir()
    (tmp_path / "gp_appointments" / "notes.txt").write_text("hello")
    with pytest.raises(ExtractFileError, match="notes.txt: not a .csv, .csv.gz or .parquet file"):
        find_extract_files(tmp_path, "gp_appointments")


def test_two_sources_for_one_extract_are_refused(tmp_path):
    (tmp_path / "admissions.csv").write_text("a\n")
    (tmp_path / "admissions.parquet").write_text("a\n")
    with pytest.raises(ExtractFileError, match="more than one source"):
        find_extract_files(tmp_path, "admissions")


def test_an_empty_extract_folder_is_an_extract_with_no_rows(tmp_path):
    write_drop(tmp_path, population=[ME])
    (tmp_path / "ed_attendances.csv").unlink()
    (tmp_path / "ed_attendances").mkdir()
    assert find_extract_files(tmp_path, "ed_attendances") == []
    assert find_extract_files(tmp_path, "social_care_events") is None  # absent, not empty
    conn = duckdb.connect()
    assert stage_drop(conn, tmp_path)["ed_attendances"].read == 0


@pytest.mark.parametrize("column", ["_row_order", "_source_file", "_source_row"])
def test_columns_named_like_the_pipelines_own_are_refused(tmp_path, column):
    write_drop(tmp_path, population=[ME])
    path = tmp_path / "gp_appointments.csv"
    path.write_text(path.read_text().replace("practice_code\n", f"practice_code,{column}\n", 1))
    assert f"{column} are reserved" in stage_expecting_error(tmp_path)


def test_rows_keep_file_order_in_a_file_read_by_several_threads(tmp_path):
    """Repeated ids keep the first row in file order, even when DuckDB splits a big file."""
    write_drop(tmp_path, population=[ME])
    columns = EXTRACTS["gp_appointments"].columns
    rows = [{"appointment_id": "dup", "person_id": "p1", "appointment_date": "2025-01-01"}]
    rows += [{"appointment_id": f"a{i}", "person_id": "p1"} for i in range(300_000)]
    rows += [{"appointment_id": "dup", "person_id": "p1", "appointment_date": "2025-02-02"}]
    write_csv(tmp_path / "gp_appointments.csv", columns, complete_rows("gp_appointments", rows))
    conn = duckdb.connect(config={"threads": 4})
    stage_drop(conn, tmp_path)
    assert conn.execute("SELECT appointment_date::VARCHAR FROM stg_gp_appointments WHERE appointment_id = 'dup'").fetchall() == [("2025-01-01",)]
    assert quarantine(conn, "gp_appointments") == [(300_002, "repeated appointment_id")]


def test_parquet_with_everyday_types_is_read_by_its_real_type(tmp_path):
    """As pandas writes it: dates as midnight timestamps, zoned timestamps, integers with gaps as floats."""
    import datetime as dt

    write_drop(tmp_path, practices=[{}])
    (tmp_path / "population.csv").unlink()
    population = pl.DataFrame(complete_rows("population", [{"person_id": "p1"}, {"person_id": "p2"}])).with_columns(
        pl.col("registration_start").str.to_datetime("%Y-%m-%d"),
        pl.Series("imd_decile", [5.0, None]),
        pl.col("birth_year").cast(pl.Float64),
    )
    population.write_parquet(tmp_path / "population.parquet")
    (tmp_path / "ed_attendances.csv").unlink()
    arrival = dt.datetime(2025, 7, 1, 9, 0, tzinfo=dt.timezone.utc)
    ed = pl.DataFrame(complete_rows("ed_attendances", [{"person_id": "p1"}])).with_columns(
        pl.lit(arrival).alias("arrival_datetime")
    )
    ed.write_parquet(tmp_path / "ed_attendances.parquet")
    conn = duckdb.connect()
    counts = stage_drop(conn, tmp_path)
    assert counts["population"].accepted == 2 and counts["ed_attendances"].accepted == 1
    assert conn.execute("SELECT imd_decile FROM stg_population ORDER BY person_id").fetchall() == [(5,), (None,)]
    # 09:00 UTC in July is 10:00 in England
    assert conn.execute("SELECT arrival_datetime::VARCHAR FROM stg_ed_attendances").fetchall() == [("2025-07-01 10:00:00",)]


def test_parquet_timestamp_with_a_time_is_not_a_date(tmp_path):
    import datetime as dt

    write_drop(tmp_path, population=[ME])
    (tmp_path / "gp_appointments.csv").unlink()
    gp = pl.DataFrame(complete_rows("gp_appointments", [{"person_id": "p1"}])).with_columns(
        pl.lit(dt.datetime(2025, 1, 15, 9, 30)).alias("appointment_date")
    )
    gp.write_parquet(tmp_path / "gp_appointments.parquet")
    conn = duckdb.connect()
    stage_drop(conn, tmp_path)
    assert quarantine(conn, "gp_appointments") == [(1, "appointment_date is not a valid YYYY-MM-DD date")]


def test_the_whole_table_rule_check_finds_a_bad_row_in_staging(tmp_path):
    """The blocking schema check re-applies every rule to the staged table: it passes on what
    staging accepted and fails on a row slipped in afterwards."""
    import datetime as dt

    from schemas.sql_rules import rows_breaking_rules_sql

    conn, _ = staged(tmp_path, population=[ME], gp_appointments=[{"person_id": "p1"}] * 3)
    check = rows_breaking_rules_sql(EXTRACTS["gp_appointments"], "stg_gp_appointments", dt.date.today())
    assert conn.execute(check).fetchall() == [(0,)]
    conn.execute("INSERT INTO stg_gp_appointments SELECT 'x', 'stranger', DATE '2025-01-01', 'Attended', 'Telephone', 'GP', 'P001'")
    conn.execute("INSERT INTO stg_gp_appointments SELECT 'y', 'p1', DATE '2025-01-01', 'attended', 'Telephone', 'GP', 'P001'")
    assert conn.execute(check).fetchall() == [(2,)]


@pytest.mark.parametrize(
    "name, problem",
    [
        ("gp_medication.csv", "did you mean gp_medications?"),
        ("population.txt", "not a .csv, .csv.gz or .parquet file"),
        ("admissions.zip", "compressed as .zip"),
        ("extra_codes.parquet", "matches no extract"),
        ("old", "matches no extract"),
    ],
)
def test_a_data_file_that_matches_no_extract_is_a_problem(tmp_path, name, problem):
    from pipeline.extract_files import unrecognised_files

    (tmp_path / name).mkdir() if name == "old" else (tmp_path / name).write_text("x\n")
    (tmp_path / "README.md").write_text("notes")
    (tmp_path / ".done").write_text("")
    problems, others = unrecognised_files(tmp_path, list(EXTRACTS))
    assert len(problems) == 1 and problem in problems[0] and name in problems[0]
    assert others == [tmp_path / "README.md"]


def test_extract_names_match_in_any_case_and_gzip_csv_is_read(tmp_path):
    import gzip

    write_drop(tmp_path, population=[ME], gp_appointments=[{"person_id": "p1"}])
    (tmp_path / "population.csv").rename(tmp_path / "Population.CSV")
    source = tmp_path / "gp_appointments.csv"
    (tmp_path / "gp_appointments.csv.gz").write_bytes(gzip.compress(source.read_bytes()))
    source.unlink()
    conn = duckdb.connect()
    counts = stage_drop(conn, tmp_path)
    assert counts["population"].accepted == 1 and counts["gp_appointments"].accepted == 1
