"""One drop split into a drop per integrated care board (ICB), so that a national run is many
independent runs, each reading only its own part (issue 12).

A practice belongs to the ICB of its `icb_code` (practices without one, or with a code that cannot be
one, and a drop without the column, form one partition: `all`). A person belongs to the ICB of their practice, and an activity row to the
ICB of its person; a diagnosis follows its spell. Where an id is repeated, every row sharing it goes
where the first of them (files in name order, rows in file order) whose person, practice or spell is
in the drop goes, so that each partition makes the
same accept-or-quarantine decision the single run makes. A row that belongs to no ICB (its person,
practice or spell is not in the drop) is kept in `unassigned/`, counted; the run over the whole drop
quarantines it, naming the cause, and more of them than HIU_MAX_QUARANTINE_SHARE stops the split.
Known limit: of a person id repeated at practices of two ICBs, the rows follow the first row whose
practice is in the drop, even where staging would reject that row for another reason.

Each part is a complete drop in the contract's layout (one Parquet file per extract, every value as
the text it was read as, in the original order), with the original file and row of every row in two
extra columns. Nothing is lost: every row read is in exactly one part (`split.json` counts them).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipeline.extract_files import ExtractFileError, find_extract_files, load_raw, unrecognised_files
from schemas.extracts import EXTRACTS, NEIGHBOURHOOD_CODE, Extract
from schemas.sql_rules import normalised_text, quote_ident, quote_literal

DEFAULT_PARTITION = "all"
UNASSIGNED = "unassigned"
SPLIT_MANIFEST = "split.json"
# The original place of every row, as extra columns of the part's files (the raw layer keeps them).
ORIGIN_COLUMNS = ("drop_file", "drop_row")
# Extracts in an order where what a row belongs to is known before it is needed.
_ORDER = ("practices", "population", "admissions")


@dataclass(frozen=True)
class Split:
    parts: dict[str, dict[str, int]]  # part -> extract -> rows
    rows_read: dict[str, int]

    @property
    def partitions(self) -> list[str]:
        return sorted(part for part in self.parts if part != UNASSIGNED)


def _key(column: str, table: str = "") -> str:
    """An id or code as the staging rules read it: surrounding whitespace does not count, and the
    null words are null."""
    return normalised_text(f"{table + '.' if table else ''}{quote_ident(column)}")


def _owned_sql(extract: Extract) -> str:
    """Every raw row of `extract` with `_own`, the part of what the row refers to (from the
    `owner_<extract>` tables of the extracts before it), or `unassigned`."""
    if extract.name == "practices":
        # A practice without a code is in `all`. An ICB code that cannot be one (nor a folder name) is read as none, as staging reads it.
        code = _key("icb_code")
        return (
            f"SELECT r.*, CASE WHEN regexp_full_match({code}, {quote_literal(NEIGHBOURHOOD_CODE)}) "
            f"AND lower({code}) <> {quote_literal(UNASSIGNED)} THEN {code} "
            f"ELSE {quote_literal(DEFAULT_PARTITION)} END AS _own FROM raw_practices r"
        )
    reference = next(ref for ref in extract.references if ref.extract in _ORDER)
    return (
        f"SELECT r.*, coalesce(o._owner, {quote_literal(UNASSIGNED)}) AS _own FROM raw_{extract.name} r "
        f"LEFT JOIN owner_{reference.extract} o ON o._key = {_key(reference.column, 'r')}"
    )


def _assign(conn: duckdb.DuckDBPyConnection, extract: Extract) -> None:
    """Table `split_<extract>`: every raw row with its `_part`, sorted by part and then original
    order (so that writing one part reads only that part's row groups). Rows sharing an id go
    where the first of them goes."""
    part = "_own"
    if extract.id_column:
        # The first row of the id whose person, practice or spell is in the drop: staging counts a
        # later row as a repeat only of a row it could accept.
        first = (f"first_value(_own) OVER (PARTITION BY {_key(extract.id_column)} "
                 f"ORDER BY _own = {quote_literal(UNASSIGNED)}, _row_order)")
        part = f"CASE WHEN {_key(extract.id_column)} IS NULL THEN _own ELSE {first} END"
    conn.execute(
        f"CREATE TABLE split_{extract.name} AS SELECT * EXCLUDE (_own), {part} AS _part "
        f"FROM ({_owned_sql(extract)}) ORDER BY _part, _row_order"
    )
    if extract.name in _ORDER:
        key = _key(extract.id_column)
        conn.execute(
            f"CREATE TABLE owner_{extract.name} AS SELECT {key} AS _key, arg_min(_part, _row_order) AS _owner "
            f"FROM split_{extract.name} WHERE {key} IS NOT NULL GROUP BY 1"
        )


class SplitError(ExtractFileError):
    """A drop that cannot be split as it is (nothing is written)."""


def split_drop(extracts_dir: Path, out_dir: Path, scratch_dir: Path | None = None, max_unassigned_share: float = 0.05) -> Split:
    """Write `out_dir/<part>/` for every ICB of the drop in `extracts_dir` (and `unassigned/` for rows
    of no ICB), replacing what was there, and `out_dir/split.json` with the rows of each. Parts that
    this drop no longer has are removed. Files are written aside and renamed into place."""
    extracts_dir, out_dir = extracts_dir.resolve(), out_dir.resolve()
    if out_dir == extracts_dir or extracts_dir in out_dir.parents:
        raise SplitError(f"{out_dir}: the ICB drops cannot go in the drop being split ({extracts_dir})")
    if not extracts_dir.is_dir():
        raise SplitError(f"extract folder {extracts_dir} does not exist")
    problems, _ = unrecognised_files(extracts_dir, list(EXTRACTS))
    if problems:  # as a run of the drop would: an extract there but unread would vanish from every ICB
        raise SplitError("files in the drop match no extract:\n      " + "\n      ".join(problems))
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = out_dir / f".split-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    scratch = (scratch_dir or out_dir) / f".split-{os.getpid()}.duckdb"
    from pipeline.resources import engine_config  # the run's memory cap and threads: a national drop spills, not swells

    conn = duckdb.connect(str(scratch), config={"preserve_insertion_order": True, **engine_config(),
                                                "temp_directory": str(scratch) + ".tmp"})
    try:
        parts: dict[str, dict[str, int]] = {}
        rows_read: dict[str, int] = {}
        names = sorted(EXTRACTS, key=lambda name: (_ORDER.index(name) if name in _ORDER else len(_ORDER), name))
        for name in names:
            extract = EXTRACTS[name]
            files = find_extract_files(extracts_dir, name)
            if files is None:
                if extract.required:
                    raise SplitError(f"required extract {name} not found in {extracts_dir}: nothing to split")
                continue  # not supplied: not supplied in any part either
            rows_read[name] = load_raw(conn, extract, files, f"raw_{name}").rows
            _assign(conn, extract)
            if name == "practices":  # the parts: every ICB of the practices, and the rows of none
                every_part = sorted({p for (p,) in conn.execute("SELECT DISTINCT _part FROM split_practices").fetchall()} | {UNASSIGNED})
            columns = [c for c in conn.sql(f"SELECT * FROM split_{name} LIMIT 0").columns if not c.startswith("_")]
            counted = dict(conn.execute(f"SELECT _part, count(*) FROM split_{name} GROUP BY 1").fetchall())
            select = ", ".join(quote_ident(c) for c in columns)
            for part in every_part:  # every part has every supplied extract, if only its header
                parts.setdefault(part, {})[name] = counted.get(part, 0)
                folder = staging / part
                folder.mkdir(exist_ok=True)
                conn.execute(
                    f"COPY (SELECT {select}, _source_file AS {ORIGIN_COLUMNS[0]}, _source_row::VARCHAR AS {ORIGIN_COLUMNS[1]} "
                    f"FROM split_{name} WHERE _part = ? ORDER BY _row_order) TO {quote_literal(str(folder / f'{name}.parquet'))} "
                    "(FORMAT parquet)",
                    [part],
                )
            conn.execute(f"DROP TABLE split_{name}")
        split = Split({part: dict(sorted(by.items())) for part, by in sorted(parts.items())}, rows_read)
        _check_nothing_lost(split)
        _check_unassigned_share(split, max_unassigned_share)
        (staging / SPLIT_MANIFEST).write_text(json.dumps({"extracts": str(extracts_dir.resolve()), "rows_read": rows_read,
                                                          "parts": split.parts}, indent=2) + "\n")
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)  # patient-level files: none left half-written
        raise
    finally:
        conn.close()
        for leftover in (scratch, Path(str(scratch) + ".wal"), Path(str(scratch) + ".tmp")):
            shutil.rmtree(leftover, ignore_errors=True) if leftover.is_dir() else leftover.unlink(missing_ok=True)
    _replace_parts(staging, out_dir, split)
    return split


def _check_nothing_lost(split: Split) -> None:
    for name, read in split.rows_read.items():
        written = sum(by.get(name, 0) for by in split.parts.values())
        if written != read:
            raise SplitError(f"split of {name}: {read} rows read but {written} written")


def _check_unassigned_share(split: Split, limit: float) -> None:
    """No ICB's run sees the rows of no ICB, so the quarantine limit a run of the whole drop applies
    is applied here: too many of them stops the split, naming the extract."""
    for name, read in split.rows_read.items():
        stray = split.parts.get(UNASSIGNED, {}).get(name, 0)
        if read and stray / read > limit:
            raise SplitError(f"{name}: {stray:,} of {read:,} rows ({stray / read:.1%}) belong to no ICB (their person, practice "
                             f"or spell is not in the drop), more than HIU_MAX_QUARANTINE_SHARE {limit:.0%}: nothing was split")


def _replace_parts(staging: Path, out_dir: Path, split: Split) -> None:
    """Each part folder is renamed into place (the previous one moved aside first, then removed);
    parts of an earlier drop that this one does not have are removed."""
    for part in split.parts:
        target, previous = out_dir / part, out_dir / f".previous-{part}"
        shutil.rmtree(previous, ignore_errors=True)
        if target.exists():
            os.replace(target, previous)
        os.replace(staging / part, target)
        shutil.rmtree(previous, ignore_errors=True)
    # Only parts an earlier split wrote (its split.json says which) are removed: never anything else.
    manifest = out_dir / SPLIT_MANIFEST
    earlier = json.loads(manifest.read_text()).get("parts", {}) if manifest.exists() else {}
    for stale in earlier:
        if stale not in split.parts and (out_dir / stale).is_dir():
            shutil.rmtree(out_dir / stale)
    os.replace(staging / SPLIT_MANIFEST, manifest)
    shutil.rmtree(staging, ignore_errors=True)


def partitions_in(parts_dir: Path) -> list[str]:
    """The partitions a split folder holds (its part folders, less `unassigned`)."""
    if not parts_dir.is_dir():
        return []
    return sorted(p.name for p in parts_dir.iterdir() if p.is_dir() and not p.name.startswith(".") and p.name != UNASSIGNED
                  and re.fullmatch(NEIGHBOURHOOD_CODE, p.name))


def check_partition_key(key: str) -> str:
    """A partition key names folders and a warehouse file: it must be an ICB code (or `all`)."""
    if key == UNASSIGNED or not re.fullmatch(NEIGHBOURHOOD_CODE, key or ""):
        raise ValueError(f"{key!r} is not a partition: an ICB code of letters, digits, - and _ (or {DEFAULT_PARTITION})")
    return key
