"""Reading a cohort list as published (CSV, Parquet or workbook) and writing the re-identified copy.

A list is read so that every person id is exactly as in the Parquet: the CSV as text only (a number
reader would turn `0062533197248372` into `62533197248372`), the workbook's ids from text cells only.
The copy is written whole or not at all, readable by its owner only, CSV with the pipeline's
byte-order mark and formula guard, or a workbook by the pipeline's own workbook writer.
"""

from __future__ import annotations

import datetime as dt
import inspect
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pandera.polars as pa
import polars as pl

import schemas.outputs
from pipeline.exports import for_display, neutralise_formulas

LIST_SUFFIXES = (".csv", ".parquet", ".xlsx")
OUT_SUFFIXES = (".csv", ".xlsx")
# What re-identification adds, right after person_id, and how a workbook heads it.
ADDED_HEADINGS = {"nhs_number": "NHS number", "name": "Name", "date_of_birth": "Date of birth"}
ADDED_MEANINGS = {
    "nhs_number": "NHS number from the practice's key file; blank when the key has no entry for this person.",
    "name": "Name from the practice's key file.",
    "date_of_birth": "Date of birth from the practice's key file, as written there.",
}
# The pipeline's CSV formula guard (pipeline.exports): a leading ' before one of these.
GUARDED_STARTS = ("=", "+", "-", "@", "\t", "\r")


class ListFileError(ValueError):
    """A list that cannot be read as a cohort list; the message names no person."""


@dataclass(frozen=True)
class CohortListFile:
    frame: pl.DataFrame
    format: str  # csv, parquet or xlsx


def read_list(path: Path) -> CohortListFile:
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            # every column as text: ids stay as written; polars reads past a byte-order mark
            listed = CohortListFile(pl.read_csv(path, infer_schema=False), "csv")
        elif suffix == ".parquet":
            listed = CohortListFile(pl.read_parquet(path), "parquet")
        else:
            listed = _read_workbook(path)
    except ListFileError:
        raise
    except Exception as error:  # noqa: BLE001 - any reader's failure is "not a readable list"
        raise ListFileError(f"list {path} cannot be read as a {suffix[1:]} list ({_why(error)})") from None
    _check_ids(path, listed.frame)
    return listed


def _read_workbook(path: Path) -> CohortListFile:
    """The first sheet, headings mapped back to column names; ids must be text cells."""
    from openpyxl import load_workbook

    from schemas.outputs import HEADINGS

    columns_of = {heading: column for column, heading in {**HEADINGS, **ADDED_HEADINGS}.items()}
    book = load_workbook(path, read_only=True, data_only=True)
    try:
        sheet = book.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        headings = list(next(rows, ()))
        values = [row for row in rows if any(cell is not None for cell in row)]
    finally:
        book.close()
    names = [columns_of.get(h, h) if h is not None else f"column {i + 1}" for i, h in enumerate(headings)]
    if len(set(names)) != len(names):
        raise ListFileError(f"list {path}: the first sheet has a heading more than once")
    if "person_id" in names:
        ids = [row[names.index("person_id")] for row in values]
        # a number or date where an id was: a spreadsheet changed it, and it might match someone else
        changed = [n for n, cell in enumerate(ids, start=2) if cell is not None and not isinstance(cell, str)]
        if changed:
            raise ListFileError(
                f"list {path}: {len(changed):,} person ID cells are not text (sheet rows {_some(changed)}), "
                "so a spreadsheet may have changed them; use the workbook or CSV as the pipeline wrote it"
            )
    data = {name: [_cell(row[i] if i < len(row) else None) for row in values] for i, name in enumerate(names)}
    frame = pl.DataFrame(data, strict=False, infer_schema_length=None) if names else pl.DataFrame()
    model = list_model(frame, ())
    return CohortListFile(typed_like(frame, model) if model else frame, "xlsx")


def _why(error: Exception) -> str:
    """What went wrong, without the reader's message where that may quote the file's cells (a
    parse error can show a row, and so a person id): file-level errors only say their own words."""
    from openpyxl.utils.exceptions import InvalidFileException

    if isinstance(error, (OSError, zipfile.BadZipFile, InvalidFileException)):
        return " ".join(str(error).split())[:200]
    return f"{type(error).__name__}: is it the file as the pipeline wrote it?"


def _cell(value):
    # Dates come back from a workbook as midnight datetimes; a list's dates are days.
    if isinstance(value, dt.datetime) and value.time() == dt.time():
        return value.date()
    return value


def _check_ids(path: Path, frame: pl.DataFrame) -> None:
    if "person_id" not in frame.columns:
        raise ListFileError(f"list {path} has no person_id column (Person ID in a workbook): is it a cohort list?")
    if frame.schema["person_id"] != pl.String:
        raise ListFileError(f"list {path}: person_id is {frame.schema['person_id']}, not text")
    blank = frame.with_row_index().filter(pl.col("person_id").is_null() | (pl.col("person_id").str.strip_chars() == ""))
    if blank.height:
        raise ListFileError(f"list {path}: {blank.height:,} rows have no person_id (data rows {_some([n + 1 for n in blank['index']])})")
    already = [c for c in ADDED_HEADINGS if c in frame.columns]
    if already:
        raise ListFileError(f"list {path} already holds {', '.join(already)}: it is a re-identified copy, not a list as published")


def key_ids(ids: list[str], known: dict, source: str) -> list[str]:
    """The key's person_id for each list id, undoing what the list's format may have done to it.

    CSV: the formula guard put a ' before ids starting with = + - @ tab or CR. Workbook: XML holds
    no control characters, so a CR in an id is stored as `_x000D_`, which openpyxl does not always
    turn back. The id exactly as read is tried first (an id that itself starts with ' still
    matches), then the undone one. An unmatched CSV id is given back unguarded (the guard is the
    pipeline's and certain; the copy's CSV guards it again); an unmatched workbook id as read."""
    undo = {"csv": _unguarded, "xlsx": _unescaped}.get(source)
    if undo is None:
        return ids
    resolved, ambiguous = [], 0
    for value in ids:
        undone = undo(value)
        # `'=x` in the CSV is the guarded `=x` or the id `'=x` itself; when the key has both, the
        # list cannot say which person the row is, and guessing would attach the wrong NHS number
        ambiguous += undone is not None and value in known and undone in known
        if value in known or undone is None:
            resolved.append(value)
        else:
            resolved.append(undone if undone in known or source == "csv" else value)
    if ambiguous:
        raise ListFileError(
            f"{ambiguous:,} person IDs of the list could be either of two people in the key (the {source} form of one "
            "is the other): re-identify the list's Parquet instead"
        )
    return resolved


def _unguarded(value: str) -> str | None:
    return value[1:] if value[:1] == "'" and value[1:2] in GUARDED_STARTS else None


def _unescaped(value: str) -> str | None:
    from openpyxl.utils.escape import unescape

    undone = unescape(value)
    return undone if undone != value else None


def list_model(frame: pl.DataFrame, added: tuple[str, ...]) -> type[pa.DataFrameModel] | None:
    """The output model whose columns are exactly the list's (hiu_cohort, frailty_cohort, ...)."""
    columns = set(frame.columns) - set(added)
    for _, model in inspect.getmembers(schemas.outputs, inspect.isclass):
        if issubclass(model, pa.DataFrameModel) and model is not pa.DataFrameModel:
            if set(model.to_schema().columns) == columns:
                return model
    return None


def write_whole(path: Path, write) -> None:
    """`write(temporary path)`, then rename into place: a reader sees the whole file or none."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(temporary)
        os.chmod(temporary, 0o600)  # patient identifiers: its owner's to share, not everyone's on the machine
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_csv(frame: pl.DataFrame, path: Path, guard: list[str] | None, added: tuple[str, ...] = ()) -> None:
    """UTF-8 with a byte-order mark, text formula-guarded as the pipeline's CSVs are. `guard` names
    the columns to guard (None: every text column); a list read from CSV is guarded already, and
    guarding its numbers-as-text again would turn -1 into '-1. Whatever the list's format, the copy
    has the CSV's column order (the identifiers after person_id) and its rounded scores."""
    from schemas.outputs import display_decimals

    model = list_model(frame, added)
    if model is not None:
        order = list(model.to_schema().columns)
        order[order.index("person_id") + 1:order.index("person_id") + 1] = list(added)
        scores = {c: d for c, d in display_decimals(model).items() if frame.schema[c].is_float()}
        frame = for_display(frame.select(order), scores)
    columns = [c for c, t in frame.schema.items() if t == pl.String] if guard is None else guard
    safe = frame.with_columns(neutralise_formulas(frame.select(columns)).get_columns())
    write_whole(path, lambda temporary: safe.write_csv(temporary, include_bom=True, datetime_format="%Y-%m-%d %H:%M:%S"))


def write_workbook_copy(frame: pl.DataFrame, path: Path, added: tuple[str, ...], about: list[tuple[str, str]], meanings: dict[str, str]) -> None:
    """A workbook by the pipeline's writer: list sheet with the identifiers as text cells after the
    person ID, and the About sheet saying what this copy is."""
    from pipeline.workbook import ListSheet, write_workbook
    from schemas.outputs import HEADINGS, display_decimals, workbook_columns

    model = list_model(frame, added)
    if model is not None:
        frame = typed_like(frame, model)
        order, decimals = [c for c, _ in workbook_columns(model)], display_decimals(model)
    else:
        order, decimals = [c for c in frame.columns if c not in added], {}
    at = order.index("person_id") + 1
    order[at:at] = list(added)
    headings = {**HEADINGS, **ADDED_HEADINGS}
    dictionary = pl.DataFrame(
        {"column": order, "description": [meanings.get(c) or ADDED_MEANINGS.get(c, "") for c in order]}, schema={"column": pl.String, "description": pl.String}
    )
    sheet = ListSheet(
        "Re-identified list", [(c, headings.get(c, c)) for c in order], decimals, about, dictionary,
        comment="Re-identified list with NHS numbers, for direct care only: do not forward. See the About sheet.",
    )
    write_whole(path, lambda temporary: write_workbook(frame, temporary, sheet))


def typed_like(frame: pl.DataFrame, model: type[pa.DataFrameModel]) -> pl.DataFrame:
    """Text columns given the model's types: a list read from CSV is all text (so a workbook made
    from it would hold numbers as text), and a workbook says Yes/No for true/false. A column that
    does not convert cleanly stays as it was."""
    for name, column in model.to_schema().columns.items():
        dtype = column.dtype.type
        if name not in frame.columns or frame.schema[name] == dtype or dtype == pl.String:
            continue
        try:
            if frame.schema[name].is_numeric() and dtype.is_numeric():  # a workbook's 0 for a score of 0.0
                typed = frame[name].cast(dtype, strict=True)
            elif frame.schema[name] != pl.String:
                continue
            elif dtype == pl.Boolean:  # true/false in the CSV, Yes/No in the workbook
                words = {"true": True, "false": False, "yes": True, "no": False}
                typed = frame[name].str.to_lowercase().replace_strict(words, default=None, return_dtype=pl.Boolean)
                if typed.null_count() != frame[name].null_count():
                    continue
            elif dtype == pl.Date:
                typed = frame[name].str.to_date("%Y-%m-%d", strict=True)
            else:
                typed = frame[name].cast(dtype, strict=True)
        except Exception:  # noqa: BLE001 - not this type after all: leave it as written
            continue
        frame = frame.with_columns(typed.alias(name))
    return frame


def list_meanings(path: Path) -> dict[str, str]:
    """Column meanings from the data dictionary the pipeline writes beside each list
    (`<list>_dictionary.csv`), so the copy's About sheet says what the original's does."""
    dictionary = path.with_name(f"{path.stem}_dictionary.csv")
    try:
        table = pl.read_csv(dictionary, infer_schema=False)
        return dict(zip(table["column"], table["description"].fill_null("")))
    except Exception:  # noqa: BLE001 - no dictionary beside it: the columns go undescribed
        return {}


def _some(numbers) -> str:
    numbers = list(numbers)
    return ", ".join(str(n) for n in numbers[:5]) + (f" and {len(numbers) - 5:,} more" if len(numbers) > 5 else "")
