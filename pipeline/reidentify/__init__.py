"""Re-identification at the point of care: `hiu reidentify --list FILE --key FILE --out FILE`.

A cohort list holds pseudonymised person ids. The practice that holds the key (person_id ->
NHS number, and name and date of birth where it supplies them) joins the two to find its patients.
This is the one place the pipeline's outputs meet identifiers, so it is deliberately narrow:

- the copy goes only to `--out`, never into the pipeline's output or warehouse folders (`safety`);
- a key file with any NHS number failing the modulus 11 check is refused whole (`key`);
- every list row is written, in order, once; rows without a key entry keep a blank NHS number and
  are counted, so nobody drops off a list silently;
- each copy is recorded in an append-only audit log without any identifier (`audit`);
- nothing printed names a person: only paths, counts and line numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from pipeline.exports import sha256_of
from pipeline.reidentify import audit
from pipeline.reidentify.key import KeyFileError, read_key
from pipeline.reidentify.lists import ListFileError, key_ids, list_meanings, read_list, write_csv, write_workbook_copy
from pipeline.reidentify.safety import Refused, check_paths
from pipeline.settings import HiuSettings

__all__ = ["Reidentified", "Refused", "reidentify"]


@dataclass(frozen=True)
class Reidentified:
    out: Path
    rows: int
    matched: int
    audit_log: Path

    @property
    def unmatched(self) -> int:
        return self.rows - self.matched


def reidentify(list_path: Path, key_path: Path, out: Path, settings: HiuSettings, user: str | None = None,
               audit_log: Path | None = None, force: bool = False) -> Reidentified:
    """Write `list_path` with the key's identifiers to `out`; raises Refused, saying why, instead."""
    check_paths(list_path, key_path, out, settings, force)
    log_path = Path(audit_log) if audit_log else audit.audit_path(settings)
    if not (audit_log or settings.audit_log) and not log_path.resolve().parent.is_dir():
        # the default sits beside the warehouse, relative to where the command runs: elsewhere it
        # would start a new log nobody looks at
        raise Refused(
            f"no audit log: {log_path.resolve().parent} does not exist; give --audit-log FILE or set HIU_AUDIT_LOG"
        )
    if log_path.resolve() in (list_path.resolve(), key_path.resolve(), out.resolve()):
        raise Refused(f"the audit log {log_path.resolve()} is the list, the key file or --out")
    try:
        key = read_key(key_path)
        listed = read_list(list_path)
        ids = key_ids(listed.frame["person_id"].to_list(), key.entries, listed.format)
    except (KeyFileError, ListFileError) as error:
        raise Refused(str(error)) from None

    frame = listed.frame
    found = [key.entries.get(person) for person in ids]
    identifiers = {
        name: pl.Series(name, [entry[i] if entry else None for entry in found], dtype=pl.String)
        for i, name in enumerate(key.columns)
    }
    at = frame.columns.index("person_id")
    frame = frame.with_columns(pl.Series("person_id", ids, dtype=pl.String))
    for offset, series in enumerate(identifiers.values(), start=1):
        frame = frame.insert_column(at + offset, series)
    matched = sum(entry is not None for entry in found)

    facts = _list_facts(frame)
    record = audit.entry(
        user=user or audit.os_user(), list_path=list_path.resolve(), list_sha256=sha256_of(list_path),
        key_sha256=sha256_of(key_path), out=out.resolve(), rows=frame.height, matched=matched,
        added=key.columns, list_facts=facts,
    )
    try:
        log = audit.open_log(log_path)
    except OSError as error:
        raise Refused(f"the audit log {log_path} cannot be written ({error.strerror}): nothing was re-identified") from None
    with log:
        if out.suffix.lower() == ".xlsx":
            write_workbook_copy(frame, out, key.columns, _about(record, list_path), list_meanings(list_path))
        else:
            # a CSV list's other text is guarded already; only what was unguarded or added needs it
            write_csv(frame, out, ["person_id", *key.columns] if listed.format == "csv" else None, key.columns)
        try:
            audit.append(log, record)
        except OSError as error:
            out.unlink(missing_ok=True)  # no copy without its audit line
            raise Refused(f"the audit log {log_path} could not be written ({error.strerror}): the copy was removed") from None
    return Reidentified(out.resolve(), frame.height, matched, log_path.resolve())


def _list_facts(frame: pl.DataFrame) -> dict:
    """The list's as-of date and neighbourhood, when it says them (one value, or each of them)."""
    facts = {}
    for column in ("as_of_date", "neighbourhood_code"):
        if column in frame.columns:
            values = sorted({str(v) for v in frame[column].drop_nulls().to_list()})
            facts[column] = values[0] if len(values) == 1 else values
    return facts


def _about(record: dict, list_path: Path) -> list[tuple[str, str]]:
    words = {"nhs_number": "NHS numbers", "name": "names", "date_of_birth": "dates of birth"}
    added = ", ".join(words[column] for column in record["added"])
    lines = [
        ("Re-identified list", f"This copy of a cohort list holds {added} from the practice's key file. It identifies patients."),
        (
            "Who may see it",
            "For direct care only, by the people caring for these patients. Do not forward it beyond direct care, "
            "do not put it in a shared folder and do not publish it. Delete it when the care it was made for is done.",
        ),
        ("Made from", f"{list_path.resolve()} (SHA-256 {record['list_sha256']})"),
        ("Re-identified", f"{record['time']} (UTC) by {record['user']} on {record['host']}"),
        ("Rows", f"{record['rows']:,}: {record['matched']:,} found in the key, {record['unmatched']:,} not (their NHS number is blank)"),
    ]
    if "neighbourhood_code" in record:
        lines.append(("Neighbourhood", _said(record["neighbourhood_code"])))
    if "as_of_date" in record:
        lines.append(("As-of date", _said(record["as_of_date"])))
    return lines


def _said(value) -> str:
    return value if isinstance(value, str) else ", ".join(value) or "none (the list is empty)"
