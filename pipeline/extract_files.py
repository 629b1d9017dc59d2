"""Find an extract's files in a drop and present them, as text, as a raw DuckDB view.

An extract is either one file `NAME.csv` / `NAME.parquet` or a folder `NAME/` of such files
(contract section 2). Every file is read through once here, so whole-file problems raise
`ExtractFileError`, naming the file, before anything downstream runs; row-level problems are left
for the staging rules to quarantine.

`raw_<extract>` is a view over the files rather than a copy: copying tens of millions of rows into
the warehouse cost as much as checking them. Staging snapshots what it reads (accepted rows in
`stg_<extract>`, rejected rows with their raw values in `quarantine_<extract>`), and the table
`extract_files` records each file's row count, size and modification time at read time.
"""

from __future__ import annotations

import csv
import difflib
import gzip
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from pipeline.duck import drop_relation
from schemas.extracts import Extract
from schemas.sql_rules import LOCAL_TIME_ZONE, quote_ident, quote_literal, staging_types

SUFFIXES = (".csv", ".parquet", ".csv.gz")
# Files a drop may hold that look like data: one of these that matches no extract stops the run,
# because an extract that is there but unrecognised would be read as "not supplied".
DATA_SUFFIXES = (".csv", ".parquet", ".gz", ".zip", ".bz2", ".xz", ".zst", ".7z", ".tsv", ".xlsx", ".xls")
COMPRESSED = (".zip", ".bz2", ".xz", ".zst", ".7z")
# Columns the loader adds to every raw table. `_row_order` orders rows as the contract does for
# repeated ids: files in name order, rows in file order.
SOURCE_COLUMNS = ("_source_file", "_source_row", "_row_order")


class ExtractFileError(Exception):
    """A file (or a whole extract) that cannot be read as its extract at all."""


@dataclass(frozen=True)
class RawLoad:
    extract: str
    present: bool  # supplied, as a file or a folder (an empty folder is an extract with no rows)
    files: list[Path]
    rows: int
    columns: list[str]
    rows_by_file: dict[Path, int]
    absent_columns: list[str] = field(default_factory=list)  # nullable columns no file carries


def data_suffix(path: Path) -> str | None:
    """The suffix that makes `path` an extract file (`.csv`, `.parquet`, `.csv.gz`), any case."""
    name = path.name.lower()
    return next((s for s in sorted(SUFFIXES, key=len, reverse=True) if name.endswith(s)), None)


def _stem(path: Path) -> str:
    suffix = data_suffix(path)
    return path.name[: -len(suffix)] if suffix else path.name


def _is_hidden(path: Path) -> bool:
    return path.name.startswith(".")


def _looks_like_data(path: Path) -> bool:
    return path.is_dir() or any(path.name.lower().endswith(s) for s in DATA_SUFFIXES)


def find_extract_files(extracts_dir: Path, name: str) -> list[Path] | None:
    """The files of one extract in name order; None when the extract is absent. Names match
    whatever their case (`population.CSV`), and gzip-compressed CSV (`.csv.gz`) is read as CSV."""
    entries = sorted(p for p in extracts_dir.iterdir() if not _is_hidden(p)) if extracts_dir.is_dir() else []
    found = [p for p in entries if (p.is_dir() and p.name.lower() == name) or (p.is_file() and data_suffix(p) and _stem(p).lower() == name)]
    if len(found) > 1:
        names = ", ".join(str(p) for p in found)
        raise ExtractFileError(f"extract {name}: more than one source ({names}); keep one")
    if not found:
        return None
    source = found[0]
    if source.is_file():
        return [source]
    files = []
    for path in sorted(source.iterdir(), key=lambda p: p.name):
        if _is_hidden(path):
            continue  # hidden files (.DS_Store, .done markers, editor swap files) are not data
        if not path.is_file() or data_suffix(path) is None:
            raise ExtractFileError(f"{path}: {_not_readable(path)} (extract {name}: a folder holds .csv, .csv.gz or .parquet files)")
        files.append(path)
    return files  # possibly none: "any number of files"


def _not_readable(path: Path) -> str:
    lower = path.name.lower()
    compressed = next((s for s in COMPRESSED if lower.endswith(s)), None)
    if compressed:
        return f"compressed as {compressed}, which the pipeline cannot read: decompress it (or gzip it as .csv.gz)"
    if lower.endswith(".gz"):
        return "gzip is read only for CSV files named .csv.gz"
    return "not a .csv, .csv.gz or .parquet file"


def unrecognised_files(extracts_dir: Path, names: list[str]) -> tuple[list[str], list[Path]]:
    """Entries of the drop that match no extract: (problems naming each data file, other files).
    A data file is a folder, a file with a data suffix, or any file named like an extract
    (`population.txt`, a misspelt `gp_medication.csv`), which gets a suggestion. Other files (a
    README, a supplier's manifest) are listed but not read; hidden files are ignored."""
    problems, others = [], []
    for path in sorted(extracts_dir.iterdir()):
        if _is_hidden(path):
            continue
        stem = (path.name if path.is_dir() else _stem(path)).lower()
        if stem in names and (path.is_dir() or data_suffix(path)):
            continue
        base = stem.split(".")[0]
        close = difflib.get_close_matches(base, names, n=1, cutoff=0.75)
        if base in names:
            problems.append(f"{path}: {_not_readable(path)}")
        elif close:
            problems.append(f"{path}: matches no extract; did you mean {close[0]}?")
        elif _looks_like_data(path):
            problems.append(f"{path}: matches no extract (the extracts are {', '.join(names)})")
        else:
            others.append(path)
    return problems, others


def csv_header(path: Path) -> list[str]:
    """The header row of a CSV file, checking it is non-empty UTF-8."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as handle:
            head = handle.read(1 << 16)
    except (OSError, EOFError) as error:
        raise ExtractFileError(f"{path}: cannot be read as gzip-compressed CSV ({error})") from None
    if not head.strip():
        raise ExtractFileError(f"{path}: the file is empty")
    first_line = head.split(b"\n", 1)[0]
    try:
        text = first_line.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ExtractFileError(
            f"{path}: not UTF-8 text ({error.reason} at byte {error.start}); save it as UTF-8 (Excel: CSV UTF-8)"
        ) from None
    header = next(csv.reader(io.StringIO(text)), [])
    for delimiter, word in ((";", "semicolons"), ("\t", "tabs"), ("|", "bars")):
        if len(header) == 1 and delimiter in header[0]:
            raise ExtractFileError(
                f"{path}: the header is one column holding {word!s} ({delimiter!r}): the file looks {word[:-1]}-separated; "
                "the contract needs comma-separated CSV"
            )
    header = [name.strip() for name in header]
    if not any(header):
        raise ExtractFileError(f"{path}: the first line is not a header row")
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise ExtractFileError(f"{path}: repeated column names in the header: {', '.join(repeated)}")
    return header


def parquet_columns(conn: duckdb.DuckDBPyConnection, path: Path) -> dict[str, str]:
    """Column name -> Parquet (DuckDB) type."""
    try:
        rows = conn.execute(f"DESCRIBE SELECT * FROM read_parquet({quote_literal(path)})").fetchall()
    except duckdb.Error as error:
        raise ExtractFileError(f"{path}: cannot be read as Parquet ({engine_explanation(error)})") from None
    return {row[0]: row[1] for row in rows}




def parquet_as_text(column: str, parquet_type: str, expected_type: str | None) -> str:
    """A Parquet value as the text its CSV cell would hold. Parquet written by common tools stores
    dates as midnight timestamps, times with a zone, and whole numbers with gaps as floats; read by
    their real type these are valid, where a plain cast to text would break the contract's formats."""
    value = quote_ident(column)
    if parquet_type.startswith("TIMESTAMP WITH TIME ZONE"):
        value = f"timezone('{LOCAL_TIME_ZONE}', {value})"
    if expected_type == "DATE" and parquet_type.startswith("TIMESTAMP"):
        return f"CASE WHEN CAST({value} AS TIME) = TIME '00:00:00' THEN strftime({value}, '%Y-%m-%d') ELSE CAST({value} AS VARCHAR) END"
    if expected_type == "BIGINT" and (parquet_type in ("FLOAT", "DOUBLE") or parquet_type.startswith("DECIMAL")):
        return f"CASE WHEN {value} = trunc({value}) THEN CAST(CAST({value} AS BIGINT) AS VARCHAR) ELSE CAST({value} AS VARCHAR) END"
    return f"CAST({value} AS VARCHAR)"


# DuckDB's explanations worth passing on, besides its first line. Everything else is left out: the
# lines that quote the offending row (patient-level data never goes into a message, a log or
# Dagster metadata, and a quoted row can span several lines) and its dump of reader options.
_EXPLAINING = ("Expected Number of Columns", "This can happen", "Invalid unicode", "Maximum line size", "Value with")


def engine_explanation(error: Exception) -> str:
    """DuckDB's own explanation of a read error, without the data it quotes."""
    lines = [line.strip() for line in str(error).strip().splitlines()]
    kept = lines[:1] + [line for line in lines[1:] if line.startswith(_EXPLAINING)]
    explanation = "; ".join(kept)
    if "unicode" in explanation.lower() or "utf-8" in explanation.lower():
        explanation += "; save the file as UTF-8 (Excel: CSV UTF-8)"
    if "state machine" in explanation:
        explanation += "; look for a stray quote or mixed line endings"
    return explanation


def file_columns(conn: duckdb.DuckDBPyConnection, path: Path) -> dict[str, str]:
    """Column name -> type as stored (always VARCHAR for CSV)."""
    if _is_csv(path):
        return {name: "VARCHAR" for name in csv_header(path)}
    return parquet_columns(conn, path)


# Rows of file number i are ordered after every row of files 0..i-1: files in name order, rows in
# file order (contract section 3, repeated ids).
FILE_ORDER_STRIDE = 10**12


def _select_file(path: Path, columns: dict[str, str], file_index: int, expected: dict[str, str]) -> str:
    """A SELECT of one file's rows as text, with its source file, 1-based row number and order."""
    texts = ", ".join(f"{parquet_as_text(c, t, expected.get(c))} AS {quote_ident(c)}" for c, t in columns.items())
    if _is_csv(path):
        spec = "{" + ", ".join(f"{quote_literal(c)}: 'VARCHAR'" for c in columns) + "}"
        source = (
            f"read_csv({quote_literal(path)}, header = true, auto_detect = false, columns = {spec}, "
            "delim = ',', quote = '\"', escape = '\"', strict_mode = true, encoding = 'utf-8')"
        )
        # CSV has no row-number column; an empty OVER () numbers rows in scan order, which DuckDB
        # keeps as file order (preserve_insertion_order, tested in tests/spec/test_ingest.py).
        row_number = "row_number() OVER ()"
    else:
        source = f"read_parquet({quote_literal(path)}, file_row_number = true)"
        row_number = "file_row_number + 1"
    return (
        f"SELECT {texts}, {quote_literal(path)} AS _source_file, {row_number} AS _source_row, "
        f"{file_index} * {FILE_ORDER_STRIDE} + {row_number} AS _row_order FROM {source}"
    )


def unchanged_since(path: Path, size: int, modified_us: int) -> bool:
    """Whether a file still has the size and modification time recorded when it was read."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return False
    return stat.st_size == size and int(stat.st_mtime * 1_000_000) == modified_us


def _header_hint(missing: list[str], columns: dict[str, str]) -> str:
    """Why the names may not match, when the header makes it plain."""
    lower = {c.lower().strip(): c for c in columns}
    near = [f"{lower[m]!r} for {m}" for m in missing if m in lower]
    if near:
        return f" (the header has {', '.join(near[:3])}: column names must match exactly, in lower case)"
    if not any(c in columns for c in missing) and any(re.fullmatch(r"[0-9][0-9 :./-]*", c) for c in columns):
        return " (the first line looks like data, not a header row)"
    return ""


def _is_csv(path: Path) -> bool:
    return data_suffix(path) in (".csv", ".csv.gz")


def load_raw(conn: duckdb.DuckDBPyConnection, extract: Extract, files: list[Path], table: str) -> RawLoad:
    """(Re)create view `table` over every row of `files` as text, plus the source columns. A
    nullable column that no file carries is null for every row (and recorded as absent); the
    extract's types guide reading typed Parquet."""
    files = [path.resolve() for path in files]  # the view must work from any working directory
    if not files:
        return create_empty_raw(conn, extract.columns, table, present=True)
    columns_by_file = {}
    for path in files:
        columns = file_columns(conn, path)
        reserved = [c for c in columns if c in SOURCE_COLUMNS]
        if reserved:
            raise ExtractFileError(f"{path}: column name(s) {', '.join(reserved)} are reserved for the pipeline")
        missing = [c for c in extract.required_columns if c not in columns]
        if missing:
            raise ExtractFileError(
                f"{path}: required column(s) missing for extract {extract.name}: {', '.join(missing)}{_header_hint(missing, columns)}"
            )
        columns_by_file[path] = columns
    all_columns = list(extract.columns)
    for columns in columns_by_file.values():
        all_columns += [c for c in columns if c not in all_columns]
    absent = [c for c in extract.columns if not any(c in columns for columns in columns_by_file.values())]

    selects, rows_by_file = [], {}
    expected_types = staging_types(extract)
    for file_index, (path, columns) in enumerate(columns_by_file.items()):
        select = _select_file(path, columns, file_index, expected_types)
        # One full read of every CSV column, so that encoding errors and broken rows surface here,
        # naming the file; Parquet files carry their row count and were opened whole above.
        touch_all = "".join(f", max(length({quote_ident(c)}))" for c in columns) if _is_csv(path) else ""
        try:
            rows_by_file[path] = conn.execute(f"SELECT count(*){touch_all} FROM ({select})").fetchall()[0][0]
        except duckdb.Error as error:
            kind = "CSV" if _is_csv(path) else "Parquet"
            raise ExtractFileError(f"{path}: cannot be read as {kind} ({engine_explanation(error)})") from None
        missing_here = [c for c in all_columns if c not in columns]
        padding = "".join(f", NULL::VARCHAR AS {quote_ident(c)}" for c in missing_here)
        ordered = ", ".join(quote_ident(c) for c in all_columns)
        selects.append(f"SELECT {ordered}, _source_file, _source_row, _row_order FROM (SELECT *{padding} FROM ({select}))")
    drop_relation(conn, table)
    conn.execute(f"CREATE VIEW {table} AS " + " UNION ALL ".join(selects))
    return RawLoad(extract.name, True, files, sum(rows_by_file.values()), all_columns, rows_by_file, absent)


def create_empty_raw(conn: duckdb.DuckDBPyConnection, columns: list[str], table: str, present: bool = False) -> RawLoad:
    """An empty raw view (an absent optional extract, or an empty folder), so that everything
    downstream still runs."""
    nulls = ", ".join(f"NULL::VARCHAR AS {quote_ident(c)}" for c in columns)
    drop_relation(conn, table)
    conn.execute(
        f"CREATE VIEW {table} AS SELECT {nulls}, NULL::VARCHAR AS _source_file, NULL::BIGINT AS _source_row, "
        "NULL::BIGINT AS _row_order WHERE false"
    )
    return RawLoad(table.removeprefix("raw_"), present, [], 0, list(columns), {})
