"""The output folder's `status/`: a plain notice after a failed run, for whoever opens the folder
next (an INT lead, the analyst on call), and gone after the next run that succeeds.

`status/last_run_failed.md` says in words what failed, when, that the files beside it are still the
last good run's, and where to look; `status/last_run_failed.json` holds the same for tools. Both
are written aside and renamed into place, so a reader never sees half a notice. Only the
pipeline's own messages (file names, rules, counts) are quoted; another error is named by its kind,
since a library's message could quote a value from the data (`pipeline.run_messages.OWN_ERRORS`).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pipeline.files import write_text_whole

STATUS = "status"
NOTICE = "last_run_failed.md"
DETAILS = "last_run_failed.json"


@dataclass(frozen=True)
class FailureNotice:
    run_id: str
    failed_at: dt.datetime
    failures: list[str]
    extracts: str | None = None
    as_of: str | None = None
    launched_by: str = "hiu run"  # or the schedule or sensor that launched it
    warnings: list[str] = field(default_factory=list)


def last_published(output_dir: Path) -> dict | None:
    """The manifest of the run whose files the output folder holds; None before any run published
    (or when it cannot be read)."""
    try:
        said = json.loads((Path(output_dir) / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return said if isinstance(said, dict) else None


def _last_good_run(output_dir: Path) -> str:
    said = last_published(output_dir)
    if said is None:
        return "No run has succeeded here yet, so there are no lists in this folder."
    try:
        return (f"The files in this folder are still those of the last run that succeeded (run {said['run_id']}, "
                f"created {said['created']}, as of {said['as_of']}): nothing of the failed run was published.")
    except KeyError:
        return "The files in this folder are still those of the last run that succeeded."


def _as_of_words(as_of: str | None) -> str:
    try:
        return f"as of {dt.date.fromisoformat(as_of)}" if as_of else "as of the last day every feed covers"
    except ValueError:  # the run's tag says the date came from the feeds
        return "as of the last day every feed covers"


def render_notice(output_dir: Path, notice: FailureNotice) -> str:
    when = notice.failed_at.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# The last refresh failed",
        "",
        f"Run {notice.run_id}, launched by {notice.launched_by}, failed at {when}.",
    ]
    if notice.extracts:
        lines.append(f"It was reading the extracts in {notice.extracts}, {_as_of_words(notice.as_of)}.")
    lines += ["", _last_good_run(output_dir), "", "## What failed", ""]
    lines += [f"- {failure}" for failure in notice.failures] or ["- The run stopped without saying why: see its log."]
    if notice.warnings:
        lines += ["", "## Warnings of the same run", ""] + [f"- {warning}" for warning in notice.warnings]
    lines += [
        "",
        "## Where to look",
        "",
        f"- The Dagster UI (`make ui`, then Runs): run {notice.run_id}, its failed step and that step's log.",
        "- Or rerun by hand with `hiu run --verbose`, which prints every step.",
        "- Fix the file or setting the failure names, then rerun. This notice is removed by the next run that succeeds.",
        "",
    ]
    return "\n".join(lines)


def write_failure_notice(output_dir: Path, notice: FailureNotice) -> Path:
    """Write (or replace) the notice; returns the path of its words."""
    folder = Path(output_dir) / STATUS
    folder.mkdir(parents=True, exist_ok=True)
    details = {**asdict(notice), "failed_at": notice.failed_at.astimezone(dt.timezone.utc).isoformat(timespec="seconds")}
    write_text_whole(folder / DETAILS, json.dumps(details, indent=2) + "\n")
    write_text_whole(folder / NOTICE, render_notice(Path(output_dir), notice))
    return folder / NOTICE


def clear_failure_notice(output_dir: Path) -> bool:
    """Remove the notice after a run that succeeded; True when there was one."""
    folder = Path(output_dir) / STATUS
    had = (folder / NOTICE).exists()
    for name in (NOTICE, DETAILS):
        (folder / name).unlink(missing_ok=True)
    if folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
    return had
