"""The rising-risk steps alone, on a copy of a finished run's warehouse, for `make bench`: their
peak resident memory against the same process with only the libraries loaded (`--imports-only`),
and the peak of their Python-side allocations (numpy arrays, traced by tracemalloc), printed as
JSON. DuckDB's buffer pool is capped and shared with the rest of a run, so the traced peak is what
these steps add on top of it; the resident difference also counts the pool filling up. Run under
/usr/bin/time by run_bench.py."""

from __future__ import annotations

import json
import shutil
import sys
import tracemalloc
import tempfile
from pathlib import Path

import duckdb

from assets.factory import PERIOD_TABLE
from cohorts.hiu import Thresholds
from pipeline.resources import MEMORY_LIMIT
from risk import card, explain, model  # noqa: F401 - loaded in both modes, so the difference is the work
from risk.features import Supplied
from risk.steps import build_features, build_lists, model_settings, score_everyone, store_model, stored_model, train


def main(warehouse: Path, imports_only: bool) -> None:
    import shap  # noqa: F401 - the explanation imports it; count it in the baseline too
    import sklearn.ensemble  # noqa: F401

    if imports_only:
        return
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / "warehouse.duckdb"
        shutil.copyfile(warehouse, copy)
        conn = duckdb.connect(str(copy), config={"memory_limit": MEMORY_LIMIT, "temp_directory": f"{folder}/tmp"})
        period = conn.execute(f"SELECT * FROM {PERIOD_TABLE}").fetchall()[0]
        as_of, thresholds = period[0], Thresholds(*period[4:7])
        tracemalloc.start()
        design = build_features(conn, as_of, thresholds, Supplied())
        settings = model_settings(as_of, thresholds, 0.02)
        store_model(conn, train(conn, design, settings), design, settings, "bench")
        fitted, features, sha = stored_model(conn)
        score_everyone(conn, fitted, features, sha)
        build_lists(conn, as_of, 0.02, fitted, features)
        print(json.dumps({"python_peak_mb": round(tracemalloc.get_traced_memory()[1] / 2**20)}))
        conn.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]), "--imports-only" in sys.argv[2:])
