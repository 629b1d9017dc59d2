"""Reading the key file a practice holds: person_id -> NHS number (and name, date of birth).

The key is checked whole before any of it is used. One bad line means the file was typed, exported
or joined wrongly, and a wrong NHS number attaches a list row to another patient's record, so the
file is refused rather than partly used. Messages name the file, its rows and the line numbers of
the problems, never a person id or NHS number: they end up in terminals, tickets and emails.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from schemas.nhs_number import is_valid_nhs_number, normalise_nhs_number

REQUIRED = ("person_id", "nhs_number")
OPTIONAL = ("name", "date_of_birth")
SHOWN_LINES = 5  # line numbers shown per problem; the rest are counted


class KeyFileError(ValueError):
    """A key file that cannot be used; the message is one line, free of identifiers."""


@dataclass(frozen=True)
class Key:
    # person_id -> (nhs_number, *optional values), in the order of `columns`
    entries: dict[str, tuple[str | None, ...]]
    columns: tuple[str, ...]  # nhs_number, then whichever of name, date_of_birth the file has
    rows: int


def read_key(path: Path) -> Key:
    try:
        # utf-8-sig: a BOM (what a spreadsheet's "CSV UTF-8" adds) is read as nothing
        with path.open(newline="", encoding="utf-8-sig") as handle:
            return _parse(path, handle)
    except UnicodeDecodeError:
        raise KeyFileError(f"key file {path} is not UTF-8 text") from None
    except csv.Error as error:
        raise KeyFileError(f"key file {path} is not readable CSV ({error})") from None


def _parse(path: Path, handle) -> Key:
    reader = csv.reader(handle)
    header = [name.strip().lower() for name in next(reader, [])]
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise KeyFileError(f"key file {path} has no {' or '.join(missing)} column (it needs person_id and nhs_number)")
    repeated = sorted({name for name in header if name and header.count(name) > 1})
    if repeated:
        raise KeyFileError(f"key file {path} has the column {', '.join(repeated)} more than once")
    columns = ("nhs_number", *(name for name in OPTIONAL if name in header))
    index = {name: header.index(name) for name in ("person_id", *columns)}

    entries: dict[str, tuple[str | None, ...]] = {}
    first_line: dict[str, int] = {}
    nhs_first_line: dict[str, int] = {}
    problems: dict[str, list[int]] = {}
    rows = 0
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue  # blank lines carry nothing
        rows += 1
        line = reader.line_num
        cells = {name: (row[i].strip() if i < len(row) else "") for name, i in index.items()}
        person, nhs = cells["person_id"], normalise_nhs_number(cells["nhs_number"])
        if not person:
            problems.setdefault("person_id blank", []).append(line)
        elif person in first_line:
            problems.setdefault("person_id repeated", []).append(line)
        if len(nhs) != 10 or not (nhs.isascii() and nhs.isdigit()):
            problems.setdefault("NHS number not 10 digits", []).append(line)
        elif not is_valid_nhs_number(nhs):
            problems.setdefault("NHS number fails the modulus 11 check", []).append(line)
        elif nhs in nhs_first_line:
            # two pseudonyms for one patient: the key was built wrongly somewhere
            problems.setdefault("NHS number repeated", []).append(line)
        else:
            nhs_first_line[nhs] = line
        if person and person not in first_line:
            first_line[person] = line
            entries[person] = (nhs, *(cells[name] or None for name in columns[1:]))
    if not rows:
        raise KeyFileError(f"key file {path} has no rows")
    if problems:
        said = "; ".join(f"{problem} on {_lines(lines)}" for problem, lines in problems.items())
        raise KeyFileError(f"key file {path} ({rows:,} rows): {said}")
    return Key(entries, columns, rows)


def _lines(lines: list[int]) -> str:
    shown = ", ".join(str(n) for n in lines[:SHOWN_LINES])
    more = f" and {len(lines) - SHOWN_LINES:,} more" if len(lines) > SHOWN_LINES else ""
    return f"line{'s' if len(lines) > 1 else ''} {shown}{more}"
