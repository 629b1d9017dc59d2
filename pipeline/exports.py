"""Writing the output files of a run into its run folder: Parquet and CSV with the same rows, CSV
safe to open in Excel, one folder per neighbourhood. `pipeline.publish` moves them into place."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import polars as pl

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


def neighbourhood_folder(root: Path, code: str) -> Path:
    """The folder of one neighbourhood, refusing codes that are not safe as a folder name."""
    if not re.fullmatch(NEIGHBOURHOOD_CODE.strip("^$"), code) or code in (".", ".."):
        raise ValueError(f"neighbourhood code {code!r} is not safe as a folder name")
    folder = root / "neighbourhoods" / code
    if folder.resolve().parent != (root / "neighbourhoods").resolve():
        raise ValueError(f"neighbourhood code {code!r} escapes the output folder")
    return folder


def write_parquet_and_csv(frame: pl.DataFrame, folder: Path, stem: str) -> dict[str, int]:
    """`stem.parquet` and `stem.csv` with the same rows; the CSV safe to open in Excel."""
    folder.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(folder / f"{stem}.parquet", compression="zstd")
    neutralise_formulas(frame).write_csv(folder / f"{stem}.csv", datetime_format="%Y-%m-%d %H:%M:%S")
    return {f"{stem}.parquet": frame.height, f"{stem}.csv": frame.height}


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def write_neighbourhood_files(
    frame: pl.DataFrame, codes: list[str], run_dir: Path, stem: str, dictionary: pl.DataFrame
) -> dict[str, int]:
    """One folder per neighbourhood code, holding only that neighbourhood's rows of `frame` (an
    empty file where it has none, so every INT finds its list) and the data dictionary."""
    rows_by_code = {}
    for code in codes:
        folder = neighbourhood_folder(run_dir, code)
        rows = frame.filter(pl.col("neighbourhood_code") == code)
        write_parquet_and_csv(rows, folder, stem)
        dictionary.write_csv(folder / f"{stem}_dictionary.csv")
        rows_by_code[code] = rows.height
    unassigned = frame.filter(~pl.col("neighbourhood_code").is_in(codes)).height
    if unassigned:
        raise ValueError(f"{unassigned} rows of {stem} belong to no known neighbourhood")
    return rows_by_code
