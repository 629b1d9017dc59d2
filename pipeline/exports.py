"""Writing the output files of a run into its run folder: Parquet for analysts, CSV for tools, and
for the cohort lists an Excel workbook for people, one folder per neighbourhood.
`pipeline.publish` moves them into place."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from pipeline.workbook import ListSheet, write_workbooks
from schemas.extracts import NEIGHBOURHOOD_CODE

# Spreadsheet programs run cells starting with =, +, - or @ as formulas (OWASP CSV injection); tab
# and carriage return are on OWASP's list too.
_FORMULA_PATTERN = r"^[=+\-@\t\r]"


def neutralise_formulas(frame: pl.DataFrame) -> pl.DataFrame:
    """Prefix text cells that a spreadsheet would run as a formula with a single quote."""
    text_columns = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    return frame.with_columns(
        pl.when(pl.col(name).str.contains(_FORMULA_PATTERN)).then("'" + pl.col(name)).otherwise(pl.col(name)).alias(name)
        for name in text_columns
    )


def for_display(frame: pl.DataFrame, decimals: dict[str, int]) -> pl.DataFrame:
    """Scores rounded to the places they are shown with (the Parquet keeps full precision)."""
    return frame.with_columns(pl.col(name).round(places) for name, places in decimals.items() if name in frame.columns)


def neighbourhood_folder(root: Path, code: str) -> Path:
    """The folder of one neighbourhood, refusing codes that are not safe as a folder name."""
    if not re.fullmatch(NEIGHBOURHOOD_CODE.strip("^$"), code) or code in (".", ".."):
        raise ValueError(f"neighbourhood code {code!r} is not safe as a folder name")
    folder = root / "neighbourhoods" / code
    if folder.resolve().parent != (root / "neighbourhoods").resolve():
        raise ValueError(f"neighbourhood code {code!r} escapes the output folder")
    return folder


def write_parquet_and_csv(frame: pl.DataFrame, folder: Path, stem: str, decimals: dict[str, int] | None = None) -> dict[str, int]:
    """`stem.parquet` and `stem.csv` with the same rows. The CSV has a UTF-8 byte-order mark (so a
    spreadsheet's default import reads `Médical` as written), formula-guarded text and scores
    rounded for display."""
    folder.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(folder / f"{stem}.parquet", compression="zstd")
    neutralise_formulas(for_display(frame, decimals or {})).write_csv(
        folder / f"{stem}.csv", datetime_format="%Y-%m-%d %H:%M:%S", include_bom=True
    )
    return {f"{stem}.parquet": frame.height, f"{stem}.csv": frame.height}


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


@dataclass(frozen=True)
class CohortList:
    """One cohort list as its files describe it."""

    stem: str  # hiu_cohort
    title: str  # High intensity users
    dictionary: pl.DataFrame  # the data dictionary, with this run's numbers
    columns: list[tuple[str, str]]  # (column, heading) in workbook order
    decimals: dict[str, int]

    def sheet(self, about: list[tuple[str, str]]) -> ListSheet:
        return ListSheet(self.title, self.columns, self.decimals, about, self.dictionary)


def write_neighbourhood_files(
    frame: pl.DataFrame, neighbourhoods: dict[str, str | None], run_dir: Path, cohort: CohortList, about
) -> dict[str, int]:
    """One folder per neighbourhood code, holding only that neighbourhood's rows of `frame` (empty
    files where it has none, so every INT finds its list): Parquet, CSV, workbook and the data
    dictionary. `about(code, name, rows)` gives the workbook's About lines for one neighbourhood."""
    rows_by_code, workbooks = {}, []
    for code, name in neighbourhoods.items():
        folder = neighbourhood_folder(run_dir, code)
        rows = frame.filter(pl.col("neighbourhood_code") == code)
        write_parquet_and_csv(rows, folder, cohort.stem, cohort.decimals)
        workbooks.append((rows, folder / f"{cohort.stem}.xlsx", cohort.sheet(about(code, name, rows.height))))
        cohort.dictionary.write_csv(folder / f"{cohort.stem}_dictionary.csv", include_bom=True)
        rows_by_code[code] = rows.height
    write_workbooks(workbooks)
    unassigned = frame.filter(~pl.col("neighbourhood_code").is_in(list(neighbourhoods))).height
    if unassigned:
        raise ValueError(f"{unassigned} rows of {cohort.stem} belong to no known neighbourhood")
    return rows_by_code
