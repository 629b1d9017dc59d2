"""The audit log of re-identification: who made which list identifiable, when, with which key.

One JSON line per re-identification, appended, never rewritten. It says enough to trace a copy
(the list's and the key's SHA-256, the out path, the counts) and nothing that identifies a patient:
no person id, NHS number, name or date of birth, so the log itself can be kept and read freely.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import socket
from pathlib import Path

from pipeline.settings import HiuSettings

DEFAULT_NAME = "reidentification_audit.jsonl"


def audit_path(settings: HiuSettings) -> Path:
    """HIU_AUDIT_LOG, else beside the warehouse (kept with the project, not with the shared lists)."""
    return Path(settings.audit_log) if settings.audit_log else Path(settings.warehouse).parent / DEFAULT_NAME


def os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name (a container): the numeric user is still someone
        return f"uid {os.getuid()}" if hasattr(os, "getuid") else "unknown"


def open_log(path: Path):
    """The log opened for appending, before anything is written: a copy that could not be
    recorded is never made."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.open("a", encoding="utf-8")


def append(log, entry: dict) -> None:
    log.write(json.dumps(entry, sort_keys=False) + "\n")
    log.flush()
    os.fsync(log.fileno())


def entry(*, user: str, list_path: Path, list_sha256: str, key_sha256: str, out: Path, rows: int, matched: int,
          added: tuple[str, ...], list_facts: dict) -> dict:
    return {
        "time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "user": user,
        "host": socket.gethostname(),
        "list": str(list_path),
        "list_sha256": list_sha256,
        "key_sha256": key_sha256,
        "out": str(out),
        "added": list(added),
        "rows": rows,
        "matched": matched,
        "unmatched": rows - matched,
        **list_facts,
    }
