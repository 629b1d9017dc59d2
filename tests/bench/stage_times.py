"""Seconds per extract of staging alone (raw view, then `pipeline.staging.stage_extract`) on a drop,
into a scratch warehouse: how staging was profiled for issue 12, without Dagster around it.

    python -m tests.bench.stage_times DROP [--memory-limit 1500MB] [--only gp_appointments,gp_medications]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
import time
from pathlib import Path

import duckdb

from pipeline.extract_files import create_empty_raw, find_extract_files, load_raw
from pipeline.resources import MEMORY_LIMIT
from pipeline.staging import stage_extract
from schemas.extracts import EXTRACTS


def stage_times(drop: Path, memory_limit: str, only: list[str] | None) -> dict[str, dict]:
    times = {}
    with tempfile.TemporaryDirectory() as folder:
        conn = duckdb.connect(f"{folder}/w.duckdb", config={
            "preserve_insertion_order": True, "memory_limit": memory_limit, "temp_directory": f"{folder}/tmp"})
        for name, extract in EXTRACTS.items():
            needed = only is None or name in only or any(name == ref.extract for n in only for ref in EXTRACTS[n].references)
            if not needed:
                continue
            files = find_extract_files(drop, name)
            started = time.perf_counter()
            if files is None:
                create_empty_raw(conn, extract.columns, f"raw_{name}")
            else:
                load_raw(conn, extract, files, f"raw_{name}")
            counts = stage_extract(conn, extract, dt.date.today())
            times[name] = {"seconds": round(time.perf_counter() - started, 2), "rows": counts.read}
        conn.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("drop", type=Path)
    parser.add_argument("--memory-limit", default=MEMORY_LIMIT)
    parser.add_argument("--only", help="extracts to time (with the ones they refer to), comma-separated")
    args = parser.parse_args()
    print(json.dumps(stage_times(args.drop, args.memory_limit, args.only.split(",") if args.only else None), indent=2))


if __name__ == "__main__":
    main()
