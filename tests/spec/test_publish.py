"""Publishing a run's files: all of them or none, and nothing left over from earlier runs."""

import json
import os

import pytest

from pipeline.extract_files import unchanged_since
from pipeline.publish import JOURNAL, publish, roll_back, run_folder


def tree(folder):
    return {str(p.relative_to(folder)): p.read_text() for p in folder.rglob("*") if p.is_file()}


def make_run(output, run_id, files):
    run_dir = run_folder(output, run_id)
    for rel, text in files.items():
        (run_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        (run_dir / rel).write_text(text)
    return run_dir


def test_publish_replaces_files_and_removes_what_the_run_did_not_write(tmp_path):
    out = tmp_path / "out"
    publish(make_run(out, "1", {"neighbourhoods/south/hiu_cohort.csv": "p1", "manifest.json": "1"}), out)
    (out / "notes.txt").write_text("an INT lead's own file")
    publish(make_run(out, "2", {"neighbourhoods/north/hiu_cohort.csv": "p1", "manifest.json": "2"}), out)
    assert tree(out) == {
        "neighbourhoods/north/hiu_cohort.csv": "p1",
        "manifest.json": "2",
        "notes.txt": "an INT lead's own file",
    }
    assert not (out / "neighbourhoods" / "south").exists()


def test_a_failure_half_way_leaves_the_previous_files(tmp_path, monkeypatch):
    out = tmp_path / "out"
    publish(make_run(out, "1", {"metrics/a.csv": "old a", "metrics/b.csv": "old b", "manifest.json": "1"}), out)
    before = tree(out)
    run_dir = make_run(out, "2", {"metrics/a.csv": "new a", "metrics/b.csv": "new b", "metrics/c.csv": "c", "manifest.json": "2"})
    real_replace, calls = os.replace, []

    def failing_replace(source, target):
        calls.append(target)
        if len(calls) == 4:
            raise OSError("disk full")
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        publish(run_dir, out)
    monkeypatch.setattr(os, "replace", real_replace)
    assert {k: v for k, v in tree(out).items() if not k.startswith(".run-")} == before
    assert not (out / JOURNAL).exists()


def test_a_publish_killed_half_way_is_rolled_back_before_the_next(tmp_path):
    out = tmp_path / "out"
    publish(make_run(out, "1", {"metrics/a.csv": "old a", "manifest.json": "1"}), out)
    before = tree(out)
    # What a kill after two moves leaves: a.csv replaced (old one in the backup), c.csv added.
    (out / ".previous" / "metrics").mkdir(parents=True)
    os.replace(out / "metrics/a.csv", out / ".previous/metrics/a.csv")
    (out / "metrics/a.csv").write_text("new a")
    (out / "metrics/c.csv").write_text("c")
    entries = [{"action": "replace", "path": "metrics/a.csv"}, {"action": "add", "path": "metrics/c.csv"}]
    (out / JOURNAL).write_text("".join(json.dumps(e) + "\n" for e in entries))
    assert roll_back(out)
    assert tree(out) == before


def test_a_file_changed_since_it_was_read_is_noticed(tmp_path):
    path = tmp_path / "gp_appointments.csv"
    path.write_text("a\n")
    stat = path.stat()
    recorded = (stat.st_size, int(stat.st_mtime * 1_000_000))
    assert unchanged_since(path, *recorded)
    path.write_text("a\nb\n")
    assert not unchanged_since(path, *recorded)
    path.unlink()
    assert not unchanged_since(path, *recorded)
