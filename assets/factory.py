"""The one shape of every warehouse asset and check: a function of a `Step` (connection, run
context, settings, reporting period) wrapped with the decorator, pool, kinds and metadata that
every such asset needs, so that each module says only what is particular to its tables. Checks
run inside their asset's step (`with_checks`)."""


from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from types import ModuleType
from typing import Any

import dagster as dg
import duckdb
import pandera.polars as pa

from assets.metadata import table_metadata
from cohorts.hiu import Thresholds
from cohorts.period import Period
from pipeline.resources import WAREHOUSE_POOL, Warehouse
from pipeline.run_messages import OWN_ERRORS
from pipeline.settings import HiuSettings

PERIOD_TABLE = "reporting_period"
# How each warehouse asset is made, by name, so that `with_checks` can make it again with its checks.
_MAKERS: dict[str, Callable[..., dg.AssetsDefinition]] = {}


@dataclass
class Step:
    conn: duckdb.DuckDBPyConnection
    context: Any  # AssetExecutionContext (checks run in their asset's step)
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
    `preview` says the table holds no patient-level rows (`table=False`: no table metadata).

    The definition returned has no checks; `with_checks` makes it again with the checks declared on
    it, evaluated in the asset's own step (see `warehouse_check`). A multi-asset of one asset, because
    only a multi-asset can be subset: a run of some of its checks alone reads the table as it is."""

    def decorate(build: Callable[[Step], dict | None]) -> dg.AssetsDefinition:
        asset_name = name or build.__name__

        def make(checks: Sequence[WarehouseCheck] = (), partitions_def: dg.PartitionsDefinition | None = None) -> dg.AssetsDefinition:
            spec = dg.AssetSpec(
                asset_name, group_name=group, kinds=set(kinds), deps=list(deps), description=description,
                freshness_policy=freshness_policy,
            )

            # One asset with its checks; subsettable, so that the UI can run a check alone, on the
            # table as it is, without rebuilding it.
            @dg.multi_asset(
                name=asset_name, specs=[spec], check_specs=[check.spec for check in checks], can_subset=True,
                pool=WAREHOUSE_POOL, partitions_def=partitions_def,
            )
            def _asset(context: dg.AssetExecutionContext, settings: HiuSettings, warehouse: Warehouse):
                if context.has_partition_key:  # one ICB's run: its own drop, outputs and warehouse
                    settings = settings.for_partition(context.partition_key)
                chosen = [check for check in checks if check.key in context.selected_asset_check_keys]
                with warehouse.get_connection() as conn:
                    step = Step(conn, context, settings, warehouse)
                    if spec.key not in context.selected_asset_keys:
                        yield from (check.evaluate(step) for check in chosen)
                        return
                    extra = build(step) or {}
                    described = {} if table is False else table_metadata(
                        conn, table or asset_name, model=model, preview=preview, terms=_terms(step) if model else None)
                    results = [check.evaluate(step) for check in chosen]
                yield dg.MaterializeResult(asset_key=spec.key, metadata={**described, **extra}, check_results=results)

            return _asset

        _MAKERS[asset_name] = make
        return make()

    return decorate


def _terms(step: Step) -> dict:
    # Imported here: the terms need the programme's months, whose assets are built by this factory.
    from assets.terms import list_terms

    return list_terms(step)


@dataclass(frozen=True)
class WarehouseCheck:
    """A check of asset `asset` over the warehouse. It runs in the asset's own step, right after the
    table is built and on the same connection: a check step of its own would cost Dagster's
    per-step work (events, data versions) for a query of milliseconds, about 60 times a run. Blocking,
    so that an ERROR fails the asset's step and nothing downstream runs (a WARN is shown and the run
    goes on)."""

    asset: str
    name: str
    description: str
    blocking: bool
    run: Callable[[Step], dg.AssetCheckResult]

    @property
    def key(self) -> dg.AssetCheckKey:
        return dg.AssetCheckKey(dg.AssetKey(self.asset), self.name)

    @property
    def spec(self) -> dg.AssetCheckSpec:
        return dg.AssetCheckSpec(self.name, asset=self.asset, description=self.description, blocking=self.blocking)

    def evaluate(self, step: Step) -> dg.AssetCheckResult:
        """The check's result; a check that raises has failed (ERROR), so that the asset's table is
        still recorded, its other checks still run and the run says which check it was."""
        try:
            result = self.run(step)
        except Exception as error:  # noqa: BLE001 - any error is this check's failure, reported as one
            kind = type(error).__name__
            step.log.error(f"check {self.asset}.{self.name} raised {kind}", exc_info=True)
            # The pipeline's own errors are written for people; a library's text could quote a value
            # from the data, so it goes to the run's log only (as `pipeline.run_messages` does).
            said = str(error) if kind in OWN_ERRORS else f"the check raised {kind} (`hiu run --verbose` shows its message)"
            result = failed(said)
        return result._replace(asset_key=dg.AssetKey(self.asset), check_name=self.name)


def warehouse_check(
    asset: str | dg.AssetsDefinition,
    *,
    name: str,
    description: str,
    blocking: bool = True,
) -> Callable[[Callable[[Step], dg.AssetCheckResult]], WarehouseCheck]:
    """Declare a check of `asset` (a `WarehouseCheck`: `pipeline.definitions` finds it in its module,
    as it finds assets, and `with_checks` folds it into the asset's step)."""

    def decorate(check: Callable[[Step], dg.AssetCheckResult]) -> WarehouseCheck:
        key = asset if isinstance(asset, str) else asset.key.to_user_string()
        return WarehouseCheck(key, name, description, blocking, check)

    return decorate


def checks_in_modules(modules: Sequence[ModuleType]) -> list[WarehouseCheck]:
    """Every `WarehouseCheck` a module holds, by itself or in a list, once each."""
    found: dict[tuple[str, str], WarehouseCheck] = {}
    for module in modules:
        for value in vars(module).values():
            for item in value if type(value) in (list, tuple) else (value,):  # not a tuple-like record
                if isinstance(item, WarehouseCheck):
                    if found.setdefault((item.asset, item.name), item) is not item:
                        raise ValueError(f"two checks named {item.asset}.{item.name}")
    return list(found.values())


def with_checks(assets: Sequence[dg.AssetsDefinition], checks: Sequence[WarehouseCheck],
                partitions_def: dg.PartitionsDefinition | None = None) -> list[dg.AssetsDefinition]:
    """`assets`, each made again with its checks (and partitioned by `partitions_def`, when given);
    a check of an asset not among them is an error."""
    by_asset: dict[str, list[WarehouseCheck]] = {}
    for check in checks:
        by_asset.setdefault(check.asset, []).append(check)
    folded = []
    for asset in assets:
        key = asset.key.to_user_string()
        mine = by_asset.pop(key, [])
        if mine and key not in _MAKERS:
            raise ValueError(f"checks of {key}, which is not a warehouse asset: {[c.name for c in mine]}")
        if partitions_def is not None and key not in _MAKERS:
            raise ValueError(f"{key} is not a warehouse asset and cannot be partitioned")
        folded.append(_MAKERS[key](mine, partitions_def) if mine or partitions_def is not None else asset)
    if by_asset:
        raise ValueError(f"checks of assets that are not defined: {sorted(by_asset)}")
    return folded


def failed(message: str, **metadata: Any) -> dg.AssetCheckResult:
    """A failed check whose `message` says, in words, what is wrong (the run prints it)."""
    return dg.AssetCheckResult(passed=False, metadata={"message": message, **metadata})
