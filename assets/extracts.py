"""The drop, then one raw asset per extract: its files read as text into a view `raw_<extract>`.

A missing required extract, a file that cannot be read as its extract at all, or a data file that
matches no extract fails the run with a message naming the file; nothing downstream (and so no
output file) is touched.
"""

import dagster as dg

from assets.factory import Step, warehouse_asset
from assets.metadata import counts_markdown
from pipeline.duck import scalar
from pipeline.extract_files import (
    ExtractFileError,
    RawLoad,
    create_empty_raw,
    find_extract_files,
    load_raw,
    unrecognised_files,
)
from schemas.extracts import EXTRACTS, Extract

DROP_TABLE = "extract_drop"
INVENTORY_TABLE = "extract_inventory"
FILES_TABLE = "extract_files"


@warehouse_asset(
    group="extracts",
    preview=True,
    description=(
        "The extract drop folder: every entry in it must be an extract of the contract (hidden files "
        "such as `.done` are ignored). A data file that matches no extract (a misspelt name, a "
        "`.zip`) fails the run naming it, since an extract that is there but unread would silently "
        "count as not supplied. Other files (a README) are listed in the data-quality report."
    ),
)
def extract_drop(step: Step) -> dict:
    folder = step.settings.extracts_path
    if not folder.is_dir():
        raise ExtractFileError(f"extract folder {folder} does not exist")
    problems, others = unrecognised_files(folder, list(EXTRACTS))
    if problems:
        raise ExtractFileError("files in the drop match no extract:\n      " + "\n      ".join(problems))
    step.conn.execute(f"CREATE OR REPLACE TABLE {DROP_TABLE} (path VARCHAR, status VARCHAR)")
    for path in others:
        step.conn.execute(f"INSERT INTO {DROP_TABLE} VALUES (?, 'ignored: not a data file')", [str(path)])
    return {"folder": dg.MetadataValue.path(str(folder.resolve())), "ignored_files": len(others)}


def record_inventory(conn, load: RawLoad) -> None:
    """What was read, recorded at read time: whether the extract was supplied, which nullable
    columns no file carried, and each file's index, row count, size and modification time (the
    raw view reads the files again later, so this pins what it saw)."""
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {INVENTORY_TABLE} "
        "(extract VARCHAR PRIMARY KEY, present BOOLEAN, files INTEGER, rows_read BIGINT, absent_columns VARCHAR[])"
    )
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {FILES_TABLE} "
        "(extract VARCHAR, file_index BIGINT, path VARCHAR, rows BIGINT, bytes BIGINT, modified TIMESTAMP)"
    )
    conn.execute(f"DELETE FROM {INVENTORY_TABLE} WHERE extract = ?", [load.extract])
    conn.execute(f"DELETE FROM {FILES_TABLE} WHERE extract = ?", [load.extract])
    conn.execute(
        f"INSERT INTO {INVENTORY_TABLE} VALUES (?, ?, ?, ?, ?)",
        [load.extract, load.present, len(load.files), load.rows, load.absent_columns],
    )
    for index, (path, rows) in enumerate(load.rows_by_file.items()):
        stat = path.stat()
        conn.execute(
            f"INSERT INTO {FILES_TABLE} VALUES (?, ?, ?, ?, ?, make_timestamp(?::BIGINT))",
            [load.extract, index, str(path), rows, stat.st_size, int(stat.st_mtime * 1_000_000)],
        )


def extract_supplied(conn, extract: str) -> bool:
    return bool(scalar(conn, f"SELECT present FROM {INVENTORY_TABLE} WHERE extract = ?", [extract]))


def raw_asset(extract: Extract):
    kind = "required" if extract.required else "optional"

    @warehouse_asset(
        name=f"raw_{extract.name}",
        group="extracts",
        kinds=("duckdb", "csv", "parquet"),
        deps=[DROP_TABLE],
        description=(
            f"{extract.description} The {kind} `{extract.name}` extract as read: a view over every file of "
            f"`{extract.name}.csv` (or `.csv.gz`), `{extract.name}.parquet` or folder `{extract.name}/`, as text, "
            "with source file and row number. Each file is read through once here; one that cannot be "
            "read as the extract fails the run, naming the file."
        ),
    )
    def _raw(step: Step) -> dict:
        folder = step.settings.extracts_path
        files = find_extract_files(folder, extract.name)
        table = f"raw_{extract.name}"
        if files is not None:
            load = load_raw(step.conn, extract, files, table)
        elif extract.required:
            raise ExtractFileError(
                f"required extract {extract.name} not found in {folder}: expected "
                f"{extract.name}.csv, {extract.name}.csv.gz, {extract.name}.parquet or a folder {extract.name}/"
            )
        else:
            step.log.warning(f"optional extract {extract.name} not supplied: what needs it will be null")
            load = create_empty_raw(step.conn, extract.columns, table)
        if load.absent_columns:
            step.log.info(f"{extract.name}: nullable column(s) not in the files, null for every row: {', '.join(load.absent_columns)}")
        record_inventory(step.conn, load)
        return {
            "supplied": load.present,
            "absent_columns": dg.MetadataValue.json(load.absent_columns),
            "files": dg.MetadataValue.md(
                counts_markdown({str(p): rows for p, rows in load.rows_by_file.items()}, "file", "rows")
                if load.rows_by_file else "_not supplied_"
            ),
        }

    return _raw


raw_assets = [raw_asset(extract) for extract in EXTRACTS.values()]
