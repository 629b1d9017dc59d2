"""The cost of one integrated care board's run (issue 12, deploy/README.md): a drop of
1,000,000 people over 4 ICBs (`hiu generate --icbs 4`), split with `hiu split`, then
`hiu run --partition ICB` for each ICB asked for, one after another, each with its own instance.
Writes bench-results/partitions.md (and .json). Never a test: timings belong here.

    python -m tests.bench.partitions            # ICB01 only
    HIU_BENCH_PARTITIONS=all python -m tests.bench.partitions
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from pathlib import Path

from tests.bench.run_bench import HIU, MONTHS, RESULTS, SEED, WORK, timed, versions

PEOPLE, ICBS = 1_000_000, 4


def main() -> None:
    drop, parts = WORK / f"drop-1m-icbs{ICBS}", WORK / f"parts-1m-icbs{ICBS}"
    results: dict = {"date": dt.datetime.now().isoformat(timespec="seconds"), "cores": os.cpu_count(),
                     "versions": versions(), "people": PEOPLE, "icbs": ICBS, "months": MONTHS, "seed": SEED}
    if not (drop / "practices.parquet").exists():
        results["generate"] = timed([HIU, "generate", "--population", str(PEOPLE), "--seed", str(SEED), "--months",
                                     str(MONTHS), "--icbs", str(ICBS), "--out", str(drop), "--no-progress"])
    results["split"] = timed([HIU, "split", "--extracts", str(drop), "--out", str(parts)])
    split = json.loads((parts / "split.json").read_text())
    keys = sorted(k for k in split["parts"] if k != "unassigned")
    chosen = keys if os.environ.get("HIU_BENCH_PARTITIONS") == "all" else keys[:1]
    results["partitions"] = {}
    for key in chosen:
        home = WORK / f"dagster-home-{key}"
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir(parents=True)
        env = {"DAGSTER_HOME": str(home), "HIU_PARTITION_BY": "icb", "HIU_EXTRACTS_DIR": str(parts),
               "HIU_OUTPUT_DIR": str(WORK / "outputs-icbs"), "HIU_WAREHOUSE": str(WORK / "warehouse-icbs.duckdb")}
        run = timed([HIU, "run", "--partition", key], env=env)
        results["partitions"][key] = {"population_rows": split["parts"][key]["population"], **run}
        shutil.rmtree(home, ignore_errors=True)
        print(f"{key}: {results['partitions'][key]}", flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "partitions.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / "partitions.md").write_text(markdown(results))
    print((RESULTS / "partitions.md").read_text())


def markdown(results: dict) -> str:
    lines = [
        f"# One ICB's run, {results['date']}", "",
        f"{results['cores']} cores; dagster {results['versions']['dagster']}, duckdb {results['versions']['duckdb']}; "
        f"{results['people']:,} people over {results['icbs']} ICBs, {results['months']} months, seed {results['seed']} "
        "(`python -m tests.bench.partitions`).", "",
    ]
    if "generate" in results:
        lines.append(f"`hiu generate --icbs {results['icbs']}`: {results['generate']['seconds']} s, {results['generate']['peak_rss_mb']} MB peak.")
    lines += [f"`hiu split` of the whole drop: {results['split']['seconds']} s, {results['split']['peak_rss_mb']} MB peak.", "",
              "| ICB | population rows | hiu run --partition s | peak MB |", "| --- | ---: | ---: | ---: |"]
    for key, run in results["partitions"].items():
        lines.append(f"| {key} | {run['population_rows']:,} | {run['seconds']} | {run['peak_rss_mb']} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
