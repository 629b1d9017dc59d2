"""One raw asset per extract: the drop's files loaded as text into `raw_<extract>`.

A missing required extract, or a file that cannot be read as its extract at all, fails the asset
with a message naming the file; nothing downstream (and so no output file) is touched.
"""


import dagster as dg
from dagster_duckdb import DuckDBResource

from assets.metadata import table_metadata
from pipeline.extract_files import ExtractFileError, create_empty_raw, find_extract_files, load_raw
from pipeline.resources import WAREHOUSE_POOL
from pipeline.settings import HiuSettings
from schemas.extracts import EXTRACTS, Extract
from pipeline.duck import scalar

INVENTORY_TABLE = "extract_inventory"


def record_inventory(conn, extract: str, present: bool, files: int, rows: int) -> None:
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {INVENTORY_TABLE} "
        "(extract VARCHAR PRIMARY KEY, present BOOLEAN, files INTEGER, rows_read BIGINT)"
    )
    conn.execute(f"DELETE FROM {INVENTORY_TABLE} WHERE extract = ?", [extract])
    conn.execute(f"INSERT INTO {INVENTORY_TABLE} VALUES (?, ?, ?, ?)", [extract, present, files, rows])


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
            f"{extract.description} The {kind} `{extract.name}` extract as read: every file of "
            f"`{extract.name}.csv`, `{extract.name}.parquet` or folder `{extract.name}/`, as text, "
            "with source file and row number."
        ),
    )
    def _raw(context: dg.AssetExecutionContext, settings: HiuSettings, warehouse: DuckDBResource):
        files = find_extract_files(settings.extracts_path, extract.name)
        table = f"raw_{extract.name}"
        with warehouse.get_connection() as conn:
            if files:
                load = load_raw(conn, extract.name, extract.columns, files, table)
            elif extract.required:
                raise ExtractFileError(
                    f"required extract {extract.name} not found in {settings.extracts_path}: expected "
                    f"{extract.name}.csv, {extract.name}.parquet or a folder {extract.name}/"
                )
            else:
                context.log.warning(f"optional extract {extract.name} not supplied: what needs it will be null")
                load = create_empty_raw(conn, extract.columns, table)
            record_inventory(conn, extract.name, load.present, len(load.files), load.rows)
            metadata = table_metadata(conn, table)
        return dg.MaterializeResult(
            metadata={
                **metadata,
                "supplied": load.present,
                "files": dg.MetadataValue.md("\n".join(f"- `{p}`" for p in load.files) or "_not supplied_"),
            }
        )

    return _raw


raw_assets = [raw_asset(extract) for extract in EXTRACTS.values()]
