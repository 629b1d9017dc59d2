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
