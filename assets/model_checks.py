"""A blocking asset check that validates a whole output table against its pandera model."""

import dagster as dg
import pandera.polars as pa

from assets.factory import Step, WarehouseCheck, failed, warehouse_check
from assets.staging import pandera_summary


def matches_model(asset: dg.AssetsDefinition, table: str, model: type[pa.DataFrameModel]) -> WarehouseCheck:
    @warehouse_check(
        asset,
        name=f"{table}_matches_schema",
        description=f"The whole `{table}` validates against the `{model.__name__}` model.",
    )
    def _check(step: Step) -> dg.AssetCheckResult:
        frame = step.conn.sql(f"SELECT * FROM {table}").pl()
        try:
            model.validate(frame, lazy=True)
        except pa.errors.SchemaErrors as error:
            return failed(f"{table} does not match {model.__name__}: {pandera_summary(error)}")
        return dg.AssetCheckResult(passed=True, metadata={"rows": frame.height})

    return _check
