"""The INT lead's reports on the sample run: every number is the number in the file it comes from,
they fetch nothing, and a real browser shows them at 1366x768 and prints them to A4."""

import re

import polars as pl
import pytest

from reports.audit import problems
from tests.browser import ARTIFACTS, browser
from tests.html_tables import read_page


def reports(out):
    return sorted(out.glob("neighbourhoods/*/report.html"))


def n(value) -> str:
    return f"{int(value):,}"


def test_every_neighbourhood_has_a_report_and_the_index_links_them_all(sample_run):
    codes = sorted(p.name for p in (sample_run / "neighbourhoods").iterdir())
    assert [p.parent.name for p in reports(sample_run)] == codes
    index = (sample_run / "index.html").read_text()
    for code in codes:
        assert f'href="neighbourhoods/{code}/report.html"' in index
    assert 'href="metrics/published/service_concentration.csv"' in index
    # no counts beside the published copies: exact ones there would undo their rounding
    assert "High intensity users</th>" not in index
    for page in [*reports(sample_run), sample_run / "index.html"]:
        assert problems(page, sample_run) == [], page


def test_every_number_in_a_report_is_the_number_in_its_file(sample_run):
    metrics = sample_run / "metrics"
    concentration = pl.read_parquet(metrics / "service_concentration.parquet")
    frailty = pl.read_parquet(metrics / "frailty_summary.parquet")
    summary = pl.read_parquet(metrics / "programme_summary.parquet")
    followup = pl.read_parquet(metrics / "cohort_followup.parquet")
    for page in reports(sample_run):
        code, folder = page.parent.name, page.parent
        shown = read_page(page.read_text())
        hiu = pl.read_parquet(folder / "hiu_cohort.parquet")
        frail = pl.read_parquet(folder / "frailty_cohort.parquet")
        rising = pl.read_parquet(folder / "rising_risk_cohort.parquet")

        sizes = [row[1] for row in shown.tables["cohort-sizes"]]
        assert sizes == [n(hiu.height), n(hiu["hiu_gp"].sum()), n(hiu["hiu_ed"].sum()), n(hiu["hiu_admissions"].sum()),
                         n(hiu["himsu"].sum()), n(frail.height), n(rising.height)], code

        mine = concentration.filter(pl.col("neighbourhood_code") == code)
        assert len(shown.tables["concentration-table"]) == 3, code
        for row, (service, name) in zip(shown.tables["concentration-table"],
                                        [("gp", "GP appointments"), ("ed", "ED attendances"), ("admissions", "Emergency admissions")]):
            file = mine.filter(pl.col("service") == service).row(0, named=True)
            assert row == [name, n(file["hiu_people"]), f"{file['hiu_people_pct']:.1f}%", n(file["activity_total"]),
                           n(file["activity_hiu"]), f"{file['activity_hiu_pct']:.1f}%",
                           f"{file['mean_per_person_all']:.2f}",
                           "–" if file["mean_per_person_himsu"] is None else f"{file['mean_per_person_himsu']:.2f}"], code

        by_practice = hiu.group_by("practice_code").agg(pl.len(), pl.col("himsu").sum()).sort(
            ["len", "practice_code"], descending=[True, False]).head(10)
        assert [(r[1], r[2], r[3]) for r in shown.tables.get("practices-table", [])] == [
            (p, n(k), n(h)) for p, k, h in by_practice.iter_rows()], code

        mine = frailty.filter(pl.col("neighbourhood_code") == code)
        for row in shown.tables["frailty-table"]:
            band = row[0]
            cells = mine.filter(pl.col("age_band") == band).sort(
                pl.col("efi_category").replace_strict({"fit": 0, "mild": 1, "moderate": 2, "severe": 3, "not scored": 4}))
            assert row[1:] == [f"{n(r['people'])} ({r['people_pct_of_age_band']:.1f}%)" for r in cells.iter_rows(named=True)]

        mine = summary.filter((pl.col("neighbourhood_code") == code) & (pl.col("age_group") == "all"))
        measures = {"ED attendances": "ed_attendances", "Emergency admissions": "emergency_admissions",
                    "Short-stay emergency admissions": "short_stay_admissions", "Emergency bed days": "emergency_bed_days",
                    "Ambulance arrivals at ED": "ambulance_arrivals"}
        assert len(shown.tables["expected-table"]) == mine.height, code
        for row in shown.tables["expected-table"]:
            period = "since_go_live" if row[1].startswith("since go-live") else "last_12_months"
            method = "population_standardised" if row[2].startswith("standardised") else "interrupted_time_series"
            file = mine.filter((pl.col("measure") == measures[row[0]]) & (pl.col("period") == period)
                               & (pl.col("method") == method)).row(0, named=True)
            assert row[3:] == [n(file["observed"]), f"{file['expected']:,.1f}", f"{file['avoided']:+,.1f}",
                               f"{file['avoided_lower']:+,.1f} to {file['avoided_upper']:+,.1f}"], (code, row)
            if period == "since_go_live":
                assert row[1] == f"since go-live ({file['months']} months)"

        file = followup.filter((pl.col("neighbourhood_code") == code) & (pl.col("measure") == "unplanned_activity")).row(0, named=True)
        values = [row[1] for row in shown.tables["followup-table"]]
        assert values == [n(file["people"]), n(file["activity_before"]), n(file["activity_after"]),
                          f"{file['change_pct']:+.1f}%", f"{file['expected_change_pct']:+.1f}%", f"{file['net_change_pct']:+.1f}",
                          f"{file['net_change_lower']:+.1f} to {file['net_change_upper']:+.1f}"], code

        live = pl.read_parquet(metrics / "counterfactual_activity.parquet").filter(
            pl.col("neighbourhood_code") == code)["go_live_date"].min()
        text = " ".join(page.read_text().split())
        if live is None:
            assert "This neighbourhood's team has no go-live date" in text, code
        else:
            assert f"went live on <strong>{live.day} {live:%B %Y}</strong>" in text, code

        people = {row[0]: row[2] for row in shown.tables["files-table"]}
        assert people["hiu_cohort.csv"] == n(pl.read_csv(folder / "hiu_cohort.csv", infer_schema=False).height)
        assert people["rising_risk_cohort.xlsx"] == n(rising.height)


def test_a_report_names_its_neighbourhood_and_is_accessible(sample_run):
    for page in reports(sample_run):
        html = page.read_text()
        shown = read_page(html)
        code = page.parent.name
        assert f"(code {code})" in html and '<html lang="en-GB">' in html
        assert [level for level, _ in shown.headings][:2] == ["h1", "h2"]
        assert sum(level == "h1" for level, _ in shown.headings) == 1
        assert len(shown.images) >= 4 and all(len(image.get("aria-label", "")) > 40 for image in shown.images)
        assert html.count("<caption>") == html.count("<table")
        assert '<th scope="col"' in html and '<th scope="row"' in html
        # namespace names (xmlns="http://www.w3.org/...") name a vocabulary, nothing is fetched from them
        assert not re.search(r"https?://", re.sub(r'xmlns(:\w+)?="[^"]*"', "", html)), "a report refers to the web"


def test_reports_render_in_a_real_browser_at_1366x768_and_print_to_a4(sample_run):
    shots = ARTIFACTS / "reports"
    with browser() as page:
        for report in [*reports(sample_run), sample_run / "index.html"]:
            name = report.parent.name if report.name == "report.html" else "index"
            page.open(report.as_uri(), 1366, 768)
            assert page.evaluate("document.title")
            # readable at 1366 wide: nothing runs off the side, every chart drawn at a legible size
            assert page.evaluate("document.documentElement.scrollWidth") <= 1366, name
            widths = page.evaluate("[...document.querySelectorAll('figure svg')].map(s => s.getBoundingClientRect().width)")
            assert all(400 <= w <= 1366 for w in widths), (name, widths)
            assert page.evaluate("performance.getEntriesByType('resource').length") == 0, f"{name} fetched a file"
            page.screenshot(shots / f"{name}.png")
            # printed, nothing is wider than an A4 page between its margins (210 mm - 2 x 12 mm at 96 dpi)
            page.call("Emulation.setEmulatedMedia", media="print")
            page.call("Emulation.setDeviceMetricsOverride", width=703, height=1000, deviceScaleFactor=1, mobile=False)
            assert page.evaluate("document.documentElement.scrollWidth") <= 703, f"{name} is wider than A4"
            page.call("Emulation.setEmulatedMedia", media="")
            pdf = page.print_a4()
            assert pdf.startswith(b"%PDF")
            boxes = re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf)
            assert boxes and all(abs(float(w) - 595.3) < 2 and abs(float(h) - 841.9) < 2 for w, h in boxes), name
            (shots / f"{name}.pdf").write_bytes(pdf)
    assert (shots / "index.png").stat().st_size > 10_000
