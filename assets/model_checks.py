"""A blocking asset check that validates a whole output table against its pandera model."""

import dagster as dg
import pandera.polars as pa
from dagster_duckdb import DuckDBResource


def matches_model(asset: dg.AssetsDefinition, table: str, model: type[pa.DataFrameModel]) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=asset,
        name=f"{table}_matches_schema",
        blocking=True,
        description=f"The whole `{table}` validates against the `{model.__name__}` model.",
    )
    def _check(warehouse: DuckDBResource) -> dg.AssetCheckResult:
        with warehouse.get_connection() as conn:
            frame = conn.sql(f"SELECT * FROM {table}").pl()
        try:
            model.validate(frame, lazy=True)
        except pa.errors.SchemaErrors as error:
            return dg.AssetCheckResult(passed=False, metadata={"failures": str(error.failure_cases.head(20))})
        return dg.AssetCheckResult(passed=True, metadata={"rows": frame.height})

    return _check
