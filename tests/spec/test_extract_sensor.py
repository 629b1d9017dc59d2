"""The new_extracts sensor (issue 11): one run for a new or changed drop, once it has settled; none
for a drop being copied, none twice for the same drop, none for the drop already there."""

from __future__ import annotations

import os

import dagster as dg
import pytest

from pipeline import sensors
from pipeline.sensors import SETTLE_SECONDS, new_extracts


class Ticks:
    """Evaluate the sensor as the daemon does, carrying its cursor from tick to tick."""

    def __init__(self, monkeypatch, folder):
        self.cursor, self.clock = None, 1_000_000.0
        monkeypatch.setenv("HIU_EXTRACTS_DIR", str(folder))
        monkeypatch.setattr(sensors, "now", lambda: self.clock)

    def tick(self, after_seconds: float = 60):
        self.clock += after_seconds
        context = dg.build_sensor_context(cursor=self.cursor)
        result = new_extracts(context)
        self.cursor = context.cursor
        return result


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.utime(path, None)


REQUIRED = ("practices", "population", "gp_appointments", "ed_attendances", "admissions")


@pytest.fixture
def folder(tmp_path):
    for name in REQUIRED:
        write(tmp_path / "drop" / f"{name}.csv", "person_id\np1\n")
    return tmp_path / "drop"


def runs(result) -> list:
    return [result] if isinstance(result, dg.RunRequest) else []


def test_the_drop_already_there_is_not_run_again(monkeypatch, folder):
    ticks = Ticks(monkeypatch, folder)
    assert not runs(ticks.tick()) and not runs(ticks.tick(SETTLE_SECONDS * 3))


def test_a_changed_drop_runs_once_after_it_has_settled(monkeypatch, folder):
    ticks = Ticks(monkeypatch, folder)
    ticks.tick()
    write(folder / "admissions.csv", "spell_id\ns1\n")
    assert not runs(ticks.tick())  # just changed
    assert not runs(ticks.tick(SETTLE_SECONDS / 2))  # not long enough
    launched = runs(ticks.tick(SETTLE_SECONDS))
    assert len(launched) == 1 and launched[0].run_key.startswith("drop-")
    assert launched[0].tags["hiu/extracts"] == str(folder.resolve())
    assert not runs(ticks.tick(SETTLE_SECONDS * 3))  # the same drop: no second run


def test_a_drop_still_being_copied_waits(monkeypatch, folder):
    ticks = Ticks(monkeypatch, folder)
    ticks.tick()
    for size in range(1, 5):  # growing at every tick
        write(folder / "gp_appointments" / "2025.csv", "x" * size * 1000)
        assert not runs(ticks.tick(SETTLE_SECONDS))
    write(folder / "ed_attendances.csv.part", "half")  # a copy tool's name for a file not finished
    assert not runs(ticks.tick(SETTLE_SECONDS)) and not runs(ticks.tick(SETTLE_SECONDS))
    (folder / "ed_attendances.csv.part").rename(folder / "ed_attendances.csv")
    assert not runs(ticks.tick(SETTLE_SECONDS / 4))
    assert len(runs(ticks.tick(SETTLE_SECONDS))) == 1


def test_hidden_files_do_not_count(monkeypatch, folder):
    ticks = Ticks(monkeypatch, folder)
    ticks.tick()
    write(folder / ".done", "")
    write(folder / ".DS_Store", "x")
    assert not runs(ticks.tick()) and not runs(ticks.tick(SETTLE_SECONDS * 2))


def test_a_second_drop_after_the_first_runs_again(monkeypatch, folder):
    ticks = Ticks(monkeypatch, folder)
    ticks.tick()
    write(folder / "admissions.csv", "spell_id\ns1\n")
    ticks.tick()
    first = runs(ticks.tick(SETTLE_SECONDS))
    write(folder / "admissions.csv", "spell_id\ns1\ns2\n")
    ticks.tick()
    second = runs(ticks.tick(SETTLE_SECONDS))
    assert len(first) == len(second) == 1 and first[0].run_key != second[0].run_key


def test_a_missing_or_emptied_folder_runs_nothing_and_the_drop_back_as_it_was_is_not_new(monkeypatch, folder):
    ticks = Ticks(monkeypatch, folder)
    ticks.tick()
    kept = folder.with_name("kept")
    folder.rename(kept)  # the share is not mounted
    assert not runs(ticks.tick()) and not runs(ticks.tick(SETTLE_SECONDS * 2))
    kept.rename(folder)
    assert not runs(ticks.tick()) and not runs(ticks.tick(SETTLE_SECONDS * 2))


def test_a_drop_missing_a_required_extract_waits_for_it(monkeypatch, folder):
    ticks = Ticks(monkeypatch, folder)
    ticks.tick()
    (folder / "admissions.csv").unlink()  # the supplier sends the files one by one, minutes apart
    write(folder / "ed_attendances.csv", "person_id\np2\n")
    ticks.tick()
    assert not runs(ticks.tick(SETTLE_SECONDS * 2))
    write(folder / "admissions.csv", "spell_id\ns9\n")
    ticks.tick()
    assert len(runs(ticks.tick(SETTLE_SECONDS))) == 1


def test_a_drop_that_comes_back_after_another_runs_again_under_its_own_key(monkeypatch, folder):
    ticks = Ticks(monkeypatch, folder)
    ticks.tick()
    keys = []
    for text in ("spell_id\ns1\n", "spell_id\ns1\ns2\n", "spell_id\ns1\n"):
        write(folder / "admissions.csv", text)
        os.utime(folder / "admissions.csv", ns=(1, 1))  # the first drop exactly as it was, times and all
        ticks.tick()
        keys += [r.run_key for r in runs(ticks.tick(SETTLE_SECONDS))]
    assert len(keys) == 3 and len(set(keys)) == 3


class IcbTicks:
    """The icb_extracts sensor, tick by tick, on an instance that keeps the partitions it adds."""

    def __init__(self, monkeypatch, folder):
        self.cursor, self.clock = None, 1_000_000.0
        self.instance = dg.DagsterInstance.ephemeral()
        monkeypatch.setenv("HIU_EXTRACTS_DIR", str(folder))
        monkeypatch.setenv("HIU_PARTITION_BY", "icb")
        monkeypatch.setattr(sensors, "now", lambda: self.clock)

    def tick(self, after_seconds: float = 60):
        self.clock += after_seconds
        with dg.build_sensor_context(cursor=self.cursor, instance=self.instance) as context:
            result = sensors.icb_extracts(context)
            self.cursor = context.cursor
        if isinstance(result, dg.SensorResult):
            for request in result.dynamic_partitions_requests or []:
                self.instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
            return sorted(r.partition_key for r in result.run_requests or [])
        return []


def icb_drop(parts, key):
    for name in REQUIRED:
        write(parts / key / f"{name}.csv", "person_id\np1\n")


def test_each_icb_drop_becomes_a_partition_and_runs_once_settled_then_only_when_it_changes(monkeypatch, tmp_path):
    parts = tmp_path / "parts"
    for key in ("QN1", "QS1"):
        icb_drop(parts, key)
    (parts / "unassigned").mkdir()  # rows of no ICB: never a partition
    ticks = IcbTicks(monkeypatch, parts)
    assert ticks.tick() == []  # seen: partitions added, waiting for the drops to settle
    assert sorted(ticks.instance.get_dynamic_partitions("icb")) == ["QN1", "QS1"]
    assert ticks.tick(SETTLE_SECONDS + 1) == ["QN1", "QS1"]  # one run per ICB
    assert ticks.tick(SETTLE_SECONDS * 3) == []  # nothing changed: nothing runs again
    write(parts / "QS1" / "admissions.csv", "spell_id\ns1\n")
    assert ticks.tick() == []  # just changed
    assert ticks.tick(SETTLE_SECONDS + 1) == ["QS1"]  # only the ICB whose drop changed


def test_the_partitioned_nightly_schedule_runs_every_icb(monkeypatch, tmp_path):
    from pipeline.definitions import nightly_refresh_by_icb

    monkeypatch.setenv("HIU_PARTITION_BY", "icb")
    monkeypatch.setenv("HIU_EXTRACTS_DIR", str(tmp_path / "parts"))
    # Each context is closed by `with`: the context opens its own copy of the instance, which,
    # left open, leaves Dagster's definitions-state storage pointing at a dead instance for every
    # later test in the process.
    with dg.instance_for_test() as instance:
        with dg.build_schedule_context(instance=instance) as context:
            assert isinstance(nightly_refresh_by_icb(context), dg.SkipReason)  # no ICB yet
        for key in ("QN1", "QS1"):
            icb_drop(tmp_path / "parts", key)
        instance.add_dynamic_partitions("icb", ["QN1", "QOLD", "QS1"])  # QOLD: its drop is gone, it is not run
        with dg.build_schedule_context(instance=instance) as context:
            requests = nightly_refresh_by_icb(context)
    assert [r.partition_key for r in requests] == ["QN1", "QS1"]
    assert requests[0].tags["hiu/output"].endswith("QN1")  # its own output folder, for the failure notice
