"""The `hiu` command (contract section 1).

    hiu run [--extracts DIR] [--output DIR] [--warehouse FILE] [--as-of YYYY-MM-DD] [--partition ICB]
    hiu generate --population N --seed S --out DIR [--months 36] [--key-file FILE] [--icbs N]
    hiu split --extracts DIR --out DIR
    hiu reidentify --list FILE --key FILE --out FILE [--user NAME] [--audit-log FILE] [--force]

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
    run.add_argument(
        "--partition", metavar="ICB",
        help="with HIU_PARTITION_BY=icb: run one integrated care board, from <extracts>/<ICB>/ into <output>/<ICB>/",
    )

    split = commands.add_parser("split", help="split a drop into a drop per integrated care board (practices' icb_code)")
    split.add_argument("--extracts", type=Path, required=True, metavar="DIR", help="the whole drop")
    split.add_argument("--out", type=Path, required=True, metavar="DIR", help="where each ICB's drop goes: DIR/<icb_code>/ (HIU_EXTRACTS_DIR of a partitioned deployment)")

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
    generate.add_argument(
        "--programme-effect", type=float, default=None, metavar="SHARE",
        help="share of the ED attendances and emergency admissions of people 65 and over removed once their "
        "neighbourhood team is live (default 0.10; 0 for none)",
    )
    generate.add_argument("--icbs", type=int, default=0, metavar="N", help="deal the neighbourhoods out to N integrated care boards (practices' icb_code)")
    generate.add_argument(
        "--key-file", type=Path, metavar="FILE",
        help="also write a synthetic key file (person_id, 999-range NHS number, name, date of birth) for hiu reidentify",
    )

    reid = commands.add_parser("reidentify", help="add NHS numbers from a practice's key file to a cohort list, for direct care")
    reid.add_argument("--list", type=Path, required=True, metavar="FILE", help="a cohort list as published: .csv, .parquet or .xlsx")
    reid.add_argument("--key", type=Path, required=True, metavar="FILE", help="CSV with person_id, nhs_number (and name, date_of_birth)")
    reid.add_argument("--out", type=Path, required=True, metavar="FILE", help="where to write the copy: .csv, or .xlsx for a workbook; outside the output and warehouse folders")
    reid.add_argument("--user", metavar="NAME", help="who is re-identifying, for the audit log (default: the login name)")
    reid.add_argument("--audit-log", type=Path, metavar="FILE", help="audit log to append to (HIU_AUDIT_LOG, default reidentification_audit.jsonl beside the warehouse)")
    reid.add_argument("--force", action="store_true", help="replace --out if it exists")
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
    from pipeline.status import FailureNotice, clear_failure_notice, write_failure_notice

    if settings.partition_by and args.partition is None:
        print("hiu run: HIU_PARTITION_BY=icb runs one integrated care board at a time: say which with --partition ICB", file=sys.stderr)
        return 2
    if args.partition is not None:
        try:
            partition_settings = settings.for_partition(args.partition)
        except ValueError as error:
            print(f"hiu run: {error}", file=sys.stderr)
            return 2
        if not partition_settings.extracts_path.is_dir():  # refused before the ICB is added to the instance
            from pipeline.partitions import partitions_in

            there = ", ".join(partitions_in(settings.extracts_path)) or "none"
            print(f"hiu run: no drop for ICB {args.partition} in {settings.extracts_path} (the ICBs there: {there}; "
                  "hiu split writes them)", file=sys.stderr)
            return 2
    started = time.monotonic()
    outcome = materialize_all(settings, log_level="DEBUG" if args.verbose else "CRITICAL", partition=args.partition)
    seconds = time.monotonic() - started
    if args.partition is not None:
        settings = partition_settings
    for message in outcome.warnings:
        print(f"warning: {message}", file=sys.stderr)
    output = Path(settings.output_dir).resolve()
    if not outcome.ok:
        print(
            f"hiu run FAILED after {seconds:.1f}s (run {outcome.run_id}); "
            "nothing was published: the previous output files and warehouse are as they were.",
            file=sys.stderr,
        )
        for message in outcome.failures:
            print(f"  - {message}", file=sys.stderr)
        try:
            notice = write_failure_notice(output, FailureNotice(
                run_id=outcome.run_id, failed_at=dt.datetime.now(dt.timezone.utc), failures=outcome.told_failures,
                warnings=outcome.warnings, extracts=str(settings.extracts_path.resolve()), as_of=settings.as_of,
            ))
            print(f"failure notice: {notice}", file=sys.stderr)
        except OSError as error:  # an output folder that cannot be written may be what failed
            print(f"no failure notice written in {output}: {error.strerror or error}", file=sys.stderr)
        return 1
    clear_failure_notice(output)
    print(f"hiu run finished in {seconds:.1f}s (run {outcome.run_id})")
    print(summary(output))
    print(f"cohort lists: {output / 'neighbourhoods'}/<neighbourhood_code>/hiu_cohort.xlsx (and .csv, .parquet; frailty_cohort and rising_risk_cohort too)")
    print(f"data quality: {output / 'quality' / 'data_quality.md'}")
    print(f"metrics: {output / 'metrics'}  manifest: {output / 'manifest.json'}")
    print(f"rising-risk model card: {output / 'metrics' / 'rising_risk_model.md'}")
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
    if args.programme_effect is not None:
        if not 0 <= args.programme_effect < 1:
            print("hiu generate: --programme-effect must be a share from 0 up to 1", file=sys.stderr)
            return 2
        options["programme_effect"] = args.programme_effect
    if args.icbs < 0:
        print("hiu generate: --icbs must be 0 or more", file=sys.stderr)
        return 2
    summary = generate_drop(
        icbs=args.icbs,
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
    removed = summary["programme"]["last_12_months"]
    if removed:  # what the counterfactual metrics should find, for checking them
        said = "; ".join(f"{code} " + ", ".join(f"{n:,} {s.replace('_', ' ')}" for s, n in services.items())
                         for code, services in removed.items())
        print(f"programme effect {summary['programme']['effect']:.0%} (people 65+, after go-live): removed in the "
              f"last 12 months: {said}")
    if args.key_file:
        from pipeline.generate.keyfile import write_key_file

        try:
            people = write_key_file(args.out, args.seed, args.key_file)
        except ValueError as error:
            print(f"hiu generate: {error}", file=sys.stderr)
            return 2
        print(f"wrote key file {args.key_file}: {people:,} people with synthetic NHS numbers (999 range)")
    return 0


def split(args: argparse.Namespace) -> int:
    from pipeline.extract_files import ExtractFileError
    from pipeline.partitions import UNASSIGNED, split_drop
    from pipeline.settings import HiuSettings

    started = time.monotonic()
    try:
        done = split_drop(args.extracts, args.out, max_unassigned_share=HiuSettings.from_env().max_quarantine_share)
    except ExtractFileError as error:
        print(f"hiu split: {error}", file=sys.stderr)
        return 1
    seconds = time.monotonic() - started
    print(f"hiu split: {args.extracts} into {len(done.partitions)} ICB drop(s) in {args.out} in {seconds:.1f}s")
    for part in done.partitions:
        print(f"  {part}: {done.parts[part].get('population', 0):,} population rows")
    stray = sum(done.parts.get(UNASSIGNED, {}).values())
    if stray:
        print(f"warning: {stray:,} row(s) belong to no ICB (their person, practice or spell is not in the drop): kept in "
              f"{args.out / UNASSIGNED}; a run of the whole drop quarantines them, saying why", file=sys.stderr)
    print(f"rows of each extract per ICB: {args.out / 'split.json'}")
    return 0


def reidentify(args: argparse.Namespace) -> int:
    """Exit 0 when the copy is written (unmatched rows are reported, not fatal), 2 when refused.
    Nothing printed names a person: paths, counts and line numbers only."""
    from pipeline.reidentify import Refused, reidentify as reidentify_list
    from pipeline.settings import HiuSettings

    try:
        settings = HiuSettings.from_env()
    except ValueError as error:
        print(f"hiu reidentify: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    try:
        done = reidentify_list(args.list, args.key, args.out, settings, user=args.user, audit_log=args.audit_log, force=args.force)
    except Refused as error:
        print(f"hiu reidentify: refused: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    except OSError as error:  # the disk, not the data: nothing was written (files go whole or not at all)
        print(f"hiu reidentify: could not write {args.out}: {error.strerror or error}", file=sys.stderr)
        return 1
    print(f"hiu reidentify: wrote {done.out}: {done.rows:,} rows, {done.matched:,} matched to the key")
    if done.unmatched:
        print(
            f"warning: {done.unmatched:,} of {done.rows:,} list rows have no entry in the key file: "
            "they are in the copy with a blank NHS number",
            file=sys.stderr,
        )
    print(f"recorded in the audit log {done.audit_log}")
    print("The copy identifies patients: keep it for direct care, do not forward it.")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return {"run": run, "generate": generate, "split": split, "reidentify": reidentify}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
