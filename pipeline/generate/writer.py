"""Writing extracts as Parquet (zstd) or CSV, one file or a folder of per-year files.

Writes run on a small thread pool while the next stage is being generated (Arrow's writers release
the GIL), which is most of what keeps a million people inside the time budget on two cores.
Parquet output is byte-identical for identical tables: pyarrow writes no timestamps, only its
fixed created-by string.
"""
from __future__ import annotations

import shutil
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

EXTRACTS = ["practices", "population", "gp_appointments", "ed_attendances", "admissions",
            "admission_diagnoses", "social_care_events", "gp_coded_events", "gp_medications"]
FORMATS = ("parquet", "csv")


def clear_extracts(out: Path) -> None:
    """Remove earlier copies of the nine extracts in `out` (either format, file or folder), so a drop
    never holds two versions of one extract. Nothing else in the folder is touched."""
    for name in EXTRACTS:
        for suffix in ("csv", "parquet"):
            p = out / f"{name}.{suffix}"
            if p.is_file():
                p.unlink()
        d = out / name
        if d.is_dir():
            shutil.rmtree(d)


def _csv_ready(table: pa.Table) -> pa.Table:
    """Timestamps as whole seconds, so CSV cells read 'YYYY-MM-DD HH:MM:SS'; dictionaries as text."""
    cols = []
    for field, column in zip(table.schema, table.columns):
        if pa.types.is_timestamp(field.type):
            column = column.cast(pa.timestamp("s"))
        elif pa.types.is_dictionary(field.type):
            column = column.cast(field.type.value_type)
        cols.append(column)
    return pa.table(cols, names=table.column_names)


def write_file(table: pa.Table, path: Path, file_format: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    if file_format == "parquet":
        # store_schema=False: no Arrow schema in the footer, so dictionary-built string columns read
        # back as plain strings everywhere (pyarrow, polars, DuckDB), and dates/timestamps/ints keep
        # their Parquet logical types.
        pq.write_table(table, tmp, compression="zstd", compression_level=3, row_group_size=1 << 20,
                       store_schema=False)
    else:
        pacsv.write_csv(_csv_ready(table), tmp, pacsv.WriteOptions(include_header=True, batch_size=1 << 16))
    tmp.replace(path)


class DropWriter:
    def __init__(self, out: Path, file_format: str, workers: int = 2):
        if file_format not in FORMATS:
            raise ValueError(f"file_format must be one of {FORMATS}, not {file_format!r}")
        self.out = Path(out)
        self.format = file_format
        self.pool = ThreadPoolExecutor(max_workers=workers)
        self.futures: list[Future] = []
        self.files: dict[str, list[str]] = {}
        self.rows: dict[str, int] = {}

    def single(self, name: str, table: pa.Table) -> None:
        path = self.out / f"{name}.{self.format}"
        self.files[name] = [str(path)]
        self.rows[name] = table.num_rows
        self.futures.append(self.pool.submit(write_file, table, path, self.format))

    def by_year(self, name: str, table: pa.Table, date_column: str, empty_year: int) -> None:
        """One file per calendar year of `date_column`; the table must be sorted on it."""
        folder = self.out / name
        folder.mkdir(parents=True, exist_ok=True)
        days = table.column(date_column).combine_chunks().cast(pa.int32()).to_numpy()
        years = days.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
        self.files[name] = []
        self.rows[name] = table.num_rows
        # an empty table still gets one (empty) file, so that the extract exists
        present = np.unique(years).tolist() or [empty_year]
        for year in present:  # a handful of years
            lo = int(np.searchsorted(years, year, side="left"))
            hi = int(np.searchsorted(years, year, side="right"))
            path = folder / f"{year}.{self.format}"
            self.files[name].append(str(path))
            self.futures.append(self.pool.submit(write_file, table.slice(lo, hi - lo), path, self.format))

    def close(self) -> None:
        try:
            for f in self.futures:
                f.result()
        finally:
            self.pool.shutdown(wait=True)
