"""A report on tiny hand-written files: what it says when a neighbourhood has no one, and that a
name is shown as written, never run as HTML."""

import datetime as dt

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
    assert '<span class="value">0</span> people registered' in html
    assert "No one is registered at this neighbourhood's practices" in html
    assert "No high intensity users at this neighbourhood's practices." in html
    assert "Not calculated: the data hold no month after a whole 12-month baseline." in html
    assert "Not calculated: the data do not reach back far enough" in html


def test_what_was_not_supplied_is_said_and_an_empty_frailty_cell_is_zero(tmp_path):
    run = empty_run(tmp_path)
    frailty = pl.DataFrame([{"neighbourhood_code": "north", "neighbourhood_name": "North", "age_band": "65-74",
                             "efi_category": "fit", "people": 3, "people_pct_of_age_band": 100.0, "hiu_people": 0,
                             "gp_appointments_12m": 1, "ed_attendances_12m": 0, "emergency_admissions_12m": 0},
                            {"neighbourhood_code": "north", "neighbourhood_name": "North", "age_band": "85+",
                             "efi_category": "severe", "people": 1, "people_pct_of_age_band": 100.0, "hiu_people": 0,
                             "gp_appointments_12m": 1, "ed_attendances_12m": 0, "emergency_admissions_12m": 0}],
                           schema=empty_frame(FrailtySummary).schema)
    frailty.write_parquet(run / "metrics" / "frailty_summary.parquet")
    html = render_report(run, "north", "North", TERMS, ["Social care events: social care involvement is blank for everyone."])
    assert "Not supplied in this run" in html and "social care involvement is blank for everyone" in html
    assert read_page(html).tables["frailty-table"] == [["65-74", "3 (100.0%)", "0 (0.0%)"], ["85+", "0 (0.0%)", "1 (100.0%)"]]


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


def test_a_followup_without_an_interval_says_why(tmp_path):
    run = empty_run(tmp_path)
    row = {column: None for column in empty_frame(CohortFollowup).columns}
    row |= {"neighbourhood_code": "north", "measure": "unplanned_activity", "cohort_identified_on": dt.date(2024, 3, 31),
            "people": 12, "activity_before": 4, "activity_after": 3, "comparison_people": 0,
            "comparison_activity_before": 0, "comparison_activity_after": 0, "change_pct": -25.0}
    for comparison, why in ((None, "no interval: no comparison cohort"),
                            (dt.date(2023, 3, 31), "no interval: too few people with activity in the year before")):
        frame = pl.DataFrame([{**row, "comparison_identified_on": comparison}], schema=empty_frame(CohortFollowup).schema)
        frame.write_parquet(run / "metrics" / "cohort_followup.parquet")
        table = dict(read_page(render_report(run, "north", "North", TERMS)).tables["followup-table"])
        assert table["95% interval of the net change"] == why
