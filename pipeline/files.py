"""Writing a small text file whole: aside, then renamed into place, so a reader (a person opening
the output folder, Dagster loading its instance settings) sees the old file or the new, never half."""

from __future__ import annotations

import os
from pathlib import Path


def write_text_whole(path: Path, text: str) -> None:
    aside = path.with_name(f".{path.name}.writing")
    aside.write_text(text, encoding="utf-8")
    os.replace(aside, path)
