"""Publishing a run's files into the output folder as one unit: all of them, or none.

Export assets write into `<output>/.run-<run_id>/` (inside the output folder, so every move is a
rename on one filesystem). `publish` then moves each file into place. Before each move it writes
its intent to a journal, and it moves the file it replaces, and any file of an earlier run that this
run did not write, into `<output>/.previous/`. `manifest.json` goes last. If anything fails,
the journal is played backwards and the folder is as it was; if the process is killed half way,
the next run (or publish) plays the journal back first. Only the files the pipeline owns are ever
touched: `manifest.json`, `index.html` and everything under `neighbourhoods/`, `metrics/`, `quarantine/` and
`quality/`.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

OWNED = ("manifest.json", "index.html", "neighbourhoods", "metrics", "quarantine", "quality")
JOURNAL = ".publish-journal"
BACKUP = ".previous"
RUN_PREFIX = ".run-"
MANIFEST = "manifest.json"


def run_folder(output_dir: Path, run_id: str) -> Path:
    return output_dir.resolve() / f"{RUN_PREFIX}{run_id}"


def _owned_files(output_dir: Path) -> set[str]:
    files = set()
    for name in OWNED:
        path = output_dir / name
        if path.is_file():
            files.add(name)
        elif path.is_dir():
            files |= {str(p.relative_to(output_dir)) for p in path.rglob("*") if p.is_file()}
    return files


def _move(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(source, target)


def roll_back(output_dir: Path) -> bool:
    """Undo an interrupted publish from its journal; True when there was one."""
    journal = output_dir / JOURNAL
    if not journal.exists():
        return False
    backup = output_dir / BACKUP
    entries = [json.loads(line) for line in journal.read_text().splitlines() if line.strip()]
    for entry in reversed(entries):
        target, saved = output_dir / entry["path"], backup / entry["path"]
        if entry["action"] == "add":
            target.unlink(missing_ok=True)
        elif saved.exists():  # "replace" or "remove": the old file is in the backup
            _move(saved, target)
    journal.unlink()
    shutil.rmtree(backup, ignore_errors=True)
    _remove_empty_folders(output_dir)
    return True


def _remove_empty_folders(output_dir: Path) -> None:
    for name in OWNED:
        folder = output_dir / name
        if folder.is_dir():
            for path in sorted(folder.rglob("*"), key=lambda p: len(p.parts), reverse=True):
                if path.is_dir() and not any(path.iterdir()):
                    path.rmdir()


def publish(run_dir: Path, output_dir: Path) -> list[Path]:
    """Make the output folder's owned files exactly those of `run_dir`, manifest last."""
    output_dir = output_dir.resolve()
    roll_back(output_dir)
    new = sorted(str(p.relative_to(run_dir)) for p in run_dir.rglob("*") if p.is_file())
    new.sort(key=lambda rel: rel == MANIFEST)
    stale = sorted(_owned_files(output_dir) - set(new))
    backup = output_dir / BACKUP
    shutil.rmtree(backup, ignore_errors=True)
    journal = (output_dir / JOURNAL).open("a")

    def note(action: str, rel: str) -> None:
        journal.write(json.dumps({"action": action, "path": rel}) + "\n")
        journal.flush()
        os.fsync(journal.fileno())

    try:
        # Stale files go first and the manifest last, so a manifest always describes what is there.
        for rel in stale:
            note("remove", rel)
            _move(output_dir / rel, backup / rel)
        for rel in new:
            target = output_dir / rel
            if target.exists():
                note("replace", rel)
                _move(target, backup / rel)
            else:
                note("add", rel)
            _move(run_dir / rel, target)
    except BaseException:
        journal.close()
        roll_back(output_dir)
        raise
    journal.close()
    (output_dir / JOURNAL).unlink()
    shutil.rmtree(backup, ignore_errors=True)
    shutil.rmtree(run_dir, ignore_errors=True)
    _remove_empty_folders(output_dir)
    return [output_dir / rel for rel in new]
