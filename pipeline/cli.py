"""The `hiu` command (contract section 1).

    hiu run [--extracts DIR] [--output DIR] [--warehouse FILE] [--as-of YYYY-MM-DD]
    hiu generate --population N --seed S --out DIR [--months 36]

`hiu run` materialises every asset of `pipeline.definitions` in this process (the same graph the
UI shows), prints what failed and why, and exits non-zero when any step or blocking check fails.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path

# flag -> environment variable; the flags override the HIU_* settings for this run.
RUN_FLAGS = {
    "extracts": "HIU_EXTRACTS_DIR",
    "output": "HIU_OUTPUT_DIR",
    "warehouse": "HIU_WAREHOUSE",
    "as_of": "HIU_AS_OF",
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hiu", description="High intensity use pipeline for Integrated Neighbourhood Teams.")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="materialise the whole pipeline in-process")
    run.add_argument("--extracts", metavar="DIR", help="extract drop folder (HIU_EXTRACTS_DIR, default data/sample)")
    run.add_argument("--output", metavar="DIR", help="output folder (HIU_OUTPUT_DIR, default outputs)")
    run.add_argument("--warehouse", metavar="FILE", help="DuckDB file (HIU_WAREHOUSE, default data/warehouse.duckdb)")
    run.add_argument("--as-of", metavar="YYYY-MM-DD", help="as-of date (HIU_AS_OF, default the last day every required activity feed covers)")
    run.add_argument("--verbose", action="store_true", help="show every Dagster event")

    generate = commands.add_parser("generate", help="write a synthetic extract drop")
    generate.add_argument(
        "--population", type=int, required=True, metavar="N",
        help="rows of the population extract (everyone registered at some time; about 92%% on the as-of date)",
    )
    generate.add_argument("--seed", type=int, required=True, metavar="S")
    generate.add_argument("--out", type=Path, required=True, metavar="DIR")
    generate.add_argument("--months", type=int, default=36)
    generate.add_argument("--end-date", type=dt.date.fromisoformat, default=None, metavar="YYYY-MM-DD")
    generate.add_argument("--format", choices=["parquet", "csv"], default="parquet")
    generate.add_argument("--no-progress", action="store_true")
    return parser


def run(args: argparse.Namespace) -> int:
    for flag, variable in RUN_FLAGS.items():
        value = getattr(args, flag)
        if value is not None:
            os.environ[variable] = str(value)

    # Settings first, and before the definitions are imported (they read the settings too), so a
    # bad value is one line, not a traceback.
    from pipeline.settings import HiuSettings

    try:
        settings = HiuSettings.from_env()
    except ValueError as error:
        print(f"hiu run: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    from pipeline.runner import materialize_all

    started = time.monotonic()
    outcome = materialize_all(settings, log_level="DEBUG" if args.verbose else "CRITICAL")
    seconds = time.monotonic() - started
    for message in outcome.warnings:
        print(f"warning: {message}", file=sys.stderr)
    if not outcome.ok:
        print(
            f"hiu run FAILED after {seconds:.1f}s (run {outcome.run_id}); "
            "nothing was published: the previous output files and warehouse are as they were.",
            file=sys.stderr,
        )
        for message in outcome.failures:
            print(f"  - {message}", file=sys.stderr)
        return 1
    output = Path(settings.output_dir).resolve()
    print(f"hiu run finished in {seconds:.1f}s (run {outcome.run_id})")
    print(summary(output))
    print(f"cohort lists: {output / 'neighbourhoods'}/<neighbourhood_code>/hiu_cohort.xlsx (and .csv, .parquet; frailty_cohort too)")
    print(f"data quality: {output / 'quality' / 'data_quality.md'}")
    print(f"metrics: {output / 'metrics'}  manifest: {output / 'manifest.json'}")
    return 0


def summary(output: Path) -> str:
    """The as-of date, the window and what each extract gave, from the manifest just published."""
    manifest = json.loads((output / "manifest.json").read_text())
    lines = [
        f"as-of date {manifest['as_of']} ({manifest['as_of_source']}), window {manifest['window_start']} to {manifest['window_end']}",
        f"{'extract':<22}{'read':>12}{'accepted':>12}{'quarantined':>13}{'warned':>10}",
    ]
    for name, counts in manifest["extracts"].items():
        if not counts["supplied"]:
            lines.append(f"{name:<22}{'not supplied':>12}")
            continue
        lines.append(
            f"{name:<22}{counts['rows_read']:>12,}{counts['rows_accepted']:>12,}{counts['rows_quarantined']:>13,}{counts['rows_warned']:>10,}"
        )
    for name, counts in manifest["extracts"].items():
        if counts["supplied"] and counts["absent_columns"]:
            lines.append(f"{name}: columns not in the files, blank for every row: {', '.join(counts['absent_columns'])}")
    return "\n".join(lines)


def generate(args: argparse.Namespace) -> int:
    from pipeline.generate import generate_drop

    if args.population < 1:
        print("hiu generate: --population must be 1 or more", file=sys.stderr)
        return 2
    options = {"end_date": args.end_date} if args.end_date else {}
    summary = generate_drop(
        population=args.population,
        seed=args.seed,
        out=args.out,
        months=args.months,
        file_format=args.format,
        progress=not args.no_progress,
        **options,
    )
    rows = summary.get("rows", {})
    print(f"wrote {args.out}: " + ", ".join(f"{name} {count:,}" for name, count in rows.items()))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return {"run": run, "generate": generate}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
