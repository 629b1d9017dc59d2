"""What makes a report safe to open from a shared drive or an email attachment: it fetches
nothing (no script, stylesheet, image or font from anywhere, not even beside it) and every link in
it leads to a file that is there. Used by the blocking check of the reports and by the tests."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

# Elements that load something when the page opens (a link only loads when clicked).
_FETCHING = {"script", "link", "img", "iframe", "object", "embed", "source", "video", "audio", "image", "use"}


class _References(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.fetches: list[str] = []
        self.links: list[str] = []
        self.in_style = False
        self.style = ""

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "style":
            self.in_style = True
        if tag in _FETCHING:
            ref = attributes.get("src") or attributes.get("href") or attributes.get("xlink:href") or ""
            if not (tag == "use" and ref.startswith("#")):  # a shape drawn again from the page itself
                self.fetches.append(f"<{tag}> {ref}".strip())
        elif tag == "a" and attributes.get("href"):
            self.links.append(attributes["href"])

    def handle_endtag(self, tag):
        if tag == "style":
            self.in_style = False

    def handle_data(self, data):
        if self.in_style:
            self.style += data


def problems(page: Path, root: Path) -> list[str]:
    """What is wrong with `page` (an HTML file under `root`): things it would fetch, links that leave
    the output folder or lead nowhere. Empty when it is self-contained."""
    found = _References()
    found.feed(page.read_text(encoding="utf-8"))
    said = [f"{page.name} would fetch {what}" for what in dict.fromkeys(found.fetches)]
    if "url(" in found.style or "@import" in found.style:
        said.append(f"{page.name}'s styles fetch a file")
    for href in found.links:
        parts = urlsplit(href)
        if parts.scheme or parts.netloc:
            said.append(f"{page.name} links outside the output folder: {href}")
            continue
        if not parts.path:  # "#section"
            continue
        target = (page.parent / parts.path).resolve()
        if not target.is_relative_to(root.resolve()) or not target.is_file():
            said.append(f"{page.name} links to a file that is not there: {href}")
    return said


def links(page: Path) -> list[str]:
    found = _References()
    found.feed(page.read_text(encoding="utf-8"))
    return found.links
