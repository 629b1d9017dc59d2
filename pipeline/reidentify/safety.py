"""Where a re-identified list may go, and where a key file may be: checked before anything is read.

The pipeline's output folder is shared with INT leads and its warehouse folder with analysts; both
hold pseudonymised data only, and a file with NHS numbers in either would be published, backed up
or copied with them. So the copy goes only to the path given, outside both, and the key file (which
turns every list back into names) must never sit among the lists.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.settings import HiuSettings
from pipeline.reidentify.lists import LIST_SUFFIXES, OUT_SUFFIXES


class Refused(ValueError):
    """Re-identification refused; the message is one line and names no person."""


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or path.is_relative_to(folder)


def _pipeline_output_above(path: Path) -> Path | None:
    """A folder above `path` that is a pipeline output folder (manifest.json and neighbourhoods/),
    whatever HIU_OUTPUT_DIR says: run from another folder, the setting may name a different one."""
    return next((f for f in path.parents if (f / "manifest.json").is_file() and (f / "neighbourhoods").is_dir()), None)


def check_paths(list_path: Path, key_path: Path, out: Path, settings: HiuSettings, force: bool) -> None:
    output = Path(settings.output_dir).resolve()
    warehouse_folder = Path(settings.warehouse).resolve().parent
    listed, key, target = list_path.resolve(), key_path.resolve(), out.resolve()

    for name, path in (("list", listed), ("key file", key)):
        if not path.is_file():
            raise Refused(f"the {name} {path} does not exist")
    if listed.suffix.lower() not in LIST_SUFFIXES:
        raise Refused(f"the list {listed} is not .csv, .parquet or .xlsx")
    if target.suffix.lower() not in OUT_SUFFIXES:
        raise Refused(f"--out {target} must end in .csv or .xlsx (a workbook)")
    if target in (listed, key):
        raise Refused(f"--out {target} is the {'list' if target == listed else 'key file'} itself")

    if _inside(key, output) or _pipeline_output_above(key):
        raise Refused(f"the key file {key} is inside the pipeline's output folder: move it out, the lists are shared from there")
    if _inside(target, output) or _pipeline_output_above(target):
        raise Refused(f"--out {target} is inside the pipeline's output folder ({_pipeline_output_above(target) or output}): write it elsewhere")
    if _inside(target, warehouse_folder):
        raise Refused(f"--out {target} is inside the warehouse's folder ({warehouse_folder}): write it elsewhere")
    if target.parent.is_dir() and any(target.parent.glob("*.duckdb")):
        # a warehouse named by `hiu run --warehouse` that this command's settings do not know
        raise Refused(f"--out {target} is beside a DuckDB warehouse in {target.parent}: write it elsewhere")
    if not target.parent.is_dir():
        raise Refused(f"the folder of --out {target} does not exist")
    if target.is_dir():
        raise Refused(f"--out {target} is a folder: give a file name ending in .csv or .xlsx")
    if target.exists() and not force:
        raise Refused(f"--out {target} exists: give --force to replace it")
