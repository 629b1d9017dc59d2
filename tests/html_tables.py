"""The tables of an HTML page as lists of rows of cell texts, by table id: how a test reads the
numbers a report shows."""

from __future__ import annotations

from html.parser import HTMLParser


class _Tables(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tables: dict[str, list[list[str]]] = {}
        self.current: str | None = None
        self.row: list[str] | None = None
        self.cell: list[str] | None = None
        self.in_head = False
        self.images: list[dict] = []
        self.headings: list[tuple[str, str]] = []
        self.heading: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "table":
            self.current = attributes.get("id", f"table{len(self.tables)}")
            self.tables[self.current] = []
        elif tag == "thead":
            self.in_head = True
        elif tag == "tr" and self.current and not self.in_head:
            self.row = []
        elif tag in ("td", "th") and self.row is not None:
            self.cell = []
        elif attributes.get("role") == "img":
            self.images.append(attributes)
        elif tag in ("h1", "h2", "h3"):
            self.heading = []

    def handle_endtag(self, tag):
        if tag == "table":
            self.current = None
        elif tag == "thead":
            self.in_head = False
        elif tag == "tr" and self.row is not None:
            self.tables[self.current].append(self.row)
            self.row = None
        elif tag in ("td", "th") and self.cell is not None:
            self.row.append(" ".join("".join(self.cell).split()))
            self.cell = None
        elif tag in ("h1", "h2", "h3") and self.heading is not None:
            self.headings.append((tag, "".join(self.heading).strip()))
            self.heading = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)
        if self.heading is not None:
            self.heading.append(data)


def read_page(html: str) -> _Tables:
    parsed = _Tables()
    parsed.feed(html)
    return parsed
