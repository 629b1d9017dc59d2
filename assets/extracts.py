"""One raw asset per extract: the drop's files loaded as text into `raw_<extract>`.

A missing required extract, or a file that cannot be read as its extract at all, fails the asset
with a message naming the file; nothing downstream (and so no output file) is touched.
"""


import dagster as dg
from dagster_duckdb import DuckDBResource

from assets.metadata import table_metadata
from pipeline.extract_files import ExtractFileError, RawLoad, create_empty_raw, find_extract_files, load_raw
from pipeline.resources import WAREHOUSE_POOL
from pipeline.settings import HiuSettings
from schemas.extracts import EXTRACTS, Extract
from pipeline.duck import scalar

INVENTORY_TABLE = "extract_inventory"
# Without practices or people there is nothing to count: fail loudly rather than publish empty lists.
MUST_HOLD_ROWS = ("practices", "population")
FILES_TABLE = "extract_files"


def record_inventory(conn, load: RawLoad) -> None:
    """What was read, recorded at read time: whether the extract was supplied, and each file's row
    count, size and modification time (the raw view reads the files, so this pins what it saw)."""
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {INVENTORY_TABLE} "
        "(extract VARCHAR PRIMARY KEY, present BOOLEAN, files INTEGER, rows_read BIGINT)"
    )
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {FILES_TABLE} "
        "(extract VARCHAR, path VARCHAR, rows BIGINT, bytes BIGINT, modified TIMESTAMP)"
    )
    conn.execute(f"DELETE FROM {INVENTORY_TABLE} WHERE extract = ?", [load.extract])
    conn.execute(f"DELETE FROM {FILES_TABLE} WHERE extract = ?", [load.extract])
    conn.execute(
        f"INSERT INTO {INVENTORY_TABLE} VALUES (?, ?, ?, ?)", [load.extract, load.present, len(load.files), load.rows]
    )
    for path, rows in load.rows_by_file.items():
        stat = path.stat()
        conn.execute(
            f"INSERT INTO {FILES_TABLE} VALUES (?, ?, ?, ?, make_timestamp(?::BIGINT))",
            [load.extract, str(path), rows, stat.st_size, int(stat.st_mtime * 1_000_000)],
        )


def extract_supplied(conn, extract: str) -> bool:
    return bool(scalar(conn, f"SELECT present FROM {INVENTORY_TABLE} WHERE extract = ?", [extract]))


def raw_asset(extract: Extract) -> dg.AssetsDefinition:
    kind = "required" if extract.required else "optional"

    @dg.asset(
        name=f"raw_{extract.name}",
        group_name="extracts",
        kinds={"duckdb", "csv", "parquet"},
        pool=WAREHOUSE_POOL,
        description=(
            f"{extract.description} The {kind} `{extract.name}` extract as read: a view over every file of "
            f"`{extract.name}.csv`, `{extract.name}.parquet` or folder `{extract.name}/`, as text, "
            "with source file and row number. Each file is read through once here; one that cannot be "
            "read as the extract fails the run, naming the file."
        ),
    )
    def _raw(context: dg.AssetExecutionContext, settings: HiuSettings, warehouse: DuckDBResource):
        files = find_extract_files(settings.extracts_path, extract.name)
        table = f"raw_{extract.name}"
        with warehouse.get_connection() as conn:
            if files is not None:
                load = load_raw(conn, extract, files, table)
            elif extract.required:
                raise ExtractFileError(
                    f"required extract {extract.name} not found in {settings.extracts_path}: expected "
                    f"{extract.name}.csv, {extract.name}.parquet or a folder {extract.name}/"
                )
            else:
                context.log.warning(f"optional extract {extract.name} not supplied: what needs it will be null")
                load = create_empty_raw(conn, extract.columns, table)
            if extract.name in MUST_HOLD_ROWS and load.rows == 0:
                raise ExtractFileError(f"extract {extract.name} in {settings.extracts_path} holds no rows: nothing to count")
            record_inventory(conn, load)
            metadata = table_metadata(conn, table)
        return dg.MaterializeResult(
            metadata={
                **metadata,
                "supplied": load.present,
                "files": dg.MetadataValue.md(
                    "\n".join(f"- `{p}`: {rows:,} rows" for p, rows in load.rows_by_file.items()) or "_not supplied_"
                ),
            }
        )

    return _raw


raw_assets = [raw_asset(extract) for extract in EXTRACTS.values()]
