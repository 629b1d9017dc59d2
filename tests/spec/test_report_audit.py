"""What makes a page unsafe to open offline, on tiny hand-written pages."""

import pytest

from reports.audit import problems

CLEAN = '<html><body><h1>x</h1><svg><defs><path id="m1"/></defs><use xlink:href="#m1"/></svg><a href="#s">s</a><a href="a.csv">a</a></body></html>'


def page(tmp_path, html):
    (tmp_path / "a.csv").write_text("x\n")
    path = tmp_path / "report.html"
    path.write_text(html)
    return path


def test_a_page_that_fetches_nothing_and_links_to_files_beside_it_is_clean(tmp_path):
    assert problems(page(tmp_path, CLEAN), tmp_path) == []


@pytest.mark.parametrize("html, said", [
    ('<script src="app.js"></script>', "would fetch <script> app.js"),
    ('<script>alert(1)</script>', "would fetch <script>"),
    ('<link rel="stylesheet" href="https://cdn.example/s.css">', "would fetch <link> https://cdn.example/s.css"),
    ('<img src="chart.png" alt="chart">', "would fetch <img> chart.png"),
    ('<style>body { background: url(x.png) }</style>', "styles fetch a file"),
    ('<style>@import "x.css";</style>', "styles fetch a file"),
    ('<a href="https://example.org/">web</a>', "links outside the output folder"),
    ('<a href="missing.csv">gone</a>', "links to a file that is not there"),
    ('<a href="../../etc/passwd">out</a>', "links to a file that is not there"),
    ('<svg><use href="other.svg#m1"/></svg>', "would fetch <use> other.svg#m1"),
])
def test_what_a_page_would_fetch_or_a_link_that_leads_nowhere_is_said(tmp_path, html, said):
    found = problems(page(tmp_path, CLEAN.replace("</body>", html + "</body>")), tmp_path)
    assert any(said in p for p in found), found
