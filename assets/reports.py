"""The INT lead's report per neighbourhood and the index of them all, from this run's files."""

import dagster as dg

from assets.exports import NIGHTLY, NOT_SUPPLIED_MEANS
from assets.extracts import extract_supplied
from assets.factory import Step, failed, warehouse_asset, warehouse_check
from assets.terms import list_terms
from reports.audit import links, problems
from reports.render import INDEX, REPORT, write_reports


def _neighbourhoods(step: Step) -> dict[str, str | None]:
    return dict(step.conn.execute(
        "SELECT neighbourhood_code, min(neighbourhood_name) FROM stg_practices GROUP BY 1 ORDER BY 1"
    ).fetchall())


@warehouse_asset(
    group="exports",
    freshness_policy=NIGHTLY,
    table=False,
    kinds=("html", "svg"),
    deps=["neighbourhood_cohort_files", "neighbourhood_frailty_files", "neighbourhood_rising_risk_files",
          "metric_files", "rising_risk_model_card", "data_quality_report", "stg_practices"],
    description=(
        "`neighbourhoods/<code>/report.html`: the INT lead's report, one self-contained page (charts inline, "
        "nothing fetched) built from the files beside it and in `metrics/`: as-of date and window, list sizes, "
        "how concentrated activity is, the practices with most high intensity users, frailty, activity against "
        "expected, the cohort a year on, what each file holds and the sharing rules. `index.html` at the root "
        "links every report and the metrics."
    ),
)
def neighbourhood_reports(step: Step) -> dict:
    not_supplied = list(dict.fromkeys(
        words for extract, words in NOT_SUPPLIED_MEANS.items() if not extract_supplied(step.conn, extract)))
    sizes = write_reports(step.warehouse.run_folder, _neighbourhoods(step), list_terms(step), not_supplied)
    return {"reports": len(sizes), "largest_report_bytes": max(sizes.values(), default=0)}


@warehouse_check(
    neighbourhood_reports,
    name="reports_are_self_contained",
    description=(
        "Every neighbourhood has its report, naming it; no report or index fetches anything (script, style, "
        "image, font) and each link leads to a file of the output folder; the index links every report."
    ),
)
def reports_are_self_contained(step: Step) -> dg.AssetCheckResult:
    root = step.warehouse.run_folder
    said = []
    neighbourhoods = _neighbourhoods(step)
    for code, name in neighbourhoods.items():
        page = root / "neighbourhoods" / code / REPORT
        if not page.is_file():
            said.append(f"{code} has no {REPORT}")
            continue
        if f"(code {code})" not in page.read_text(encoding="utf-8"):
            said.append(f"{code}'s report does not name it")
        said += [f"{code}: {p}" for p in problems(page, root)]
    index = root / INDEX
    if not index.is_file():
        said.append(f"no {INDEX}")
    else:
        said += problems(index, root)
        unlinked = sorted(set(neighbourhoods) - {h.split("/")[1] for h in links(index) if h.endswith(f"/{REPORT}")})
        if unlinked:
            said.append(f"{INDEX} does not link the reports of " + ", ".join(unlinked))
    if said:
        return failed("reports: " + "; ".join(said), problems=len(said))
    return dg.AssetCheckResult(passed=True, metadata={"reports": len(neighbourhoods)})
