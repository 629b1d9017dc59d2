"""The DuckDB warehouse, as one resource that every asset and check uses.

One drop per warehouse state: a run never writes the warehouse itself. It works on its own copy,
`<warehouse>.run-<run_id>`, and only when it publishes (`published_outputs`, the last step) does
that copy replace the warehouse, together with the output files. A failed run leaves the warehouse
and the outputs exactly as the last successful run left them, and its copy and run folder are
removed.

One run at a time: DuckDB allows one writer, and two publishes into one folder would interleave. The
resource takes an exclusive lock on the warehouse and on the output folder for the whole run,
whichever way the run was started (`hiu run`, the UI, the schedule, a sensor), and every asset that
opens the warehouse joins the `duckdb` pool (limit 1 in dagster.yaml).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Optional

import dagster as dg
import duckdb
from pydantic import PrivateAttr

from pipeline.locks import exclusive
from pipeline.partitions import check_partition_key
from pipeline.publish import RUN_PREFIX, roll_back
from pipeline.publish import run_folder as run_folder_in
from pipeline.settings import partition_warehouse

WAREHOUSE_POOL = "duckdb"
PARTITION_TAG = "dagster/partition"
# DuckDB takes 80% of RAM by default; capped, it spills to `<warehouse>.tmp/` instead, which keeps a
# 465,000-person run under the 3 GB target together with Python and Dagster.
MEMORY_LIMIT = "1500MB"
# Machine tuning, not analysis settings (they never change a number): DuckDB's memory cap and its
# threads per run (default: every core).
MEMORY_LIMIT_VARIABLE, THREADS_VARIABLE = "HIU_DUCKDB_MEMORY_LIMIT", "HIU_DUCKDB_THREADS"


def engine_config() -> dict:
    """The DuckDB settings a run's connection takes from the environment, checked."""
    config = {"memory_limit": os.environ.get(MEMORY_LIMIT_VARIABLE) or MEMORY_LIMIT}
    threads = os.environ.get(THREADS_VARIABLE)
    if threads:
        if not threads.isdigit() or int(threads) < 1:
            raise ValueError(f"{THREADS_VARIABLE} must be a whole number of 1 or more, not {threads!r}")
        config["threads"] = int(threads)
    return config


def _sidecar(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


def _remove(path: Path) -> None:
    for candidate in (path, _sidecar(path, ".wal"), _sidecar(path, ".tmp")):
        if candidate.is_dir():
            shutil.rmtree(candidate, ignore_errors=True)
        else:
            candidate.unlink(missing_ok=True)


def recover_interrupted_switch(warehouse: Path, output_dir: Path) -> bool:
    """Undo a switch that was killed half way (marker still there): the output files from the
    publish journal, the warehouse from its backup. True when there was one to undo."""
    marker, backup = _sidecar(warehouse, ".switching"), _sidecar(warehouse, ".previous")
    if not marker.exists():
        backup.unlink(missing_ok=True)  # the switch completed; only its clean-up was cut short
        return False
    roll_back(output_dir)
    if backup.exists():
        os.replace(backup, warehouse)
    elif marker.read_text().strip() == "none":  # there was no warehouse before that run
        _remove(warehouse)
    marker.unlink()
    return True


def switch_warehouse(run_copy: Path, warehouse: Path, publish_files: Callable[[], Any]) -> Any:
    """Make `run_copy` the warehouse and publish the output files, as one unit: if publishing
    fails, the previous warehouse comes back. A marker written first lets the next run undo a
    switch that was killed half way."""
    marker, backup = _sidecar(warehouse, ".switching"), _sidecar(warehouse, ".previous")
    had_warehouse = warehouse.exists()
    marker.write_text("previous" if had_warehouse else "none")
    if had_warehouse:
        os.replace(warehouse, backup)
    os.replace(run_copy, warehouse)
    try:
        result = publish_files()
    except BaseException:
        if had_warehouse:
            os.replace(backup, warehouse)
        else:
            _remove(warehouse)
        marker.unlink()
        raise
    marker.unlink()  # from here the switch stands, even if the clean-up below is cut short
    backup.unlink(missing_ok=True)
    return result


class Warehouse(dg.ConfigurableResource):
    """The run's DuckDB warehouse: locked for the run, a copy that becomes the warehouse only when
    the run publishes."""

    path: str
    output_dir: str
    # Partitioned by ICB: a run is of one partition, and works on that partition's own warehouse file
    # and output folder (`HiuSettings.for_partition`), never another's.
    partitioned: bool = False

    _partition: Optional[str] = PrivateAttr(default=None)
    _locks: Optional[contextlib.ExitStack] = PrivateAttr(default=None)
    _run_copy: Optional[Path] = PrivateAttr(default=None)
    _switched: bool = PrivateAttr(default=False)
    _run_id: str = PrivateAttr(default="")
    _conn: Optional[duckdb.DuckDBPyConnection] = PrivateAttr(default=None)
    _conn_target: Optional[Path] = PrivateAttr(default=None)

    @property
    def warehouse_path(self) -> Path:
        if self._partition is not None:
            return partition_warehouse(self.path, self._partition).resolve()
        return Path(self.path).resolve()

    @property
    def output_path(self) -> Path:
        if self._partition is not None:
            return (Path(self.output_dir) / self._partition).resolve()
        return Path(self.output_dir).resolve()

    @property
    def run_folder(self) -> Path:
        """Where this run's output files are written before they are published."""
        return run_folder_in(self.output_path, self._run_id)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        if self.partitioned:
            key = (context.run.tags if context.run else {}).get(PARTITION_TAG)
            if not key:
                raise ValueError("this deployment runs one integrated care board at a time: choose a partition (an ICB) for the run")
            self._partition = check_partition_key(key)
        warehouse, output = self.warehouse_path, self.output_path
        warehouse.parent.mkdir(parents=True, exist_ok=True)
        output.mkdir(parents=True, exist_ok=True)
        self._locks = contextlib.ExitStack()
        # Raises RunInProgress, naming the lock, when another run holds either.
        self._locks.enter_context(exclusive(_sidecar(warehouse, ".lock"), output / ".lock"))
        try:
            recover_interrupted_switch(warehouse, output)
            roll_back(output)  # a publish killed half way, outside a switch
            # Holding both locks, every run copy and run folder left here belongs to a dead run.
            for stale in warehouse.parent.glob(f"{warehouse.name}{RUN_PREFIX}*"):
                _remove(stale)
            for stale in output.glob(f"{RUN_PREFIX}*"):
                shutil.rmtree(stale, ignore_errors=True)
            self._run_id = context.run.run_id
            self._run_copy = _sidecar(warehouse, f"{RUN_PREFIX}{context.run.run_id}")
            # A run that materialises only some assets reads the rest from the last good state.
            for source, copy in ((warehouse, self._run_copy), (_sidecar(warehouse, ".wal"), _sidecar(self._run_copy, ".wal"))):
                if source.exists():
                    shutil.copyfile(source, copy)
        except BaseException:
            self._locks.close()
            raise

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        try:
            self._close_connection()
            if not self._switched and self._run_copy is not None:
                _remove(self._run_copy)
                shutil.rmtree(self.run_folder, ignore_errors=True)
                context.log.warning(
                    "this run did not publish (it failed, or did not include published_outputs): the warehouse "
                    "and the output files are as the last published run left them"
                )
        finally:
            if self._locks is not None:
                self._locks.close()

    @contextlib.contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The run's connection to its warehouse copy (after the switch, to the warehouse). One
        connection serves every step of the run in this process: opening the file reads its whole
        catalogue, about 25 ms a step once the warehouse holds every table, which came to a third
        of a small run. Steps run one at a time here (the `duckdb` pool of 1, and one process per
        step under the multiprocess executor, each with its own resource)."""
        if self._run_copy is None:
            raise RuntimeError("the warehouse is opened only inside a run (its copy is made when the run starts)")
        target = self.warehouse_path if self._switched else self._run_copy
        if self._conn is None or self._conn_target != target:
            self._close_connection()
            self._conn = duckdb.connect(
                str(target),
                config={
                    "preserve_insertion_order": True,
                    **engine_config(),
                    "temp_directory": str(_sidecar(self.warehouse_path, ".tmp")),
                },
            )
            self._conn_target = target
        yield self._conn

    def _close_connection(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn, self._conn_target = None, None

    def switch(self, publish_files: Callable[[], Any]) -> Any:
        """Make this run's copy the warehouse and publish its files, as one unit (see module doc).
        Every connection must be closed first."""
        self._close_connection()  # the file is renamed below: no connection may be open
        result = switch_warehouse(self._run_copy, self.warehouse_path, publish_files)
        self._switched = True
        return result


def warehouse_resource(path: str, output_dir: str, partitioned: bool = False) -> Warehouse:
    return Warehouse(path=path, output_dir=output_dir, partitioned=partitioned)
