"""A report on tiny hand-written files: what it says when a neighbourhood has no one, and that a
name is shown as written, never run as HTML."""

import polars as pl

from reports.render import render_report, write_reports
from schemas.outputs import FrailtySummary, HiuCohort, ServiceConcentration
from schemas.programme import CohortFollowup, CounterfactualActivity, ProgrammeSummary, empty_frame
from tests.html_tables import read_page

TERMS = {"as_of": "2025-03-31", "window_start": "2024-04-01", "window_end": "2025-03-31", "gp_threshold": 20,
         "ed_threshold": 5, "admissions_threshold": 3, "baseline_start": "(no baseline)", "baseline_end": "(no baseline)",
         "last_month": "(none)", "short_stay_max_days": 1}


def empty_run(tmp_path, hiu=None):
    metrics = tmp_path / "metrics"
    metrics.mkdir(parents=True)
    for name, model in [("service_concentration", ServiceConcentration), ("frailty_summary", FrailtySummary),
                        ("counterfactual_activity", CounterfactualActivity), ("programme_summary", ProgrammeSummary),
                        ("cohort_followup", CohortFollowup)]:
        empty_frame(model).write_parquet(metrics / f"{name}.parquet")
    folder = tmp_path / "neighbourhoods" / "north"
    folder.mkdir(parents=True)
    (hiu if hiu is not None else empty_frame(HiuCohort)).write_parquet(folder / "hiu_cohort.parquet")
    return tmp_path


def test_a_neighbourhood_with_no_one_says_so_rather_than_showing_blank_charts(tmp_path):
    html = render_report(empty_run(tmp_path), "north", "North INT", TERMS)
    shown = read_page(html)
    assert shown.images == []
    assert [row[1] for row in shown.tables["cohort-sizes"]][:5] == ["0"] * 5
    assert "No one is registered at this neighbourhood's practices" in html
    assert "No high intensity users at this neighbourhood's practices." in html
    assert "Not calculated: the data hold no month after a whole 12-month baseline." in html
    assert "Not calculated: the data do not reach back far enough" in html


def test_names_are_shown_as_written_never_run(tmp_path):
    person = {column: None for column in empty_frame(HiuCohort).columns}
    person |= {"person_id": "p1", "neighbourhood_code": "north", "practice_code": "P1", "hiu_gp": True, "hiu_ed": False,
               "hiu_admissions": False, "himsu": False, "practice_name": "<script>alert('x')</script> & Co"}
    hiu = pl.concat([empty_frame(HiuCohort), pl.DataFrame([person], schema=empty_frame(HiuCohort).schema)])
    run = empty_run(tmp_path, hiu)
    write_reports(run, {"north": "<b>North</b>"}, TERMS)
    html = (run / "neighbourhoods/north/report.html").read_text()
    assert "<script>" not in html and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; Co" in html
    assert read_page(html).tables["practices-table"] == [["<script>alert('x')</script> & Co", "P1", "1", "0"]]
    index = (run / "index.html").read_text()
    assert "<b>North</b>" not in index and "&lt;b&gt;North&lt;/b&gt;" in index
