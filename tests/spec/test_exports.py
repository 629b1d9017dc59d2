"""Contract section 4: files safe to open in Excel, folder names that cannot escape."""

import polars as pl
import pytest

from pipeline.exports import neighbourhood_folder, neutralise_formulas, write_parquet_and_csv


def test_formula_cells_are_neutralised_in_csv_but_kept_in_parquet(tmp_path):
    frame = pl.DataFrame(
        {
            "name": ["=HYPERLINK(\"http://x\")", "+1", "-2", "@SUM(A1)", "\tTab", "plain", "a=b", None],
            "count": [1, 2, 3, 4, 5, 6, 7, 8],
        }
    )
    write_parquet_and_csv(frame, tmp_path, "cohort")
    csv_names = pl.read_csv(tmp_path / "cohort.csv", infer_schema=False)["name"].to_list()
    assert csv_names == ["'=HYPERLINK(\"http://x\")", "'+1", "'-2", "'@SUM(A1)", "'\tTab", "plain", "a=b", None]
    assert pl.read_parquet(tmp_path / "cohort.parquet").equals(frame)


def test_numbers_are_not_touched_by_neutralising():
    frame = pl.DataFrame({"n": [-5, 3]})
    assert neutralise_formulas(frame).equals(frame)


@pytest.mark.parametrize("code", ["..", ".", "../etc", "a/b", "a\\b", "", "x" * 65, "north east"])
def test_unsafe_neighbourhood_codes_never_become_folders(tmp_path, code):
    with pytest.raises(ValueError):
        neighbourhood_folder(tmp_path, code)


TERMS = {"as_of": "2025-03-31", "window_start": "2024-04-01", "window_end": "2025-03-31",
         "gp_threshold": 25, "ed_threshold": 6, "admissions_threshold": 4}


def test_the_data_dictionary_gives_the_runs_thresholds_and_window_in_numbers():
    from schemas.outputs import HiuCohort, data_dictionary

    meaning = dict(data_dictionary(HiuCohort, TERMS).select("column", "description").iter_rows())
    assert "25 or more" in meaning["hiu_gp"] and "6 or more" in meaning["hiu_ed"] and "4 or more" in meaning["hiu_admissions"]
    assert "2024-04-01 to 2025-03-31" in meaning["gp_appointments_12m"]
    assert "2024-04-01 to 2025-03-31" in meaning["as_of_date"]
    assert "{" not in "".join(meaning.values())


def test_the_dictionary_says_what_the_csv_does_to_a_column():
    from schemas.outputs import FrailtyCohort, data_dictionary

    notes = dict(data_dictionary(FrailtyCohort, TERMS).select("column", "in_the_csv").iter_rows())
    assert "'" in notes["person_id"] and "formula" in notes["person_id"].lower()
    assert "2 decimal places" in notes["efi_score"] and "Parquet" in notes["efi_score"]
    assert notes["age"] == ""


def test_scores_are_rounded_in_the_csv_only(tmp_path):
    frame = pl.DataFrame({"person_id": ["a"], "efi_score": [1 / 36]})
    write_parquet_and_csv(frame, tmp_path, "cohort", decimals={"efi_score": 2})
    assert (tmp_path / "cohort.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    assert pl.read_csv(tmp_path / "cohort.csv")["efi_score"].to_list() == [0.03]
    assert pl.read_parquet(tmp_path / "cohort.parquet")["efi_score"].to_list() == [1 / 36]


def test_every_column_of_every_list_has_a_heading_and_one_place_in_the_workbook():
    from schemas.outputs import FrailtyCohort, HiuCohort, workbook_columns

    for model in (HiuCohort, FrailtyCohort):
        columns = [c for c, _ in workbook_columns(model)]
        assert sorted(columns) == sorted(model.to_schema().columns)
        assert columns[0] == "person_id" and columns[-1] == "as_of_date"
