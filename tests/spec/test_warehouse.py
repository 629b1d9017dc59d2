"""One drop per warehouse state: the warehouse and the output files switch together, or not at all."""

import duckdb
import pytest

from pipeline.publish import JOURNAL, publish, run_folder
from pipeline.resources import recover_interrupted_switch, switch_warehouse


def warehouse_with(path, value):
    with duckdb.connect(str(path)) as conn:
        conn.execute("CREATE OR REPLACE TABLE t AS SELECT ? AS v", [value])
    return path


def value_in(path):
    with duckdb.connect(str(path), read_only=True) as conn:
        return conn.execute("SELECT v FROM t").fetchall()[0][0]


def run_files(out, run_id, text):
    folder = run_folder(out, run_id)
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(text)
    return folder


def test_a_switch_makes_the_run_copy_the_warehouse_and_publishes(tmp_path):
    out, warehouse = tmp_path / "out", warehouse_with(tmp_path / "w.duckdb", "old")
    copy = warehouse_with(tmp_path / "w.duckdb.run-1", "new")
    switch_warehouse(copy, warehouse, lambda: publish(run_files(out, "1", "new"), out))
    assert value_in(warehouse) == "new" and (out / "manifest.json").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "w.duckdb"]


def test_a_publish_that_fails_puts_the_previous_warehouse_back(tmp_path):
    out, warehouse = tmp_path / "out", warehouse_with(tmp_path / "w.duckdb", "old")
    copy = warehouse_with(tmp_path / "w.duckdb.run-1", "new")

    def failing_publish():
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        switch_warehouse(copy, warehouse, failing_publish)
    assert value_in(warehouse) == "old"
    assert not (tmp_path / "w.duckdb.switching").exists() and not (tmp_path / "w.duckdb.previous").exists()


def test_a_switch_killed_half_way_is_undone_by_the_next_run(tmp_path):
    out, warehouse = tmp_path / "out", warehouse_with(tmp_path / "w.duckdb", "old")
    publish(run_files(out, "0", "old"), out)
    # What a kill during the publish leaves: marker, backup, the new warehouse and a journal.
    (tmp_path / "w.duckdb.switching").write_text("previous")
    warehouse.rename(tmp_path / "w.duckdb.previous")
    warehouse_with(warehouse, "new")
    (out / "manifest.json").rename(out / ".previous-manifest")
    (out / ".previous").mkdir()
    (out / ".previous-manifest").rename(out / ".previous" / "manifest.json")
    (out / "manifest.json").write_text("new")
    (out / JOURNAL).write_text('{"action": "replace", "path": "manifest.json"}\n')
    assert recover_interrupted_switch(warehouse, out)
    assert value_in(warehouse) == "old" and (out / "manifest.json").read_text() == "old"
    assert not (tmp_path / "w.duckdb.switching").exists()


def test_a_first_switch_killed_half_way_leaves_no_warehouse(tmp_path):
    out, warehouse = tmp_path / "out", warehouse_with(tmp_path / "w.duckdb", "new")
    out.mkdir()
    (tmp_path / "w.duckdb.switching").write_text("none")
    assert recover_interrupted_switch(warehouse, out)
    assert not warehouse.exists()


def test_a_completed_switch_only_loses_its_backup(tmp_path):
    out, warehouse = tmp_path / "out", warehouse_with(tmp_path / "w.duckdb", "new")
    warehouse_with(tmp_path / "w.duckdb.previous", "old")
    assert not recover_interrupted_switch(warehouse, out)
    assert value_in(warehouse) == "new" and not (tmp_path / "w.duckdb.previous").exists()
