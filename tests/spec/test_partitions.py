"""Splitting a drop by integrated care board (`pipeline.partitions`, issue 12): every row lands in
exactly one part, with its person, practice or spell; each part, staged alone, accepts and
quarantines exactly what the whole drop does for that part."""

import json
from collections import Counter

import duckdb
import polars as pl
import pytest

from pipeline.partitions import DEFAULT_PARTITION, ORIGIN_COLUMNS, UNASSIGNED, check_partition_key, split_drop
from pipeline.settings import HiuSettings
from schemas.extracts import EXTRACTS
from tests.drops import stage_drop, write_drop

PRACTICES = [
    {"practice_code": "P001", "icb_code": "QVV"},
    {"practice_code": "P002", "neighbourhood_code": "south", "icb_code": " QSL "},  # whitespace does not count
    {"practice_code": "P003", "neighbourhood_code": "east", "icb_code": "no/folder"},  # not a code: read as none
]
PEOPLE = [
    {"person_id": "a1"},
    {"person_id": "b1", "practice_code": "P002"},
    {"person_id": "c1", "practice_code": "P003"},
    {"person_id": "d1", "practice_code": "P999"},  # a practice not in practices
    {"person_id": "b1", "practice_code": "P001"},  # a repeat: goes where the first b1 goes, and is quarantined there
]


def the_drop(folder):
    return write_drop(
        folder,
        practices=PRACTICES,
        population=PEOPLE,
        gp_appointments=[
            {"person_id": "a1"}, {"person_id": "b1"}, {"person_id": " b1"}, {"person_id": "c1"},
            {"person_id": "nobody"},
            # one id, two people: every row of the id follows the first (a1's), as the whole run keeps the first
            {"appointment_id": "dup", "person_id": "a1"}, {"appointment_id": "dup", "person_id": "b1"},
        ],
        ed_attendances=[{"person_id": "b1"}],
        admissions=[{"spell_id": "s1", "person_id": "a1"}, {"spell_id": "s2", "person_id": "b1"}],
        admission_diagnoses=[{"spell_id": "s1"}, {"spell_id": "s2"}, {"spell_id": "s2"}, {"spell_id": "s9"}],
    )


def rows(folder, extract):
    return pl.read_parquet(folder / f"{extract}.parquet")


def test_each_row_goes_with_its_practice_person_or_spell(tmp_path):
    split = split_drop(the_drop(tmp_path / "drop"), tmp_path / "parts", max_unassigned_share=1)
    assert split.partitions == ["QSL", "QVV", DEFAULT_PARTITION]
    parts = tmp_path / "parts"
    assert rows(parts / "QVV", "practices")["practice_code"].to_list() == ["P001"]
    assert rows(parts / "QSL", "population")["person_id"].to_list() == ["b1", "b1"]  # the repeat follows the first
    qvv = rows(parts / "QVV", "gp_appointments")
    assert (qvv["appointment_id"].to_list(), qvv["person_id"].to_list()) == (["gp_1", "dup", "dup"], ["a1", "a1", "b1"])
    assert rows(parts / "QSL", "gp_appointments")["person_id"].to_list() == ["b1", " b1"]
    assert rows(parts / "QSL", "admission_diagnoses")["spell_id"].to_list() == ["s2", "s2"]
    # an ICB code that is not one is read as none, as staging reads it: the practice and its people are in `all`
    assert rows(parts / DEFAULT_PARTITION, "population")["person_id"].to_list() == ["c1"]
    # of no ICB: a person at a practice not in practices, activity of a person not in population
    assert rows(parts / UNASSIGNED, "practices").height == 0
    assert rows(parts / UNASSIGNED, "population")["person_id"].to_list() == ["d1"]
    assert rows(parts / UNASSIGNED, "gp_appointments")["person_id"].to_list() == ["nobody"]
    assert rows(parts / UNASSIGNED, "admission_diagnoses")["spell_id"].to_list() == ["s9"]


def test_nothing_is_lost_and_every_part_has_every_supplied_extract(tmp_path):
    drop = the_drop(tmp_path / "drop")
    split = split_drop(drop, tmp_path / "parts", max_unassigned_share=1)
    said = json.loads((tmp_path / "parts" / "split.json").read_text())
    for extract in ("practices", "population", "gp_appointments", "ed_attendances", "admissions", "admission_diagnoses"):
        read = duckdb.execute(f"SELECT count(*) FROM read_csv('{drop / extract}.csv', all_varchar=true)").fetchall()[0][0]
        written = [len(rows(tmp_path / "parts" / part, extract)) for part in (*split.partitions, UNASSIGNED)]
        assert sum(written) == read == said["rows_read"][extract]
    assert rows(tmp_path / "parts" / "QSL", "ed_attendances").height == 1
    assert rows(tmp_path / "parts" / "QVV", "ed_attendances").height == 0  # there, with its columns, and empty
    assert not (tmp_path / "parts" / "QVV" / "social_care_events.parquet").exists()  # not supplied anywhere


def test_each_row_keeps_where_it_came_from(tmp_path):
    drop = the_drop(tmp_path / "drop")
    split_drop(drop, tmp_path / "parts", max_unassigned_share=1)
    b1 = rows(tmp_path / "parts" / "QSL", "population")
    assert b1[ORIGIN_COLUMNS[0]].to_list() == [str((drop / "population.csv").resolve())] * 2
    assert b1[ORIGIN_COLUMNS[1]].to_list() == ["2", "5"]


def test_each_part_staged_alone_decides_as_the_whole_drop_does(tmp_path):
    """Accepted and quarantined, row by row: a part's staging equals the whole drop's for that part's rows."""
    drop = the_drop(tmp_path / "drop")
    split = split_drop(drop, tmp_path / "parts", max_unassigned_share=1)
    whole = duckdb.connect()
    stage_drop(whole, drop)
    parts = []
    for part in split.partitions:
        parts.append(duckdb.connect())
        stage_drop(parts[-1], tmp_path / "parts" / part)
    for extract in ("practices", "population", "gp_appointments", "ed_attendances", "admissions", "admission_diagnoses"):
        columns = ", ".join(EXTRACTS[extract].columns)
        accepted = sorted(map(repr, (row for conn in parts for row in conn.sql(f"SELECT {columns} FROM stg_{extract}").fetchall())))
        assert accepted == sorted(map(repr, whole.sql(f"SELECT {columns} FROM stg_{extract}").fetchall())), extract
        # what the parts quarantine, the whole drop quarantines for the same reasons (it has the unassigned rows too)
        reasons = f"SELECT reason FROM quarantine_{extract}"
        in_parts = Counter(reason for conn in parts for (reason,) in conn.sql(reasons).fetchall())
        assert in_parts <= Counter(reason for (reason,) in whole.sql(reasons).fetchall()), extract


def test_a_drop_without_icb_codes_is_one_partition(tmp_path):
    drop = write_drop(tmp_path / "drop", population=[{"person_id": "a1"}], gp_appointments=[{"person_id": "a1"}])
    split = split_drop(drop, tmp_path / "parts", max_unassigned_share=1)
    assert split.partitions == [DEFAULT_PARTITION]
    assert split.parts[DEFAULT_PARTITION]["gp_appointments"] == 1 and sum(split.parts[UNASSIGNED].values()) == 0


def test_a_new_split_replaces_the_last_and_removes_icbs_no_longer_there(tmp_path):
    split_drop(the_drop(tmp_path / "drop"), tmp_path / "parts", max_unassigned_share=1)
    drop = write_drop(tmp_path / "next", practices=[{"icb_code": "QVV"}], population=[{"person_id": "a1"}])
    split_drop(drop, tmp_path / "parts", max_unassigned_share=1)
    assert sorted(p.name for p in (tmp_path / "parts").iterdir()) == sorted(["QVV", UNASSIGNED, "split.json"])
    assert rows(tmp_path / "parts" / "QVV", "population")["person_id"].to_list() == ["a1"]


@pytest.mark.parametrize("key", ["", "unassigned", "../up", "a b"])
def test_a_partition_key_must_name_a_folder(key):
    with pytest.raises(ValueError, match="is not a partition"):
        check_partition_key(key)


def test_a_partitions_run_reads_and_writes_only_its_own_files():
    settings = HiuSettings(extracts_dir="drops", output_dir="out", warehouse="data/w.duckdb", partition_by="icb")
    one = settings.for_partition("QVV")
    assert (one.extracts_dir, one.output_dir, one.warehouse) == ("drops/QVV", "out/QVV", "data/w/QVV.duckdb")
    with pytest.raises(ValueError, match="HIU_PARTITION_BY"):
        HiuSettings().for_partition("QVV")
    with pytest.raises(ValueError, match="partition_by must be one of icb"):
        HiuSettings(partition_by="region")


def test_icb_code_is_a_column_of_practices():
    assert "icb_code" in EXTRACTS["practices"].columns and "icb_code" not in EXTRACTS["practices"].required_columns


def test_hiu_split_says_what_went_where_and_warns_of_rows_of_no_icb(tmp_path, capsys, monkeypatch):
    from pipeline.cli import main

    monkeypatch.setenv("HIU_MAX_QUARANTINE_SHARE", "0.5")  # this drop's rows of no ICB are a fifth of some extracts

    assert main(["split", "--extracts", str(the_drop(tmp_path / "drop")), "--out", str(tmp_path / "parts")]) == 0
    said = capsys.readouterr()
    assert "into 3 ICB drop(s)" in said.out and "QSL: 2 population rows" in said.out
    assert "row(s) belong to no ICB" in said.err and str(tmp_path / "parts" / UNASSIGNED) in said.err


def test_hiu_run_partitioned_runs_one_icb_that_is_there_and_refuses_before_writing_anything(tmp_path, monkeypatch, capsys):
    from pipeline.cli import main

    split_drop(the_drop(tmp_path / "drop"), tmp_path / "parts", max_unassigned_share=1)
    for variable, value in {"HIU_PARTITION_BY": "icb", "HIU_EXTRACTS_DIR": str(tmp_path / "parts"),
                            "HIU_OUTPUT_DIR": str(tmp_path / "out"), "HIU_WAREHOUSE": str(tmp_path / "w.duckdb")}.items():
        monkeypatch.setenv(variable, value)
    assert main(["run"]) == 2 and "say which with --partition ICB" in capsys.readouterr().err
    assert main(["run", "--partition", "QZZ"]) == 2
    said = capsys.readouterr().err
    assert "no drop for ICB QZZ" in said and "the ICBs there: QSL, QVV, all" in said
    assert main(["run", "--partition", "../QVV"]) == 2 and "is not a partition" in capsys.readouterr().err
    assert not (tmp_path / "out").exists() and not (tmp_path / "w").exists()


def test_a_repeated_person_follows_the_first_row_the_run_could_accept(tmp_path):
    drop = write_drop(tmp_path / "drop", practices=PRACTICES[:2],
                      population=[{"person_id": "b1", "practice_code": "P999"}, {"person_id": "b1", "practice_code": "P002"},
                                  {"person_id": "a1\t"}],  # a tab is whitespace, as staging reads it
                      gp_appointments=[{"person_id": "b1"}, {"person_id": "a1"}])
    split = split_drop(drop, tmp_path / "parts", max_unassigned_share=1)
    assert rows(tmp_path / "parts" / "QSL", "population")["practice_code"].to_list() == ["P999", "P002"]
    assert rows(tmp_path / "parts" / "QSL", "gp_appointments").height == 1
    assert rows(tmp_path / "parts" / "QVV", "gp_appointments").height == 1 and sum(split.parts[UNASSIGNED].values()) == 0


def test_a_split_refuses_what_a_run_would_refuse_and_leaves_nothing_behind(tmp_path):
    from pipeline.partitions import SplitError

    drop = the_drop(tmp_path / "drop")
    with pytest.raises(SplitError, match="population: 1 of 5 rows .* belong to no ICB"):
        split_drop(drop, tmp_path / "parts", max_unassigned_share=0.1)
    assert not [p for p in (tmp_path / "parts").iterdir()]  # nothing written, nothing half-written
    (drop / "gp_appointment.csv").write_text("person_id\n")
    with pytest.raises(SplitError, match="match no extract"):
        split_drop(drop, tmp_path / "parts", max_unassigned_share=1)
    with pytest.raises(SplitError, match="cannot go in the drop"):
        split_drop(drop, drop / "parts")


def test_a_split_removes_only_the_icbs_an_earlier_split_wrote(tmp_path):
    (tmp_path / "parts" / "national").mkdir(parents=True)  # not ours: kept
    split_drop(the_drop(tmp_path / "drop"), tmp_path / "parts", max_unassigned_share=1)
    assert (tmp_path / "parts" / "national").is_dir()
