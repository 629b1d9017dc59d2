"""The one shape of every warehouse asset and check: a function of a `Step` (connection, run
context, settings, reporting period) wrapped with the decorator, pool, kinds and metadata that
every such asset needs, so that each module says only what is particular to its tables."""


from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import dagster as dg
import duckdb
import pandera.polars as pa

from assets.metadata import table_metadata
from cohorts.hiu import Thresholds
from cohorts.period import Period
from pipeline.resources import WAREHOUSE_POOL, Warehouse
from pipeline.settings import HiuSettings

PERIOD_TABLE = "reporting_period"


@dataclass
class Step:
    conn: duckdb.DuckDBPyConnection
    context: Any  # AssetExecutionContext or AssetCheckExecutionContext
    settings: HiuSettings
    warehouse: Warehouse

    @cached_property
    def period_row(self) -> dict:
        return self.conn.sql(f"SELECT * FROM {PERIOD_TABLE}").pl().row(0, named=True)

    @property
    def thresholds(self) -> Thresholds:
        """The thresholds this run counts with (from the reporting period)."""
        row = self.period_row
        return Thresholds(row["gp_threshold"], row["ed_threshold"], row["admissions_threshold"])

    @property
    def period(self) -> Period:
        return Period(self.period_row["as_of"])

    @property
    def log(self):
        return self.context.log


def warehouse_asset(
    *,
    group: str,
    description: str,
    deps: Sequence[str] = (),
    name: str | None = None,
    table: str | None | bool = None,
    model: type[pa.DataFrameModel] | None = None,
    preview: bool = False,
    kinds: Sequence[str] = ("duckdb",),
    freshness_policy: dg.FreshnessPolicy | None = None,
) -> Callable[[Callable[[Step], dict | None]], dg.AssetsDefinition]:
    """An asset whose function builds warehouse table `table` (default: the asset's name) and may
    return extra metadata. Row count and column schema are always recorded; a preview only where
    `preview` says the table holds no patient-level rows (`table=False`: no table metadata)."""

    def decorate(build: Callable[[Step], dict | None]) -> dg.AssetsDefinition:
        asset_name = name or build.__name__

        @dg.asset(
            name=asset_name,
            group_name=group,
            kinds=set(kinds),
            pool=WAREHOUSE_POOL,
            deps=list(deps),
            description=description,
            freshness_policy=freshness_policy,
        )
        def _asset(context: dg.AssetExecutionContext, settings: HiuSettings, warehouse: Warehouse) -> dg.MaterializeResult:
            with warehouse.get_connection() as conn:
                step = Step(conn, context, settings, warehouse)
                extra = build(step) or {}
                described = {} if table is False else table_metadata(
                    conn, table or asset_name, model=model, preview=preview, terms=_terms(step) if model else None)
            return dg.MaterializeResult(metadata={**described, **extra})

        return _asset

    return decorate


def _terms(step: Step) -> dict:
    # Imported here: the terms need the programme's months, whose assets are built by this factory.
    from assets.terms import list_terms

    return list_terms(step)


def warehouse_check(
    asset: str | dg.AssetsDefinition,
    *,
    name: str,
    description: str,
    blocking: bool = True,
) -> Callable[[Callable[[Step], dg.AssetCheckResult]], dg.AssetChecksDefinition]:
    """An asset check over the warehouse. Blocking, so that it runs before anything downstream of
    its asset and an ERROR stops them (a WARN is shown and the run goes on)."""

    def decorate(check: Callable[[Step], dg.AssetCheckResult]) -> dg.AssetChecksDefinition:
        @dg.asset_check(asset=asset, name=name, blocking=blocking, description=description)
        def _check(context: dg.AssetCheckExecutionContext, settings: HiuSettings, warehouse: Warehouse) -> dg.AssetCheckResult:
            with warehouse.get_connection() as conn:
                return check(Step(conn, context, settings, warehouse))

        return _check

    return decorate


def failed(message: str, **metadata: Any) -> dg.AssetCheckResult:
    """A failed check whose `message` says, in words, what is wrong (the run prints it)."""
    return dg.AssetCheckResult(passed=False, metadata={"message": message, **metadata})
