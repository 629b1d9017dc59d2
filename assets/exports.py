"""Exports: the files INT leads and analysts download (contract section 4).

Each export asset writes into this run's folder inside the output folder; `published_outputs`
moves them into place and writes `manifest.json` last, only after every export and its blocking
checks passed, and switches the warehouse to this run's state at the same time. A failed run
therefore never changes the files, or the warehouse, of the previous one.
"""

import datetime as dt
import json
from pathlib import Path

import dagster as dg
import polars as pl
import pyarrow.parquet as pq

from assets.extracts import extract_supplied
from assets.factory import PERIOD_TABLE, Step, WarehouseCheck, failed, warehouse_asset, warehouse_check
from assets.terms import list_terms
from metrics.cards import cohort_followup_card
from cohorts.period import month_end
from metrics.data_quality import build_report, render_markdown
from metrics.disclosure import published
from metrics.published import PUBLISHED_RULES, published_dictionary
from pipeline.duck import row_count
from pipeline.exports import CohortList, files_under, sha256_of, write_neighbourhood_files, write_parquet_and_csv
from pipeline.extract_files import ExtractFileError, unchanged_since
from pipeline.publish import publish
from pipeline.workbook import workbook_ids
from risk import card as model_card
from schemas.extracts import EXTRACTS
from schemas.outputs import (
    FrailtyCohort,
    FrailtySummary,
    HiuCohort,
    RisingRiskCohort,
    ServiceConcentration,
    data_dictionary,
    display_decimals,
    workbook_columns,
)
from schemas.programme import CohortFollowup, CounterfactualActivity, ProgrammeSummary, SocialCareProfile
from schemas.sql_rules import quote_literal

METRIC_FILES = (
    ("service_concentration", ServiceConcentration),
    ("frailty_summary", FrailtySummary),
    ("counterfactual_activity", CounterfactualActivity),
    ("programme_summary", ProgrammeSummary),
    ("cohort_followup", CohortFollowup),
    ("social_care_profile", SocialCareProfile),
)

# What an optional extract's absence leaves blank, in the words of the About sheet.
NOT_SUPPLIED_MEANS = {
    "gp_coded_events": "GP coded events: eFI is blank for everyone (and the frailty list is empty).",
    "gp_medications": "GP medications: eFI is blank for everyone (and the frailty list is empty).",
    "admission_diagnoses": "Admission diagnoses: HFRS is blank for everyone.",
    "social_care_events": "Social care events: social care involvement is blank for everyone.",
}


# What INT leads download should be from last night: the nightly refresh starts at 02:00 and
# takes minutes, so an export not refreshed between 02:00 and 07:00 shows as late in the UI.
NIGHTLY = dg.FreshnessPolicy.cron(deadline_cron="0 7 * * *", lower_bound_delta=dt.timedelta(hours=5),
                                  timezone="Europe/London")


def about_the_list(step: Step, title: str, who: str, rule: str | None = None):
    """The About sheet's lines for one neighbourhood's list."""
    terms = list_terms(step)
    created = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    missing = [
        consequence for extract, consequence in NOT_SUPPLIED_MEANS.items() if not extract_supplied(step.conn, extract)
    ]

    def about(code: str, name: str | None, rows: int) -> list[tuple[str, str]]:
        return [
            ("List", f"{title}: {who}, registered at this neighbourhood's practices on the as-of date."),
            ("Neighbourhood", f"{name or code} ({code})"),
            ("As-of date", terms["as_of"]),
            ("Window", f"{terms['window_start']} to {terms['window_end']} (12 months, both days included)"),
            (
                "Thresholds",
                f"GP appointments {terms['gp_threshold']} or more; ED attendances {terms['ed_threshold']} or more; "
                f"emergency admissions {terms['admissions_threshold']} or more in the 12 months. A high intensity user "
                "reaches at least one of these; a high intensity user of multiple services (HIMSU) two or more.",
            ),
            *([("Who is on it", rule)] if rule else []),
            ("People on this list", f"{rows:,}"),
            *([("Not supplied in this run", " ".join(missing))] if missing else []),
            ("Run", step.context.run.run_id),
            ("Created", created),
            (
                "Who may see it",
                "For direct care by this neighbourhood's Integrated Neighbourhood Team only. It holds pseudonymised "
                "person IDs, not NHS numbers. Share it only within the team, by secure NHS email; never publish it.",
            ),
            (
                "Small numbers",
                "Not suppressed: this list is for direct care. Figures that may be shared outside the team are in "
                "metrics/published/ (counts of 1 to 7 shown as *, other counts rounded to the nearest 5).",
            ),
            (
                "Finding the patient",
                "The practice adds NHS numbers from its own key file with `hiu reidentify --list <this file> "
                "--key <key file> --out <file outside the output folder>`, which records who re-identified "
                "which list and when.",
            ),
        ]

    return about


def neighbourhood_files(
    name: str, table: str, model, title: str, who: str, rule: str | None = None
) -> tuple[dg.AssetsDefinition, WarehouseCheck]:
    """An export asset writing `neighbourhoods/<code>/<table>.parquet`, `.csv`, `.xlsx` and a data
    dictionary, and its blocking check that the files partition the table by neighbourhood."""

    @warehouse_asset(
        name=name,
        group="exports",
        freshness_policy=NIGHTLY,
        table=False,
        kinds=("parquet", "csv", "excel"),
        deps=[table, "stg_practices", "extract_drop"],
        description=(
            f"Per neighbourhood: `neighbourhoods/<code>/{table}.parquet`, `.csv` and `.xlsx` (a workbook with "
            f"readable headings and an About sheet) holding only {who} registered at that neighbourhood's "
            f"practices, and `{table}_dictionary.csv` explaining every column."
        ),
    )
    def _files(step: Step) -> dict:
        neighbourhoods = dict(
            step.conn.execute(
                "SELECT neighbourhood_code, any_value(neighbourhood_name) FROM stg_practices GROUP BY 1 ORDER BY 1"
            ).fetchall()
        )
        frame = step.conn.sql(f"SELECT * FROM {table}").pl()
        cohort = CohortList(
            stem=table,
            title=title,
            dictionary=data_dictionary(model, list_terms(step)),
            columns=workbook_columns(model),
            decimals=display_decimals(model),
        )
        rows_by_neighbourhood = write_neighbourhood_files(
            frame, neighbourhoods, step.warehouse.run_folder, cohort, about_the_list(step, title, who, rule)
        )
        return {
            "neighbourhoods": len(neighbourhoods),
            "rows_by_neighbourhood": dg.MetadataValue.json(rows_by_neighbourhood),
            "dagster/row_count": frame.height,
        }

    @warehouse_check(
        _files,
        name="files_partition_the_table",
        description=(
            "Each neighbourhood's files hold only its own people (by practice), CSV and Parquet hold the same "
            f"rows, and together the files hold every row of `{table}` exactly once."
        ),
    )
    def _partition(step: Step) -> dg.AssetCheckResult:
        practice_neighbourhood = dict(step.conn.execute("SELECT practice_code, neighbourhood_code FROM stg_practices").fetchall())
        expected_ids = {r[0] for r in step.conn.execute(f"SELECT person_id FROM {table}").fetchall()}
        problems, seen = [], []
        for parquet in sorted(step.warehouse.run_folder.glob(f"neighbourhoods/*/{table}.parquet")):
            code = parquet.parent.name
            frame = pl.read_parquet(parquet)
            csv_rows = pl.scan_csv(parquet.with_suffix(".csv"), infer_schema=False).select(pl.len()).collect().item()
            if csv_rows != frame.height:
                problems.append(f"{code}: CSV has {csv_rows} rows, Parquet {frame.height}")
            if workbook_ids(parquet.with_suffix(".xlsx")) != frame["person_id"].to_list():
                problems.append(f"{code}: the workbook does not hold the Parquet's people in its order")
            wrong = frame.filter(
                (pl.col("neighbourhood_code") != code)
                | (pl.col("practice_code").replace_strict(practice_neighbourhood, default=None) != code)
            )
            if wrong.height:
                problems.append(f"{code}: {wrong.height} rows of people from another neighbourhood")
            seen.extend(frame["person_id"].to_list())
        if len(seen) != len(set(seen)):
            problems.append(f"{len(seen) - len(set(seen))} people appear in more than one file")
        if set(seen) != expected_ids:
            problems.append(f"files hold {len(set(seen))} people, {table} {len(expected_ids)}")
        if problems:
            return failed(f"{table} files: " + "; ".join(problems), people=len(seen))
        return dg.AssetCheckResult(passed=True, metadata={"people": len(seen)})

    return _files, _partition


neighbourhood_cohort_files, neighbourhood_cohort_files_check = neighbourhood_files(
    "neighbourhood_cohort_files", "hiu_cohort", HiuCohort, "High intensity users",
    "people at or over the threshold of at least one service",
)
neighbourhood_frailty_files, neighbourhood_frailty_files_check = neighbourhood_files(
    "neighbourhood_frailty_files", "frailty_cohort", FrailtyCohort, "Frailty",
    "people aged 65 and over with moderate or severe frailty (eFI 9 or more of 36 deficits) or housebound",
    "eFI moderate (9 to 12 of the 36 deficits recorded) or severe (13 or more), or housebound recorded (deficit 16), "
    "aged 65 and over on the as-of date. The high intensity thresholds above are for the list's activity columns.",
)


neighbourhood_rising_risk_files, neighbourhood_rising_risk_files_check = neighbourhood_files(
    "neighbourhood_rising_risk_files", "rising_risk_cohort", RisingRiskCohort, "Rising risk",
    "people who are not high intensity users now, most likely to become one in the next 12 months",
    "The top share (HIU_RISING_RISK_SHARE) of this neighbourhood's people who are not high intensity users, by "
    "the rising-risk model's probability of becoming one in the 12 months after the as-of date; how well the model "
    "does and its limits are in metrics/rising_risk_model.md.",
)


@warehouse_asset(
    group="exports",
    freshness_policy=NIGHTLY,
    table=False,
    kinds=("json", "markdown", "svg"),
    deps=["rising_risk_model"],
    description=(
        "`metrics/rising_risk_model.json` and `.md`, the rising-risk model card (problem, validation, "
        "discrimination with its interval, calibration, fairness by group, comparison with the ranking by "
        "current activity, intended use and limits), and `rising_risk_calibration.svg`, its calibration chart."
    ),
)
def rising_risk_model_card(step: Step) -> dict:
    ((card_json,),) = step.conn.execute("SELECT card FROM rising_risk_model").fetchall()
    card = json.loads(card_json)
    folder = step.warehouse.run_folder / "metrics"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "rising_risk_model.json").write_text(json.dumps(card, indent=2) + "\n")
    markdown = model_card.render_markdown(card)
    (folder / "rising_risk_model.md").write_text(markdown)
    chart = model_card.calibration_svg(card)
    if chart:
        (folder / "rising_risk_calibration.svg").write_text(chart)
    return {"trained": card["trained"], "card": dg.MetadataValue.md(markdown)}


@warehouse_asset(
    group="exports",
    freshness_policy=NIGHTLY,
    table=False,
    kinds=("parquet", "csv"),
    deps=["service_concentration", "frailty_summary", "counterfactual_activity", "cohort_followup", "social_care_profile"],
    description=(
        "`metrics/service_concentration`, `frailty_summary`, `counterfactual_activity`, `programme_summary`, "
        "`cohort_followup` and `social_care_profile`, each as `.parquet` and `.csv`, with a `_dictionary.csv` "
        "beside each, and disclosure-controlled copies in `metrics/published/` (counts 1-7 as `*`, others to the "
        "nearest 5, rates and derived figures from the published counts); `metrics/cohort_followup.md`, the "
        "follow-up's card in plain words (why a fall in a high-use cohort is not an effect on its own)."
    ),
)
def metric_files(step: Step) -> dict:
    folder = step.warehouse.run_folder / "metrics"
    terms = list_terms(step)
    rows, withheld = {}, []
    for table, model in METRIC_FILES:
        frame = model.validate(step.conn.sql(f"SELECT * FROM {table}").pl())
        write_parquet_and_csv(frame, folder, table)
        dictionary = data_dictionary(model, terms)
        dictionary.write_csv(folder / f"{table}_dictionary.csv", include_bom=True)
        safe = published(table, frame, step.thresholds)
        if frame.height and not safe.height:
            withheld.append(table)
            step.log.warning(f"metrics/published/{table} withheld: too few people to publish any of its figures safely")
        write_parquet_and_csv(safe, folder / "published", table)
        published_dictionary(dictionary, table).write_csv(
            folder / "published" / f"{table}_dictionary.csv", include_bom=True
        )
        rows[table] = frame.height
        if table == "cohort_followup":  # its card, in plain words, from the published figures
            card = cohort_followup_card(safe, step.period.as_of, step.thresholds, withheld=table in withheld)
            (folder / "cohort_followup.md").write_text(card)
    return {
        "rows": dg.MetadataValue.json(rows), "withheld_from_published": dg.MetadataValue.json(withheld),
        "cohort_followup_card": dg.MetadataValue.md(card),
    }


@warehouse_check(
    metric_files,
    name="published_copies_not_withheld",
    description=(
        "WARN when a file of `metrics/published/` was withheld (its header only): an area so small that its "
        "stars alone would give a count away."
    ),
)
def published_copies_not_withheld(step: Step) -> dg.AssetCheckResult:
    folder = step.warehouse.run_folder / "metrics" / "published"
    withheld = [
        table for table in PUBLISHED_RULES
        if row_count(step.conn, table) and not pq.ParquetFile(folder / f"{table}.parquet").metadata.num_rows
    ]
    if not withheld:
        return dg.AssetCheckResult(passed=True)
    return dg.AssetCheckResult(
        passed=False,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"message": "withheld from metrics/published/ (too few people to publish any figure safely): " + ", ".join(withheld)},
    )


@warehouse_asset(
    group="exports",
    freshness_policy=NIGHTLY,
    table=False,
    kinds=("parquet",),
    deps=["quarantine_summary"],
    description="`quarantine/<extract>.parquet`: every rejected row with its source file, row number, values and reasons.",
)
def quarantine_files(step: Step) -> dict:
    folder = step.warehouse.run_folder / "quarantine"
    folder.mkdir(parents=True, exist_ok=True)
    rows = {}
    for name in EXTRACTS:
        path = folder / f"{name}.parquet"
        step.conn.execute(f"COPY quarantine_{name} TO {quote_literal(path)} (FORMAT parquet, COMPRESSION zstd)")
        rows[name] = row_count(step.conn, f"quarantine_{name}")
    return {"rows_by_extract": dg.MetadataValue.json(rows), "dagster/row_count": sum(rows.values())}


@warehouse_asset(
    group="exports",
    freshness_policy=NIGHTLY,
    table=False,
    kinds=("json", "markdown"),
    deps=["quarantine_summary", "coverage_gaps", "feed_coverage", "extract_drop", PERIOD_TABLE],
    description=(
        "`quality/data_quality.md` and `.json`: per extract, rows read, normalisations applied, quarantine and "
        "warnings by reason and file, column completeness, coverage by month; months with no or few rows; files "
        "in the drop that were ignored. Counts only, never patient-level rows."
    ),
)
def data_quality_report(step: Step) -> dict:
    report = build_report(step.conn, step.period, str(step.settings.extracts_path.resolve()))
    folder = step.warehouse.run_folder / "quality"
    folder.mkdir(parents=True, exist_ok=True)
    markdown = render_markdown(report)
    (folder / "data_quality.json").write_text(json.dumps(report, indent=2) + "\n")
    (folder / "data_quality.md").write_text(markdown)
    return {"report": dg.MetadataValue.md(markdown)}


def _row_count(path: Path) -> int | None:
    if path.suffix == ".parquet":
        return pq.ParquetFile(path).metadata.num_rows
    if path.suffix == ".csv":
        return pl.scan_csv(path, infer_schema=False).select(pl.len()).collect().item()
    if path.suffix == ".xlsx":
        return len(workbook_ids(path))
    return None


@warehouse_asset(
    group="exports",
    freshness_policy=NIGHTLY,
    table=False,
    kinds=("json",),
    deps=["neighbourhood_cohort_files", "neighbourhood_frailty_files", "neighbourhood_rising_risk_files",
          "rising_risk_model_card", "metric_files", "quarantine_files", "data_quality_report", "neighbourhood_reports"],
    description=(
        "Moves this run's files into the output folder and writes `manifest.json` last: run id, times, "
        "as-of date, window, thresholds, extracts supplied, and every input and output file with its "
        "row count and SHA-256. At the same moment this run's warehouse becomes the warehouse."
    ),
)
def published_outputs(step: Step) -> dict:
    run_dir = step.warehouse.run_folder
    outputs = files_under(run_dir) if run_dir.exists() else []
    if not outputs:
        raise RuntimeError(f"nothing to publish in {run_dir}: materialise the export assets in the same run")
    manifest = build_manifest(step, outputs)
    (run_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    # switch() closes the run's connection first: the warehouse file is renamed
    moved = step.warehouse.switch(lambda: publish(run_dir, step.settings.output_path))
    step.log.info(f"published {len(moved)} files to {step.settings.output_path.resolve()}")
    return {
        "output_dir": dg.MetadataValue.path(str(step.settings.output_path.resolve())),
        "files": len(moved),
        "not_supplied": dg.MetadataValue.json(manifest["not_supplied"]),
    }


def build_manifest(step: Step, outputs: list[Path]) -> dict:
    conn, period, period_row = step.conn, step.period, step.period_row
    inventory = conn.sql("SELECT * FROM extract_inventory ORDER BY extract").pl().rows_by_key("extract", named=True, unique=True)
    counts = conn.sql("SELECT * FROM staging_counts").pl().rows_by_key("extract", named=True, unique=True)
    read = conn.execute("SELECT extract, path, rows, bytes, epoch_us(modified) FROM extract_files ORDER BY extract, path").fetchall()
    # The raw views read the files again at every pass: a file that changed since the raw step
    # (a drop still being copied in) may have let rows past the checks. Publish nothing.
    changed = [path for _, path, _, size, modified in read if not unchanged_since(Path(path), size, modified)]
    if changed:
        raise ExtractFileError("input files changed while the run was reading them; nothing was published: " + ", ".join(changed))
    return {
        "run_id": step.context.run.run_id,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "as_of": period.as_of.isoformat(),
        "as_of_source": period_row["as_of_source"],
        "window_start": period.start.isoformat(),
        "window_end": period.end.isoformat(),
        "thresholds": {
            "gp_appointments": period_row["gp_threshold"],
            "ed_attendances": period_row["ed_threshold"],
            "emergency_admissions": period_row["admissions_threshold"],
        },
        "settings": {
            "max_quarantine_share": step.settings.max_quarantine_share,
            "date_formats": step.settings.date_formats,
        },
        "extracts": {
            name: {
                "supplied": bool(inventory.get(name, {}).get("present")),
                "required": extract.required,
                "rows_read": counts.get(name, {}).get("rows_read", 0),
                "rows_accepted": counts.get(name, {}).get("rows_accepted", 0),
                "rows_quarantined": counts.get(name, {}).get("rows_quarantined", 0),
                "rows_warned": counts.get(name, {}).get("rows_warned", 0),
                "absent_columns": list(inventory.get(name, {}).get("absent_columns") or []),
            }
            for name, extract in EXTRACTS.items()
        },
        "not_supplied": [n for n in EXTRACTS if not inventory.get(n, {}).get("present")],
        "inputs": [
            {"extract": extract, "path": path, "rows": rows, "bytes": size, "sha256": sha256_of(Path(path))}
            for extract, path, rows, size, _ in read
        ],
        "outputs": [
            {"path": str(p.relative_to(step.warehouse.run_folder)), "rows": _row_count(p), "sha256": sha256_of(p)} for p in outputs
        ],
    }
