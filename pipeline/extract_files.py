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
import io
from dataclasses import dataclass
from pathlib import Path

import duckdb

from schemas.sql_rules import quote_ident, quote_literal

SUFFIXES = (".csv", ".parquet")
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


def find_extract_files(extracts_dir: Path, name: str) -> list[Path] | None:
    """The files of one extract in name order; None when the extract is absent."""
    candidates = [extracts_dir / f"{name}{suffix}" for suffix in SUFFIXES] + [extracts_dir / name]
    found = [p for p in candidates if p.exists()]
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
        if path.name.startswith("."):
            continue  # hidden files (.DS_Store, editor swap files) are not data
        if not path.is_file() or path.suffix.lower() not in SUFFIXES:
            raise ExtractFileError(f"{path}: not a .csv or .parquet file (extract {name})")
        files.append(path)
    return files  # possibly none: "any number of files"


def csv_header(path: Path) -> list[str]:
    """The header row of a CSV file, checking it is non-empty UTF-8."""
    with path.open("rb") as handle:
        head = handle.read(1 << 16)
    if not head.strip():
        raise ExtractFileError(f"{path}: the file is empty")
    first_line = head.split(b"\n", 1)[0]
    try:
        text = first_line.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ExtractFileError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    header = next(csv.reader(io.StringIO(text)), [])
    header = [name.strip() for name in header]
    if not any(header):
        raise ExtractFileError(f"{path}: the first line is not a header row")
    if len(set(header)) != len(header):
        raise ExtractFileError(f"{path}: repeated column names in the header")
    return header


def parquet_columns(conn: duckdb.DuckDBPyConnection, path: Path) -> dict[str, str]:
    """Column name -> Parquet (DuckDB) type."""
    try:
        rows = conn.execute(f"DESCRIBE SELECT * FROM read_parquet({quote_literal(path)})").fetchall()
    except duckdb.Error as error:
        raise ExtractFileError(f"{path}: cannot be read as Parquet ({_first_line(error)})") from None
    return {row[0]: row[1] for row in rows}


# Timestamps with a time zone are read as clock time in England, where the records are made.
LOCAL_TIME_ZONE = "Europe/London"


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


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0]


def file_columns(conn: duckdb.DuckDBPyConnection, path: Path) -> dict[str, str]:
    """Column name -> type as stored (always VARCHAR for CSV)."""
    if path.suffix.lower() == ".csv":
        return {name: "VARCHAR" for name in csv_header(path)}
    return parquet_columns(conn, path)


# Rows of file number i are ordered after every row of files 0..i-1: files in name order, rows in
# file order (contract section 3, repeated ids).
FILE_ORDER_STRIDE = 10**12


def _select_file(path: Path, columns: dict[str, str], file_index: int, expected: dict[str, str]) -> str:
    """A SELECT of one file's rows as text, with its source file, 1-based row number and order."""
    texts = ", ".join(f"{parquet_as_text(c, t, expected.get(c))} AS {quote_ident(c)}" for c, t in columns.items())
    if path.suffix.lower() == ".csv":
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


def drop_relation(conn: duckdb.DuckDBPyConnection, name: str) -> None:
    """Drop a table or view of this name, whichever it is (DuckDB refuses the wrong kind)."""
    kinds = conn.execute(
        "SELECT 'TABLE' FROM duckdb_tables() WHERE table_name = ? AND NOT temporary "
        "UNION ALL SELECT 'VIEW' FROM duckdb_views() WHERE view_name = ? AND NOT internal AND NOT temporary",
        [name, name],
    ).fetchall()
    for (kind,) in kinds:
        conn.execute(f"DROP {kind} {quote_ident(name)}")


def load_raw(
    conn: duckdb.DuckDBPyConnection,
    extract: str,
    required_columns: list[str],
    files: list[Path],
    table: str,
    expected_types: dict[str, str] | None = None,
) -> RawLoad:
    """(Re)create view `table` over every row of `files` as text, plus the source columns.
    `expected_types` (column -> DATE, TIMESTAMP, BIGINT or VARCHAR) guides reading typed Parquet."""
    files = [path.resolve() for path in files]  # the view must work from any working directory
    if not files:
        return create_empty_raw(conn, required_columns, table, present=True)
    columns_by_file = {}
    for path in files:
        columns = file_columns(conn, path)
        reserved = [c for c in columns if c in SOURCE_COLUMNS]
        if reserved:
            raise ExtractFileError(f"{path}: column name(s) {', '.join(reserved)} are reserved for the pipeline")
        missing = [c for c in required_columns if c not in columns]
        if missing:
            raise ExtractFileError(f"{path}: required column(s) missing for extract {extract}: {', '.join(missing)}")
        columns_by_file[path] = columns
    all_columns = list(required_columns)
    for columns in columns_by_file.values():
        all_columns += [c for c in columns if c not in all_columns]

    selects, rows_by_file = [], {}
    for file_index, (path, columns) in enumerate(columns_by_file.items()):
        select = _select_file(path, columns, file_index, expected_types or {})
        # One full read of every CSV column, so that encoding errors and broken rows surface here,
        # naming the file; Parquet files carry their row count and were opened whole above.
        touch_all = "".join(f", max(length({quote_ident(c)}))" for c in columns) if path.suffix.lower() == ".csv" else ""
        try:
            rows_by_file[path] = conn.execute(f"SELECT count(*){touch_all} FROM ({select})").fetchall()[0][0]
        except duckdb.Error as error:
            kind = "CSV" if path.suffix.lower() == ".csv" else "Parquet"
            raise ExtractFileError(f"{path}: cannot be read as {kind} ({_first_line(error)})") from None
        missing_here = [c for c in all_columns if c not in columns]
        padding = "".join(f", NULL::VARCHAR AS {quote_ident(c)}" for c in missing_here)
        ordered = ", ".join(quote_ident(c) for c in all_columns)
        selects.append(f"SELECT {ordered}, _source_file, _source_row, _row_order FROM (SELECT *{padding} FROM ({select}))")
    drop_relation(conn, table)
    conn.execute(f"CREATE VIEW {table} AS " + " UNION ALL ".join(selects))
    return RawLoad(extract, True, files, sum(rows_by_file.values()), all_columns, rows_by_file)


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
